{#- Units of weighted_sum_agg charges per billing period and bucket: each event adds its value
    to a running total, and the units are the total weighted by the seconds it held in the
    period ÷ the seconds of the full period (Σ total × seconds held / period seconds).
    A recurring metric starts the period from the total of every earlier event; a metered one
    from 0. Rounded half away from zero at 10 decimals. -#}
with

events as (

    select * from {{ ref('int_events__subscribed') }}
    where aggregation_type = 'weighted_sum_agg'

),

periods as (

    select * from {{ ref('int_billing__period_variants') }}

),

known_values as (

    select
        periods.period_id,
        events.charge_id,
        events.bucket_id,
        periods.from_at,
        periods.to_at,
        {{ epoch_seconds('periods.period_end_at') }} - {{ epoch_seconds('periods.period_start_at') }} as period_seconds,
        {{ numeric_or_null_fast('events.property_value') }} as numeric_value,
        events.event_timestamp,
        events.received_at,
        events.transaction_id
    from events
    inner join periods
        on periods.subscription_id = events.subscription_id
        and events.event_timestamp < periods.to_at
        and (events.is_recurring or events.event_timestamp >= periods.from_at)
        and events.received_at <= periods.knowledge_cutoff_at

),

carried_in as (

    select
        period_id,
        charge_id,
        bucket_id,
        min(from_at) as from_at,
        min(to_at) as to_at,
        min(period_seconds) as period_seconds,
        coalesce(sum(case when event_timestamp < from_at then numeric_value end), 0) as opening_total,
        min(case when event_timestamp >= from_at then event_timestamp end) as first_change_at
    from known_values
    group by period_id, charge_id, bucket_id

),

changes as (

    select
        known_values.period_id,
        known_values.bucket_id,
        carried_in.opening_total + sum(coalesce(known_values.numeric_value, 0)) over (
            partition by known_values.period_id, known_values.bucket_id
            order by known_values.event_timestamp, known_values.received_at, known_values.transaction_id
            rows between unbounded preceding and current row
        ) as running_total,
        known_values.event_timestamp as held_from,
        coalesce(lead(known_values.event_timestamp) over (
            partition by known_values.period_id, known_values.bucket_id
            order by known_values.event_timestamp, known_values.received_at, known_values.transaction_id
        ), known_values.to_at) as held_until
    from known_values
    inner join carried_in
        on carried_in.period_id = known_values.period_id
        and carried_in.bucket_id = known_values.bucket_id
    where known_values.event_timestamp >= known_values.from_at

),

weighted as (

    -- the opening total, held from the period's start to the first change (or to its end)
    select
        period_id,
        bucket_id,
        opening_total * ({{ epoch_seconds('coalesce(first_change_at, to_at)') }} - {{ epoch_seconds('from_at') }})
            as total_seconds
    from carried_in

    union all

    select
        period_id,
        bucket_id,
        running_total * ({{ epoch_seconds('held_until') }} - {{ epoch_seconds('held_from') }}) as total_seconds
    from changes

),

final as (

    select
        carried_in.period_id,
        carried_in.charge_id,
        carried_in.bucket_id,
        {{ to_units(div_round('sum(weighted.total_seconds)', 'min(carried_in.period_seconds)', 10)) }} as units
    from carried_in
    inner join weighted
        on weighted.period_id = carried_in.period_id
        and weighted.bucket_id = carried_in.bucket_id
    group by carried_in.period_id, carried_in.charge_id, carried_in.bucket_id

)

select * from final
