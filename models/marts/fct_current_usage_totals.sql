{#- Lago's current usage per subscription at as_of (GET /customers/:id/current_usage): the
    charges of the period in progress (fct_current_usage) with their taxes, and what of that the
    customer has already been invoiced for, which a wallet's ongoing balance leaves out. -#}
with

current_usage as (

    select * from {{ ref('fct_current_usage') }}

),

progressive_fees as (

    select * from {{ ref('int_fees__progressive_billing') }}

),

invoices as (

    select * from {{ ref('fct_invoices') }}

),

subscription_usage as (

    select
        external_subscription_id,
        period_id,
        min(external_customer_id) as external_customer_id,
        min(currency) as currency,
        min(from_datetime) as from_datetime,
        max(to_datetime) as to_datetime,
        count(*) as charges_count,
        {{ usage_invoice_sums('amount_cents', 'precise_taxes_amount_cents', 'is_pay_in_advance and is_invoiceable') }}
    from current_usage
    group by external_subscription_id, period_id

),

progressive_invoices as (

    select distinct progressive_fees.period_id, progressive_fees.invoice_id
    from progressive_fees

),

progressive_billed as (

    -- what the period's finalized progressive invoices billed, taxes included (Lago's
    -- Subscriptions::ProgressiveBilledAmount); a voided one billed nothing
    select
        progressive_invoices.period_id,
        sum(invoices.sub_total_including_taxes_amount_cents) as progressive_billed_cents
    from progressive_invoices
    inner join invoices
        on invoices.invoice_id = progressive_invoices.invoice_id
        and invoices.status = 'finalized'
    group by progressive_invoices.period_id

),

final as (

    select
        -- ids
        subscription_usage.external_subscription_id,
        subscription_usage.external_customer_id,
        subscription_usage.period_id,

        -- amounts
        subscription_usage.currency,
        subscription_usage.charges_count,
        cast(subscription_usage.amount_cents as bigint) as amount_cents,
        subscription_usage.taxes_amount_cents,
        cast(subscription_usage.amount_cents + subscription_usage.taxes_amount_cents as bigint) as total_amount_cents,
        cast(subscription_usage.pay_in_advance_billed_cents as bigint) as pay_in_advance_billed_cents,
        cast(coalesce(progressive_billed.progressive_billed_cents, 0) as bigint) as progressive_billed_cents,
        cast(subscription_usage.amount_cents + subscription_usage.taxes_amount_cents
             - subscription_usage.pay_in_advance_billed_cents
             - coalesce(progressive_billed.progressive_billed_cents, 0) as bigint) as unbilled_amount_cents,

        -- timestamps
        subscription_usage.from_datetime,
        subscription_usage.to_datetime

    from subscription_usage
    left join progressive_billed on progressive_billed.period_id = subscription_usage.period_id

)

select * from final
