{#- Credit notes for the unused part of in-advance subscription fees, as Lago creates them when a
    subscription is terminated or upgraded before the end of a period it paid for (Lago's
    CreditNotes::CreateFromTermination): one credit note with one item on the period's
    subscription fee. The item is the plan's daily price (amount / days in the full period) x the
    days after the termination date to the period's end, never more than the fee's amount_cents,
    less what earlier credit notes already credited on that fee, truncated at 5 decimals (Lago's
    precision for credit note items). Its coupons and taxes are computed like those of every
    credit note item (int_credit_notes__items); the whole total is credited to the customer's
    balance (no refund). Issued at the termination. -#}
with

fees as (

    select * from {{ ref('int_fees__subscription') }}
    where is_pay_in_advance

),

invoiced_fees as (

    select * from {{ ref('int_fees__adjusted') }}
    where fee_type = 'subscription' and invoice_id is not null

),

periods as (

    select * from {{ ref('int_subscriptions__billing_periods') }}
    where is_terminating_period

),

requested_items as (

    select * from {{ ref('stg_credit_note_items') }}

),

unused as (

    select
        fees.period_id,
        fees.subscription_id,
        fees.external_subscription_id,
        fees.external_customer_id,
        fees.plan_code,
        fees.currency,
        invoiced_fees.fee_id,
        invoiced_fees.invoice_id,
        invoiced_fees.amount_cents as fee_amount_cents,
        periods.plan_amount_cents,
        periods.full_period_days,
        periods.terminated_at,
        -- the termination day itself was used
        {{ days_between('periods.to_date', 'fees.fee_to_date') }} as unused_days
    from fees
    inner join periods on periods.period_id = fees.period_id
    inner join invoiced_fees on invoiced_fees.period_id = fees.period_id
    where fees.billed_at <= periods.terminated_at

),

already_credited as (

    -- credit notes requested on the fee before the termination (Lago deducts their items)
    select
        unused.period_id,
        sum(requested_items.amount_cents) as credited_amount_cents
    from unused
    inner join requested_items
        on requested_items.fee_id = unused.fee_id
        and requested_items.issued_at <= unused.terminated_at
    group by unused.period_id

),

priced as (

    select
        unused.*,
        {{ div_round('unused.plan_amount_cents * unused.unused_days', 'unused.full_period_days', 10) }}
            as unused_precise_amount_cents,
        coalesce(already_credited.credited_amount_cents, 0) as credited_amount_cents
    from unused
    left join already_credited on already_credited.period_id = unused.period_id
    where unused.unused_days > 0

),

creditable as (

    select
        *,
        case when unused_precise_amount_cents < fee_amount_cents then unused_precise_amount_cents
             else fee_amount_cents end - credited_amount_cents as creditable_precise_amount_cents
    from priced

),

final as (

    select
        -- ids
        md5('credit/' || period_id) as credit_note_id,
        fee_id,
        invoice_id,
        period_id,
        subscription_id,
        external_subscription_id,
        external_customer_id,
        plan_code,
        -- Lago's reason for the credit notes it creates on a plan change or termination
        'order_change' as reason,

        -- amounts
        currency,
        unused_days,
        -- truncated at 5 decimals
        {{ to_money('cast(floor(creditable_precise_amount_cents * 100000) as decimal(38, 0)) * 0.00001') }}
            as item_precise_amount_cents,

        -- timestamps
        terminated_at as issued_at

    from creditable
    where creditable_precise_amount_cents > 0

)

select * from final
