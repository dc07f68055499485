{#- Every invoice of int_invoices__computed with its prepaid credits and total, Lago's last two
    steps: prepaid_credit_amount_cents is what the customer's wallet gave the invoice when it was
    finalized (int_wallets__ledger; 0 for drafts, one-off and credit invoices), and
    total_amount_cents = total_before_prepaid_credits_cents - prepaid_credit_amount_cents, never
    below 0. What fct_finalized_invoices freezes and fct_invoices shows. -#}
with

invoices as (

    select * from {{ ref('int_invoices__computed') }}
    union all
    -- the credit invoices of wallet threshold top-ups, billed downstream of the wallet walk
    select * from {{ ref('int_invoices__threshold_top_ups') }}

),

ledger as (

    select * from {{ ref('int_wallets__ledger') }}

),

prepaid_credits as (

    select invoice_id, sum(amount_cents) as prepaid_credit_amount_cents
    from ledger
    where transaction_status = 'invoiced'
    group by invoice_id

),

final as (

    select
        -- ids
        invoices.invoice_id,
        invoices.external_customer_id,
        invoices.customer_sequential_id,
        invoices.invoice_type,
        invoices.status,
        invoices.is_skipped,

        -- amounts
        invoices.currency,
        invoices.fees_count,
        invoices.fees_amount_cents,
        invoices.coupons_amount_cents,
        invoices.taxes_amount_cents,
        invoices.credit_notes_amount_cents,
        cast(coalesce(prepaid_credits.prepaid_credit_amount_cents, 0) as bigint) as prepaid_credit_amount_cents,
        invoices.sub_total_excluding_taxes_amount_cents,
        cast(invoices.total_before_prepaid_credits_cents
             - coalesce(prepaid_credits.prepaid_credit_amount_cents, 0) as bigint) as total_amount_cents,

        -- numbering
        invoices.number_prefix,
        invoices.document_numbering,
        invoices.organization_timezone,

        -- dates
        invoices.issued_at,
        invoices.issuing_date,
        invoices.payment_due_date,
        invoices.finalizes_at,

        -- appended
        invoices.sub_total_including_taxes_amount_cents,
        invoices.progressive_billing_credit_amount_cents

    from invoices
    left join prepaid_credits on prepaid_credits.invoice_id = invoices.invoice_id

)

select * from final
