"""The dbt project as Dagster sees it, and the files `dagster dev` needs.

`tally_project` is the repository's dbt project (the repository root, with its `profiles.yml`).
Its manifest lives under the warehouse home, never in the repository's `target/`:
`<home>/target/dagster-manifest-<target>/manifest.json`, where <home> is $TALLY_HOME or
`<repo>/warehouse`. Importing this module parses the project (`dbt parse`, about 5 s) when that
manifest is missing or older than a file of the project, so `dagster dev -m tally.definitions`
works from a fresh clone and picks up model edits on reload.

`python -m tally.project` does the same ahead of time and writes `$DAGSTER_HOME/dagster.yaml`
(if there is none): runs touching the warehouse are serialised, one at a time.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from dagster_dbt import DbtProject

from .dbt_runner import dbt_executable
from .settings import load_settings, project_dir

ROOT = project_dir()

# What the manifest is parsed from: a newer file here means the manifest is stale.
_PROJECT_INPUTS = ("dbt_project.yml", "models", "macros", "seeds", "tests/dbt")

WAREHOUSE_POOL = "tally_warehouse"

DAGSTER_YAML = """\
# Written by `python -m tally.project` (tally.project.ensure_dagster_yaml); edit freely.
#
# DuckDB allows one writer process at a time, and two dbt builds of the same PostgreSQL schema
# would collide too, so Tally's runs are serialised: the run queue starts one run at a time and
# queues the others (a backfill's runs, the nightly schedule, the landing sensor's ingest runs,
# materialisations launched from the UI). Inside a run, ops execute one after the other in one
# process (the in-process executor), so a run never fails on DuckDB's lock.
#
# If you raise max_concurrent_runs (to run other code locations in this instance), Tally's runs
# stay serialised: every Tally op that reads or writes the warehouse is in the concurrency pool
# `tally_warehouse`, and with granularity `run` a pool admits `default_limit` runs at a time
# (`python -m tally.project` also sets that pool's limit to 1 in the instance).
concurrency:
  runs:
    max_concurrent_runs: 1
  pools:
    granularity: run
    default_limit: 1

telemetry:
  enabled: false
"""


def manifest_target_path(target: str | None = None) -> Path:
    settings = load_settings(target)
    return settings.home / "target" / f"dagster-manifest-{settings.target}"


tally_project = DbtProject(project_dir=ROOT, profiles_dir=ROOT, target_path=manifest_target_path())


def _newest_input_mtime() -> float:
    newest = 0.0
    for name in _PROJECT_INPUTS:
        p = ROOT / name
        if p.is_file():
            newest = max(newest, p.stat().st_mtime)
        elif p.is_dir():  # folders too: adding, removing or renaming a file changes its folder's mtime
            for f in [p, *p.rglob("*")]:
                newest = max(newest, f.stat().st_mtime)
    return newest


def manifest_is_stale(project: DbtProject = tally_project) -> bool:
    manifest = Path(project.manifest_path)
    return not manifest.exists() or manifest.stat().st_mtime < _newest_input_mtime()


def files_missing_from_manifest(manifest: dict, project: DbtProject = tally_project) -> list[str]:
    """Model and seed files of the project that `manifest` does not know (added since it was parsed)."""
    known = {n.get("original_file_path") for n in manifest.get("nodes", {}).values()}
    root = Path(project.project_dir)
    files = [*(root / "models").rglob("*.sql"), *(root / "seeds").rglob("*.csv")]
    return sorted(str(f.relative_to(root)) for f in files if str(f.relative_to(root)) not in known)


def parse_manifest(project: DbtProject = tally_project) -> Path:
    """`dbt parse` into a scratch folder, then move manifest.json into place atomically, so that
    concurrent processes (webserver, daemon, run workers) never read a half-written file."""
    settings = load_settings()
    target = Path(project.target_path)
    target.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=".parse-", dir=target))
    try:
        args = [dbt_executable(), "--no-use-colors", "--quiet", "parse",
                "--project-dir", str(ROOT), "--profiles-dir", str(project.profiles_dir),
                "--target-path", str(scratch), "--log-path", str(scratch)]
        proc = subprocess.run(args, env=settings.dbt_env(), cwd=ROOT, capture_output=True, text=True)
        if proc.returncode != 0 or not (scratch / "manifest.json").exists():
            raise RuntimeError(f"dbt parse failed (exit {proc.returncode}):\n"
                               f"{(proc.stdout + proc.stderr)[-4000:]}")
        os.replace(scratch / "manifest.json", project.manifest_path)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return Path(project.manifest_path)


def prepare_manifest(project: DbtProject = tally_project, force: bool = False) -> Path:
    if force or manifest_is_stale(project):
        parse_manifest(project)
    return Path(project.manifest_path)


def ensure_dagster_yaml(dagster_home: str | os.PathLike | None = None) -> Path | None:
    """Write the dagster.yaml above into DAGSTER_HOME when it has none; return its path."""
    home = dagster_home or os.environ.get("DAGSTER_HOME")
    if not home:
        return None
    path = Path(home) / "dagster.yaml"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(DAGSTER_YAML)
    return path


prepare_manifest()


if __name__ == "__main__":
    print(f"dbt manifest: {prepare_manifest(force='--force' in sys.argv)}")
    written = ensure_dagster_yaml()
    print(f"dagster.yaml: {written}" if written else "dagster.yaml: DAGSTER_HOME is not set, nothing written")
    if written:
        from dagster import DagsterInstance

        with DagsterInstance.get() as instance:  # the pool's limit exists before the first run is queued
            if instance.event_log_storage.get_concurrency_info(WAREHOUSE_POOL).slot_count != 1:
                instance.event_log_storage.set_concurrency_slots(WAREHOUSE_POOL, 1)
        print(f"concurrency pool {WAREHOUSE_POOL}: 1 run at a time")
