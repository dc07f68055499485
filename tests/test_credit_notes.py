"""Credit notes on request beyond what a scenario can say: the credit notes of
tests/scenarios/adjustments_credit_notes_on_request.json as fct_credit_notes records them, and the
checks a credit note body must pass before it is written (one-line errors)."""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pytest

from conftest import ROOT
from tally import catalog, credit_notes, reports
from tally.dbt_runner import bill
from tally.scenario import Replay, read_scenario
from tally.warehouse import Warehouse

ON_REQUEST = ROOT / "tests" / "scenarios" / "adjustments_credit_notes_on_request.json"
APRIL = datetime(2026, 4, 1, 6)


def _rel(wh: Warehouse, name: str) -> str:
    return f'"{wh.settings.schema}"."{name}"'


@pytest.fixture
def replayed(settings):
    """The scenario replayed, then billed as of Apr 1 with every data test."""
    Replay(read_scenario(ON_REQUEST), settings).run()
    bill(settings, APRIL, tests=True)
    with Warehouse(settings) as wh:
        yield wh


def _invoices(wh: Warehouse) -> dict[str, dict]:
    return {i["number"].rsplit("-", 1)[1]: i for i in reports.invoices(wh)}


def _fee(wh: Warehouse, invoice_id: str, fee_type: str) -> str:
    _, rows = wh.query(f"select fee_id from {_rel(wh, 'fct_fees')} where invoice_id = ? and fee_type = ?",
                       [invoice_id, fee_type])
    return rows[0][0]


def test_credit_notes_and_their_balances(replayed):
    wh = replayed
    rows = wh.records(f"select * from {_rel(wh, 'fct_credit_notes')} order by issued_at")
    got = [(r["number"], r["reason"], r["is_automatic"], int(r["items_amount_cents"]),
            int(r["coupons_adjustment_amount_cents"]), int(r["sub_total_excluding_taxes_amount_cents"]),
            int(r["taxes_amount_cents"]), int(r["total_amount_cents"]), int(r["credit_amount_cents"]),
            int(r["refund_amount_cents"]), int(r["balance_amount_cents"]), r["credit_status"], r["refund_status"],
            str(r["issuing_date"])) for r in rows]
    assert got == [
        # 400 of the 10.00 charge at 20%, credited while the invoice was unpaid
        ("TAL-1CCD-001-001-CN001", "product_unsatisfactory", False, 400, 0, 400, 80, 480, 480, 0, 0, "consumed", None,
         "2026-02-05"),
        # 10.00 of the subscription once paid: 12.00, 7.00 credited and 5.00 refunded
        ("TAL-1CCD-001-001-CN002", "duplicated_charge", False, 1000, 0, 1000, 200, 1200, 700, 500, 0, "consumed",
         "pending", "2026-02-10"),
        # 20.00 of a fee whose coupon share is 1363.6363636364: 545.4545454546 of coupons is not credited
        # back, taxes 290.9090909091; total 1745.4545454545 -> 1745, subtotal 1745 - 291
        ("TAL-1CCD-001-002-CN001", "order_cancellation", False, 2000, 545, 1454, 291, 1745, 1745, 0, 0, "consumed",
         None, "2026-03-05"),
    ]
    items = wh.records(f"select * from {_rel(wh, 'fct_credit_note_items')} order by issued_at")
    assert [(i["fee_type"], i["metric_code"], int(i["amount_cents"]), Decimal(str(i["precise_coupons_adjustment_amount_cents"])),
             Decimal(str(i["precise_taxes_amount_cents"]))) for i in items] == [
        ("charge", "api_calls", 400, Decimal(0), Decimal(80)),
        ("subscription", None, 1000, Decimal(0), Decimal(200)),
        ("subscription", None, 2000, Decimal("545.4545454546"), Decimal("290.9090909091")),
    ]


def _body(invoice_id: str, fee_id: str, amount: int, credit: int, refund: int = 0, **extra) -> dict:
    return {"credit_note": {"invoice_id": invoice_id, "credit_amount_cents": credit, "refund_amount_cents": refund,
                            "items": [{"fee_id": fee_id, "amount_cents": amount}], **extra}}


def test_credit_note_checks(replayed, monkeypatch):
    wh = replayed
    inv = _invoices(wh)
    jan, apr = inv["001"]["invoice_id"], inv["003"]["invoice_id"]
    jan_charge, apr_sub = _fee(wh, jan, "charge"), _fee(wh, apr, "subscription")
    at = datetime(2026, 4, 2)

    def refused(item) -> str:
        with pytest.raises(ValueError) as exc:
            catalog.load_objects(wh, [item], at)
        message = str(exc.value)
        assert "\n" not in message
        return message

    assert "no such invoice" in refused(_body("nope", apr_sub, 100, 120))
    assert "reason: must be one of" in refused(_body(apr, apr_sub, 100, 120, reason="because"))
    assert "is not on the invoice" in refused(_body(apr, jan_charge, 100, 120))
    # 400 of the 1000 charge were credited on Feb 5
    assert "more than the fee's creditable amount 600" in refused(_body(jan, jan_charge, 601, 721))
    assert "the items' total is 120 (items 100 - coupons 0 + taxes 20)" in refused(_body(apr, apr_sub, 100, 100))
    # the April invoice is not paid: it can be credited, not refunded
    assert "not paid (payment_status pending): it can only be credited" in refused(_body(apr, apr_sub, 100, 20, 100))
    assert "must be a whole number" in refused(_body(apr, apr_sub, -5, 0))
    assert "items: must be a non-empty list" in refused(
        {"credit_note": {"invoice_id": apr, "credit_amount_cents": 1, "items": []}})
    # nothing was written by the refusals; a valid one is written once
    assert catalog.load_objects(wh, [_body(apr, apr_sub, 100, 120, id="ok")], at) == (1, 0)
    assert catalog.load_objects(wh, [_body(apr, apr_sub, 100, 120, id="ok")], at) == (0, 1)
    # the remaining creditable amount counts the one just written
    assert "creditable amount 4900" in refused(_body(apr, apr_sub, 4901, 5881))

    real = credit_notes._invoice
    monkeypatch.setattr(credit_notes, "_invoice", lambda w, i: {**real(w, i), "status": "draft"})
    assert "invoice is a draft: only a finalized invoice can be credited" in refused(_body(apr, apr_sub, 10, 12))


def test_scenario_payload_resolution(replayed):
    wh = replayed
    with pytest.raises(ValueError, match="no finalized invoice with number 'TAL-X' issued by"):
        reports.find_invoice(wh, APRIL, number="TAL-X")
    latest = reports.find_invoice(wh, APRIL, external_customer_id="acme")
    assert latest["invoice_id"] == max((i for i in reports.invoices(wh) if i["status"] == "finalized"
                                        and i["external_customer_id"] == "acme"),
                                       key=lambda i: i["issued_at"])["invoice_id"]
    with pytest.raises(ValueError, match=r"items\[0\] {'type': 'add_on'} matches 0 fees"):
        credit_notes.resolve(wh, {"external_customer_id": "acme", "items": [{"type": "add_on", "amount_cents": 1}]},
                             latest["invoice_id"], "step 1")
    body = credit_notes.resolve(wh, {"external_customer_id": "acme", "credit_amount_cents": 12,
                                     "items": [{"type": "subscription", "amount_cents": 10}]}, latest["invoice_id"], "s")
    assert body["invoice_id"] == latest["invoice_id"]
    assert body["items"] == [{"fee_id": _fee(wh, latest["invoice_id"], "subscription"), "amount_cents": 10}]
