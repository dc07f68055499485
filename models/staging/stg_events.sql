with

source as (

    select * from {{ source('raw', 'events') }}

),

renamed as (

    select
        -- ids
        transaction_id,
        external_subscription_id,
        code as metric_code,

        -- properties
        properties,
        precise_total_amount_cents,

        -- timestamps: an event sent without a timestamp happened when it was received
        coalesce("timestamp", received_at) as event_timestamp,
        "timestamp" is null as is_timestamp_defaulted,
        received_at,
        batch_id

    from source
    where received_at <= {{ as_of() }}

)

select * from renamed
