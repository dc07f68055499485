{#- Payment status changes as received (provider webhooks and polling), known at as_of, one
    row per provider event: a provider delivering the same event twice counts once, first
    received wins. -#}
with

source as (

    select * from {{ source('raw', 'payment_events') }}
    where received_at <= {{ as_of() }}

),

deduplicated as (

    select
        *,
        row_number() over (
            partition by provider, event_id order by received_at, occurred_at
        ) as delivery_number
    from source

),

renamed as (

    select
        -- ids
        provider,
        event_id,
        invoice_id,
        provider_payment_id,

        -- status
        event_type,
        payment_status,
        payload,

        -- times
        coalesce(occurred_at, received_at) as occurred_at,
        received_at

    from deduplicated
    where delivery_number = 1

)

select * from renamed
