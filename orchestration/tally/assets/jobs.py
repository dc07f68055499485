"""The billing-day job and the nightly schedule that runs it."""
from __future__ import annotations

from dagster import (
    AssetSelection,
    DefaultScheduleStatus,
    build_schedule_from_partitioned_job,
    define_asset_job,
    in_process_executor,
)

from .billing import billing_models
from .checks import raw_events_quality

# One billing day: every dbt model, seed and data test (as asset checks) with as_of = D 23:59:59
# UTC, the invoice checks (blocking) and the raw-event checks on the events received on D. Steps
# run one after the other in the run's process: DuckDB has a single writer.
billing_day_job = define_asset_job(
    "billing_day",
    selection=AssetSelection.assets(billing_models) | AssetSelection.checks(raw_events_quality),
    executor_def=in_process_executor,
    description="Bill one UTC day: dbt build with as_of = the day's last second, then the data-quality checks.",
)

# Each night at 00:30 UTC, bill the day that just ended (yesterday's partition).
nightly_billing = build_schedule_from_partitioned_job(
    billing_day_job,
    name="nightly_billing",
    hour_of_day=0,
    minute_of_hour=30,
    default_status=DefaultScheduleStatus.RUNNING,
    description="Materialise yesterday's billing day at 00:30 UTC.",
)
