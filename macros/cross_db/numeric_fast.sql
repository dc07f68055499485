{#- numeric_or_null (the same values: NULL unless the text is /-?\d+(\.\d+)?/, else the number as
    units_type), for the per-event paths. On DuckDB, casting text to decimal(38, 10) (a HUGEINT) costs
    about 3 µs a value, 10x a cast to decimal(18, 10): values with at most 8 integer and 10 decimal
    digits (all usual ones) take the short cast, which is exact for them; the others the usual one. -#}
{% macro numeric_or_null_fast(text) -%}
{{ return(adapter.dispatch('numeric_or_null_fast', 'tally')(text)) }}
{%- endmacro %}

{% macro default__numeric_or_null_fast(text) -%}
{{ numeric_or_null(text) }}
{%- endmacro %}

{% macro duckdb__numeric_or_null_fast(text) -%}
case when regexp_full_match({{ text }}, '-?[0-9]{1,8}(\.[0-9]{1,10})?')
     then cast(cast({{ text }} as decimal(18, 10)) as {{ units_type() }})
     else {{ numeric_or_null(text) }}
end
{%- endmacro %}
