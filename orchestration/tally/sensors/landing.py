"""The landing folder: event files dropped there are ingested, each once.

The folder is $TALLY_LANDING_DIR, else <warehouse home>/landing (sub-folders included; hidden
files skipped). Every 30 seconds the sensor lists the .ndjson, .csv and .parquet files and
requests one `ingest_landing_files` run for the files it has not seen (at most 50 per run). Its
cursor maps each requested file to its modification time and size, so a file is requested once;
a file rewritten in place is requested again (re-ingesting is harmless: rows already received
are duplicates). A file modified less than TALLY_LANDING_MIN_AGE_SECONDS (default 2) ago is left
for the next tick, in case it is still being written: write elsewhere and move it in, or write
a hidden `.name` and rename it. The run ingests through `tally.ingest.ingest_file`, the code of
`tally ingest`, then runs the raw-event checks on the batches it appended.
"""

import hashlib
import json
import os
import time

from dagster import (
    AssetSelection,
    DefaultSensorStatus,
    RunConfig,
    RunRequest,
    SensorEvaluationContext,
    SkipReason,
    define_asset_job,
    in_process_executor,
    sensor,
)

from ..assets.raw import IngestConfig, ingest_events, landing_dir, landing_files
from ..resources.warehouse import TallyWarehouse

MAX_FILES_PER_RUN = 50

ingest_landing_job = define_asset_job(
    "ingest_landing_files",
    selection=AssetSelection.assets(ingest_events),  # with its checks: raw_events_quality
    executor_def=in_process_executor,
    description="Ingest event files into raw.events / raw.rejected, then check the new events.",
)


def _min_age() -> float:
    return float(os.environ.get("TALLY_LANDING_MIN_AGE_SECONDS", "2"))


def new_landing_files(folder, cursor: dict[str, str], now: float | None = None,
                      min_age: float | None = None) -> tuple[list[str], dict[str, str]]:
    """(files to ingest, next cursor). The cursor keeps only files still in the folder."""
    now = time.time() if now is None else now
    min_age = _min_age() if min_age is None else min_age
    present: dict[str, str] = {}
    new: list[str] = []
    for path in landing_files(folder):
        st = path.stat()
        key, signature = str(path), f"{st.st_mtime_ns}:{st.st_size}"
        if cursor.get(key) == signature:
            present[key] = signature
        elif now - st.st_mtime >= min_age:
            present[key] = signature
            new.append(key)
    return new, present


@sensor(
    name="landing_folder",
    job=ingest_landing_job,
    minimum_interval_seconds=30,
    default_status=DefaultSensorStatus.RUNNING,
    description="Ingest new .ndjson/.csv/.parquet files from the landing folder ($TALLY_LANDING_DIR, "
                "else <warehouse home>/landing), each file once.",
)
def landing_sensor(context: SensorEvaluationContext, warehouse: TallyWarehouse):
    folder = landing_dir(warehouse.settings())
    cursor = json.loads(context.cursor) if context.cursor else {}
    new, next_cursor = new_landing_files(folder, cursor)
    if not new:
        if next_cursor != cursor:
            context.update_cursor(json.dumps(next_cursor, sort_keys=True))
        return SkipReason(f"no new event file in {folder}")
    requests = []
    for i in range(0, len(new), MAX_FILES_PER_RUN):
        chunk = new[i:i + MAX_FILES_PER_RUN]
        run_key = hashlib.sha1(json.dumps([[f, next_cursor[f]] for f in chunk]).encode()).hexdigest()
        requests.append(RunRequest(
            run_key=run_key,
            run_config=RunConfig(ops={"ingest_events": IngestConfig(files=chunk)}),
            tags={"tally/landing_files": str(len(chunk))},
        ))
    context.update_cursor(json.dumps(next_cursor, sort_keys=True))
    return requests
