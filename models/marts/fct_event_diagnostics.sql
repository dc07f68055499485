{#- Lago's event debugger: every event received up to as_of that is not (or no longer) billed,
    with the first reason that applies, in this order:
    unknown_metric_code, unknown_subscription, pending_subscription (the subscription has not
    started yet), before_subscription_start (the event is timestamped before the start: outside
    every billing period), terminated_subscription (after the termination), metric_not_in_plan,
    expression_without_value, missing_aggregation_property, non_numeric_value (sum, max, latest and weighted sums read only
    plain decimals), late_event (received after the invoice of its period was finalized: it is
    not billed again; `missed_invoice_at` names that invoice's billing moment). -#}
with

stg_events as (

    select * from {{ ref('stg_events') }}

),

events as (

    select *, {{ metric_expression_value() }} as expression_value
    from stg_events

),

metrics as (

    select * from {{ ref('stg_billable_metrics') }}
    where is_current and not is_deleted

),

subscriptions as (

    select * from {{ ref('int_subscriptions__lifecycle') }}

),

charges as (

    select * from {{ ref('stg_charges') }}
    where is_current

),

periods as (

    select * from {{ ref('int_subscriptions__charge_periods') }}

),

plan_metrics as (

    select distinct plan_code, metric_code from charges

),

subscription_summaries as (

    -- one row per external_subscription_id over its segments (plan changes)
    select
        external_subscription_id,
        min(original_started_at) as started_at,
        min(case when status in ('active', 'terminated') then 0 else 1 end) = 1 as is_pending,
        max(case when not is_replaced then terminated_at end) as terminated_at
    from subscriptions
    where status <> 'canceled'
    group by external_subscription_id

),

enriched as (

    select
        events.transaction_id,
        events.external_subscription_id,
        events.metric_code,
        events.event_timestamp,
        events.received_at,
        metrics.metric_code is not null as is_known_metric,
        metrics.aggregation_type,
        metrics.field_name,
        metrics.expression,
        subscription_summaries.external_subscription_id is not null as is_known_subscription,
        subscription_summaries.is_pending,
        subscription_summaries.started_at,
        subscription_summaries.terminated_at,
        case when metrics.expression is not null then events.expression_value
             when metrics.field_name is not null
             then {{ json_str_by_key('events.properties', 'metrics.field_name') }} end as property_value
    from events
    left join metrics on metrics.metric_code = events.metric_code
    left join subscription_summaries
        on subscription_summaries.external_subscription_id = events.external_subscription_id

),

in_segment as (

    -- the segment (plan) in force at the event's time: segments replaced by a plan change end
    -- just before the next one starts, so at most one matches
    select
        enriched.*,
        subscriptions.subscription_id,
        subscriptions.plan_code
    from enriched
    left join subscriptions
        on subscriptions.external_subscription_id = enriched.external_subscription_id
        and subscriptions.status in ('active', 'terminated')
        and enriched.event_timestamp >= subscriptions.started_at
        and enriched.event_timestamp < case when subscriptions.is_replaced then subscriptions.terminated_at
                                            else cast('9999-12-31' as timestamp) end
        and enriched.event_timestamp <= coalesce(subscriptions.terminated_at, cast('9999-12-31' as timestamp))

),

with_plan as (

    select
        in_segment.*,
        plan_metrics.metric_code is not null as is_in_plan
    from in_segment
    left join plan_metrics
        on plan_metrics.plan_code = in_segment.plan_code
        and plan_metrics.metric_code = in_segment.metric_code

),

with_period as (

    select
        with_plan.*,
        periods.knowledge_cutoff_at,
        periods.to_at as period_billed_at,
        periods.is_closed
    from with_plan
    left join periods
        on periods.subscription_id = with_plan.subscription_id
        and with_plan.event_timestamp >= periods.from_at
        and with_plan.event_timestamp < periods.to_at

),

diagnosed as (

    select
        *,
        case
            when not is_known_metric then 'unknown_metric_code'
            when not is_known_subscription then 'unknown_subscription'
            when is_pending then 'pending_subscription'
            when event_timestamp < started_at then 'before_subscription_start'
            when terminated_at is not null and event_timestamp > terminated_at then 'terminated_subscription'
            when not is_in_plan then 'metric_not_in_plan'
            when expression is not null and property_value is null then 'expression_without_value'
            when aggregation_type <> 'count_agg' and property_value is null then 'missing_aggregation_property'
            when aggregation_type in ('sum_agg', 'max_agg', 'latest_agg', 'weighted_sum_agg')
                 and {{ numeric_or_null_fast('property_value') }} is null then 'non_numeric_value'
            when is_closed and received_at > knowledge_cutoff_at then 'late_event'
        end as reason_code
    from with_period

),

final as (

    select
        -- ids
        transaction_id,
        external_subscription_id,
        metric_code,

        -- diagnosis
        reason_code,
        case reason_code
            when 'unknown_metric_code' then 'no billable metric has this code'
            when 'unknown_subscription' then 'no subscription has this external_subscription_id'
            when 'pending_subscription' then 'the subscription has not started yet'
            when 'before_subscription_start' then 'the event is timestamped before the subscription started'
            when 'terminated_subscription' then 'the event is timestamped after the subscription was terminated'
            when 'metric_not_in_plan' then 'the subscription''s plan has no charge on this metric'
            when 'expression_without_value' then 'the metric''s expression gives no value (a property it reads is missing or not a number)'
            when 'missing_aggregation_property' then 'the property named by the metric''s field_name is missing'
            when 'non_numeric_value' then 'the aggregated property is not a plain decimal number'
            when 'late_event' then 'received after the invoice of its period was finalized'
        end as reason,
        field_name,
        property_value,

        -- timestamps
        event_timestamp,
        received_at,
        case when reason_code = 'late_event' then period_billed_at end as missed_invoice_at

    from diagnosed
    where reason_code is not null

)

select * from final
