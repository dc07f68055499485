{#- The progressive invoice each period's own invoice reckons with: the period's last crossing
    (int_fees__progressive_billing) billed by as_of and not voided by the moment the period's
    invoice finalizes (its knowledge cutoff). int_fees__progressive_credits deducts what it billed;
    int_credit_notes__progressive_excess credits what it billed beyond the final usage. -#}
with

progressive_fees as (

    select * from {{ ref('int_fees__progressive_billing') }}
    where billed_at <= {{ as_of() }}

),

periods as (

    select * from {{ ref('int_subscriptions__charge_periods') }}

),

final as (

    -- Lago deducts finalized progressive invoices only: a voided one is skipped for the one before
    select progressive_fees.period_id, max(progressive_fees.crossing_index) as crossing_index
    from progressive_fees
    inner join periods on periods.period_id = progressive_fees.period_id
    where progressive_fees.voided_at is null or progressive_fees.voided_at > periods.knowledge_cutoff_at
    group by progressive_fees.period_id

)

select * from final
