{#- The periods usage charges are billed for: the billing periods, except on yearly and
    semiannual plans with bill_charges_monthly, whose charges are billed every month (months of
    the billing period, from its start, in the customer's time zone) while the subscription fee
    keeps the plan's interval. -#}
with

periods as (

    select * from {{ ref('int_subscriptions__billing_periods') }}

),

spine as (

    {{ integer_series(0, 11) }}

),

whole_periods as (

    select
        period_id,
        subscription_id,
        external_subscription_id,
        external_customer_id,
        plan_code,
        currency,
        invoice_grace_period,
        period_start_at,
        period_end_at,
        from_at,
        to_at,
        from_date,
        to_date,
        full_period_days,
        is_closed,
        knowledge_cutoff_at
    from periods
    where not (is_bill_charges_monthly and plan_interval in ('yearly', 'semiannual'))

),

months_local as (

    select
        periods.*,
        spine.n as month_index,
        {{ add_months('cast(periods.period_start_date as timestamp)', 'spine.n') }} as month_start_local,
        {{ add_months('cast(periods.period_start_date as timestamp)', 'spine.n + 1') }} as month_end_local
    from periods
    inner join spine
        on spine.n < case periods.plan_interval when 'yearly' then 12 else 6 end
    where periods.is_bill_charges_monthly and periods.plan_interval in ('yearly', 'semiannual')

),

months as (

    select
        *,
        {{ from_local('month_start_local', 'timezone') }} as month_start_at,
        {{ from_local('month_end_local', 'timezone') }} as month_end_at
    from months_local

),

clipped as (

    select
        *,
        case when month_start_at > from_at then month_start_at else from_at end as month_from_at,
        case when month_end_at < to_at then month_end_at else to_at end as month_to_at
    from months
    where month_end_at > from_at
      and month_start_at < to_at
      and month_start_at <= {{ as_of() }}

),

monthly_periods as (

    select
        period_id || '.' || cast(month_index as varchar) as period_id,
        subscription_id,
        external_subscription_id,
        external_customer_id,
        plan_code,
        currency,
        invoice_grace_period,
        month_start_at as period_start_at,
        month_end_at as period_end_at,
        month_from_at as from_at,
        month_to_at as to_at,
        cast({{ to_local('month_from_at', 'timezone') }} as date) as from_date,
        case when month_to_at < month_end_at then cast({{ to_local('month_to_at', 'timezone') }} as date)
             else cast({{ add_days('month_end_local', -1) }} as date) end as to_date,
        {{ days_between('month_start_local', 'month_end_local') }} as full_period_days,
        month_to_at <= {{ as_of() }} as is_closed,
        case
            when {{ add_days('month_to_at', 'invoice_grace_period') }} < {{ as_of() }}
                then {{ add_days('month_to_at', 'invoice_grace_period') }}
            else {{ as_of() }}
        end as knowledge_cutoff_at
    from clipped

),

final as (

    select * from whole_periods
    union all
    select * from monthly_periods

)

select * from final
