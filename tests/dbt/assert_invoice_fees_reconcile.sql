-- Every invoice's fees_amount_cents is the sum of its fees, to the cent, and every fee is on an invoice
-- (but those of pay-in-advance charges that are not invoiceable, which are on none).
with

invoices as (

    select * from {{ ref('fct_invoices') }}

),

fees as (

    select * from {{ ref('fct_fees') }}
    where invoice_id is not null or is_invoiceable is distinct from false

),

fee_totals as (

    select invoice_id, sum(amount_cents) as fees_amount_cents, count(*) as fees_count
    from fees
    group by invoice_id

)

select
    coalesce(invoices.invoice_id, fee_totals.invoice_id) as invoice_id,
    invoices.fees_amount_cents as invoice_fees_amount_cents,
    fee_totals.fees_amount_cents as summed_fees_amount_cents
from invoices
full outer join fee_totals on fee_totals.invoice_id = invoices.invoice_id
where invoices.invoice_id is null
   or fee_totals.invoice_id is null
   or invoices.fees_amount_cents <> fee_totals.fees_amount_cents
   or invoices.fees_count <> fee_totals.fees_count
