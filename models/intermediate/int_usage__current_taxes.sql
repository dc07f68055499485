{#- One row per charge of the current usage (fct_current_usage: the periods in progress at as_of)
    and tax applied to it, as Lago's current usage taxes its fees (Invoices::CustomerUsageService
    with apply_taxes): the taxes of the charge's level in Lago's precedence (charge > plan >
    customer > organization, macros/billing/taxes.sql) in their versions in force at as_of, on the
    fee's amount_cents (current usage applies no coupon); precise_amount_cents = that x rate / 100,
    amount_cents that rounded half away from zero. -#}
with

charge_amounts as (

    select * from {{ ref('int_charges__amounts') }}

),

charge_periods as (

    select * from {{ ref('int_subscriptions__charge_periods') }}

),

taxes as (

    select * from {{ ref('stg_taxes') }}

),

charges as (

    select * from {{ ref('stg_charges') }}

),

plans as (

    select * from {{ ref('stg_plans') }}

),

customers as (

    select * from {{ ref('stg_customers') }}

),

current_fees as (

    select
        charge_amounts.period_id || '|' || charge_amounts.bucket_id as fee_id,
        charge_amounts.period_id,
        charge_amounts.bucket_id,
        charge_amounts.external_subscription_id,
        charge_amounts.external_customer_id,
        charge_amounts.charge_id,
        charge_periods.plan_code,
        'charge' as fee_type,
        cast(null as varchar) as add_on_code,
        {{ as_of() }} as billed_at,
        cast(round(charge_amounts.precise_amount_cents, 0) as bigint) as amount_cents
    from charge_amounts
    inner join charge_periods on charge_periods.period_id = charge_amounts.period_id
    where {{ current_usage_filter('charge_amounts') }}

),

{{ applicable_taxes('current_fees', with_add_ons=false) }},

final as (

    select
        -- ids
        current_fees.period_id,
        current_fees.bucket_id,
        current_fees.external_subscription_id,
        current_fees.external_customer_id,
        chosen.tax_code,
        chosen.tax_name,
        chosen.tax_rate,
        {{ tax_level_name('chosen.tax_level') }} as tax_level,

        -- amounts
        current_fees.amount_cents as taxable_amount_cents,
        {{ to_money('current_fees.amount_cents * chosen.tax_rate * 0.01') }} as precise_amount_cents,
        cast(round({{ to_money('current_fees.amount_cents * chosen.tax_rate * 0.01') }}, 0) as bigint) as amount_cents

    from current_fees
    inner join chosen on chosen.fee_id = current_fees.fee_id

)

select * from final
