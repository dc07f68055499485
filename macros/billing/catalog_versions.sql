{#- The versions of one catalog object type, as known at as_of: each change is in force from its
    received_at (valid_from) until the next change of the same object (valid_to, NULL = current). -#}
{% macro catalog_versions(object_type) -%}
select
    object_key,
    action,
    payload,
    seq,
    received_at as valid_from,
    lead(received_at) over (partition by object_key order by received_at, seq) as valid_to,
    min(received_at) over (partition by object_key) as first_received_at
from {{ source('raw', 'catalog_changes') }}
where object_type = '{{ object_type }}'
  and received_at <= {{ as_of() }}
{%- endmacro %}

{% macro json_bool(column, path, default='false') -%}
coalesce(cast({{ json_str(column, path) }} as boolean), {{ default }})
{%- endmacro %}

{#- The value each event's metric expression computes (as text), from the var
    `metric_expressions` ({code: SQL over properties and event_timestamp}) that `tally bill`
    passes after checking and translating every expression (tally.expressions). Evaluated where
    `properties`, `event_timestamp` and `metric_code` are the columns of one event. -#}
{% macro metric_expression_value() -%}
{%- set expressions = var('metric_expressions', {}) -%}
{%- if expressions -%}
case metric_code
    {%- for code, sql in expressions.items() %}
    when '{{ code | replace("'", "''") }}' then cast({{ sql }} as {{ dbt.type_string() }})
    {%- endfor %}
end
{%- else -%}
cast(null as {{ dbt.type_string() }})
{%- endif -%}
{%- endmacro %}
