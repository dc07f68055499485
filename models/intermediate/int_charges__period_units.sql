{#- Units and events of every charge of the plan in every billing period, 0 when nothing was used. -#}
with

periods as (

    select * from {{ ref('int_subscriptions__billing_periods') }}

),

charges as (

    select * from {{ ref('stg_charges') }}
    where is_current

),

metered_units as (

    select * from {{ ref('int_usage__metered_units') }}

),

recurring_unique_units as (

    select * from {{ ref('int_usage__recurring_unique_units') }}

),

events as (

    select * from {{ ref('int_events__subscribed') }}

),

units as (

    select * from metered_units
    union all
    select * from recurring_unique_units

),

events_in_period as (

    select
        periods.period_id,
        events.charge_id,
        count(*) as events_count
    from events
    inner join periods
        on periods.external_subscription_id = events.external_subscription_id
        and events.event_timestamp >= periods.from_at
        and events.event_timestamp < periods.to_at
        and events.received_at <= periods.knowledge_cutoff_at
    group by periods.period_id, events.charge_id

),

final as (

    select
        -- ids
        periods.period_id,
        charges.charge_id,
        periods.external_subscription_id,
        periods.external_customer_id,
        charges.metric_code,

        -- usage
        {{ to_units("coalesce(units.units, 0)") }} as units,
        coalesce(events_in_period.events_count, 0) as events_count,

        -- pricing
        charges.charge_model,
        charges.properties,
        charges.is_pay_in_advance,
        charges.is_invoiceable,
        periods.currency,

        -- timestamps
        periods.from_at,
        periods.to_at,
        periods.is_closed

    from periods
    inner join charges on charges.plan_code = periods.plan_code
    left join units
        on units.period_id = periods.period_id
        and units.charge_id = charges.charge_id
    left join events_in_period
        on events_in_period.period_id = periods.period_id
        and events_in_period.charge_id = charges.charge_id

)

select * from final
