{#- The fees of one-off invoices: Lago's POST /invoices body ({"invoice": {external_customer_id,
    currency, fees: [{add_on_code, units, unit_amount_cents, tax_codes, ...}]}}) and the older
    POST /applied_add_ons body ({"applied_add_on": {external_customer_id, add_on_code,
    amount_cents}}), which also bills an add-on at once. One row per fee; the invoice is issued
    when it was received. -#}
with

invoice_versions as (

    {{ catalog_versions('invoice') }}

),

add_on_versions as (

    {{ catalog_versions('applied_add_on') }}

),

invoice_fees as (

    select
        invoice_versions.object_key as one_off_key,
        {{ json_str('invoice_versions.payload', 'invoice.external_customer_id') }} as external_customer_id,
        {{ json_str('invoice_versions.payload', 'invoice.currency') }} as currency,
        fee.idx as fee_index,
        {{ json_str('fee.value', 'add_on_code') }} as add_on_code,
        {{ json_str('fee.value', 'units') }} as units_text,
        {{ json_str('fee.value', 'unit_amount_cents') }} as unit_amount_cents_text,
        {{ json_get('fee.value', 'tax_codes') }} as tax_codes,
        {{ json_str('fee.value', 'invoice_display_name') }} as invoice_display_name,
        invoice_versions.valid_from as issued_at,
        invoice_versions.seq
    from invoice_versions
    {{ json_array_elements(json_get('invoice_versions.payload', 'invoice.fees'), 'fee') }}
    where invoice_versions.action = 'upsert'

),

add_on_fees as (

    select
        object_key as one_off_key,
        {{ json_str('payload', 'applied_add_on.external_customer_id') }} as external_customer_id,
        {{ json_str('payload', 'applied_add_on.amount_currency') }} as currency,
        0 as fee_index,
        {{ json_str('payload', 'applied_add_on.add_on_code') }} as add_on_code,
        cast(null as varchar) as units_text,
        {{ json_str('payload', 'applied_add_on.amount_cents') }} as unit_amount_cents_text,
        {{ json_get('payload', 'applied_add_on.tax_codes') }} as tax_codes,
        cast(null as varchar) as invoice_display_name,
        valid_from as issued_at,
        seq
    from add_on_versions
    where action = 'upsert'

),

unioned as (

    select 'invoice' as source_type, * from invoice_fees
    union all
    select 'applied_add_on' as source_type, * from add_on_fees

),

renamed as (

    select
        source_type || ':' || one_off_key || '@' || cast(seq as varchar) as one_off_id,
        external_customer_id,
        currency,
        fee_index,
        add_on_code,
        cast(coalesce(units_text, '1') as {{ units_type() }}) as units,
        cast(unit_amount_cents_text as {{ money_type() }}) as unit_amount_cents,
        tax_codes,
        invoice_display_name,
        issued_at
    from unioned

)

select * from renamed
