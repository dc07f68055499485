"""The dbt project itself: unit tests and data tests on both warehouses, and billing purity."""
from __future__ import annotations

import json
from datetime import datetime

from conftest import ROOT
from tally import reports
from tally.dbt_runner import bill, run_dbt
from tally.scenario import Replay, read_scenario
from tally.warehouse import Warehouse

SEGMENT = ROOT / "tests" / "scenarios" / "seed_segment_hybrid.json"


def test_dbt_build_with_unit_tests_on_empty_warehouse(settings, warehouse):
    warehouse.close()
    out = run_dbt(settings, ["build"], as_of=datetime(2026, 4, 1))
    assert "Completed successfully" in out
    assert " unit test" in out  # unit tests ran, not only models


def _replayed(settings, scenario_path=SEGMENT):
    Replay(read_scenario(scenario_path), settings).run()
    return settings


def test_data_tests_pass_on_billed_scenario(settings):
    _replayed(settings)
    out = bill(settings, datetime(2026, 4, 1, 6), tests=True)
    assert "Completed successfully" in out
    assert "data test" in out


def _marts_snapshot(settings) -> str:
    with Warehouse(settings) as wh:
        invs = reports.invoices(wh)
        fees = reports.fees(wh)
    return json.dumps({"invoices": invs, "fees": fees}, sort_keys=True)


def test_billing_the_same_as_of_twice_is_identical(settings):
    _replayed(settings)
    as_of = datetime(2026, 4, 1, 6)
    bill(settings, as_of, tests=False)
    first = _marts_snapshot(settings)
    bill(settings, as_of, tests=False)
    assert _marts_snapshot(settings) == first
    assert '"total_amount_cents": 35500' in first
