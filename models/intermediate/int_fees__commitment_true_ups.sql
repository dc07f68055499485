{#- Lago's minimum commitment per plan (plan.minimum_commitment.amount_cents): at the end of each
    billing period, when the subscription's fees of that period — its subscription fee (billed in
    advance or in arrears), its charges (each filter and group, in arrears or in advance, with
    their minimum-spend true-ups) — come to less than the commitment, a `commitment` fee makes up
    the difference on the invoice of the period's end. On a partial period (a start inside it, a
    termination) the commitment is prorated: amount x days covered / days of the full period
    (both ends included, in the customer's time zone). Fees count by their rounded amount_cents,
    as Lago sums them; the difference keeps the proration's decimals and is rounded like every
    fee. -#}
with

billing_periods as (

    select * from {{ ref('int_subscriptions__billing_periods') }}
    where is_closed

),

plans as (

    select * from {{ ref('stg_plans') }}
    where is_current and not is_deleted and minimum_commitment_amount_cents > 0

),

subscription_fees as (

    select * from {{ ref('int_fees__subscription') }}

),

charge_amounts as (

    select * from {{ ref('int_charges__amounts') }}
    where is_closed and not is_hindsight and is_invoiceable and not is_pay_in_advance

),

charge_true_ups as (

    select * from {{ ref('int_fees__charge_true_ups') }}

),

pay_in_advance_fees as (

    select * from {{ ref('int_fees__pay_in_advance') }}

),

committed_periods as (

    select
        billing_periods.*,
        plans.minimum_commitment_amount_cents
    from billing_periods
    inner join plans on plans.plan_code = billing_periods.plan_code

),

period_fees as (

    -- every fee of the period, by its billing period (charges billed monthly on a yearly plan
    -- carry their month after the billing period's id: P.0, P.1, ...)
    select period_id as billing_period_id, round(precise_amount_cents, 0) as amount_cents
    from subscription_fees

    union all

    select {{ billing_period_of('period_id') }}, round(precise_amount_cents, 0)
    from charge_amounts

    union all

    select {{ billing_period_of('period_id') }}, round(precise_amount_cents, 0)
    from charge_true_ups

    union all

    select {{ billing_period_of('period_id') }}, round(precise_amount_cents, 0)
    from pay_in_advance_fees

),

period_totals as (

    select billing_period_id, sum(amount_cents) as fees_amount_cents
    from period_fees
    group by billing_period_id

),

commitments as (

    select
        committed_periods.*,
        coalesce(period_totals.fees_amount_cents, 0) as fees_amount_cents,
        {{ prorated_by_days('committed_periods.minimum_commitment_amount_cents',
                            days_between('committed_periods.from_date', 'committed_periods.to_date') ~ ' + 1',
                            'committed_periods.full_period_days') }} as commitment_amount_cents
    from committed_periods
    left join period_totals on period_totals.billing_period_id = committed_periods.period_id

),

final as (

    select
        -- ids
        period_id,
        subscription_id,
        external_subscription_id,
        external_customer_id,
        plan_code,

        -- amounts
        commitment_amount_cents,
        fees_amount_cents,
        {{ to_money('commitment_amount_cents - fees_amount_cents') }} as precise_amount_cents,
        currency,

        -- timestamps: billed with the period's in-arrears fees, at its end
        from_at,
        to_at,
        to_at as billed_at

    from commitments
    where fees_amount_cents < commitment_amount_cents

)

select * from final
