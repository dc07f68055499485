{#- Every wallet's movements in time order, with what each one actually moved and the balance
    after it, as known at as_of (Lago's wallet transactions and balance_cents):
    - granted credits count when given; purchased credits when their credit invoice is paid (the
      first `succeeded` payment event received for it), until then they are `pending`;
    - each finalized subscription invoice (pay-in-advance charge invoices included) takes, when
      it is finalized, min(balance, its total after credit notes), as Lago applies prepaid credits
      at finalization; one-off and credit invoices take none, drafts none yet;
    - a void takes at most the balance;
    - a voided invoice (stg_invoice_voids) gives back what it took, at its void, as granted
      credits with source voided_invoice, while the wallet is active (Lago's recredit);
    - threshold top-ups (int_wallets__threshold_top_ups) are requests like the others: granted
      credits at once (after everything else at that instant), paid ones once their invoice is paid;
    - at its end (expiration_at, or its termination) a wallet loses what is left (an outbound
      `voided` movement with source expiration or termination).
    At one instant, credits in come before credits out, and the wallet's end comes last.
    Consumption is greedy in time order: with C and D the running sums of credits in and of
    amounts asked, what has been taken out up to a movement is D - max(0, max over earlier and
    this movement of (D - C)), the standard closed form of "take what you can, never below 0".
    One active wallet per customer (checked at `tally load`): an invoice takes from the wallet of
    its customer and currency that is active when it is finalized. -#}
with

own_requests as (

    select * from {{ ref('int_wallets__transactions') }}

),

threshold_top_ups as (

    select * from {{ ref('int_wallets__threshold_top_ups') }}

),

wallet_spans as (

    select * from {{ ref('int_wallets__spans') }}

),

invoices as (

    select * from {{ ref('int_invoices__computed') }}

),

payment_events as (

    select * from {{ ref('stg_payment_events') }}

),

voids as (

    select * from {{ ref('stg_invoice_voids') }}

),

requests as (

    select * from own_requests

    union all

    select wallet_transaction_id, wallet_id, external_customer_id, invoice_id, transaction_type,
        transaction_status, source, currency, rate_amount, subunit_to_unit, credit_amount, amount_cents, created_at
    from threshold_top_ups

),

paid_invoices as (

    select invoice_id, min(received_at) as paid_at
    from payment_events
    where payment_status = 'succeeded'
    group by invoice_id

),

threshold_paid as (

    -- a threshold top-up's credit invoice exists from the top-up on: payments after it count
    select threshold_top_ups.wallet_transaction_id, min(payment_events.received_at) as paid_at
    from threshold_top_ups
    inner join payment_events
        on payment_events.invoice_id = threshold_top_ups.invoice_id
        and payment_events.payment_status = 'succeeded'
        and payment_events.received_at > threshold_top_ups.created_at
    group by threshold_top_ups.wallet_transaction_id

),

credit_movements as (

    select
        requests.wallet_transaction_id,
        requests.wallet_id,
        requests.invoice_id,
        requests.transaction_type,
        requests.transaction_status,
        requests.source,
        requests.credit_amount as requested_credit_amount,
        requests.amount_cents as requested_amount_cents,
        requests.created_at,
        case when requests.transaction_status = 'purchased' and requests.source = 'threshold' then threshold_paid.paid_at
             when requests.transaction_status = 'purchased' then paid_invoices.paid_at
             else requests.created_at end as settled_at
    from requests
    left join paid_invoices on paid_invoices.invoice_id = requests.invoice_id
    left join threshold_paid on threshold_paid.wallet_transaction_id = requests.wallet_transaction_id

),

invoice_movements as (

    select
        md5('prepaid/' || invoices.invoice_id) as wallet_transaction_id,
        wallet_spans.wallet_id,
        invoices.invoice_id,
        'outbound' as transaction_type,
        'invoiced' as transaction_status,
        'invoice' as source,
        cast(null as decimal(38, 5)) as requested_credit_amount,
        invoices.total_before_prepaid_credits_cents as requested_amount_cents,
        invoices.finalizes_at as created_at,
        invoices.finalizes_at as settled_at
    from invoices
    inner join wallet_spans
        on wallet_spans.external_customer_id = invoices.external_customer_id
        and wallet_spans.currency = invoices.currency
        and wallet_spans.created_at <= invoices.finalizes_at
        and (wallet_spans.ended_at is null or invoices.finalizes_at < wallet_spans.ended_at)
    where invoices.status = 'finalized'
      and not invoices.is_skipped
      and invoices.invoice_type in ('subscription', 'progressive_billing')
      and invoices.total_before_prepaid_credits_cents > 0

),

end_movements as (

    select
        md5('end/' || wallet_id) as wallet_transaction_id,
        wallet_id,
        cast(null as varchar) as invoice_id,
        'outbound' as transaction_type,
        'voided' as transaction_status,
        end_source as source,
        cast(null as decimal(38, 5)) as requested_credit_amount,
        -- everything that is left
        cast(null as bigint) as requested_amount_cents,
        ended_at as created_at,
        ended_at as settled_at
    from wallet_spans
    where ended_at <= {{ as_of() }}

),

movements as (

    -- a threshold top-up's granted credits come after everything else at the instant they were
    -- made (it was evaluated then)
    select *, case when source = 'threshold' and settled_at = created_at then 3
                   when transaction_type = 'inbound' then 0 else 1 end as instant_order
    from credit_movements
    union all
    select *, 1 as instant_order
    from invoice_movements
    union all
    select *, 2 as instant_order
    from end_movements

),

counted as (

    -- what each movement brings in or asks for, in the ledger's order
    select
        movements.*,
        wallet_spans.external_customer_id,
        wallet_spans.currency,
        wallet_spans.rate_amount,
        currencies.subunit_to_unit,
        case when movements.transaction_type = 'inbound' and movements.settled_at is not null
                  and (wallet_spans.ended_at is null or movements.settled_at < wallet_spans.ended_at)
             then cast(movements.requested_amount_cents as decimal(38, 0)) else 0 end as inflow_cents,
        case when movements.transaction_type = 'outbound'
             then coalesce(cast(movements.requested_amount_cents as decimal(38, 0)), cast(1e18 as decimal(38, 0)))
             else 0 end as asked_cents,
        coalesce(movements.settled_at, movements.created_at) as ordered_at
    from movements
    inner join wallet_spans on wallet_spans.wallet_id = movements.wallet_id
    inner join {{ ref('currencies') }} as currencies on currencies.code = wallet_spans.currency

),

{#- A voided invoice gives back, at its void, what it took (Lago's recredit, when the wallet is
    still active). What it took depends on earlier recredits, so the ledger is computed in passes,
    each recrediting what the previous pass found; a pass is exact once every voided invoice's
    own earlier recredits are, which the fixed-point data test
    assert_wallet_recredits_match_voided_invoices checks. -#}
{%- set passes = var('wallet_recredit_passes', 3) %}

pass_0 as (

    {{ wallet_ledger_pass('counted') }}

),
{%- for n in range(1, passes + 1) %}

recredits_{{ n }} as (

    select
        md5('recredit/' || pass_{{ n - 1 }}.invoice_id) as wallet_transaction_id,
        pass_{{ n - 1 }}.wallet_id,
        pass_{{ n - 1 }}.invoice_id,
        'inbound' as transaction_type,
        'granted' as transaction_status,
        'voided_invoice' as source,
        cast(null as decimal(38, 5)) as requested_credit_amount,
        pass_{{ n - 1 }}.moved_cents as requested_amount_cents,
        voids.voided_at as created_at,
        voids.voided_at as settled_at,
        0 as instant_order,
        pass_{{ n - 1 }}.external_customer_id,
        pass_{{ n - 1 }}.currency,
        pass_{{ n - 1 }}.rate_amount,
        pass_{{ n - 1 }}.subunit_to_unit,
        cast(pass_{{ n - 1 }}.moved_cents as decimal(38, 0)) as inflow_cents,
        cast(0 as decimal(38, 0)) as asked_cents,
        voids.voided_at as ordered_at
    from pass_{{ n - 1 }}
    inner join voids on voids.invoice_id = pass_{{ n - 1 }}.invoice_id
    inner join wallet_spans on wallet_spans.wallet_id = pass_{{ n - 1 }}.wallet_id
    where pass_{{ n - 1 }}.transaction_status = 'invoiced'
      and pass_{{ n - 1 }}.moved_cents > 0
      and (wallet_spans.ended_at is null or voids.voided_at < wallet_spans.ended_at)

),

counted_{{ n }} as (

    select * from counted
    union all
    select * from recredits_{{ n }}

),

pass_{{ n }} as (

    {{ wallet_ledger_pass('counted_' ~ n) }}

),
{%- endfor %}

final as (

    select
        -- ids
        wallet_transaction_id,
        wallet_id,
        external_customer_id,
        invoice_id,
        transaction_type,
        case when transaction_type = 'inbound' and inflow_cents = 0 then 'pending' else 'settled' end as status,
        transaction_status,
        source,

        -- credits and money
        currency,
        rate_amount,
        -- credits given stay as given; credits taken in money are worth amount / rate_amount
        case when requested_credit_amount is not null and moved_cents = requested_amount_cents
             then requested_credit_amount
             else {{ cents_to_credits('moved_cents', 'rate_amount', 'subunit_to_unit') }} end as credit_amount,
        cast(moved_cents as bigint) as amount_cents,
        cast(credited_cents - taken_to_date_cents as bigint) as balance_after_cents,

        -- timestamps
        created_at,
        case when transaction_type = 'outbound' or inflow_cents > 0 then settled_at end as settled_at,
        ordered_at

    from pass_{{ passes }}

)

select * from final
