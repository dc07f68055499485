{#- The amount each applied coupon took off each invoice (Lago's credits of coupon kind), with
    what remained of the coupon after it: the remaining amount of a fixed once coupon, the
    remaining periods of a recurring one, and whether it ended there. Frozen with a finalized
    invoice (fct_finalized_invoice_coupons), as computed now for a draft. -#}
with

invoices as (

    select * from {{ ref('fct_invoices') }}

),

frozen_credits as (

    select * from {{ ref('fct_finalized_invoice_coupons') }}

),

computed_credits as (

    select * from {{ ref('int_coupons__consumption') }}
    where record_type = 'coupon_credit'

),

credits as (

    -- frozen with a finalized invoice, as computed now for a draft
    select frozen_credits.*
    from frozen_credits
    inner join invoices on invoices.invoice_id = frozen_credits.invoice_id
    where invoices.status in ('finalized', 'voided')

    union all

    select computed_credits.*
    from computed_credits
    inner join invoices on invoices.invoice_id = computed_credits.invoice_id
    where invoices.status = 'draft'

),

applied_coupons as (

    select * from {{ ref('int_coupons__applied') }}

),

final as (

    select
        credits.invoice_id,
        invoices.number as invoice_number,
        invoices.status as invoice_status,
        credits.external_customer_id,
        credits.applied_coupon_id,
        applied_coupons.coupon_code,
        applied_coupons.coupon_type,
        applied_coupons.frequency,
        credits.amount_cents,
        invoices.currency,
        cast(credits.remaining_amount_cents as bigint) as remaining_amount_cents,
        credits.periods_remaining as frequency_duration_remaining,
        credits.is_terminated,
        invoices.issued_at
    from credits
    inner join invoices on invoices.invoice_id = credits.invoice_id
    inner join applied_coupons on applied_coupons.applied_coupon_id = credits.applied_coupon_id

)

select * from final
