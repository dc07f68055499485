{#- The fees of progressive billing invoices (Lago's invoice_type progressive_billing): at each
    crossing (int_usage_thresholds__crossings) one fee per in-arrears, invoiceable charge bucket
    (charge, filter, group) of the period in progress, worth its usage so far as known at the
    crossing (the snapshot the crossing was found on), as Lago bills the current period's usage
    from its start to the crossing. Each fee also carries what the period's previous progressive
    invoice already billed for the same bucket (previous_amount_cents), which that invoice's
    progressive_billing_credit deducts (int_fees__progressive_credits). -#}
with

crossings as (

    select * from {{ ref('int_usage_thresholds__crossings') }}

),

voids as (

    select * from {{ ref('stg_invoice_voids') }}

),

charge_amounts as (

    select * from {{ ref('int_charges__amounts') }}
    where is_invoiceable and not is_pay_in_advance

),

crossing_fees as (

    select
        crossings.invoice_id,
        crossings.period_id,
        crossings.crossing_index,
        crossings.crossed_at,
        charge_amounts.charge_id,
        charge_amounts.bucket_id as charge_bucket_id,
        charge_amounts.external_subscription_id,
        charge_amounts.external_customer_id,
        charge_amounts.metric_code,
        charge_amounts.charge_model,
        charge_amounts.filter_values_text,
        charge_amounts.grouped_by_text,
        charge_amounts.units,
        charge_amounts.events_count,
        charge_amounts.precise_amount_cents,
        cast(round(charge_amounts.precise_amount_cents, 0) as bigint) as amount_cents,
        charge_amounts.currency,
        charge_amounts.from_at,
        charge_amounts.to_at,
        voids.voided_at
    from crossings
    inner join charge_amounts on charge_amounts.period_id = crossings.snapshot_period_id
    left join voids on voids.invoice_id = crossings.invoice_id

),

previous_fees as (

    -- for each fee, the same bucket on the latest earlier crossing whose invoice was not voided then
    select
        current_fees.invoice_id,
        current_fees.charge_bucket_id,
        earlier_fees.amount_cents,
        row_number() over (
            partition by current_fees.invoice_id, current_fees.charge_bucket_id
            order by earlier_fees.crossing_index desc
        ) as recency
    from crossing_fees as current_fees
    inner join crossing_fees as earlier_fees
        on earlier_fees.period_id = current_fees.period_id
        and earlier_fees.charge_bucket_id = current_fees.charge_bucket_id
        and earlier_fees.crossing_index < current_fees.crossing_index
        and (earlier_fees.voided_at is null or earlier_fees.voided_at > current_fees.crossed_at)

),

final as (

    select
        -- ids
        current_fees.invoice_id,
        current_fees.period_id,
        current_fees.charge_bucket_id || '|progressive_billing|' || cast(current_fees.crossing_index as varchar)
            as bucket_id,
        current_fees.charge_bucket_id,
        current_fees.crossing_index,
        current_fees.charge_id,
        current_fees.external_subscription_id,
        current_fees.external_customer_id,
        current_fees.metric_code,
        current_fees.charge_model,
        current_fees.filter_values_text,
        current_fees.grouped_by_text,

        -- usage
        current_fees.units,
        current_fees.events_count,

        -- amounts
        current_fees.precise_amount_cents,
        current_fees.amount_cents,
        cast(coalesce(previous_fees.amount_cents, 0) as bigint) as previous_amount_cents,
        current_fees.currency,

        -- timestamps
        current_fees.from_at,
        current_fees.to_at,
        current_fees.crossed_at as billed_at,
        current_fees.voided_at

    from crossing_fees as current_fees
    left join previous_fees
        on previous_fees.invoice_id = current_fees.invoice_id
        and previous_fees.charge_bucket_id = current_fees.charge_bucket_id
        and previous_fees.recency = 1

)

select * from final
