{#- One row per fee and tax applied to it (Lago's fee applied taxes). The taxes of a fee are those
    of the most specific level that has any, in Lago's precedence: the tax codes given on a
    one-off invoice's fee, else the add-on's (add-on fees), else the charge's (charge fees), else
    the plan's (charge, subscription and commitment fees), else the customer's, else the organization's
    (taxes with applied_to_organization). Each level is read in the version in force at the
    fee's billing moment; a deleted tax applies nowhere.
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

{#- the tax codes each level gives a fee: (level, relation, how it matches the fee, which fees) -#}
{%- set levels = [
    (1, 'one_off_fees', "taxed_fees.period_id = 'one_off/' || one_off_fees.one_off_id
        and taxed_fees.bucket_id = 'add_on/' || cast(one_off_fees.fee_index as varchar)", "('add_on')", false),
    (2, 'add_ons', 'add_ons.add_on_code = taxed_fees.add_on_code', "('add_on')", true),
    (3, 'charges', 'charges.charge_id = taxed_fees.charge_id and charges.plan_code = taxed_fees.plan_code',
        "('charge')", true),
    (4, 'plans', 'plans.plan_code = taxed_fees.plan_code', "('charge', 'subscription', 'commitment')", true),
    (5, 'customers', 'customers.external_customer_id = taxed_fees.external_customer_id',
        "('add_on', 'charge', 'subscription', 'commitment')", true),
] %}
{%- for level, relation, condition, fee_types, versioned in levels %}

level_{{ level }} as (

    select taxed_fees.fee_id, {{ level }} as tax_level, {{ json_scalar_text('code.value') }} as tax_code
    from taxed_fees
    inner join {{ relation }}
        on {{ condition }}
        {%- if versioned %}
        and {{ relation }}.valid_from <= taxed_fees.billed_at
        and ({{ relation }}.valid_to is null or {{ relation }}.valid_to > taxed_fees.billed_at)
        {%- endif %}
    {{ json_array_elements(relation ~ '.tax_codes', 'code') }}
    where taxed_fees.fee_type in {{ fee_types }}

),
{%- endfor %}

organization_level as (

    select taxed_fees.fee_id, 6 as tax_level, taxes.tax_code
    from taxed_fees
    inner join taxes
        on taxes.is_applied_to_organization
        and taxes.valid_from <= taxed_fees.billed_at
        and (taxes.valid_to is null or taxes.valid_to > taxed_fees.billed_at)

),

candidates as (

    {%- for level in levels %}
    select * from level_{{ level[0] }}
    union all
    {%- endfor %}
    select * from organization_level

),

valid_candidates as (

    -- only taxes that exist (not deleted) when the fee is billed count at their level
    select
        candidates.fee_id,
        candidates.tax_level,
        taxes.tax_code,
        taxes.tax_name,
        taxes.tax_rate
    from candidates
    inner join taxed_fees on taxed_fees.fee_id = candidates.fee_id
    inner join taxes
        on taxes.tax_code = candidates.tax_code
        and taxes.valid_from <= taxed_fees.billed_at
        and (taxes.valid_to is null or taxes.valid_to > taxed_fees.billed_at)
        and not taxes.is_deleted

),

chosen as (

    select distinct
        fee_id,
        tax_code,
        tax_name,
        tax_rate,
        tax_level
    from (
        select
            valid_candidates.*,
            min(tax_level) over (partition by fee_id) as chosen_level
        from valid_candidates
    ) ranked
    where tax_level = chosen_level

),

final as (

    select
        taxed_fees.fee_id,
        taxed_fees.invoice_id,
        taxed_fees.external_customer_id,
        chosen.tax_code,
        chosen.tax_name,
        chosen.tax_rate,
        case chosen.tax_level
            when 1 then 'fee' when 2 then 'add_on' when 3 then 'charge' when 4 then 'plan'
            when 5 then 'customer' else 'organization'
        end as tax_level,
        taxed_fees.sub_total_excluding_taxes_amount_cents as taxable_amount_cents,
        {{ to_money('taxed_fees.sub_total_excluding_taxes_amount_cents * chosen.tax_rate * 0.01') }}
            as precise_amount_cents,
        cast(round({{ to_money('taxed_fees.sub_total_excluding_taxes_amount_cents * chosen.tax_rate * 0.01') }}, 0)
            as bigint) as amount_cents
    from taxed_fees
    inner join chosen on chosen.fee_id = taxed_fees.fee_id

)

select * from final
