{#- One row per invoice and tax (Lago's invoice applied taxes) for every invoice of fct_invoices:
    the tax base (fees' subtotals after coupons), the precise amount and amount_cents rounded half
    away from zero; frozen with a finalized invoice (fct_finalized_invoice_taxes), as computed
    now for a draft. -#}
with

invoices as (

    select * from {{ ref('fct_invoices') }}

),

frozen_taxes as (

    select * from {{ ref('fct_finalized_invoice_taxes') }}

),

computed_taxes as (

    select * from {{ ref('int_invoices__taxes') }}

),

invoice_taxes as (

    select frozen_taxes.*
    from frozen_taxes
    inner join invoices on invoices.invoice_id = frozen_taxes.invoice_id
    where invoices.status in ('finalized', 'voided')

    union all

    select computed_taxes.*
    from computed_taxes
    inner join invoices on invoices.invoice_id = computed_taxes.invoice_id
    where invoices.status = 'draft'

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
