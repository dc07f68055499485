{#- The usage of each subscription's period in progress at as_of, per charge, priced as the
    next invoice will price it, with the taxes Lago's current usage applies to it (charges only;
    no coupon). fct_current_usage_totals sums it per subscription. -#}
with

charge_amounts as (

    select * from {{ ref('int_charges__amounts') }}

),

current_taxes as (

    select * from {{ ref('int_usage__current_taxes') }}

),

fee_taxes as (

    select
        period_id,
        bucket_id,
        {{ to_money('sum(precise_amount_cents)') }} as precise_taxes_amount_cents
    from current_taxes
    group by period_id, bucket_id

),

final as (

    select
        -- ids
        charge_amounts.external_subscription_id,
        charge_amounts.external_customer_id,
        charge_amounts.charge_id,
        charge_amounts.bucket_id,
        charge_amounts.metric_code,
        charge_amounts.charge_model,
        charge_amounts.filter_values_text as charge_filter,
        charge_amounts.grouped_by_text as grouped_by,

        -- usage: a prorated charge shows its full units, proration changing only the amount
        -- (as Lago's current usage)
        charge_amounts.full_units as units,
        charge_amounts.events_count,

        -- amounts
        charge_amounts.precise_amount_cents,
        cast(round(charge_amounts.precise_amount_cents, 0) as bigint) as amount_cents,
        charge_amounts.currency,

        -- timestamps
        charge_amounts.from_at as from_datetime,
        {{ add_seconds('charge_amounts.to_at', -1) }} as to_datetime,

        -- taxes (Lago's fee taxes_amount_cents rounds their precise sum)
        coalesce(fee_taxes.precise_taxes_amount_cents, {{ to_money(0) }}) as precise_taxes_amount_cents,
        cast(round(coalesce(fee_taxes.precise_taxes_amount_cents, 0), 0) as bigint) as taxes_amount_cents,

        -- flags
        charge_amounts.is_pay_in_advance,
        charge_amounts.is_invoiceable,

        -- the charge period in progress (progressive invoices are billed per period)
        charge_amounts.period_id

    from charge_amounts
    left join fee_taxes
        on fee_taxes.period_id = charge_amounts.period_id
        and fee_taxes.bucket_id = charge_amounts.bucket_id
    where {{ current_usage_filter('charge_amounts') }}

)

select * from final
