{#- Credit notes for the unused part of in-advance subscription fees, as Lago creates them when a
    subscription is terminated or upgraded before the end of a period it paid for: the plan's
    daily price (amount / days in the full period) x the days after the termination date to the
    period's end, never more than the fee, rounded to the minor unit. Issued at the termination. -#}
with

fees as (

    select * from {{ ref('int_fees__subscription') }}
    where is_pay_in_advance

),

periods as (

    select * from {{ ref('int_subscriptions__billing_periods') }}
    where is_terminating_period

),

unused as (

    select
        fees.period_id,
        fees.subscription_id,
        fees.external_subscription_id,
        fees.external_customer_id,
        fees.plan_code,
        fees.currency,
        fees.precise_amount_cents as fee_precise_amount_cents,
        periods.plan_amount_cents,
        periods.full_period_days,
        periods.terminated_at,
        -- the termination day itself was used
        {{ days_between('periods.to_date', 'fees.fee_to_date') }} as unused_days
    from fees
    inner join periods on periods.period_id = fees.period_id
    where fees.billed_at <= periods.terminated_at

),

priced as (

    select
        *,
        {{ div_round('plan_amount_cents * unused_days', 'full_period_days', 10) }} as unused_precise_amount_cents
    from unused
    where unused_days > 0

),

final as (

    select
        -- ids
        md5('credit/' || period_id) as credit_note_id,
        period_id,
        subscription_id,
        external_subscription_id,
        external_customer_id,
        plan_code,
        'unused_advance_fee' as reason,

        -- amounts
        currency,
        unused_days,
        cast(round(case when unused_precise_amount_cents < fee_precise_amount_cents
                        then unused_precise_amount_cents else fee_precise_amount_cents end, 0) as bigint)
            as credit_amount_cents,

        -- timestamps
        terminated_at as issued_at

    from priced

)

select * from final
