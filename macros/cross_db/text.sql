{#- Zero-padded to at least `width` digits, never truncated (Lago's %03d). -#}
{% macro lpad_min(expr, width) -%}
case when length(cast({{ expr }} as varchar)) < {{ width }}
     then lpad(cast({{ expr }} as varchar), {{ width }}, '0')
     else cast({{ expr }} as varchar) end
{%- endmacro %}

{#- YYYYMM of a timestamp, as text. -#}
{% macro yyyymm(ts) -%}
cast(extract(year from {{ ts }}) * 100 + extract(month from {{ ts }}) as {{ dbt.type_string() }})
{%- endmacro %}
