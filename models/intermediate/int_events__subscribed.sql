{#- Events matched to the subscription they are billed to, to the charges that price them and to
    the bucket of each charge that prices them:
    - the subscription segment (plan) with their external_subscription_id in force at the event's
      time — and, for recurring metrics, every later segment too, which carries the value
      across plan changes; the charges of its plan on the event's metric;
    - the charge's most specific matching filter (the one requiring the most keys; every key's
      property must be one of the filter's values), else the charge's default pricing;
    - the values of the pricing's group keys (one fee per combination, Lago's grouped_by).
    bucket_id = pricing_id|grouped_by identifies the units a fee is computed from (grouped_by, the
    part after the pricing_id, is not stored apart: readers take it from bucket_id).
    Only what its readers use is stored (a metric code, for one, is the charge's): storing a text
    column costs DuckDB 1 to 3 CPU s per 10M events, most of this model's time. -#}
with

stg_events as {{ not_materialized() }} (

    select * from {{ ref('stg_events') }}

),

events as {{ not_materialized() }} (

    select *, {{ metric_expression_value() }} as expression_value
    from stg_events

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

filter_values as (

    select * from {{ ref('int_charges__filter_values') }}

),

pricings as (

    select * from {{ ref('int_charges__pricings') }}

),

group_keys as (

    select
        pricings.pricing_id,
        pricings.charge_id,
        group_key.idx as key_index,
        {{ json_scalar_text('group_key.value') }} as group_key
    from pricings
    {{ json_array_elements('pricings.group_keys', 'group_key') }}

),

priced_metrics as (

    select
        charges.plan_code,
        charges.charge_id,
        metrics.metric_code,
        metrics.aggregation_type,
        metrics.field_name,
        metrics.expression,
        metrics.is_recurring,
        -- only a charge with filters or group keys needs the per-event bucket search below
        -- (when in doubt, the general path)
        coalesce(charges.charge_id in (select charge_id from filter_values)
                 or charges.charge_id in (select charge_id from group_keys), true) as is_bucketed
    from charges
    inner join metrics on metrics.metric_code = charges.metric_code

),

{#- The events matched to their subscription segments and charges. Inlined twice (the charges
    without buckets, and those with) rather than shared, so that the common case — every event
    of a charge without filters or group keys — is never materialised as an intermediate result
    with its properties. -#}
{%- set matched_events -%}
    select
        -- ids
        events.transaction_id,
        subscriptions.subscription_id,
        priced_metrics.charge_id,
        priced_metrics.aggregation_type,
        priced_metrics.is_recurring,
        priced_metrics.is_bucketed,

        -- values
        events.properties,
        events.precise_total_amount_cents,
        -- a metric with an expression aggregates what it computes (Lago stores it under field_name)
        case when priced_metrics.expression is not null then events.expression_value
             else {{ json_str_by_key('events.properties', 'priced_metrics.field_name') }} end as property_value,
        case when priced_metrics.aggregation_type = 'unique_count_agg'
             then coalesce({{ json_str('events.properties', 'operation_type') }}, 'add') end as operation_type,

        -- timestamps
        events.event_timestamp,
        -- the local date matters only where days are counted (prorated unique counts)
        case when priced_metrics.aggregation_type = 'unique_count_agg' and priced_metrics.is_recurring
             then cast({{ to_local('events.event_timestamp', 'subscriptions.timezone') }} as date) end as event_date,
        events.received_at

    from events
    inner join subscriptions
        on subscriptions.external_subscription_id = events.external_subscription_id
        and events.event_timestamp >= subscriptions.original_started_at
        and events.event_timestamp <= coalesce(subscriptions.terminated_at, cast('9999-12-31' as timestamp))
    inner join priced_metrics
        on priced_metrics.plan_code = subscriptions.plan_code
        and priced_metrics.metric_code = events.metric_code
    -- a recurring metric carries its earlier events into the segments after a plan change
    where (events.event_timestamp >= subscriptions.started_at or priced_metrics.is_recurring)
{%- endset %}

unbucketed as (

    -- charges without filters or group keys: every event in the default pricing, ungrouped
    select * from ({{ matched_events }}) matched_events
    where not is_bucketed

),

matched as (

    select * from ({{ matched_events }}) matched_events
    where is_bucketed

),

filter_matches as (

    select
        matched.transaction_id,
        matched.subscription_id,
        matched.charge_id,
        filter_values.filter_index,
        filter_values.pricing_id,
        filter_values.key_count,
        count(distinct filter_values.filter_key) as matched_keys
    from matched
    inner join filter_values
        on filter_values.charge_id = matched.charge_id
        and {{ json_str_by_key('matched.properties', 'filter_values.filter_key') }} = filter_values.filter_value
    group by 1, 2, 3, 4, 5, 6

),

best_filters as (

    select *
    from (
        select
            *,
            row_number() over (
                partition by transaction_id, subscription_id, charge_id
                order by key_count desc, filter_index
            ) as specificity_rank
        from filter_matches
        where matched_keys = key_count
    ) ranked
    where specificity_rank = 1

),

with_pricing as (

    select
        matched.*,
        coalesce(best_filters.pricing_id, matched.charge_id || '|default') as pricing_id
    from matched
    left join best_filters
        on best_filters.transaction_id = matched.transaction_id
        and best_filters.subscription_id = matched.subscription_id
        and best_filters.charge_id = matched.charge_id

),

groups as (

    select
        with_pricing.transaction_id,
        with_pricing.subscription_id,
        with_pricing.charge_id,
        '{' || string_agg(
            {{ json_quote('group_keys.group_key') }} || ':'
            || {{ json_quote(json_str_by_key('with_pricing.properties', 'group_keys.group_key')) }},
            ',' order by group_keys.key_index
        ) || '}' as grouped_by
    from with_pricing
    inner join group_keys on group_keys.pricing_id = with_pricing.pricing_id
    group by 1, 2, 3

),

final as (

    select
        with_pricing.transaction_id,
        with_pricing.subscription_id,
        with_pricing.charge_id,
        with_pricing.pricing_id,
        with_pricing.pricing_id || '|' || coalesce(groups.grouped_by, '{}') as bucket_id,
        with_pricing.aggregation_type,
        with_pricing.is_recurring,
        with_pricing.property_value,
        with_pricing.precise_total_amount_cents,
        with_pricing.operation_type,
        with_pricing.event_timestamp,
        with_pricing.event_date,
        with_pricing.received_at
    from with_pricing
    left join groups
        on groups.transaction_id = with_pricing.transaction_id
        and groups.subscription_id = with_pricing.subscription_id
        and groups.charge_id = with_pricing.charge_id

    union all

    select
        transaction_id,
        subscription_id,
        charge_id,
        charge_id || '|default' as pricing_id,
        charge_id || '|default|{}' as bucket_id,
        aggregation_type,
        is_recurring,
        property_value,
        precise_total_amount_cents,
        operation_type,
        event_timestamp,
        event_date,
        received_at
    from unbucketed

)

select * from final
