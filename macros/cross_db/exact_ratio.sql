{#- num / den for DECIMAL operands (den > 0, both with at most 10 decimals), exact, rounded half
    away from zero at `scale` decimals (at most 10). div_round needs an integer divisor; this one
    scales both operands to integers first, so a pro-rata share over a decimal base stays exact. -#}
{% macro div_decimals(num, den, scale=10) -%}
{{ return(adapter.dispatch('div_decimals', 'tally')(num, den, scale)) }}
{%- endmacro %}

{% macro default__div_decimals(num, den, scale) -%}
cast(round(cast({{ num }} as numeric) / cast({{ den }} as numeric), {{ scale }}) as decimal(38, {{ scale }}))
{%- endmacro %}

{% macro duckdb__div_decimals(num, den, scale) -%}
(sign({{ num }}) * cast(
    (cast(abs(cast({{ num }} as decimal(38, 10))) * {{ 10 ** 10 }} as hugeint) * {{ 10 ** scale }} * 2
        + cast(cast({{ den }} as decimal(38, 10)) * {{ 10 ** 10 }} as hugeint))
    // (2 * cast(cast({{ den }} as decimal(38, 10)) * {{ 10 ** 10 }} as hugeint))
  as decimal(38, 0)) * {{ decimal_unit(scale) }})
{%- endmacro %}
