{#- Within each `partition_by` group, the non-null values of column_name are exactly 1..n. -#}
{% test gapless_sequence(model, column_name, partition_by) %}
select {{ partition_by }}, min({{ column_name }}) as first_id, max({{ column_name }}) as last_id,
       count(distinct {{ column_name }}) as distinct_ids, count({{ column_name }}) as ids
from {{ model }}
where {{ column_name }} is not null
group by 1
having min({{ column_name }}) <> 1
    or max({{ column_name }}) <> count(distinct {{ column_name }})
    or count(distinct {{ column_name }}) <> count({{ column_name }})
{% endtest %}
