{#- Wallet transactions as Lago lists them, as known at as_of: top-ups (purchased, granted),
    voids, what invoices took (invoiced) and what a wallet lost when it ended (voided, source
    expiration or termination). A purchase is `pending` until its credit invoice is paid, then
    `settled`. Movements that moved nothing (an invoice finalized on an empty wallet) are not
    transactions. balance_after_cents is the wallet's balance once the transaction is settled. -#}
with

ledger as (

    select * from {{ ref('int_wallets__ledger') }}

),

final as (

    select
        -- ids
        wallet_transaction_id,
        wallet_id,
        external_customer_id,
        invoice_id,

        -- kind
        transaction_type,
        status,
        transaction_status,
        source,

        -- credits and money
        currency,
        rate_amount,
        credit_amount,
        amount_cents,
        case when status = 'settled' then balance_after_cents end as balance_after_cents,

        -- timestamps
        created_at,
        settled_at

    from ledger
    where amount_cents > 0

)

select * from final
