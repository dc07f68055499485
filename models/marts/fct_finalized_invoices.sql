{{ config(materialized='incremental', incremental_strategy='append', full_refresh=false, on_schema_change='append_new_columns') }}
{#- The append-only record of finalized invoices. Each billing run appends the invoices that
    became finalized and are not recorded yet, frozen as computed then; a recorded invoice is
    never updated or deleted (full_refresh is disabled), so re-running any past day changes
    nothing. Numbers are assigned here, once: sequential_id per customer and
    organization_sequential_id organization-wide continue from the highest recorded, in order of
    finalization, so they are gapless and never reused. The number follows Lago:
    per customer PREFIX-CCC-NNN, per organization PREFIX-YYYYMM-NNN (month of finalization in the
    organization's time zone). -#}
with

computed as (

    select * from {{ ref('int_invoices__totals') }}
    where status = 'finalized' and not is_skipped

),

{% if is_incremental() %}

recorded as (

    select invoice_id, external_customer_id, sequential_id, organization_sequential_id
    from {{ this }}

),

{% else %}

recorded as (

    select
        cast(null as {{ dbt.type_string() }}) as invoice_id,
        cast(null as {{ dbt.type_string() }}) as external_customer_id,
        cast(null as bigint) as sequential_id,
        cast(null as bigint) as organization_sequential_id
    where 1 = 0

),

{% endif %}

new_invoices as (

    select * from computed
    where invoice_id not in (select invoice_id from recorded where invoice_id is not null)

),

customer_offsets as (

    select external_customer_id, max(sequential_id) as last_sequential_id
    from recorded
    group by external_customer_id

),

numbered as (

    select
        new_invoices.*,
        coalesce(customer_offsets.last_sequential_id, 0) + row_number() over (
            partition by new_invoices.external_customer_id
            order by new_invoices.finalizes_at, new_invoices.issued_at, new_invoices.invoice_id
        ) as sequential_id,
        (select coalesce(max(organization_sequential_id), 0) from recorded) + row_number() over (
            order by new_invoices.finalizes_at, new_invoices.issued_at, new_invoices.invoice_id
        ) as organization_sequential_id
    from new_invoices
    left join customer_offsets on customer_offsets.external_customer_id = new_invoices.external_customer_id

),

final as (

    select
        -- ids
        invoice_id,
        external_customer_id,
        case
            when document_numbering = 'per_organization' then number_prefix || '-'
                || {{ yyyymm(to_local('finalizes_at', 'organization_timezone')) }}
                || '-' || {{ lpad_min('organization_sequential_id', 3) }}
            else number_prefix || '-' || {{ lpad_min('customer_sequential_id', 3) }}
                || '-' || {{ lpad_min('sequential_id', 3) }}
        end as number,
        cast(sequential_id as bigint) as sequential_id,
        cast(organization_sequential_id as bigint) as organization_sequential_id,
        invoice_type,
        status,

        -- amounts
        currency,
        fees_count,
        fees_amount_cents,
        coupons_amount_cents,
        taxes_amount_cents,
        credit_notes_amount_cents,
        prepaid_credit_amount_cents,
        sub_total_excluding_taxes_amount_cents,
        total_amount_cents,

        -- dates
        issued_at,
        issuing_date,
        payment_due_date,
        finalizes_at,

        -- appended (columns are only ever appended: the table is read by name)
        sub_total_including_taxes_amount_cents,
        progressive_billing_credit_amount_cents

    from numbered

)

select * from final
