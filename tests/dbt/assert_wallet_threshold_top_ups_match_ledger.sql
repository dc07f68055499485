-- The wallet walk of int_wallets__threshold_top_ups replays the ledger step by step; the closed-form
-- ledger (int_wallets__ledger, threshold top-ups included) must agree with it: at every top-up, the
-- balance the walk evaluated equals the ledger's balance at that instant before the top-up (settled
-- credits in - credits out, up to and at that instant, without the top-up's own granted credits).
with

ledger as (

    select * from {{ ref('int_wallets__ledger') }}

),

top_ups as (

    select distinct wallet_id, top_up_index, created_at, balance_before_top_up_cents
    from {{ ref('int_wallets__threshold_top_ups') }}

),

ledger_balances as (

    select
        top_ups.wallet_id,
        top_ups.top_up_index,
        top_ups.created_at,
        top_ups.balance_before_top_up_cents,
        coalesce(sum(case when ledger.transaction_type = 'inbound' and ledger.status = 'settled' then ledger.amount_cents
                          when ledger.transaction_type = 'outbound' then -ledger.amount_cents
                          else 0 end), 0) as ledger_balance_cents
    from top_ups
    left join ledger
        on ledger.wallet_id = top_ups.wallet_id
        and ledger.ordered_at <= top_ups.created_at
        and not (ledger.source = 'threshold' and ledger.created_at = top_ups.created_at)
    group by top_ups.wallet_id, top_ups.top_up_index, top_ups.created_at, top_ups.balance_before_top_up_cents

)

select * from ledger_balances
where ledger_balance_cents <> balance_before_top_up_cents
