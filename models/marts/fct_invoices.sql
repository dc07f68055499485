{#- Invoices as known at as_of: the finalized ones as recorded when they were finalized
    (fct_finalized_invoices, never recomputed), and the drafts still in their grace period as
    computed now. A finalized invoice voided by as_of (stg_invoice_voids) keeps its amounts and
    number, with status `voided`, as in Lago. -#}
with

recorded as (

    select * from {{ ref('fct_finalized_invoices') }}

),

voids as (

    select * from {{ ref('stg_invoice_voids') }}

),

finalized as (

    -- by name: the recorded table only ever appends columns
    select
        recorded.invoice_id,
        external_customer_id,
        recorded.number,
        sequential_id,
        organization_sequential_id,
        invoice_type,
        case when voids.voided_at is not null then 'voided' else status end as status,
        currency,
        fees_count,
        fees_amount_cents,
        coupons_amount_cents,
        taxes_amount_cents,
        credit_notes_amount_cents,
        prepaid_credit_amount_cents,
        sub_total_excluding_taxes_amount_cents,
        total_amount_cents,
        issued_at,
        issuing_date,
        payment_due_date,
        finalizes_at,
        sub_total_including_taxes_amount_cents,
        -- invoices recorded before progressive billing existed have none
        cast(coalesce(progressive_billing_credit_amount_cents, 0) as bigint) as progressive_billing_credit_amount_cents,
        voids.voided_at
    from recorded
    left join voids on voids.invoice_id = recorded.invoice_id
    where finalizes_at <= {{ as_of() }}

),

computed as (

    select * from {{ ref('int_invoices__totals') }}

),

drafts as (

    select
        invoice_id,
        external_customer_id,
        number_prefix || '-DRAFT' as number,
        cast(null as bigint) as sequential_id,
        cast(null as bigint) as organization_sequential_id,
        invoice_type,
        status,
        currency,
        fees_count,
        fees_amount_cents,
        coupons_amount_cents,
        taxes_amount_cents,
        credit_notes_amount_cents,
        prepaid_credit_amount_cents,
        sub_total_excluding_taxes_amount_cents,
        total_amount_cents,
        issued_at,
        issuing_date,
        payment_due_date,
        finalizes_at,
        sub_total_including_taxes_amount_cents,
        progressive_billing_credit_amount_cents,
        cast(null as timestamp) as voided_at
    from computed
    where status = 'draft'

),

final as (

    select * from finalized
    union all
    select * from drafts

)

select * from final
