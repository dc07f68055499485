{#- When each value of a recurring unique count metric is present, per billing period and charge:
    intervals [added_at, removed_at) built from every add/remove event up to the period's end
    that the period may know (received by its knowledge cutoff), as Lago reads them. An add of a
    present value and a remove of an absent one change nothing; a remove followed on the same
    (local) day by an add of the same value is ignored, so the two intervals around it merge. -#}
with

events as (

    select * from {{ ref('int_events__subscribed') }}
    where aggregation_type = 'unique_count_agg'
      and is_recurring
      and property_value is not null

),

periods as (

    select * from {{ ref('int_billing__period_variants') }}

),

known_events as (

    select
        periods.period_id,
        events.charge_id,
        events.bucket_id,
        events.property_value,
        events.operation_type,
        events.event_timestamp,
        events.event_date,
        events.received_at,
        events.transaction_id
    from events
    inner join periods
        on periods.subscription_id = events.subscription_id
        and events.event_timestamp < periods.to_at
        and events.received_at <= periods.knowledge_cutoff_at

),

with_previous as (

    select
        *,
        coalesce(lag(operation_type) over (
            partition by period_id, bucket_id, property_value
            order by event_timestamp, received_at, transaction_id
        ), 'remove') as previous_operation
    from known_events

),

changes as (

    -- only the events that change the value's state
    select
        *,
        lead(event_timestamp) over (
            partition by period_id, bucket_id, property_value
            order by event_timestamp, received_at, transaction_id
        ) as next_change_at,
        lead(event_date) over (
            partition by period_id, bucket_id, property_value
            order by event_timestamp, received_at, transaction_id
        ) as next_change_date
    from with_previous
    where operation_type <> previous_operation

),

raw_intervals as (

    select
        period_id,
        charge_id,
        bucket_id,
        property_value,
        event_timestamp as added_at,
        event_date as added_date,
        next_change_at as removed_at,
        next_change_date as removed_date
    from changes
    where operation_type = 'add'

),

island_starts as (

    select
        *,
        case when lag(removed_date) over (
                partition by period_id, bucket_id, property_value order by added_at
             ) = added_date then 0 else 1 end as starts_island
    from raw_intervals

),

islands as (

    select
        *,
        sum(starts_island) over (
            partition by period_id, bucket_id, property_value order by added_at
            rows between unbounded preceding and current row
        ) as island
    from island_starts

),

merged as (

    select
        period_id,
        charge_id,
        bucket_id,
        property_value,
        min(added_at) as added_at,
        min(added_date) as added_date,
        case when count(*) = count(removed_at) then max(removed_at) end as removed_at,
        case when count(*) = count(removed_date) then max(removed_date) end as removed_date
    from islands
    group by period_id, charge_id, bucket_id, property_value, island

)

select * from merged
