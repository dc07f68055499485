{#- Lago's current usage of a period in progress as known at each event arrival (the `snapshot`
    variants of int_billing__period_variants), taxed as fct_current_usage_totals taxes the usage at
    as_of, but with the taxes in force at the snapshot: amount_cents, taxes_amount_cents (the
    precise taxes of its charges summed and rounded once), and what of it pay-in-advance invoices
    already billed (invoiceable pay-in-advance charges with their own rounded taxes). A wallet's
    ongoing balance at that moment deducts total - pay_in_advance_billed (and the period's
    progressive invoices, which int_wallets__threshold_top_ups takes as of each instant). -#}
with

periods as (

    select * from {{ ref('int_billing__period_variants') }}
    where variant_type = 'snapshot'

),

charge_amounts as (

    select * from {{ ref('int_charges__amounts') }}

),

taxes as (

    select * from {{ ref('stg_taxes') }}

),

charges as (

    select * from {{ ref('stg_charges') }}

),

plans as (

    select * from {{ ref('stg_plans') }}

),

customers as (

    select * from {{ ref('stg_customers') }}

),

snapshot_fees as (

    select
        periods.period_id || '|' || charge_amounts.bucket_id as fee_id,
        periods.period_id,
        charge_amounts.charge_id,
        periods.plan_code,
        periods.external_customer_id,
        'charge' as fee_type,
        cast(null as varchar) as add_on_code,
        periods.snapshot_at as billed_at,
        cast(round(charge_amounts.precise_amount_cents, 0) as bigint) as amount_cents,
        charge_amounts.is_pay_in_advance and charge_amounts.is_invoiceable as is_billed_in_advance
    from periods
    inner join charge_amounts on charge_amounts.period_id = periods.period_id

),

{{ applicable_taxes('snapshot_fees', with_add_ons=false) }},

taxed_fees as (

    select
        snapshot_fees.period_id,
        snapshot_fees.amount_cents,
        snapshot_fees.is_billed_in_advance,
        coalesce({{ to_money('sum(snapshot_fees.amount_cents * chosen.tax_rate * 0.01)') }}, {{ to_money(0) }})
            as precise_taxes_amount_cents
    from snapshot_fees
    left join chosen on chosen.fee_id = snapshot_fees.fee_id
    group by snapshot_fees.fee_id, snapshot_fees.period_id, snapshot_fees.amount_cents, snapshot_fees.is_billed_in_advance

),

period_totals as (

    select
        period_id,
        {{ usage_invoice_sums('amount_cents', 'precise_taxes_amount_cents', 'is_billed_in_advance') }}
    from taxed_fees
    group by period_id

),

final as (

    select
        -- ids
        periods.period_id,
        periods.billing_period_id,
        periods.subscription_id,
        periods.external_subscription_id,
        periods.external_customer_id,

        -- amounts (a snapshot with no charge amounts owes nothing)
        cast(coalesce(period_totals.amount_cents, 0) as bigint) as amount_cents,
        cast(coalesce(period_totals.taxes_amount_cents, 0) as bigint) as taxes_amount_cents,
        cast(coalesce(period_totals.pay_in_advance_billed_cents, 0) as bigint) as pay_in_advance_billed_cents,
        cast(coalesce(period_totals.amount_cents + period_totals.taxes_amount_cents
                      - period_totals.pay_in_advance_billed_cents, 0) as bigint) as unbilled_amount_cents,

        -- timestamps
        periods.snapshot_at,
        periods.to_at

    from periods
    left join period_totals on period_totals.period_id = periods.period_id

)

select * from final
