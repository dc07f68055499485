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


def test_applied_taxes_and_coupons_stay_frozen_after_a_backdated_change(settings):
    """A change of the reduced rate from 10% to 15%, loaded on Apr 2 but dated Jan 20 (a backdated
    fact, as a new release of the models would be), moves what is computed now for acme's Feb 1
    invoice; its applied taxes and coupons stay as finalized, agreeing with the frozen invoice."""
    from tally import catalog

    Replay(read_scenario(SCENARIO), settings).run()

    def feb_breakdown():
        with Warehouse(settings) as wh:
            feb = [i for i in reports.invoices(wh) if i["external_customer_id"] == "acme"
                   and i["issued_at"] == "2026-02-01T00:00:00Z"][0]
            computed = wh.records(f'select tax_code, precise_amount_cents from "{settings.schema}".int_invoices__taxes '
                                  "where invoice_id = ?", [feb["invoice_id"]])
        return feb, {t["tax_code"]: t["precise_amount_cents"] for t in computed}

    before, computed_before = feb_breakdown()
    with Warehouse(settings) as wh:
        catalog.load_objects(wh, [{"tax": {"name": "Reduced rate", "code": "reduced10", "rate": 15}}],
                             datetime(2026, 1, 20))
        wh.commit()
    out = bill(settings, datetime(2026, 4, 2, 12), tests=True)  # assert_invoice_breakdowns_reconcile included
    assert "Completed successfully" in out
    after, computed_after = feb_breakdown()
    assert computed_after["reduced10"] != computed_before["reduced10"]  # what is computed now moved
    assert after["taxes_amount_cents"] == before["taxes_amount_cents"] == 1639
    assert after["applied_taxes"] == before["applied_taxes"]
    assert after["credits"] == before["credits"]
    assert sum(c["amount_cents"] for c in after["credits"]) == after["coupons_amount_cents"] == 4750
