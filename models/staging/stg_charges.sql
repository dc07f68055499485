{#- One row per charge of each plan version. A charge is identified by its plan and position,
    or by the `code` Lago lets a plan give it. -#}
with

plans as (

    select * from {{ ref('stg_plans') }}

),

charges as (

    select
        -- ids
        plans.plan_code,
        charge.idx as charge_index,
        coalesce({{ json_str('charge.value', 'code') }},
                 plans.plan_code || ':' || cast(charge.idx as varchar)) as charge_id,
        {{ json_str('charge.value', 'billable_metric_code') }} as metric_code,

        -- pricing
        {{ json_str('charge.value', 'charge_model') }} as charge_model,
        {{ json_get('charge.value', 'properties') }} as properties,
        {{ json_get('charge.value', 'filters') }} as filters,
        {{ json_bool('charge.value', 'pay_in_advance') }} as is_pay_in_advance,
        {{ json_bool('charge.value', 'invoiceable', 'true') }} as is_invoiceable,
        {{ json_bool('charge.value', 'prorated') }} as is_prorated,
        cast({{ json_str('charge.value', 'min_amount_cents') }} as decimal(38, 0)) as min_amount_cents,
        {{ json_get('charge.value', 'tax_codes') }} as tax_codes,

        -- versioning
        plans.valid_from,
        plans.valid_to,
        plans.is_current

    from plans
    {{ json_array_elements('plans.charges', 'charge') }}
    where not plans.is_deleted

)

select * from charges
