with

versions as (

    {{ catalog_versions('billable_metric') }}

),

renamed as (

    select
        -- ids
        object_key as metric_code,
        {{ json_str('payload', 'billable_metric.name') }} as metric_name,

        -- aggregation
        {{ json_str('payload', 'billable_metric.aggregation_type') }} as aggregation_type,
        {{ json_str('payload', 'billable_metric.field_name') }} as field_name,
        {{ json_bool('payload', 'billable_metric.recurring') }} as is_recurring,
        {{ json_str('payload', 'billable_metric.expression') }} as expression,
        {{ json_str('payload', 'billable_metric.weighted_interval') }} as weighted_interval,
        {{ json_str('payload', 'billable_metric.rounding_function') }} as rounding_function,
        cast({{ json_str('payload', 'billable_metric.rounding_precision') }} as integer) as rounding_precision,
        {{ json_get('payload', 'billable_metric.filters') }} as filters,

        -- versioning
        action = 'delete' as is_deleted,
        valid_from,
        valid_to,
        valid_to is null as is_current

    from versions

)

select * from renamed
