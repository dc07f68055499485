{#- Wallet credits, as Lago counts them: credits are kept at 5 decimals (floored when given), and
    a credit is worth rate_amount in the wallet's currency. -#}

{#- Credits given in a request, floored at 5 decimals (Lago's BigDecimal#floor(5)). -#}
{% macro floor_credits(credits) -%}
cast(cast(floor({{ credits }} * 100000) as decimal(38, 0)) * 0.00001 as decimal(38, 5))
{%- endmacro %}

{#- What `credits` are worth in minor units (cents): credits x rate_amount rounded half away
    from zero to the currency's minor unit (Lago's WalletCredit amount). -#}
{% macro credits_to_cents(credits, rate_amount, subunit_to_unit) -%}
cast(round({{ credits }} * {{ rate_amount }} * {{ subunit_to_unit }}, 0) as decimal(38, 0))
{%- endmacro %}

{#- The credits that `cents` minor units are worth, at 5 decimals (Lago's credit_amount of a
    transaction given in money: amount / rate_amount). -#}
{% macro cents_to_credits(cents, rate_amount, subunit_to_unit) -%}
cast({{ div_decimals(cents, '(' ~ rate_amount ~ ') * (' ~ subunit_to_unit ~ ')', 5) }} as decimal(38, 5))
{%- endmacro %}

{#- One pass of a wallet ledger over `movements` (one row per movement with wallet_id, the
    ordering columns ordered_at, instant_order, wallet_transaction_id, what it brings in,
    inflow_cents, and what it asks for, asked_cents): greedy consumption in time order, in closed
    form. With C and D the running sums of credits in and of amounts asked, what has been taken
    up to a movement is D - max(0, max so far of D - C); each row gets credited_cents,
    taken_to_date_cents and moved_cents (what it moved: its amount when inbound, what it could
    take when outbound). -#}
{% macro wallet_ledger_pass(movements) -%}
select
    taken.*,
    case
        when transaction_type = 'inbound' then requested_amount_cents
        else taken_to_date_cents - coalesce(lag(taken_to_date_cents) over (
            partition by wallet_id order by ordered_at, instant_order, wallet_transaction_id), 0)
    end as moved_cents
from (
    select
        shortfalls.*,
        asked_to_date_cents - unmet_to_date_cents as taken_to_date_cents
    from (
        select
            running.*,
            greatest(0, max(asked_to_date_cents - credited_cents) over (
                partition by wallet_id
                order by ordered_at, instant_order, wallet_transaction_id
                rows between unbounded preceding and current row
            )) as unmet_to_date_cents
        from (
            select
                counted.*,
                sum(inflow_cents) over (
                    partition by wallet_id
                    order by ordered_at, instant_order, wallet_transaction_id
                    rows between unbounded preceding and current row
                ) as credited_cents,
                sum(asked_cents) over (
                    partition by wallet_id
                    order by ordered_at, instant_order, wallet_transaction_id
                    rows between unbounded preceding and current row
                ) as asked_to_date_cents
            from {{ movements }} as counted
        ) as running
    ) as shortfalls
) as taken
{%- endmacro %}
