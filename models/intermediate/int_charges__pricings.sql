{#- Every way a charge prices its events: its own properties (the default bucket, for the events
    no filter matches) and each of its filters. pricing_id names one; group_keys are the event
    properties that split its fees (Lago's pricing_group_keys, formerly grouped_by). -#}
with

charges as (

    select * from {{ ref('stg_charges') }}
    where is_current

),

filters as (

    select * from {{ ref('stg_charge_filters') }}
    where is_current

),

pricings as (

    select
        charge_id || '|default' as pricing_id,
        charge_id,
        cast(null as integer) as filter_index,
        cast(null as {{ dbt.type_string() }}) as filter_values_text,
        properties
    from charges

    union all

    select
        filters.charge_id || '|' || cast(filters.filter_index as varchar) as pricing_id,
        filters.charge_id,
        filters.filter_index,
        {{ json_text('filters.filter_values') }} as filter_values_text,
        filters.properties
    from filters

),

final as (

    select
        pricings.pricing_id,
        pricings.charge_id,
        pricings.filter_index,
        pricings.filter_values_text,
        pricings.properties,
        coalesce({{ json_get('pricings.properties', 'pricing_group_keys') }},
                 {{ json_get('pricings.properties', 'grouped_by') }}) as group_keys
    from pricings

)

select * from final
