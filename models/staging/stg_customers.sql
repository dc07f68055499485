with

versions as (

    {{ catalog_versions('customer') }}

),

renamed as (

    select
        -- ids
        object_key as external_customer_id,
        {{ json_str('payload', 'customer.name') }} as customer_name,
        {{ json_str('payload', 'customer.email') }} as email,

        -- billing settings
        {{ json_str('payload', 'customer.currency') }} as currency,
        {{ json_str('payload', 'customer.timezone') }} as timezone,
        cast({{ json_str('payload', 'customer.net_payment_term') }} as integer) as net_payment_term,
        cast({{ json_str('payload', 'customer.invoice_grace_period') }} as integer) as invoice_grace_period,
        -- Lago: inherit (the organization's setting), finalize or skip
        coalesce({{ json_str('payload', 'customer.finalize_zero_amount_invoice') }}, 'inherit')
            as finalize_zero_amount_invoice,
        {{ json_get('payload', 'customer.billing_configuration') }} as billing_configuration,
        {{ json_get('payload', 'customer.integration_customers') }} as integration_customers,

        -- payment provider (Lago's billing_configuration): where invoices are collected
        {{ json_str('payload', 'customer.billing_configuration.payment_provider') }} as payment_provider,
        {{ json_str('payload', 'customer.billing_configuration.payment_provider_code') }} as payment_provider_code,
        {{ json_str('payload', 'customer.billing_configuration.provider_customer_id') }} as provider_customer_id,
        {{ json_bool('payload', 'customer.billing_configuration.sync_with_provider') }}
            or {{ json_bool('payload', 'customer.billing_configuration.sync') }} as sync_with_provider,
        {{ json_str('payload', 'customer.address_line1') }} as address_line1,
        {{ json_str('payload', 'customer.city') }} as city,
        {{ json_str('payload', 'customer.zipcode') }} as zipcode,
        {{ json_str('payload', 'customer.country') }} as country,
        {{ json_get('payload', 'customer.tax_codes') }} as tax_codes,

        -- versioning
        action = 'delete' as is_deleted,
        first_received_at as created_at,
        valid_from,
        valid_to,
        valid_to is null as is_current

    from versions

)

select * from renamed
