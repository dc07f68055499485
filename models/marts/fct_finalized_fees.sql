{{ config(materialized='incremental', incremental_strategy='append', full_refresh=false, on_schema_change='append_new_columns') }}
{#- The fees of finalized invoices, frozen with them (append-only, like fct_finalized_invoices).
    Columns are appended, never reordered, when the model grows: read them by name. -#}
with

finalized_invoices as (

    select * from {{ ref('fct_finalized_invoices') }}

),

fees as (

    -- the computed fees with their coupon shares and taxes (int_fees__computed's columns first)
    select * from {{ ref('int_fees__adjusted') }}
    union all
    -- the credit fees of wallet threshold top-ups (same columns)
    select * from {{ ref('int_fees__threshold_top_ups') }}

),

final as (

    select fees.*
    from fees
    inner join finalized_invoices on finalized_invoices.invoice_id = fees.invoice_id
    {% if is_incremental() %}
    where fees.invoice_id not in (select distinct invoice_id from {{ this }})
    {% endif %}

)

select * from final
