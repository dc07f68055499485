{#- Every fee billed up to as_of, on the invoice of its customer and billing moment. -#}
with

subscription_fees as (

    select * from {{ ref('int_fees__subscription') }}

),

charge_amounts as (

    select * from {{ ref('int_charges__amounts') }}

),

charge_true_ups as (

    select * from {{ ref('int_fees__charge_true_ups') }}

),

pay_in_advance_fees as (

    select * from {{ ref('int_fees__pay_in_advance') }}

),

commitment_true_ups as (

    select * from {{ ref('int_fees__commitment_true_ups') }}

),

one_off_fees as (

    select * from {{ ref('int_fees__one_off') }}

),

progressive_billing_fees as (

    select * from {{ ref('int_fees__progressive_billing') }}

),

wallet_purchases as (

    select * from {{ ref('int_wallets__transactions') }}
    where transaction_status = 'purchased'

),

subscriptions as (

    select * from {{ ref('int_subscriptions__lifecycle') }}

),

creations as (

    -- when each subscription became known: a subscription_at in the past (a migration) is
    -- never back-billed, as in Lago: billing moments before its creation are skipped
    select external_subscription_id, min(created_at) as created_at
    from subscriptions
    group by external_subscription_id

),

plan_fees as (

    select
        period_id,
        'subscription' as fee_type,
        external_subscription_id,
        external_customer_id,
        cast(null as varchar) as charge_id,
        cast(null as varchar) as bucket_id,
        cast(null as varchar) as metric_code,
        cast(null as varchar) as charge_model,
        cast(null as varchar) as filter_values_text,
        '{}' as grouped_by_text,
        units,
        0 as events_count,
        precise_amount_cents,
        currency,
        from_at,
        to_at,
        billed_at,
        cast(null as varchar) as true_up_parent_bucket_id,
        cast(null as varchar) as advance_transaction_id,
        true as is_invoiceable
    from subscription_fees
    where billed_at <= {{ as_of() }}

),

usage_fees as (

    select
        period_id,
        'charge' as fee_type,
        external_subscription_id,
        external_customer_id,
        charge_id,
        bucket_id,
        metric_code,
        charge_model,
        filter_values_text,
        grouped_by_text,
        units,
        events_count,
        precise_amount_cents,
        currency,
        from_at,
        to_at,
        to_at as billed_at,
        cast(null as varchar) as true_up_parent_bucket_id,
        cast(null as varchar) as advance_transaction_id,
        true as is_invoiceable
    from charge_amounts
    -- pay-in-advance charges are billed event by event (int_fees__pay_in_advance)
    where is_closed and is_invoiceable and not is_hindsight and not is_pay_in_advance

),

true_up_fees as (

    select
        period_id,
        'charge' as fee_type,
        external_subscription_id,
        external_customer_id,
        charge_id,
        bucket_id,
        metric_code,
        charge_model,
        cast(null as varchar) as filter_values_text,
        '{}' as grouped_by_text,
        units,
        events_count,
        precise_amount_cents,
        currency,
        from_at,
        to_at,
        to_at as billed_at,
        parent_bucket_id as true_up_parent_bucket_id,
        cast(null as varchar) as advance_transaction_id,
        true as is_invoiceable
    from charge_true_ups

),

advance_fees as (

    select
        period_id,
        'charge' as fee_type,
        external_subscription_id,
        external_customer_id,
        charge_id,
        bucket_id,
        metric_code,
        charge_model,
        filter_values_text,
        grouped_by_text,
        units,
        events_count,
        precise_amount_cents,
        currency,
        from_at,
        to_at,
        billed_at,
        cast(null as varchar) as true_up_parent_bucket_id,
        transaction_id as advance_transaction_id,
        is_invoiceable
    from pay_in_advance_fees
    where billed_at <= {{ as_of() }}

),

commitment_fees as (

    -- a plan's minimum commitment, trued up at the end of each billing period
    select
        period_id,
        'commitment' as fee_type,
        external_subscription_id,
        external_customer_id,
        cast(null as varchar) as charge_id,
        'commitment' as bucket_id,
        cast(null as varchar) as metric_code,
        cast(null as varchar) as charge_model,
        cast(null as varchar) as filter_values_text,
        '{}' as grouped_by_text,
        {{ to_units(1) }} as units,
        0 as events_count,
        precise_amount_cents,
        currency,
        from_at,
        to_at,
        billed_at,
        cast(null as varchar) as true_up_parent_bucket_id,
        cast(null as varchar) as advance_transaction_id,
        true as is_invoiceable
    from commitment_true_ups
    where billed_at <= {{ as_of() }}

),

all_fees as (

    select fees.*
    from (
        select * from plan_fees
        union all
        select * from usage_fees
        union all
        select * from true_up_fees
        union all
        select * from advance_fees
        union all
        select * from commitment_fees
    ) fees
    inner join creations on creations.external_subscription_id = fees.external_subscription_id
    where fees.billed_at >= creations.created_at

),

every_fee as (

    select
        all_fees.*,
        cast(null as varchar) as add_on_code,
        cast(null as varchar) as fee_tax_codes,
        cast(null as varchar) as own_invoice_id,
        'subscription' as own_invoice_type
    from all_fees

    union all

    -- add-on fees of one-off invoices (Lago's POST /invoices): no subscription, no period
    select
        period_id,
        'add_on' as fee_type,
        cast(null as varchar) as external_subscription_id,
        external_customer_id,
        cast(null as varchar) as charge_id,
        bucket_id,
        cast(null as varchar) as metric_code,
        cast(null as varchar) as charge_model,
        cast(null as varchar) as filter_values_text,
        '{}' as grouped_by_text,
        units,
        0 as events_count,
        precise_amount_cents,
        currency,
        cast(null as timestamp) as from_at,
        cast(null as timestamp) as to_at,
        billed_at,
        cast(null as varchar) as true_up_parent_bucket_id,
        cast(null as varchar) as advance_transaction_id,
        true as is_invoiceable,
        add_on_code,
        fee_tax_codes,
        invoice_id as own_invoice_id,
        'one_off' as own_invoice_type
    from one_off_fees
    where billed_at <= {{ as_of() }}

    union all

    -- progressive billing (Lago's usage thresholds): the usage of the period so far, billed on an
    -- invoice of its own when the subscription's lifetime usage crosses a threshold
    select
        period_id,
        'charge' as fee_type,
        external_subscription_id,
        external_customer_id,
        charge_id,
        bucket_id,
        metric_code,
        charge_model,
        filter_values_text,
        grouped_by_text,
        units,
        events_count,
        precise_amount_cents,
        currency,
        from_at,
        to_at,
        billed_at,
        cast(null as varchar) as true_up_parent_bucket_id,
        cast(null as varchar) as advance_transaction_id,
        true as is_invoiceable,
        cast(null as varchar) as add_on_code,
        cast(null as varchar) as fee_tax_codes,
        invoice_id as own_invoice_id,
        'progressive_billing' as own_invoice_type
    from progressive_billing_fees
    where billed_at <= {{ as_of() }}

    union all

    -- purchases of wallet credits (Lago's paid_credits): one credit fee on an invoice of its own,
    -- worth the credits' amount; the credits count once that invoice is paid (int_wallets__ledger)
    select
        'credit/' || wallet_transaction_id as period_id,
        'credit' as fee_type,
        cast(null as varchar) as external_subscription_id,
        external_customer_id,
        cast(null as varchar) as charge_id,
        'credit' as bucket_id,
        cast(null as varchar) as metric_code,
        cast(null as varchar) as charge_model,
        cast(null as varchar) as filter_values_text,
        '{}' as grouped_by_text,
        {{ to_units('credit_amount') }} as units,
        0 as events_count,
        {{ to_money('amount_cents') }} as precise_amount_cents,
        currency,
        cast(null as timestamp) as from_at,
        cast(null as timestamp) as to_at,
        created_at as billed_at,
        cast(null as varchar) as true_up_parent_bucket_id,
        cast(null as varchar) as advance_transaction_id,
        true as is_invoiceable,
        cast(null as varchar) as add_on_code,
        cast(null as varchar) as fee_tax_codes,
        invoice_id as own_invoice_id,
        'credit' as own_invoice_type
    from wallet_purchases

),

final as (

    select
        -- ids
        md5(period_id || '/' || coalesce(bucket_id, 'subscription')) as fee_id,
        period_id,
        bucket_id,
        -- an invoice per customer and billing moment; a pay-in-advance charge's fee on an invoice
        -- of its own (none when the charge is not invoiceable)
        case when own_invoice_id is not null then own_invoice_id
             when not is_invoiceable then null
             when advance_transaction_id is null
                 then md5(external_customer_id || '|' || {{ iso_utc('billed_at') }})
             when is_invoiceable
                 then md5(external_customer_id || '|advance|' || charge_id || '|' || advance_transaction_id)
        end as invoice_id,
        fee_type,
        external_subscription_id,
        external_customer_id,
        charge_id,
        metric_code,
        charge_model,
        filter_values_text as charge_filter,
        grouped_by_text as grouped_by,

        -- usage
        units,
        events_count,

        -- amounts
        precise_amount_cents,
        cast(round(precise_amount_cents, 0) as bigint) as amount_cents,
        currency,

        -- timestamps
        from_at as from_datetime,
        {{ add_seconds('to_at', -1) }} as to_datetime,
        billed_at,

        -- a minimum-spend true-up points at its charge's fee (columns only ever appended: the
        -- frozen fct_finalized_fees copies them in this order)
        case when true_up_parent_bucket_id is not null
             then md5(period_id || '/' || true_up_parent_bucket_id) end as true_up_parent_fee_id,
        advance_transaction_id is not null as is_pay_in_advance,
        is_invoiceable,
        -- one-off invoices (appended columns): the add-on billed and the tax codes given on the fee
        add_on_code,
        fee_tax_codes,
        own_invoice_type as invoice_type

    from every_fee

)

select * from final
