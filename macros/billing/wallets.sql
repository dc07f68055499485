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
