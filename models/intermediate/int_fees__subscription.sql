{#- The plan's own fee for each billing period, as Lago charges it.
    - Prorated by days when the subscription covers only part of the period (a calendar start
      mid-period; in arrears, a termination): amount x covered days / days of the full period.
      An in-advance fee is billed for the rest of the period when it starts; if the subscription
      ends earlier (termination, upgrade) the unused days are credited
      (int_credit_notes__unused_advance_fees), never rebilled.
    - Trial: a period wholly inside the trial has no fee; when the trial ends inside a period the
      fee runs from the trial's end date (that day included) to the period's end, and an
      in-advance fee is invoiced at the moment the trial ends.
    - Billed at the period's start (in advance) or its end (in arrears). -#}
with

periods as (

    select * from {{ ref('int_subscriptions__billing_periods') }}

),

paid_spans as (

    -- what the fee pays for: in advance, the rest of the period as known when it starts
    select
        *,
        case when is_pay_in_advance then period_end_at else to_at end as fee_to_at,
        case when is_pay_in_advance then period_end_date else to_date end as fee_to_date
    from periods

),

trial_aware as (

    select
        *,
        trial_ends_at > from_at and trial_ends_at < fee_to_at as trial_ends_in_period,
        trial_ends_at >= fee_to_at as is_wholly_in_trial
    from paid_spans

),

billed_days as (

    select
        *,
        case when trial_ends_in_period then cast({{ to_local('trial_ends_at', 'timezone') }} as date)
             else from_date end as fee_from_date
    from trial_aware
    where not is_wholly_in_trial

),

priced as (

    select
        *,
        {{ days_between('fee_from_date', 'fee_to_date') }} + 1 as fee_days,
        case
            when is_pay_in_advance and trial_ends_in_period then trial_ends_at
            when is_pay_in_advance then from_at
            else to_at
        end as billed_at
    from billed_days

),

final as (

    select
        -- ids
        period_id,
        subscription_id,
        external_subscription_id,
        external_customer_id,
        plan_code,
        is_pay_in_advance,

        -- amounts
        cast(1 as {{ units_type() }}) as units,
        {{ prorated_by_days('plan_amount_cents', 'fee_days', 'full_period_days') }} as precise_amount_cents,
        fee_days,
        full_period_days,
        currency,

        -- timestamps: the part of the period the fee pays for
        case when trial_ends_in_period then trial_ends_at else from_at end as from_at,
        fee_to_at as to_at,
        fee_from_date,
        fee_to_date,
        billed_at

    from priced

)

select * from final
