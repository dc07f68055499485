{#- The taxes Lago applies to a fee (Fees::ApplyTaxesService), as CTEs to place in a model's
    `with`: those of the most specific level that has any valid tax, in Lago's precedence `fee`
    (tax codes given on a one-off invoice's fee) > `add_on` > `charge` > `plan` > `customer` >
    `organization` (taxes with applied_to_organization). Each level is read in its version in
    force at the fee's billed_at, and a tax deleted (or not yet created) then applies nowhere.

    taxed: the CTE of the fees to tax, with columns fee_id, fee_type, external_customer_id,
    charge_id, add_on_code, plan_code, period_id, bucket_id and billed_at.
    The calling model imports the CTEs taxes, charges, plans and customers (and one_off_fees and
    add_ons unless with_add_ons is false: fees that are never add-on fees need neither).
    The last CTE emitted, `chosen`, holds one row per fee and tax: fee_id, tax_code, tax_name,
    tax_rate and tax_level (1 fee ... 6 organization; tax_level_name gives its name). -#}
{% macro applicable_taxes(taxed, with_add_ons=true) -%}
{%- set levels = [
    (1, 'one_off_fees', taxed ~ ".period_id = 'one_off/' || one_off_fees.one_off_id
        and " ~ taxed ~ ".bucket_id = 'add_on/' || cast(one_off_fees.fee_index as varchar)", "('add_on')", false),
    (2, 'add_ons', 'add_ons.add_on_code = ' ~ taxed ~ '.add_on_code', "('add_on')", true),
    (3, 'charges', 'charges.charge_id = ' ~ taxed ~ '.charge_id and charges.plan_code = ' ~ taxed ~ '.plan_code',
        "('charge')", true),
    (4, 'plans', 'plans.plan_code = ' ~ taxed ~ '.plan_code', "('charge', 'subscription', 'commitment')", true),
    (5, 'customers', 'customers.external_customer_id = ' ~ taxed ~ '.external_customer_id',
        "('add_on', 'charge', 'subscription', 'commitment')", true),
] | selectattr(0, 'ge', 1 if with_add_ons else 3) | list %}
{%- for level, relation, condition, fee_types, versioned in levels %}

tax_level_{{ level }} as (

    select {{ taxed }}.fee_id, {{ level }} as tax_level, {{ json_scalar_text('code.value') }} as tax_code
    from {{ taxed }}
    inner join {{ relation }}
        on {{ condition }}
        {%- if versioned %}
        and {{ relation }}.valid_from <= {{ taxed }}.billed_at
        and ({{ relation }}.valid_to is null or {{ relation }}.valid_to > {{ taxed }}.billed_at)
        {%- endif %}
    {{ json_array_elements(relation ~ '.tax_codes', 'code') }}
    where {{ taxed }}.fee_type in {{ fee_types }}

),
{%- endfor %}

tax_level_6 as (

    select {{ taxed }}.fee_id, 6 as tax_level, taxes.tax_code
    from {{ taxed }}
    inner join taxes
        on taxes.is_applied_to_organization
        and taxes.valid_from <= {{ taxed }}.billed_at
        and (taxes.valid_to is null or taxes.valid_to > {{ taxed }}.billed_at)

),

tax_candidates as (

    {%- for level in levels %}
    select * from tax_level_{{ level[0] }}
    union all
    {%- endfor %}
    select * from tax_level_6

),

valid_tax_candidates as (

    -- only taxes that exist (not deleted) when the fee is billed count at their level
    select
        tax_candidates.fee_id,
        tax_candidates.tax_level,
        taxes.tax_code,
        taxes.tax_name,
        taxes.tax_rate
    from tax_candidates
    inner join {{ taxed }} on {{ taxed }}.fee_id = tax_candidates.fee_id
    inner join taxes
        on taxes.tax_code = tax_candidates.tax_code
        and taxes.valid_from <= {{ taxed }}.billed_at
        and (taxes.valid_to is null or taxes.valid_to > {{ taxed }}.billed_at)
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
            valid_tax_candidates.*,
            min(tax_level) over (partition by fee_id) as chosen_level
        from valid_tax_candidates
    ) ranked
    where tax_level = chosen_level

)
{%- endmacro %}


{% macro tax_level_name(level) -%}
case {{ level }}
    when 1 then 'fee' when 2 then 'add_on' when 3 then 'charge' when 4 then 'plan'
    when 5 then 'customer' else 'organization'
end
{%- endmacro %}
