{#- One row per subscription: when it starts and ends, on which plan, in which time zone.
    Starts at subscription_at when given (a migration or a future start), else when received. -#}
with

subscription_changes as (

    select * from {{ ref('stg_subscriptions') }}

),

plans as (

    select * from {{ ref('stg_plans') }}
    where is_current and not is_deleted

),

customers as (

    select * from {{ ref('int_customers__settings') }}

),

creations as (

    select *
    from (
        select
            *,
            row_number() over (partition by external_subscription_id order by valid_from, seq) as nth_upsert
        from subscription_changes
        where action = 'upsert'
    ) upserts
    where nth_upsert = 1

),

latest_upserts as (

    select *
    from (
        select
            *,
            row_number() over (partition by external_subscription_id order by valid_from desc, seq desc) as nth_latest
        from subscription_changes
        where action = 'upsert'
    ) upserts
    where nth_latest = 1

),

terminations as (

    select external_subscription_id, min(valid_from) as terminated_at
    from subscription_changes
    where action = 'terminate'
    group by external_subscription_id

),

joined as (

    select
        -- ids
        creations.external_subscription_id,
        creations.external_customer_id,
        latest_upserts.plan_code,

        -- plan
        plans.plan_interval,
        plans.amount_cents as plan_amount_cents,
        plans.currency,
        plans.is_pay_in_advance,
        plans.trial_period_days,
        creations.billing_time,
        customers.timezone,
        customers.invoice_grace_period,

        -- timestamps
        creations.created_at,
        coalesce(creations.subscription_at, creations.created_at) as started_at,
        case
            when terminations.terminated_at is not null then terminations.terminated_at
            when latest_upserts.ending_at <= {{ as_of() }} then latest_upserts.ending_at
        end as terminated_at

    from creations
    inner join latest_upserts using (external_subscription_id)
    inner join plans on plans.plan_code = latest_upserts.plan_code
    inner join customers on customers.external_customer_id = creations.external_customer_id
    left join terminations using (external_subscription_id)

),

final as (

    select
        *,
        {{ add_seconds('started_at', 'trial_period_days * 86400') }} as trial_ends_at,
        case
            when started_at > {{ as_of() }} then 'pending'
            when terminated_at is not null and terminated_at < started_at then 'canceled'
            when terminated_at is not null then 'terminated'
            else 'active'
        end as status
    from joined

)

select * from final
