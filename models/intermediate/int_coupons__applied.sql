{#- Every coupon applied to a customer, with the terms it was applied with (the applied coupon's
    overrides, else the coupon's version in force when it was applied) and Lago's order of
    application on an invoice: coupons limited to billable metrics first, then those limited to
    plans, then the others, each group in the order they were applied. A coupon past its
    expiration_at cannot be applied any more; one applied before keeps applying. -#}
with

applied_coupons as (

    select * from {{ ref('stg_applied_coupons') }}

),

coupons as (

    select * from {{ ref('stg_coupons') }}

),

plan_targets as (

    select coupons.coupon_code, coupons.valid_from, count(*) as targets
    from coupons
    {{ json_array_elements(json_get('coupons.applies_to', 'plan_codes'), 'target') }}
    group by coupons.coupon_code, coupons.valid_from

),

metric_targets as (

    select coupons.coupon_code, coupons.valid_from, count(*) as targets
    from coupons
    {{ json_array_elements(json_get('coupons.applies_to', 'billable_metric_codes'), 'target') }}
    group by coupons.coupon_code, coupons.valid_from

),

terms as (

    select
        applied_coupons.applied_coupon_id,
        applied_coupons.external_customer_id,
        applied_coupons.coupon_code,
        coupons.coupon_type,
        cast(coalesce(applied_coupons.amount_cents_override, coupons.amount_cents) as decimal(38, 0)) as amount_cents,
        coalesce(applied_coupons.currency_override, coupons.currency) as currency,
        cast(coalesce(applied_coupons.percentage_rate_override, coupons.percentage_rate) as decimal(9, 6))
            as percentage_rate,
        coalesce(applied_coupons.frequency_override, coupons.frequency) as frequency,
        coalesce(applied_coupons.frequency_duration_override, coupons.frequency_duration) as frequency_duration,
        coalesce(metric_targets.targets, 0) > 0 as is_limited_to_billable_metrics,
        coalesce(metric_targets.targets, 0) = 0 and coalesce(plan_targets.targets, 0) > 0 as is_limited_to_plans,
        coupons.applies_to,
        coupons.expiration_at,
        applied_coupons.applied_at,
        applied_coupons.terminated_at,
        applied_coupons.seq
    from applied_coupons
    inner join coupons
        on coupons.coupon_code = applied_coupons.coupon_code
        and coupons.valid_from <= applied_coupons.applied_at
        and (coupons.valid_to is null or coupons.valid_to > applied_coupons.applied_at)
        and not coupons.is_deleted
    left join plan_targets
        on plan_targets.coupon_code = coupons.coupon_code and plan_targets.valid_from = coupons.valid_from
    left join metric_targets
        on metric_targets.coupon_code = coupons.coupon_code and metric_targets.valid_from = coupons.valid_from
    -- an expired coupon can no longer be applied
    where coupons.expiration_at is null or applied_coupons.applied_at <= coupons.expiration_at

),

final as (

    select
        *,
        row_number() over (
            partition by external_customer_id
            order by case when is_limited_to_billable_metrics then 0 when is_limited_to_plans then 1 else 2 end,
                     applied_at, seq
        ) as application_order
    from terms

)

select * from final
