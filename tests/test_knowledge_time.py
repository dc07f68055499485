"""Billing is a pure function of (logs, as_of): late facts never rewrite a finalized invoice,
and a draft (grace period) follows the events received until it is finalized."""
from __future__ import annotations

import json
from datetime import datetime

from conftest import ROOT
from tally import catalog, reports
from tally.dbt_runner import bill
from tally.ingest import ingest_file
from tally.scenario import Replay, read_scenario
from tally.warehouse import Warehouse

NOTION = ROOT / "tests" / "scenarios" / "seed_notion_per_seat.json"


def _send(settings, tmp_path, received_at, *events):
    path = tmp_path / f"late-{received_at:%Y%m%d%H%M%S}.ndjson"
    path.write_text("".join(json.dumps(e) + "\n" for e in events))
    with Warehouse(settings) as wh:
        result = ingest_file(wh, path, received_at=received_at)
    assert result.accepted == len(events)


def _invoices(settings):
    with Warehouse(settings) as wh:
        return {i["issued_at"]: i for i in reports.invoices(wh)}


def test_late_event_does_not_rewrite_a_finalized_invoice(settings, tmp_path):
    Replay(read_scenario(NOTION), settings).run()
    # a seat added on March 5th, but received on May 2nd: March's invoice was finalized on Apr 1st
    _send(settings, tmp_path, datetime(2026, 5, 2), {
        "transaction_id": "late-1", "code": "active_users", "external_subscription_id": "sub_acme",
        "timestamp": "2026-03-05T12:00:00Z", "properties": {"user_id": "u9", "operation_type": "add"}})
    bill(settings, datetime(2026, 5, 3), tests=False)
    invoices = _invoices(settings)
    assert invoices["2026-04-01T04:00:00Z"]["total_amount_cents"] == 1194
    assert invoices["2026-05-01T04:00:00Z"]["total_amount_cents"] == 1700
    # the seat is known from May on: it counts in May's usage (carried over, whole month so far)
    with Warehouse(settings) as wh:
        usage = reports.current_usage(wh, "sub_acme")
    assert usage["charges"][0]["units"] == "3"  # u2, u3 and the late u9, each present all May so far


def test_grace_period_draft_follows_events_until_finalized(settings, tmp_path):
    scenario = read_scenario(NOTION)
    scenario["customers"][0]["invoice_grace_period"] = 3
    scenario["steps"] = [s for s in scenario["steps"] if s["action"] in ("create_subscription", "send_event")]
    Replay(scenario, settings).run()
    bill(settings, datetime(2026, 4, 2), tests=False)
    draft = _invoices(settings)["2026-04-01T04:00:00Z"]
    assert (draft["status"], draft["number"].endswith("-DRAFT"), draft["total_amount_cents"]) == ("draft", True, 1194)
    assert draft["issuing_date"] == "2026-04-04" and draft["sequential_id"] is None
    # received during the grace period: u4 present Mar 31 only -> 1/31 more = 38/31 = 1.22581 units
    _send(settings, tmp_path, datetime(2026, 4, 3), {
        "transaction_id": "grace-1", "code": "active_users", "external_subscription_id": "sub_acme",
        "timestamp": "2026-03-31T16:00:00Z", "properties": {"user_id": "u4", "operation_type": "add"}})
    # received after finalization (Apr 4 04:00 UTC): ignored by March
    _send(settings, tmp_path, datetime(2026, 4, 5), {
        "transaction_id": "late-2", "code": "active_users", "external_subscription_id": "sub_acme",
        "timestamp": "2026-03-31T17:00:00Z", "properties": {"user_id": "u5", "operation_type": "add"}})
    bill(settings, datetime(2026, 4, 6), tests=False)
    final = _invoices(settings)["2026-04-01T04:00:00Z"]
    assert (final["status"], final["sequential_id"], final["total_amount_cents"]) == ("finalized", 1, 1226)
    assert final["fees"][1]["units"] == "1.22581"
