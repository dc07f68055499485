{#- The credit invoices of wallet threshold top-ups (int_fees__threshold_top_ups), in
    int_invoices__computed's columns and order, as int_invoices__computed makes the other credit
    invoices: issued and finalized when the top-up is made, one credit fee, no coupons, taxes,
    credit notes or prepaid credits. int_invoices__totals adds them to the other invoices. -#}
with

fees as (

    select * from {{ ref('int_fees__threshold_top_ups') }}

),

customers as (

    select * from {{ ref('int_customers__settings') }}

),

organization as (

    select * from {{ ref('stg_organization') }}

),

final as (

    select
        -- ids
        fees.invoice_id,
        fees.external_customer_id,
        customers.customer_sequential_id,
        'credit' as invoice_type,
        'finalized' as status,
        false as is_skipped,

        -- amounts
        fees.currency,
        cast(1 as bigint) as fees_count,
        cast(fees.amount_cents as bigint) as fees_amount_cents,
        cast(0 as bigint) as coupons_amount_cents,
        cast(0 as bigint) as taxes_amount_cents,
        cast(0 as bigint) as credit_notes_amount_cents,
        cast(fees.amount_cents as bigint) as sub_total_excluding_taxes_amount_cents,
        cast(fees.amount_cents as bigint) as total_before_prepaid_credits_cents,

        -- numbering
        coalesce(organization.document_number_prefix,
                 upper(substr(organization.organization_name, 1, 3)) || '-'
                 || upper(right(md5(organization.organization_name), 4))) as number_prefix,
        organization.document_numbering,
        organization.timezone as organization_timezone,

        -- dates
        fees.billed_at as issued_at,
        cast({{ to_local('fees.billed_at', 'customers.timezone') }} as date) as issuing_date,
        cast({{ add_days(to_local('fees.billed_at', 'customers.timezone'), 'customers.net_payment_term') }} as date)
            as payment_due_date,
        fees.billed_at as finalizes_at,

        -- appended
        cast(fees.amount_cents as bigint) as sub_total_including_taxes_amount_cents,
        cast(0 as bigint) as progressive_billing_credit_amount_cents,
        cast(null as bigint) as credit_notes_recredited_cents

    from fees
    inner join customers on customers.external_customer_id = fees.external_customer_id
    cross join organization

)

select * from final
