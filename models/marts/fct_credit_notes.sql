{#- Every credit note as known at as_of (Lago's credit note object): requested on a finalized
    invoice (POST /credit_notes), made on a termination or upgrade for the unused part of an
    in-advance subscription fee, or for what a progressive invoice billed beyond the final usage,
    with its amounts (int_credit_notes__issued), its number (the
    invoice's number, -CN and its rank among the invoice's credit notes), and what the customer's
    invoices have consumed of its credit, oldest note first (less what voided invoices gave
    back, which returns to the notes consumed last): balance_amount_cents is what remains; credit_status is `consumed` once a credit is used up, else `available`;
    refund_status is `pending` for a refund (Tally records the refund, it does not pay it). -#}
with

credit_notes as (

    select * from {{ ref('int_credit_notes__issued') }}

),

invoices as (

    select * from {{ ref('fct_invoices') }}

),

customers as (

    select * from {{ ref('int_customers__settings') }}

),

computed_invoices as (

    select * from {{ ref('int_invoices__computed') }}

),

consumed as (

    -- what invoices took, less what voided invoices gave back
    select external_customer_id, sum(amount_cents) as consumed_cents
    from (
        select external_customer_id, credit_notes_amount_cents as amount_cents
        from invoices
        union all
        select external_customer_id, -credit_notes_recredited_cents as amount_cents
        from computed_invoices
        where credit_notes_recredited_cents > 0
    ) movements
    group by external_customer_id

),

ordered as (

    select
        credit_notes.*,
        coalesce(sum(credit_notes.credit_amount_cents) over (
            partition by credit_notes.external_customer_id order by credit_notes.issued_at, credit_notes.credit_note_id
            rows between unbounded preceding and 1 preceding
        ), 0) as issued_before_cents,
        row_number() over (
            partition by credit_notes.invoice_id order by credit_notes.issued_at, credit_notes.credit_note_id
        ) as sequential_id,
        coalesce(consumed.consumed_cents, 0) as customer_consumed_cents
    from credit_notes
    left join consumed on consumed.external_customer_id = credit_notes.external_customer_id

),

balanced as (

    select
        *,
        credit_amount_cents - least(credit_amount_cents, greatest(0, customer_consumed_cents - issued_before_cents))
            as balance_amount_cents
    from ordered

),

final as (

    select
        -- ids
        balanced.credit_note_id,
        invoices.number || '-CN' || {{ lpad_min('balanced.sequential_id', 3) }} as number,
        cast(balanced.sequential_id as bigint) as sequential_id,
        balanced.invoice_id,
        invoices.number as invoice_number,
        balanced.external_customer_id,
        balanced.external_subscription_id,
        balanced.plan_code,
        balanced.is_automatic,
        balanced.reason,
        balanced.description,

        -- statuses
        'finalized' as status,
        case when balanced.credit_amount_cents > 0 and balanced.balance_amount_cents = 0 then 'consumed'
             else 'available' end as credit_status,
        case when balanced.refund_amount_cents > 0 then 'pending' end as refund_status,

        -- amounts
        balanced.currency,
        balanced.items_count,
        cast(balanced.items_amount_cents as bigint) as items_amount_cents,
        balanced.coupons_adjustment_amount_cents,
        balanced.sub_total_excluding_taxes_amount_cents,
        balanced.taxes_amount_cents,
        balanced.precise_taxes_amount_cents,
        balanced.total_amount_cents,
        balanced.credit_amount_cents,
        balanced.refund_amount_cents,
        cast(balanced.balance_amount_cents as bigint) as balance_amount_cents,
        balanced.unused_days,

        -- dates
        balanced.issued_at,
        cast({{ to_local('balanced.issued_at', 'customers.timezone') }} as date) as issuing_date

    from balanced
    left join invoices on invoices.invoice_id = balanced.invoice_id
    left join customers on customers.external_customer_id = balanced.external_customer_id

)

select * from final
