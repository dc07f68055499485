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
        {{ to_money("cast(coalesce(" ~ json_str('properties', 'rate') ~ ", '0') as " ~ money_type() ~ ") * 0.01") }} as rate,
        {{ to_money("coalesce(nullif(" ~ json_str('properties', 'fixed_amount') ~ ", ''), '0')") }} as fixed_amount,
        cast(coalesce(nullif({{ json_str('properties', 'free_units_per_events') }}, ''), '0') as integer) as free_events,
        {{ to_units("coalesce(nullif(" ~ json_str('properties', 'free_units_per_total_aggregation') ~ ", ''), '0')") }} as free_total,
        {{ to_money("nullif(" ~ json_str('properties', 'per_transaction_min_amount') ~ ", '')") }} as min_amount,
        {{ to_money("nullif(" ~ json_str('properties', 'per_transaction_max_amount') ~ ", '')") }} as max_amount
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

percentage_marks as (

    select
        *,
        -- the highest running total before each event (or through it, or through the one before):
        -- free units are used up at the first event whose running total reaches them
        max(total_through - value) over (
            partition by period_id, bucket_id order by event_index
            rows between unbounded preceding and current row
        ) as highest_total_before,
        max(total_through) over (
            partition by period_id, bucket_id order by event_index
            rows between unbounded preceding and current row
        ) as highest_total_through,
        max(total_through) over (
            partition by period_id, bucket_id order by event_index
            rows between unbounded preceding and 1 preceding
        ) as highest_total_through_previous
    from percentage_running

),

percentage_events as (

    select
        *,
        -- the events Lago keeps a running total of: the first N (free_units_per_events), else
        -- those up to the one that passes the free amount (free_units_per_total_aggregation)
        case when free_events > 0 then event_index < free_events
             when free_total > 0 then highest_total_before <= free_total
             else false end as is_in_running_total,
        -- per transaction: the value still to pay after free units (null: a free event)
        case
            when free_total > 0 then
                case when highest_total_through < free_total then null
                     when highest_total_through_previous is null
                          or highest_total_through_previous < free_total then total_through - free_total
                     else value end
            when event_index < free_events then null
            else value
        end as paying_value
    from percentage_marks

),

percentage_transactions as (

    select
        *,
        case when paying_value is null then null
             else {{ to_exact_amount('paying_value * rate') }} + fixed_amount end as transaction_amount
    from percentage_events

),

percentage_event_totals as (

    select
        period_id,
        bucket_id,
        sum(case when is_in_running_total then value else 0 end) as running_total,
        sum(case when is_in_running_total and total_through < free_total then 1 else 0 end) as events_below_free_total,
        sum(case
            when transaction_amount is null then {{ to_exact_amount(0) }}
            when min_amount is not null and transaction_amount < min_amount then {{ to_exact_amount('min_amount') }}
            when max_amount is not null and transaction_amount > max_amount then {{ to_exact_amount('max_amount') }}
            else {{ to_exact_amount('transaction_amount') }}
        end) as per_transaction_amount
    from percentage_transactions
    group by period_id, bucket_id

),

percentage_free as (

    select
        terms.*,
        coalesce(totals.per_transaction_amount, 0) as per_transaction_amount,
        -- units free of the rate: the running total, capped at the free amount
        case when coalesce(totals.running_total, 0) = 0 then 0
             when terms.free_total = 0 or totals.running_total <= terms.free_total then totals.running_total
             else terms.free_total end as free_units,
        -- events free of the fixed amount: the smaller non-zero of N and the events below X
        case when terms.free_events <> 0 and coalesce(totals.events_below_free_total, 0) <> 0
                  then least(terms.free_events, totals.events_below_free_total)
             when terms.free_events <> 0 then terms.free_events
             else coalesce(totals.events_below_free_total, 0) end as free_events_count
    from percentage_terms as terms
    left join percentage_event_totals as totals
        on totals.period_id = terms.period_id
        and totals.bucket_id = terms.bucket_id

),

percentage_amounts as (

    select
        period_id,
        bucket_id,
        case
            -- with a minimum or maximum per transaction, every event is priced on its own
            when min_amount is not null or max_amount is not null then {{ to_exact_amount('per_transaction_amount') }}
            else {{ to_exact_amount(
                "case when free_units > units then 0 else (units - free_units) * rate end") }}
                + {{ to_exact_amount(
                "case when units = 0 or free_events_count >= events_count then 0
                      else (events_count - free_events_count) * fixed_amount end") }}
        end as amount
    from percentage_free

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
            when 'graduated' then {{ to_exact_amount('tiered_amounts.amount') }}
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
