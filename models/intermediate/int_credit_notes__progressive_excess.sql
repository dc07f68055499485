{#- Credit notes for what progressive invoices billed beyond a period's final usage (Lago's
    CreditNotes::CreateFromProgressiveBillingInvoice, made while the period's invoice is billed):
    the period's invoice deducts from each charge fee what its last progressive invoice billed for
    that bucket, never more than the fee (int_fees__progressive_credits); when the usage went down
    after the crossing (negative values, removals, a lower latest value), the rest cannot be
    deducted and is credited instead, by one automatic credit note on that progressive invoice with
    one item per fee of it that billed more than the period's final fee (a bucket the period's
    invoice no longer bills at all counts whole), never more than what is left to credit on the fee
    after earlier credit notes. Issued with the period's invoice, all of it credited (no refund);
    its coupons adjustment and taxes are those of every credit note item (int_credit_notes__items). -#}
with

progressive_fees as (

    select * from {{ ref('int_fees__progressive_billing') }}
    where billed_at <= {{ as_of() }}

),

fees as (

    select * from {{ ref('int_fees__computed') }}

),

requested_items as (

    select * from {{ ref('stg_credit_note_items') }}

),

period_invoices as (

    -- the subscription invoice billing each period's in-arrears charges, and when
    select period_id, min(invoice_id) as invoice_id, min(billed_at) as billed_at
    from fees
    where invoice_type = 'subscription'
      and fee_type = 'charge'
      and not is_pay_in_advance
      and invoice_id is not null
    group by period_id

),

last_crossings as (

    select * from {{ ref('int_fees__progressive_last_crossings') }}

),

compared as (

    select
        md5(progressive_fees.period_id || '/' || progressive_fees.bucket_id) as fee_id,
        progressive_fees.invoice_id,
        progressive_fees.period_id,
        progressive_fees.charge_bucket_id,
        progressive_fees.external_subscription_id,
        progressive_fees.external_customer_id,
        progressive_fees.currency,
        progressive_fees.amount_cents as billed_amount_cents,
        coalesce(final_fees.amount_cents, 0) as final_amount_cents,
        period_invoices.invoice_id as period_invoice_id,
        period_invoices.billed_at as issued_at
    from progressive_fees
    inner join last_crossings
        on last_crossings.period_id = progressive_fees.period_id
        and last_crossings.crossing_index = progressive_fees.crossing_index
    inner join period_invoices on period_invoices.period_id = progressive_fees.period_id
    left join fees as final_fees
        on final_fees.invoice_id = period_invoices.invoice_id
        and final_fees.period_id = progressive_fees.period_id
        and final_fees.bucket_id = progressive_fees.charge_bucket_id
        and final_fees.fee_type = 'charge'

),

already_credited as (

    -- credit notes requested on the progressive fee before the period's invoice
    select compared.fee_id, sum(requested_items.amount_cents) as credited_amount_cents
    from compared
    inner join requested_items
        on requested_items.fee_id = compared.fee_id
        and requested_items.issued_at <= compared.issued_at
    group by compared.fee_id

),

excess as (

    select
        compared.*,
        least(compared.billed_amount_cents - compared.final_amount_cents,
              compared.billed_amount_cents - coalesce(already_credited.credited_amount_cents, 0)) as excess_amount_cents
    from compared
    left join already_credited on already_credited.fee_id = compared.fee_id

),

final as (

    select
        -- ids
        md5('progressive_excess/' || period_id) as credit_note_id,
        cast(row_number() over (partition by period_id order by charge_bucket_id) - 1 as integer) as item_index,
        fee_id,
        invoice_id,
        period_invoice_id,
        period_id,
        external_subscription_id,
        external_customer_id,
        -- Lago's reason for the credit notes it makes from progressive invoices
        'other' as reason,

        -- amounts
        currency,
        billed_amount_cents,
        final_amount_cents,
        {{ to_money('excess_amount_cents') }} as item_precise_amount_cents,

        -- timestamps
        issued_at

    from excess
    where excess_amount_cents > 0

)

select * from final
