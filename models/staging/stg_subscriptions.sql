{#- One row per subscription change: creations and plan changes (upsert) and terminations. -#}
with

versions as (

    {{ catalog_versions('subscription') }}

),

renamed as (

    select
        -- ids
        object_key as external_subscription_id,
        {{ json_str('payload', 'subscription.external_customer_id') }} as external_customer_id,
        {{ json_str('payload', 'subscription.plan_code') }} as plan_code,
        {{ json_str('payload', 'subscription.name') }} as subscription_name,

        -- change
        action,
        coalesce({{ json_str('payload', 'subscription.billing_time') }}, 'calendar') as billing_time,
        {{ parse_utc(json_str('payload', 'subscription.subscription_at')) }} as subscription_at,
        {{ parse_utc(json_str('payload', 'subscription.ending_at')) }} as ending_at,

        -- versioning
        seq,
        first_received_at as created_at,
        valid_from,
        valid_to,
        valid_to is null as is_current

    from versions

)

select * from renamed
