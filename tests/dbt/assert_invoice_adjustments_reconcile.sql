-- Every invoice's adjustments reconcile to the cent with their parts: coupons_amount_cents is the
-- sum of its coupon credits (fct_invoice_coupons) and of its fees' coupon shares; taxes_amount_cents
-- is the sum of its fees' precise taxes rounded once, and within half a cent per tax of the sum of
-- fct_invoice_taxes; progressive_billing_credit_amount_cents is the sum of its fees'; the total follows Lago's order and is never below zero.
with

invoices as (

    select * from {{ ref('fct_invoices') }}

),

fees as (

    select * from {{ ref('fct_fees') }}
    where invoice_id is not null

),

coupons as (

    select invoice_id, sum(amount_cents) as coupons_amount_cents
    from {{ ref('fct_invoice_coupons') }}
    group by invoice_id

),

taxes as (

    select invoice_id, sum(amount_cents) as taxes_amount_cents, count(*) as taxes_count
    from {{ ref('fct_invoice_taxes') }}
    group by invoice_id

),

fee_totals as (

    select
        invoice_id,
        sum(coalesce(precise_coupons_amount_cents, 0)) as fee_coupons_cents,
        round(sum(coalesce(taxes_precise_amount_cents, 0)), 0) as fee_taxes_cents,
        sum(coalesce(progressive_billing_credit_amount_cents, 0)) as fee_progressive_cents
    from fees
    group by invoice_id

)

select
    invoices.invoice_id,
    invoices.coupons_amount_cents,
    coupons.coupons_amount_cents as credited_cents,
    fee_totals.fee_coupons_cents,
    invoices.taxes_amount_cents,
    fee_totals.fee_taxes_cents,
    taxes.taxes_amount_cents as applied_taxes_cents,
    invoices.total_amount_cents
from invoices
left join coupons on coupons.invoice_id = invoices.invoice_id
left join taxes on taxes.invoice_id = invoices.invoice_id
left join fee_totals on fee_totals.invoice_id = invoices.invoice_id
where invoices.coupons_amount_cents <> coalesce(coupons.coupons_amount_cents, 0)
   or abs(invoices.coupons_amount_cents - coalesce(fee_totals.fee_coupons_cents, 0)) > 0.0001
   or invoices.taxes_amount_cents <> coalesce(fee_totals.fee_taxes_cents, 0)
   or abs(invoices.taxes_amount_cents - coalesce(taxes.taxes_amount_cents, 0)) > 0.5 * coalesce(taxes.taxes_count, 0)
   or invoices.sub_total_excluding_taxes_amount_cents <> invoices.fees_amount_cents
        - invoices.progressive_billing_credit_amount_cents - invoices.coupons_amount_cents
   or invoices.progressive_billing_credit_amount_cents <> coalesce(fee_totals.fee_progressive_cents, 0)
   or invoices.total_amount_cents <> invoices.fees_amount_cents
        - invoices.progressive_billing_credit_amount_cents - invoices.coupons_amount_cents
        + invoices.taxes_amount_cents - invoices.credit_notes_amount_cents - invoices.prepaid_credit_amount_cents
   or invoices.total_amount_cents < 0
