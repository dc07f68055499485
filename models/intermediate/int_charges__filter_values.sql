{#- The (key, value) pairs each charge filter accepts, and how many keys it requires: an event
    matches a filter when, for every key, its property is one of the listed values. -#}
with

filters as (

    select * from {{ ref('stg_charge_filters') }}
    where is_current

),

keys as (

    select
        filters.charge_id,
        filters.filter_index,
        filter_key.key as filter_key,
        filter_key.value as allowed_values
    from filters
    {{ json_object_entries('filters.filter_values', 'filter_key') }}

),

key_counts as (

    select charge_id, filter_index, count(*) as key_count
    from keys
    group by charge_id, filter_index

),

pairs as (

    select
        keys.charge_id,
        keys.filter_index,
        keys.charge_id || '|' || cast(keys.filter_index as varchar) as pricing_id,
        keys.filter_key,
        {{ json_scalar_text('allowed.value') }} as filter_value
    from keys
    {{ json_array_elements('keys.allowed_values', 'allowed') }}

),

final as (

    select
        pairs.charge_id,
        pairs.filter_index,
        pairs.pricing_id,
        pairs.filter_key,
        pairs.filter_value,
        key_counts.key_count
    from pairs
    inner join key_counts
        on key_counts.charge_id = pairs.charge_id
        and key_counts.filter_index = pairs.filter_index

)

select * from final
