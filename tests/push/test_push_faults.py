"""Exactly once under faults: 30% of the requests to every system fail (5xx, 429, or no answer
within the client's timeout, before or after the system acted), and `tally push` is killed
(SIGKILL) in the middle of a push. After restarts, every finalized invoice has been pushed
exactly once to every system its customer syncs to, and every webhook delivered once."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from tally.warehouse import Warehouse

from .conftest import FINALIZED
from .fakes import Faults, start_systems

TALLY = Path(sys.executable).with_name("tally")


def _env(settings, fakes) -> dict[str, str]:
    env = {**settings.dbt_env(), **fakes.env(), "TALLY_HOME": str(settings.home),
           "TALLY_SECRETS_FILE": "/nonexistent/tally-secrets.env",
           "TALLY_PUSH_TIMEOUT": "0.4", "TALLY_PUSH_BACKOFF_SECONDS": "0.01", "TALLY_PUSH_ATTEMPTS_PER_RUN": "4"}
    env.pop("TALLY_DUCKDB_PATH", None)
    return env


def _finalized(settings) -> dict[str, dict]:
    with Warehouse(settings) as wh:
        rows = wh.records(f'select * from "{settings.schema}".fct_finalized_invoices')
    return {r["invoice_id"]: r for r in rows}


def test_killed_mid_push_with_faults_pushes_everything_exactly_once(billed):
    settings = billed
    faults = Faults(rate=0.3, seed=20261123, timeout=0.6)
    fakes = start_systems(faults)
    env = _env(settings, fakes)
    try:
        # 1. a push killed in the middle
        proc = subprocess.Popen([str(TALLY), "push", "--target", settings.target, "-v"], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            if sum(len(f.requests) for f in fakes.all()) >= 40:
                break
            time.sleep(0.02)
        assert proc.poll() is None, "the push finished before it could be killed: " + proc.stdout.read().decode()
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        assert proc.returncode == -signal.SIGKILL
        with Warehouse(settings) as wh:
            statuses = Counter(r[0] for r in wh.query(f'select status from "{wh.raw}".push_outbox')[1])
        assert statuses["done"] > 0 and statuses["done"] < sum(statuses.values()), statuses

        # 2. restarts until nothing is left
        for run in range(8):
            out = subprocess.run([str(TALLY), "push", "--target", settings.target], env=env,
                                 capture_output=True, text=True, timeout=300)
            assert out.returncode in (0, 1), out.stderr
            with Warehouse(settings) as wh:
                left = wh.query(f'select count(*) from "{wh.raw}".push_outbox where status <> \'done\'')[1][0][0]
            if left == 0 and out.returncode == 0:
                break
        assert left == 0, out.stdout + out.stderr
        kinds = Counter(faults.injected)
        assert len(faults.injected) >= 30 and {"after_500", "after_timeout", "before_timeout"} <= set(kinds), kinds
    finally:
        fakes.stop()

    invoices = _finalized(settings)
    assert len(invoices) == FINALIZED
    of = lambda customer: {i for i, r in invoices.items() if r["external_customer_id"] == customer}  # noqa: E731
    payable = lambda customer: {i for i in of(customer) if int(invoices[i]["total_amount_cents"]) > 0}  # noqa: E731

    # Stripe (acme): one customer, one invoice and one payment per invoice, lines not doubled
    s = fakes.stripe.objects
    assert len(s["customers"]) == 1
    assert Counter(i["metadata"]["tally_invoice_id"] for i in s["invoices"].values()) == Counter(of("acme"))
    assert {i["metadata"]["tally_invoice_id"]: i["amount_due"] for i in s["invoices"].values()} == \
        {i: int(invoices[i]["total_amount_cents"]) for i in of("acme")}
    assert all(i["status"] == "paid" for i in s["invoices"].values()) and len(s["payments"]) == 2
    # GoCardless (globex): one customer, one payment per invoice
    g = fakes.gocardless.objects
    assert len(g["customers"]) == 1
    assert Counter(p["metadata"]["tally_invoice_id"] for p in g["payments"].values()) == Counter(payable("globex"))
    # Adyen (initech): one payment per invoice
    assert Counter(p["metadata"]["tally_invoice_id"] for p in fakes.adyen.objects["payments"].values()) \
        == Counter(payable("initech"))
    # Xero (acme, initech linked): one contact, one invoice per invoice
    x = fakes.xero.objects
    assert [c["Name"] for c in x["contacts"].values()] == ["Acme Inc"]
    assert Counter(i["Reference"] for i in x["invoices"].values()) == Counter(of("acme") | of("initech"))
    # NetSuite (globex, initech): one record each
    n = fakes.netsuite.objects
    assert sorted(c["externalId"] for c in n["customer"].values()) == ["globex", "initech"]
    assert Counter(i["externalId"] for i in n["invoice"].values()) == Counter(of("globex") | of("initech"))
    # HubSpot (acme as a company, globex as a contact)
    h = fakes.hubspot.objects
    assert len(h["companies"]) == 1 and len(h["contacts"]) == 1
    assert Counter(i["tally_invoice_id"] for i in h["p_tally_invoices"].values()) == Counter(of("acme") | of("globex"))
    # webhooks: every message once (the receiver drops repeated deliveries by their unique key)
    messages = list(fakes.webhook.objects["messages"].values())
    created = Counter(m["invoice"]["lago_id"] for m in messages if m["webhook_type"] == "invoice.created")
    assert created == Counter(invoices.keys())
    assert fakes.webhook.bad_signatures == 0
    # and the payment statuses are in the log, once per payment
    with Warehouse(settings) as wh:
        events = wh.records(f'select invoice_id, payment_status from "{wh.raw}".payment_events')
        attempts = wh.query(f'select count(*) from "{wh.raw}".push_attempts where outcome = \'retry\'')[1][0][0]
    assert Counter(e["invoice_id"] for e in events) == Counter(payable("acme") | payable("globex") | payable("initech"))
    assert attempts > 0
