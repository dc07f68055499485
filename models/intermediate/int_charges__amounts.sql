{#- The amount of every charge bucket (charge, filter, group) in every billing period, by charge model, in cents of the plan's
    currency. The precise amount is kept; amount_cents rounds it half away from zero to the
    currency's minor unit, once, here (Lago rounds at the fee). -#}
with

period_units as (

    select * from {{ ref('int_charges__period_units') }}

),

tiers as (

    select * from {{ ref('int_charges__tiers') }}

),

currencies as (

    select * from {{ ref('currencies') }}

),

event_values as (

    select * from {{ ref('int_charges__event_values') }}

),

prorated_graduated_amounts as (

    select * from {{ ref('int_charges__prorated_graduated_amounts') }}

),

tiered_amounts as (

    select
        period_units.period_id,
        period_units.bucket_id,
        sum(case
            when tiers.charge_model in ('graduated', 'graduated_percentage') then {{ graduated_tier_amount(
                'period_units.units', 'tiers.from_value', 'tiers.to_value', 'tiers.per_unit_amount', 'tiers.flat_amount') }}
            else {{ volume_tier_amount(
                'period_units.units', 'tiers.from_value', 'tiers.to_value', 'tiers.per_unit_amount', 'tiers.flat_amount',
                'coalesce(period_units.full_units, period_units.units)') }}
        end) as amount
    from period_units
    inner join tiers on tiers.pricing_id = period_units.pricing_id
    group by period_units.period_id, period_units.bucket_id

),

percentage_terms as (

    -- rate in percent becomes a fraction; amounts are in major units
    select
        period_id,
        bucket_id,
        units,
        events_count,
        {{ percentage_terms('properties') }}
    from period_units
    where charge_model = 'percentage'

),

percentage_running as (

    select
        terms.*,
        event_values.event_index,
        event_values.value,
        sum(event_values.value) over (
            partition by event_values.period_id, event_values.bucket_id order by event_values.event_index
            rows between unbounded preceding and current row
        ) as total_through
    from event_values
    inner join percentage_terms as terms
        on terms.period_id = event_values.period_id
        and terms.bucket_id = event_values.bucket_id

),

percentage_events as (

    select
        *,
        {{ percentage_event_marks('value', 'total_through', 'event_index', 'free_events', 'free_total',
                                  'period_id, bucket_id', 'event_index') }}
    from percentage_running

),

percentage_event_totals as (

    select
        period_id,
        bucket_id,
        sum(case when is_in_running_total then value else 0 end) as running_total,
        sum(case when is_in_running_total and total_through < free_total then 1 else 0 end) as events_below_free_total,
        sum({{ percentage_transaction_amount('paying_value', 'rate', 'fixed_amount', 'min_amount', 'max_amount') }})
            as per_transaction_amount
    from percentage_events
    group by period_id, bucket_id

),

percentage_amounts as (

    select
        terms.period_id,
        terms.bucket_id,
        case
            -- with a minimum or maximum per transaction, every event is priced on its own
            when terms.min_amount is not null or terms.max_amount is not null
                then {{ to_exact_amount('coalesce(totals.per_transaction_amount, 0)') }}
            else {{ percentage_amount('terms.units', 'terms.events_count', 'totals.running_total',
                                      'totals.events_below_free_total', 'terms.rate', 'terms.fixed_amount',
                                      'terms.free_events', 'terms.free_total') }}
        end as amount
    from percentage_terms as terms
    left join percentage_event_totals as totals
        on totals.period_id = terms.period_id
        and totals.bucket_id = terms.bucket_id

),

priced as (

    select
        period_units.*,
        case period_units.charge_model
            -- every branch in one exact type: a CASE would otherwise unify them to the
            -- smallest common DECIMAL scale and drop digits
            when 'standard' then {{ to_exact_amount(standard_amount(
                'period_units.units', to_money(json_str('period_units.properties', 'amount')))) }}
            when 'package' then {{ to_exact_amount(package_amount(
                'period_units.units',
                to_money(json_str('period_units.properties', 'amount')),
                'cast(' ~ json_str('period_units.properties', 'package_size') ~ ' as integer)',
                'cast(coalesce(' ~ json_str('period_units.properties', 'free_units') ~ ", '0') as integer)")) }}
            -- a prorated graduated charge prices each event's prorated units in its tier
            when 'graduated' then {{ to_exact_amount('coalesce(prorated_graduated_amounts.amount, tiered_amounts.amount)') }}
            when 'graduated_percentage' then {{ to_exact_amount('tiered_amounts.amount') }}
            when 'volume' then {{ to_exact_amount('tiered_amounts.amount') }}
            when 'percentage' then {{ to_exact_amount('percentage_amounts.amount') }}
        end as amount,
        currencies.subunit_to_unit
    from period_units
    inner join currencies on currencies.code = period_units.currency
    left join tiered_amounts
        on tiered_amounts.period_id = period_units.period_id
        and tiered_amounts.bucket_id = period_units.bucket_id
    left join percentage_amounts
        on percentage_amounts.period_id = period_units.period_id
        and percentage_amounts.bucket_id = period_units.bucket_id
    left join prorated_graduated_amounts
        on prorated_graduated_amounts.period_id = period_units.period_id
        and prorated_graduated_amounts.bucket_id = period_units.bucket_id

),

final as (

    select
        -- ids
        period_id,
        billing_period_id,
        is_hindsight,
        charge_id,
        pricing_id,
        bucket_id,
        external_subscription_id,
        external_customer_id,
        metric_code,
        charge_model,
        filter_values_text,
        grouped_by_text,

        -- usage (full_units: before proration)
        units,
        coalesce(full_units, units) as full_units,
        events_count,

        -- amounts
        -- dynamic: the events carry their price, already in the minor unit
        case when charge_model = 'dynamic' and units = 0 then {{ to_money(0) }}
             when charge_model = 'dynamic' then {{ to_money('coalesce(dynamic_amount_cents, 0)') }}
             else {{ to_money('coalesce(amount, 0) * subunit_to_unit') }} end as precise_amount_cents,
        currency,

        -- flags
        is_pay_in_advance,
        is_invoiceable,
        is_closed,

        -- timestamps
        from_at,
        to_at

    from priced

)

select * from final
