"""The DuckDB warehouse file's storage format, set once in profiles.yml for dbt and the loaders.

A new file is written in DuckDB's 1.3 format (its text compression writes the per-event tables
faster); a file created before keeps its format, and both are read and written the same way.
"""
from __future__ import annotations

import duckdb
import pytest

from tally.ingest import ingest_file
from tally.settings import load_settings
from tally.warehouse import Warehouse


def storage_version(path) -> str:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(
            "select tags['storage_version'] from duckdb_databases() where not internal").fetchone()[0]
    finally:
        con.close()


# conftest's `settings` (a fresh, empty warehouse of `target`), on DuckDB only
on_duckdb = pytest.mark.parametrize("target", ["duckdb"])


@on_duckdb
def test_the_profile_sets_the_format_of_a_new_file(settings):
    assert settings.duckdb_config == {"storage_compatibility_version": "v1.3.0"}
    assert not settings.duckdb_path.exists()
    with Warehouse(settings) as wh:
        wh.ensure_raw()
    assert storage_version(settings.duckdb_path) == "v1.3.0+"


def test_postgres_settings_carry_no_duckdb_config(monkeypatch, tmp_path):
    monkeypatch.setenv("TALLY_HOME", str(tmp_path))
    assert load_settings("postgres").duckdb_config == {}


@on_duckdb
def test_a_file_created_before_keeps_its_format(settings, tmp_path):
    settings.duckdb_path.parent.mkdir(parents=True, exist_ok=True)
    duckdb.connect(str(settings.duckdb_path)).close()
    assert storage_version(settings.duckdb_path) == "v1.0.0+"

    events = tmp_path / "events.ndjson"
    events.write_text('{"transaction_id": "t1", "external_subscription_id": "sub_1", "code": "api_calls", '
                      '"timestamp": "2026-01-05T10:00:00Z", "properties": {"gb": "1.5"}}\n')
    with Warehouse(settings) as wh:
        result = ingest_file(wh, events)
        assert (result.accepted, result.rejected) == (1, 0)
        assert wh.execute("select transaction_id, properties->>'gb' from raw.events").fetchall() == [("t1", "1.5")]
    assert storage_version(settings.duckdb_path) == "v1.0.0+"
