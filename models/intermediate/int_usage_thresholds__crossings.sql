{#- Progressive billing (Lago's usage_thresholds): the moments a subscription's lifetime usage
    reached a threshold of its plan, each one an invoice of type progressive_billing
    (int_fees__progressive_billing). Evaluated at every moment an event of the subscription
    arrived (its received_at, the knowledge time: Lago re-evaluates when events come in), with
    what was known then:
    - current usage U = the period in progress as known at that moment (the `snapshot` variants
      of int_billing__period_variants): the sum of every charge's amount_cents, before taxes, as
      Lago's current usage;
    - invoiced usage I = the amount_cents of the charge fees of the subscription's invoices
      finalized by then (in-arrears charges of closed periods, minimum-spend true-ups, invoiceable
      pay-in-advance charges), every plan segment of the external subscription;
    - lifetime usage L = I + U; b = L at the previous moment of the same period (I when none).
    Crossed at a moment: every non-recurring threshold with b < amount <= L; the recurring one
    (amount R, F = the largest non-recurring amount, 0 when none): when b < F, if L - F >= R;
    when b >= F, if L passed a multiple of R (floor(L / R) > floor(b / R)), as Lago's check. One
    invoice per moment, however many thresholds it crossed. This equals Lago's rule (thresholds
    above the usage last invoiced progressively) when a period's usage never decreases as events
    arrive. -#}
with

periods as (

    select * from {{ ref('int_billing__period_variants') }}

),

charge_amounts as (

    select * from {{ ref('int_charges__amounts') }}

),

pay_in_advance_fees as (

    select * from {{ ref('int_fees__pay_in_advance') }}

),

charge_true_ups as (

    select * from {{ ref('int_fees__charge_true_ups') }}

),

customers as (

    select * from {{ ref('int_customers__settings') }}

),

thresholds as (

    select * from {{ ref('stg_plan_usage_thresholds') }}
    where is_current

),

snapshots as (

    select * from periods
    where variant_type = 'snapshot'

),

current_usage as (

    select
        snapshots.period_id,
        snapshots.billing_period_id,
        snapshots.external_subscription_id,
        snapshots.external_customer_id,
        snapshots.plan_code,
        snapshots.currency,
        snapshots.snapshot_at,
        cast(coalesce(sum(cast(round(charge_amounts.precise_amount_cents, 0) as bigint)), 0) as bigint)
            as current_usage_amount_cents
    from snapshots
    left join charge_amounts on charge_amounts.period_id = snapshots.period_id
    group by snapshots.period_id, snapshots.billing_period_id, snapshots.external_subscription_id,
        snapshots.external_customer_id, snapshots.plan_code, snapshots.currency, snapshots.snapshot_at

),

invoiced_fees as (

    -- what the subscription's invoices billed for charges, and when each invoice was finalized
    select
        charge_amounts.external_subscription_id,
        cast(round(charge_amounts.precise_amount_cents, 0) as bigint) as amount_cents,
        {{ add_days('charge_amounts.to_at', 'customers.invoice_grace_period') }} as finalizes_at
    from charge_amounts
    inner join customers on customers.external_customer_id = charge_amounts.external_customer_id
    where charge_amounts.is_closed and charge_amounts.is_invoiceable
      and not charge_amounts.is_hindsight and not charge_amounts.is_pay_in_advance

    union all

    select
        charge_true_ups.external_subscription_id,
        cast(round(charge_true_ups.precise_amount_cents, 0) as bigint) as amount_cents,
        {{ add_days('charge_true_ups.to_at', 'customers.invoice_grace_period') }} as finalizes_at
    from charge_true_ups
    inner join customers on customers.external_customer_id = charge_true_ups.external_customer_id

    union all

    -- a pay-in-advance charge's invoice is final at once
    select
        external_subscription_id,
        cast(round(precise_amount_cents, 0) as bigint) as amount_cents,
        billed_at as finalizes_at
    from pay_in_advance_fees
    where is_invoiceable

),

invoiced_usage as (

    select
        current_usage.period_id,
        cast(coalesce(sum(invoiced_fees.amount_cents), 0) as bigint) as invoiced_usage_amount_cents
    from current_usage
    left join invoiced_fees
        on invoiced_fees.external_subscription_id = current_usage.external_subscription_id
        and invoiced_fees.finalizes_at <= current_usage.snapshot_at
    group by current_usage.period_id

),

lifetime as (

    select
        current_usage.*,
        invoiced_usage.invoiced_usage_amount_cents,
        cast(invoiced_usage.invoiced_usage_amount_cents + current_usage.current_usage_amount_cents as bigint)
            as lifetime_usage_amount_cents
    from current_usage
    inner join invoiced_usage on invoiced_usage.period_id = current_usage.period_id

),

evaluated as (

    select
        lifetime.*,
        cast(coalesce(lag(lifetime.lifetime_usage_amount_cents) over (
            partition by lifetime.billing_period_id order by lifetime.snapshot_at
        ), lifetime.invoiced_usage_amount_cents) as bigint) as previous_usage_amount_cents
    from lifetime

),

plan_thresholds as (

    select
        plan_code,
        cast(coalesce(max(case when not is_recurring then amount_cents end), 0) as bigint) as largest_amount_cents,
        cast(max(case when is_recurring then amount_cents end) as bigint) as recurring_amount_cents
    from thresholds
    group by plan_code

),

fixed_crossed as (

    select
        evaluated.period_id,
        count(*) as fixed_thresholds_count,
        max(thresholds.amount_cents) as largest_crossed_amount_cents
    from evaluated
    inner join thresholds
        on thresholds.plan_code = evaluated.plan_code
        and not thresholds.is_recurring
        and thresholds.amount_cents > evaluated.previous_usage_amount_cents
        and thresholds.amount_cents <= evaluated.lifetime_usage_amount_cents
    group by evaluated.period_id

),

checked as (

    select
        evaluated.*,
        coalesce(fixed_crossed.fixed_thresholds_count, 0) as fixed_thresholds_count,
        plan_thresholds.recurring_amount_cents,
        coalesce(plan_thresholds.recurring_amount_cents is not null and case
            when evaluated.previous_usage_amount_cents < plan_thresholds.largest_amount_cents
                then evaluated.lifetime_usage_amount_cents - plan_thresholds.largest_amount_cents
                     >= plan_thresholds.recurring_amount_cents
            else evaluated.lifetime_usage_amount_cents
                     - mod(evaluated.lifetime_usage_amount_cents, plan_thresholds.recurring_amount_cents)
                 > evaluated.previous_usage_amount_cents
                     - mod(evaluated.previous_usage_amount_cents, plan_thresholds.recurring_amount_cents)
        end, false) as is_recurring_crossed
    from evaluated
    inner join plan_thresholds on plan_thresholds.plan_code = evaluated.plan_code
    left join fixed_crossed on fixed_crossed.period_id = evaluated.period_id

),

crossings as (

    select
        *,
        cast(row_number() over (partition by billing_period_id order by snapshot_at) as integer) as crossing_index
    from checked
    where fixed_thresholds_count > 0 or is_recurring_crossed

),

final as (

    select
        -- ids
        md5(external_customer_id || '|progressive_billing|' || billing_period_id || '|'
            || cast(crossing_index as varchar)) as invoice_id,
        period_id as snapshot_period_id,
        billing_period_id as period_id,
        crossing_index,
        external_subscription_id,
        external_customer_id,
        plan_code,
        currency,

        -- usage (minor units, before taxes)
        current_usage_amount_cents,
        invoiced_usage_amount_cents,
        lifetime_usage_amount_cents,
        previous_usage_amount_cents,

        -- thresholds crossed at this moment
        fixed_thresholds_count,
        is_recurring_crossed,

        -- timestamps
        snapshot_at as crossed_at

    from crossings

)

select * from final
