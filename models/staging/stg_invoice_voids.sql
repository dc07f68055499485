{#- Voided invoices (Lago's POST /invoices/:id/void), one row per invoice as first voided:
    `tally void` and the scenario step void_invoice append an `invoice` change with action `void`
    keyed by the invoice's id; a void is never undone. -#}
with

versions as (

    {{ catalog_versions('invoice') }}

),

voids as (

    select * from versions
    where action = 'void'

),

renamed as (

    select
        -- ids
        object_key as invoice_id,
        {{ json_str('payload', 'invoice.number') }} as number,

        -- timestamps
        min(valid_from) as voided_at

    from voids
    group by object_key, {{ json_str('payload', 'invoice.number') }}

)

select * from renamed
