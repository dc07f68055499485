-- Every invoice's applied taxes and coupons agree with it, to the cent, also after late facts:
-- its taxes' precise amounts round to taxes_amount_cents, its coupon credits sum to
-- coupons_amount_cents (both frozen with a finalized invoice).
with

invoices as (

    select * from {{ ref('fct_invoices') }}

),

taxes as (

    select invoice_id, cast(round(sum(precise_amount_cents), 0) as bigint) as taxes_amount_cents
    from {{ ref('fct_invoice_taxes') }}
    group by invoice_id

),

coupons as (

    select invoice_id, sum(amount_cents) as coupons_amount_cents
    from {{ ref('fct_invoice_coupons') }}
    group by invoice_id

)

select
    invoices.invoice_id,
    invoices.taxes_amount_cents,
    taxes.taxes_amount_cents as applied_taxes_cents,
    invoices.coupons_amount_cents,
    coupons.coupons_amount_cents as applied_coupons_cents
from invoices
left join taxes on taxes.invoice_id = invoices.invoice_id
left join coupons on coupons.invoice_id = invoices.invoice_id
where invoices.taxes_amount_cents <> coalesce(taxes.taxes_amount_cents, 0)
   or invoices.coupons_amount_cents <> coalesce(coupons.coupons_amount_cents, 0)
