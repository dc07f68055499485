{#- Credit notes requested on a finalized invoice (raw object_type credit_note, Lago's
    POST /credit_notes body {"credit_note": {invoice_id, reason, description, credit_amount_cents,
    refund_amount_cents, items: [{fee_id, amount_cents}]}}), one row per credit note. A credit
    note is issued when it is received and never changes afterwards (Lago has no update of its
    amounts): a later version of the same key is ignored. `tally load` and the scenario step
    `create_credit_note` check the body against the invoice before it is written. -#}
with

versions as (

    {{ catalog_versions('credit_note') }}

),

firsts as (

    select
        *,
        row_number() over (partition by object_key order by valid_from, seq) as version_number
    from versions

),

renamed as (

    select
        -- ids
        md5('credit_note/' || object_key) as credit_note_id,
        object_key,
        {{ json_str('payload', 'credit_note.invoice_id') }} as invoice_id,

        -- what and why
        coalesce({{ json_str('payload', 'credit_note.reason') }}, 'other') as reason,
        {{ json_str('payload', 'credit_note.description') }} as description,

        -- amounts: what the body asks for, before Tally computes the items' coupons and taxes
        cast(coalesce({{ json_str('payload', 'credit_note.credit_amount_cents') }}, '0') as bigint)
            as credit_amount_cents,
        cast(coalesce({{ json_str('payload', 'credit_note.refund_amount_cents') }}, '0') as bigint)
            as refund_amount_cents,
        {{ json_get('payload', 'credit_note.items') }} as items,

        -- timestamps
        valid_from as issued_at,
        seq

    from firsts
    where action = 'upsert' and version_number = 1

)

select * from renamed
