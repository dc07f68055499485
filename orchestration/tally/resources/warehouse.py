"""The warehouse resource: which target (duckdb | postgres) Tally's assets read and write."""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Iterator, Optional

from dagster import ConfigurableResource
from pydantic import Field

from ..project import WAREHOUSE_POOL  # every op touching the warehouse is in this pool (see tally.project)
from ..settings import TARGETS, Settings, load_settings
from ..warehouse import Warehouse

__all__ = ["TallyWarehouse", "WAREHOUSE_POOL"]


class TallyWarehouse(ConfigurableResource):
    """The warehouse, resolved like the `tally` command resolves it.

    Every field defaults to the environment the `tally` command reads (TALLY_TARGET, TALLY_HOME,
    TALLY_SCHEMA, TALLY_RAW_SCHEMA, TALLY_DUCKDB_PATH, TALLY_PG_*) through `profiles.yml`.
    """

    target: Optional[str] = Field(default=None, description="duckdb or postgres (default: $TALLY_TARGET, else duckdb)")
    home: Optional[str] = Field(default=None, description="Warehouse home (default: $TALLY_HOME, else <repo>/warehouse)")
    dbt_schema: Optional[str] = Field(default=None, description="Schema of the dbt models (default: from profiles.yml)")
    raw_schema: Optional[str] = Field(default=None, description="Schema of the raw logs (default: $TALLY_RAW_SCHEMA, else raw)")

    @classmethod
    def from_settings(cls, settings: Settings) -> "TallyWarehouse":
        return cls(target=settings.target, home=str(settings.home), dbt_schema=settings.schema,
                   raw_schema=settings.raw_schema)

    def settings(self) -> Settings:
        if self.target is not None and self.target not in TARGETS:
            raise ValueError(f"unknown target {self.target!r}: choose one of {', '.join(TARGETS)}")
        s = load_settings(self.target)
        changes = {}
        if self.home:
            changes["home"] = Path(self.home).resolve()
        if self.dbt_schema:
            changes["schema"] = self.dbt_schema
        if self.raw_schema:
            changes["raw_schema"] = self.raw_schema
        return replace(s, **changes)

    @contextmanager
    def connect(self) -> Iterator[Warehouse]:
        """A connection, closed (and committed on PostgreSQL) on exit: never hold DuckDB's lock longer."""
        with Warehouse(self.settings()) as wh:
            yield wh
