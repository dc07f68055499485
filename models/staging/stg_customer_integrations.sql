{#- One row per customer version and entry of its Lago `integration_customers` list: which
    accounting or CRM systems (xero, netsuite, hubspot, ...) the customer syncs to, and the
    customer's id there when it already exists. -#}
with

customers as (

    select * from {{ ref('stg_customers') }}

),

integrations as (

    select
        -- ids
        customers.external_customer_id,
        integration.idx as integration_index,
        lower({{ json_str('integration.value', 'integration_type') }}) as integration_type,
        {{ json_str('integration.value', 'integration_code') }} as integration_code,
        {{ json_str('integration.value', 'external_customer_id') }} as integration_customer_id,

        -- sync settings
        {{ json_bool('integration.value', 'sync_with_provider') }} as sync_with_provider,
        {{ json_str('integration.value', 'subsidiary_id') }} as subsidiary_id,
        {{ json_str('integration.value', 'targeted_object') }} as targeted_object,

        -- versioning
        customers.valid_from,
        customers.valid_to,
        customers.is_current

    from customers
    {{ json_array_elements('customers.integration_customers', 'integration') }}
    where not customers.is_deleted

)

select * from integrations
