{#- Units and events of every charge bucket of the plan in every billing period, rounded as the
    metric says (rounding_function round/ceil/floor at rounding_precision decimals, negative
    precisions rounding to tens, hundreds, ...). Each pricing
    (the charge's default and each filter) without group keys always has a row (0 units when
    nothing was used); grouped pricings have one row per group value seen. -#}
with

periods as (

    select * from {{ ref('int_billing__period_variants') }}

),

charges as (

    select * from {{ ref('stg_charges') }}
    where is_current

),

pricings as (

    select * from {{ ref('int_charges__pricings') }}

),

metered_units as (

    select * from {{ ref('int_usage__metered_units') }}

),

recurring_unique_units as (

    select * from {{ ref('int_usage__recurring_unique_units') }}

),

weighted_sum_units as (

    select * from {{ ref('int_usage__weighted_sum_units') }}

),

prorated_units as (

    select * from {{ ref('int_usage__prorated_units') }}

),

metrics as (

    select * from {{ ref('stg_billable_metrics') }}
    where is_current and not is_deleted

),

events as (

    select * from {{ ref('int_events__subscribed') }}

),

units as (

    select * from metered_units
    union all
    select * from recurring_unique_units
    union all
    select * from weighted_sum_units

),

events_in_period as (

    select
        periods.period_id,
        events.charge_id,
        events.bucket_id,
        min(events.pricing_id) as pricing_id,
        {{ bucket_grouped_by('events.bucket_id', 'min(events.pricing_id)') }} as grouped_by,
        count(*) as events_count,
        sum(events.precise_total_amount_cents) as dynamic_amount_cents
    from events
    inner join periods
        on periods.subscription_id = events.subscription_id
        and events.event_timestamp >= periods.from_at
        and events.event_timestamp < periods.to_at
        and events.received_at <= periods.knowledge_cutoff_at
    group by periods.period_id, events.charge_id, events.bucket_id

),

ungrouped_buckets as (

    select
        periods.period_id,
        charges.charge_id,
        pricings.pricing_id || '|{}' as bucket_id,
        pricings.pricing_id,
        '{}' as grouped_by
    from periods
    inner join charges on charges.plan_code = periods.plan_code
    inner join pricings on pricings.charge_id = charges.charge_id
    where pricings.group_keys is null

),

used_buckets as (

    select period_id, charge_id, bucket_id, pricing_id, grouped_by
    from events_in_period

),

buckets as (

    select * from ungrouped_buckets
    union
    select * from used_buckets

),

final as (

    select
        -- ids
        periods.period_id,
        periods.billing_period_id,
        periods.is_hindsight,
        buckets.charge_id,
        buckets.pricing_id,
        buckets.bucket_id,
        periods.external_subscription_id,
        periods.external_customer_id,
        charges.metric_code,

        -- bucket
        pricings.filter_index,
        pricings.filter_values_text,
        buckets.grouped_by as grouped_by_text,

        -- usage, with the metric's rounding applied to the aggregated units; a prorated sum
        -- counts each value by its days in the period
        {{ to_units(round_units('coalesce(prorated_units.units, units.units, 0)', 'metrics.rounding_function', 'metrics.rounding_precision')) }}
            as units,
        coalesce(events_in_period.events_count, 0) as events_count,
        -- dynamic charges: the prices the events carried (precise_total_amount_cents)
        coalesce(events_in_period.dynamic_amount_cents, 0) as dynamic_amount_cents,

        -- units before proration (they choose a prorated volume charge's tier)
        {{ to_units(round_units('coalesce(prorated_units.full_units, units.units, 0)', 'metrics.rounding_function', 'metrics.rounding_precision')) }}
            as full_units,

        -- pricing
        charges.charge_model,
        pricings.properties,
        charges.is_pay_in_advance,
        charges.is_invoiceable,
        periods.currency,

        -- timestamps
        periods.from_at,
        periods.to_at,
        periods.is_closed

    from buckets
    inner join periods on periods.period_id = buckets.period_id
    inner join charges on charges.charge_id = buckets.charge_id
    inner join pricings on pricings.pricing_id = buckets.pricing_id
    inner join metrics on metrics.metric_code = charges.metric_code
    left join units
        on units.period_id = buckets.period_id
        and units.bucket_id = buckets.bucket_id
    left join prorated_units
        on prorated_units.period_id = buckets.period_id
        and prorated_units.bucket_id = buckets.bucket_id
    left join events_in_period
        on events_in_period.period_id = buckets.period_id
        and events_in_period.bucket_id = buckets.bucket_id

)

select * from final
