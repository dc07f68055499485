"""Data-quality checks with great-expectations, as Dagster asset checks.

Each check loads a small frame with SQL (the same on DuckDB and PostgreSQL) and validates it
with great-expectations expectations; a check's metadata lists every expectation with its
unexpected count, percentage and a few unexpected values. great_expectations is imported only
when a check runs (it takes seconds to import).

On `raw/events` (not blocking): the events of a window, which is
- in a billing-day run (partition D): the events received on D, `D-1 23:59:59 < received_at <= D 23:59:59`;
- in the run that ingested them (the landing sensor's runs): the batches that run appended;
- otherwise: the 24 hours up to the latest arrival.

  - `required_fields_present` (ERROR): transaction_id, external_subscription_id, code, properties,
    received_at and batch_id are not null, and the ids are not empty.
  - `timestamps_in_range` (WARN): an event's timestamp (when sent) is at most 24 hours after it was
    received and at most TALLY_DQ_MAX_EVENT_AGE_DAYS (default 400) days before.
  - `duplicate_ratio` (ERROR for a repeated (external_subscription_id, transaction_id), which the
    loaders never let through; WARN when more than TALLY_DQ_MAX_DUPLICATE_RATIO (default 0.01) of
    the timestamped events repeat another's subscription, code, timestamp and properties under a
    new transaction id, the mark of a sender retrying with fresh ids).
  - `known_metric_codes` (WARN): the code is a billable metric in force at the window's end (events
    for unknown metrics are never billed).

On `fct_invoices` (blocking: a failure stops everything downstream of the invoices in the run,
e.g. pushing them):
  - `fees_reconcile`: fees_amount_cents and fees_count equal the sum and count of the invoice's
    fees in fct_fees (no fee without its invoice), and total = fees - coupons + taxes - credit notes
    - prepaid credits.
  - `no_negative_totals`: total_amount_cents and fees_amount_cents are >= 0.
  - `one_currency_per_invoice`: every fee of an invoice is in the invoice's currency.
  - `sequential_ids_gapless`: finalized invoices are numbered 1, 2, 3... per customer without gap
    or repeat; drafts have no number.
"""

import os
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any, Iterable, Sequence

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetKey,
    MetadataValue,
    multi_asset_check,
)

from ..resources.warehouse import WAREHOUSE_POOL, TallyWarehouse
from ..warehouse import Warehouse
from .billing import FCT_FEES, FCT_INVOICES
from .partitions import as_of_for, previous_as_of
from .raw import RAW_CATALOG_CHANGES, RAW_EVENTS

MAX_DUPLICATE_RATIO = float(os.environ.get("TALLY_DQ_MAX_DUPLICATE_RATIO", "0.01"))
MAX_EVENT_AGE_DAYS = int(os.environ.get("TALLY_DQ_MAX_EVENT_AGE_DAYS", "400"))
MAX_EVENT_AHEAD_HOURS = 24

# (check name, one line shown in the UI)
RAW_EVENT_CHECKS = {
    "required_fields_present": "transaction_id, external_subscription_id, code, properties, received_at and "
                               "batch_id are present (ids not empty)",
    "timestamps_in_range": f"timestamp at most {MAX_EVENT_AHEAD_HOURS} h after received_at and at most "
                           f"{MAX_EVENT_AGE_DAYS} days before",
    "duplicate_ratio": "no repeated (external_subscription_id, transaction_id); at most "
                       f"{MAX_DUPLICATE_RATIO:.0%} of timestamped events repeat another's content under a new id",
    "known_metric_codes": "every event's code is a billable metric in force",
}
INVOICE_CHECKS = {
    "fees_reconcile": "invoice fees_amount_cents / fees_count = its fees in fct_fees; total = fees - coupons "
                      "+ taxes - credit notes - prepaid credits",
    "no_negative_totals": "total_amount_cents and fees_amount_cents >= 0",
    "one_currency_per_invoice": "every fee of an invoice is in the invoice's currency",
    "sequential_ids_gapless": "finalized invoices numbered 1..n per customer, no gap, no repeat; drafts unnumbered",
}


# -- great-expectations ---------------------------------------------------------------
Expectation = tuple[str, str, dict]  # (check name, expectation class in gx.expectations, kwargs)


def run_expectations(frames: dict[str, tuple[Any, Sequence[Expectation]]]) -> dict[str, list[dict]]:
    """Validate each named pandas frame with its expectations; return, per check name, one summary
    per expectation. great_expectations is imported here, when a check runs."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    source = context.data_sources.add_pandas("tally")
    out: dict[str, list[dict]] = defaultdict(list)
    for name, (frame, expectations) in frames.items():
        if not expectations:
            continue
        if len(frame) == 0:  # nothing to validate: every expectation holds
            for check, cls, kwargs in expectations:
                out[check].append({"expectation": cls, **_columns(kwargs), "success": True, "element_count": 0,
                                   "unexpected_count": 0})
            continue
        batch = (source.add_dataframe_asset(name).add_batch_definition_whole_dataframe("all")
                 .get_batch(batch_parameters={"dataframe": frame}))
        suite = gx.ExpectationSuite(name=name)
        for i, (check, cls, kwargs) in enumerate(expectations):
            suite.add_expectation(getattr(gx.expectations, cls)(meta={"check": check, "order": i}, **kwargs))
        result = batch.validate(suite, result_format={"result_format": "SUMMARY", "partial_unexpected_count": 5})
        ordered = sorted(result.results, key=lambda r: r.expectation_config.meta["order"])
        for r in ordered:
            cfg = r.expectation_config
            res = r.result or {}
            summary = {"expectation": cfg.type,
                       **_columns(cfg.kwargs), "success": bool(r.success),
                       "element_count": res.get("element_count"),
                       "unexpected_count": res.get("unexpected_count"),
                       "unexpected_percent": _round(res.get("unexpected_percent")),
                       "partial_unexpected_list": [_plain(v) for v in (res.get("partial_unexpected_list") or [])][:5]}
            if "observed_value" in res:
                summary["observed_value"] = _plain(res["observed_value"])
            if r.exception_info and r.exception_info.get("raised_exception"):
                summary["exception"] = str(r.exception_info.get("exception_message"))[:500]
            out[cfg.meta["check"]].append({k: v for k, v in summary.items() if v is not None})
    return out


def _columns(kwargs: dict) -> dict:
    keys = ("column", "column_A", "column_B", "column_list", "min_value", "max_value", "mostly")
    return {k: _plain(kwargs[k]) for k in keys if k in kwargs and kwargs[k] is not None}


def _round(v):
    return None if v is None else round(float(v), 4)


def _plain(v):
    """A JSON-friendly value for metadata."""
    if isinstance(v, (str, int, bool)) or v is None:
        return v
    if isinstance(v, float):
        return None if v != v else v
    if isinstance(v, dict):
        return {str(k): _plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    return str(v)


def _frame(wh: Warehouse, sql: str, params: Sequence[Any] = ()):
    import pandas as pd

    cols, rows = wh.query(sql, list(params))
    return pd.DataFrame.from_records(rows, columns=cols)


def _integers(frame, columns: Iterable[str]):
    """DB numerics (Decimal on PostgreSQL) as nullable integers, so both warehouses compare alike."""
    import pandas as pd

    for c in columns:
        frame[c] = pd.array([None if v is None or v != v else int(v) for v in frame[c]], dtype="Int64")
    return frame


def _results(asset_key: AssetKey, checks: dict[str, str], found: dict[str, list[dict]],
             severities: dict[str, AssetCheckSeverity], common: dict[str, Any]) -> Iterable[AssetCheckResult]:
    for check in checks:
        expectations = found.get(check, [])
        failed = [e for e in expectations if not e["success"]]
        yield AssetCheckResult(
            asset_key=asset_key,
            check_name=check,
            passed=not failed,
            severity=severities.get(check, AssetCheckSeverity.ERROR),
            description=checks[check],
            metadata={
                **common,
                "expectations_failed": len(failed),
                "unexpected_rows": sum(int(e.get("unexpected_count") or 0) for e in failed),
                "expectations": MetadataValue.json(expectations),
            },
        )


def _billing_day(context: AssetCheckExecutionContext) -> str | None:
    return context.run.tags.get("dagster/partition")


# -- raw events -----------------------------------------------------------------------
def _raw_window(context: AssetCheckExecutionContext, wh: Warehouse) -> tuple[str, str, list, datetime | None]:
    """(description, SQL condition, params, window end) of the events to check."""
    day = _billing_day(context)
    if day:
        prev, as_of = previous_as_of(day), as_of_for(day)
        return (f"received on billing day {day} ({prev} < received_at <= {as_of})",
                "received_at > ? and received_at <= ?", [prev, as_of], as_of)
    event = context.instance.get_latest_materialization_event(RAW_EVENTS)
    if event is not None and event.run_id == context.run.run_id and event.asset_materialization:
        meta = event.asset_materialization.metadata.get("batch_ids")
        batch_ids = list(meta.value) if meta is not None else []
        if not batch_ids:
            return "the batches ingested by this run (none)", "1 = 0", [], None
        return (f"the {len(batch_ids)} batch(es) ingested by this run",
                f"batch_id in ({', '.join('?' for _ in batch_ids)})", batch_ids, None)
    _, [(latest,)] = wh.query(f'select max(received_at) from "{wh.raw}".events')
    if latest is None:
        return "no events received yet", "1 = 0", [], None
    return (f"the 24 hours up to the latest arrival ({latest})", "received_at > ? and received_at <= ?",
            [latest - timedelta(days=1), latest], latest)


def known_metric_codes(wh: Warehouse, at: datetime | None) -> list[str]:
    """Billable metric codes whose latest change received by `at` is not a deletion."""
    cond, params = ("and received_at <= ?", [at]) if at is not None else ("", [])
    _, rows = wh.query(
        f"select object_key, action, received_at, seq from \"{wh.raw}\".catalog_changes "
        f"where object_type = 'billable_metric' {cond}", params)
    latest: dict[str, tuple] = {}
    for key, action, received_at, seq in rows:
        if key not in latest or (received_at, seq) > latest[key][1:]:
            latest[key] = (action, received_at, seq)
    return sorted(k for k, (action, *_rest) in latest.items() if action != "delete")


@multi_asset_check(
    name="raw_events_quality",
    specs=[AssetCheckSpec(name, asset=RAW_EVENTS, description=text, additional_deps=[RAW_CATALOG_CHANGES]
                          if name == "known_metric_codes" else None)
           for name, text in RAW_EVENT_CHECKS.items()],
    pool=WAREHOUSE_POOL,
)
def raw_events_quality(context: AssetCheckExecutionContext, warehouse: TallyWarehouse):
    import pandas as pd

    with warehouse.connect() as wh:
        wh.ensure_raw()
        window, cond, params, window_end = _raw_window(context, wh)
        events = _frame(wh, f"""
            select transaction_id, external_subscription_id, code, "timestamp", received_at, batch_id,
                   cast(properties as varchar) as properties
            from "{wh.raw}".events where {cond}""", params)
        known = known_metric_codes(wh, window_end)

    if len(events):
        ts = pd.to_datetime(events["timestamp"])
        received = pd.to_datetime(events["received_at"])
        events["hours_ahead_of_receipt"] = (ts - received).dt.total_seconds() / 3600
        events["days_before_receipt"] = (received - ts).dt.total_seconds() / 86400
    else:
        events["hours_ahead_of_receipt"] = pd.Series(dtype=float)
        events["days_before_receipt"] = pd.Series(dtype=float)
    timestamped = events[events["timestamp"].notna()].copy()

    required = [("required_fields_present", "ExpectColumnValuesToNotBeNull", {"column": c})
                for c in ("transaction_id", "external_subscription_id", "code", "properties", "received_at",
                          "batch_id")]
    required += [("required_fields_present", "ExpectColumnValueLengthsToBeBetween", {"column": c, "min_value": 1})
                 for c in ("transaction_id", "external_subscription_id", "code")]
    frames = {
        "raw_events": (events, [
            *required,
            ("timestamps_in_range", "ExpectColumnValuesToBeBetween",
             {"column": "hours_ahead_of_receipt", "max_value": MAX_EVENT_AHEAD_HOURS}),
            ("timestamps_in_range", "ExpectColumnValuesToBeBetween",
             {"column": "days_before_receipt", "max_value": MAX_EVENT_AGE_DAYS}),
            ("duplicate_ratio", "ExpectCompoundColumnsToBeUnique",
             {"column_list": ["external_subscription_id", "transaction_id"]}),
            ("known_metric_codes", "ExpectColumnValuesToBeInSet", {"column": "code", "value_set": known}),
        ]),
        "raw_events_timestamped": (timestamped, [
            ("duplicate_ratio", "ExpectCompoundColumnsToBeUnique",
             {"column_list": ["external_subscription_id", "code", "timestamp", "properties"],
              "mostly": 1 - MAX_DUPLICATE_RATIO}),
        ]),
    }
    found = run_expectations(frames)
    key_duplicates_ok = found["duplicate_ratio"][0]["success"] if found.get("duplicate_ratio") else True
    severities = {
        "required_fields_present": AssetCheckSeverity.ERROR,
        "timestamps_in_range": AssetCheckSeverity.WARN,
        "duplicate_ratio": AssetCheckSeverity.WARN if key_duplicates_ok else AssetCheckSeverity.ERROR,
        "known_metric_codes": AssetCheckSeverity.WARN,
    }
    common = {"window": window, "events_checked": len(events), "known_metric_codes": MetadataValue.json(known)}
    if _billing_day(context):
        common["billing_day"] = _billing_day(context)
    yield from _results(RAW_EVENTS, RAW_EVENT_CHECKS, found, severities, common)


# -- invoices -------------------------------------------------------------------------
def invoice_frames(wh: Warehouse):
    schema = f'"{wh.settings.schema}"'
    invoices = _frame(wh, f"""
        with fees as (
            select invoice_id, count(*) as fee_rows, sum(amount_cents) as fee_amount_sum,
                   count(distinct currency) as fee_currencies, min(currency) as fee_currency
            from {schema}.fct_fees group by invoice_id
        )
        select coalesce(i.invoice_id, f.invoice_id) as invoice_id, i.external_customer_id, i.status,
               i.sequential_id, i.currency, i.fees_count, i.fees_amount_cents, i.coupons_amount_cents,
               i.taxes_amount_cents, i.credit_notes_amount_cents, i.prepaid_credit_amount_cents,
               i.total_amount_cents, coalesce(f.fee_rows, 0) as fee_rows, coalesce(f.fee_amount_sum, 0) as fee_amount_sum,
               coalesce(f.fee_currencies, 0) as fee_currencies, f.fee_currency
        from {schema}.fct_invoices i
        full outer join fees f on f.invoice_id = i.invoice_id""")
    _integers(invoices, ["sequential_id", "fees_count", "fees_amount_cents", "coupons_amount_cents",
                         "taxes_amount_cents", "credit_notes_amount_cents", "prepaid_credit_amount_cents",
                         "total_amount_cents", "fee_rows", "fee_amount_sum", "fee_currencies"])
    invoices["expected_total_amount_cents"] = (
        invoices["fees_amount_cents"] - invoices["coupons_amount_cents"] + invoices["taxes_amount_cents"]
        - invoices["credit_notes_amount_cents"] - invoices["prepaid_credit_amount_cents"])
    finalized = invoices[invoices["status"] == "finalized"].copy()
    finalized = finalized.sort_values(["external_customer_id", "sequential_id", "invoice_id"], na_position="last")
    finalized["expected_sequential_id"] = (finalized.groupby("external_customer_id").cumcount() + 1).astype("Int64")
    drafts = invoices[invoices["status"] != "finalized"].copy()
    return invoices, finalized, drafts


@multi_asset_check(
    name="invoices_quality",
    specs=[AssetCheckSpec(name, asset=FCT_INVOICES, description=text, blocking=True, additional_deps=[FCT_FEES])
           for name, text in INVOICE_CHECKS.items()],
    pool=WAREHOUSE_POOL,
)
def invoices_quality(context: AssetCheckExecutionContext, warehouse: TallyWarehouse):
    with warehouse.connect() as wh:
        invoices, finalized, drafts = invoice_frames(wh)
    frames = {
        "invoices": (invoices, [
            ("fees_reconcile", "ExpectColumnPairValuesToBeEqual",
             {"column_A": "fees_amount_cents", "column_B": "fee_amount_sum", "ignore_row_if": "neither"}),
            ("fees_reconcile", "ExpectColumnPairValuesToBeEqual",
             {"column_A": "fees_count", "column_B": "fee_rows", "ignore_row_if": "neither"}),
            ("fees_reconcile", "ExpectColumnPairValuesToBeEqual",
             {"column_A": "total_amount_cents", "column_B": "expected_total_amount_cents", "ignore_row_if": "neither"}),
            ("no_negative_totals", "ExpectColumnValuesToNotBeNull", {"column": "total_amount_cents"}),
            ("no_negative_totals", "ExpectColumnValuesToBeBetween", {"column": "total_amount_cents", "min_value": 0}),
            ("no_negative_totals", "ExpectColumnValuesToBeBetween", {"column": "fees_amount_cents", "min_value": 0}),
            ("one_currency_per_invoice", "ExpectColumnValuesToNotBeNull", {"column": "currency"}),
            ("one_currency_per_invoice", "ExpectColumnValuesToBeBetween",
             {"column": "fee_currencies", "min_value": 1, "max_value": 1}),
            ("one_currency_per_invoice", "ExpectColumnPairValuesToBeEqual",
             {"column_A": "currency", "column_B": "fee_currency", "ignore_row_if": "neither"}),
        ]),
        "finalized_invoices": (finalized, [
            ("sequential_ids_gapless", "ExpectColumnValuesToNotBeNull", {"column": "sequential_id"}),
            ("sequential_ids_gapless", "ExpectCompoundColumnsToBeUnique",
             {"column_list": ["external_customer_id", "sequential_id"]}),
            ("sequential_ids_gapless", "ExpectColumnPairValuesToBeEqual",
             {"column_A": "sequential_id", "column_B": "expected_sequential_id", "ignore_row_if": "neither"}),
        ]),
        "draft_invoices": (drafts, [
            ("sequential_ids_gapless", "ExpectColumnValuesToBeNull", {"column": "sequential_id"}),
        ]),
    }
    found = run_expectations(frames)
    common: dict[str, Any] = {"invoices_checked": len(invoices), "finalized_invoices": len(finalized)}
    if _billing_day(context):
        common["billing_day"] = _billing_day(context)
    yield from _results(FCT_INVOICES, INVOICE_CHECKS, found, {}, common)


checks = [raw_events_quality, invoices_quality]
