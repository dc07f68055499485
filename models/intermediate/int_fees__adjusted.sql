{#- Every fee of int_fees__computed (same columns, same order) followed by what coupons and taxes
    make of it: its coupon share (precise_coupons_amount_cents, from int_coupons__consumption),
    its taxes (taxes_precise_amount_cents = the sum of its taxes' precise amounts,
    taxes_amount_cents = that rounded half away from zero, once, taxes_rate = the sum of the
    rates), the plan it was billed under, and what progressive invoices already billed of it
    (progressive_billing_credit_amount_cents, int_fees__progressive_credits). This is what the frozen fct_finalized_fees
    records; columns are only ever appended. -#}
with

fees as (

    select * from {{ ref('int_fees__computed') }}

),

fee_plans as (

    select * from {{ ref('int_fees__plans') }}

),

coupon_shares as (

    select * from {{ ref('int_coupons__consumption') }}
    where record_type = 'fee_share'

),

progressive_credits as (

    select * from {{ ref('int_fees__progressive_credits') }}

),

fee_taxes as (

    select * from {{ ref('int_fees__taxes') }}

),

taxes_per_fee as (

    select
        fee_id,
        sum(precise_amount_cents) as taxes_precise_amount_cents,
        sum(tax_rate) as taxes_rate
    from fee_taxes
    group by fee_id

),

final as (

    select
        fees.*,
        fee_plans.plan_code,
        {{ to_money('coalesce(coupon_shares.precise_amount_cents, 0)') }} as precise_coupons_amount_cents,
        {{ to_money('coalesce(taxes_per_fee.taxes_precise_amount_cents, 0)') }} as taxes_precise_amount_cents,
        cast(round({{ to_money('coalesce(taxes_per_fee.taxes_precise_amount_cents, 0)') }}, 0) as bigint)
            as taxes_amount_cents,
        cast(coalesce(taxes_per_fee.taxes_rate, 0) as decimal(9, 6)) as taxes_rate,
        -- appended: what progressive invoices of the period already billed of this fee (Lago's
        -- progressive_billing_credit, deducted before coupons and taxes)
        cast(coalesce(progressive_credits.progressive_billing_credit_amount_cents, 0) as bigint)
            as progressive_billing_credit_amount_cents
    from fees
    inner join fee_plans on fee_plans.fee_id = fees.fee_id
    left join coupon_shares on coupon_shares.fee_id = fees.fee_id
    left join taxes_per_fee on taxes_per_fee.fee_id = fees.fee_id
    left join progressive_credits on progressive_credits.fee_id = fees.fee_id

)

select * from final
