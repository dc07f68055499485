{#- Coupons applied to customers (Lago's POST /applied_coupons body), one row per application.
    The applied coupon may override the coupon's amount, currency, rate and frequency; a
    `delete` of the same customer and coupon terminates it (Lago's DELETE applied coupon), and a
    later upsert applies the coupon again as a new application. -#}
with

versions as (

    {{ catalog_versions('applied_coupon') }}

),

instances as (

    select
        *,
        -- each delete closes one application; the next upsert opens a new one
        sum(case when action = 'delete' then 1 else 0 end) over (
            partition by object_key order by valid_from, seq
            rows between unbounded preceding and 1 preceding
        ) as instance_number
    from versions

),

firsts as (

    select
        *,
        row_number() over (partition by object_key, coalesce(instance_number, 0) order by valid_from, seq)
            as version_number,
        min(case when action = 'delete' then valid_from end) over (
            partition by object_key, coalesce(instance_number, 0)) as terminated_at
    from instances

),

renamed as (

    select
        md5(object_key || '#' || cast(coalesce(instance_number, 0) as varchar)) as applied_coupon_id,
        {{ json_str('payload', 'applied_coupon.external_customer_id') }} as external_customer_id,
        {{ json_str('payload', 'applied_coupon.coupon_code') }} as coupon_code,
        cast({{ json_str('payload', 'applied_coupon.amount_cents') }} as decimal(38, 0)) as amount_cents_override,
        {{ json_str('payload', 'applied_coupon.amount_currency') }} as currency_override,
        cast({{ json_str('payload', 'applied_coupon.percentage_rate') }} as decimal(9, 6)) as percentage_rate_override,
        {{ json_str('payload', 'applied_coupon.frequency') }} as frequency_override,
        cast({{ json_str('payload', 'applied_coupon.frequency_duration') }} as integer) as frequency_duration_override,
        valid_from as applied_at,
        terminated_at,
        seq
    from firsts
    where action = 'upsert' and version_number = 1

)

select * from renamed
