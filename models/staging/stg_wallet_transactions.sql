{#- Wallet top-ups and voids (Lago's POST /wallet_transactions body: wallet_id, paid_credits,
    granted_credits, voided_credits), one row per transaction request as first received: a
    request is never changed afterwards. wallet_id is the wallet's key (EXTERNAL_CUSTOMER_ID/CODE),
    or is built from external_customer_id and wallet_code. Credits are floored at 5 decimals,
    as Lago does. -#}
with

versions as (

    {{ catalog_versions('wallet_transaction') }}

),

first_versions as (

    select * from versions
    where valid_from = first_received_at and action = 'upsert'

),

renamed as (

    select
        -- ids
        object_key as request_id,
        coalesce(
            {{ json_str('payload', 'wallet_transaction.wallet_id') }},
            {{ json_str('payload', 'wallet_transaction.external_customer_id') }} || '/'
                || coalesce({{ json_str('payload', 'wallet_transaction.wallet_code') }}, 'default')
        ) as wallet_id,

        -- credits
        {{ floor_credits("cast(" ~ json_str('payload', 'wallet_transaction.paid_credits') ~ " as decimal(38, 10))") }}
            as paid_credits,
        {{ floor_credits("cast(" ~ json_str('payload', 'wallet_transaction.granted_credits') ~ " as decimal(38, 10))") }}
            as granted_credits,
        {{ floor_credits("cast(" ~ json_str('payload', 'wallet_transaction.voided_credits') ~ " as decimal(38, 10))") }}
            as voided_credits,

        -- timestamps
        valid_from as created_at,
        seq

    from first_versions

)

select * from renamed
