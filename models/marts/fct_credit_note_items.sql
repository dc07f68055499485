{#- The items of every credit note (Lago's credit note items): the fee credited, the amount before
    coupons and taxes (amount_cents, precise_amount_cents), and the coupons adjustment and precise
    taxes Tally computed for it (int_credit_notes__items). -#}
with

items as (

    select * from {{ ref('int_credit_notes__items') }}

),

final as (

    select
        -- ids
        credit_note_item_id,
        credit_note_id,
        item_index,
        fee_id,
        invoice_id,
        external_customer_id,
        external_subscription_id,
        fee_type,
        metric_code,
        add_on_code,

        -- amounts
        currency,
        amount_cents,
        precise_amount_cents,
        fee_amount_cents,
        precise_coupons_adjustment_amount_cents,
        taxes_rate,
        precise_taxes_amount_cents,

        -- timestamps
        issued_at

    from items

)

select * from final
