"""Payment status back: Stripe and GoCardless webhooks, signatures verified, appended to
raw.payment_events (never to a mart); fct_invoice_payments derives the status as of any time,
and the change goes out as an `invoice.payment_status_updated` webhook."""
from __future__ import annotations

import hashlib
import hmac
import json
import time
from datetime import datetime, timedelta, timezone

import pytest
from werkzeug.test import Client

from tally.dbt_runner import bill
from tally.push import run_push
from tally.push.webhooks_in import app
from tally.warehouse import Warehouse


def _stripe_signature(payload: bytes, secret: str, at: int | None = None) -> str:
    at = at or int(time.time())
    sig = hmac.new(secret.encode(), f"{at}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={at},v1={sig}"


def _events(settings) -> list[dict]:
    with Warehouse(settings) as wh:
        return wh.records(f'select provider, event_id, invoice_id, provider_payment_id, event_type, payment_status '
                          f'from "{wh.raw}".payment_events order by received_at, event_id')


def _outbox_ids(settings, system, action) -> dict[str, str]:
    with Warehouse(settings) as wh:
        rows = wh.records(f'select object_id, provider_id from "{wh.raw}".push_outbox where system = ? and action = ?',
                          [system, action])
    return {r["object_id"]: r["provider_id"] for r in rows}


@pytest.mark.parametrize("target", ["duckdb"])
def test_stripe_and_gocardless_webhooks_update_the_payment_log(billed, systems):
    settings = billed
    systems.stripe.decline_customers = set()
    # GoCardless payments stay pending until GoCardless reports them
    assert not run_push(settings, "gocardless", sleep=lambda s: None).report.failed
    payments = _outbox_ids(settings, "gocardless", "payment")
    assert len(payments) == 2
    assert {e["payment_status"] for e in _events(settings)} == {"pending"}
    client = Client(app(settings))

    # GoCardless: a signed batch of events; a repeated delivery adds nothing; a bad signature is refused
    (first, first_payment), (second, second_payment) = sorted(payments.items())
    later = lambda s: datetime.fromtimestamp(time.time() + s, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")  # noqa: E731
    body = json.dumps({"events": [
        {"id": "EV001", "created_at": later(5), "resource_type": "payments", "action": "confirmed",
         "links": {"payment": first_payment}},
        {"id": "EV002", "created_at": later(6), "resource_type": "payments", "action": "failed",
         "links": {"payment": second_payment}},
        {"id": "EV003", "created_at": later(7), "resource_type": "mandates", "action": "active",
         "links": {"mandate": "MD1"}}]}).encode()
    secret = systems.secrets["TALLY_GOCARDLESS_WEBHOOK_SECRET"]
    signature = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    resp = client.post("/webhooks/gocardless", data=body, headers={"Webhook-Signature": signature})
    assert resp.status_code == 200 and resp.json == {"appended": 2}
    assert client.post("/webhooks/gocardless", data=body, headers={"Webhook-Signature": signature}).json == {"appended": 0}
    forged = body.replace(b"failed", b"confirmed")
    assert client.post("/webhooks/gocardless", data=forged, headers={"Webhook-Signature": signature}).status_code == 401
    assert client.post("/webhooks/gocardless", data=body, headers={}).status_code == 401

    # Stripe: invoice.paid for a Tally invoice, signed with the endpoint secret
    acme = sorted(_finalized(settings, "acme"))[0]
    payload = json.dumps({"id": "evt_1", "object": "event", "type": "invoice.paid", "created": int(time.time()) + 8,
                          "data": {"object": {"id": "in_999", "object": "invoice", "status": "paid",
                                              "metadata": {"tally_invoice_id": acme}}}}).encode()
    stripe_secret = systems.secrets["TALLY_STRIPE_WEBHOOK_SECRET"]
    resp = client.post("/webhooks/stripe", data=payload,
                       headers={"Stripe-Signature": _stripe_signature(payload, stripe_secret)})
    assert resp.status_code == 200 and resp.json == {"appended": 1}
    stale = _stripe_signature(payload, stripe_secret, at=int(time.time()) - 3600)   # replayed an hour later
    assert client.post("/webhooks/stripe", data=payload, headers={"Stripe-Signature": stale}).status_code == 401
    assert client.post("/webhooks/stripe", data=payload,
                       headers={"Stripe-Signature": _stripe_signature(payload, "fake_other_secret")}).status_code == 401

    events = _events(settings)
    assert [(e["provider"], e["event_id"], e["invoice_id"], e["payment_status"]) for e in events
            if not e["event_id"].startswith("push:")] == [
        ("gocardless", "EV001", first, "succeeded"), ("gocardless", "EV002", second, "failed"),
        ("stripe", "evt_1", acme, "succeeded")]

    # the mart: as of now, the statuses reported; as of before they were received, pending
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    bill(settings, now + timedelta(minutes=1), tests=False)
    status = _payments(settings)
    assert (status[first], status[second], status[acme]) == ("succeeded", "failed", "succeeded")
    assert status[sorted(_finalized(settings, "umbrella"), key=lambda i: i)[0]] in ("pending", "succeeded")
    bill(settings, datetime(2026, 4, 2), tests=False)
    assert set(_payments(settings).values()) <= {"pending", "succeeded"}
    assert _payments(settings)[first] == "pending"

    # and each status change goes out once as invoice.payment_status_updated
    # (of the scenario's invoices: billing as of now has finalized the months since)
    assert not run_push(settings, "webhook", sleep=lambda s: None, finalized_before=datetime(2026, 4, 2)).report.failed
    updates = [m for m in systems.webhook.objects["messages"].values()
               if m["webhook_type"] == "invoice.payment_status_updated"]
    assert sorted((m["invoice"]["lago_id"], m["invoice"]["payment_status"]) for m in updates) == sorted([
        (first, "pending"), (second, "pending"), (first, "succeeded"), (second, "failed"), (acme, "succeeded")])


def _finalized(settings, customer) -> set[str]:
    with Warehouse(settings) as wh:
        rows = wh.query(f'select invoice_id from "{settings.schema}".fct_finalized_invoices '
                        "where external_customer_id = ?", [customer])[1]
    return {r[0] for r in rows}


def _payments(settings) -> dict[str, str]:
    with Warehouse(settings) as wh:
        rows = wh.records(f'select invoice_id, payment_status from "{settings.schema}".fct_invoice_payments')
    return {r["invoice_id"]: r["payment_status"] for r in rows}
