{#- The tiers of graduated and volume charges, one row per range, amounts in major units. -#}
with

charges as (

    select * from {{ ref('stg_charges') }}
    where is_current and charge_model in ('graduated', 'volume')

),

ranges as (

    select
        charges.charge_id,
        charges.charge_model,
        tier.idx as tier_index,
        cast({{ json_str('tier.value', 'from_value') }} as {{ units_type() }}) as from_value,
        cast({{ json_str('tier.value', 'to_value') }} as {{ units_type() }}) as to_value,
        cast(coalesce({{ json_str('tier.value', 'per_unit_amount') }}, '0') as {{ money_type() }}) as per_unit_amount,
        cast(coalesce({{ json_str('tier.value', 'flat_amount') }}, '0') as {{ money_type() }}) as flat_amount
    from charges
    {{ json_array_elements(
        "case when charges.charge_model = 'graduated' then " ~ json_get('charges.properties', 'graduated_ranges')
        ~ " else " ~ json_get('charges.properties', 'volume_ranges') ~ " end", 'tier') }}

)

select * from ranges
