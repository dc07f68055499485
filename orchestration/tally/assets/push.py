"""Pushing finalized invoices out, one asset per system (group `push`), and the payment log.

`push/<system>` (stripe, gocardless, adyen, xero, netsuite, hubspot, webhook) is partitioned by
billing day like the dbt assets and depends on `fct_finalized_invoices`: materialising day D
runs `tally push --system <system>` for the invoices finalized by D 23:59:59 UTC (and whatever
an earlier run left pending), through the outbox, so re-running a day sends nothing twice. A
system whose secrets are not set materialises with `configured: false` and sends nothing.
Permanent failures are reported in the metadata (and `tally push` lists them); they do not fail
the run, which would block the other systems' pushes.

`raw/payment_events` is the append-only log of payment statuses that webhooks and polling write
(an external asset here, upstream of stg_payment_events and fct_invoice_payments).
"""

from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetSelection,
    AssetSpec,
    MaterializeResult,
    MetadataValue,
    asset,
    define_asset_job,
    in_process_executor,
)

from ..push import SYSTEMS, run_push
from ..resources.warehouse import WAREHOUSE_POOL, TallyWarehouse
from .partitions import as_of_for, billing_days

RAW_PAYMENT_EVENTS = AssetKey(["raw", "payment_events"])
FCT_FINALIZED_INVOICES = AssetKey(["fct_finalized_invoices"])

raw_payment_events = AssetSpec(
    RAW_PAYMENT_EVENTS,
    group_name="raw",
    description="raw.payment_events: payment status changes from verified Stripe and GoCardless webhooks "
                "and from polling by `tally push` (append-only).",
)


def push_asset(system: str):
    @asset(
        key=AssetKey(["push", system]),
        group_name="push",
        deps=[FCT_FINALIZED_INVOICES],
        partitions_def=billing_days,
        pool=WAREHOUSE_POOL,
        description=f"Finalized invoices pushed to {system} through the outbox (raw.push_outbox), exactly once.",
    )
    def _push(context: AssetExecutionContext, warehouse: TallyWarehouse) -> MaterializeResult:
        settings = warehouse.settings()
        as_of = as_of_for(context.partition_key) if context.has_partition_key else None
        try:
            result = run_push(settings, system, finalized_before=as_of, echo=context.log.info)
        except ValueError as exc:
            if "is not configured" not in str(exc):
                raise
            context.log.info(str(exc))
            return MaterializeResult(metadata={"configured": False})
        report = result.report
        for line in result.lines():
            context.log.info(line)
        return MaterializeResult(metadata={
            "configured": True,
            "finalized_before": str(as_of) if as_of else "",
            "enqueued": len(report.enqueued),
            "done": len(report.done),
            "failed": len(report.failed),
            "pending": len(report.pending),
            "failures": MetadataValue.json([{"object_id": r.object_id, "action": r.action, "error": r.last_error}
                                            for r in report.failed]),
        })

    return _push


push_assets = [push_asset(system) for system in SYSTEMS]

# Push every system for one billing day (after `billing_day` has materialised it).
push_invoices_job = define_asset_job(
    "push_invoices",
    selection=AssetSelection.assets(*push_assets),
    partitions_def=billing_days,
    executor_def=in_process_executor,
    description="Push the invoices finalized by the day's end to every configured system, exactly once.",
)
