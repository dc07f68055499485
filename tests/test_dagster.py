"""Tally on Dagster: billing days as partitions, checks, idempotent backfills, the landing sensor
and the webserver.

Two customers subscribe on 2026-03-01 00:00 UTC to monthly plans paid in advance: acme (USD 10.00,
one day of grace) and globex (EUR 20.00, no grace). Billing day 2026-03-01 issues both invoices
and finalizes globex's; billing day 2026-03-02 finalizes acme's.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from datetime import datetime
from pathlib import Path

import pytest

from conftest import ROOT

D1, D2 = "2026-03-01", "2026-03-02"

CATALOG = [
    {"organization": {"name": "Dagster Test", "timezone": "UTC", "default_currency": "USD"}},
    {"billable_metric": {"name": "API calls", "code": "api_calls", "aggregation_type": "count_agg"}},
    {"plan": {"name": "Starter", "code": "starter_usd", "interval": "monthly", "amount_cents": 1000,
              "amount_currency": "USD", "pay_in_advance": True,
              "charges": [{"billable_metric_code": "api_calls", "charge_model": "standard",
                           "properties": {"amount": "0.5"}}]}},
    {"plan": {"name": "Starter EUR", "code": "starter_eur", "interval": "monthly", "amount_cents": 2000,
              "amount_currency": "EUR", "pay_in_advance": True, "charges": []}},
    {"customer": {"external_id": "acme", "name": "Acme", "currency": "USD", "timezone": "UTC",
                  "invoice_grace_period": 1}},
    {"customer": {"external_id": "globex", "name": "Globex", "currency": "EUR", "timezone": "UTC"}},
    {"subscription": {"external_customer_id": "acme", "plan_code": "starter_usd", "external_id": "sub_acme",
                      "billing_time": "calendar", "subscription_at": "2026-03-01T00:00:00Z"}},
    {"subscription": {"external_customer_id": "globex", "plan_code": "starter_eur", "external_id": "sub_globex",
                      "billing_time": "calendar", "subscription_at": "2026-03-01T00:00:00Z"}},
]


def _events_file(folder: Path, name: str = "events.ndjson", first: int = 0, n: int = 3, bad: bool = True) -> Path:
    lines = [json.dumps({"transaction_id": f"t{i}", "external_subscription_id": "sub_acme", "code": "api_calls",
                         "timestamp": f"2026-03-01T10:{i:02d}:00Z", "properties": {}})
             for i in range(first, first + n)]
    if bad:
        lines.append(json.dumps({"transaction_id": "no-code", "external_subscription_id": "sub_acme"}))
    path = folder / name
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def loaded(settings, tmp_path):
    """The warehouse with the catalog (received Feb 28) and 3 events + 1 bad row (received Mar 1)."""
    from tally import catalog
    from tally.ingest import ingest_file
    from tally.warehouse import Warehouse

    with Warehouse(settings) as wh:
        wh.ensure_raw()
        catalog.load_objects(wh, CATALOG, datetime(2026, 2, 28, 12))
        result = ingest_file(wh, _events_file(tmp_path), received_at=datetime(2026, 3, 1, 10, 30))
    assert (result.accepted, result.rejected) == (3, 1)
    return settings


@pytest.fixture
def dagster():
    """An in-memory Dagster instance and the billing-day job."""
    from dagster import DagsterInstance

    from tally.definitions import defs

    with DagsterInstance.ephemeral() as instance:
        yield instance, defs.resolve_job_def("billing_day")


def _bill_day(dagster, settings, day: str):
    from tally.resources import TallyWarehouse, default_resources

    instance, job = dagster
    result = job.execute_in_process(partition_key=day, instance=instance,
                                    resources=default_resources(TallyWarehouse.from_settings(settings)))
    assert result.success
    return result


def _summary(result) -> dict:
    [mat] = [m.materialization for m in result.get_asset_materialization_events()
             if m.asset_key.to_user_string() == "fct_invoices"]
    return {k: v.value for k, v in mat.metadata.items()}


def _checks(result) -> dict[str, bool]:
    return {f"{e.asset_check_key.asset_key.to_user_string()}:{e.asset_check_key.name}": e.passed
            for e in result.get_asset_check_evaluations()}


def _invoices(settings) -> list[dict]:
    from tally.warehouse import Warehouse

    with Warehouse(settings) as wh:
        return wh.records(
            f'select external_customer_id, status, currency, total_amount_cents, sequential_id, number '
            f'from "{settings.schema}".fct_invoices order by external_customer_id')


def _snapshot(settings) -> str:
    from tally import reports
    from tally.warehouse import Warehouse

    with Warehouse(settings) as wh:
        return json.dumps(reports.invoices(wh), sort_keys=True)


GE_CHECKS = {"raw/events:required_fields_present", "raw/events:timestamps_in_range", "raw/events:duplicate_ratio",
             "raw/events:known_metric_codes", "fct_invoices:fees_reconcile", "fct_invoices:no_negative_totals",
             "fct_invoices:one_currency_per_invoice", "fct_invoices:sequential_ids_gapless"}


def test_two_consecutive_billing_days(loaded, dagster):
    settings = loaded

    first = _bill_day(dagster, settings, D1)
    summary = _summary(first)
    assert summary["as_of"] == "2026-03-01 23:59:59"
    assert (summary["events_read"], summary["events_received_on_day"], summary["rejected_rows"]) == (3, 3, 1)
    assert summary["invoices_issued"] == 2
    assert summary["invoices_issued_total_by_currency"] == {"EUR": 2000, "USD": 1000}
    assert summary["invoices_finalized"] == 1
    assert summary["invoices_finalized_total_by_currency"] == {"EUR": 2000}
    assert [(i["external_customer_id"], i["status"], i["currency"], int(i["total_amount_cents"]))
            for i in _invoices(settings)] == [("acme", "draft", "USD", 1000), ("globex", "finalized", "EUR", 2000)]
    checks = _checks(first)
    assert GE_CHECKS <= set(checks)
    assert len(checks) > len(GE_CHECKS)  # the dbt data tests are asset checks too
    assert all(checks.values()), {k: v for k, v in checks.items() if not v}

    second = _bill_day(dagster, settings, D2)
    summary = _summary(second)
    assert summary["as_of"] == "2026-03-02 23:59:59"
    assert (summary["events_read"], summary["events_received_on_day"]) == (3, 0)
    assert summary["invoices_issued"] == 0
    assert summary["invoices_finalized"] == 1
    assert summary["invoices_finalized_total_by_currency"] == {"USD": 1000}
    invoices = _invoices(settings)
    assert [(i["external_customer_id"], i["status"], int(i["total_amount_cents"]), i["sequential_id"])
            for i in invoices] == [("acme", "finalized", 1000, 1), ("globex", "finalized", 2000, 1)]
    checks = _checks(second)
    assert GE_CHECKS <= set(checks) and all(checks.values()), {k: v for k, v in checks.items() if not v}
    instance, _ = dagster
    assert instance.get_materialized_partitions(_key("fct_invoices")) == {D1, D2}

    # the invoice checks catch what they are for: a negative total, a gap in the numbering
    from tally.warehouse import Warehouse

    with Warehouse(settings) as wh:
        wh.execute(f'update "{settings.schema}".fct_invoices set total_amount_cents = -5, sequential_id = 3 '
                   "where external_customer_id = 'acme'")
    results = _run_invoice_checks(dagster, settings)
    assert set(results) == {c for c in GE_CHECKS if c.startswith("fct_invoices:")}
    assert not results["fct_invoices:no_negative_totals"]
    assert not results["fct_invoices:fees_reconcile"]  # total != fees - coupons + taxes - ...
    assert not results["fct_invoices:sequential_ids_gapless"]
    assert results["fct_invoices:one_currency_per_invoice"]


def _run_invoice_checks(dagster, settings) -> dict[str, bool]:
    """Run only the great-expectations invoice checks (no dbt build)."""
    from dagster import AssetSelection, Definitions, define_asset_job

    from tally.assets import asset_checks, assets, invoices_quality
    from tally.resources import TallyWarehouse, default_resources

    instance, _ = dagster
    defs = Definitions(assets=assets, asset_checks=asset_checks,
                       jobs=[define_asset_job("invoice_checks", AssetSelection.checks(invoices_quality))],
                       resources=default_resources(TallyWarehouse.from_settings(settings)))
    result = defs.resolve_job_def("invoice_checks").execute_in_process(instance=instance, raise_on_error=False)
    return _checks(result)


def _key(name):
    from dagster import AssetKey

    return AssetKey([name])


def test_rerun_and_out_of_order_days_leave_invoices_unchanged(loaded, dagster):
    settings = loaded
    _bill_day(dagster, settings, D2)          # the later day first
    expected = _snapshot(settings)
    assert '"status": "finalized"' in expected and '"status": "draft"' not in expected

    _bill_day(dagster, settings, D2)          # the same day again
    assert _snapshot(settings) == expected

    earlier = _bill_day(dagster, settings, D1)  # an earlier day, out of order
    assert _snapshot(settings) == expected
    summary = _summary(earlier)              # D1's own figures, as known at its end
    assert summary["invoices_issued"] == 2 and summary["invoices_finalized_total_by_currency"] == {"EUR": 2000}
    assert summary["marts_republished_as_of"] == "2026-03-02 23:59:59"
    assert all(_checks(earlier).values())


def test_partitions_map_to_the_last_second_of_the_day():
    from tally.assets.partitions import as_of_for, billing_days

    assert as_of_for("2026-03-31") == datetime(2026, 3, 31, 23, 59, 59)
    assert billing_days.timezone == "UTC"
    assert billing_days.get_first_partition_key() <= "2026-03-01"


def test_landing_sensor_ingests_each_file_once(settings, tmp_path, monkeypatch):
    from dagster import DagsterInstance, SkipReason, build_sensor_context

    from tally.definitions import defs
    from tally.resources import TallyWarehouse, default_resources
    from tally.sensors import landing_sensor
    from tally.warehouse import Warehouse

    landing = tmp_path / "landing"
    landing.mkdir()
    monkeypatch.setenv("TALLY_LANDING_DIR", str(landing))
    monkeypatch.setenv("TALLY_LANDING_MIN_AGE_SECONDS", "0")
    with Warehouse(settings) as wh:
        wh.ensure_raw()
        from tally import catalog

        catalog.load_objects(wh, CATALOG, datetime(2026, 2, 28, 12))
    _events_file(landing, "a.ndjson", 0, 2, bad=False)
    _events_file(landing, "b.ndjson", 2, 2, bad=True)
    (landing / "notes.txt").write_text("not an event file")
    (landing / ".partial.ndjson").write_text("{")  # hidden: still being written

    resources = default_resources(TallyWarehouse.from_settings(settings))
    job = defs.resolve_job_def("ingest_landing_files")
    with DagsterInstance.ephemeral() as instance:
        def tick(cursor):
            ctx = build_sensor_context(instance=instance, cursor=cursor, resources={"warehouse": resources["warehouse"]})
            return landing_sensor(ctx), ctx.cursor

        requests, cursor = tick(None)
        assert len(requests) == 1
        files = requests[0].run_config["ops"]["ingest_events"]["config"]["files"]
        assert sorted(Path(f).name for f in files) == ["a.ndjson", "b.ndjson"]
        run = job.execute_in_process(run_config=requests[0].run_config, instance=instance, resources=resources)
        assert run.success
        assert all(_checks(run).values())

        again, cursor = tick(cursor)
        assert isinstance(again, SkipReason)
        _events_file(landing, "c.ndjson", 4, 1, bad=False)
        requests, cursor = tick(cursor)
        assert [Path(f).name for f in requests[0].run_config["ops"]["ingest_events"]["config"]["files"]] \
            == ["c.ndjson"]
        assert job.execute_in_process(run_config=requests[0].run_config, instance=instance,
                                      resources=resources).success
    with Warehouse(settings) as wh:
        _, [(events, rejected)] = wh.query(f'select (select count(*) from "{wh.raw}".events), '
                                           f'(select count(*) from "{wh.raw}".rejected)')
    assert (events, rejected) == (5, 1)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str, body: bytes | None = None) -> tuple[int, bytes]:
    req = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"} if body else {})
    with urllib.request.urlopen(req, timeout=5) as resp:
        return resp.status, resp.read()


def test_webserver_serves_the_definitions(tmp_path):
    """`dagster-webserver -m tally.definitions` from a fresh warehouse home (no manifest yet)."""
    from tally.project import ensure_dagster_yaml

    dagster_home = tmp_path / "dagster"
    ensure_dagster_yaml(dagster_home)
    env = {**os.environ, "DAGSTER_HOME": str(dagster_home), "TALLY_HOME": str(tmp_path / "warehouse"),
           "TALLY_TARGET": "duckdb"}
    port = _free_port()
    webserver = Path(sys.executable).with_name("dagster-webserver")
    proc = subprocess.Popen([str(webserver), "-m", "tally.definitions", "-h", "127.0.0.1", "-p", str(port)],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline, status = time.monotonic() + 120, None
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                status, _ = _get(f"{base}/server_info")
                break
            except OSError:
                time.sleep(1)
        assert status == 200, f"webserver did not answer (exit code {proc.poll()})"
        assert _get(base + "/")[0] == 200
        query = json.dumps({"query": "{ workspaceOrError { ... on Workspace { locationEntries { name "
                                     "locationOrLoadError { __typename ... on PythonError { message } } } } } }"})
        deadline = time.monotonic() + 120
        while True:  # the code location loads in a subprocess: wait until it is loaded (or failed)
            _, body = _get(f"{base}/graphql", query.encode())
            entries = json.loads(body)["data"]["workspaceOrError"]["locationEntries"]
            loaded = [e["locationOrLoadError"] for e in entries if e["locationOrLoadError"]]
            if loaded or time.monotonic() > deadline:
                break
            time.sleep(1)
        assert loaded and all(e["__typename"] == "RepositoryLocation" for e in loaded), entries
        assert (tmp_path / "warehouse" / "target" / "dagster-manifest-duckdb" / "manifest.json").exists()
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
