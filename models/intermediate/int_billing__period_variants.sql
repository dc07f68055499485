{#- The periods usage is computed for (int_subscriptions__charge_periods). Each period once as billed (its knowledge cutoff:
    the finalization of its invoice), and, when events for it arrived after that cutoff, once more
    in hindsight (knowing every event up to as_of) — so that the amount late events would have
    changed can be shown next to the frozen invoice (fct_invoice_discrepancies) without ever
    touching it. Hindsight variants are never billed.
    Progressive billing (plans with usage_thresholds): each period in progress is also computed as
    known at every moment an event of its subscription arrived during it (variant `snapshot`,
    snapshot_at = that received_at, knowledge cutoff = snapshot_at), the usage
    int_usage_thresholds__crossings compares with the thresholds; snapshots are never billed
    either (is_hindsight is true for them, variant_type tells them apart).
    Wallet threshold top-ups (int_wallets__threshold_top_ups) read the same snapshots for the
    subscriptions of customers with a wallet holding a `threshold` recurring rule (the ongoing
    balance at each event arrival). Only those subscriptions get snapshots: without usage
    thresholds or threshold wallets, no event is read here. -#}
with

periods as (

    select * from {{ ref('int_subscriptions__charge_periods') }}

),

events as (

    select * from {{ ref('int_events__subscribed') }}

),

thresholds as (

    select distinct plan_code from {{ ref('stg_plan_usage_thresholds') }}
    where is_current

),

wallets as (

    select * from {{ ref('stg_wallets') }}

),

wallet_rules as (

    select {{ json_str('rule.value', 'trigger') }} as rule_trigger, wallets.external_customer_id
    from wallets
    {{ json_array_elements('wallets.recurring_transaction_rules', 'rule') }}
    where wallets.action = 'upsert'

),

threshold_wallet_customers as (

    select distinct external_customer_id
    from wallet_rules
    where rule_trigger = 'threshold'

),

thresholded_subscriptions as (

    select distinct periods.subscription_id
    from periods
    inner join thresholds on thresholds.plan_code = periods.plan_code

    union

    select distinct periods.subscription_id
    from periods
    inner join threshold_wallet_customers
        on threshold_wallet_customers.external_customer_id = periods.external_customer_id

),

moments as (

    -- every moment the usage of a subscription with thresholds may have changed: an event arrived
    -- (only those subscriptions: without thresholds, no event is read here)
    select distinct events.subscription_id, events.received_at as snapshot_at
    from events
    inner join thresholded_subscriptions
        on thresholded_subscriptions.subscription_id = events.subscription_id
    where events.received_at <= {{ as_of() }}

),

late_periods as (

    select distinct periods.period_id
    from periods
    inner join events
        on events.subscription_id = periods.subscription_id
        and events.event_timestamp < periods.to_at
        and events.received_at > periods.knowledge_cutoff_at
    where periods.is_closed
      and periods.knowledge_cutoff_at < {{ as_of() }}

),

variants as (

    select periods.*, false as is_hindsight, 'billed' as variant_type, cast(null as timestamp) as snapshot_at
    from periods

    union all

    select periods.*, true as is_hindsight, 'hindsight' as variant_type, cast(null as timestamp) as snapshot_at
    from periods
    inner join late_periods on late_periods.period_id = periods.period_id

    union all

    select periods.*, true as is_hindsight, 'snapshot' as variant_type, moments.snapshot_at
    from periods
    inner join moments
        on moments.subscription_id = periods.subscription_id
        and moments.snapshot_at >= periods.from_at
        and moments.snapshot_at < periods.to_at

),

final as (

    select
        -- ids
        case when variant_type = 'hindsight' then period_id || '#hindsight'
             when variant_type = 'snapshot' then period_id || '#snapshot' || cast(row_number() over (
                 partition by period_id, variant_type order by snapshot_at) as varchar)
             else period_id end as period_id,
        period_id as billing_period_id,
        is_hindsight,
        subscription_id,
        external_subscription_id,
        external_customer_id,
        plan_code,
        currency,

        -- the period
        period_start_at,
        period_end_at,
        from_at,
        to_at,
        from_date,
        to_date,
        full_period_days,
        is_closed,
        case when variant_type = 'hindsight' then {{ as_of() }}
             when variant_type = 'snapshot' then snapshot_at
             else knowledge_cutoff_at end as knowledge_cutoff_at,

        -- appended: which computation of the period this is (billed, hindsight, snapshot)
        variant_type,
        snapshot_at

    from variants

)

select * from final
