{#- Wallet threshold top-ups (Lago's recurring transaction rules with trigger `threshold`, Lago's
    Wallets::ThresholdTopUpService), as known at as_of. See the YAML for the rule; in short:
    at every evaluation moment of a wallet whose version in force holds a threshold rule, with
    credits_ongoing_balance = (balance - ongoing usage, taxes included) / subunit / rate_amount and pending = the
    credits of its purchased-but-unpaid transactions, a top-up is made unless
    credits_ongoing_balance > threshold_credits or pending + credits_ongoing_balance >
    threshold_credits: method fixed gives the rule's paid_credits and granted_credits, method
    target paid_credits = target_ongoing_balance - credits_ongoing_balance.
    Each top-up changes every later balance, so the wallet is walked step by step in the ledger's
    order with a recursive CTE (nested in the CTE `walked`; the same SQL on DuckDB and PostgreSQL), one step per movement of
    the wallet (as int_wallets__ledger orders them) or event arrival; the state carried from step
    to step is the balance, the pending threshold purchases and what invoices that are voided
    later took (two small text maps, macros/billing/wallet_walk.sql). -#}
with

wallets as (

    select * from {{ ref('stg_wallets') }}

),

spans as (

    select * from {{ ref('int_wallets__spans') }}

),

requests as (

    select * from {{ ref('int_wallets__transactions') }}

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

snapshot_totals as (

    select * from {{ ref('int_usage__snapshot_totals') }}

),

progressive_invoices as (

    select distinct period_id, invoice_id from {{ ref('int_fees__progressive_billing') }}

),

currencies as (

    select * from {{ ref('currencies') }}

),

spine as (

    {{ integer_series(1, var('max_threshold_top_ups', 2000)) }}

),

rule_elements as (

    select
        wallets.wallet_id,
        wallets.valid_from,
        wallets.valid_to,
        rule.idx as rule_index,
        {{ json_str('rule.value', 'trigger') }} as rule_trigger,
        coalesce({{ json_str('rule.value', 'method') }}, 'fixed') as rule_method,
        {{ floor_credits("cast(" ~ json_str('rule.value', 'threshold_credits') ~ " as decimal(38, 10))") }} as threshold_credits,
        coalesce({{ floor_credits("cast(" ~ json_str('rule.value', 'paid_credits') ~ " as decimal(38, 10))") }}, 0) as rule_paid_credits,
        coalesce({{ floor_credits("cast(" ~ json_str('rule.value', 'granted_credits') ~ " as decimal(38, 10))") }}, 0) as rule_granted_credits,
        {{ floor_credits("cast(" ~ json_str('rule.value', 'target_ongoing_balance') ~ " as decimal(38, 10))") }} as target_ongoing_balance,
        {{ parse_utc(json_str('rule.value', 'expiration_at')) }} as rule_expires_at
    from wallets
    {{ json_array_elements('wallets.recurring_transaction_rules', 'rule') }}
    where wallets.action = 'upsert'

),

threshold_rules as (

    -- the wallet version's first threshold rule (Lago reads one)
    select * from (
        select
            rule_elements.*,
            row_number() over (partition by wallet_id, valid_from order by rule_index) as rule_rank
        from rule_elements
        where rule_trigger = 'threshold'
    ) as ranked
    where rule_rank = 1

),

threshold_wallets as (

    select spans.*, currencies.subunit_to_unit
    from spans
    inner join currencies on currencies.code = spans.currency
    where spans.wallet_id in (select wallet_id from threshold_rules)

),

paid_requests as (

    select requests.wallet_transaction_id, min(payment_events.received_at) as paid_at
    from requests
    inner join payment_events
        on payment_events.invoice_id = requests.invoice_id
        and payment_events.payment_status = 'succeeded'
    where requests.transaction_status = 'purchased'
    group by requests.wallet_transaction_id

),

request_steps as (

    -- the wallet's own requests, as int_wallets__ledger moves them
    select
        requests.wallet_id,
        requests.wallet_transaction_id as step_id,
        'request' as step_kind,
        coalesce(case when requests.transaction_status = 'purchased' then paid_requests.paid_at
                      else requests.created_at end, requests.created_at) as ordered_at,
        case when requests.transaction_type = 'inbound' then 0 else 1 end as instant_order,
        case when requests.transaction_type = 'inbound'
                  and (requests.transaction_status <> 'purchased' or paid_requests.paid_at is not null)
                  and (threshold_wallets.ended_at is null
                       or coalesce(paid_requests.paid_at, requests.created_at) < threshold_wallets.ended_at)
             then requests.amount_cents else 0 end as inflow_cents,
        case when requests.transaction_type = 'outbound' then requests.amount_cents else 0 end as asked_cents,
        cast(null as varchar) as invoice_id,
        false as keeps_take,
        cast(null as integer) as top_up_index
    from requests
    inner join threshold_wallets on threshold_wallets.wallet_id = requests.wallet_id
    left join paid_requests on paid_requests.wallet_transaction_id = requests.wallet_transaction_id

),

invoice_steps as (

    select
        threshold_wallets.wallet_id,
        md5('prepaid/' || invoices.invoice_id) as step_id,
        'invoice' as step_kind,
        invoices.finalizes_at as ordered_at,
        1 as instant_order,
        cast(0 as bigint) as inflow_cents,
        cast(invoices.total_before_prepaid_credits_cents as bigint) as asked_cents,
        invoices.invoice_id,
        voids.invoice_id is not null as keeps_take,
        cast(null as integer) as top_up_index
    from invoices
    inner join threshold_wallets
        on threshold_wallets.external_customer_id = invoices.external_customer_id
        and threshold_wallets.currency = invoices.currency
        and threshold_wallets.created_at <= invoices.finalizes_at
        and (threshold_wallets.ended_at is null or invoices.finalizes_at < threshold_wallets.ended_at)
    left join voids on voids.invoice_id = invoices.invoice_id
    where invoices.status = 'finalized'
      and not invoices.is_skipped
      and invoices.invoice_type in ('subscription', 'progressive_billing')
      and invoices.total_before_prepaid_credits_cents > 0

),

recredit_steps as (

    -- a voided invoice gives back what it took (int_wallets__ledger's recredit)
    select
        invoice_steps.wallet_id,
        md5('recredit/' || invoice_steps.invoice_id) as step_id,
        'recredit' as step_kind,
        voids.voided_at as ordered_at,
        0 as instant_order,
        cast(0 as bigint) as inflow_cents,
        cast(0 as bigint) as asked_cents,
        invoice_steps.invoice_id,
        false as keeps_take,
        cast(null as integer) as top_up_index
    from invoice_steps
    inner join voids on voids.invoice_id = invoice_steps.invoice_id
    inner join threshold_wallets on threshold_wallets.wallet_id = invoice_steps.wallet_id
    where threshold_wallets.ended_at is null or voids.voided_at < threshold_wallets.ended_at

),

end_steps as (

    select
        wallet_id,
        md5('end/' || wallet_id) as step_id,
        'end' as step_kind,
        ended_at as ordered_at,
        2 as instant_order,
        cast(0 as bigint) as inflow_cents,
        cast(null as bigint) as asked_cents,
        cast(null as varchar) as invoice_id,
        false as keeps_take,
        cast(null as integer) as top_up_index
    from threshold_wallets
    where ended_at <= {{ as_of() }}

),

top_up_invoices as (

    -- the credit invoice the n-th threshold top-up of a wallet would have
    select
        threshold_wallets.wallet_id,
        cast(spine.n as integer) as top_up_index,
        'threshold/' || threshold_wallets.wallet_id || '/' || cast(spine.n as varchar) as request_id,
        md5(threshold_wallets.external_customer_id || '|credit|' || 'threshold/' || threshold_wallets.wallet_id
            || '/' || cast(spine.n as varchar)) as invoice_id
    from threshold_wallets
    cross join spine

),

payment_steps as (

    -- a payment of a threshold top-up's credit invoice settles it, if it is still pending
    select distinct
        top_up_invoices.wallet_id,
        md5(top_up_invoices.request_id || '/purchased') as step_id,
        'top_up_payment' as step_kind,
        payment_events.received_at as ordered_at,
        0 as instant_order,
        cast(0 as bigint) as inflow_cents,
        cast(0 as bigint) as asked_cents,
        top_up_invoices.invoice_id,
        false as keeps_take,
        top_up_invoices.top_up_index
    from top_up_invoices
    inner join payment_events
        on payment_events.invoice_id = top_up_invoices.invoice_id
        and payment_events.payment_status = 'succeeded'

),

arrival_steps as (

    -- an event of one of the customer's subscriptions arrived: usage, so the ongoing balance, moved
    select distinct
        threshold_wallets.wallet_id,
        'arrival' as step_id,
        'arrival' as step_kind,
        snapshot_totals.snapshot_at as ordered_at,
        3 as instant_order,
        cast(0 as bigint) as inflow_cents,
        cast(0 as bigint) as asked_cents,
        cast(null as varchar) as invoice_id,
        false as keeps_take,
        cast(null as integer) as top_up_index
    from snapshot_totals
    inner join threshold_wallets
        on threshold_wallets.external_customer_id = snapshot_totals.external_customer_id
        and threshold_wallets.created_at <= snapshot_totals.snapshot_at

),

all_steps as (

    select * from request_steps
    union all
    select * from invoice_steps
    union all
    select * from recredit_steps
    union all
    select * from end_steps
    union all
    select * from payment_steps
    union all
    select * from arrival_steps

),

ordered_steps as (

    select
        all_steps.*,
        cast(row_number() over (
            partition by wallet_id order by ordered_at, instant_order, step_id) as integer) as step_index,
        lead(ordered_at) over (
            partition by wallet_id order by ordered_at, instant_order, step_id) as next_ordered_at
    from all_steps
    where ordered_at <= {{ as_of() }}

),

instants as (

    select distinct ordered_steps.wallet_id, threshold_wallets.external_customer_id, ordered_steps.ordered_at
    from ordered_steps
    inner join threshold_wallets on threshold_wallets.wallet_id = ordered_steps.wallet_id

),

snapshot_usage as (

    -- usage not invoiced yet of a period in progress as known at an event arrival, taxes
    -- included (Lago's current usage; invoiceable pay-in-advance fees are already invoiced)
    select snapshot_totals.*
    from snapshot_totals
    inner join threshold_wallets on threshold_wallets.external_customer_id = snapshot_totals.external_customer_id

),

instant_snapshots as (

    -- per subscription, the latest snapshot by that instant of the period it is in
    select
        instants.wallet_id,
        instants.ordered_at,
        snapshot_usage.billing_period_id,
        snapshot_usage.unbilled_amount_cents as usage_cents,
        rank() over (partition by instants.wallet_id, instants.ordered_at, snapshot_usage.subscription_id
                     order by snapshot_usage.snapshot_at desc) as recency
    from instants
    inner join snapshot_usage
        on snapshot_usage.external_customer_id = instants.external_customer_id
        and snapshot_usage.snapshot_at <= instants.ordered_at
        and snapshot_usage.to_at > instants.ordered_at

),

instant_progressive as (

    -- what the period's progressive invoices finalized by that instant, and not voided by then,
    -- billed of its usage (Lago's Subscriptions::ProgressiveBilledAmount)
    select
        instant_snapshots.wallet_id,
        instant_snapshots.ordered_at,
        instant_snapshots.billing_period_id,
        sum(invoices.sub_total_including_taxes_amount_cents) as progressive_billed_cents
    from instant_snapshots
    inner join progressive_invoices on progressive_invoices.period_id = instant_snapshots.billing_period_id
    inner join invoices
        on invoices.invoice_id = progressive_invoices.invoice_id
        and invoices.finalizes_at <= instant_snapshots.ordered_at
    left join voids
        on voids.invoice_id = invoices.invoice_id
        and voids.voided_at <= instant_snapshots.ordered_at
    where instant_snapshots.recency = 1 and voids.invoice_id is null
    group by instant_snapshots.wallet_id, instant_snapshots.ordered_at, instant_snapshots.billing_period_id

),

instant_usage as (

    select
        instant_snapshots.wallet_id,
        instant_snapshots.ordered_at,
        sum(instant_snapshots.usage_cents - coalesce(instant_progressive.progressive_billed_cents, 0)) as usage_cents
    from instant_snapshots
    left join instant_progressive
        on instant_progressive.wallet_id = instant_snapshots.wallet_id
        and instant_progressive.ordered_at = instant_snapshots.ordered_at
        and instant_progressive.billing_period_id = instant_snapshots.billing_period_id
    where instant_snapshots.recency = 1
    group by instant_snapshots.wallet_id, instant_snapshots.ordered_at

),

instant_drafts as (

    -- invoices issued but still drafts at that instant (grace period): owed, not taken yet
    select instants.wallet_id, instants.ordered_at, sum(invoices.total_before_prepaid_credits_cents) as draft_cents
    from instants
    inner join invoices
        on invoices.external_customer_id = instants.external_customer_id
        and invoices.invoice_type = 'subscription'
        and invoices.issued_at <= instants.ordered_at
        and invoices.finalizes_at > instants.ordered_at
    group by instants.wallet_id, instants.ordered_at

),

instant_pending as (

    -- the credits of the wallet's own purchases not paid yet at that instant
    select instants.wallet_id, instants.ordered_at, sum(requests.credit_amount) as pending_credits
    from instants
    inner join requests
        on requests.wallet_id = instants.wallet_id
        and requests.transaction_status = 'purchased'
        and requests.created_at <= instants.ordered_at
    left join paid_requests on paid_requests.wallet_transaction_id = requests.wallet_transaction_id
    where paid_requests.paid_at is null or paid_requests.paid_at > instants.ordered_at
    group by instants.wallet_id, instants.ordered_at

),

steps as (

    select
        ordered_steps.*,
        threshold_wallets.rate_amount,
        threshold_wallets.subunit_to_unit,
        -- evaluated once per instant, after everything that moved then, while the wallet is
        -- active and its version in force holds an unexpired threshold rule
        (ordered_steps.next_ordered_at is null or ordered_steps.next_ordered_at > ordered_steps.ordered_at)
            and threshold_rules.wallet_id is not null
            and (threshold_wallets.ended_at is null or ordered_steps.ordered_at < threshold_wallets.ended_at)
            as is_evaluated,
        threshold_rules.rule_method,
        threshold_rules.threshold_credits,
        threshold_rules.rule_paid_credits,
        threshold_rules.rule_granted_credits,
        threshold_rules.target_ongoing_balance,
        cast(coalesce(instant_usage.usage_cents, 0) + coalesce(instant_drafts.draft_cents, 0) as bigint)
            as ongoing_usage_cents,
        cast(coalesce(instant_pending.pending_credits, 0) as decimal(38, 5)) as own_pending_credits
    from ordered_steps
    inner join threshold_wallets on threshold_wallets.wallet_id = ordered_steps.wallet_id
    left join threshold_rules
        on threshold_rules.wallet_id = ordered_steps.wallet_id
        and threshold_rules.valid_from <= ordered_steps.ordered_at
        and (threshold_rules.valid_to is null or ordered_steps.ordered_at < threshold_rules.valid_to)
        and (threshold_rules.rule_expires_at is null or ordered_steps.ordered_at < threshold_rules.rule_expires_at)
    left join instant_usage
        on instant_usage.wallet_id = ordered_steps.wallet_id and instant_usage.ordered_at = ordered_steps.ordered_at
    left join instant_drafts
        on instant_drafts.wallet_id = ordered_steps.wallet_id and instant_drafts.ordered_at = ordered_steps.ordered_at
    left join instant_pending
        on instant_pending.wallet_id = ordered_steps.wallet_id and instant_pending.ordered_at = ordered_steps.ordered_at

),

{#- One step of the walk, from the state after the previous step (walk) and the step (steps).
    A recursive term cannot nest its reference in a subquery (PostgreSQL), so each quantity is
    a column of a LATERAL subquery reading the ones before it: written inline instead, every
    quantity would repeat all those it is built from, and the statement would grow to hundreds of
    kilobytes that DuckDB takes seconds to plan even when there is no wallet. -#}
{%- set top_up_key = "cast(steps.top_up_index as varchar)" %}

walked as (

    -- the recursive walk, nested so that the model's own WITH stays plain (dbt unit tests insert
    -- their fixtures there)
    with recursive walk as (

    select
        wallet_id,
        0 as step_index,
        cast(null as varchar) as step_id,
        cast(null as timestamp) as ordered_at,
        cast(0 as bigint) as balance_before_top_up_cents,
        cast(0 as bigint) as balance_cents,
        cast(0 as decimal(38, 5)) as pending_credits,
        cast(';' as varchar) as pending_map,
        cast(';' as varchar) as takes_map,
        0 as top_ups_count,
        false as is_fired,
        cast(0 as bigint) as ongoing_balance_cents,
        cast(0 as decimal(38, 5)) as credits_ongoing_balance,
        cast(0 as decimal(38, 5)) as paid_credits,
        cast(0 as bigint) as paid_cents,
        cast(0 as decimal(38, 5)) as granted_credits,
        cast(0 as bigint) as granted_cents
    from threshold_wallets

    union all

    select
        walk.wallet_id,
        steps.step_index,
        steps.step_id,
        steps.ordered_at,
        cast(balance.balance_mid as bigint) as balance_before_top_up_cents,
        cast(balance.balance_mid + top_up.granted_cents as bigint) as balance_cents,
        cast(balance.pending_mid + case when top_up.paid_cents > 0
            then {{ cents_to_credits('top_up.paid_cents', 'steps.rate_amount', 'steps.subunit_to_unit') }} else 0 end
            as decimal(38, 5)) as pending_credits,
        cast(case when top_up.paid_cents > 0 then {{ text_map_put(
                "case when settled.is_settled then " ~ text_map_drop('walk.pending_map', top_up_key, 'pending.pending_value') ~ " else walk.pending_map end",
                "cast(walk.top_ups_count + 1 as varchar)",
                "cast(top_up.paid_cents as varchar) || ':' || cast(" ~ cents_to_credits('top_up.paid_cents', 'steps.rate_amount', 'steps.subunit_to_unit') ~ " as varchar)") }}
             when settled.is_settled then {{ text_map_drop('walk.pending_map', top_up_key, 'pending.pending_value') }}
             else walk.pending_map end as varchar) as pending_map,
        cast(case when steps.keeps_take and taken.take_cents > 0
                  then {{ text_map_put('walk.takes_map', 'steps.invoice_id', 'cast(taken.take_cents as varchar)') }}
                  else walk.takes_map end as varchar) as takes_map,
        walk.top_ups_count + case when fired_step.is_fired then 1 else 0 end as top_ups_count,
        fired_step.is_fired,
        cast(balance.balance_mid - steps.ongoing_usage_cents as bigint) as ongoing_balance_cents,
        cast(ongoing.ongoing_credits as decimal(38, 5)) as credits_ongoing_balance,
        cast(credits.paid_credits as decimal(38, 5)) as paid_credits,
        cast(top_up.paid_cents as bigint) as paid_cents,
        cast(credits.granted_credits as decimal(38, 5)) as granted_credits,
        cast(top_up.granted_cents as bigint) as granted_cents
    from walk
    inner join steps
        on steps.wallet_id = walk.wallet_id
        and steps.step_index = walk.step_index + 1
    -- what the maps hold for this step: a pending top-up it pays, what a voided invoice took
    cross join lateral (
        select
            {{ text_map_get('walk.pending_map', top_up_key) }} as pending_value,
            {{ text_map_get('walk.takes_map', 'steps.invoice_id') }} as take_value
    ) as pending
    cross join lateral (
        select (steps.step_kind = 'top_up_payment' and steps.top_up_index <= walk.top_ups_count
                and pending.pending_value <> '') as is_settled
    ) as settled
    cross join lateral (
        select walk.balance_cents + case
            when steps.step_kind = 'request' then steps.inflow_cents
            when steps.step_kind = 'recredit' then coalesce(cast(nullif(pending.take_value, '') as bigint), 0)
            when settled.is_settled then cast(split_part(pending.pending_value, ':', 1) as bigint)
            else 0 end as balance_in
    ) as inflow
    cross join lateral (
        select case when steps.step_kind in ('request', 'invoice', 'end')
                    then least(inflow.balance_in, coalesce(steps.asked_cents, inflow.balance_in)) else 0 end as take_cents
    ) as taken
    cross join lateral (
        select
            inflow.balance_in - taken.take_cents as balance_mid,
            walk.pending_credits - case when settled.is_settled
                then cast(split_part(pending.pending_value, ':', 2) as decimal(38, 5)) else 0 end as pending_mid
    ) as balance
    cross join lateral (
        select {{ cents_to_credits('(balance.balance_mid - steps.ongoing_usage_cents)', 'steps.rate_amount', 'steps.subunit_to_unit') }} as ongoing_credits
    ) as ongoing
    cross join lateral (
        select (steps.is_evaluated and ongoing.ongoing_credits <= steps.threshold_credits
                and steps.own_pending_credits + balance.pending_mid + ongoing.ongoing_credits <= steps.threshold_credits) as is_due
    ) as due
    cross join lateral (
        select
            case when not due.is_due then cast(0 as decimal(38, 5))
                 when steps.rule_method = 'target'
                     then greatest(cast(0 as decimal(38, 5)), cast(steps.target_ongoing_balance - ongoing.ongoing_credits as decimal(38, 5)))
                 else steps.rule_paid_credits end as paid_credits,
            case when due.is_due and steps.rule_method <> 'target' then steps.rule_granted_credits
                 else cast(0 as decimal(38, 5)) end as granted_credits
    ) as credits
    cross join lateral (
        select
            {{ credits_to_cents('credits.paid_credits', 'steps.rate_amount', 'steps.subunit_to_unit') }} as paid_cents,
            {{ credits_to_cents('credits.granted_credits', 'steps.rate_amount', 'steps.subunit_to_unit') }} as granted_cents
    ) as top_up
    cross join lateral (
        select (top_up.paid_cents > 0 or top_up.granted_cents > 0) as is_fired
    ) as fired_step

    )

    select * from walk

),

fired as (

    select
        walked.*,
        threshold_wallets.external_customer_id,
        threshold_wallets.currency,
        threshold_wallets.rate_amount,
        threshold_wallets.subunit_to_unit,
        'threshold/' || walked.wallet_id || '/' || cast(walked.top_ups_count as varchar) as request_id
    from walked
    inner join threshold_wallets on threshold_wallets.wallet_id = walked.wallet_id
    where walked.is_fired

),

split as (

    select fired.*, 'purchased' as transaction_status, paid_cents as amount_cents,
        {{ cents_to_credits('paid_cents', 'rate_amount', 'subunit_to_unit') }} as credit_amount
    from fired
    where paid_cents > 0

    union all

    select fired.*, 'granted' as transaction_status, granted_cents as amount_cents,
        granted_credits as credit_amount
    from fired
    where granted_cents > 0

),

final as (

    select
        -- ids (int_wallets__transactions' columns first, in its order)
        md5(request_id || '/' || transaction_status) as wallet_transaction_id,
        wallet_id,
        external_customer_id,
        case when transaction_status = 'purchased'
             then md5(external_customer_id || '|credit|' || request_id) end as invoice_id,
        'inbound' as transaction_type,
        transaction_status,
        'threshold' as source,

        -- credits and money
        currency,
        rate_amount,
        subunit_to_unit,
        cast(credit_amount as decimal(38, 5)) as credit_amount,
        cast(amount_cents as bigint) as amount_cents,

        -- timestamps
        ordered_at as created_at,

        -- the evaluation that made it
        cast(top_ups_count as integer) as top_up_index,
        balance_before_top_up_cents,
        ongoing_balance_cents,
        credits_ongoing_balance

    from split

)

select * from final
