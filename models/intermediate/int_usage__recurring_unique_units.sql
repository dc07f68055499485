{#- Units per billing period and charge for recurring unique count metrics.
    - Not prorated: the values present at the end of the period.
    - Prorated: each value counts (days present in the period) / (days in the full period), the
      days running from the later of its add date and the period's first day to its removal date
      (included) or the period's last day, in the customer's time zone; the total is rounded up
      at the 5th decimal. -#}
with

presence as (

    select * from {{ ref('int_usage__unique_presence') }}

),

periods as (

    select * from {{ ref('int_billing__period_variants') }}

),

charges as (

    select * from {{ ref('stg_charges') }}
    where is_current

),

value_overlaps as (

    select
        periods.period_id,
        presence.charge_id,
        presence.bucket_id,
        periods.full_period_days,
        charges.is_prorated,
        presence.added_at < periods.to_at
            and (presence.removed_at is null or presence.removed_at >= periods.to_at) as is_present_at_end,
        {{ days_between(
            'case when presence.added_date > periods.from_date then presence.added_date else periods.from_date end',
            'case when presence.removed_date < periods.to_date then presence.removed_date else periods.to_date end'
        ) }} + 1 as days_present
    from presence
    inner join periods
        on periods.period_id = presence.period_id
        and (presence.removed_date is null or presence.removed_date >= periods.from_date)
    inner join charges on charges.charge_id = presence.charge_id

),

final as (

    select
        period_id,
        charge_id,
        bucket_id,
        case
            when min(case when is_prorated then 1 else 0 end) = 1
                then {{ div_ceil('sum(case when days_present > 0 then days_present else 0 end)', 'min(full_period_days)', 5) }}
            else cast(sum(case when is_present_at_end then 1 else 0 end) as {{ units_type() }})
        end as units
    from value_overlaps
    group by period_id, charge_id, bucket_id

)

select * from final
