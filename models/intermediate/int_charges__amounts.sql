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

tiered_amounts as (

    select
        period_units.period_id,
        period_units.bucket_id,
        sum(case
            when tiers.charge_model in ('graduated', 'graduated_percentage') then {{ graduated_tier_amount(
                'period_units.units', 'tiers.from_value', 'tiers.to_value', 'tiers.per_unit_amount', 'tiers.flat_amount') }}
            else {{ volume_tier_amount(
                'period_units.units', 'tiers.from_value', 'tiers.to_value', 'tiers.per_unit_amount', 'tiers.flat_amount') }}
        end) as amount
    from period_units
    inner join tiers on tiers.pricing_id = period_units.pricing_id
    group by period_units.period_id, period_units.bucket_id

),

priced as (

    select
        period_units.*,
        case period_units.charge_model
            when 'standard' then {{ standard_amount(
                'period_units.units', to_money(json_str('period_units.properties', 'amount'))) }}
            when 'package' then {{ package_amount(
                'period_units.units',
                to_money(json_str('period_units.properties', 'amount')),
                'cast(' ~ json_str('period_units.properties', 'package_size') ~ ' as integer)',
                'cast(coalesce(' ~ json_str('period_units.properties', 'free_units') ~ ", '0') as integer)") }}
            when 'graduated' then tiered_amounts.amount
            when 'graduated_percentage' then tiered_amounts.amount
            when 'volume' then tiered_amounts.amount
        end as amount,
        currencies.subunit_to_unit
    from period_units
    inner join currencies on currencies.code = period_units.currency
    left join tiered_amounts
        on tiered_amounts.period_id = period_units.period_id
        and tiered_amounts.bucket_id = period_units.bucket_id

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

        -- usage
        units,
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
