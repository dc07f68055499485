{#- Credit notes as known at as_of (Lago's credit notes; today: the unused part of in-advance
    subscription fees on termination or upgrade), with what the customer's invoices have consumed
    of them, oldest note first, and what remains. -#}
with

credit_notes as (

    select * from {{ ref('int_credit_notes__unused_advance_fees') }}

),

invoices as (

    select * from {{ ref('fct_invoices') }}

),

consumed as (

    select external_customer_id, sum(credit_notes_amount_cents) as consumed_cents
    from invoices
    group by external_customer_id

),

ordered as (

    select
        credit_notes.*,
        coalesce(sum(credit_notes.credit_amount_cents) over (
            partition by credit_notes.external_customer_id order by credit_notes.issued_at, credit_notes.credit_note_id
            rows between unbounded preceding and 1 preceding
        ), 0) as issued_before_cents,
        coalesce(consumed.consumed_cents, 0) as customer_consumed_cents
    from credit_notes
    left join consumed on consumed.external_customer_id = credit_notes.external_customer_id

),

final as (

    select
        credit_note_id,
        external_customer_id,
        external_subscription_id,
        plan_code,
        reason,
        currency,
        unused_days,
        credit_amount_cents,
        credit_amount_cents - least(credit_amount_cents, greatest(0, customer_consumed_cents - issued_before_cents))
            as balance_amount_cents,
        issued_at
    from ordered

)

select * from final
