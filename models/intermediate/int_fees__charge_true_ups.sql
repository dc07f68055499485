{#- Lago's minimum spend per charge (min_amount_cents): when a charge's fees of a closed period
    (every filter and group together, each rounded to the cent as its fee is) come to less than
    the minimum, a true-up fee makes up the difference. The minimum is prorated on a partial
    period: min_amount_cents / days of the full period x days billed (from the period's first to
    its last day, both included, in the customer's time zone). The true-up is 1 unit, 0 events,
    and points at the charge's first fee of the period (its parent, as Lago's true_up_parent_fee). -#}
with

charge_amounts as (

    select * from {{ ref('int_charges__amounts') }}
    where is_closed and is_invoiceable and not is_hindsight

),

periods as (

    select * from {{ ref('int_billing__period_variants') }}

),

charges as (

    select * from {{ ref('stg_charges') }}
    where is_current and min_amount_cents is not null and min_amount_cents > 0

),

charge_totals as (

    select
        charge_amounts.period_id,
        charge_amounts.charge_id,
        min(charge_amounts.bucket_id) as parent_bucket_id,
        min(charge_amounts.external_subscription_id) as external_subscription_id,
        min(charge_amounts.external_customer_id) as external_customer_id,
        min(charge_amounts.metric_code) as metric_code,
        min(charge_amounts.charge_model) as charge_model,
        min(charge_amounts.currency) as currency,
        min(charge_amounts.from_at) as from_at,
        min(charge_amounts.to_at) as to_at,
        sum(round(charge_amounts.precise_amount_cents, 0)) as amount_cents
    from charge_amounts
    inner join charges on charges.charge_id = charge_amounts.charge_id
    group by charge_amounts.period_id, charge_amounts.charge_id

),

minimums as (

    select
        charge_totals.*,
        {{ prorated_by_days('charges.min_amount_cents',
                            days_between('periods.from_date', 'periods.to_date') ~ ' + 1',
                            'periods.full_period_days') }} as prorated_min_amount_cents
    from charge_totals
    inner join charges on charges.charge_id = charge_totals.charge_id
    inner join periods on periods.period_id = charge_totals.period_id

),

final as (

    select
        -- ids
        period_id,
        charge_id,
        charge_id || '|true_up' as bucket_id,
        parent_bucket_id,
        external_subscription_id,
        external_customer_id,
        metric_code,
        charge_model,

        -- usage: a true-up is one unit of nothing
        {{ to_units(1) }} as units,
        0 as events_count,

        -- amounts
        prorated_min_amount_cents,
        {{ to_money('prorated_min_amount_cents - amount_cents') }} as precise_amount_cents,
        currency,

        -- timestamps
        from_at,
        to_at

    from minimums
    where amount_cents < prorated_min_amount_cents

)

select * from final
