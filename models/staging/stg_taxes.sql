with

versions as (

    {{ catalog_versions('tax') }}

),

renamed as (

    select
        object_key as tax_code,
        {{ json_str('payload', 'tax.name') }} as tax_name,
        cast({{ json_str('payload', 'tax.rate') }} as decimal(9, 6)) as tax_rate,
        {{ json_bool('payload', 'tax.applied_to_organization') }} as is_applied_to_organization,
        action = 'delete' as is_deleted,
        valid_from,
        valid_to,
        valid_to is null as is_current

    from versions

)

select * from renamed
