{#- Lago's progressive_billing_credit: what the progressive invoices of a period already billed,
    deducted from the charge fees of the next invoice of that period, before coupons and taxes
    (Lago adds it to the fee's precise_coupons_amount_cents; Tally keeps it apart, in
    progressive_billing_credit_amount_cents). Per fee, matched by charge bucket (charge, filter,
    group), the deduction is what the period's latest earlier progressive invoice billed for that
    bucket (its fee's amount_cents: each progressive invoice bills the whole usage so far and
    deducts the previous one), never more than the fee's own amount_cents:
    - on a progressive invoice, from the previous progressive invoice of the period;
    - on the subscription invoice that bills the period's in-arrears charges (end of period or
      termination), from the period's last progressive invoice.
    A progressive invoice voided by then (by the crossing, or by the moment the period's invoice
    finalizes: int_fees__progressive_last_crossings) is skipped for the latest earlier one that was
    not voided: Lago deducts finalized
    progressive invoices only. (Lago then still deducts from that one what the voided invoice had
    taken of it, which bills the voided usage twice; Tally deducts what it billed, so that the
    period's invoices add up to its usage once.) -#}
with

fees as (

    select * from {{ ref('int_fees__computed') }}

),

progressive_fees as (

    select * from {{ ref('int_fees__progressive_billing') }}
    where billed_at <= {{ as_of() }}

),

last_crossings as (

    select * from {{ ref('int_fees__progressive_last_crossings') }}

),

on_progressive_invoices as (

    select
        md5(progressive_fees.period_id || '/' || progressive_fees.bucket_id) as fee_id,
        progressive_fees.invoice_id,
        least(progressive_fees.amount_cents, progressive_fees.previous_amount_cents) as amount_cents
    from progressive_fees
    where progressive_fees.previous_amount_cents > 0

),

on_period_invoices as (

    select
        fees.fee_id,
        fees.invoice_id,
        least(fees.amount_cents, progressive_fees.amount_cents) as amount_cents
    from fees
    inner join last_crossings on last_crossings.period_id = fees.period_id
    inner join progressive_fees
        on progressive_fees.period_id = fees.period_id
        and progressive_fees.crossing_index = last_crossings.crossing_index
        and progressive_fees.charge_bucket_id = fees.bucket_id
    where fees.invoice_type = 'subscription'
      and fees.fee_type = 'charge'
      and not fees.is_pay_in_advance
      and fees.invoice_id is not null

),

final as (

    select fee_id, invoice_id, cast(amount_cents as bigint) as progressive_billing_credit_amount_cents
    from on_progressive_invoices
    where amount_cents > 0

    union all

    select fee_id, invoice_id, cast(amount_cents as bigint) as progressive_billing_credit_amount_cents
    from on_period_invoices
    where amount_cents > 0

)

select * from final
