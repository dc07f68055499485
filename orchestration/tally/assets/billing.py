"""Every dbt model (and seed) as a daily-partitioned asset: one partition per billing day.

Partition D runs `dbt build` (seeds, models and data tests; the data tests are asset checks, unit
tests are left to `make test`) with `as_of = D 23:59:59` UTC (see tally.assets.partitions), the
same build `tally bill --as-of` runs. Groups follow the project's folders: `staging`,
`intermediate`, `marts`, and `reference` for the seeds.

Re-running a day, or running days out of order, never moves the marts back in time: billing is a
pure function of the logs and as_of, so a day re-run gives the same marts; and when a later day
has already been materialised (a backfill running an older day after a newer one), the run bills
D as of its own end (its checks and metadata describe D), then rebuilds the marts as of the latest
materialised day, as `tally bill` would. Finalized invoices never change either way: their fees
only use rows received before they were finalized.

Run metadata on `fct_invoices` (also `stg_events`, `stg_rejected`): events read, events received
on D, rejected rows, invoices issued on D, invoices finalized on D and their totals per currency.
"""

import json
from collections import defaultdict
from datetime import timedelta
from pathlib import Path
from typing import Any, Mapping

from dagster import AssetExecutionContext, AssetKey, BackfillPolicy, Failure, MetadataValue, Output
from dagster_dbt import DagsterDbtTranslator, dbt_assets

from ..dbt_runner import bill, dbt_vars, format_as_of
from ..project import files_missing_from_manifest, tally_project
from ..resources.dbt import TallyDbtCliResource
from ..resources.warehouse import WAREHOUSE_POOL, TallyWarehouse
from ..warehouse import Warehouse
from .partitions import as_of_for, billing_days, day_start, previous_as_of

FCT_INVOICES = AssetKey(["fct_invoices"])
FCT_FEES = AssetKey(["fct_fees"])
STG_EVENTS = AssetKey(["stg_events"])
STG_REJECTED = AssetKey(["stg_rejected"])


class TallyDbtTranslator(DagsterDbtTranslator):
    """Asset keys are the model names (sources: raw/<table>); groups are the model folders."""

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        kind = dbt_resource_props.get("resource_type")
        if kind == "seed":
            return "reference"
        fqn = dbt_resource_props.get("fqn") or []
        if kind in ("model", "snapshot") and len(fqn) > 2:
            return fqn[1]
        return super().get_group_name(dbt_resource_props)


def _rel(wh: Warehouse, name: str) -> str:
    return f'"{wh.settings.schema}"."{name}"'


def billing_day_summary(wh: Warehouse, partition_key: str) -> dict[str, Any]:
    """What a person wants to see for day D, read from the logs and the marts."""
    as_of, prev = as_of_for(partition_key), previous_as_of(partition_key)
    start, end = day_start(partition_key), day_start(partition_key) + timedelta(days=1)
    raw = f'"{wh.raw}"'
    _, [(events_read, events_on_day, rejected_read, rejected_on_day)] = wh.query(
        f"""select (select count(*) from {raw}.events where received_at <= ?),
                   (select count(*) from {raw}.events where received_at > ? and received_at <= ?),
                   (select count(*) from {raw}.rejected where received_at <= ?),
                   (select count(*) from {raw}.rejected where received_at > ? and received_at <= ?)""",
        [as_of, prev, as_of, as_of, prev, as_of])
    invoices = wh.records(
        f"select invoice_id, status, currency, issued_at, finalizes_at, total_amount_cents "
        f"from {_rel(wh, 'fct_invoices')} "
        "where (issued_at >= ? and issued_at < ?) or (finalizes_at >= ? and finalizes_at < ?)",
        [start, end, start, end])
    _, [(invoices_total, finalized_total)] = wh.query(
        f"select count(*), count(case when status = 'finalized' then 1 end) from {_rel(wh, 'fct_invoices')}")
    issued = [i for i in invoices if start <= i["issued_at"] < end]
    finalized = [i for i in invoices if i["status"] == "finalized" and start <= i["finalizes_at"] < end]

    def per_currency(rows):
        totals: dict[str, int] = defaultdict(int)
        for r in rows:
            totals[r["currency"]] += int(r["total_amount_cents"])
        return dict(sorted(totals.items()))

    return {
        "billing_day": partition_key,
        "as_of": format_as_of(as_of),
        "events_read": int(events_read),
        "events_received_on_day": int(events_on_day),
        "rejected_rows": int(rejected_read),
        "rejected_rows_on_day": int(rejected_on_day),
        "invoices_issued": len(issued),
        "invoices_issued_total_by_currency": per_currency(issued),
        "invoices_finalized": len(finalized),
        "invoices_finalized_total_by_currency": per_currency(finalized),
        "finalized_invoice_ids": sorted(i["invoice_id"] for i in finalized),
        "invoices_in_mart": int(invoices_total),
        "finalized_invoices_in_mart": int(finalized_total),
    }


def _as_metadata(summary: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in summary.items():
        if k == "finalized_invoice_ids":
            continue
        out[k] = MetadataValue.json(v) if isinstance(v, dict) else v
    lines = ["| currency | finalized on day (cents) | issued on day (cents) |", "|---|---:|---:|"]
    currencies = sorted(set(summary["invoices_finalized_total_by_currency"])
                        | set(summary["invoices_issued_total_by_currency"]))
    for c in currencies:
        lines.append(f"| {c} | {summary['invoices_finalized_total_by_currency'].get(c, 0)} "
                     f"| {summary['invoices_issued_total_by_currency'].get(c, 0)} |")
    out["totals"] = MetadataValue.md("\n".join(lines) if currencies else "no invoice issued or finalized")
    return out


def latest_materialized_day(context: AssetExecutionContext) -> str | None:
    """The latest billing day whose marts were materialised (in this Dagster instance)."""
    days = context.instance.get_materialized_partitions(FCT_INVOICES)
    return max(days) if days else None


# The manifest these definitions are built from (parsed when missing or stale: tally.project).
_MANIFEST: dict = json.loads(Path(tally_project.manifest_path).read_text())


@dbt_assets(
    manifest=_MANIFEST,
    project=tally_project,
    name="billing_models",
    partitions_def=billing_days,
    backfill_policy=BackfillPolicy.multi_run(1),
    dagster_dbt_translator=TallyDbtTranslator(),
    exclude="resource_type:unit_test",
    pool=WAREHOUSE_POOL,
)
def billing_models(context: AssetExecutionContext, dbt: TallyDbtCliResource, warehouse: TallyWarehouse):
    day = context.partition_key
    as_of = as_of_for(day)
    settings = warehouse.settings()
    added = files_missing_from_manifest(_MANIFEST)
    if added:  # dbt would build models these definitions do not know
        raise Failure(f"the dbt project has models added after these definitions were loaded ({', '.join(added)}): "
                      "reload the code location (a new `dagster dev` run reloads it)")
    with warehouse.connect() as wh:
        wh.ensure_raw()  # an empty warehouse bills nothing rather than failing on missing sources

    # DuckDB: the dbt process holds the file until it exits, so the events are collected first and
    # yielded once the summary has been read.
    events: list = []
    failure: BaseException | None = None
    invocation = dbt.cli(
        ["build", "--vars", json.dumps(dbt_vars(settings, as_of)), "--exclude-resource-type", "unit_test"],
        context=context,
    )
    try:
        for event in invocation.stream():
            events.append(event)
    except Exception as exc:  # noqa: BLE001 - re-raised after the completed models are recorded
        failure = exc

    summary: dict[str, Any] | None = None
    if failure is None:
        with warehouse.connect() as wh:
            summary = billing_day_summary(wh, day)
        context.log.info(
            f"billing day {day} (as_of {summary['as_of']}): {summary['events_read']} events read, "
            f"{summary['invoices_issued']} invoices issued, {summary['invoices_finalized']} finalized "
            f"{summary['invoices_finalized_total_by_currency']}, {summary['rejected_rows']} rejected rows")
        latest = latest_materialized_day(context)
        if latest is not None and latest > day:
            context.log.info(f"day {latest} is already materialised: rebuilding the marts as of "
                             f"{format_as_of(as_of_for(latest))} so they do not move back in time")
            bill(settings, as_of_for(latest), tests=False)
            summary["marts_republished_as_of"] = format_as_of(as_of_for(latest))

    for event in events:
        if summary is not None and isinstance(event, Output):
            extra: dict[str, Any] = {}
            if event.output_name == FCT_INVOICES.to_python_identifier():
                extra = _as_metadata(summary)
            elif event.output_name == STG_EVENTS.to_python_identifier():
                extra = {k: summary[k] for k in ("as_of", "events_read", "events_received_on_day")}
            elif event.output_name == STG_REJECTED.to_python_identifier():
                extra = {k: summary[k] for k in ("as_of", "rejected_rows", "rejected_rows_on_day")}
            if extra:
                event = event.with_metadata({**event.metadata, **extra})
        yield event
    if failure is not None:
        raise failure
