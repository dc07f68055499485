-- Every recorded finalized invoice still adds up with the fees frozen with it.
with

invoices as (

    select * from {{ ref('fct_finalized_invoices') }}

),

fees as (

    select invoice_id, sum(amount_cents) as fees_amount_cents, count(*) as fees_count
    from {{ ref('fct_finalized_fees') }}
    group by invoice_id

)

select invoices.invoice_id, invoices.fees_amount_cents, fees.fees_amount_cents as frozen_fees_amount_cents
from invoices
left join fees on fees.invoice_id = invoices.invoice_id
where fees.invoice_id is null
   or fees.fees_amount_cents <> invoices.fees_amount_cents
   or fees.fees_count <> invoices.fees_count
