{{ config(materialized='incremental', incremental_strategy='append', full_refresh=false, on_schema_change='append_new_columns') }}
{#- The applied taxes of finalized invoices, frozen with them (append-only, like
    fct_finalized_fees): an invoice's rows are recorded once, by the run that finds them agreeing
    with the frozen invoice (their precise amounts round to its taxes_amount_cents, which they do
    in the run that records the invoice). A late fact that would change them is never recorded
    here; it shows in fct_invoice_discrepancies. -#}
with

finalized_invoices as (

    select * from {{ ref('fct_finalized_invoices') }}

),

invoice_taxes as (

    select * from {{ ref('int_invoices__taxes') }}

),

tax_totals as (

    select invoice_id, cast(round(sum(precise_amount_cents), 0) as bigint) as taxes_amount_cents
    from invoice_taxes
    group by invoice_id

),

agreeing_invoices as (

    select finalized_invoices.invoice_id
    from finalized_invoices
    inner join tax_totals on tax_totals.invoice_id = finalized_invoices.invoice_id
    where tax_totals.taxes_amount_cents = finalized_invoices.taxes_amount_cents
    {% if is_incremental() %}
      and finalized_invoices.invoice_id not in (select distinct invoice_id from {{ this }})
    {% endif %}

),

final as (

    select invoice_taxes.*
    from invoice_taxes
    inner join agreeing_invoices on agreeing_invoices.invoice_id = invoice_taxes.invoice_id

)

select * from final
