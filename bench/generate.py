"""Synthetic Tally workload: a Lago catalog (request-body JSON files) and M events (Parquet).

    python bench/generate.py OUT_DIR --events 1000000 --subscriptions 1000 [--seed 42]

writes
    OUT_DIR/catalog/00_organization.json ... 04_subscriptions.json   (`tally load OUT_DIR/catalog`)
    OUT_DIR/events-2026-01.parquet, OUT_DIR/events-2026-02.parquet  (one `tally ingest` each)

The catalog: N customers spread over five time zones (3-day invoice grace period), one
calendar-monthly subscription each (on one of two plans), and four billable metrics priced by
every plan:

    api_calls  count_agg                          standard, 0.001 per call
    storage_gb sum_agg on properties.gb           standard, 0.25 per GB
    mau        unique_count_agg on user_id        graduated (100 free, then 0.05, then 0.03)
    seats      unique_count_agg on seat_id,       standard 8.00 per seat, prorated
               recurring (add/remove events)

The events (transaction_id, external_subscription_id, code, timestamp TIMESTAMP, properties JSON
text) cover January and February 2026 (from Jan 1 00:00 in Los Angeles, the last of the five
zones to start January, to Mar 1 00:00 UTC), uniformly over the subscriptions. They are split in
two files at the moment January has ended in every zone, each meant to be received when its last
event has happened (see FILES): every event then arrives after it happened and before its
period's invoice is final (3-day grace period), so none is late.

They are produced by DuckDB SQL over range(M): every column is a function of the row number and
the seed through hash(), so the output is deterministic and 10M rows take seconds. Transaction
ids are unique (no duplicates, nothing rejected).
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import duckdb

START = "2026-01-01 08:00:00"            # first event (UTC): Jan 1 00:00 in Los Angeles
END = "2026-03-01 00:00:00"              # events are before this (UTC)
SUBSCRIPTION_AT = "2025-12-01T00:00:00Z"  # every subscription starts before the first event
CATALOG_AT = "2025-12-01T00:00:00Z"       # knowledge time for `tally load --at`
# (file name, first timestamp included, first timestamp excluded, knowledge time for `tally ingest --at`).
# The split is where January has ended in every zone (Los Angeles: Feb 1 08:00Z), and each file is
# received when its last event has happened, before any invoice its events belong to is final.
SPLIT = "2026-02-01 08:00:00"
FILES = [("events-2026-01.parquet", START, SPLIT, "2026-02-01T08:00:00Z"),
         ("events-2026-02.parquet", SPLIT, END, "2026-03-01T00:00:00Z")]
GRACE_DAYS = 3                            # customers' invoice_grace_period
# Every February invoice is final: February ends last in Los Angeles (Mar 1 08:00Z), + 3 days.
BILL_AS_OF = "2026-03-04T12:00:00Z"
TIMEZONES = ["UTC", "America/New_York", "Europe/Paris", "Asia/Tokyo", "America/Los_Angeles"]

# code, share of events (per mille)
EVENT_MIX = [("api_calls", 550), ("storage_gb", 200), ("mau", 200), ("seats", 50)]
USERS_PER_SUBSCRIPTION = 2000             # user_id values per subscription (api_calls, mau)
SEATS_PER_SUBSCRIPTION = 40               # seat_id values per subscription
SEAT_REMOVE_PER_MILLE = 150               # share of seat events that are removes


def catalog(subscriptions: int) -> dict[str, list[dict]]:
    """The catalog as Lago request bodies, one list per file (loaded in file-name order)."""
    metrics = [
        {"name": "API calls", "code": "api_calls", "aggregation_type": "count_agg", "recurring": False},
        {"name": "Storage", "code": "storage_gb", "aggregation_type": "sum_agg", "field_name": "gb",
         "recurring": False},
        {"name": "Monthly active users", "code": "mau", "aggregation_type": "unique_count_agg",
         "field_name": "user_id", "recurring": False},
        {"name": "Seats", "code": "seats", "aggregation_type": "unique_count_agg", "field_name": "seat_id",
         "recurring": True},
    ]

    def charges(scale: str) -> list[dict]:
        return [
            {"billable_metric_code": "api_calls", "charge_model": "standard",
             "properties": {"amount": "0.001"}},
            {"billable_metric_code": "storage_gb", "charge_model": "standard",
             "properties": {"amount": "0.25"}},
            {"billable_metric_code": "mau", "charge_model": "graduated", "properties": {"graduated_ranges": [
                {"from_value": 0, "to_value": 100, "flat_amount": "0", "per_unit_amount": "0"},
                {"from_value": 101, "to_value": 1000, "flat_amount": "0", "per_unit_amount": "0.05"},
                {"from_value": 1001, "to_value": None, "flat_amount": "10", "per_unit_amount": "0.03"},
            ]}},
            {"billable_metric_code": "seats", "charge_model": "standard", "prorated": True,
             "properties": {"amount": scale}},
        ]

    plans = [
        {"name": "Starter", "code": "starter", "interval": "monthly", "amount_cents": 4900,
         "amount_currency": "USD", "pay_in_advance": False, "charges": charges("8")},
        {"name": "Scale", "code": "scale", "interval": "monthly", "amount_cents": 29900,
         "amount_currency": "USD", "pay_in_advance": True, "charges": charges("6.5")},
    ]
    customers, subs = [], []
    for k in range(subscriptions):
        cust = f"cust_{k:06d}"
        customers.append({"customer": {"external_id": cust, "name": f"Customer {k}", "currency": "USD",
                                       "timezone": TIMEZONES[k % len(TIMEZONES)],
                                       "invoice_grace_period": GRACE_DAYS}})
        subs.append({"subscription": {"external_id": f"sub_{k:06d}", "external_customer_id": cust,
                                      "plan_code": "scale" if k % 4 == 0 else "starter",
                                      "billing_time": "calendar", "subscription_at": SUBSCRIPTION_AT}})
    return {
        "00_organization.json": [{"organization": {"timezone": "UTC", "default_currency": "USD"}}],
        "01_billable_metrics.json": [{"billable_metric": m} for m in metrics],
        "02_plans.json": [{"plan": p} for p in plans],
        "03_customers.json": customers,
        "04_subscriptions.json": subs,
    }


def write_catalog(out: Path, subscriptions: int) -> Path:
    folder = out / "catalog"
    folder.mkdir(parents=True, exist_ok=True)
    for name, items in catalog(subscriptions).items():
        (folder / name).write_text(json.dumps(items, indent=1))
    return folder


def events_sql(events: int, subscriptions: int, seed: int) -> str:
    """One SELECT producing the events; h(tag) is a per-row, per-column deterministic hash."""
    def h(tag: str) -> str:
        return f"hash(i, {int(seed)}, '{tag}')"

    window_ms = f"(epoch_ms(timestamp '{END}') - epoch_ms(timestamp '{START}'))"
    bounds, acc = [], 0
    for code, share in EVENT_MIX:
        acc += share
        bounds.append((code, acc))
    code_case = " ".join(f"when {h('code')} % 1000 < {b} then '{c}'" for c, b in bounds[:-1])
    code_case = f"case {code_case} else '{bounds[-1][0]}' end"
    return f"""
        with base as (
            select i,
                   {h('sub')} % {int(subscriptions)} as sub_no,
                   {code_case} as code,
                   timestamp '{START}' + to_milliseconds(cast({h('ts')} % {window_ms} as bigint)) as ts
            from range({int(events)}) t(i)
        )
        select
            'tx_' || i as transaction_id,
            'sub_' || lpad(cast(sub_no as varchar), 6, '0') as external_subscription_id,
            code,
            ts as "timestamp",
            case code
                when 'api_calls' then '{{"user_id":"u' || ({h('user')} % {USERS_PER_SUBSCRIPTION})
                                      || '","endpoint":"/v1/' || ({h('ep')} % 8) || '"}}'
                when 'storage_gb' then '{{"gb":' || printf('%.2f', ({h('gb')} % 100000) / 100.0)
                                       || ',"region":"r' || ({h('rg')} % 3) || '"}}'
                when 'mau' then '{{"user_id":"u' || ({h('user')} % {USERS_PER_SUBSCRIPTION}) || '"}}'
                else '{{"seat_id":"s' || ({h('seat')} % {SEATS_PER_SUBSCRIPTION}) || '","operation_type":"'
                     || case when {h('op')} % 1000 < {SEAT_REMOVE_PER_MILLE} then 'remove' else 'add' end
                     || '"}}'
            end as properties
        from base
    """


def write_events(out: Path, events: int, subscriptions: int, seed: int = 42,
                 row_group_size: int = 122_880) -> list[dict]:
    """The events, one Parquet file per entry of FILES (rows in generation order)."""
    out.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    files = []
    try:
        con.execute("set TimeZone = 'UTC'")
        con.execute(f"create temp table events as {events_sql(events, subscriptions, seed)}")
        for name, lo, hi, at in FILES:
            path = out / name
            n = con.execute(f"""copy (select * from events where "timestamp" >= timestamp '{lo}'
                                      and "timestamp" < timestamp '{hi}') to '{path}'
                                (format parquet, compression zstd, row_group_size {int(row_group_size)})
                             """).fetchone()[0]
            files.append({"path": str(path), "events": n, "ingest_at": at, "bytes": path.stat().st_size})
    finally:
        con.close()
    return files


def generate(out: str | Path, events: int, subscriptions: int, seed: int = 42) -> dict:
    out = Path(out)
    t0 = time.perf_counter()
    cat = write_catalog(out, subscriptions)
    t1 = time.perf_counter()
    files = write_events(out, events, subscriptions, seed)
    t2 = time.perf_counter()
    assert sum(f["events"] for f in files) == events
    return {"catalog_dir": str(cat), "event_files": files, "events": events, "subscriptions": subscriptions,
            "seed": seed, "catalog_seconds": round(t1 - t0, 3), "events_seconds": round(t2 - t1, 3),
            "events_bytes": sum(f["bytes"] for f in files), "catalog_at": CATALOG_AT,
            "bill_as_of": BILL_AS_OF}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("out", help="output folder (catalog/ and the events-*.parquet files)")
    p.add_argument("--events", type=int, default=1_000_000)
    p.add_argument("--subscriptions", type=int, default=1000)
    p.add_argument("--seed", type=int, default=42)
    a = p.parse_args(argv)
    info = generate(a.out, a.events, a.subscriptions, a.seed)
    print(json.dumps(info, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
