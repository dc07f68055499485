{#- A small key/value map kept in one text column, for the sequential wallet walk
    (int_wallets__threshold_top_ups), where a recursive CTE can only carry the previous row:
    ';key=value;key=value;' with keys that hold no ';' or '='. The same string functions exist on
    DuckDB and PostgreSQL (split_part, replace, ||). -#}

{#- The value of `key` in `map`, '' when absent. -#}
{% macro text_map_get(map, key) -%}
split_part(split_part({{ map }}, ';' || {{ key }} || '=', 2), ';', 1)
{%- endmacro %}

{#- `map` with key=value appended. -#}
{% macro text_map_put(map, key, value) -%}
{{ map }} || {{ key }} || '=' || {{ value }} || ';'
{%- endmacro %}

{#- `map` without `key` (whose current value is `value`). -#}
{% macro text_map_drop(map, key, value) -%}
replace({{ map }}, ';' || {{ key }} || '=' || {{ value }} || ';', ';')
{%- endmacro %}
