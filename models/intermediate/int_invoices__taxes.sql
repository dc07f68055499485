{#- One row per invoice and tax (Lago's invoice applied taxes): the tax base is the sum of the
    subtotals (amount_cents - coupon share) of the invoice's fees carrying the tax; the precise
    amount is the sum of their precise tax amounts and amount_cents rounds it half away from zero.
    The invoice's taxes_amount_cents rounds the sum of every tax's precise amount once, so it can
    differ by a cent from the sum of these rounded amounts, as in Lago. -#}
with

fee_taxes as (

    select * from {{ ref('int_fees__taxes') }}

),

final as (

    select
        invoice_id,
        external_customer_id,
        tax_code,
        min(tax_name) as tax_name,
        min(tax_rate) as tax_rate,
        count(*) as fees_count,
        {{ to_money('sum(taxable_amount_cents)') }} as taxable_amount_cents,
        {{ to_money('sum(precise_amount_cents)') }} as precise_amount_cents,
        cast(round({{ to_money('sum(precise_amount_cents)') }}, 0) as bigint) as amount_cents
    from fee_taxes
    group by invoice_id, external_customer_id, tax_code

)

select * from final
