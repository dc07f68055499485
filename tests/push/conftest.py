"""Fixtures for the push tests: a warehouse with finalized invoices (the scenario
push_scenario.json, billed through `tally replay`'s machinery) and the fake systems."""
from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from tally.scenario import Replay, read_scenario
from tally.settings import load_settings

SCENARIO = Path(__file__).with_name("push_scenario.json")
FINALIZED = 8          # invoices the scenario finalizes (umbrella's termination invoice totals 0)
PAYABLE = 7            # with a total above zero


def build(settings) -> None:
    Replay(read_scenario(SCENARIO), settings).run()


@pytest.fixture(scope="session")
def duckdb_template(tmp_path_factory):
    """The scenario billed once per test process on DuckDB; tests get a copy of the file."""
    home = tmp_path_factory.mktemp("push-template")
    settings = replace(load_settings("duckdb"), home=home, schema="main", raw_schema="raw")
    build(settings)
    return home / "tally.duckdb"


@pytest.fixture
def billed(settings, request):
    """`settings` of a fresh warehouse holding the scenario's finalized invoices."""
    if settings.target == "duckdb":
        template = request.getfixturevalue("duckdb_template")
        settings.home.mkdir(parents=True, exist_ok=True)
        shutil.copy(template, settings.duckdb_path)
    else:
        build(settings)
    return settings


@pytest.fixture
def systems(monkeypatch):
    """The fake systems, and the environment pointing the push layer at them."""
    from .fakes import start_systems

    fakes = start_systems()
    for k, v in fakes.env().items():
        monkeypatch.setenv(k, v)
    monkeypatch.setenv("TALLY_SECRETS_FILE", "/nonexistent/tally-secrets.env")
    monkeypatch.setenv("TALLY_PUSH_TIMEOUT", "5")
    yield fakes
    fakes.stop()
