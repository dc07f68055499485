{#- The items of requested credit notes (stg_credit_notes), one row per item of the body: the fee
    it credits (fee_id) and the amount credited before taxes (amount_cents, in the invoice's
    currency). -#}
with

credit_notes as (

    select * from {{ ref('stg_credit_notes') }}

),

items as (

    select
        credit_notes.credit_note_id,
        item.idx as item_index,
        {{ json_str('item.value', 'fee_id') }} as fee_id,
        {{ json_str('item.value', 'amount_cents') }} as amount_cents_text,
        credit_notes.issued_at
    from credit_notes
    {{ json_array_elements('credit_notes.items', 'item') }}

),

renamed as (

    select
        md5(credit_note_id || '/' || cast(item_index as varchar)) as credit_note_item_id,
        credit_note_id,
        item_index,
        fee_id,
        cast(amount_cents_text as bigint) as amount_cents,
        issued_at
    from items

)

select * from renamed
