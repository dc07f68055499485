{#- The charge amounts (int_charges__amounts) of Lago's current usage: the periods in progress at
    as_of that have started, as known now (not the hindsight variants kept for the crossings). -#}
{% macro current_usage_filter(relation) -%}
not {{ relation }}.is_closed and not {{ relation }}.is_hindsight and {{ relation }}.from_at <= {{ as_of() }}
{%- endmacro %}
