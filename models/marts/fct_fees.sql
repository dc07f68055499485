{#- Every fee on an invoice as known at as_of: frozen with its finalized invoice, or as computed
    now for a draft. -#}
with

invoices as (

    select * from {{ ref('fct_invoices') }}

),

finalized_fees as (

    select * from {{ ref('fct_finalized_fees') }}

),

computed_fees as (

    select * from {{ ref('int_fees__computed') }}

),

final as (

    select finalized_fees.*
    from finalized_fees
    inner join invoices
        on invoices.invoice_id = finalized_fees.invoice_id
        and invoices.status = 'finalized'

    union all

    select computed_fees.*
    from computed_fees
    inner join invoices
        on invoices.invoice_id = computed_fees.invoice_id
        and invoices.status = 'draft'

)

select * from final
