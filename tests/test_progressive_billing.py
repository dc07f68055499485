"""Progressive billing end to end, on DuckDB and PostgreSQL: the dbt data tests hold on the billed
scenario (progressive_billing invoices, their deductions, the period invoices deducting them), and
re-billing leaves the frozen progressive invoices unchanged."""
from __future__ import annotations

from datetime import datetime

from conftest import ROOT
from tally import reports
from tally.dbt_runner import bill
from tally.scenario import Replay, read_scenario
from tally.warehouse import Warehouse

SCENARIO = ROOT / "tests" / "scenarios" / "adjustments_progressive_billing.json"


def test_data_tests_pass_and_rebilling_changes_nothing(settings):
    Replay(read_scenario(SCENARIO), settings).run()
    with Warehouse(settings) as wh:
        before = reports.invoices(wh)
    out = bill(settings, datetime(2026, 5, 2), tests=True)
    assert "Completed successfully" in out
    assert "data test" in out
    with Warehouse(settings) as wh:
        after = reports.invoices(wh)
    # (invoice type, fees, progressive billing credit, taxes, total), hand-computed in the scenario
    assert [(i["invoice_type"], i["fees_amount_cents"], i["progressive_billing_credit_amount_cents"],
             i["taxes_amount_cents"], i["total_amount_cents"]) for i in after] == [
        ("progressive_billing", 1100, 0, 110, 1210),
        ("progressive_billing", 2800, 1100, 170, 1870),
        ("progressive_billing", 5200, 2800, 240, 2640),
        ("subscription", 6500, 5200, 130, 1430),
        ("progressive_billing", 2000, 0, 200, 2200),
        ("subscription", 3100, 2000, 110, 1210),
    ]
    assert after == before


def test_a_voided_progressive_invoice_is_not_deducted(settings):
    """The third progressive invoice of March (5,200 billed, deducting the second's 2,800) is voided
    on March 22, before the period's invoice finalizes (April 1). That invoice deducts the latest
    progressive invoice that was not voided, the second (2,800), not 5,200: its charges (5,500
    of usage, 6,500 of fees with the 1,000 subscription fee) come to 6,500 - 2,800 = 3,700, and
    10% tax 370 gives 4,070. The voided invoice keeps what it showed, now `voided`."""
    scenario = read_scenario(SCENARIO)
    steps = scenario["steps"]
    at = next(i for i, s in enumerate(steps) if s["at"] == "2026-03-25T10:00:00Z")
    steps.insert(at, {"at": "2026-03-22T00:00:00Z", "action": "void_invoice",
                      "payload": {"external_customer_id": "lab", "invoice_type": "progressive_billing"}})
    Replay(scenario, settings).run()
    out = bill(settings, datetime(2026, 5, 2), tests=True)
    assert "Completed successfully" in out
    with Warehouse(settings) as wh:
        invoices = reports.invoices(wh)
    assert [(i["invoice_type"], i["status"], i["fees_amount_cents"], i["progressive_billing_credit_amount_cents"],
             i["taxes_amount_cents"], i["total_amount_cents"]) for i in invoices] == [
        ("progressive_billing", "finalized", 1100, 0, 110, 1210),
        ("progressive_billing", "finalized", 2800, 1100, 170, 1870),
        ("progressive_billing", "voided", 5200, 2800, 240, 2640),
        ("subscription", "finalized", 6500, 2800, 370, 4070),
        ("progressive_billing", "finalized", 2000, 0, 200, 2200),
        ("subscription", "finalized", 3100, 2000, 110, 1210),
    ]
