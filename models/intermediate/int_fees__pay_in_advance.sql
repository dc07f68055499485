{#- Fees of pay-in-advance charges (Lago's instant charges): one per event and charge, made when
    the event is received (billed_at = received_at), worth what the event adds to the charge's
    amount in its period: amount(units through the event) - amount(units before it), the events
    taken in order (event time, arrival, transaction id), by the same charge-model macros as the
    period amounts. A count event is worth 1 unit, a sum event its value, a unique count event 1
    when it adds a value not yet present in the period. Per transaction (percentage with a
    minimum or maximum) an event's fee is its own clamped amount; a dynamic event's fee is its
    precise_total_amount_cents. Events adding nothing (0 or less) make no fee. Invoiceable
    charges put each fee on its own invoice; the others produce fees without an invoice.
    Recurring metrics: the units carried in from earlier periods are the base the events add
    to, and are billed in full at the start of each period (on the invoice of that moment), as
    Lago bills recurring in-advance charges on the billing day. A prorated charge's event fee is
    prorated by the days left in the period (from the event's local day to the period's last
    day, both included, / days of the full period; a standard charge's units rounded up at 5
    decimals first). -#}
with

{#- read twice, each time joined to the pay-in-advance charges first: stored as a temporary result,
    every event would be copied (1.25 s at 10M events) when no charge is paid in advance #}
events as {{ not_materialized() }} (

    select * from {{ ref('int_events__subscribed') }}

),

periods as (

    select * from {{ ref('int_billing__period_variants') }}
    where not is_hindsight

),

charges as (

    select * from {{ ref('stg_charges') }}
    where is_current and is_pay_in_advance

),

pricings as (

    select * from {{ ref('int_charges__pricings') }}

),

tiers as (

    select * from {{ ref('int_charges__tiers') }}

),

currencies as (

    select * from {{ ref('currencies') }}

),

presence as (

    select * from {{ ref('int_usage__unique_presence') }}

),

subscriptions as (

    select * from {{ ref('int_subscriptions__lifecycle') }}

),

carried_units as (

    -- recurring metrics: what earlier periods leave in each bucket at the period's start
    select
        periods.period_id,
        events.bucket_id,
        min(events.pricing_id) as pricing_id,
        sum({{ numeric_or_null('events.property_value') }}) as units
    from events
    inner join charges on charges.charge_id = events.charge_id
    inner join periods
        on periods.subscription_id = events.subscription_id
        and events.event_timestamp < periods.from_at
    where events.is_recurring and events.aggregation_type = 'sum_agg'
    group by periods.period_id, events.bucket_id

    union all

    select
        presence.period_id,
        presence.bucket_id,
        min(pricings.pricing_id) as pricing_id,
        {{ to_units('count(*)') }} as units
    from presence
    inner join charges on charges.charge_id = presence.charge_id
    inner join periods on periods.period_id = presence.period_id
    inner join pricings on presence.bucket_id like pricings.pricing_id || '|{' || '%'
    where presence.added_at < periods.from_at
      and (presence.removed_at is null or presence.removed_at >= periods.from_at)
    group by presence.period_id, presence.bucket_id

),

in_period as (

    select
        -- ids
        periods.period_id,
        events.transaction_id,
        events.charge_id,
        events.pricing_id,
        events.bucket_id,
        {{ bucket_grouped_by('events.bucket_id', 'events.pricing_id') }} as grouped_by,
        periods.external_subscription_id,
        periods.external_customer_id,
        charges.metric_code,
        charges.charge_model,
        pricings.filter_values_text,
        pricings.properties,
        charges.is_invoiceable,

        -- values
        case
            when events.aggregation_type = 'count_agg' then {{ to_units(1) }}
            when events.aggregation_type = 'unique_count_agg' then
                case when events.operation_type = 'add'
                          and coalesce(lag(events.operation_type) over (
                                partition by periods.period_id, events.bucket_id, events.property_value
                                order by events.event_timestamp, events.received_at, events.transaction_id
                              ), 'remove') = 'remove'
                     then {{ to_units(1) }} else {{ to_units(0) }} end
            else {{ numeric_or_null('events.property_value') }}
        end as value,
        events.precise_total_amount_cents,
        periods.currency,
        charges.is_prorated,
        -- a prorated charge bills the days left: from the event's local day to the period's last
        {{ days_between('cast(' ~ to_local('events.event_timestamp', 'subscriptions.timezone') ~ ' as date)',
                        'periods.to_date') }} + 1 as days_left,
        periods.full_period_days,

        -- timestamps
        events.event_timestamp,
        events.received_at,
        periods.from_at,
        periods.to_at

    from events
    inner join charges on charges.charge_id = events.charge_id
    inner join pricings on pricings.pricing_id = events.pricing_id
    inner join periods
        on periods.subscription_id = events.subscription_id
        and events.event_timestamp >= periods.from_at
        and events.event_timestamp < periods.to_at
    inner join subscriptions on subscriptions.subscription_id = periods.subscription_id

),

ordered as (

    select
        in_period.*,
        coalesce(carried_units.units, 0) + sum(in_period.value) over (
            partition by in_period.period_id, in_period.bucket_id
            order by in_period.event_timestamp, in_period.received_at, in_period.transaction_id
            rows between unbounded preceding and current row
        ) as units_through,
        cast(row_number() over (
            partition by in_period.period_id, in_period.bucket_id
            order by in_period.event_timestamp, in_period.received_at, in_period.transaction_id
        ) - 1 as integer) as event_index
    from in_period
    left join carried_units
        on carried_units.period_id = in_period.period_id
        and carried_units.bucket_id = in_period.bucket_id
    where in_period.value is not null

),

with_terms as (

    select
        *,
        units_through - value as units_before,
        {{ percentage_terms('properties') }}
    from ordered

),

percentage_marked as (

    select
        *,
        {{ percentage_event_marks('value', 'units_through', 'event_index', 'free_events', 'free_total',
                                  'period_id, bucket_id', 'event_index') }}
    from with_terms

),

percentage_prefixes as (

    -- what the percentage model needs of the events through each one
    select
        *,
        sum(case when is_in_running_total then value else 0 end) over (
            partition by period_id, bucket_id order by event_index
            rows between unbounded preceding and current row
        ) as running_total_through,
        sum(case when is_in_running_total and units_through < free_total then 1 else 0 end) over (
            partition by period_id, bucket_id order by event_index
            rows between unbounded preceding and current row
        ) as events_below_through
    from percentage_marked

),

tiered_differences as (

    select
        ordered.period_id,
        ordered.bucket_id,
        ordered.transaction_id,
        sum({{ graduated_tier_amount('ordered.units_through', 'tiers.from_value', 'tiers.to_value',
                                     'tiers.per_unit_amount', 'tiers.flat_amount') }})
        - sum({{ graduated_tier_amount('ordered.units_through - ordered.value', 'tiers.from_value', 'tiers.to_value',
                                       'tiers.per_unit_amount', 'tiers.flat_amount') }}) as amount
    from ordered
    inner join tiers on tiers.pricing_id = ordered.pricing_id
    where ordered.charge_model in ('graduated', 'graduated_percentage')
    group by ordered.period_id, ordered.bucket_id, ordered.transaction_id

),

priced as (

    select
        event_fees.*,
        currencies.subunit_to_unit,
        case event_fees.charge_model
            when 'standard' then {{ to_exact_amount(standard_amount(
                "case when event_fees.is_prorated and event_fees.value > 0 then "
                ~ div_ceil('event_fees.value * event_fees.days_left', 'event_fees.full_period_days', 5)
                ~ " else event_fees.value end",
                to_money(json_str('event_fees.properties', 'amount')))) }}
            when 'package' then {{ to_exact_amount(
                package_amount('event_fees.units_through', to_money(json_str('event_fees.properties', 'amount')),
                    'cast(' ~ json_str('event_fees.properties', 'package_size') ~ ' as integer)',
                    'cast(coalesce(' ~ json_str('event_fees.properties', 'free_units') ~ ", '0') as integer)")
                ~ ' - ' ~
                package_amount('event_fees.units_before', to_money(json_str('event_fees.properties', 'amount')),
                    'cast(' ~ json_str('event_fees.properties', 'package_size') ~ ' as integer)',
                    'cast(coalesce(' ~ json_str('event_fees.properties', 'free_units') ~ ", '0') as integer)")) }}
            when 'graduated' then {{ to_exact_amount('tiered_differences.amount') }}
            when 'graduated_percentage' then {{ to_exact_amount('tiered_differences.amount') }}
            when 'percentage' then
                case when event_fees.min_amount is not null or event_fees.max_amount is not null
                     then {{ percentage_transaction_amount('event_fees.paying_value', 'event_fees.rate', 'event_fees.fixed_amount',
                                                           'event_fees.min_amount', 'event_fees.max_amount') }}
                     else {{ percentage_amount('event_fees.units_through', 'event_fees.event_index + 1',
                                               'event_fees.running_total_through', 'event_fees.events_below_through',
                                               'event_fees.rate', 'event_fees.fixed_amount', 'event_fees.free_events',
                                               'event_fees.free_total') }}
                          - ({{ percentage_amount('event_fees.units_before', 'event_fees.event_index',
                                'event_fees.running_total_through - case when event_fees.is_in_running_total then event_fees.value else 0 end',
                                'event_fees.events_below_through - case when event_fees.is_in_running_total and event_fees.units_through < event_fees.free_total then 1 else 0 end',
                                'event_fees.rate', 'event_fees.fixed_amount', 'event_fees.free_events', 'event_fees.free_total') }})
                end
        end as amount
    from percentage_prefixes as event_fees
    inner join currencies on currencies.code = event_fees.currency
    left join tiered_differences
        on tiered_differences.period_id = event_fees.period_id
        and tiered_differences.bucket_id = event_fees.bucket_id
        and tiered_differences.transaction_id = event_fees.transaction_id

),

event_fee_rows as (

    select
        -- ids
        period_id,
        transaction_id,
        charge_id,
        bucket_id || '|' || transaction_id as bucket_id,
        external_subscription_id,
        external_customer_id,
        metric_code,
        charge_model,
        filter_values_text,
        grouped_by as grouped_by_text,

        -- usage: the event
        {{ to_units('value') }} as units,
        1 as events_count,

        -- amounts: a prorated charge (but standard, whose units are prorated) bills the days left
        case
            when charge_model = 'dynamic' then {{ to_money('coalesce(precise_total_amount_cents, 0)') }}
            when is_prorated and charge_model <> 'standard' and coalesce(amount, 0) > 0
                then {{ to_money(div_round('amount * subunit_to_unit * days_left', 'full_period_days', 10)) }}
            else {{ to_money('coalesce(amount, 0) * subunit_to_unit') }}
        end as precise_amount_cents,
        currency,
        is_invoiceable,

        -- timestamps
        from_at,
        to_at,
        received_at as billed_at

    from priced

),

carried_tiered_amounts as (

    select
        carried_units.period_id,
        carried_units.bucket_id,
        sum({{ graduated_tier_amount('carried_units.units', 'tiers.from_value', 'tiers.to_value',
                                     'tiers.per_unit_amount', 'tiers.flat_amount') }}) as amount
    from carried_units
    inner join tiers on tiers.pricing_id = carried_units.pricing_id
    group by carried_units.period_id, carried_units.bucket_id

),

period_start_rows as (

    -- recurring units carried in, billed in full at the period's start
    select
        -- ids
        periods.period_id,
        cast(null as varchar) as transaction_id,
        charges.charge_id,
        carried_units.bucket_id || '|period_start' as bucket_id,
        periods.external_subscription_id,
        periods.external_customer_id,
        charges.metric_code,
        charges.charge_model,
        pricings.filter_values_text,
        {{ bucket_grouped_by('carried_units.bucket_id', 'pricings.pricing_id') }} as grouped_by_text,

        -- usage
        {{ to_units('carried_units.units') }} as units,
        0 as events_count,

        -- amounts
        {{ to_money(
            "case charges.charge_model
                when 'standard' then " ~ standard_amount('carried_units.units', to_money(json_str('pricings.properties', 'amount'))) ~ "
                when 'package' then " ~ package_amount('carried_units.units', to_money(json_str('pricings.properties', 'amount')),
                    'cast(' ~ json_str('pricings.properties', 'package_size') ~ ' as integer)',
                    'cast(coalesce(' ~ json_str('pricings.properties', 'free_units') ~ ", '0') as integer)") ~ "
                when 'graduated' then carried_tiered_amounts.amount
                when 'graduated_percentage' then carried_tiered_amounts.amount
                else 0
             end * currencies.subunit_to_unit") }} as precise_amount_cents,
        periods.currency,
        charges.is_invoiceable,

        -- timestamps
        periods.from_at,
        periods.to_at,
        periods.from_at as billed_at

    from carried_units
    inner join periods on periods.period_id = carried_units.period_id
    inner join pricings on pricings.pricing_id = carried_units.pricing_id
    inner join charges on charges.charge_id = pricings.charge_id
    inner join currencies on currencies.code = periods.currency
    left join carried_tiered_amounts
        on carried_tiered_amounts.period_id = carried_units.period_id
        and carried_tiered_amounts.bucket_id = carried_units.bucket_id
    where carried_units.units > 0

),

final as (

    select * from event_fee_rows
    union all
    select * from period_start_rows

)

select * from final
where precise_amount_cents > 0
