"""Invoices as documents: frozen when finalized, numbered once, identical whatever the order
billing days are run in."""
from __future__ import annotations

import copy
import json
import uuid
from dataclasses import replace
from datetime import datetime

import pytest

from conftest import ROOT
from tally import reports
from tally.dbt_runner import bill
from tally.scenario import Replay, read_scenario
from tally.warehouse import Warehouse

NOTION = ROOT / "tests" / "scenarios" / "seed_notion_per_seat.json"


def _logs_only(scenario: dict) -> dict:
    s = copy.deepcopy(scenario)
    s["steps"] = [st for st in s["steps"] if not st["action"].startswith(("run_billing", "expect_"))]
    return s


def _snapshot(settings) -> str:
    with Warehouse(settings) as wh:
        return json.dumps({"invoices": reports.invoices(wh), "fees": reports.fees(wh)}, sort_keys=True)


def _other_warehouse(settings, tmp_path):
    if settings.target == "postgres":
        return settings.with_schema(f"t_{uuid.uuid4().hex[:10]}")
    return replace(settings, home=tmp_path / "other")


@pytest.fixture
def two_warehouses(settings, tmp_path):
    other = _other_warehouse(settings, tmp_path)
    yield settings, other
    if other.target == "postgres":
        with Warehouse(other) as wh:
            wh.drop_schema(other.schema)
            wh.drop_schema(other.raw_schema)


def test_days_in_order_and_out_of_order_give_identical_marts(two_warehouses):
    in_order, out_of_order = two_warehouses
    logs = _logs_only(read_scenario(NOTION))
    days = [datetime(2026, 4, d, 6) for d in (1, 2, 3)] + [datetime(2026, 5, d, 6) for d in (1, 2, 3)]
    for wh_settings in (in_order, out_of_order):
        Replay(logs, wh_settings).run()
    for day in days:
        bill(in_order, day, tests=False)
    expected = _snapshot(in_order)
    for day in [days[-1], days[0], days[3], days[1], days[-1]]:
        bill(out_of_order, day, tests=False)
    assert _snapshot(out_of_order) == expected
    # running the same day again changes nothing
    bill(out_of_order, days[-1], tests=False)
    assert _snapshot(out_of_order) == expected
    invoices = json.loads(expected)["invoices"]
    assert [(i["sequential_id"], i["number"][-7:], i["total_amount_cents"]) for i in invoices] == \
        [(1, "001-001", 1194), (2, "001-002", 1700)]


def test_an_earlier_day_shows_only_what_was_known_then(settings):
    Replay(_logs_only(read_scenario(NOTION)), settings).run()
    bill(settings, datetime(2026, 5, 3), tests=False)
    bill(settings, datetime(2026, 4, 15), tests=False)
    with Warehouse(settings) as wh:
        invoices = reports.invoices(wh)
    assert [i["issued_at"] for i in invoices] == ["2026-04-01T04:00:00Z"]


def test_per_organization_numbering_and_skipped_empty_invoices(settings):
    scenario = _logs_only(read_scenario(NOTION))
    scenario["organization"].update(name="Acme Billing", document_numbering="per_organization",
                                    document_number_prefix="ACM-0042")
    second = dict(scenario["customers"][0], external_id="beta", name="Beta", timezone="UTC")
    idle = dict(scenario["customers"][0], external_id="idle", name="Idle", timezone="UTC",
                finalize_zero_amount_invoice="skip")
    scenario["customers"] += [second, idle]
    first_step = scenario["steps"][0]
    for cust in ("beta", "idle"):
        scenario["steps"].insert(1, {"at": first_step["at"], "action": "create_subscription", "payload": {
            "external_customer_id": cust, "plan_code": "team", "external_id": f"sub_{cust}",
            "billing_time": "calendar"}})
    scenario["steps"].append({"at": "2026-03-10T00:00:00Z", "action": "send_event", "payload": {
        "transaction_id": "b1", "code": "active_users", "external_subscription_id": "sub_beta",
        "timestamp": "2026-03-10T00:00:00Z", "properties": {"user_id": "x", "operation_type": "add"}}})
    Replay(scenario, settings).run()
    bill(settings, datetime(2026, 4, 2), tests=True)
    with Warehouse(settings) as wh:
        invoices = reports.invoices(wh)
    by_customer = {i["external_customer_id"]: i for i in invoices}
    # Beta (UTC) is finalized at Apr 1 00:00 UTC, Acme (New York) at 04:00 UTC; idle's $0 invoice is skipped
    assert sorted(by_customer) == ["acme", "beta"]
    assert by_customer["beta"]["number"] == "ACM-0042-202604-001"
    assert by_customer["acme"]["number"] == "ACM-0042-202604-002"
    # x present Mar 10..31: 22/31 = 0.709677... -> 0.70968 seats x $10 = 709.68 cents -> 710
    assert by_customer["beta"]["total_amount_cents"] == 710
