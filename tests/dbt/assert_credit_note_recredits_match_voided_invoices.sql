-- A voided invoice gives back exactly the credit-note credit it took: int_invoices__computed
-- computes the give-backs in a bounded number of passes (var credit_note_recredit_passes), and
-- this is the fixed point it must have reached.
with

invoices as (

    select * from {{ ref('int_invoices__computed') }}

)

select invoice_id, credit_notes_amount_cents, credit_notes_recredited_cents
from invoices
where credit_notes_recredited_cents is not null
  and credit_notes_recredited_cents <> credit_notes_amount_cents
