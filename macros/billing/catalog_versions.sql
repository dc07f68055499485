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


{#- The local start of a subscription's first billing period (calendar: the start of the
    week/month/quarter/half-year/year containing it; anniversary: the start date). -#}
{% macro period_anchor_local(started_local, billing_time, plan_interval) -%}
cast(case
    when {{ billing_time }} = 'anniversary' then date_trunc('day', {{ started_local }})
    when {{ plan_interval }} = 'weekly' then date_trunc('week', {{ started_local }})
    when {{ plan_interval }} = 'monthly' then date_trunc('month', {{ started_local }})
    when {{ plan_interval }} = 'quarterly' then date_trunc('quarter', {{ started_local }})
    when {{ plan_interval }} = 'semiannual' then {{ add_months("date_trunc('year', " ~ started_local ~ ")",
        "case when extract(month from " ~ started_local ~ ") >= 7 then 6 else 0 end") }}
    when {{ plan_interval }} = 'yearly' then date_trunc('year', {{ started_local }})
end as timestamp)
{%- endmacro %}

{#- The k-th period boundary from the anchor (interval_months 0 = weekly). -#}
{% macro period_boundary_local(anchor_local, interval_months, k) -%}
case when {{ interval_months }} = 0 then {{ add_days(anchor_local, '(' ~ k ~ ') * 7') }}
     else {{ add_months(anchor_local, '(' ~ k ~ ') * ' ~ interval_months) }} end
{%- endmacro %}

{#- The first period boundary strictly after `ts_local`. -#}
{% macro next_period_boundary_local(anchor_local, interval_months, ts_local) -%}
{%- set k -%}
case when {{ interval_months }} = 0 then {{ int_div(days_between(anchor_local, ts_local), 7) }}
     else {{ int_div('(extract(year from ' ~ ts_local ~ ') - extract(year from ' ~ anchor_local ~ ')) * 12 + extract(month from '
                     ~ ts_local ~ ') - extract(month from ' ~ anchor_local ~ ')', interval_months) }} end
{%- endset -%}
case when {{ period_boundary_local(anchor_local, interval_months, k) }} > {{ ts_local }}
     then {{ period_boundary_local(anchor_local, interval_months, k) }}
     else {{ period_boundary_local(anchor_local, interval_months, k ~ ' + 1') }} end
{%- endmacro %}

{#- The billing period a charge period belongs to: its own id (subscription/N), or, for the months
    of a yearly or semiannual plan billing charges monthly (subscription/N.M), without the month. -#}
{% macro billing_period_of(period_id) -%}
regexp_replace({{ period_id }}, '[.][0-9]+$', '')
{%- endmacro %}
