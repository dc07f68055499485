{#- Units per billing period and charge bucket (charge, filter, group) for every metric but recurring unique counts, as Lago
    aggregates them (an empty period is 0 units):
    - count_agg: the events; sum_agg / max_agg: the sum / max of the numeric property values;
      latest_agg: the value of the latest event (negative values count 0);
    - unique_count_agg: per value, an add scores +1 unless the value is already added, a remove
      scores -1 when it is; units are the total (values whose last operation is an add). A value
      only ever added scores 1 whatever the order, so only the values with another operation are
      put in order (a window over every event of a metric with many values costs seconds);
    - values that are not plain decimals (/-?\d+(\.\d+)?/) are not aggregated, as in Lago;
      they are reported by the diagnostics;
    - metered metrics count events inside the period, recurring ones every event up to its end;
    - only events received by the period's knowledge cutoff count (late ones never rewrite a
      finalized invoice). -#}
with

events as {{ not_materialized() }} (

    select * from {{ ref('int_events__subscribed') }}
    where not (aggregation_type = 'unique_count_agg' and is_recurring)

),

periods as (

    select * from {{ ref('int_billing__period_variants') }}

),

{#- The events of each period (a metered metric's inside it, a recurring one's up to its end),
    known by the period's knowledge cutoff. Inlined into each aggregation below rather than shared,
    so that each reads only the events of its own aggregation types and none is materialised. -#}
{%- set in_period_sql -%}
(
    select * from (

    select
        periods.period_id,
        events.charge_id,
        events.bucket_id,
        events.aggregation_type,
        events.property_value,
        case when events.aggregation_type in ('sum_agg', 'max_agg', 'latest_agg')
             then {{ numeric_or_null_fast('events.property_value') }} end as numeric_value,
        events.operation_type,
        events.event_timestamp,
        events.received_at,
        events.transaction_id
    from events
    inner join periods
        on periods.subscription_id = events.subscription_id
        and events.event_timestamp < periods.to_at
        and (events.is_recurring or events.event_timestamp >= periods.from_at)
        and events.received_at <= periods.knowledge_cutoff_at
        and events.aggregation_type in (__aggregation_types__)
    ) in_period_events
)
{%- endset %}

simple_aggregations as (

    select
        period_id,
        charge_id,
        bucket_id,
        case min(aggregation_type)
            when 'count_agg' then cast(count(*) as {{ units_type() }})
            when 'sum_agg' then coalesce(sum(numeric_value), 0)
            when 'max_agg' then coalesce(max(numeric_value), 0)
        end as units
    from {{ in_period_sql | replace('__aggregation_types__', "'count_agg', 'sum_agg', 'max_agg'") }} in_period
    group by period_id, charge_id, bucket_id

),

latest_values as (

    select
        period_id,
        charge_id,
        bucket_id,
        numeric_value,
        row_number() over (
            partition by period_id, bucket_id
            order by event_timestamp desc, received_at desc, transaction_id desc
        ) as recency
    from {{ in_period_sql | replace('__aggregation_types__', "'latest_agg'") }} in_period
    where numeric_value is not null

),

latest_aggregation as (

    select
        period_id,
        charge_id,
        bucket_id,
        coalesce(max(case when numeric_value > 0 then numeric_value end), 0) as units
    from latest_values
    where recency = 1
    group by period_id, charge_id, bucket_id

),

unique_values as (

    -- per value, whether any of its operations is not an add: a value only ever added scores 1
    -- (its first add), whatever the order; only the others need their operations in order
    select
        period_id,
        charge_id,
        bucket_id,
        property_value,
        max(case when operation_type = 'add' then 0 else 1 end) as is_ordered
    from {{ in_period_sql | replace('__aggregation_types__', "'unique_count_agg'") }} in_period
    where property_value is not null
    group by period_id, charge_id, bucket_id, property_value

),

ordered_operations as (

    select
        in_period.period_id,
        in_period.bucket_id,
        in_period.property_value,
        in_period.operation_type,
        coalesce(lag(in_period.operation_type) over (
            partition by in_period.period_id, in_period.bucket_id, in_period.property_value
            order by in_period.event_timestamp, in_period.received_at, in_period.transaction_id
        ), 'remove') as previous_operation
    from {{ in_period_sql | replace('__aggregation_types__', "'unique_count_agg'") }} in_period
    inner join unique_values
        on unique_values.period_id = in_period.period_id
        and unique_values.bucket_id = in_period.bucket_id
        and unique_values.property_value = in_period.property_value
        and unique_values.is_ordered = 1

),

ordered_scores as (

    select
        period_id,
        bucket_id,
        property_value,
        sum(case
            when operation_type = 'add' and previous_operation = 'remove' then 1
            when operation_type = 'remove' and previous_operation = 'add' then -1
            else 0
        end) as score
    from ordered_operations
    group by period_id, bucket_id, property_value

),

unique_count_aggregation as (

    select
        unique_values.period_id,
        unique_values.charge_id,
        unique_values.bucket_id,
        cast(sum(case when unique_values.is_ordered = 0 then 1 else coalesce(ordered_scores.score, 0) end)
             as {{ units_type() }}) as units
    from unique_values
    left join ordered_scores
        on ordered_scores.period_id = unique_values.period_id
        and ordered_scores.bucket_id = unique_values.bucket_id
        and ordered_scores.property_value = unique_values.property_value
    group by unique_values.period_id, unique_values.charge_id, unique_values.bucket_id

),

all_aggregations as (

    select * from simple_aggregations
    union all
    select * from latest_aggregation
    union all
    select * from unique_count_aggregation

),

final as (

    select period_id, charge_id, bucket_id, {{ to_units('units') }} as units
    from all_aggregations

)

select * from final
