{#- What finalized invoices would say now, where it differs from what they say — without ever
    changing them (principle: late facts surface here, never in a finalized invoice).
    - late_events: events for a billed period received after its invoice was finalized; the
      period is recomputed in hindsight (every event known at as_of) and each fee bucket whose
      units or amount would change is listed with the difference.
    - recomputed_differs: a fee recomputed now (with the knowledge of its finalization) differs
      from the frozen one, e.g. because the catalog was changed afterwards. -#}
with

finalized_invoices as (

    select * from {{ ref('fct_finalized_invoices') }}
    where finalizes_at <= {{ as_of() }}

),

frozen_fees as (

    select * from {{ ref('fct_finalized_fees') }}

),

amounts as (

    select * from {{ ref('int_charges__amounts') }}

),

computed_fees as (

    select * from {{ ref('int_fees__computed') }}

),

events as (

    select * from {{ ref('int_events__subscribed') }}

),

periods as (

    select * from {{ ref('int_subscriptions__charge_periods') }}

),

billed_fees as (

    select frozen_fees.*, finalized_invoices.number
    from frozen_fees
    inner join finalized_invoices on finalized_invoices.invoice_id = frozen_fees.invoice_id

),

hindsight as (

    select
        billing_period_id as period_id,
        bucket_id,
        external_subscription_id,
        external_customer_id,
        metric_code,
        filter_values_text,
        grouped_by_text,
        units,
        cast(round(precise_amount_cents, 0) as bigint) as amount_cents
    from amounts
    where is_hindsight and period_id like '%#hindsight'

),

late_event_counts as (

    select periods.period_id, events.bucket_id, count(*) as late_events_count
    from events
    inner join periods
        on periods.subscription_id = events.subscription_id
        and events.event_timestamp >= periods.from_at
        and events.event_timestamp < periods.to_at
        and events.received_at > periods.knowledge_cutoff_at
    group by periods.period_id, events.bucket_id

),

late_changes as (

    select
        'late_events' as discrepancy_type,
        billed_fees.invoice_id,
        billed_fees.number,
        coalesce(billed_fees.external_customer_id, hindsight.external_customer_id) as external_customer_id,
        coalesce(billed_fees.external_subscription_id, hindsight.external_subscription_id) as external_subscription_id,
        coalesce(billed_fees.metric_code, hindsight.metric_code) as metric_code,
        coalesce(billed_fees.charge_filter, hindsight.filter_values_text) as charge_filter,
        coalesce(billed_fees.grouped_by, hindsight.grouped_by_text) as grouped_by,
        coalesce(billed_fees.units, 0) as billed_units,
        hindsight.units as actual_units,
        coalesce(billed_fees.amount_cents, 0) as billed_amount_cents,
        hindsight.amount_cents as actual_amount_cents,
        coalesce(late_event_counts.late_events_count, 0) as late_events_count
    from hindsight
    left join billed_fees
        on billed_fees.period_id = hindsight.period_id
        and billed_fees.bucket_id = hindsight.bucket_id
    left join late_event_counts
        on late_event_counts.period_id = hindsight.period_id
        and late_event_counts.bucket_id = hindsight.bucket_id
    where billed_fees.fee_id is null
       or billed_fees.units <> hindsight.units
       or billed_fees.amount_cents <> hindsight.amount_cents

),

recomputed_changes as (

    select
        'recomputed_differs' as discrepancy_type,
        billed_fees.invoice_id,
        billed_fees.number,
        billed_fees.external_customer_id,
        billed_fees.external_subscription_id,
        billed_fees.metric_code,
        billed_fees.charge_filter,
        billed_fees.grouped_by,
        billed_fees.units as billed_units,
        computed_fees.units as actual_units,
        billed_fees.amount_cents as billed_amount_cents,
        coalesce(computed_fees.amount_cents, 0) as actual_amount_cents,
        0 as late_events_count
    from billed_fees
    left join computed_fees on computed_fees.fee_id = billed_fees.fee_id
    where computed_fees.fee_id is null
       or computed_fees.units <> billed_fees.units
       or computed_fees.amount_cents <> billed_fees.amount_cents

),

final as (

    select
        *,
        actual_amount_cents - billed_amount_cents as difference_amount_cents
    from (
        select * from late_changes
        union all
        select * from recomputed_changes
    ) discrepancies

)

select * from final
