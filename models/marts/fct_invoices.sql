{#- One invoice per customer and billing moment, holding the fees of every subscription billed
    then. An invoice is a draft during the grace period (customer setting, else organization)
    and finalized after it; finalized invoices are numbered per customer without gaps, in
    Lago's format PREFIX-<customer seq, 3 digits>-<invoice seq, 3 digits>. -#}
with

fees as (

    select * from {{ ref('fct_fees') }}

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
        count(distinct currency) as currencies_count,
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
        {{ add_days('invoices.issued_at', 'customers.invoice_grace_period') }} as finalizes_at,
        coalesce(organization.document_number_prefix,
                 upper(substr(organization.organization_name, 1, 3)) || '-'
                 || upper(right(md5(organization.organization_name), 4))) as number_prefix
    from invoices
    inner join customers on customers.external_customer_id = invoices.external_customer_id
    cross join organization

),

with_status as (

    select
        *,
        case when finalizes_at <= {{ as_of() }} then 'finalized' else 'draft' end as status,
        cast({{ add_days(to_local('issued_at', 'timezone'), 'invoice_grace_period') }} as date) as issuing_date
    from with_settings

),

numbered as (

    select
        *,
        case when status = 'finalized' then row_number() over (
            partition by external_customer_id, status order by issued_at, invoice_id
        ) end as sequential_id
    from with_status

),

final as (

    select
        -- ids
        invoice_id,
        external_customer_id,
        case
            when sequential_id is null then number_prefix || '-DRAFT'
            else number_prefix || '-' || {{ lpad_min('customer_sequential_id', 3) }}
                 || '-' || {{ lpad_min('sequential_id', 3) }}
        end as number,
        sequential_id,
        'subscription' as invoice_type,
        status,

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

        -- dates
        issued_at,
        issuing_date,
        cast({{ add_days('issuing_date', 'net_payment_term') }} as date) as payment_due_date,
        finalizes_at

    from numbered

)

select * from final
