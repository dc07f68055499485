{#- A charge bucket's id is its pricing_id, '|', and the JSON of its group values (grouped_by,
    '{}' without group keys), as int_events__subscribed builds it: the group values, read back
    from a bucket_id and the pricing_id it starts with. -#}
{% macro bucket_grouped_by(bucket_id, pricing_id) -%}
substr({{ bucket_id }}, length({{ pricing_id }}) + 2)
{%- endmacro %}
