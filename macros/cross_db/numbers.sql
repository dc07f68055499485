{#- Exact arithmetic. Money and units are DECIMAL end to end; DuckDB turns DECIMAL / DECIMAL into
    DOUBLE, so no model divides decimals directly: they call these macros. -#}

{% macro money_type() -%}decimal(38, 10){%- endmacro %}
{% macro units_type() -%}decimal(38, 10){%- endmacro %}

{#- An amount before it is expressed in cents: units (10 decimals) x a price (10 decimals) is
    exact at 20 decimals. -#}
{% macro to_exact_amount(expr) -%}cast({{ expr }} as decimal(38, 20)){%- endmacro %}

{% macro to_money(expr) -%}cast({{ expr }} as {{ money_type() }}){%- endmacro %}
{% macro to_units(expr) -%}cast({{ expr }} as {{ units_type() }}){%- endmacro %}

{#- Integer quotient of two non-negative integers (floor). -#}
{% macro int_div(a, b) -%}
{{ return(adapter.dispatch('int_div', 'tally')(a, b)) }}
{%- endmacro %}

{% macro default__int_div(a, b) -%}
div(cast({{ a }} as numeric), cast({{ b }} as numeric))
{%- endmacro %}

{% macro duckdb__int_div(a, b) -%}
(cast({{ a }} as hugeint) // cast({{ b }} as hugeint))
{%- endmacro %}

{#- num / den for an integer den > 0, exact, rounded half away from zero at `scale` decimals.
    num must have at most `scale` decimals (it is scaled to an integer first). -#}
{% macro div_round(num, den, scale=10) -%}
{{ return(adapter.dispatch('div_round', 'tally')(num, den, scale)) }}
{%- endmacro %}

{% macro default__div_round(num, den, scale) -%}
cast(round(cast({{ num }} as numeric) / cast({{ den }} as numeric), {{ scale }}) as decimal(38, {{ scale }}))
{%- endmacro %}

{% macro duckdb__div_round(num, den, scale) -%}
(sign({{ num }}) * cast(
    (cast(abs(cast({{ num }} as decimal(38, {{ scale }}))) * {{ 10 ** scale }} as hugeint) * 2 + cast({{ den }} as hugeint))
    // (2 * cast({{ den }} as hugeint))
  as decimal(38, 0)) * {{ decimal_unit(scale) }})
{%- endmacro %}

{#- num / den rounded UP at `scale` decimals (Lago's prorated units), for num >= 0 and den > 0. -#}
{% macro div_ceil(num, den, scale=5) -%}
{{ return(adapter.dispatch('div_ceil', 'tally')(num, den, scale)) }}
{%- endmacro %}

{% macro default__div_ceil(num, den, scale) -%}
cast(ceil(cast({{ num }} as numeric) * {{ 10 ** scale }} / cast({{ den }} as numeric)) / {{ 10 ** scale }} as {{ units_type() }})
{%- endmacro %}

{% macro duckdb__div_ceil(num, den, scale) -%}
cast(cast(
    (cast(cast({{ num }} as decimal(38, 10)) * {{ 10 ** 10 }} as hugeint) * {{ 10 ** scale }}
        + cast({{ den }} as hugeint) * {{ 10 ** 10 }} - 1)
    // (cast({{ den }} as hugeint) * {{ 10 ** 10 }})
  as decimal(38, 0)) * {{ decimal_unit(scale) }} as {{ units_type() }})
{%- endmacro %}

{#- Text to a number when it looks like one (Lago reads only /-?\d+(\.\d+)?/), else NULL. -#}
{% macro numeric_or_null(text) -%}
{{ return(adapter.dispatch('numeric_or_null', 'tally')(text)) }}
{%- endmacro %}

{% macro default__numeric_or_null(text) -%}
case when {{ text }} ~ '^-?[0-9]+(\.[0-9]+)?$' then cast({{ text }} as {{ units_type() }}) end
{%- endmacro %}

{% macro duckdb__numeric_or_null(text) -%}
case when regexp_full_match({{ text }}, '-?[0-9]+(\.[0-9]+)?') then cast({{ text }} as {{ units_type() }}) end
{%- endmacro %}

{#- 0..n as a relation with one column `n`. -#}
{% macro integer_series(lo, hi) -%}
select cast(n as integer) as n from generate_series({{ lo }}, {{ hi }}) as series(n)
{%- endmacro %}

{#- The literal 10^-scale (0.001 for 3), a DECIMAL in every warehouse. -#}
{% macro decimal_unit(scale) -%}
{{ "1" if scale == 0 else "0." ~ ("0" * (scale - 1)) ~ "1" }}
{%- endmacro %}

{#- Lago's metric rounding: `fn` is round, ceil or floor (NULL: no rounding), `precision` the
    number of decimals (negative: tens, hundreds, ...). Exact for precisions from -10 to 10. -#}
{% macro round_units(units, fn, precision) -%}
case {{ fn }}
    when 'round' then sign({{ units }}) * floor(abs({{ units }}) * {{ power_of_ten('coalesce(' ~ precision ~ ', 0)') }} + 0.5)
                      * {{ power_of_ten('-coalesce(' ~ precision ~ ', 0)') }}
    when 'ceil' then ceil({{ units }} * {{ power_of_ten('coalesce(' ~ precision ~ ', 0)') }})
                     * {{ power_of_ten('-coalesce(' ~ precision ~ ', 0)') }}
    when 'floor' then floor({{ units }} * {{ power_of_ten('coalesce(' ~ precision ~ ', 0)') }})
                      * {{ power_of_ten('-coalesce(' ~ precision ~ ', 0)') }}
    else {{ units }}
end
{%- endmacro %}

{#- 10^n as an exact DECIMAL for an integer n in [-10, 10]. -#}
{% macro power_of_ten(n) -%}
cast(power(10, {{ n }}) as decimal(38, 10))
{%- endmacro %}

{#- An amount (in cents) for part of a period, as Lago prorates by days: amount x days billed /
    days of the full period, exact at 10 decimals; the whole amount when every day is billed. -#}
{% macro prorated_by_days(amount, days, full_days) -%}
case when {{ days }} = {{ full_days }} then {{ to_money(amount) }}
     else {{ div_round(amount ~ ' * (' ~ days ~ ')', full_days, 10) }} end
{%- endmacro %}
