{#- Lago's charge models, one implementation each, shared by every fee path (invoices and
    current usage read the same int_charges__amounts). Amounts are in the currency's major unit
    (as in Lago's charge properties); callers convert to cents. -#}

{#- standard: every unit at the same price. -#}
{% macro standard_amount(units, amount) -%}
({{ units }} * {{ amount }})
{%- endmacro %}

{#- graduated, one tier: the units falling in it (min(total, to) - from + 1 for a tier starting
    above 0, min(total, to) for the first) at its per-unit price, plus its flat amount once when
    reached. A tier is reached when the total exceeds the previous tier's to_value (= from - 1). -#}
{% macro graduated_tier_amount(units, from_value, to_value, per_unit_amount, flat_amount) -%}
case
    when {{ units }} <= 0 then 0
    when {{ from_value }} = 0 or {{ units }} > {{ from_value }} - 1 then
        (case when {{ to_value }} is not null and {{ to_value }} < {{ units }} then {{ to_value }} else {{ units }} end
            - case when {{ from_value }} = 0 then 0 else {{ from_value }} - 1 end) * {{ per_unit_amount }}
        + {{ flat_amount }}
    else 0
end
{%- endmacro %}

{#- volume, one tier: all units at the price of the tier holding the total, plus its flat amount.
    A prorated charge picks the tier by its full (unprorated) units and prices its prorated units
    (Lago's full_units_number); otherwise tier_units are the units. -#}
{% macro volume_tier_amount(units, from_value, to_value, per_unit_amount, flat_amount, tier_units=none) -%}
{%- set tier_units = tier_units or units -%}
case
    when {{ tier_units }} <= 0 then 0
    when ({{ from_value }} = 0 or {{ tier_units }} > {{ from_value }} - 1)
         and ({{ to_value }} is null or {{ tier_units }} <= {{ to_value }})
        then {{ units }} * {{ per_unit_amount }} + {{ flat_amount }}
    else 0
end
{%- endmacro %}

{#- package: ceil((units - free units) / package size) packages, never below zero. -#}
{% macro package_amount(units, amount, package_size, free_units) -%}
case
    when {{ units }} <= {{ free_units }} then 0
    else {{ div_ceil(units ~ ' - ' ~ free_units, package_size, 0) }} * {{ amount }}
end
{%- endmacro %}

{#- percentage, aggregated: rate (a fraction) of the units left after free units, plus the fixed
    amount of every paying event. running_total: the total of the events Lago keeps a running
    total of (the first N, or up to the one passing the free amount X); events_below: how many of
    those stay below X. Free units are the running total capped at X; free events the smaller
    non-zero of N and events_below; no units cost nothing. -#}
{% macro percentage_amount(units, events_count, running_total, events_below, rate, fixed_amount, free_events, free_total) -%}
{%- set free_units -%}
case when coalesce({{ running_total }}, 0) = 0 then 0
     when {{ free_total }} = 0 or {{ running_total }} <= {{ free_total }} then {{ running_total }}
     else {{ free_total }} end
{%- endset -%}
{%- set free_count -%}
case when {{ free_events }} <> 0 and coalesce({{ events_below }}, 0) <> 0
          then least({{ free_events }}, {{ events_below }})
     when {{ free_events }} <> 0 then {{ free_events }}
     else coalesce({{ events_below }}, 0) end
{%- endset -%}
{{ to_exact_amount("case when " ~ free_units ~ " > " ~ units ~ " then 0 else (" ~ units ~ " - " ~ free_units ~ ") * " ~ rate ~ " end") }}
+ {{ to_exact_amount("case when " ~ units ~ " = 0 or " ~ free_count ~ " >= " ~ events_count ~ " then 0 else ("
                     ~ events_count ~ " - " ~ free_count ~ ") * " ~ fixed_amount ~ " end") }}
{%- endmacro %}

{#- percentage, one transaction (with a minimum or maximum per transaction): rate of what free
    units leave of it plus the fixed amount, clamped to [min, max]; a free event (paying_value
    null) costs nothing. -#}
{% macro percentage_transaction_amount(paying_value, rate, fixed_amount, min_amount, max_amount) -%}
{%- set amount = '(' ~ to_exact_amount(paying_value ~ ' * ' ~ rate) ~ ' + ' ~ fixed_amount ~ ')' -%}
case
    when {{ paying_value }} is null then {{ to_exact_amount(0) }}
    when {{ min_amount }} is not null and {{ amount }} < {{ min_amount }} then {{ to_exact_amount(min_amount) }}
    when {{ max_amount }} is not null and {{ amount }} > {{ max_amount }} then {{ to_exact_amount(max_amount) }}
    else {{ to_exact_amount(amount) }}
end
{%- endmacro %}

{#- percentage, per event, over the events of a bucket in order (partition_by, order_by): whether
    Lago keeps a running total of the event (the first N events, else those up to the one that
    passes the free amount X), and, priced per transaction, what free units leave of it (null: a
    free event; X > 0 frees units up to the event whose running total reaches X, which pays on its
    excess; otherwise the first N events are free). total_through: the running total through the
    event. -#}
{% macro percentage_event_marks(value, total_through, event_index, free_events, free_total, partition_by, order_by) -%}
{%- set window_to_here = 'partition by ' ~ partition_by ~ ' order by ' ~ order_by ~ ' rows between unbounded preceding and current row' -%}
{%- set window_before = 'partition by ' ~ partition_by ~ ' order by ' ~ order_by ~ ' rows between unbounded preceding and 1 preceding' -%}
case when {{ free_events }} > 0 then {{ event_index }} < {{ free_events }}
     when {{ free_total }} > 0 then max({{ total_through }} - {{ value }}) over ({{ window_to_here }}) <= {{ free_total }}
     else false end as is_in_running_total,
case
    when {{ free_total }} > 0 then
        case when max({{ total_through }}) over ({{ window_to_here }}) < {{ free_total }} then null
             when coalesce(max({{ total_through }}) over ({{ window_before }}), {{ free_total }} - 1) < {{ free_total }}
                  then {{ total_through }} - {{ free_total }}
             else {{ value }} end
    when {{ event_index }} < {{ free_events }} then null
    else {{ value }}
end as paying_value
{%- endmacro %}

{#- percentage, its properties as columns: rate (a fraction: 1.5 % is 0.015), fixed_amount,
    free_events (free_units_per_events), free_total (free_units_per_total_aggregation),
    min_amount and max_amount per transaction (null when absent). -#}
{% macro percentage_terms(properties) -%}
{{ to_money("cast(coalesce(" ~ json_str(properties, 'rate') ~ ", '0') as " ~ money_type() ~ ") * 0.01") }} as rate,
{{ to_money("coalesce(nullif(" ~ json_str(properties, 'fixed_amount') ~ ", ''), '0')") }} as fixed_amount,
cast(coalesce(nullif({{ json_str(properties, 'free_units_per_events') }}, ''), '0') as integer) as free_events,
{{ to_units("coalesce(nullif(" ~ json_str(properties, 'free_units_per_total_aggregation') ~ ", ''), '0')") }} as free_total,
{{ to_money("nullif(" ~ json_str(properties, 'per_transaction_min_amount') ~ ", '')") }} as min_amount,
{{ to_money("nullif(" ~ json_str(properties, 'per_transaction_max_amount') ~ ", '')") }} as max_amount
{%- endmacro %}
