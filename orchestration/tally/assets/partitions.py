"""Billing days: one Dagster partition per UTC calendar day.

Materialising partition D bills with ``as_of = D 23:59:59`` (UTC), the last whole second of D:
everything received on D up to 23:59:59 is known, and an invoice whose billing moment or
finalization falls on D (both are whole seconds) is issued or finalized by D's run. An invoice
issued at 00:00:00 UTC on D+1 belongs to D+1. Rows received in the last fraction of a second
(23:59:59.x) are first known to D+1's run.
"""
from __future__ import annotations

import os
from datetime import date, datetime, time, timedelta

from dagster import DailyPartitionsDefinition

# The first billing day; set TALLY_FIRST_BILLING_DAY (YYYY-MM-DD) for an older warehouse.
FIRST_BILLING_DAY = os.environ.get("TALLY_FIRST_BILLING_DAY", "2026-01-01")

billing_days = DailyPartitionsDefinition(start_date=FIRST_BILLING_DAY, timezone="UTC", fmt="%Y-%m-%d")


def billing_day(partition_key: str) -> date:
    return date.fromisoformat(partition_key)


def day_start(partition_key: str) -> datetime:
    """00:00:00 UTC on day D (naive UTC, like every timestamp in the warehouse)."""
    return datetime.combine(billing_day(partition_key), time())


def as_of_for(partition_key: str) -> datetime:
    """The knowledge time of billing day D: D 23:59:59 UTC."""
    return day_start(partition_key) + timedelta(days=1) - timedelta(seconds=1)


def previous_as_of(partition_key: str) -> datetime:
    """The knowledge time of the day before D, so (previous_as_of, as_of] is what D learned."""
    return as_of_for(partition_key) - timedelta(days=1)
