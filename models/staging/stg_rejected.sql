with

source as (

    select * from {{ source('raw', 'rejected') }}

),

renamed as (

    select
        source as rejected_source,
        reason_code,
        reason,
        raw_text,
        received_at

    from source
    where received_at <= {{ as_of() }}

)

select * from renamed
