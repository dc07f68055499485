"""Tally's assets by domain: raw logs (`raw`), the dbt project (`staging`, `intermediate`,
`marts`, `reference`), the great-expectations checks, the billing-day job and schedule, and the
push assets (`push`: one per system, with the `push_invoices` job)."""
from .billing import billing_models
from .checks import invoices_quality, raw_events_quality
from .jobs import billing_day_job, nightly_billing
from .partitions import as_of_for, billing_days
from .push import push_assets, push_invoices_job, raw_payment_events
from .raw import ingest_events, raw_catalog_changes

assets = [raw_catalog_changes, ingest_events, billing_models, raw_payment_events, *push_assets]
asset_checks = [raw_events_quality, invoices_quality]

__all__ = ["as_of_for", "asset_checks", "assets", "billing_day_job", "billing_days", "billing_models",
           "ingest_events", "invoices_quality", "nightly_billing", "push_assets", "push_invoices_job",
           "raw_catalog_changes", "raw_events_quality", "raw_payment_events"]
