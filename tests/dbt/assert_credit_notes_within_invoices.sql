-- Credit notes never credit more than was invoiced (Lago's credit note validations): per fee,
-- the items' amount_cents add up to at most the fee's amount_cents; per invoice, the credit
-- notes' totals add up to at most the invoice's fees and taxes, their refunds to at most the
-- invoice's total; every credit note's total is its items - coupons adjustment + taxes rounded
-- once, and equals its credit + refund.
with

credit_notes as (

    select * from {{ ref('fct_credit_notes') }}

),

items as (

    select * from {{ ref('fct_credit_note_items') }}

),

invoices as (

    select * from {{ ref('fct_invoices') }}

),

per_fee as (

    select fee_id, min(fee_amount_cents) as fee_amount_cents, sum(amount_cents) as credited_cents
    from items
    group by fee_id

),

per_invoice as (

    select
        invoice_id,
        sum(total_amount_cents) as credited_total_cents,
        sum(refund_amount_cents) as refunded_cents
    from credit_notes
    group by invoice_id

),

per_note as (

    select
        credit_note_id,
        sum(precise_amount_cents) - sum(precise_coupons_adjustment_amount_cents)
            + sum(precise_taxes_amount_cents) as precise_total_cents
    from items
    group by credit_note_id

)

select 'fee' as level, fee_id as id, credited_cents as amount_cents, fee_amount_cents as limit_cents
from per_fee
where credited_cents > fee_amount_cents

union all

select 'invoice total', per_invoice.invoice_id, per_invoice.credited_total_cents,
       invoices.fees_amount_cents + invoices.taxes_amount_cents
from per_invoice
inner join invoices on invoices.invoice_id = per_invoice.invoice_id
where per_invoice.credited_total_cents > invoices.fees_amount_cents + invoices.taxes_amount_cents

union all

select 'invoice refund', per_invoice.invoice_id, per_invoice.refunded_cents, invoices.total_amount_cents
from per_invoice
inner join invoices on invoices.invoice_id = per_invoice.invoice_id
where per_invoice.refunded_cents > invoices.total_amount_cents

union all

select 'credit note', credit_notes.credit_note_id, credit_notes.total_amount_cents,
       credit_notes.credit_amount_cents + credit_notes.refund_amount_cents
from credit_notes
inner join per_note on per_note.credit_note_id = credit_notes.credit_note_id
where credit_notes.total_amount_cents <> credit_notes.credit_amount_cents + credit_notes.refund_amount_cents
   or abs(credit_notes.total_amount_cents - per_note.precise_total_cents) > 0.5
