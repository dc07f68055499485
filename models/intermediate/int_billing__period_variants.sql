{#- The periods usage is computed for (int_subscriptions__charge_periods). Each period once as billed (its knowledge cutoff:
    the finalization of its invoice), and, when events for it arrived after that cutoff, once more
    in hindsight (knowing every event up to as_of) — so that the amount late events would have
    changed can be shown next to the frozen invoice (fct_invoice_discrepancies) without ever
    touching it. Hindsight variants are never billed. -#}
with

periods as (

    select * from {{ ref('int_subscriptions__charge_periods') }}

),

events as (

    select * from {{ ref('int_events__subscribed') }}

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

    select periods.*, false as is_hindsight
    from periods

    union all

    select periods.*, true as is_hindsight
    from periods
    inner join late_periods on late_periods.period_id = periods.period_id

),

final as (

    select
        -- ids
        case when is_hindsight then period_id || '#hindsight' else period_id end as period_id,
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
        case when is_hindsight then {{ as_of() }} else knowledge_cutoff_at end as knowledge_cutoff_at

    from variants

)

select * from final
