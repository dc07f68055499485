{#- Events matched to the subscription they are billed to and to the charges that price them:
    the subscription with their external_subscription_id, started at or before the event and not
    terminated before it; the charges of its plan on the event's metric. -#}
with

events as (

    select * from {{ ref('stg_events') }}

),

subscriptions as (

    select * from {{ ref('int_subscriptions__lifecycle') }}
    where status in ('active', 'terminated')

),

charges as (

    select * from {{ ref('stg_charges') }}
    where is_current

),

metrics as (

    select * from {{ ref('stg_billable_metrics') }}
    where is_current and not is_deleted

),

priced_metrics as (

    select
        charges.plan_code,
        charges.charge_id,
        metrics.metric_code,
        metrics.aggregation_type,
        metrics.field_name,
        metrics.is_recurring
    from charges
    inner join metrics on metrics.metric_code = charges.metric_code

),

matched as (

    select
        -- ids
        events.transaction_id,
        events.external_subscription_id,
        priced_metrics.charge_id,
        events.metric_code,
        priced_metrics.aggregation_type,
        priced_metrics.is_recurring,

        -- values
        {{ json_str_by_key('events.properties', 'priced_metrics.field_name') }} as property_value,
        coalesce({{ json_str('events.properties', 'operation_type') }}, 'add') as operation_type,

        -- timestamps
        events.event_timestamp,
        cast({{ to_local('events.event_timestamp', 'subscriptions.timezone') }} as date) as event_date,
        events.received_at

    from events
    inner join subscriptions
        on subscriptions.external_subscription_id = events.external_subscription_id
        and events.event_timestamp >= subscriptions.started_at
        and (subscriptions.terminated_at is null or events.event_timestamp <= subscriptions.terminated_at)
    inner join priced_metrics
        on priced_metrics.plan_code = subscriptions.plan_code
        and priced_metrics.metric_code = events.metric_code

)

select * from matched
