"""Where Tally's project, warehouse and run files live.

Everything is driven by environment variables that `profiles.yml` reads too, so
the Python loaders and dbt always talk to the same warehouse.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, replace
from pathlib import Path

import yaml

TARGETS = ("duckdb", "postgres")


def project_dir() -> Path:
    env = os.environ.get("TALLY_PROJECT_DIR")
    if env:
        return Path(env).resolve()
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / "dbt_project.yml").exists():
            return parent
    raise RuntimeError("cannot find dbt_project.yml; set TALLY_PROJECT_DIR")


@dataclass(frozen=True)
class Settings:
    target: str
    home: Path
    schema: str
    raw_schema: str
    pg: dict = field(default_factory=dict)
    # DuckDB's connection config (profiles.yml `config_options`), the same one dbt opens it with
    duckdb_config: dict = field(default_factory=dict)

    @property
    def duckdb_path(self) -> Path:
        env = os.environ.get("TALLY_DUCKDB_PATH")
        if env and not os.environ.get("TALLY_HOME"):
            return Path(env).resolve()
        return self.home / "tally.duckdb"

    def dbt_env(self) -> dict[str, str]:
        """Environment for a dbt subprocess pointing at this warehouse."""
        env = dict(os.environ)
        env.update(
            TALLY_TARGET=self.target,
            TALLY_DUCKDB_PATH=str(self.duckdb_path),
            TALLY_SCHEMA=self.schema,
            TALLY_RAW_SCHEMA=self.raw_schema,
            PGTZ="UTC",
            DBT_SEND_ANONYMOUS_USAGE_STATS="false",
        )
        for key, value in self.pg.items():
            env[f"TALLY_PG_{key.upper()}"] = str(value)
        return env

    def with_schema(self, schema: str) -> "Settings":
        return replace(self, schema=schema, raw_schema=f"{schema}_raw")


_ENV_VAR = re.compile(r"""\{\{\s*env_var\(\s*'([^']+)'\s*(?:,\s*'([^']*)')?\s*\)\s*(\|\s*as_number\s*)?\}\}""")


def _render(value):
    if not isinstance(value, str):
        return value
    return _ENV_VAR.sub(lambda m: os.environ.get(m.group(1), m.group(2) or ""), value)


def load_settings(target: str | None = None) -> Settings:
    """Settings for `target` (default: $TALLY_TARGET, else duckdb), read from profiles.yml."""
    root = project_dir()
    profile = yaml.safe_load((root / "profiles.yml").read_text())["tally"]
    target = target or os.environ.get("TALLY_TARGET") or _render(profile["target"])
    if target not in TARGETS:
        raise ValueError(f"unknown target {target!r}: choose one of {', '.join(TARGETS)}")
    output = {k: _render(v) for k, v in profile["outputs"][target].items()}
    home = Path(os.environ.get("TALLY_HOME") or root / "warehouse").resolve()
    pg = {}
    if target == "postgres":
        pg = {
            "host": output["host"],
            "port": int(output["port"]),
            "user": output["user"],
            "password": output.get("password", ""),
            "database": output["dbname"],
        }
    schema = output["schema"]
    raw_schema = os.environ.get("TALLY_RAW_SCHEMA", "raw")
    duckdb_config = dict(output.get("config_options") or {}) if target == "duckdb" else {}
    return Settings(target=target, home=home, schema=schema, raw_schema=raw_schema, pg=pg,
                    duckdb_config=duckdb_config)
