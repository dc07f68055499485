-- Every wallet's balance is the sum of its settled transactions (in minus out), to the cent.
with

wallets as (

    select * from {{ ref('fct_wallets') }}

),

transactions as (

    select * from {{ ref('fct_wallet_transactions') }}

),

sums as (

    select
        wallet_id,
        sum(case when transaction_type = 'inbound' and status = 'settled' then amount_cents
                 when transaction_type = 'outbound' then -amount_cents
                 else 0 end) as balance_cents
    from transactions
    group by wallet_id

)

select wallets.wallet_id, wallets.balance_cents, coalesce(sums.balance_cents, 0) as transactions_cents
from wallets
left join sums on sums.wallet_id = wallets.wallet_id
where wallets.balance_cents <> coalesce(sums.balance_cents, 0)
