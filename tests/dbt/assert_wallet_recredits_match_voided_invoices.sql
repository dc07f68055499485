-- A voided invoice gives back exactly what it took from the wallet: int_wallets__ledger
-- computes recredits in a bounded number of passes (var wallet_recredit_passes), and this is the
-- fixed point it must have reached.
with

ledger as (

    select * from {{ ref('int_wallets__ledger') }}

),

taken as (

    select invoice_id, wallet_id, amount_cents
    from ledger
    where transaction_status = 'invoiced'

),

recredited as (

    select invoice_id, wallet_id, amount_cents
    from ledger
    where source = 'voided_invoice'

)

select recredited.invoice_id, recredited.amount_cents as recredited_cents, taken.amount_cents as taken_cents
from recredited
left join taken on taken.invoice_id = recredited.invoice_id and taken.wallet_id = recredited.wallet_id
where taken.amount_cents is null or taken.amount_cents <> recredited.amount_cents
