"""Late facts surface in fct_invoice_discrepancies with the amount they would have changed."""
from __future__ import annotations

import json
from datetime import datetime

from conftest import ROOT
from tally import reports
from tally.dbt_runner import bill
from tally.ingest import ingest_file
from tally.scenario import Replay, read_scenario
from tally.warehouse import Warehouse

NOTION = ROOT / "tests" / "scenarios" / "seed_notion_per_seat.json"


def test_late_event_is_priced_in_the_discrepancy_mart(settings, tmp_path):
    Replay(read_scenario(NOTION), settings).run()
    late = tmp_path / "late.ndjson"
    # a seat for March 5..31 (27 days), received on May 2nd: March was finalized on Apr 1st
    late.write_text(json.dumps({
        "transaction_id": "late-1", "code": "active_users", "external_subscription_id": "sub_acme",
        "timestamp": "2026-03-05T12:00:00Z", "properties": {"user_id": "u9", "operation_type": "add"}}) + "\n")
    with Warehouse(settings) as wh:
        ingest_file(wh, late, received_at=datetime(2026, 5, 2))
    bill(settings, datetime(2026, 5, 3), tests=True)
    with Warehouse(settings) as wh:
        rows = wh.records(f'select * from "{settings.schema}".fct_invoice_discrepancies order by number')
        invoices = {i["issued_at"]: i for i in reports.invoices(wh)}
    # the frozen invoices are unchanged
    assert invoices["2026-04-01T04:00:00Z"]["total_amount_cents"] == 1194
    assert invoices["2026-05-01T04:00:00Z"]["total_amount_cents"] == 1700
    by_invoice = {r["number"]: r for r in rows}
    assert set(by_invoice) == {invoices["2026-04-01T04:00:00Z"]["number"], invoices["2026-05-01T04:00:00Z"]["number"]}
    march = by_invoice[invoices["2026-04-01T04:00:00Z"]["number"]]
    # March in hindsight: (21 + 16 + 27) / 31 = 2.064516... -> 2.06452 seats -> 2064.52 cents -> 2065
    assert (march["discrepancy_type"], str(march["actual_units"].normalize()), march["billed_amount_cents"],
            march["actual_amount_cents"], march["difference_amount_cents"], march["late_events_count"]) == \
        ("late_events", "2.06452", 1194, 2065, 871, 1)
    april = by_invoice[invoices["2026-05-01T04:00:00Z"]["number"]]
    # April in hindsight: u2 + u9 all month + u3 21/30 = 2.7 -> 2700 cents
    assert (april["actual_amount_cents"], april["difference_amount_cents"], april["late_events_count"]) == (2700, 1000, 0)
