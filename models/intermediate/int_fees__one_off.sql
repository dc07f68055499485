{#- The add-on fees of one-off invoices (Lago's invoice_type one_off): each fee bills
    unit_amount_cents (the fee's own, else the add-on's amount in force when the invoice was
    received) x units (default 1); precise_amount_cents keeps the exact product and amount_cents
    rounds it half away from zero, once. The invoice is issued when it was received and is final
    at once. -#}
with

one_off_fees as (

    select * from {{ ref('stg_one_off_fees') }}

),

add_ons as (

    select * from {{ ref('stg_add_ons') }}

),

customers as (

    select * from {{ ref('int_customers__settings') }}

),

priced as (

    select
        one_off_fees.one_off_id,
        one_off_fees.fee_index,
        one_off_fees.external_customer_id,
        one_off_fees.add_on_code,
        one_off_fees.units,
        {{ to_money('coalesce(one_off_fees.unit_amount_cents, add_ons.amount_cents)') }} as unit_amount_cents,
        coalesce(one_off_fees.currency, customers.currency, add_ons.currency) as currency,
        -- tax codes given on the fee win over the add-on's (int_fees__taxes applies the precedence)
        {{ json_text('one_off_fees.tax_codes') }} as fee_tax_codes,
        one_off_fees.issued_at
    from one_off_fees
    inner join add_ons
        on add_ons.add_on_code = one_off_fees.add_on_code
        and add_ons.valid_from <= one_off_fees.issued_at
        and (add_ons.valid_to is null or add_ons.valid_to > one_off_fees.issued_at)
        and not add_ons.is_deleted
    left join customers on customers.external_customer_id = one_off_fees.external_customer_id

),

final as (

    select
        'one_off/' || one_off_id as period_id,
        'add_on/' || cast(fee_index as varchar) as bucket_id,
        md5(external_customer_id || '|one_off|' || one_off_id) as invoice_id,
        external_customer_id,
        add_on_code,
        units,
        unit_amount_cents,
        {{ to_money('units * unit_amount_cents') }} as precise_amount_cents,
        currency,
        fee_tax_codes,
        issued_at as billed_at
    from priced

)

select * from final
