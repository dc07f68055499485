{#- Prorated graduated charges (prorated: true on a recurring sum or unique count), as Lago's
    prorated graduated model prices them: the full units place each event in the tiers, its
    prorated share prices it. Events are taken in order, each moving the running total of full
    units from S_before to S_after; the full units it covers in a tier, times its proration
    (days billed / days of the full period), are billed at that tier's per-unit amount — so a
    seat added late in the month pays the next tier's price for the days it was there. A removal
    (full -1, nothing billed) frees room in the lower tiers for later additions. Values carried in
    from earlier periods come first, prorated by the period's days. Each tier reached by the
    highest running total adds its flat amount; no usage costs nothing; a total below zero is 0.
    Amounts in major units, exact: the per-day sums are divided by the period's days once. -#}
with

events as (

    select * from {{ ref('int_events__subscribed') }}
    where is_recurring and aggregation_type = 'sum_agg'

),

presence as (

    select * from {{ ref('int_usage__unique_presence') }}

),

periods as (

    select * from {{ ref('int_billing__period_variants') }}

),

charges as (

    select * from {{ ref('stg_charges') }}
    where is_current and is_prorated and charge_model = 'graduated'

),

subscriptions as (

    select * from {{ ref('int_subscriptions__lifecycle') }}

),

tiers as (

    select * from {{ ref('int_charges__tiers') }}

),

sum_movements as (

    -- a sum: the values carried in (one movement, the period's days), then each event's value
    -- from its local day to the period's last day
    select
        periods.period_id,
        events.bucket_id,
        min(events.pricing_id) as pricing_id,
        periods.from_at as moved_at,
        '' as tie_breaker,
        sum({{ numeric_or_null('events.property_value') }}) as full_units,
        {{ days_between('min(periods.from_date)', 'min(periods.to_date)') }} + 1 as days_billed,
        min(periods.full_period_days) as full_period_days
    from events
    inner join charges on charges.charge_id = events.charge_id
    inner join periods
        on periods.subscription_id = events.subscription_id
        and events.event_timestamp < periods.from_at
        and events.received_at <= periods.knowledge_cutoff_at
    group by periods.period_id, events.bucket_id, periods.from_at

    union all

    select
        periods.period_id,
        events.bucket_id,
        events.pricing_id,
        events.event_timestamp as moved_at,
        events.transaction_id as tie_breaker,
        {{ numeric_or_null('events.property_value') }} as full_units,
        {{ days_between('cast(' ~ to_local('events.event_timestamp', 'subscriptions.timezone') ~ ' as date)',
                        'periods.to_date') }} + 1 as days_billed,
        periods.full_period_days
    from events
    inner join charges on charges.charge_id = events.charge_id
    inner join periods
        on periods.subscription_id = events.subscription_id
        and events.event_timestamp >= periods.from_at
        and events.event_timestamp < periods.to_at
        and events.received_at <= periods.knowledge_cutoff_at
    inner join subscriptions on subscriptions.subscription_id = periods.subscription_id

),

bucket_pricings as (

    -- the pricing (and so the tiers) of each bucket of a prorated graduated charge
    select distinct all_events.bucket_id, all_events.pricing_id
    from {{ ref('int_events__subscribed') }} as all_events
    inner join charges on charges.charge_id = all_events.charge_id

),

unique_movements as (

    -- a unique count: each value's arrival (+1, billed for its days present), and its removal
    -- in the period (-1, nothing billed)
    select
        presence.period_id,
        presence.bucket_id,
        bucket_pricings.pricing_id,
        case when presence.added_at > periods.from_at then presence.added_at else periods.from_at end as moved_at,
        presence.property_value as tie_breaker,
        {{ to_units(1) }} as full_units,
        {{ days_between(
            'case when presence.added_date > periods.from_date then presence.added_date else periods.from_date end',
            'case when presence.removed_date < periods.to_date then presence.removed_date else periods.to_date end'
        ) }} + 1 as days_billed,
        periods.full_period_days
    from presence
    inner join charges on charges.charge_id = presence.charge_id
    inner join periods on periods.period_id = presence.period_id
    inner join bucket_pricings on bucket_pricings.bucket_id = presence.bucket_id
    where presence.removed_date is null or presence.removed_date >= periods.from_date

    union all

    select
        presence.period_id,
        presence.bucket_id,
        bucket_pricings.pricing_id,
        presence.removed_at as moved_at,
        presence.property_value as tie_breaker,
        {{ to_units(-1) }} as full_units,
        0 as days_billed,
        periods.full_period_days
    from presence
    inner join charges on charges.charge_id = presence.charge_id
    inner join periods on periods.period_id = presence.period_id
    inner join bucket_pricings on bucket_pricings.bucket_id = presence.bucket_id
    where presence.removed_at >= periods.from_at and presence.removed_at < periods.to_at

),

movements as (

    select * from sum_movements where full_units is not null
    union all
    select * from unique_movements

),

running as (

    select
        *,
        sum(full_units) over (
            partition by period_id, bucket_id order by moved_at, full_units desc, tie_breaker
            rows between unbounded preceding and current row
        ) as total_after
    from movements

),

spans as (

    -- the full units each movement covers, as an interval (low, high] of the running total
    select
        *,
        case when full_units >= 0 then total_after - full_units else total_after end as span_low,
        case when full_units >= 0 then total_after else total_after - full_units end as span_high,
        case when full_units >= 0 then 1 else -1 end as direction
    from running

),

tier_bounds as (

    select
        tiers.*,
        -- a tier covers the running totals (previous tier's to_value, its to_value]
        coalesce(lag(tiers.to_value) over (partition by tiers.pricing_id order by tiers.tier_index), 0) as tier_low
    from tiers

),

priced_days as (

    select
        spans.period_id,
        spans.bucket_id,
        spans.pricing_id,
        min(spans.full_period_days) as full_period_days,
        sum(spans.direction * spans.days_billed * tier_bounds.per_unit_amount * greatest(0,
            case when tier_bounds.to_value is null or tier_bounds.to_value > spans.span_high
                 then spans.span_high else tier_bounds.to_value end
            - case when tier_bounds.tier_low > spans.span_low then tier_bounds.tier_low else spans.span_low end
        )) as amount_days
    from spans
    inner join tier_bounds on tier_bounds.pricing_id = spans.pricing_id
    group by spans.period_id, spans.bucket_id, spans.pricing_id

),

highest as (

    select
        period_id,
        bucket_id,
        max(case when total_after > 0 then total_after else 0 end) as highest_total,
        sum(full_units) as final_total
    from running
    group by period_id, bucket_id

),

flat_amounts as (

    select
        highest.period_id,
        highest.bucket_id,
        sum(case when highest.highest_total > tier_bounds.tier_low or tier_bounds.tier_index = 0
                 then tier_bounds.flat_amount else 0 end) as flat_amount
    from highest
    inner join priced_days
        on priced_days.period_id = highest.period_id
        and priced_days.bucket_id = highest.bucket_id
    inner join tier_bounds on tier_bounds.pricing_id = priced_days.pricing_id
    where highest.highest_total > 0
    group by highest.period_id, highest.bucket_id

),

final as (

    select
        priced_days.period_id,
        priced_days.bucket_id,
        {{ to_exact_amount(
            "case
                when highest.final_total < 0 or highest.highest_total = 0 then 0
                else " ~ to_exact_amount(
                    'case when priced_days.amount_days > 0 then '
                    ~ div_round('priced_days.amount_days', 'priced_days.full_period_days', 10) ~ ' else 0 end')
                ~ " + " ~ to_exact_amount('coalesce(flat_amounts.flat_amount, 0)') ~ "
            end") }} as amount
    from priced_days
    inner join highest
        on highest.period_id = priced_days.period_id
        and highest.bucket_id = priced_days.bucket_id
    left join flat_amounts
        on flat_amounts.period_id = priced_days.period_id
        and flat_amounts.bucket_id = priced_days.bucket_id

)

select * from final
