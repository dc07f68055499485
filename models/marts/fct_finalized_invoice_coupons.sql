{{ config(materialized='incremental', incremental_strategy='append', full_refresh=false, on_schema_change='append_new_columns') }}
{#- What each coupon took off each finalized invoice, frozen with it (append-only, like
    fct_finalized_fees): an invoice's rows are recorded once, by the run that finds them agreeing
    with the frozen invoice (they sum to its coupons_amount_cents, which they do in the run that
    records the invoice). A late fact that would change them is never recorded here. -#}
with

finalized_invoices as (

    select * from {{ ref('fct_finalized_invoices') }}

),

credits as (

    select * from {{ ref('int_coupons__consumption') }}
    where record_type = 'coupon_credit'

),

coupon_totals as (

    select invoice_id, sum(amount_cents) as coupons_amount_cents
    from credits
    group by invoice_id

),

agreeing_invoices as (

    select finalized_invoices.invoice_id
    from finalized_invoices
    inner join coupon_totals on coupon_totals.invoice_id = finalized_invoices.invoice_id
    where coupon_totals.coupons_amount_cents = finalized_invoices.coupons_amount_cents
    {% if is_incremental() %}
      and finalized_invoices.invoice_id not in (select distinct invoice_id from {{ this }})
    {% endif %}

),

final as (

    select credits.*
    from credits
    inner join agreeing_invoices on agreeing_invoices.invoice_id = credits.invoice_id

)

select * from final
