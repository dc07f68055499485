{#- Coupons consumed by invoices, in Lago's order, as a recursion over the steps of each customer:
    one step per (invoice, applied coupon), invoices in issuing order, the coupons of an invoice in
    application order (int_coupons__applied). Each step carries the state of every applied coupon
    of the customer (remaining amount, remaining periods, terminated) and of every fee (the
    coupon amount spread onto it so far), so a coupon's credit on an invoice depends on everything
    applied before it, exactly as Lago applies them one after the other:

    - a coupon applies to subscription invoices (pay-in-advance charge and progressive billing
      invoices included, one-off invoices excluded) issued after it was applied and before it was terminated, with fees
      above 0; it is skipped once the invoice's subtotal (fees - coupons so far) is 0, when no fee
      of the invoice is in its plans or billable metrics, when it is terminated, and (fixed
      amount) when its currency is not the invoice's;
    - what progressive invoices already billed of a fee (int_fees__progressive_credits) is taken
      off first, as Lago does before coupons: it starts as the fee's share and lowers the subtotal;
    - its base is the invoice's subtotal, or, when limited to plans or billable metrics, the sum of
      (amount_cents - coupon share so far) of the fees it targets;
    - percentage: base x rate / 100 rounded half away from zero to a whole minor unit (the whole
      base when that is not below it); fixed amount: the amount (once: what remains of it), at
      most the base; a credit is a whole number of minor units (a decimal base is truncated);
    - the credit is spread onto the targeted fees pro rata of (amount_cents - share so far) over
      the base, exact to 10 decimals (Lago's precise_coupons_amount_cents), a fee's share never
      above its amount_cents;
    - after a credit: a fixed once coupon keeps its remaining amount for the next invoices and is
      terminated when the credit took all of it; a percentage once coupon is terminated; a
      recurring coupon has one period less and is terminated at 0; forever never ends. -#}
{%- set w = 'over (partition by r.external_customer_id)' -%}
{%- set this_coupon = "r.entity_id = s.applied_coupon_id" -%}
{%- set inv_credits = "sum(case when r.entity_type = 'coupon' and r.credited_invoice_id = s.invoice_id then r.credit_cents else 0 end) " ~ w -%}
{%- set sub_total = "(s.invoice_fees_amount_cents - " ~ inv_credits ~ ")" -%}
{%- set elig_base = "sum(case when e.fee_id is not null then r.amount_cents - r.precise_coupons_amount_cents else 0 end) " ~ w -%}
{%- set elig_count = "sum(case when e.fee_id is not null then 1 else 0 end) " ~ w -%}
{%- set c_terminated = "max(case when " ~ this_coupon ~ " then r.is_terminated else 0 end) " ~ w -%}
{%- set c_remaining = "max(case when " ~ this_coupon ~ " then r.remaining_cents end) " ~ w -%}
{%- set base = "(case when s.is_limited then " ~ elig_base ~ " else " ~ sub_total ~ " end)" -%}
{%- set applies = "(" ~ sub_total ~ " > 0 and " ~ elig_count ~ " > 0 and " ~ c_terminated ~ " = 0 and s.is_currency_matching)" -%}
{%- set raw_credit -%}
case when s.coupon_type = 'percentage'
          then case when {{ base }} * s.percentage_rate * 0.01 >= {{ base }} then {{ base }}
                    else round({{ base }} * s.percentage_rate * 0.01, 0) end
     when s.frequency = 'once'
          then case when {{ c_remaining }} > {{ base }} then {{ base }} else {{ c_remaining }} end
     else case when s.amount_cents > {{ base }} then {{ base }} else s.amount_cents end
end
{%- endset -%}
{%- set credit = "cast(case when " ~ applies ~ " then floor(" ~ raw_credit ~ ") else 0 end as " ~ money_type() ~ ")" -%}
with recursive

fees as (

    select * from {{ ref('int_fees__computed') }}

),

fee_plans as (

    select * from {{ ref('int_fees__plans') }}

),

applied_coupons as (

    select * from {{ ref('int_coupons__applied') }}

),

progressive_credits as (

    select * from {{ ref('int_fees__progressive_credits') }}

),

coupon_fees as (

    -- the fees coupons can apply to: those of subscription invoices of customers with coupons
    select
        fees.fee_id,
        fees.invoice_id,
        fees.external_customer_id,
        fees.metric_code,
        fee_plans.plan_code,
        {{ to_money('fees.amount_cents') }} as amount_cents,
        -- what progressive invoices already billed of the fee, deducted before coupons (Lago)
        {{ to_money('coalesce(progressive_credits.progressive_billing_credit_amount_cents, 0)') }}
            as progressive_cents,
        fees.currency,
        fees.billed_at
    from fees
    inner join fee_plans on fee_plans.fee_id = fees.fee_id
    left join progressive_credits on progressive_credits.fee_id = fees.fee_id
    where fees.invoice_id is not null
      and fees.invoice_type in ('subscription', 'progressive_billing')
      and fees.external_customer_id in (select external_customer_id from applied_coupons)

),

invoices as (

    select
        invoice_id,
        external_customer_id,
        min(billed_at) as issued_at,
        min(currency) as currency,
        sum(amount_cents - progressive_cents) as fees_amount_cents
    from coupon_fees
    group by invoice_id, external_customer_id
    having sum(amount_cents - progressive_cents) > 0

),

plan_targets as (

    select applied_coupons.applied_coupon_id, {{ json_scalar_text('target.value') }} as plan_code
    from applied_coupons
    {{ json_array_elements(json_get('applied_coupons.applies_to', 'plan_codes'), 'target') }}
    where applied_coupons.is_limited_to_plans

),

metric_targets as (

    select applied_coupons.applied_coupon_id, {{ json_scalar_text('target.value') }} as metric_code
    from applied_coupons
    {{ json_array_elements(json_get('applied_coupons.applies_to', 'billable_metric_codes'), 'target') }}
    where applied_coupons.is_limited_to_billable_metrics

),

eligibility as (

    select coupon_fees.fee_id, applied_coupons.applied_coupon_id
    from coupon_fees
    inner join applied_coupons on applied_coupons.external_customer_id = coupon_fees.external_customer_id
    where not applied_coupons.is_limited_to_plans and not applied_coupons.is_limited_to_billable_metrics

    union all

    select coupon_fees.fee_id, plan_targets.applied_coupon_id
    from coupon_fees
    inner join applied_coupons on applied_coupons.external_customer_id = coupon_fees.external_customer_id
    inner join plan_targets
        on plan_targets.applied_coupon_id = applied_coupons.applied_coupon_id
        and plan_targets.plan_code = coupon_fees.plan_code

    union all

    select coupon_fees.fee_id, metric_targets.applied_coupon_id
    from coupon_fees
    inner join applied_coupons on applied_coupons.external_customer_id = coupon_fees.external_customer_id
    inner join metric_targets
        on metric_targets.applied_coupon_id = applied_coupons.applied_coupon_id
        and metric_targets.metric_code = coupon_fees.metric_code

),

steps as (

    select
        invoices.external_customer_id,
        invoices.invoice_id,
        {{ to_money('invoices.fees_amount_cents') }} as invoice_fees_amount_cents,
        applied_coupons.applied_coupon_id,
        applied_coupons.coupon_type,
        applied_coupons.frequency,
        {{ to_money('applied_coupons.amount_cents') }} as amount_cents,
        applied_coupons.percentage_rate,
        applied_coupons.is_limited_to_plans or applied_coupons.is_limited_to_billable_metrics as is_limited,
        applied_coupons.coupon_type = 'percentage' or applied_coupons.currency = invoices.currency
            as is_currency_matching,
        cast(row_number() over (
            partition by invoices.external_customer_id
            order by invoices.issued_at, invoices.invoice_id, applied_coupons.application_order
        ) as integer) as step_number
    from invoices
    inner join applied_coupons
        on applied_coupons.external_customer_id = invoices.external_customer_id
        and applied_coupons.applied_at <= invoices.issued_at
        and (applied_coupons.terminated_at is null or applied_coupons.terminated_at > invoices.issued_at)

),

entities as (

    select
        applied_coupons.external_customer_id,
        'coupon' as entity_type,
        applied_coupons.applied_coupon_id as entity_id,
        cast(null as varchar) as invoice_id,
        {{ to_money('0') }} as amount_cents,
        {{ to_money('0') }} as precise_coupons_amount_cents,
        {{ to_money("case when applied_coupons.coupon_type = 'fixed_amount' and applied_coupons.frequency = 'once'
                         then applied_coupons.amount_cents end") }}
            as remaining_cents,
        cast(case when applied_coupons.frequency = 'recurring' then applied_coupons.frequency_duration end as integer)
            as periods_remaining,
        0 as is_terminated,
        {{ to_money('0') }} as credit_cents,
        cast(null as varchar) as credited_invoice_id,
        0 as credited_step,
        {{ to_money('0') }} as progressive_cents
    from applied_coupons
    where applied_coupons.external_customer_id in (select external_customer_id from steps)

    union all

    select
        coupon_fees.external_customer_id,
        'fee' as entity_type,
        coupon_fees.fee_id as entity_id,
        coupon_fees.invoice_id,
        coupon_fees.amount_cents,
        coupon_fees.progressive_cents as precise_coupons_amount_cents,
        {{ to_money('null') }} as remaining_cents,
        cast(null as integer) as periods_remaining,
        0 as is_terminated,
        {{ to_money('0') }} as credit_cents,
        cast(null as varchar) as credited_invoice_id,
        0 as credited_step,
        coupon_fees.progressive_cents
    from coupon_fees
    where coupon_fees.invoice_id in (select invoice_id from steps)

),

consumption as (

    select 0 as step_number, entities.* from entities

    union all

    select
        s.step_number,
        r.external_customer_id,
        r.entity_type,
        r.entity_id,
        r.invoice_id,
        r.amount_cents,
        {{ to_money("case when e.fee_id is not null and " ~ applies ~ " and " ~ base ~ " > 0
             then least(r.amount_cents, r.precise_coupons_amount_cents + "
                  ~ div_decimals(credit ~ ' * (r.amount_cents - r.precise_coupons_amount_cents)', base) ~ ")
             else r.precise_coupons_amount_cents end") }} as precise_coupons_amount_cents,
        {{ to_money("case when " ~ this_coupon ~ " and " ~ applies ~ " and s.frequency = 'once'
                    and s.coupon_type = 'fixed_amount'
             then r.remaining_cents - " ~ credit ~ " else r.remaining_cents end") }} as remaining_cents,
        cast(case when {{ this_coupon }} and {{ applies }} and s.frequency = 'recurring'
                  then greatest(r.periods_remaining - 1, 0) else r.periods_remaining end as integer)
            as periods_remaining,
        case when {{ this_coupon }} and {{ applies }}
                  and ((s.frequency = 'once' and (s.coupon_type = 'percentage' or {{ credit }} >= r.remaining_cents))
                       or (s.frequency = 'recurring' and r.periods_remaining - 1 <= 0))
             then 1 else r.is_terminated end as is_terminated,
        {{ to_money("case when " ~ this_coupon ~ " and " ~ applies ~ " then " ~ credit ~ " else r.credit_cents end") }}
            as credit_cents,
        case when {{ this_coupon }} and {{ applies }} then s.invoice_id else r.credited_invoice_id end
            as credited_invoice_id,
        case when {{ this_coupon }} and {{ applies }} then s.step_number else r.credited_step end as credited_step,
        r.progressive_cents
    from consumption as r
    inner join steps as s
        on s.external_customer_id = r.external_customer_id
        and s.step_number = r.step_number + 1
    left join eligibility as e
        on e.fee_id = r.entity_id
        and e.applied_coupon_id = s.applied_coupon_id
        and r.invoice_id = s.invoice_id

),

coupon_credits as (

    -- a credit (Lago's credit of coupon kind) at the step that applied it
    select
        'coupon_credit' as record_type,
        credited_invoice_id as invoice_id,
        external_customer_id,
        entity_id as applied_coupon_id,
        cast(null as varchar) as fee_id,
        cast(credit_cents as bigint) as amount_cents,
        {{ to_money('credit_cents') }} as precise_amount_cents,
        remaining_cents as remaining_amount_cents,
        periods_remaining,
        is_terminated = 1 as is_terminated,
        step_number
    from consumption
    where entity_type = 'coupon' and credited_step = step_number and step_number > 0

),

fee_states as (

    select
        *,
        row_number() over (partition by entity_id order by step_number desc) as recency
    from consumption
    where entity_type = 'fee'

),

fee_shares as (

    -- every fee's coupon share after all the steps
    select
        'fee_share' as record_type,
        invoice_id,
        external_customer_id,
        cast(null as varchar) as applied_coupon_id,
        entity_id as fee_id,
        cast(null as bigint) as amount_cents,
        {{ to_money('precise_coupons_amount_cents - progressive_cents') }} as precise_amount_cents,
        {{ to_money('null') }} as remaining_amount_cents,
        cast(null as integer) as periods_remaining,
        false as is_terminated,
        step_number
    from fee_states
    where recency = 1 and precise_coupons_amount_cents - progressive_cents > 0

),

final as (

    select * from coupon_credits
    union all
    select * from fee_shares

)

select * from final
