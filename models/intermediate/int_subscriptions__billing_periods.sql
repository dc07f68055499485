{#- One row per billing period of each started subscription, up to the one in progress at as_of.
    knowledge_cutoff_at is the last received_at the period's charges may use: the moment its
    invoice is finalized (end of period + grace period), or as_of while it is not.
    Boundaries are local midnights in the customer's time zone (calendar: the 1st of the month,
    Monday, Jan/Apr/Jul/Oct 1st, Jan/Jul 1st, Jan 1st; anniversary: the start date's day, the month's
    last day when it is shorter), converted to UTC. Periods are half-open [period_start_at, period_end_at). -#}
with

subscriptions as (

    select * from {{ ref('int_subscriptions__lifecycle') }}
    where status in ('active', 'terminated')

),

spine as (

    {{ integer_series(0, var('max_periods', 2000)) }}

),

anchored as (

    select
        *,
        case plan_interval
            when 'weekly' then 0
            when 'monthly' then 1
            when 'quarterly' then 3
            when 'semiannual' then 6
            when 'yearly' then 12
        end as interval_months,
        -- every segment keeps the boundaries of the original start (its anniversary)
        {{ to_local('original_started_at', 'timezone') }} as started_local,
        {{ to_local('least(coalesce(terminated_at, ' ~ as_of() ~ '), ' ~ as_of() ~ ')', 'timezone') }} as horizon_local
    from subscriptions

),

with_anchor as (

    select
        *,
        {{ period_anchor_local('started_local', 'billing_time', 'plan_interval') }} as anchor_local
    from anchored

),

counted as (

    select
        *,
        case
            when interval_months = 0
                then {{ int_div(days_between('anchor_local', 'horizon_local'), 7) }} + 1
            else {{ int_div('(extract(year from horizon_local) - extract(year from anchor_local)) * 12
                      + extract(month from horizon_local) - extract(month from anchor_local)', 'interval_months') }} + 1
        end as period_count
    from with_anchor

),

bounded as (

    select
        counted.*,
        spine.n as period_index,
        {{ period_boundary_local('anchor_local', 'interval_months', 'spine.n') }} as period_start_local,
        {{ period_boundary_local('anchor_local', 'interval_months', 'spine.n + 1') }} as period_end_local
    from counted
    inner join spine on spine.n <= counted.period_count

),

in_utc as (

    select
        *,
        {{ from_local('period_start_local', 'timezone') }} as period_start_at,
        {{ from_local('period_end_local', 'timezone') }} as period_end_at
    from bounded

),

periods as (

    select
        -- ids
        subscription_id || '/' || cast(period_index as varchar) as period_id,
        subscription_id,
        external_subscription_id,
        external_customer_id,
        plan_code,
        period_index,

        -- subscription
        timezone,
        invoice_grace_period,
        currency,
        is_pay_in_advance,
        is_bill_charges_monthly,
        plan_interval,
        plan_amount_cents,
        started_at,
        terminated_at,
        trial_ends_at,

        -- the period and the part of it the subscription covers
        period_start_at,
        period_end_at,
        case when period_start_at > started_at then period_start_at else started_at end as from_at,
        case when terminated_at < period_end_at then terminated_at else period_end_at end as to_at,
        coalesce(terminated_at < period_end_at, false) as is_terminating_period,
        cast(period_start_local as date) as period_start_date,
        cast({{ add_days('period_end_local', -1) }} as date) as period_end_date,
        {{ days_between('period_start_local', 'period_end_local') }} as full_period_days

    from in_utc
    where period_start_local <= horizon_local
      and period_start_at < coalesce(terminated_at, cast('9999-12-31' as timestamp))
      and period_end_at > started_at

),

final as (

    select
        *,
        cast({{ to_local('from_at', 'timezone') }} as date) as from_date,
        case when is_terminating_period then cast({{ to_local('terminated_at', 'timezone') }} as date)
             else period_end_date end as to_date,
        to_at <= {{ as_of() }} as is_closed,
        -- what the period's invoice may know: events received until it is finalized
        -- (billing moment + grace period); later ones are late and never rewrite it
        case
            when {{ add_days('to_at', 'invoice_grace_period') }} < {{ as_of() }}
                then {{ add_days('to_at', 'invoice_grace_period') }}
            else {{ as_of() }}
        end as knowledge_cutoff_at
    from periods

)

select * from final
