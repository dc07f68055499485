{#- The credit fees of wallet threshold top-ups' purchases (int_wallets__threshold_top_ups), one
    per purchase on a credit invoice of its own, in int_fees__adjusted's columns and order (what
    fct_fees and fct_finalized_fees read), exactly as int_fees__computed bills the other
    purchases of credits: units = the credits, amount = their worth, no plan, coupons or taxes.
    Billed downstream of the wallet walk, which reads the invoices: no cycle. -#}
with

top_ups as (

    select * from {{ ref('int_wallets__threshold_top_ups') }}
    where transaction_status = 'purchased'

),

final as (

    select
        md5('credit/' || wallet_transaction_id || '/credit') as fee_id,
        'credit/' || wallet_transaction_id as period_id,
        'credit' as bucket_id,
        invoice_id,
        'credit' as fee_type,
        cast(null as varchar) as external_subscription_id,
        external_customer_id,
        cast(null as varchar) as charge_id,
        cast(null as varchar) as metric_code,
        cast(null as varchar) as charge_model,
        cast(null as varchar) as charge_filter,
        '{}' as grouped_by,
        {{ to_units('credit_amount') }} as units,
        0 as events_count,
        {{ to_money('amount_cents') }} as precise_amount_cents,
        cast(amount_cents as bigint) as amount_cents,
        currency,
        cast(null as timestamp) as from_datetime,
        cast(null as timestamp) as to_datetime,
        created_at as billed_at,
        cast(null as varchar) as true_up_parent_fee_id,
        false as is_pay_in_advance,
        true as is_invoiceable,
        cast(null as varchar) as add_on_code,
        cast(null as varchar) as fee_tax_codes,
        'credit' as invoice_type,
        cast(null as varchar) as plan_code,
        {{ to_money(0) }} as precise_coupons_amount_cents,
        {{ to_money(0) }} as taxes_precise_amount_cents,
        cast(0 as bigint) as taxes_amount_cents,
        cast(0 as decimal(9, 6)) as taxes_rate,
        cast(0 as bigint) as progressive_billing_credit_amount_cents
    from top_ups

)

select * from final
