"""dbt through dagster-dbt, with the environment the `tally` command gives dbt."""
from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Mapping

from dagster_dbt import DbtCliResource

from ..dbt_runner import dbt_executable
from ..project import tally_project
from .warehouse import TallyWarehouse


@contextmanager
def patched_environ(env: Mapping[str, str]) -> Iterator[None]:
    """Set `env` in os.environ for the block (dagster-dbt hands os.environ to the dbt process)."""
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


class TallyDbtCliResource(DbtCliResource):
    """DbtCliResource on the repository's dbt project and `profiles.yml`.

    Each invocation runs with `Settings.dbt_env()` of the `warehouse` resource (TALLY_TARGET,
    TALLY_DUCKDB_PATH, TALLY_SCHEMA, TALLY_RAW_SCHEMA, TALLY_PG_*, PGTZ=UTC), exactly as
    `tally bill` runs dbt, and writes its artifacts and logs under the warehouse home
    (`<home>/target/dagster-<target>-<schema>`), never in the repository's target/.
    """

    warehouse: TallyWarehouse

    @classmethod
    def for_warehouse(cls, warehouse: TallyWarehouse) -> "TallyDbtCliResource":
        return cls(project_dir=tally_project, profiles_dir=os.fspath(tally_project.profiles_dir),
                   dbt_executable=dbt_executable(), global_config_flags=["--no-use-colors"],
                   warehouse=warehouse)

    def _initialize_dbt_core_adapter(self, args):
        # dagster-dbt opens an in-process dbt adapter only to fetch optional column metadata and
        # row counts, which Tally does not use. Skipping it saves seconds per run and keeps this
        # process from holding a second DuckDB handle next to the dbt process (single writer).
        return None

    def cli(self, args, *, target_path: Path | None = None, **kwargs):
        settings = self.warehouse.settings()
        settings.home.mkdir(parents=True, exist_ok=True)
        env = {k: v for k, v in settings.dbt_env().items() if os.environ.get(k) != v}
        target_path = target_path or settings.home / "target" / f"dagster-{settings.target}-{settings.schema}"
        with patched_environ(env):
            return super().cli(args, target_path=target_path, **kwargs)
