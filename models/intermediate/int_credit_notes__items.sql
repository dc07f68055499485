{#- Every credit note item (Lago's credit note items), requested (stg_credit_note_items), made
    on a termination or upgrade (int_credit_notes__unused_advance_fees) or for what progressive
    invoices billed beyond the final usage (int_credit_notes__progressive_excess), with what Lago's
    CreditNotes::ApplyTaxesService makes of it:
    - the item's share of the fee: item precise amount / the fee's amount_cents;
    - its coupons adjustment: the fee's precise coupon share x that share (coupons are not
      credited back), exact to 10 decimals;
    - its precise taxes: (item - coupons adjustment) x the fee's tax rates / 100, exact to 10
      decimals.
    Rounding happens once per credit note (int_credit_notes__issued). amount_cents is the item
    rounded half away from zero, what counts against the fee's creditable amount. -#}
with

requested_items as (

    select * from {{ ref('stg_credit_note_items') }}

),

termination_items as (

    select * from {{ ref('int_credit_notes__unused_advance_fees') }}

),

progressive_excess_items as (

    select * from {{ ref('int_credit_notes__progressive_excess') }}

),

fees as (

    select * from {{ ref('int_fees__adjusted') }}

),

items as (

    select
        credit_note_item_id,
        credit_note_id,
        item_index,
        fee_id,
        {{ to_money('amount_cents') }} as precise_amount_cents,
        issued_at
    from requested_items
    union all
    select
        md5(credit_note_id || '/0') as credit_note_item_id,
        credit_note_id,
        0 as item_index,
        fee_id,
        item_precise_amount_cents as precise_amount_cents,
        issued_at
    from termination_items
    union all
    select
        md5(credit_note_id || '/' || cast(item_index as varchar)) as credit_note_item_id,
        credit_note_id,
        item_index,
        fee_id,
        item_precise_amount_cents as precise_amount_cents,
        issued_at
    from progressive_excess_items

),

with_fees as (

    select
        items.*,
        fees.invoice_id,
        fees.external_customer_id,
        fees.external_subscription_id,
        fees.fee_type,
        fees.metric_code,
        fees.add_on_code,
        fees.currency,
        fees.amount_cents as fee_amount_cents,
        fees.precise_coupons_amount_cents as fee_precise_coupons_amount_cents,
        fees.taxes_rate
    from items
    inner join fees on fees.fee_id = items.fee_id

),

adjusted as (

    select
        *,
        case when fee_amount_cents = 0 then {{ to_money('0') }}
             -- the item is scaled to an integer (it has at most 5 decimals) for exact division
             else {{ div_round('fee_precise_coupons_amount_cents * cast(precise_amount_cents * 100000 as bigint)',
                               'fee_amount_cents * 100000', 10) }}
        end as precise_coupons_adjustment_amount_cents
    from with_fees

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
        cast(round(precise_amount_cents, 0) as bigint) as amount_cents,
        precise_amount_cents,
        fee_amount_cents,
        {{ to_money('precise_coupons_adjustment_amount_cents') }} as precise_coupons_adjustment_amount_cents,
        taxes_rate,
        {{ to_money('(precise_amount_cents - precise_coupons_adjustment_amount_cents) * taxes_rate * 0.01') }}
            as precise_taxes_amount_cents,

        -- timestamps
        issued_at

    from adjusted

)

select * from final
