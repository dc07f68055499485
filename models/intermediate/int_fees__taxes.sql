{#- One row per fee and tax applied to it (Lago's fee applied taxes). The taxes of a fee are those
    of the most specific level that has any, in Lago's precedence: the tax codes given on a
    one-off invoice's fee, else the add-on's (add-on fees), else the charge's (charge fees), else
    the plan's (charge, subscription and commitment fees), else the customer's, else the organization's
    (taxes with applied_to_organization). Each level is read in the version in force at the
    fee's billing moment; a deleted tax applies nowhere (macros/billing/taxes.sql, which the
    current usage's taxes share).
    The tax base is the fee's amount_cents minus its coupon share (precise_coupons_amount_cents)
    and minus what progressive invoices already billed of it (int_fees__progressive_credits), so
    both are deducted before taxes; the tax's precise amount is base x rate / 100, exact,
    and its amount_cents that rounded half away from zero. -#}
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

taxes as (

    select * from {{ ref('stg_taxes') }}

),

one_off_fees as (

    select * from {{ ref('stg_one_off_fees') }}

),

add_ons as (

    select * from {{ ref('stg_add_ons') }}

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

taxed_fees as (

    select
        fees.fee_id,
        fees.invoice_id,
        fees.fee_type,
        fees.external_customer_id,
        fees.charge_id,
        fees.add_on_code,
        fees.period_id,
        fees.bucket_id,
        fees.billed_at,
        fees.amount_cents,
        fee_plans.plan_code,
        {{ to_money('fees.amount_cents - coalesce(coupon_shares.precise_amount_cents, 0)'
                    ' - coalesce(progressive_credits.progressive_billing_credit_amount_cents, 0)') }}
            as sub_total_excluding_taxes_amount_cents
    from fees
    inner join fee_plans on fee_plans.fee_id = fees.fee_id
    left join coupon_shares on coupon_shares.fee_id = fees.fee_id
    left join progressive_credits on progressive_credits.fee_id = fees.fee_id
    -- a purchase of wallet credits is an advance payment: Lago taxes none
    where fees.invoice_id is not null and fees.fee_type <> 'credit'

),

{{ applicable_taxes('taxed_fees') }},

final as (

    select
        taxed_fees.fee_id,
        taxed_fees.invoice_id,
        taxed_fees.external_customer_id,
        chosen.tax_code,
        chosen.tax_name,
        chosen.tax_rate,
        {{ tax_level_name('chosen.tax_level') }} as tax_level,
        taxed_fees.sub_total_excluding_taxes_amount_cents as taxable_amount_cents,
        {{ to_money('taxed_fees.sub_total_excluding_taxes_amount_cents * chosen.tax_rate * 0.01') }}
            as precise_amount_cents,
        cast(round({{ to_money('taxed_fees.sub_total_excluding_taxes_amount_cents * chosen.tax_rate * 0.01') }}, 0)
            as bigint) as amount_cents
    from taxed_fees
    inner join chosen on chosen.fee_id = taxed_fees.fee_id

)

select * from final
