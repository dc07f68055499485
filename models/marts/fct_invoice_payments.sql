{#- The payment status of every finalized (or since voided) invoice as known at as_of: the
    latest change the payment providers reported (stg_payment_events), `pending` until one did.
    Derived from the append-only payment log only, never written to: a status change is a new
    log row. payment_overdue is Lago's flag: a finalized invoice whose payment has not succeeded
    once its payment_due_date has begun (Lago compares the date with the current time, so an
    invoice due on D is overdue from D 00:00 UTC); a paid or voided invoice is never overdue. -#}
with

finalized_invoices as (

    select * from {{ ref('fct_invoices') }}
    where status in ('finalized', 'voided')

),

payment_events as (

    select * from {{ ref('stg_payment_events') }}

),

ranked_events as (

    select
        payment_events.*,
        count(*) over (partition by invoice_id) as payment_events_count,
        row_number() over (
            partition by invoice_id
            order by occurred_at desc,
                case payment_status when 'pending' then 1 else 0 end,
                received_at desc,
                event_id desc
        ) as recency
    from payment_events

),

latest_events as (

    select * from ranked_events
    where recency = 1

),

statuses as (

    select
        -- ids
        finalized_invoices.invoice_id,
        finalized_invoices.number,
        finalized_invoices.external_customer_id,

        -- amounts
        finalized_invoices.currency,
        finalized_invoices.total_amount_cents,

        -- payment
        finalized_invoices.status as invoice_status,
        case
            when finalized_invoices.total_amount_cents = 0 then 'succeeded'
            else coalesce(latest_events.payment_status, 'pending')
        end as payment_status,
        latest_events.provider as payment_provider,
        latest_events.provider_payment_id,
        coalesce(latest_events.payment_events_count, 0) as payment_events_count,

        -- dates
        finalized_invoices.issued_at,
        finalized_invoices.payment_due_date,
        latest_events.occurred_at as payment_status_updated_at,
        latest_events.received_at as payment_status_received_at

    from finalized_invoices
    left join latest_events on latest_events.invoice_id = finalized_invoices.invoice_id

),

final as (

    select
        statuses.*,
        invoice_status = 'finalized'
            and payment_status <> 'succeeded'
            and cast(payment_due_date as timestamp) < {{ as_of() }} as payment_overdue
    from statuses

)

select * from final
