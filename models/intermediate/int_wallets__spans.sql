{#- One row per wallet: what it was created with and when it ends, as known at as_of.
    - a wallet starts at its first version (Lago's POST /wallets), with the credits given then;
    - it ends at the first of its expiration_at (as set by the version in force at that moment)
      and its termination (Lago's DELETE /wallets), whichever comes first; end_source says which.
    The ledger, the credit requests and the wallets mart all read the wallet's life from here. -#}
with

wallets as (

    select * from {{ ref('stg_wallets') }}

),

creations as (

    select * from wallets
    where is_creation and action = 'upsert'

),

terminations as (

    select wallet_id, min(valid_from) as terminated_at
    from wallets
    where action <> 'upsert'
    group by wallet_id

),

expirations as (

    select wallet_id, min(expiration_at) as expires_at
    from wallets
    where action = 'upsert'
      and expiration_at is not null
      and valid_from <= expiration_at
      and (valid_to is null or valid_to > expiration_at)
    group by wallet_id

),

spans as (

    select
        creations.*,
        terminations.terminated_at,
        expirations.expires_at is not null
            and (terminations.terminated_at is null or expirations.expires_at < terminations.terminated_at)
            as expires_first,
        expirations.expires_at
    from creations
    left join terminations on terminations.wallet_id = creations.wallet_id
    left join expirations on expirations.wallet_id = creations.wallet_id

),

final as (

    select
        -- ids
        wallet_id,
        external_customer_id,
        wallet_code,
        wallet_name,

        -- credits
        currency,
        rate_amount,
        paid_credits,
        granted_credits,

        -- timestamps
        created_at,
        terminated_at,
        case when expires_first then expires_at else terminated_at end as ended_at,
        case when expires_first then 'expiration' when terminated_at is not null then 'termination' end as end_source

    from spans

)

select * from final
