"""Voiding invoices and overdue payments beyond what a scenario can say: what `tally void`
refuses, the one-line error of the command, and the exact moment an invoice becomes overdue."""
from __future__ import annotations

import copy
import os
import subprocess
import sys
from datetime import datetime

import pytest

from conftest import ROOT
from tally import catalog, reports
from tally.dbt_runner import bill
from tally.push.payments import append_payment_event
from tally.scenario import Replay, read_scenario
from tally.warehouse import Warehouse

VOIDS = ROOT / "tests" / "scenarios" / "adjustments_void_overdue.json"


def _logs_until(at: str) -> dict:
    """The scenario's logs known before `at`, without its voids, billing runs or expectations."""
    s = copy.deepcopy(read_scenario(VOIDS))
    s["steps"] = [st for st in s["steps"] if st["at"] < at
                  and not st["action"].startswith(("run_billing", "expect_", "void_", "update_payment"))]
    return s


def _invoice(wh: Warehouse, customer: str, at: datetime) -> dict:
    return reports.find_invoice(wh, at, external_customer_id=customer, statuses=("finalized", "voided", "draft"))


def test_what_cannot_be_voided(settings):
    Replay(_logs_until("2026-02-02"), settings).run()
    at = datetime(2026, 2, 1, 12)
    bill(settings, at, tests=False)
    with Warehouse(settings) as wh:
        acme, globex = _invoice(wh, "acme", at), _invoice(wh, "globex", at)
        append_payment_event(wh, provider="manual", event_id="paid", invoice_id=globex["invoice_id"],
                             provider_payment_id=None, event_type="invoice.payment_status_updated",
                             payment_status="succeeded", payload={}, occurred_at=at, received_at=at)
        with pytest.raises(ValueError, match="payment_status: succeeded; a paid invoice cannot be voided"):
            catalog.void_invoice(wh, globex, at)
        catalog.void_invoice(wh, acme, at)
        with pytest.raises(ValueError, match="already voided"):
            catalog.void_invoice(wh, acme, datetime(2026, 2, 1, 13))
        with pytest.raises(ValueError, match="only a finalized invoice can be voided"):
            catalog.void_invoice(wh, {**acme, "status": "draft"}, at)
        wh.commit()
    bill(settings, datetime(2026, 2, 1, 13), tests=True)
    with Warehouse(settings) as wh:
        rows = wh.records(f'select invoice_id, status, voided_at from "{settings.schema}".fct_invoices')
        wallet = wh.records(f'select balance_cents, consumed_amount_cents from "{settings.schema}".fct_wallets')[0]
    assert {r["invoice_id"]: (r["status"], r["voided_at"]) for r in rows} == {
        acme["invoice_id"]: ("voided", at), globex["invoice_id"]: ("finalized", None)}
    # the 30.00 the voided invoice took are back, and no longer count as consumed
    assert (int(wallet["balance_cents"]), int(wallet["consumed_amount_cents"])) == (3000, 0)


@pytest.mark.parametrize("target", ["duckdb"], indirect=True)
def test_overdue_from_the_start_of_the_due_date(settings):
    """acme's February invoice is due on Feb 6 (net payment term 5): not overdue at Feb 6 00:00:00,
    overdue one second later (Lago compares the due date with the current time)."""
    Replay(_logs_until("2026-02-02"), settings).run()
    flags = {}
    for at in (datetime(2026, 2, 6), datetime(2026, 2, 6, 0, 0, 1)):
        bill(settings, at, tests=False)
        with Warehouse(settings) as wh:
            flags[at] = wh.records(f'select payment_due_date, payment_overdue from "{settings.schema}".fct_invoice_payments '
                                   "where external_customer_id = 'acme'")[0]
    assert [str(f["payment_due_date"]) for f in flags.values()] == ["2026-02-06", "2026-02-06"]
    assert [bool(f["payment_overdue"]) for f in flags.values()] == [False, True]


def _tally(settings, *args) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TALLY_") or k.startswith("TALLY_PG_")}
    env.update(TALLY_HOME=str(settings.home), TALLY_TARGET=settings.target, TALLY_SCHEMA=settings.schema,
               TALLY_RAW_SCHEMA=settings.raw_schema)
    return subprocess.run([sys.executable, "-m", "tally.cli", *args], env=env, capture_output=True, text=True,
                          timeout=120)


@pytest.mark.parametrize("target", ["duckdb"], indirect=True)
def test_tally_void_command(settings):
    never_billed = _tally(settings, "void", "TAL-1CCD-001-001")
    assert never_billed.returncode == 2
    assert never_billed.stderr.strip() == "tally: error: the warehouse has no invoices yet; bill it first: tally bill"
    Replay(_logs_until("2026-02-02"), settings).run()
    bill(settings, datetime(2026, 2, 2), tests=False)
    with Warehouse(settings) as wh:
        number = _invoice(wh, "acme", datetime(2026, 2, 2))["number"]
    ok = _tally(settings, "void", number, "--at", "2026-02-02T00:00:00Z")
    assert ok.returncode == 0, ok.stderr
    again = _tally(settings, "void", number, "--at", "2026-02-03T00:00:00Z")
    assert (again.returncode, again.stderr.strip()) == (2, f"tally: error: invoice {number!r}: already voided")
    unknown = _tally(settings, "void", "NOPE-1", "--at", "2026-02-03T00:00:00Z")
    assert unknown.returncode == 2 and "no finalized invoice with number 'NOPE-1'" in unknown.stderr


@pytest.mark.parametrize("target", ["duckdb"], indirect=True)
def test_an_invoice_with_credit_notes_cannot_be_voided(settings):
    from tally import credit_notes

    Replay(_logs_until("2026-02-02"), settings).run()
    at = datetime(2026, 2, 1, 12)
    bill(settings, at, tests=False)
    with Warehouse(settings) as wh:
        globex = _invoice(wh, "globex", at)
        body = credit_notes.resolve(wh, {"reason": "other", "credit_amount_cents": 1000,
                                         "items": [{"type": "subscription", "amount_cents": 1000}]},
                                    globex["invoice_id"], "test")
        catalog.load_objects(wh, [{"credit_note": body}], at)
        with pytest.raises(ValueError, match="has credit notes; an invoice with credit notes cannot be voided"):
            catalog.void_invoice(wh, globex, at)


def test_a_voided_invoice_gives_back_the_credit_note_credit_it_took(settings):
    """In the credit-notes scenario, the March 1 invoice (48.00 after coupon and taxes) consumes the
    4.80 and 7.00 credits of the two February credit notes. Voided on March 3, it gives them back
    (Lago's CreditNotes::RecreditService): the April 1 invoice (60.00) takes the 11.80 instead,
    for a total of 48.20, and the notes show their credit available again."""
    scenario = read_scenario(ROOT / "tests" / "scenarios" / "adjustments_credit_notes_on_request.json")
    kept = [s for s in scenario["steps"] if s["at"] < "2026-03-02" or s["at"] >= "2026-04-01"]
    scenario["steps"] = [s for s in kept if not s["action"].startswith("expect_")]
    void = {"at": "2026-03-03T00:00:00Z", "action": "void_invoice",
            "payload": {"external_customer_id": "acme", "invoice_type": "subscription"}}
    scenario["steps"].insert(next(i for i, s in enumerate(scenario["steps"]) if s["at"] >= "2026-04-01"), void)
    Replay(scenario, settings).run()
    out = bill(settings, datetime(2026, 4, 1, 6), tests=True)
    assert "Completed successfully" in out
    with Warehouse(settings) as wh:
        invoices = reports.invoices(wh)
        notes = wh.records(f'select credit_amount_cents, balance_amount_cents, credit_status '
                           f'from "{settings.schema}".fct_credit_notes order by issued_at')
    assert [(i["issued_at"][5:10], i["status"], i["sub_total_including_taxes_amount_cents"],
             i["credit_notes_amount_cents"], i["total_amount_cents"]) for i in invoices] == [
        ("02-01", "finalized", 7200, 0, 7200),
        ("03-01", "voided", 4800, 1180, 3620),
        ("04-01", "finalized", 6000, 1180, 4820),
    ]
    # every credit was consumed again by April's invoice
    assert [(n["credit_amount_cents"], n["balance_amount_cents"], n["credit_status"]) for n in notes] == [
        (480, 0, "consumed"), (700, 0, "consumed")]
