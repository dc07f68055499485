with

versions as (

    {{ catalog_versions('coupon') }}

),

renamed as (

    select
        object_key as coupon_code,
        {{ json_str('payload', 'coupon.name') }} as coupon_name,
        {{ json_str('payload', 'coupon.coupon_type') }} as coupon_type,
        cast({{ json_str('payload', 'coupon.amount_cents') }} as decimal(38, 0)) as amount_cents,
        {{ json_str('payload', 'coupon.amount_currency') }} as currency,
        cast({{ json_str('payload', 'coupon.percentage_rate') }} as decimal(9, 6)) as percentage_rate,
        coalesce({{ json_str('payload', 'coupon.frequency') }}, 'once') as frequency,
        cast({{ json_str('payload', 'coupon.frequency_duration') }} as integer) as frequency_duration,
        {{ parse_utc(json_str('payload', 'coupon.expiration_at')) }} as expiration_at,
        {{ json_get('payload', 'coupon.applies_to') }} as applies_to,
        action = 'delete' as is_deleted,
        valid_from,
        valid_to,
        valid_to is null as is_current

    from versions

)

select * from renamed
