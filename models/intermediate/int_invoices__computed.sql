{#- Every invoice as computed at as_of, before numbering: one per customer and billing moment,
    holding the fees of every subscription billed then. It is a draft until its grace period
    ends (customer setting, else organization), then finalized; a finalized invoice of 0 is
    skipped when the customer (or, when it inherits, the organization) does not finalize empty
    invoices. Finalized invoices are frozen and numbered by fct_finalized_invoices. -#}
with

fees as (

    select * from {{ ref('int_fees__computed') }}

),

customers as (

    select * from {{ ref('int_customers__settings') }}

),

organization as (

    select * from {{ ref('stg_organization') }}

),

invoices as (

    select
        invoice_id,
        external_customer_id,
        min(billed_at) as issued_at,
        min(currency) as currency,
        count(*) as fees_count,
        sum(amount_cents) as fees_amount_cents
    from fees
    group by invoice_id, external_customer_id

),

with_settings as (

    select
        invoices.*,
        customers.customer_sequential_id,
        customers.timezone,
        customers.net_payment_term,
        customers.invoice_grace_period,
        customers.finalize_zero_amount_invoice,
        organization.document_numbering,
        organization.timezone as organization_timezone,
        {{ add_days('invoices.issued_at', 'customers.invoice_grace_period') }} as finalizes_at,
        coalesce(organization.document_number_prefix,
                 upper(substr(organization.organization_name, 1, 3)) || '-'
                 || upper(right(md5(organization.organization_name), 4))) as number_prefix
    from invoices
    inner join customers on customers.external_customer_id = invoices.external_customer_id
    cross join organization

),

final as (

    select
        -- ids
        invoice_id,
        external_customer_id,
        customer_sequential_id,
        'subscription' as invoice_type,
        case when finalizes_at <= {{ as_of() }} then 'finalized' else 'draft' end as status,
        fees_amount_cents = 0 and not finalize_zero_amount_invoice as is_skipped,

        -- amounts
        currency,
        fees_count,
        fees_amount_cents,
        cast(0 as bigint) as coupons_amount_cents,
        cast(0 as bigint) as taxes_amount_cents,
        cast(0 as bigint) as credit_notes_amount_cents,
        cast(0 as bigint) as prepaid_credit_amount_cents,
        fees_amount_cents as sub_total_excluding_taxes_amount_cents,
        fees_amount_cents as total_amount_cents,

        -- numbering
        number_prefix,
        document_numbering,
        organization_timezone,

        -- dates
        issued_at,
        cast({{ add_days(to_local('issued_at', 'timezone'), 'invoice_grace_period') }} as date) as issuing_date,
        cast({{ add_days(add_days(to_local('issued_at', 'timezone'), 'invoice_grace_period'), 'net_payment_term') }} as date)
            as payment_due_date,
        finalizes_at

    from with_settings

)

select * from final
