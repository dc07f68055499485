"""The raw append-only logs as assets (group `raw`).

- `raw/events` and `raw/rejected` are materialised by `ingest_events`: event files (NDJSON, CSV,
  Parquet) go through `tally.ingest.ingest_file`, the code behind `tally ingest`, so every row
  ends accepted, duplicate or rejected. The landing sensor (tally.sensors) runs it for each new
  file dropped into the landing folder; materialised by hand with no files configured, it
  ingests every file in the landing folder (harmless: ingesting a file again adds nothing).
- `raw/catalog_changes` is written by `tally load` (Lago request bodies); it is an external asset
  here, the upstream of the staging models that read the catalog.

The dbt sources `raw.events`, `raw.catalog_changes` and `raw.rejected` have the same asset keys,
so every staging model hangs off these assets in the graph.
"""

import os
from pathlib import Path

from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetSpec,
    Config,
    MaterializeResult,
    MetadataValue,
    multi_asset,
)
from pydantic import Field

from ..ingest import ingest_file
from ..resources.warehouse import WAREHOUSE_POOL, TallyWarehouse
from ..settings import Settings

RAW_EVENTS = AssetKey(["raw", "events"])
RAW_REJECTED = AssetKey(["raw", "rejected"])
RAW_CATALOG_CHANGES = AssetKey(["raw", "catalog_changes"])

LANDING_SUFFIXES = (".ndjson", ".csv", ".parquet")


def landing_dir(settings: Settings) -> Path:
    """$TALLY_LANDING_DIR, else <warehouse home>/landing."""
    env = os.environ.get("TALLY_LANDING_DIR")
    return Path(env).resolve() if env else settings.home / "landing"


def landing_files(folder: Path) -> list[Path]:
    """Event files in the landing folder and its sub-folders, oldest first (then by name).

    Hidden files and folders (a leading dot) are skipped, so a writer can create `.x.ndjson` and
    rename it when complete; other suffixes (.tmp, .part, ...) are ignored."""
    if not folder.is_dir():
        return []
    found = []
    for p in folder.rglob("*"):
        rel = p.relative_to(folder)
        if any(part.startswith(".") for part in rel.parts):
            continue
        if p.is_file() and p.suffix.lower() in LANDING_SUFFIXES:
            found.append(p)
    return sorted(found, key=lambda p: (p.stat().st_mtime_ns, str(p)))


class IngestConfig(Config):
    files: list[str] = Field(
        default_factory=list,
        description="Event files to ingest (.ndjson, .csv, .parquet). Empty: every file in the landing folder.",
    )


raw_catalog_changes = AssetSpec(
    RAW_CATALOG_CHANGES,
    group_name="raw",
    description="raw.catalog_changes: every catalog object change (Lago request bodies), appended by "
                "`tally load` and `tally terminate`.",
)


@multi_asset(
    name="ingest_events",
    specs=[
        AssetSpec(RAW_EVENTS, group_name="raw",
                  description="raw.events: accepted usage events, deduplicated on (external_subscription_id, "
                              "transaction_id), first received wins."),
        AssetSpec(RAW_REJECTED, group_name="raw",
                  description="raw.rejected: rows that could not be accepted, with a reason code."),
    ],
    pool=WAREHOUSE_POOL,
)
def ingest_events(context: AssetExecutionContext, config: IngestConfig, warehouse: TallyWarehouse):
    """Ingest event files with `tally.ingest.ingest_file` (received_at = now)."""
    settings = warehouse.settings()
    files = [Path(f) for f in config.files] if config.files else landing_files(landing_dir(settings))
    results = []
    reasons: dict[str, int] = {}
    with warehouse.connect() as wh:
        wh.ensure_raw()
        for path in files:
            result = ingest_file(wh, path)
            context.log.info(result.line())
            results.append(result)
            if result.rejected:
                _, rows = wh.query(
                    f'select reason_code, count(*) from "{wh.raw}".rejected where source like ? group by reason_code',
                    [f"{Path(path).resolve()}:%"])
                for code, n in rows:
                    reasons[code] = reasons.get(code, 0) + int(n)
        _, [(events_total, rejected_total)] = wh.query(
            f'select (select count(*) from "{wh.raw}".events), (select count(*) from "{wh.raw}".rejected)')
    received = sum(r.received for r in results)
    accepted = sum(r.accepted for r in results)
    duplicates = sum(r.duplicates for r in results)
    rejected = sum(r.rejected for r in results)
    yield MaterializeResult(asset_key=RAW_EVENTS, metadata={
        "files": MetadataValue.json([str(p) for p in files]),
        "rows_received": received,
        "events_accepted": accepted,
        "duplicates": duplicates,
        "rows_rejected": rejected,
        "batch_ids": MetadataValue.json([r.batch_id for r in results]),
        "events_total": int(events_total),
        "target": settings.target,
    })
    yield MaterializeResult(asset_key=RAW_REJECTED, metadata={
        "rows_rejected": rejected,
        "rejected_by_reason": MetadataValue.json(dict(sorted(reasons.items()))),
        "rejected_total": int(rejected_total),
    })
