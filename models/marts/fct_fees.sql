{#- Every fee as known at as_of: frozen with its finalized invoice, as computed now for a draft,
    and the fees of pay-in-advance charges that are not invoiceable (on no invoice). -#}
{%- set fee_columns = ['fee_id', 'invoice_id', 'period_id', 'bucket_id', 'fee_type', 'external_subscription_id',
    'external_customer_id', 'charge_id', 'metric_code', 'charge_model', 'charge_filter', 'grouped_by', 'units',
    'events_count', 'precise_amount_cents', 'amount_cents', 'currency', 'from_datetime', 'to_datetime',
    'billed_at', 'true_up_parent_fee_id', 'is_pay_in_advance', 'is_invoiceable', 'add_on_code', 'invoice_type',
    'plan_code', 'precise_coupons_amount_cents', 'taxes_precise_amount_cents', 'taxes_amount_cents', 'taxes_rate',
    'progressive_billing_credit_amount_cents'] %}
with

invoices as (

    select * from {{ ref('fct_invoices') }}

),

finalized_fees as (

    select * from {{ ref('fct_finalized_fees') }}

),

computed_fees as (

    select * from {{ ref('int_fees__adjusted') }}
    union all
    select * from {{ ref('int_fees__threshold_top_ups') }}

),

final as (

    select {% for c in fee_columns %}finalized_fees.{{ c }}{{ ', ' if not loop.last }}{% endfor %}
    from finalized_fees
    inner join invoices
        on invoices.invoice_id = finalized_fees.invoice_id
        and invoices.status in ('finalized', 'voided')

    union all

    select {% for c in fee_columns %}computed_fees.{{ c }}{{ ', ' if not loop.last }}{% endfor %}
    from computed_fees
    inner join invoices
        on invoices.invoice_id = computed_fees.invoice_id
        and invoices.status = 'draft'

    union all

    -- fees of pay-in-advance charges that are not invoiceable: final at once, on no invoice
    select {% for c in fee_columns %}computed_fees.{{ c }}{{ ', ' if not loop.last }}{% endfor %}
    from computed_fees
    where computed_fees.invoice_id is null

)

select * from final
