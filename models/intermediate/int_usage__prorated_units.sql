{#- Units of prorated charges (prorated: true) on recurring metrics, per billing period and charge
    bucket, with the full (unprorated) units beside them, as Lago's prorated aggregations give
    them:
    - sum_agg: each value counts (days billed) / (days of the full period), days billed running
      from the day of the event (in the customer's time zone) to the period's last day, both
      included; a value carried in from earlier periods counts the period's days. The total is
      rounded up at the 5th decimal; a total below zero bills 0 units.
    - unique_count_agg: the prorated units come from int_usage__recurring_unique_units; here only
      the full units (the values present at the end of the period).
    full_units choose the tier of a prorated volume charge (Lago's full_units_number). -#}
with

events as (

    select * from {{ ref('int_events__subscribed') }}
    where aggregation_type = 'sum_agg' and is_recurring

),

presence as (

    select * from {{ ref('int_usage__unique_presence') }}

),

periods as (

    select * from {{ ref('int_billing__period_variants') }}

),

charges as (

    select * from {{ ref('stg_charges') }}
    where is_current and is_prorated

),

subscriptions as (

    select * from {{ ref('int_subscriptions__lifecycle') }}

),

sum_values as (

    select
        periods.period_id,
        events.charge_id,
        events.bucket_id,
        {{ numeric_or_null('events.property_value') }} as value,
        case when events.event_timestamp < periods.from_at
             then {{ days_between('periods.from_date', 'periods.to_date') }} + 1
             else {{ days_between('cast(' ~ to_local('events.event_timestamp', 'subscriptions.timezone') ~ ' as date)',
                                  'periods.to_date') }} + 1
        end as days_billed,
        periods.full_period_days
    from events
    inner join charges on charges.charge_id = events.charge_id
    inner join periods
        on periods.subscription_id = events.subscription_id
        and events.event_timestamp < periods.to_at
        and events.received_at <= periods.knowledge_cutoff_at
    inner join subscriptions on subscriptions.subscription_id = periods.subscription_id

),

prorated_sums as (

    select
        period_id,
        charge_id,
        bucket_id,
        case when sum(value * days_billed) <= 0 then {{ to_units(0) }}
             else {{ div_ceil('sum(value * days_billed)', 'min(full_period_days)', 5) }} end as units,
        {{ to_units('sum(value)') }} as full_units
    from sum_values
    where value is not null
    group by period_id, charge_id, bucket_id

),

unique_counts_at_end as (

    select
        presence.period_id,
        presence.charge_id,
        presence.bucket_id,
        cast(null as {{ units_type() }}) as units,
        {{ to_units('sum(case when presence.removed_at is null or presence.removed_at >= periods.to_at then 1 else 0 end)') }}
            as full_units
    from presence
    inner join charges on charges.charge_id = presence.charge_id
    inner join periods on periods.period_id = presence.period_id
    where presence.added_at < periods.to_at
    group by presence.period_id, presence.charge_id, presence.bucket_id

),

final as (

    select * from prorated_sums
    union all
    select * from unique_counts_at_end

)

select * from final
