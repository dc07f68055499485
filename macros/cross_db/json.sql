{#- JSON access. Paths are dotted keys ('plan.code'); DuckDB stores JSON, PostgreSQL jsonb. -#}

{% macro json_path_list(path) -%}
{{ return(path.split('.')) }}
{%- endmacro %}

{% macro json_str(column, path) -%}
{{ return(adapter.dispatch('json_str', 'tally')(column, path)) }}
{%- endmacro %}

{% macro default__json_str(column, path) -%}
({{ column }} #>> '{ {{- json_path_list(path) | join(',') -}} }')
{%- endmacro %}

{% macro duckdb__json_str(column, path) -%}
json_extract_string({{ column }}, '$.{{ json_path_list(path) | map("tojson") | join(".") }}')
{%- endmacro %}


{% macro json_get(column, path) -%}
{{ return(adapter.dispatch('json_get', 'tally')(column, path)) }}
{%- endmacro %}

{% macro default__json_get(column, path) -%}
({{ column }} #> '{ {{- json_path_list(path) | join(',') -}} }')
{%- endmacro %}

{% macro duckdb__json_get(column, path) -%}
json_extract({{ column }}, '$.{{ json_path_list(path) | map("tojson") | join(".") }}')
{%- endmacro %}


{#- The text of the property named by the value of `key_column` (event properties by a metric's field_name). -#}
{% macro json_str_by_key(column, key_column) -%}
{{ return(adapter.dispatch('json_str_by_key', 'tally')(column, key_column)) }}
{%- endmacro %}

{% macro default__json_str_by_key(column, key_column) -%}
({{ column }} ->> {{ key_column }})
{%- endmacro %}

{#- DuckDB reads a bare key as a key, without parsing a path built for each row (a third cheaper
    over 10M events); a key a bare path would misread ('', '$…', '/…') takes the quoted path. -#}
{% macro duckdb__json_str_by_key(column, key_column) -%}
case when {{ key_column }} = '' or left({{ key_column }}, 1) in ('$', '/')
     then json_extract_string({{ column }}, '$."' || {{ key_column }} || '"')
     else json_extract_string({{ column }}, {{ key_column }}) end
{%- endmacro %}


{#- A lateral join over the elements of a JSON array: gives `alias.idx` (0-based) and `alias.value`. -#}
{% macro json_array_elements(json_expr, alias) -%}
{{ return(adapter.dispatch('json_array_elements', 'tally')(json_expr, alias)) }}
{%- endmacro %}

{% macro default__json_array_elements(json_expr, alias) -%}
cross join lateral (
    select cast(ordinality - 1 as integer) as idx, value
    from jsonb_array_elements(case when jsonb_typeof({{ json_expr }}) = 'array' then {{ json_expr }} else '[]'::jsonb end)
        with ordinality
) as {{ alias }}
{%- endmacro %}

{% macro duckdb__json_array_elements(json_expr, alias) -%}
cross join lateral (
    select cast(key as integer) as idx, value
    from json_each(case when json_type({{ json_expr }}) = 'ARRAY' then {{ json_expr }} else cast('[]' as json) end)
) as {{ alias }}
{%- endmacro %}


{% macro json_type_name(column) -%}
{{ return(adapter.dispatch('json_type_name', 'tally')(column)) }}
{%- endmacro %}

{% macro default__json_type_name(column) -%}
jsonb_typeof({{ column }})
{%- endmacro %}

{% macro duckdb__json_type_name(column) -%}
lower(json_type({{ column }}))
{%- endmacro %}


{% macro json_text(column) -%}
{{ return(adapter.dispatch('json_text', 'tally')(column)) }}
{%- endmacro %}

{% macro default__json_text(column) -%}
cast({{ column }} as text)
{%- endmacro %}

{% macro duckdb__json_text(column) -%}
cast({{ column }} as varchar)
{%- endmacro %}


{#- A lateral join over the entries of a JSON object: gives `alias.key` (text) and `alias.value` (JSON). -#}
{% macro json_object_entries(json_expr, alias) -%}
{{ return(adapter.dispatch('json_object_entries', 'tally')(json_expr, alias)) }}
{%- endmacro %}

{% macro default__json_object_entries(json_expr, alias) -%}
cross join lateral (
    select key, value
    from jsonb_each(case when jsonb_typeof({{ json_expr }}) = 'object' then {{ json_expr }} else '{}'::jsonb end)
) as {{ alias }}
{%- endmacro %}

{% macro duckdb__json_object_entries(json_expr, alias) -%}
cross join lateral (
    select key, value
    from json_each(case when json_type({{ json_expr }}) = 'OBJECT' then {{ json_expr }} else cast('{}' as json) end)
) as {{ alias }}
{%- endmacro %}


{#- A text value as a JSON string literal ("a\"b"), or null; the same text on every warehouse. -#}
{% macro json_quote(text) -%}
{{ return(adapter.dispatch('json_quote', 'tally')(text)) }}
{%- endmacro %}

{% macro default__json_quote(text) -%}
coalesce(cast(to_jsonb(cast({{ text }} as text)) as text), 'null')
{%- endmacro %}

{% macro duckdb__json_quote(text) -%}
coalesce(cast(to_json(cast({{ text }} as varchar)) as varchar), 'null')
{%- endmacro %}

{#- The text of a JSON scalar (a string without its quotes, a number as written). -#}
{% macro json_scalar_text(json_expr) -%}
{{ return(adapter.dispatch('json_scalar_text', 'tally')(json_expr)) }}
{%- endmacro %}

{% macro default__json_scalar_text(json_expr) -%}
({{ json_expr }} #>> '{}')
{%- endmacro %}

{% macro duckdb__json_scalar_text(json_expr) -%}
json_extract_string({{ json_expr }}, '$')
{%- endmacro %}
