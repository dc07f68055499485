{#- The organization's billing settings; defaults apply until one is loaded. -#}
with

versions as (

    {{ catalog_versions('organization') }}

),

current_settings as (

    select
        coalesce({{ json_str('payload', 'organization.name') }}, 'Tally') as organization_name,
        coalesce({{ json_str('payload', 'organization.timezone') }}, 'UTC') as timezone,
        {{ json_str('payload', 'organization.default_currency') }} as default_currency,
        {{ json_str('payload', 'organization.document_number_prefix') }} as document_number_prefix,
        coalesce({{ json_str('payload', 'organization.document_numbering') }}, 'per_customer') as document_numbering,
        coalesce(cast({{ json_str('payload', 'organization.net_payment_term') }} as integer), 0) as net_payment_term,
        coalesce(cast({{ json_str('payload', 'organization.invoice_grace_period') }} as integer), 0) as invoice_grace_period,
        {{ json_bool('payload', 'organization.finalize_zero_amount_invoice', 'true') }} as finalize_zero_amount_invoice
    from versions
    where valid_to is null

),

defaults as (

    select
        'Tally' as organization_name,
        'UTC' as timezone,
        cast(null as varchar) as default_currency,
        cast(null as varchar) as document_number_prefix,
        'per_customer' as document_numbering,
        0 as net_payment_term,
        0 as invoice_grace_period,
        true as finalize_zero_amount_invoice

)

select * from current_settings
union all
select * from defaults
where not exists (select 1 from current_settings)
