{#- One row per filter of each charge (of each plan version): the property values it matches and
    the pricing it applies to the events it matches. -#}
with

charges as (

    select * from {{ ref('stg_charges') }}

),

filters as (

    select
        -- ids
        charges.charge_id,
        charge_filter.idx as filter_index,
        charges.plan_code,

        -- matching and pricing
        {{ json_get('charge_filter.value', 'values') }} as filter_values,
        {{ json_get('charge_filter.value', 'properties') }} as properties,
        {{ json_str('charge_filter.value', 'invoice_display_name') }} as invoice_display_name,

        -- versioning
        charges.valid_from,
        charges.valid_to,
        charges.is_current

    from charges
    {{ json_array_elements('charges.filters', 'charge_filter') }}

)

select * from filters
