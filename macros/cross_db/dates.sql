{#- Time. Every timestamp in Tally's models is a naive UTC `timestamp`; local wall-clock time
    exists only in the columns named *_local, converted with these two macros. -#}

{% macro to_local(ts, tz) -%}
cast((cast({{ ts }} as timestamp) at time zone 'UTC') at time zone {{ tz }} as timestamp)
{%- endmacro %}

{% macro from_local(ts, tz) -%}
cast((cast({{ ts }} as timestamp) at time zone {{ tz }}) at time zone 'UTC' as timestamp)
{%- endmacro %}

{#- An ISO 8601 string (with an offset, or UTC when it has none) as a naive UTC timestamp. -#}
{% macro parse_utc(text) -%}
{{ return(adapter.dispatch('parse_utc', 'tally')(text)) }}
{%- endmacro %}

{% macro default__parse_utc(text) -%}
cast(cast({{ text }} as timestamptz) at time zone 'UTC' as timestamp)
{%- endmacro %}

{% macro as_of() -%}
cast('{{ var("as_of") }}' as timestamp)
{%- endmacro %}

{% macro add_months(ts, n) -%}
{{ return(adapter.dispatch('add_months', 'tally')(ts, n)) }}
{%- endmacro %}

{% macro default__add_months(ts, n) -%}
cast({{ ts }} + make_interval(months => cast({{ n }} as integer)) as timestamp)
{%- endmacro %}

{% macro duckdb__add_months(ts, n) -%}
cast({{ ts }} + to_months(cast({{ n }} as integer)) as timestamp)
{%- endmacro %}

{% macro add_days(ts, n) -%}
{{ return(adapter.dispatch('add_days', 'tally')(ts, n)) }}
{%- endmacro %}

{% macro default__add_days(ts, n) -%}
cast({{ ts }} + make_interval(days => cast({{ n }} as integer)) as timestamp)
{%- endmacro %}

{% macro duckdb__add_days(ts, n) -%}
cast({{ ts }} + to_days(cast({{ n }} as integer)) as timestamp)
{%- endmacro %}

{% macro add_seconds(ts, n) -%}
{{ return(adapter.dispatch('add_seconds', 'tally')(ts, n)) }}
{%- endmacro %}

{% macro default__add_seconds(ts, n) -%}
cast({{ ts }} + make_interval(secs => cast({{ n }} as double precision)) as timestamp)
{%- endmacro %}

{% macro duckdb__add_seconds(ts, n) -%}
cast({{ ts }} + to_microseconds(cast(round(cast({{ n }} as double) * 1000000) as bigint)) as timestamp)
{%- endmacro %}

{#- Whole days from date a to date b (b - a). -#}
{% macro days_between(a, b) -%}
{{ return(adapter.dispatch('days_between', 'tally')(a, b)) }}
{%- endmacro %}

{% macro default__days_between(a, b) -%}
(cast({{ b }} as date) - cast({{ a }} as date))
{%- endmacro %}

{% macro duckdb__days_between(a, b) -%}
date_diff('day', cast({{ a }} as date), cast({{ b }} as date))
{%- endmacro %}

{% macro epoch_seconds(ts) -%}
{{ return(adapter.dispatch('epoch_seconds', 'tally')(ts)) }}
{%- endmacro %}

{% macro default__epoch_seconds(ts) -%}
cast(extract(epoch from {{ ts }}) as bigint)
{%- endmacro %}

{% macro duckdb__epoch_seconds(ts) -%}
cast(epoch({{ ts }}) as bigint)
{%- endmacro %}

{#- ISO 8601 text with a Z, for outputs that must read the same on every warehouse. -#}
{% macro iso_utc(ts) -%}
{{ return(adapter.dispatch('iso_utc', 'tally')(ts)) }}
{%- endmacro %}

{% macro default__iso_utc(ts) -%}
to_char({{ ts }}, 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
{%- endmacro %}

{% macro duckdb__iso_utc(ts) -%}
strftime({{ ts }}, '%Y-%m-%dT%H:%M:%SZ')
{%- endmacro %}
