{#- The tiers of graduated, graduated_percentage and volume pricings (a charge's own or a
    filter's), one row per range, amounts in major units; a percentage tier's rate (in %) becomes
    its per-unit amount (rate / 100 of each unit of the aggregated amount). -#}
with

charges as (

    select * from {{ ref('stg_charges') }}
    where is_current and charge_model in ('graduated', 'graduated_percentage', 'volume')

),

pricings as (

    select * from {{ ref('int_charges__pricings') }}

),

tiered_pricings as (

    select
        pricings.pricing_id,
        charges.charge_model,
        case charges.charge_model
            when 'graduated' then {{ json_get('pricings.properties', 'graduated_ranges') }}
            when 'graduated_percentage' then {{ json_get('pricings.properties', 'graduated_percentage_ranges') }}
            else {{ json_get('pricings.properties', 'volume_ranges') }}
        end as ranges
    from pricings
    inner join charges on charges.charge_id = pricings.charge_id

),

ranges as (

    select
        tiered_pricings.pricing_id,
        tiered_pricings.charge_model,
        tier.idx as tier_index,
        cast({{ json_str('tier.value', 'from_value') }} as {{ units_type() }}) as from_value,
        cast({{ json_str('tier.value', 'to_value') }} as {{ units_type() }}) as to_value,
        case when tiered_pricings.charge_model = 'graduated_percentage'
             then cast(coalesce({{ json_str('tier.value', 'rate') }}, '0') as {{ money_type() }}) * 0.01
             else cast(coalesce({{ json_str('tier.value', 'per_unit_amount') }}, '0') as {{ money_type() }})
        end as per_unit_amount,
        cast(coalesce({{ json_str('tier.value', 'flat_amount') }}, '0') as {{ money_type() }}) as flat_amount
    from tiered_pricings
    {{ json_array_elements('tiered_pricings.ranges', 'tier') }}

)

select * from ranges
