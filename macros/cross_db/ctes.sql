{#- `with name as {{ not_materialized() }} (...)`: a CTE that every reference computes again.
    DuckDB stores a CTE read twice as a temporary result; for one that only adds a column to a
    large table (events), scanning the table twice is cheaper than storing and re-reading it. -#}
{% macro not_materialized() -%}
{{ return(adapter.dispatch('not_materialized', 'tally')()) }}
{%- endmacro %}

{% macro default__not_materialized() -%}
{%- endmacro %}

{% macro duckdb__not_materialized() -%}
not materialized
{%- endmacro %}
