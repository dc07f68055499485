{#- Customers' wallets as known at as_of, with Lago's balance fields:
    - balance_cents / credits_balance: settled credits in minus credits out;
    - consumed_amount_cents / consumed_credits: what invoices took, less what voided invoices
      gave back (Lago resets the consumed credits on a recredit);
    - ongoing_usage_balance_cents: what the customer owes but has not been invoiced for yet: the
      usage of the periods in progress with its taxes, less what pay-in-advance and progressive
      invoices already billed of it (fct_current_usage_totals.unbilled_amount_cents, Lago's
      Wallets::Balance::RefreshOngoingService), and the totals of draft invoices;
      ongoing_balance_cents = balance - that, as Lago shows it (it may be negative);
    - status active, or terminated once the wallet expired or was terminated.
    The settings (name, priority, expiration_at) are the latest version's. -#}
with

wallets as (

    select * from {{ ref('stg_wallets') }}

),

ledger as (

    select * from {{ ref('int_wallets__ledger') }}

),

invoices as (

    select * from {{ ref('int_invoices__computed') }}

),

current_usage as (

    select * from {{ ref('fct_current_usage_totals') }}

),

currencies as (

    select * from {{ ref('currencies') }}

),

latest_settings as (

    select * from wallets
    where action = 'upsert' and (valid_to is null or valid_to > {{ as_of() }})

),

creations as (

    select * from {{ ref('int_wallets__spans') }}

),

ends as (

    select wallet_id, min(created_at) as terminated_at
    from ledger
    where source in ('expiration', 'termination')
    group by wallet_id

),

balances as (

    select
        wallet_id,
        sum(case when status = 'settled' and transaction_type = 'inbound' then amount_cents else 0 end)
            - sum(case when transaction_type = 'outbound' then amount_cents else 0 end) as balance_cents,
        sum(case when transaction_status = 'invoiced' then amount_cents
                 when source = 'voided_invoice' then -amount_cents else 0 end) as consumed_amount_cents,
        sum(case when transaction_status = 'invoiced' then credit_amount
                 when source = 'voided_invoice' then -credit_amount else 0 end) as consumed_credits,
        max(case when transaction_status = 'invoiced' and amount_cents > 0 then created_at end) as last_consumed_credit_at
    from ledger
    group by wallet_id

),

ongoing_usage as (

    select external_customer_id, sum(amount_cents) as amount_cents
    from (
        select external_customer_id, cast(unbilled_amount_cents as decimal(38, 0)) as amount_cents
        from current_usage
        union all
        select external_customer_id, cast(total_before_prepaid_credits_cents as decimal(38, 0)) as amount_cents
        from invoices
        where status = 'draft' and invoice_type = 'subscription'
    ) owed
    group by external_customer_id

),

final as (

    select
        -- ids
        creations.wallet_id,
        creations.external_customer_id,
        creations.wallet_code as code,
        coalesce(latest_settings.wallet_name, creations.wallet_name) as name,
        case when ends.terminated_at is null then 'active' else 'terminated' end as status,

        -- credits and money
        creations.currency,
        creations.rate_amount,
        latest_settings.priority,
        cast(coalesce(balances.balance_cents, 0) as bigint) as balance_cents,
        {{ cents_to_credits('coalesce(balances.balance_cents, 0)', 'creations.rate_amount', 'currencies.subunit_to_unit') }}
            as credits_balance,
        cast(coalesce(balances.consumed_amount_cents, 0) as bigint) as consumed_amount_cents,
        cast(coalesce(balances.consumed_credits, 0) as decimal(38, 5)) as consumed_credits,
        cast(case when ends.terminated_at is null then coalesce(ongoing_usage.amount_cents, 0) else 0 end as bigint)
            as ongoing_usage_balance_cents,
        cast(coalesce(balances.balance_cents, 0)
             - case when ends.terminated_at is null then coalesce(ongoing_usage.amount_cents, 0) else 0 end as bigint)
            as ongoing_balance_cents,

        -- timestamps
        creations.created_at,
        latest_settings.expiration_at,
        ends.terminated_at,
        balances.last_consumed_credit_at

    from creations
    inner join currencies on currencies.code = creations.currency
    left join latest_settings on latest_settings.wallet_id = creations.wallet_id
    left join ends on ends.wallet_id = creations.wallet_id
    left join balances on balances.wallet_id = creations.wallet_id
    left join ongoing_usage on ongoing_usage.external_customer_id = creations.external_customer_id

)

select * from final
