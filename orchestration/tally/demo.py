"""`tally demo`: a DuckDB warehouse billed from the two seed templates, with realistic usage.

Two customers are on per-seat pricing like Notion (a recurring unique count of users, $10 per
user per month, prorated by day), two on hybrid pricing like Segment ($120 a month in advance
after a 14-day trial, graduated monthly tracked users). Seats come and go, tracked users grow;
the warehouse is billed as of June 2nd, when the one-day grace period of the last invoices is
over, and every invoice of the three months is printed.
"""
from __future__ import annotations

import json
import random
import shutil
import tempfile
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

from . import catalog, reports
from .dbt_runner import bill
from .ingest import ingest_file
from .settings import Settings, project_dir
from .warehouse import Warehouse

START = datetime(2026, 3, 1, 9, 0, 0)
AS_OF = datetime(2026, 6, 2, 12, 0, 0)
SUBSCRIPTIONS = [
    # external_customer_id, plan, external_id, start
    ("acme", "team", "sub_acme_team", START),
    ("globex", "team", "sub_globex_team", START + timedelta(days=9, hours=5)),
    ("initech", "segment_team", "sub_initech_segment", START),
    ("umbrella", "segment_team", "sub_umbrella_segment", START + timedelta(days=20)),
]


def _seat_events(rng: random.Random, sub: str, start: datetime, seats: int) -> list[dict]:
    """Seats added over time, some removed later (and a few re-added the same day)."""
    events, n = [], 0
    for u in range(seats):
        added = start + timedelta(days=rng.randint(0, 80), hours=rng.randint(0, 23), minutes=rng.randint(0, 59))
        events.append(_event(sub, f"{sub}-seat-{n}", "active_users", added, {"user_id": f"user_{u}", "operation_type": "add"}))
        n += 1
        if rng.random() < 0.3:
            removed = added + timedelta(days=rng.randint(1, 40), hours=rng.randint(0, 12))
            events.append(_event(sub, f"{sub}-seat-{n}", "active_users", removed,
                                 {"user_id": f"user_{u}", "operation_type": "remove"}))
            n += 1
    return events


def _mtu_events(rng: random.Random, sub: str, start: datetime, users: int, count: int) -> list[dict]:
    events = []
    for i in range(count):
        at = start + timedelta(seconds=rng.randint(0, 91 * 86400))
        events.append(_event(sub, f"{sub}-mtu-{i}", "mtu", at, {"user_id": f"visitor_{rng.randint(0, users)}"}))
    return events


def _event(sub: str, txn: str, code: str, at: datetime, props: dict) -> dict:
    return {"transaction_id": txn, "external_subscription_id": sub, "code": code,
            "timestamp": at.strftime("%Y-%m-%dT%H:%M:%SZ"), "properties": props}


def demo_events(total: int) -> list[dict]:
    rng = random.Random(20260301)
    seat_share = max(40, total // 40)
    events = _seat_events(rng, "sub_acme_team", START, seat_share)
    events += _seat_events(rng, "sub_globex_team", START + timedelta(days=10), seat_share // 2)
    rest = max(0, total - len(events))
    events += _mtu_events(rng, "sub_initech_segment", START, users=max(10, rest // 5), count=rest * 2 // 3)
    events += _mtu_events(rng, "sub_umbrella_segment", START + timedelta(days=20), users=max(10, rest // 10),
                          count=rest - rest * 2 // 3)
    return [e for e in events if datetime.strptime(e["timestamp"], "%Y-%m-%dT%H:%M:%SZ") < AS_OF]


def build_demo(settings: Settings, events: int = 3000, home: Path | None = None) -> Settings:
    """(Re)build the demo warehouse (in `home`, default warehouse/demo); returns its settings."""
    home = home or project_dir() / "warehouse" / "demo"
    shutil.rmtree(home, ignore_errors=True)
    settings = replace(settings, target="duckdb", home=home, schema="main", raw_schema="raw")
    with Warehouse(settings) as wh:
        catalog.load_paths(wh, [project_dir() / "seeds" / "demo" / "catalog.json"], START - timedelta(days=1))
        for cust, plan, sub, start in SUBSCRIPTIONS:
            catalog.load_objects(wh, [{"subscription": {"external_customer_id": cust, "plan_code": plan,
                                                        "external_id": sub, "billing_time": "calendar"}}], start)
        # events stream in: each UTC day's arrive at its end, within the organization's one-day
        # grace period, so every invoice is finalized knowing its period's usage
        by_day: dict[str, list[dict]] = {}
        for e in demo_events(events):
            by_day.setdefault(e["timestamp"][:10], []).append(e)
        totals = [0, 0, 0, 0]
        with tempfile.TemporaryDirectory() as tmp:
            for day, day_events in sorted(by_day.items()):
                path = Path(tmp) / f"events_{day}.ndjson"
                path.write_text("".join(json.dumps(e) + "\n" for e in day_events))
                arrived = min(datetime.fromisoformat(day) + timedelta(days=1, seconds=-1), AS_OF)
                result = ingest_file(wh, path, received_at=arrived)
                for i, n in enumerate((result.received, result.accepted, result.duplicates, result.rejected)):
                    totals[i] += n
        print(f"events: {totals[0]} received = {totals[1]} accepted + {totals[2]} duplicates + "
              f"{totals[3]} rejected, in {len(by_day)} daily files")
    print(f"billing as of {AS_OF.isoformat()}Z (dbt build: models and data tests) ...")
    bill(settings, AS_OF, tests=True)
    return settings


def run_demo(settings: Settings, events: int = 3000) -> int:
    settings = build_demo(settings, events)
    with Warehouse(settings) as wh:
        invoices = reports.invoices(wh)
    print()
    print(reports.table([{k: v for k, v in i.items() if k != "fees"} for i in invoices],
                        ["number", "external_customer_id", "issued_at", "status", "currency",
                         "fees_amount_cents", "total_amount_cents", "payment_due_date"]))
    print()
    rows = []
    for inv in invoices:
        for fee in inv["fees"]:
            rows.append({"number": inv["number"], "type": fee["type"], "metric_code": fee["metric_code"] or "",
                         "units": fee["units"], "amount_cents": fee["amount_cents"],
                         "from": fee["from_datetime"], "to": fee["to_datetime"]})
    print(reports.table(rows, ["number", "type", "metric_code", "units", "amount_cents", "from", "to"]))
    print(f"\nThe demo warehouse is {settings.duckdb_path}; read it with "
          f"`TALLY_HOME={settings.home} tally invoices --format json`.")
    return 0
