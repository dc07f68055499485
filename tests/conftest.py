"""Shared fixtures: a fresh warehouse per test, on DuckDB and on PostgreSQL.

PostgreSQL tests use their own database (created here, dropped at the end). Outside CI they
skip when no server answers; with CI=true a missing server fails the run.
"""
from __future__ import annotations

import os
import uuid
from dataclasses import replace
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = sorted((ROOT / "tests" / "scenarios").glob("*.json"))

# one database per test process (xdist workers included), created and dropped by the suite
os.environ["TALLY_PG_DATABASE"] = f"tally_test_{os.getpid()}"


def _pg_problem() -> str | None:
    import psycopg2

    try:
        psycopg2.connect(host=os.environ.get("TALLY_PG_HOST", "127.0.0.1"),
                         port=int(os.environ.get("TALLY_PG_PORT", "5432")),
                         user=os.environ.get("TALLY_PG_USER", "postgres"),
                         password=os.environ.get("TALLY_PG_PASSWORD") or None,
                         dbname="postgres", connect_timeout=3).close()
        return None
    except Exception as exc:  # noqa: BLE001
        return str(exc).strip().splitlines()[0]


@pytest.fixture(scope="session")
def postgres_available():
    problem = _pg_problem()
    if problem is None:
        yield True
        _drop_test_database()
        return
    message = (f"PostgreSQL is not reachable ({problem}). Start it, or point TALLY_PG_HOST/TALLY_PG_PORT/"
               "TALLY_PG_USER at a server, to run the PostgreSQL tests.")
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(message)
    pytest.skip(message)


def _drop_test_database():
    import psycopg2

    conn = psycopg2.connect(host=os.environ.get("TALLY_PG_HOST", "127.0.0.1"),
                            port=int(os.environ.get("TALLY_PG_PORT", "5432")),
                            user=os.environ.get("TALLY_PG_USER", "postgres"), dbname="postgres")
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f'drop database if exists "{os.environ["TALLY_PG_DATABASE"]}" with (force)')
    conn.close()


@pytest.fixture(params=["duckdb", "postgres"])
def target(request):
    if request.param == "postgres":
        request.getfixturevalue("postgres_available")
    return request.param


@pytest.fixture
def settings(target, tmp_path, monkeypatch):
    """Settings for a fresh, empty warehouse of `target`."""
    from tally.settings import load_settings
    from tally.warehouse import Warehouse

    monkeypatch.setenv("TALLY_HOME", str(tmp_path))
    s = load_settings(target)
    if target == "postgres":
        s = s.with_schema(f"t_{uuid.uuid4().hex[:10]}")
    else:
        s = replace(s, schema="main", raw_schema="raw")
    yield s
    if target == "postgres":
        with Warehouse(s) as wh:
            wh.drop_schema(s.schema)
            wh.drop_schema(s.raw_schema)


@pytest.fixture
def warehouse(settings):
    from tally.warehouse import Warehouse

    wh = Warehouse(settings)
    wh.connect()
    wh.ensure_raw()
    yield wh
    wh.close()


def pytest_collection_modifyitems(config, items):
    """Spread the scenario replays over the workers and start them first.

    `make test` runs `--dist loadgroup`: a file's tests share one worker (its module fixtures and
    warehouses), as `--dist loadfile` would, but each scenario of test_scenarios.py is a group of
    its own. The scenarios are the longest tests of the suite; one worker replaying all of them
    was the run's tail, so they go first, one scenario at a time to whichever worker is free.
    """
    scenarios, others = [], []
    for item in items:
        path = Path(str(item.fspath))
        if path.name == "test_scenarios.py" and hasattr(item, "callspec"):
            group = f"scenario-{item.callspec.id}"
            scenarios.append(item)
        else:
            group = path.relative_to(ROOT).as_posix() if path.is_relative_to(ROOT) else str(path)
            others.append(item)
        item.add_marker(pytest.mark.xdist_group(group))
    items[:] = scenarios + others
