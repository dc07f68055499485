{#- Every credit note, requested (stg_credit_notes), made on a termination or upgrade
    (int_credit_notes__unused_advance_fees) or for what progressive invoices billed beyond the
    final usage (int_credit_notes__progressive_excess), with its amounts as Lago computes them from its
    items (int_credit_notes__items), each rounded once, half away from zero:
    coupons_adjustment_amount_cents = the items' coupons adjustments; taxes_amount_cents = the
    items' precise taxes; total_amount_cents = items - coupons adjustment + taxes;
    sub_total_excluding_taxes_amount_cents = total - taxes. The total is split into
    credit_amount_cents (to the customer's credit balance, consumed by later invoices) and
    refund_amount_cents (paid back): as the body asks for a requested note, all credit for an
    automatic one. -#}
with

requested as (

    select * from {{ ref('stg_credit_notes') }}

),

terminations as (

    select * from {{ ref('int_credit_notes__unused_advance_fees') }}

),

progressive_excess as (

    select * from {{ ref('int_credit_notes__progressive_excess') }}

),

items as (

    select * from {{ ref('int_credit_notes__items') }}

),

headers as (

    select
        credit_note_id,
        invoice_id,
        false as is_automatic,
        reason,
        description,
        credit_amount_cents,
        refund_amount_cents,
        cast(null as varchar) as external_subscription_id,
        cast(null as varchar) as plan_code,
        cast(null as integer) as unused_days,
        issued_at
    from requested
    union all
    select
        credit_note_id,
        invoice_id,
        true as is_automatic,
        reason,
        cast(null as varchar) as description,
        cast(null as bigint) as credit_amount_cents,
        cast(0 as bigint) as refund_amount_cents,
        external_subscription_id,
        plan_code,
        unused_days,
        issued_at
    from terminations
    union all
    select distinct
        credit_note_id,
        invoice_id,
        true as is_automatic,
        reason,
        cast(null as varchar) as description,
        cast(null as bigint) as credit_amount_cents,
        cast(0 as bigint) as refund_amount_cents,
        external_subscription_id,
        cast(null as varchar) as plan_code,
        cast(null as integer) as unused_days,
        issued_at
    from progressive_excess

),

item_totals as (

    select
        credit_note_id,
        min(external_customer_id) as external_customer_id,
        min(currency) as currency,
        count(*) as items_count,
        sum(amount_cents) as items_amount_cents,
        {{ to_money('sum(precise_amount_cents)') }} as items_precise_amount_cents,
        {{ to_money('sum(precise_coupons_adjustment_amount_cents)') }} as precise_coupons_adjustment_amount_cents,
        {{ to_money('sum(precise_taxes_amount_cents)') }} as precise_taxes_amount_cents
    from items
    group by credit_note_id

),

computed as (

    select
        headers.*,
        item_totals.external_customer_id,
        item_totals.currency,
        item_totals.items_count,
        item_totals.items_amount_cents,
        item_totals.items_precise_amount_cents,
        item_totals.precise_coupons_adjustment_amount_cents,
        item_totals.precise_taxes_amount_cents,
        cast(round(item_totals.precise_coupons_adjustment_amount_cents, 0) as bigint) as coupons_adjustment_amount_cents,
        cast(round(item_totals.precise_taxes_amount_cents, 0) as bigint) as taxes_amount_cents,
        cast(round(item_totals.items_precise_amount_cents - item_totals.precise_coupons_adjustment_amount_cents
                   + item_totals.precise_taxes_amount_cents, 0) as bigint) as total_amount_cents
    from headers
    inner join item_totals on item_totals.credit_note_id = headers.credit_note_id

),

final as (

    select
        -- ids
        credit_note_id,
        invoice_id,
        external_customer_id,
        external_subscription_id,
        plan_code,
        is_automatic,
        reason,
        description,

        -- amounts
        currency,
        items_count,
        items_amount_cents,
        items_precise_amount_cents,
        precise_coupons_adjustment_amount_cents,
        coupons_adjustment_amount_cents,
        precise_taxes_amount_cents,
        taxes_amount_cents,
        cast(total_amount_cents - taxes_amount_cents as bigint) as sub_total_excluding_taxes_amount_cents,
        total_amount_cents,
        cast(coalesce(credit_amount_cents, total_amount_cents) as bigint) as credit_amount_cents,
        refund_amount_cents,
        unused_days,

        -- timestamps
        issued_at

    from computed

)

select * from final
