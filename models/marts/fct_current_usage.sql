{#- The usage of each subscription's period in progress at as_of, per charge, priced as the
    next invoice will price it (Lago's current usage: charges only, before taxes). -#}
with

charge_amounts as (

    select * from {{ ref('int_charges__amounts') }}

),

final as (

    select
        -- ids
        external_subscription_id,
        external_customer_id,
        charge_id,
        bucket_id,
        metric_code,
        charge_model,
        filter_values_text as charge_filter,
        grouped_by_text as grouped_by,

        -- usage: a prorated charge shows its full units, proration changing only the amount
        -- (as Lago's current usage)
        full_units as units,
        events_count,

        -- amounts
        precise_amount_cents,
        cast(round(precise_amount_cents, 0) as bigint) as amount_cents,
        currency,

        -- timestamps
        from_at as from_datetime,
        {{ add_seconds('to_at', -1) }} as to_datetime

    from charge_amounts
    where not is_closed
      and not is_hindsight
      and from_at <= {{ as_of() }}

)

select * from final
