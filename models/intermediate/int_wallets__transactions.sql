{#- Every credit movement asked of a wallet up to as_of, before any is settled or consumed:
    - the paid and granted credits a wallet is created with;
    - top-ups and voids (Lago's POST /wallet_transactions);
    - the top-ups of recurring interval rules (method fixed): paid_credits and granted_credits
      at every interval after the rule's started_at (else the wallet's creation), while the
      wallet version holding the rule is in force and the wallet has not ended.
    Purchased (paid) credits are worth their amount rounded to the minor unit and are re-derived
    from it (credit = amount / rate_amount), granted and voided credits are kept as given; both
    as Lago's WalletCredit does. A purchase is billed on a credit invoice of its own and only
    counts once that invoice is paid (int_wallets__ledger). -#}
with

wallets as (

    select * from {{ ref('stg_wallets') }}

),

spans as (

    select * from {{ ref('int_wallets__spans') }}

),

requests as (

    select * from {{ ref('stg_wallet_transactions') }}

),

currencies as (

    select * from {{ ref('currencies') }}

),

spine as (

    {{ integer_series(1, var('max_periods', 2000)) }}

),

created_credits as (

    select wallet_id, 'creation/' || wallet_id as request_id, 'manual' as source,
        {{ floor_credits('paid_credits') }} as paid_credits,
        {{ floor_credits('granted_credits') }} as granted_credits,
        cast(null as decimal(38, 5)) as voided_credits,
        created_at
    from spans

),

requested_credits as (

    select wallet_id, request_id, 'manual' as source, paid_credits, granted_credits, voided_credits, created_at
    from requests

),

rules as (

    select
        wallets.wallet_id,
        wallets.valid_from,
        wallets.valid_to,
        wallets.created_at as wallet_created_at,
        rule.idx as rule_index,
        {{ json_str('rule.value', 'interval') }} as rule_interval,
        {{ parse_utc(json_str('rule.value', 'started_at')) }} as started_at,
        {{ floor_credits("cast(" ~ json_str('rule.value', 'paid_credits') ~ " as decimal(38, 10))") }} as paid_credits,
        {{ floor_credits("cast(" ~ json_str('rule.value', 'granted_credits') ~ " as decimal(38, 10))") }} as granted_credits
    from wallets
    {{ json_array_elements('wallets.recurring_transaction_rules', 'rule') }}
    where wallets.action = 'upsert'
      and {{ json_str('rule.value', 'trigger') }} = 'interval'

),

rule_occurrences as (

    select
        rules.wallet_id,
        'interval/' || rules.wallet_id || '/' || cast(rules.rule_index as varchar) || '/'
            || {{ iso_utc('rules.valid_from') }} || '/' || cast(spine.n as varchar) as request_id,
        'interval' as source,
        rules.paid_credits,
        rules.granted_credits,
        cast(null as decimal(38, 5)) as voided_credits,
        {{ period_boundary_local('coalesce(rules.started_at, rules.wallet_created_at)',
            "case rules.rule_interval when 'weekly' then 0 when 'monthly' then 1 when 'quarterly' then 3
                  when 'semiannual' then 6 when 'yearly' then 12 end", 'spine.n') }} as created_at,
        rules.valid_from,
        rules.valid_to
    from rules
    cross join spine

),

due_rule_occurrences as (

    select wallet_id, request_id, source, paid_credits, granted_credits, voided_credits, created_at
    from rule_occurrences
    where created_at >= valid_from
      and (valid_to is null or created_at < valid_to)
      and created_at <= {{ as_of() }}

),

all_requests as (

    select * from created_credits
    union all
    select * from requested_credits
    union all
    select * from due_rule_occurrences

),

priced_wallet_requests as (

    select
        all_requests.*,
        spans.external_customer_id,
        spans.currency,
        spans.rate_amount,
        currencies.subunit_to_unit
    from all_requests
    inner join spans on spans.wallet_id = all_requests.wallet_id
    inner join currencies on currencies.code = spans.currency
    where spans.terminated_at is null or all_requests.created_at < spans.terminated_at

),

split as (

    {%- for status, column, direction in [('purchased', 'paid_credits', 'inbound'),
                                          ('granted', 'granted_credits', 'inbound'),
                                          ('voided', 'voided_credits', 'outbound')] %}
    select
        priced_wallet_requests.*,
        '{{ status }}' as transaction_status,
        '{{ direction }}' as transaction_type,
        {{ column }} as requested_credits
    from priced_wallet_requests
    where {{ column }} > 0
    {% if not loop.last %}union all{% endif %}
    {%- endfor %}

),

priced as (

    select
        *,
        {{ credits_to_cents('requested_credits', 'rate_amount', 'subunit_to_unit') }} as amount_cents
    from split

),

final as (

    select
        -- ids
        md5(request_id || '/' || transaction_status) as wallet_transaction_id,
        wallet_id,
        external_customer_id,
        -- a purchase is billed on a credit invoice of its own
        case when transaction_status = 'purchased'
             then md5(external_customer_id || '|credit|' || request_id) end as invoice_id,
        transaction_type,
        transaction_status,
        source,

        -- credits and money
        currency,
        rate_amount,
        subunit_to_unit,
        case when transaction_status = 'purchased'
             then {{ cents_to_credits('amount_cents', 'rate_amount', 'subunit_to_unit') }}
             else cast(requested_credits as decimal(38, 5)) end as credit_amount,
        cast(amount_cents as bigint) as amount_cents,

        -- timestamps
        created_at

    from priced

)

select * from final
