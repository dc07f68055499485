"""Wallets and prepaid credits beyond what a scenario can say: the wallet transactions and
balances of tests/scenarios/adjustments_prepaid_credits.json, recurring interval top-ups, and
the checks `tally load` makes of wallets and wallet transactions."""
from __future__ import annotations

import copy
from datetime import datetime
from decimal import Decimal

import pytest

from conftest import ROOT
from tally import catalog
from tally.catalog import CatalogError
from tally.dbt_runner import bill
from tally.scenario import Replay, read_scenario
from tally.warehouse import Warehouse

PREPAID = ROOT / "tests" / "scenarios" / "adjustments_prepaid_credits.json"


def _logs_only(scenario: dict) -> dict:
    s = copy.deepcopy(scenario)
    s["steps"] = [st for st in s["steps"] if not st["action"].startswith(("run_billing", "expect_"))]
    return s


def _rel(wh: Warehouse, name: str) -> str:
    return f'"{wh.settings.schema}"."{name}"'


def test_wallet_transactions_and_balances(settings):
    Replay(_logs_only(read_scenario(PREPAID)), settings).run()
    bill(settings, datetime(2026, 4, 1, 12), tests=True)
    with Warehouse(settings) as wh:
        rows = wh.records(
            f"select wallet_id, transaction_type, status, transaction_status, source, credit_amount, "
            f"amount_cents, balance_after_cents, created_at, settled_at "
            f"from {_rel(wh, 'fct_wallet_transactions')}")
        wallets = {w["wallet_id"]: w for w in wh.records(f"select * from {_rel(wh, 'fct_wallets')}")}
    rows.sort(key=lambda r: (r["wallet_id"], r["settled_at"] or r["created_at"], r["transaction_type"]))
    got = [(r["wallet_id"], r["transaction_status"], r["source"], r["status"], Decimal(r["credit_amount"]),
            int(r["amount_cents"]), r["balance_after_cents"]) for r in rows]
    assert got == [
        # 30 granted credits at 0.50: 15.00 at once
        ("acme/default", "granted", "manual", "settled", Decimal(30), 1500, 1500),
        # the Jan 1 invoice (31.00) takes what there is: credits smaller than the total
        ("acme/default", "invoiced", "invoice", "settled", Decimal(30), 1500, 0),
        # 40 credits bought on Dec 31 count once their credit invoice is paid, on Jan 5
        ("acme/default", "purchased", "manual", "settled", Decimal(40), 2000, 2000),
        ("acme/default", "invoiced", "invoice", "settled", Decimal(40), 2000, 0),
        ("acme/default", "granted", "manual", "settled", Decimal(10), 500, 500),
        ("acme/default", "voided", "manual", "settled", Decimal(4), 200, 300),
        ("acme/default", "invoiced", "invoice", "settled", Decimal(6), 300, 0),
        ("acme/default", "granted", "manual", "settled", Decimal(20), 1000, 1000),
        # expiration_at (set by an update on Mar 6) is Mar 15: what is left is lost
        ("acme/default", "voided", "expiration", "settled", Decimal(20), 1000, 0),
        # 200 credits at 1.00, larger than each 60.00 invoice
        ("globex/default", "granted", "manual", "settled", Decimal(200), 20000, 20000),
        ("globex/default", "invoiced", "invoice", "settled", Decimal(60), 6000, 14000),
        ("globex/default", "invoiced", "invoice", "settled", Decimal(60), 6000, 8000),
        ("globex/default", "voided", "termination", "settled", Decimal(80), 8000, 0),
    ]
    acme, globex = wallets["acme/default"], wallets["globex/default"]
    assert (acme["status"], int(acme["balance_cents"]), int(acme["consumed_amount_cents"]),
            Decimal(acme["consumed_credits"])) == ("terminated", 0, 3800, Decimal(76))
    assert acme["terminated_at"] == datetime(2026, 3, 15) and acme["expiration_at"] == datetime(2026, 3, 15)
    assert (globex["status"], int(globex["balance_cents"]), int(globex["consumed_amount_cents"])) == \
        ("terminated", 0, 12000)
    assert globex["terminated_at"] == datetime(2026, 3, 20)


def test_unpaid_purchase_is_pending_and_ongoing_balance(settings):
    """Before its invoice is paid a purchase is pending and counts in no balance; the ongoing
    balance takes off the usage of the period in progress, taxes included."""
    scenario = _logs_only(read_scenario(PREPAID))
    scenario["steps"] = [s for s in scenario["steps"] if s["at"] < "2026-01-15"
                         and s["action"] != "update_payment_status"]
    Replay(scenario, settings).run()
    bill(settings, datetime(2026, 1, 15), tests=True)
    with Warehouse(settings) as wh:
        pending = wh.records(f"select status, amount_cents, balance_after_cents, settled_at "
                             f"from {_rel(wh, 'fct_wallet_transactions')} where transaction_status = 'purchased'")
        acme = wh.records(f"select * from {_rel(wh, 'fct_wallets')} where wallet_id = 'acme/default'")[0]
    assert [(p["status"], int(p["amount_cents"]), p["balance_after_cents"], p["settled_at"]) for p in pending] == \
        [("pending", 2000, None, None)]
    # 20 API calls at 1.00 so far in January and plan pro's 20% VAT on them (Lago's ongoing usage is
    # taxed); the Feb invoice is not issued yet
    assert (int(acme["balance_cents"]), int(acme["ongoing_usage_balance_cents"]), int(acme["ongoing_balance_cents"])) \
        == (0, 2400, -2400)


def test_interval_top_ups(settings):
    at = datetime(2026, 1, 31)
    with Warehouse(settings) as wh:
        catalog.load_objects(wh, [{"customer": {"external_id": "c", "name": "C", "currency": "EUR"}}], at)
        catalog.load_objects(wh, [{"wallet": {
            "external_customer_id": "c", "code": "main", "rate_amount": "2", "currency": "EUR",
            "recurring_transaction_rules": [{"trigger": "interval", "method": "fixed", "interval": "monthly",
                                             "paid_credits": "1.5", "granted_credits": "2"}]}}], at)
        wh.commit()
    bill(settings, datetime(2026, 4, 15), tests=True)
    with Warehouse(settings) as wh:
        rows = wh.records(f"select transaction_status, source, status, amount_cents, created_at "
                          f"from {_rel(wh, 'fct_wallet_transactions')}")
        invoices = wh.records(f"select invoice_type, fees_amount_cents, taxes_amount_cents, total_amount_cents "
                              f"from {_rel(wh, 'fct_invoices')}")
    rows.sort(key=lambda r: (r["created_at"], r["transaction_status"]))
    # Jan 31 monthly: Feb 28 (the month's end), Mar 31; Apr 30 is after as_of
    assert [(r["transaction_status"], r["source"], r["status"], int(r["amount_cents"]), r["created_at"]) for r in rows] == [
        ("granted", "interval", "settled", 400, datetime(2026, 2, 28)),
        ("purchased", "interval", "pending", 300, datetime(2026, 2, 28)),
        ("granted", "interval", "settled", 400, datetime(2026, 3, 31)),
        ("purchased", "interval", "pending", 300, datetime(2026, 3, 31)),
    ]
    # each purchase has a credit invoice of its own, without tax
    assert sorted((i["invoice_type"], int(i["fees_amount_cents"]), int(i["taxes_amount_cents"]),
                   int(i["total_amount_cents"])) for i in invoices) == [("credit", 300, 0, 300)] * 2


def _wallet(**over) -> dict:
    return {"wallet": {"external_customer_id": "c", "rate_amount": "1", "currency": "EUR",
                       "paid_credits": "10", **over}}


@pytest.mark.parametrize("target", ["duckdb"], indirect=True)
@pytest.mark.parametrize("items,message", [
    ([_wallet(external_customer_id="nobody")], "customer 'nobody' does not exist"),
    ([_wallet(rate_amount="0")], "rate_amount: must be greater than 0"),
    ([_wallet(currency="USD")], "differs from the customer's currency 'EUR'"),
    ([_wallet(priority=51)], "priority: must be between 1 and 50"),
    ([_wallet(), _wallet(code="second")], "already has the active wallet 'c/default'"),
    ([_wallet(), _wallet(rate_amount="2")], "rate_amount: cannot change"),
    ([_wallet(recurring_transaction_rules=[{"trigger": "threshold", "paid_credits": "5"}])],
     "wallet 'c/default': recurring_transaction_rules[0].threshold_credits: is required"),
    ([_wallet(recurring_transaction_rules=[{"trigger": "threshold", "threshold_credits": "-1"}])],
     "recurring_transaction_rules[0].threshold_credits: must not be negative"),
    ([_wallet(recurring_transaction_rules=[{"trigger": "threshold", "method": "target", "threshold_credits": "5"}])],
     "recurring_transaction_rules[0].target_ongoing_balance: is required"),
    ([_wallet(recurring_transaction_rules=[{"trigger": "threshold", "threshold_credits": "5"},
                                           {"trigger": "threshold", "threshold_credits": "2"}])],
     "recurring_transaction_rules[1]: a wallet has at most one threshold rule"),
    ([_wallet(recurring_transaction_rules=[{"trigger": "interval", "interval": "monthly", "method": "target",
                                            "target_ongoing_balance": "5"}])],
     "recurring_transaction_rules[0].method: target is supported with trigger threshold only"),
    ([_wallet(recurring_transaction_rules=[{"trigger": "interval", "interval": "daily"}])],
     "must be weekly, monthly, quarterly, semiannual or yearly"),
    ([{"wallet_transaction": {"wallet_id": "c/default", "paid_credits": "5"}}], "wallet 'c/default' does not exist"),
    ([_wallet(), {"wallet_transaction": {"wallet_id": "c/default", "paid_credits": "0"}}],
     "one of paid_credits, granted_credits or voided_credits must be greater than 0"),
    ([_wallet(), {"wallet_transaction": {"external_customer_id": "c", "voided_credits": "-1"}}],
     "voided_credits"),
])
def test_wallets_are_validated(warehouse, items, message):
    at = datetime(2026, 1, 1)
    catalog.load_objects(warehouse, [{"customer": {"external_id": "c", "name": "C", "currency": "EUR"}}], at)
    with pytest.raises(CatalogError) as err:
        for item in items:
            catalog.load_objects(warehouse, [item], at)
    assert message in str(err.value)


@pytest.mark.parametrize("target", ["duckdb"], indirect=True)
def test_threshold_rules_are_accepted(warehouse):
    at = datetime(2026, 1, 1)
    catalog.load_objects(warehouse, [{"customer": {"external_id": "c", "name": "C", "currency": "EUR"}}], at)
    catalog.load_objects(warehouse, [_wallet(recurring_transaction_rules=[
        {"trigger": "threshold", "method": "target", "threshold_credits": "0", "target_ongoing_balance": "50"},
        {"trigger": "interval", "interval": "monthly", "granted_credits": "1"}])], at)


@pytest.mark.parametrize("target", ["duckdb"], indirect=True)
def test_terminated_wallet_takes_no_top_up_and_frees_the_customer(warehouse):
    at = datetime(2026, 1, 1)
    catalog.load_objects(warehouse, [{"customer": {"external_id": "c", "name": "C", "currency": "EUR"}},
                                     _wallet()], at)
    catalog.terminate_wallet(warehouse, {"external_customer_id": "c"}, datetime(2026, 1, 2))
    with pytest.raises(CatalogError, match="wallet 'c/default' is terminated"):
        catalog.load_objects(warehouse, [{"wallet_transaction": {"wallet_id": "c/default", "granted_credits": "1"}}],
                             datetime(2026, 1, 3))
    with pytest.raises(ValueError, match="already terminated"):
        catalog.terminate_wallet(warehouse, {"external_customer_id": "c"}, datetime(2026, 1, 3))
    # a new wallet for the customer is allowed once the first one ended
    catalog.load_objects(warehouse, [_wallet(code="next")], datetime(2026, 1, 4))


def test_a_credit_invoice_and_a_one_off_invoice_at_the_same_instant(settings):
    """A wallet bought (10 credits at 1.00) at the very instant a one-off invoice is created: two
    invoices of the customer issued at the same moment, each numbered in turn, and the data tests
    (one subscription invoice per customer and billing moment) hold."""
    scenario = _logs_only(read_scenario(ROOT / "tests" / "scenarios" / "adjustments_coupons_taxes_one_off.json"))
    at = "2026-01-15T10:00:00Z"
    assert any(s["action"] == "create_one_off_invoice" and s["at"] == at for s in scenario["steps"])
    scenario["steps"].append({"at": at, "action": "create_wallet", "payload": {
        "external_customer_id": "acme", "name": "Prepaid", "rate_amount": "1", "currency": "USD",
        "paid_credits": "10"}})
    scenario["steps"].sort(key=lambda s: s["at"])
    Replay(scenario, settings).run()
    out = bill(settings, datetime(2026, 1, 16), tests=True)
    assert "Completed successfully" in out
    with Warehouse(settings) as wh:
        rows = wh.records(f"select invoice_type, sequential_id, total_amount_cents from {_rel(wh, 'fct_invoices')} "
                          f"where external_customer_id = 'acme' and issued_at = ? order by sequential_id",
                          [datetime(2026, 1, 15, 10)])
    assert sorted(r["invoice_type"] for r in rows) == ["credit", "one_off"]
    assert len({r["sequential_id"] for r in rows}) == 2
    assert [int(r["total_amount_cents"]) for r in rows if r["invoice_type"] == "credit"] == [1000]


THRESHOLD = ROOT / "tests" / "scenarios" / "adjustments_wallet_threshold_top_up.json"


def test_threshold_top_ups_with_data_tests(settings):
    """The threshold scenario billed with every data test (the walk agrees with the ledger): its
    threshold transactions and the balances they leave (arithmetic in the scenario)."""
    Replay(_logs_only(read_scenario(THRESHOLD)), settings).run()
    bill(settings, datetime(2026, 3, 1, 12), tests=True)
    with Warehouse(settings) as wh:
        rows = wh.records(f"select wallet_id, transaction_status, status, amount_cents, created_at "
                          f"from {_rel(wh, 'fct_wallet_transactions')} where source = 'threshold'")
        wallets = {w["wallet_id"]: int(w["balance_cents"]) for w in wh.records(f"select * from {_rel(wh, 'fct_wallets')}")}
    got = sorted((r["wallet_id"], r["created_at"], r["transaction_status"], r["status"], int(r["amount_cents"])) for r in rows)
    assert got == [
        ("acme/default", datetime(2026, 1, 12, 10), "granted", "settled", 200),
        ("acme/default", datetime(2026, 1, 12, 10), "purchased", "settled", 1000),
        ("acme/default", datetime(2026, 2, 5, 10), "granted", "settled", 200),
        ("acme/default", datetime(2026, 2, 5, 10), "purchased", "pending", 1000),
        ("globex/default", datetime(2026, 1, 10, 10), "purchased", "settled", 1150),
    ]
    assert wallets == {"acme/default": 700, "globex/default": 950}
