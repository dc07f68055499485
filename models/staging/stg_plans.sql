with

versions as (

    {{ catalog_versions('plan') }}

),

renamed as (

    select
        -- ids
        object_key as plan_code,
        {{ json_str('payload', 'plan.name') }} as plan_name,

        -- pricing
        {{ json_str('payload', 'plan.interval') }} as plan_interval,
        cast({{ json_str('payload', 'plan.amount_cents') }} as decimal(38, 0)) as amount_cents,
        {{ json_str('payload', 'plan.amount_currency') }} as currency,
        {{ json_bool('payload', 'plan.pay_in_advance') }} as is_pay_in_advance,
        {{ json_bool('payload', 'plan.bill_charges_monthly') }} as is_bill_charges_monthly,
        cast(coalesce({{ json_str('payload', 'plan.trial_period') }}, '0') as decimal(18, 6)) as trial_period_days,
        cast({{ json_str('payload', 'plan.minimum_commitment.amount_cents') }} as decimal(38, 0))
            as minimum_commitment_amount_cents,
        {{ json_get('payload', 'plan.charges') }} as charges,
        {{ json_get('payload', 'plan.tax_codes') }} as tax_codes,
        {{ json_get('payload', 'plan.usage_thresholds') }} as usage_thresholds,

        -- versioning
        action = 'delete' as is_deleted,
        valid_from,
        valid_to,
        valid_to is null as is_current

    from versions

)

select * from renamed
