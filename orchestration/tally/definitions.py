"""Tally on Dagster: `dagster dev -m tally.definitions` (or `make dagster`).

Asset graph: raw logs (group `raw`: raw/events and raw/rejected, materialised by `ingest_events`;
raw/catalog_changes, written by `tally load`) -> dbt staging views -> intermediate tables ->
marts (fct_fees, fct_invoices, fct_current_usage), every dbt asset partitioned by UTC billing
day. Jobs: `billing_day` (schedule `nightly_billing`, yesterday at 00:30 UTC) and
`ingest_landing_files` (sensor `landing_folder`). Checks: dbt data tests, and great-expectations
checks on raw/events and fct_invoices (blocking). The warehouse is chosen by the `warehouse`
resource (TALLY_TARGET=duckdb|postgres and the other TALLY_* variables, as for `tally`).
"""
from __future__ import annotations

import os
from pathlib import Path

from dagster import Definitions, in_process_executor

from .assets import asset_checks, assets, billing_day_job, nightly_billing, push_invoices_job
from .project import ROOT, ensure_dagster_yaml
from .resources import default_resources
from .sensors import ingest_landing_job, landing_sensor


def _own_dagster_home() -> bool:
    """DAGSTER_HOME is Tally's own (inside the repository, as `make dagster` sets it)."""
    home = os.environ.get("DAGSTER_HOME")
    return bool(home) and Path(home).resolve().is_relative_to(ROOT)


if _own_dagster_home():
    ensure_dagster_yaml()  # serialise warehouse runs from the next start on; see tally.project

defs = Definitions(
    assets=assets,
    asset_checks=asset_checks,
    jobs=[billing_day_job, ingest_landing_job, push_invoices_job],
    schedules=[nightly_billing],
    sensors=[landing_sensor],
    resources=default_resources(),
    executor=in_process_executor,
)
