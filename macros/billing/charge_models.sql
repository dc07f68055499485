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
