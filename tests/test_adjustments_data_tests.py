"""The dbt data tests (totals reconcile to the cent, no invoice below zero, coupon shares within
their fees, ...) on a warehouse billed with coupons, taxes at every level and a one-off invoice,
on DuckDB and PostgreSQL."""
from __future__ import annotations

from datetime import datetime

from conftest import ROOT
from tally import reports
from tally.dbt_runner import bill
from tally.scenario import Replay, read_scenario
from tally.warehouse import Warehouse

SCENARIO = ROOT / "tests" / "scenarios" / "adjustments_coupons_taxes_one_off.json"


def test_data_tests_pass_with_coupons_taxes_and_one_off_invoices(settings):
    Replay(read_scenario(SCENARIO), settings).run()
    out = bill(settings, datetime(2026, 4, 1, 12), tests=True)
    assert "Completed successfully" in out
    with Warehouse(settings) as wh:
        invoices = reports.invoices(wh)
    assert len(invoices) == 8
    for inv in invoices:
        assert inv["total_amount_cents"] >= 0
        assert inv["total_amount_cents"] == (inv["fees_amount_cents"] - inv["coupons_amount_cents"]
                                             + inv["taxes_amount_cents"] - inv["credit_notes_amount_cents"]
                                             - inv["prepaid_credit_amount_cents"])
        assert inv["coupons_amount_cents"] == sum(c["amount_cents"] for c in inv["credits"])
    one_off = [i for i in invoices if i["invoice_type"] == "one_off"]
    assert [(t["tax_code"], t["amount_cents"]) for t in one_off[0]["applied_taxes"]] == [
        ("org19", 190), ("state5", 250), ("vat20", 10000)]
