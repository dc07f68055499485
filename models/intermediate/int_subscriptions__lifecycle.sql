{#- One row per subscription segment: what Lago calls a subscription. A subscription
    (external_id) starts at its subscription_at when given (a migration or a future start), else
    when received. A later upsert with another plan_code is a plan change:
    - an upgrade (the new plan's yearly amount — weekly x 52, monthly x 12, quarterly x 4,
      semiannual x 2 — is at least the current one's) applies at once: the current segment ends
      and the new one starts at that moment;
    - a downgrade waits for the end of the current billing period.
    With anniversary billing every segment keeps the original anniversary. A termination ends the
    segment in force; segments that had not started are canceled. -#}
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

upserts as (

    select
        *,
        row_number() over (partition by external_subscription_id order by valid_from, seq) as nth_upsert,
        lag(plan_code) over (partition by external_subscription_id order by valid_from, seq) as previous_plan_code
    from subscription_changes
    where action = 'upsert'

),

creations as (

    select * from upserts where nth_upsert = 1

),

plan_changes as (

    select * from upserts
    where nth_upsert > 1 and plan_code <> previous_plan_code

),

terminations as (

    select external_subscription_id, min(valid_from) as terminated_at
    from subscription_changes
    where action = 'terminate'
    group by external_subscription_id

),

origins as (

    select
        creations.external_subscription_id,
        creations.external_customer_id,
        creations.billing_time,
        creations.created_at,
        creations.ending_at,
        coalesce(creations.subscription_at, creations.created_at) as original_started_at,
        customers.timezone,
        customers.invoice_grace_period
    from creations
    inner join customers on customers.external_customer_id = creations.external_customer_id

),

yearly_amounts as (

    select
        plan_code,
        plan_interval,
        amount_cents * case plan_interval
            when 'weekly' then 52 when 'monthly' then 12 when 'quarterly' then 4
            when 'semiannual' then 2 else 1 end as yearly_amount_cents,
        case plan_interval
            when 'weekly' then 0 when 'monthly' then 1 when 'quarterly' then 3
            when 'semiannual' then 6 else 12 end as interval_months
    from plans

),

changes_located as (

    -- where the current plan's billing period containing the change ends, for downgrades
    select
        plan_changes.external_subscription_id,
        plan_changes.plan_code,
        plan_changes.valid_from as requested_at,
        new_plan.yearly_amount_cents >= old_plan.yearly_amount_cents as is_upgrade,
        old_plan.interval_months,
        origins.timezone,
        {{ period_anchor_local(to_local('origins.original_started_at', 'origins.timezone'),
                               'origins.billing_time', 'old_plan.plan_interval') }} as anchor_local,
        {{ to_local('plan_changes.valid_from', 'origins.timezone') }} as requested_local
    from plan_changes
    inner join origins on origins.external_subscription_id = plan_changes.external_subscription_id
    inner join yearly_amounts as new_plan on new_plan.plan_code = plan_changes.plan_code
    inner join yearly_amounts as old_plan on old_plan.plan_code = plan_changes.previous_plan_code

),

changes_timed as (

    select
        external_subscription_id,
        plan_code,
        requested_at,
        is_upgrade,
        case when is_upgrade then requested_at
             else {{ from_local(next_period_boundary_local('anchor_local', 'interval_months', 'requested_local'), 'timezone') }}
        end as effective_at
    from changes_located

),

segment_starts as (

    select
        external_subscription_id,
        plan_code,
        original_started_at as started_at,
        cast(null as boolean) as is_upgrade,
        cast(null as varchar) as previous_plan_code
    from origins
    inner join creations using (external_subscription_id)

    union all

    select
        changes_timed.external_subscription_id,
        changes_timed.plan_code,
        changes_timed.effective_at as started_at,
        changes_timed.is_upgrade,
        plan_changes.previous_plan_code
    from changes_timed
    inner join plan_changes
        on plan_changes.external_subscription_id = changes_timed.external_subscription_id
        and plan_changes.valid_from = changes_timed.requested_at
        and plan_changes.plan_code = changes_timed.plan_code

),

segments as (

    select
        *,
        row_number() over (partition by external_subscription_id order by started_at) - 1 as segment_index,
        lead(started_at) over (partition by external_subscription_id order by started_at) as next_started_at
    from segment_starts

),

joined as (

    select
        -- ids
        segments.external_subscription_id || '#' || cast(segments.segment_index as varchar) as subscription_id,
        segments.external_subscription_id,
        segments.segment_index,
        origins.external_customer_id,
        segments.plan_code,
        segments.previous_plan_code,
        segments.is_upgrade,

        -- plan
        plans.plan_interval,
        plans.amount_cents as plan_amount_cents,
        plans.currency,
        plans.is_pay_in_advance,
        plans.is_bill_charges_monthly,
        plans.trial_period_days,
        origins.billing_time,
        origins.timezone,
        origins.invoice_grace_period,

        -- timestamps
        origins.created_at,
        origins.original_started_at,
        segments.started_at,
        -- a segment ends when the next one starts, at the termination, or at ending_at
        case
            when segments.next_started_at is not null
                 and (terminations.terminated_at is null or segments.next_started_at <= terminations.terminated_at)
                then segments.next_started_at
            when terminations.terminated_at is not null then terminations.terminated_at
            when origins.ending_at <= {{ as_of() }} then origins.ending_at
        end as terminated_at,
        segments.next_started_at is not null
            and (terminations.terminated_at is null or segments.next_started_at <= terminations.terminated_at)
            as is_replaced

    from segments
    inner join origins on origins.external_subscription_id = segments.external_subscription_id
    inner join plans on plans.plan_code = segments.plan_code
    left join terminations on terminations.external_subscription_id = segments.external_subscription_id

),

final as (

    select
        *,
        -- the trial runs from the original start, whatever the plan changes
        {{ add_seconds('original_started_at', 'trial_period_days * 86400') }} as trial_ends_at,
        case
            when terminated_at is not null and terminated_at <= started_at then 'canceled'
            when started_at > {{ as_of() }} then 'pending'
            when terminated_at is not null and terminated_at <= {{ as_of() }} then 'terminated'
            else 'active'
        end as status
    from joined

)

select * from final
