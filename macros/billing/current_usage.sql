{#- The charge amounts (int_charges__amounts) of Lago's current usage: the periods in progress at
    as_of that have started, as known now (not the hindsight variants kept for the crossings). -#}
{% macro current_usage_filter(relation) -%}
not {{ relation }}.is_closed and not {{ relation }}.is_hindsight and {{ relation }}.from_at <= {{ as_of() }}
{%- endmacro %}

{#- The sums of a usage invoice over its fees (one row per fee: amount_cents, its exact taxes and
    whether a pay-in-advance invoice already billed it): amount_cents; taxes_amount_cents, Lago's
    usage invoice rounding its taxes once over the exact sum; pay_in_advance_billed_cents, what
    the pay-in-advance invoices billed, each fee with its own rounded taxes. -#}
{% macro usage_invoice_sums(amount, precise_taxes, is_billed_in_advance) -%}
sum({{ amount }}) as amount_cents,
        cast(round({{ to_money('sum(' ~ precise_taxes ~ ')') }}, 0) as bigint) as taxes_amount_cents,
        sum(case when {{ is_billed_in_advance }}
                 then {{ amount }} + cast(round({{ precise_taxes }}, 0) as bigint) else 0 end)
            as pay_in_advance_billed_cents
{%- endmacro %}
