"""The outbox's rules with a scripted connector (no network): which rows are due, retries with
exponential backoff (the sleep is injected), permanent errors, the attempt cap, prerequisites,
dry runs, and `tally push` on the command line."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tally.push import base, outbox, run_push
from tally.push.base import Connector, PermanentError, Result, RetryableError, classify_status, idempotency_key
from tally.warehouse import Warehouse

from .conftest import FINALIZED, PAYABLE

TALLY = Path(sys.executable).with_name("tally")


class Scripted(Connector):
    """A payment system whose answers are scripted per (action, object): a list of exceptions to
    raise before succeeding."""
    name = "stripe"
    kind = "payment"
    actions = ("customer", "invoice", "payment")

    def __init__(self, script=None):
        super().__init__(secrets=None)
        self.script = script or {}
        self.calls: list[tuple[str, str, str]] = []

    def describe(self):
        return "scripted"

    def _next(self, action, object_id, key, result):
        self.calls.append((action, object_id, key))
        queue = self.script.get((action, object_id)) or self.script.get(action) or []
        if queue:
            raise queue.pop(0)
        return result

    def sync_customer(self, customer, key, provider_id):
        return self._next("customer", customer.external_id, key, Result(f"cus_{customer.external_id}"))

    def push_invoice(self, invoice, customer_id, key, customer=None):
        return self._next("invoice", invoice.invoice_id, key, Result(f"in_{invoice.invoice_id[:6]}"))

    def collect_payment(self, invoice, customer_id, invoice_ref, key):
        assert invoice_ref == f"in_{invoice.invoice_id[:6]}"
        return self._next("payment", invoice.invoice_id, key, Result(f"pi_{invoice.invoice_id[:6]}", "succeeded"))


def _run(settings, conn, sleeps=None, **options):
    with Warehouse(settings) as wh:
        outbox.ensure_tables(wh)
        pusher = outbox.Pusher(wh, {"stripe": conn}, None, sleep=(sleeps.append if sleeps is not None else
                                                                  lambda s: None), **options)
        return pusher.run(lambda: outbox.Plan(wh, {"stripe": conn}, [], None))


def _rows(settings) -> list[dict]:
    with Warehouse(settings) as wh:
        return wh.records(f'select * from "{wh.raw}".push_outbox order by object_id, action')


def _attempts(settings) -> list[dict]:
    with Warehouse(settings) as wh:
        return wh.records(f'select * from "{wh.raw}".push_attempts order by started_at, attempt')


def test_error_kinds():
    assert isinstance(classify_status(429, "x"), RetryableError)
    assert isinstance(classify_status(503, "x"), RetryableError)
    assert isinstance(classify_status(None, "x"), RetryableError)
    assert isinstance(classify_status(404, "x"), PermanentError)
    assert isinstance(classify_status(401, "x"), PermanentError)
    import httpx
    import requests

    assert isinstance(base.network_error("s", requests.ReadTimeout("slow")), RetryableError)
    assert isinstance(base.network_error("s", httpx.ConnectTimeout("slow")), RetryableError)
    assert isinstance(base.network_error("s", ValueError("bad input")), PermanentError)
    k = idempotency_key("invoice", "inv1", "stripe", "payment")
    assert k == idempotency_key("invoice", "inv1", "stripe", "payment") and k.startswith("tally-") and len(k) == 46
    assert len({k, idempotency_key("invoice", "inv1", "stripe", "invoice"),
                idempotency_key("invoice", "inv2", "stripe", "payment"),
                idempotency_key("invoice", "inv1", "gocardless", "payment")}) == 4


@pytest.mark.parametrize("target", ["duckdb"])
def test_retries_back_off_exponentially_with_the_same_key(billed):
    conn = Scripted({"customer": [RetryableError("HTTP 503", 503), RetryableError("HTTP 429", 429),
                                  RetryableError("timeout")]})
    sleeps: list[float] = []
    report = _run(billed, conn, sleeps, backoff_seconds=0.5)
    assert sleeps == [0.5, 1.0, 2.0]
    customer_calls = [c for c in conn.calls if c[0] == "customer"]
    assert len(customer_calls) == 4 and len({c[2] for c in customer_calls}) == 1  # one key for every attempt
    assert not report.failed and not report.pending
    rows = _rows(billed)
    assert len(rows) == 1 + 2 + 2 and {r["status"] for r in rows} == {"done"}
    customer = next(r for r in rows if r["object_type"] == "customer")
    assert customer["attempts"] == 4 and customer["provider_id"] == "cus_acme" and customer["last_error"] is None
    assert [a["outcome"] for a in _attempts(billed) if a["action"] == "customer"] == ["retry", "retry", "retry", "done"]
    assert [a["http_status"] for a in _attempts(billed) if a["action"] == "customer"][:2] == [503, 429]

    # a second run sends nothing
    again = Scripted()
    assert not _run(billed, again).enqueued and again.calls == []


@pytest.mark.parametrize("target", ["duckdb"])
def test_permanent_errors_are_recorded_not_retried(billed):
    invoices = sorted({r["object_id"] for r in _plan_rows(billed) if r["object_type"] == "invoice"})
    first = invoices[0]
    conn = Scripted({("invoice", first): [PermanentError("stripe: HTTP 400: No such customer", 400)]})
    sleeps: list[float] = []
    report = _run(billed, conn, sleeps)
    assert sleeps == []
    assert [(r.action, r.object_id) for r in report.failed] == [("invoice", first), ("payment", first)]
    rows = {(r["action"], r["object_id"]): r for r in _rows(billed)}
    assert rows[("invoice", first)]["status"] == "failed" and rows[("invoice", first)]["http_status"] == 400
    assert rows[("invoice", first)]["last_error"] == "stripe: HTTP 400: No such customer"
    assert rows[("payment", first)]["last_error"] == "invoice could not be pushed to stripe"
    assert sum(1 for c in conn.calls if c[1] == first) == 1
    # not retried by later runs
    again = Scripted()
    _run(billed, again)
    assert again.calls == []


@pytest.mark.parametrize("target", ["duckdb"])
def test_gives_up_after_max_attempts_and_keeps_pending_between_runs(billed):
    failing = [RetryableError("HTTP 502", 502) for _ in range(10)]
    conn = Scripted({"customer": failing})
    report = _run(billed, conn, attempts_per_run=2, max_attempts=5)
    assert {r.object_type for r in report.pending} == {"customer", "invoice"}   # invoices wait for the customer
    assert not report.failed
    assert _run(billed, conn, attempts_per_run=2, max_attempts=5).pending    # attempts 3, 4
    report = _run(billed, conn, attempts_per_run=2, max_attempts=5)          # attempt 5: gives up
    [failed_customer] = [r for r in report.failed if r.object_type == "customer"]
    assert failed_customer.last_error.startswith("gave up after 5 attempts: HTTP 502")
    assert len([c for c in conn.calls if c[0] == "customer"]) == 5
    assert {r["status"] for r in _rows(billed)} == {"failed"}


def _plan_rows(settings) -> list[dict]:
    with Warehouse(settings) as wh:
        return [r.__dict__ for r in outbox.Plan(wh, {"stripe": Scripted()}, [], None).rows]


@pytest.mark.parametrize("target", ["duckdb"])
def test_dry_run_sends_and_writes_nothing(billed, systems):
    result = run_push(billed, dry_run=True)
    assert result.dry_run
    webhooks = [r for r in result.planned if r.system == "webhook"]
    assert len([r for r in webhooks if r.action == "invoice.created"]) == FINALIZED
    # every invoice with a total to collect, but umbrella's: it has no payment provider
    assert len([r for r in result.planned if r.action == "payment"]) == PAYABLE - 1
    assert {r.system for r in result.planned} == {"stripe", "gocardless", "adyen", "xero", "netsuite", "hubspot",
                                                  "webhook"}
    assert all(not f.requests for f in systems.all())
    with Warehouse(billed) as wh:
        assert not wh.relation_exists(wh.raw, "push_outbox")
    assert result.lines()[-1].startswith(f"dry run: {len(result.planned)} pushes due")


@pytest.mark.parametrize("target", ["duckdb"])
def test_tally_push_command(billed, systems):
    env = {**billed.dbt_env(), **systems.env(), "TALLY_HOME": str(billed.home),
           "TALLY_SECRETS_FILE": "/nonexistent/tally-secrets.env"}
    env.pop("TALLY_DUCKDB_PATH", None)

    def tally(*args):
        return subprocess.run([str(TALLY), "push", "--target", "duckdb", *args], env=env, capture_output=True,
                              text=True, timeout=300)

    dry = tally("--system", "adyen", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout.count("would push adyen payment invoice") == 2 and not systems.adyen.requests
    out = tally("--system", "adyen")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "2 enqueued, 2 done, 0 failed, 0 pending"
    assert len(systems.adyen.calls("POST", "/v72/payments")) == 2
    assert tally("--system", "adyen").stdout.strip() == "0 enqueued, 0 done, 0 failed, 0 pending"
    bad = tally("--system", "quickbooks")
    assert bad.returncode == 2 and "invalid choice" in bad.stderr
    env.pop("TALLY_ADYEN_API_KEY")
    missing = tally("--system", "adyen")
    assert missing.returncode == 2 and missing.stderr.strip() == \
        "tally: error: adyen is not configured: set its secrets (see docs/push.md)"


@pytest.mark.parametrize("target", ["duckdb"])
def test_an_earlier_billing_day_delivers_what_a_later_one_left_pending(billed):
    """Backfills run days out of order: a run for day D enqueues D's invoices only, but still
    delivers the rows a later day enqueued and could not send."""
    from datetime import datetime

    def run(conn, finalized_before):
        with Warehouse(billed) as wh:
            outbox.ensure_tables(wh)
            pusher = outbox.Pusher(wh, {"stripe": conn}, None, sleep=lambda s: None, attempts_per_run=1)
            return pusher.run(lambda: outbox.Plan(wh, {"stripe": conn}, [], None, finalized_before))

    march, april = datetime(2026, 3, 1, 23, 59, 59), datetime(2026, 4, 1, 23, 59, 59)
    down = Scripted({"invoice": [RetryableError("HTTP 503", 503) for _ in range(5)]})
    report = run(down, april)                                     # day 2026-04-01: both invoices, not sent
    assert len({r.object_id for r in report.enqueued if r.object_type == "invoice"}) == 2
    assert {r.action for r in report.pending} == {"invoice", "payment"}
    report = run(Scripted(), march)                               # then day 2026-03-01 again
    assert not report.enqueued and not report.failed and not report.pending
    assert {(r.action, r.object_id) for r in report.done} == {
        (a, i) for i in {r["object_id"] for r in _rows(billed) if r["object_type"] == "invoice"}
        for a in ("invoice", "payment")}
    assert {r["status"] for r in _rows(billed)} == {"done"}


def _void(settings, invoice_id: str) -> None:
    from datetime import datetime

    from tally import catalog

    with Warehouse(settings) as wh:
        invoice = wh.records(f'select * from "{settings.schema}".fct_invoices where invoice_id = ?', [invoice_id])[0]
        catalog.void_invoice(wh, invoice, datetime(2026, 4, 2))
        wh.commit()


@pytest.mark.parametrize("target", ["duckdb"])
def test_a_voided_invoice_is_not_charged_and_is_announced(billed):
    invoices = sorted({r["object_id"] for r in _plan_rows(billed) if r["object_type"] == "invoice"})
    voided_first, voided_later = invoices[0], invoices[1]
    _void(billed, voided_first)
    # voided before any push: its invoice document is still pushed, its payment never collected
    assert ("payment", voided_first) not in {(r["action"], r["object_id"]) for r in _plan_rows(billed)}
    down = Scripted({("invoice", voided_later): [RetryableError("HTTP 503", 503) for _ in range(5)]})
    _run(billed, down, attempts_per_run=1)
    assert ("payment", voided_first) not in {(c[0], c[1]) for c in down.calls}
    assert ("payment", voided_later) in {(r["action"], r["object_id"]) for r in _rows(billed)}
    # voided while its payment waits in the outbox: the payment fails for good, with the reason
    _void(billed, voided_later)
    up = Scripted()
    report = _run(billed, up)
    assert [(r.action, r.object_id) for r in report.failed] == [("payment", voided_later)]
    assert ("payment", voided_later) not in {(c[0], c[1]) for c in up.calls}
    rows = {(r["action"], r["object_id"]): r for r in _rows(billed)}
    assert rows[("payment", voided_later)]["last_error"].startswith("invoice was voided at 2026-04-02T00:00:00Z")
    # Tally's own webhooks announce the void (Lago's invoice.voided)
    with Warehouse(billed) as wh:
        hooks = [r for r in outbox.Plan(wh, {}, ["http://hooks.test/tally"], None).rows if r.action == "invoice.voided"]
    assert sorted(r.object_id for r in hooks) == sorted([voided_first, voided_later])
    body = json.loads(hooks[0].payload)
    assert (body["webhook_type"], body["invoice"]["status"], body["invoice"]["voided_at"]) == \
        ("invoice.voided", "voided", "2026-04-02T00:00:00Z")
