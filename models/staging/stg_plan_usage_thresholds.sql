{#- One row per usage threshold (Lago's progressive billing) of each plan version: the plan's
    `usage_thresholds` list, [{amount_cents, threshold_display_name, recurring}], validated at
    `tally load` (positive whole amounts, at most one recurring, no two non-recurring thresholds
    with the same amount). -#}
with

plans as (

    select * from {{ ref('stg_plans') }}

),

thresholds as (

    select
        -- ids
        plans.plan_code,
        threshold.idx as threshold_index,

        -- the threshold
        cast({{ json_str('threshold.value', 'amount_cents') }} as decimal(38, 0)) as amount_cents,
        {{ json_str('threshold.value', 'threshold_display_name') }} as threshold_display_name,
        {{ json_bool('threshold.value', 'recurring') }} as is_recurring,
        plans.currency,

        -- versioning
        plans.valid_from,
        plans.valid_to,
        plans.is_current

    from plans
    {{ json_array_elements('plans.usage_thresholds', 'threshold') }}
    where not plans.is_deleted

)

select * from thresholds
