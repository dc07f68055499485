{#- Each customer's current billing settings, with the organization's as fallback
    (time zone: customer, else organization, else UTC). -#}
with

customers as (

    select * from {{ ref('stg_customers') }}

),

organization as (

    select * from {{ ref('stg_organization') }}

),

current_customers as (

    select * from customers
    where is_current and not is_deleted

),

numbered as (

    -- Lago numbers customers in the order they were created, organization-wide
    select
        *,
        row_number() over (order by created_at, external_customer_id) as customer_sequential_id
    from current_customers

),

final as (

    select
        numbered.external_customer_id,
        numbered.customer_name,
        numbered.email,
        numbered.customer_sequential_id,
        coalesce(numbered.currency, organization.default_currency) as currency,
        coalesce(numbered.timezone, organization.timezone, 'UTC') as timezone,
        coalesce(numbered.net_payment_term, organization.net_payment_term, 0) as net_payment_term,
        coalesce(numbered.invoice_grace_period, organization.invoice_grace_period, 0) as invoice_grace_period,
        case numbered.finalize_zero_amount_invoice
            when 'skip' then false
            when 'finalize' then true
            else organization.finalize_zero_amount_invoice
        end as finalize_zero_amount_invoice,
        numbered.billing_configuration,
        numbered.integration_customers,
        numbered.created_at
    from numbered
    cross join organization

)

select * from final
