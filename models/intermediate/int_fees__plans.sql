{#- The plan each fee was billed under (NULL for the add-on fees of one-off invoices), read from
    its billing or charge period: what coupons limited to plans and plan-level taxes match on. -#}
with

fees as (

    select * from {{ ref('int_fees__computed') }}

),

billing_periods as (

    select * from {{ ref('int_subscriptions__billing_periods') }}

),

charge_periods as (

    select * from {{ ref('int_subscriptions__charge_periods') }}

),

period_plans as (

    select period_id, plan_code from billing_periods
    union
    select period_id, plan_code from charge_periods

),

final as (

    select
        fees.fee_id,
        fees.invoice_id,
        period_plans.plan_code
    from fees
    left join period_plans on period_plans.period_id = fees.period_id

)

select * from final
