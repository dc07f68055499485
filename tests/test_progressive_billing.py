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


def _until(scenario: dict, at: str, credits: str = "100") -> dict:
    """The scenario's logs (no billing runs, no expectations) up to `at`, with a wallet of granted
    credits (1 credit = 1.00) for the customer from the period's start."""
    steps = [s for s in scenario["steps"] if s["at"] <= at and not s["action"].startswith(("run_billing", "expect_"))]
    wallet = {"at": "2026-03-01T00:00:00Z", "action": "create_wallet",
              "payload": {"external_customer_id": "lab", "name": "Prepaid", "rate_amount": "1",
                          "currency": "USD", "granted_credits": credits}}
    return {**scenario, "steps": [wallet, *steps]}


def _usage_and_wallet(settings, scenario: dict, at: datetime) -> tuple[dict, dict, dict]:
    Replay(scenario, settings).run()
    bill(settings, at, tests=True)
    with Warehouse(settings) as wh:
        usage = reports.current_usage(wh, "lab_ai", at)
        totals = wh.records(f'select * from "{settings.schema}"."fct_current_usage_totals"')
        wallets = wh.records(f'select * from "{settings.schema}"."fct_wallets"')
    assert len(totals) == 1 and len(wallets) == 1
    return usage, totals[0], wallets[0]


def test_current_usage_is_taxed_and_the_ongoing_balance_leaves_out_what_was_billed(settings):
    """On March 25, 12:00 the period's usage is 5,500 tokens-cents with 10% tax: 550, total 6,050 (Lago's
    current usage). The three progressive invoices already billed 1,210 + 1,870 + 2,640 = 5,720 of it,
    taxes included, and took it from the wallet (10,000 - 5,720 = 4,280): the ongoing usage is the
    6,050 - 5,720 = 330 not billed yet (the 300 tokens of March 25 and their tax), so the ongoing
    balance is 4,280 - 330 = 3,950, not 4,280 - 6,050."""
    usage, totals, wallet = _usage_and_wallet(
        settings, _until(read_scenario(SCENARIO), "2026-03-25T10:00:00Z"), datetime(2026, 3, 25, 12))
    assert (usage["amount_cents"], usage["taxes_amount_cents"], usage["total_amount_cents"]) == (5500, 550, 6050)
    assert [c["taxes_amount_cents"] for c in usage["charges"]] == [550]
    assert (int(totals["progressive_billed_cents"]), int(totals["pay_in_advance_billed_cents"]),
            int(totals["unbilled_amount_cents"])) == (5720, 0, 330)
    assert (int(wallet["balance_cents"]), int(wallet["ongoing_usage_balance_cents"]),
            int(wallet["ongoing_balance_cents"])) == (4280, 330, 3950)


def test_a_voided_progressive_invoice_counts_as_usage_not_billed_again(settings):
    """The same with a wallet of 50.00, which pays the first two progressive invoices (1,210 and
    1,870) and 1,920 of the third (2,640), so that the third is not paid in full and can be voided,
    on March 22: it billed nothing, so 6,050 - 1,210 - 1,870 = 2,970 is not billed yet, and it
    gives the wallet back the 1,920 it took: the ongoing balance is 1,920 - 2,970 = -1,050."""
    scenario = _until(read_scenario(SCENARIO), "2026-03-25T10:00:00Z", credits="50")
    scenario["steps"].append({"at": "2026-03-22T00:00:00Z", "action": "void_invoice",
                              "payload": {"external_customer_id": "lab", "invoice_type": "progressive_billing"}})
    scenario["steps"].sort(key=lambda s: s["at"])
    usage, totals, wallet = _usage_and_wallet(settings, scenario, datetime(2026, 3, 25, 12))
    assert usage["total_amount_cents"] == 6050
    assert (int(totals["progressive_billed_cents"]), int(totals["unbilled_amount_cents"])) == (3080, 2970)
    assert (int(wallet["balance_cents"]), int(wallet["ongoing_usage_balance_cents"]),
            int(wallet["ongoing_balance_cents"])) == (1920, 2970, -1050)


def test_usage_that_went_down_is_credited_back_on_the_progressive_invoice(settings):
    """A correction of -2,000 tokens received on March 26 brings March's usage down to 3,500, below
    the 5,200 the last progressive invoice (March 20) billed. April 1's invoice deducts what it can,
    3,500 (its whole charge fee), and the 1,700 left is credited by an automatic credit note on that
    progressive invoice (Lago's CreateFromProgressiveBillingInvoice): 1,700 + 10% tax = 1,870. The
    April 1 invoice (1,000 subscription fee + 100 tax) takes 1,100 of that credit; April's
    progressive invoice (2,200) takes the remaining 770."""
    scenario = read_scenario(SCENARIO)
    steps = [s for s in scenario["steps"] if not s["action"].startswith(("run_billing", "expect_"))]
    steps.append({"at": "2026-03-26T10:00:00Z", "action": "send_event",
                  "payload": {"transaction_id": "correction", "code": "tokens", "external_subscription_id": "lab_ai",
                              "properties": {"n": -2000}}})
    steps.sort(key=lambda s: s["at"])
    Replay({**scenario, "steps": steps}, settings).run()
    out = bill(settings, datetime(2026, 5, 2), tests=True)
    assert "Completed successfully" in out
    with Warehouse(settings) as wh:
        invoices = reports.invoices(wh)
        notes = wh.records(f'select * from "{settings.schema}"."fct_credit_notes"')
    assert [(i["invoice_type"], i["fees_amount_cents"], i["progressive_billing_credit_amount_cents"],
             i["taxes_amount_cents"], i["credit_notes_amount_cents"], i["total_amount_cents"]) for i in invoices] == [
        ("progressive_billing", 1100, 0, 110, 0, 1210),
        ("progressive_billing", 2800, 1100, 170, 0, 1870),
        ("progressive_billing", 5200, 2800, 240, 0, 2640),
        ("subscription", 4500, 3500, 100, 1100, 0),
        ("progressive_billing", 2000, 0, 200, 770, 1430),
        ("subscription", 3100, 2000, 110, 0, 1210),
    ]
    third = invoices[2]
    assert [(n["invoice_id"], n["is_automatic"], n["reason"], int(n["items_amount_cents"]), int(n["taxes_amount_cents"]),
             int(n["total_amount_cents"]), int(n["credit_amount_cents"]), int(n["refund_amount_cents"]))
            for n in notes] == [(third["invoice_id"], True, "other", 1700, 170, 1870, 1870, 0)]
