{#- The value of every event a percentage charge prices, in the order Lago reads them (event time,
    then arrival, then transaction id): the charge model needs the events one by one for its free
    units (the first N events, the first X units) and its per-transaction minimum and maximum.
    A count metric's event is worth 1; otherwise the event's numeric property (events without
    one are not priced, as in the aggregation). Only events the period may know count. -#}
with

events as (

    select * from {{ ref('int_events__subscribed') }}

),

periods as (

    select * from {{ ref('int_billing__period_variants') }}

),

charges as (

    select * from {{ ref('stg_charges') }}
    where is_current and charge_model = 'percentage'

),

valued as (

    select
        periods.period_id,
        events.bucket_id,
        case when events.aggregation_type = 'count_agg' then {{ to_units(1) }}
             else {{ numeric_or_null('events.property_value') }} end as value,
        events.event_timestamp,
        events.received_at,
        events.transaction_id
    from events
    inner join charges on charges.charge_id = events.charge_id
    inner join periods
        on periods.subscription_id = events.subscription_id
        and events.event_timestamp < periods.to_at
        and (events.is_recurring or events.event_timestamp >= periods.from_at)
        and events.received_at <= periods.knowledge_cutoff_at

),

final as (

    select
        period_id,
        bucket_id,
        cast(row_number() over (
            partition by period_id, bucket_id
            order by event_timestamp, received_at, transaction_id
        ) - 1 as integer) as event_index,
        {{ to_units('value') }} as value
    from valued
    where value is not null

)

select * from final
