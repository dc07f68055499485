with

versions as (

    {{ catalog_versions('add_on') }}

),

renamed as (

    select
        object_key as add_on_code,
        {{ json_str('payload', 'add_on.name') }} as add_on_name,
        cast({{ json_str('payload', 'add_on.amount_cents') }} as decimal(38, 0)) as amount_cents,
        {{ json_str('payload', 'add_on.amount_currency') }} as currency,
        {{ json_get('payload', 'add_on.tax_codes') }} as tax_codes,
        action = 'delete' as is_deleted,
        valid_from,
        valid_to,
        valid_to is null as is_current

    from versions

)

select * from renamed
