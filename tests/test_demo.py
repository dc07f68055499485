"""`tally demo` bills real usage: its events stream in day by day, within the grace period, so
every invoice of the three months is finalized knowing its period's seats and tracked users."""
from __future__ import annotations

from tally import reports
from tally.demo import build_demo
from tally.warehouse import Warehouse

import pytest


@pytest.mark.parametrize("target", ["duckdb"], indirect=True)
def test_demo_invoices_bill_the_usage_of_their_periods(settings, tmp_path):
    demo = build_demo(settings, events=600, home=tmp_path / "demo")
    with Warehouse(demo) as wh:
        invoices = reports.invoices(wh)
    assert len(invoices) == 14 and {i["status"] for i in invoices} == {"finalized"}
    seat_fees = {(i["external_customer_id"], i["issued_at"]): sum(f["amount_cents"] for f in i["fees"]
                                                                  if f["metric_code"] == "active_users")
                 for i in invoices if i["external_customer_id"] in ("acme", "globex")}
    # every month of the per-seat customers bills its seats (none of them was empty)
    assert len(seat_fees) == 6 and all(amount > 0 for amount in seat_fees.values()), seat_fees
    mtus = [f for i in invoices for f in i["fees"] if f["metric_code"] == "mtu"]
    assert mtus and all(float(f["units"]) > 0 for f in mtus)
