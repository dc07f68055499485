{#- One row per invoice and tax (Lago's invoice applied taxes) for every invoice of fct_invoices:
    the tax base (fees' subtotals after coupons), the precise amount and amount_cents rounded half
    away from zero. -#}
with

invoices as (

    select * from {{ ref('fct_invoices') }}

),

invoice_taxes as (

    select * from {{ ref('int_invoices__taxes') }}

),

final as (

    select
        invoice_taxes.invoice_id,
        invoices.number as invoice_number,
        invoices.status as invoice_status,
        invoice_taxes.external_customer_id,
        invoice_taxes.tax_code,
        invoice_taxes.tax_name,
        invoice_taxes.tax_rate,
        invoice_taxes.fees_count,
        invoice_taxes.taxable_amount_cents,
        invoice_taxes.precise_amount_cents,
        invoice_taxes.amount_cents,
        invoices.currency
    from invoice_taxes
    inner join invoices on invoices.invoice_id = invoice_taxes.invoice_id

)

select * from final
