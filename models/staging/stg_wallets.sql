{#- Versions of customers' wallets (Lago's POST/PUT /wallets bodies), keyed
    EXTERNAL_CUSTOMER_ID/CODE. The credits a wallet is created with (paid_credits,
    granted_credits) belong to its first version only: a later upsert updates its settings, as
    Lago's PUT does, and adds no credits. A terminate (Lago's DELETE) ends the wallet. -#}
with

versions as (

    {{ catalog_versions('wallet') }}

),

renamed as (

    select
        -- ids
        object_key as wallet_id,
        {{ json_str('payload', 'wallet.external_customer_id') }} as external_customer_id,
        coalesce({{ json_str('payload', 'wallet.code') }}, 'default') as wallet_code,
        {{ json_str('payload', 'wallet.name') }} as wallet_name,

        -- credits
        cast({{ json_str('payload', 'wallet.rate_amount') }} as decimal(38, 10)) as rate_amount,
        {{ json_str('payload', 'wallet.currency') }} as currency,
        cast({{ json_str('payload', 'wallet.paid_credits') }} as decimal(38, 10)) as paid_credits,
        cast({{ json_str('payload', 'wallet.granted_credits') }} as decimal(38, 10)) as granted_credits,
        cast(coalesce({{ json_str('payload', 'wallet.priority') }}, '50') as integer) as priority,
        {{ json_get('payload', 'wallet.recurring_transaction_rules') }} as recurring_transaction_rules,

        -- timestamps
        {{ parse_utc(json_str('payload', 'wallet.expiration_at')) }} as expiration_at,
        action,
        seq,
        valid_from,
        valid_to,
        first_received_at as created_at,
        valid_from = first_received_at as is_creation

    from versions

)

select * from renamed
