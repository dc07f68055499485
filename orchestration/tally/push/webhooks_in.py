"""Payment status back from the providers' webhooks, signatures verified, into the append-only
log raw.payment_events (never into a mart).

- Stripe: `Stripe-Signature` checked by the SDK (`stripe.Webhook.construct_event`, timestamp
  tolerance 5 minutes) with TALLY_STRIPE_WEBHOOK_SECRET; invoice.paid / invoice.payment_succeeded
  -> succeeded, invoice.payment_failed / invoice.marked_uncollectible / invoice.voided -> failed.
- GoCardless: `Webhook-Signature` checked by the SDK (`gocardless_pro.webhooks.parse`) with
  TALLY_GOCARDLESS_WEBHOOK_SECRET; payments confirmed / paid_out -> succeeded, failed /
  cancelled / charged_back -> failed, submitted -> pending.

The invoice is found from the Tally metadata the push layer set (Stripe) or from the outbox
(the provider id of the invoice's payment). A provider's redelivery of an event appends
nothing. `app(settings)` is a WSGI application (`tally push --listen PORT` serves it).
"""
from __future__ import annotations

import json
import logging
from datetime import datetime, timezone

from ..settings import Settings
from ..warehouse import Warehouse
from .outbox import ensure_tables
from .payments import append_payment_event
from .secrets import Secrets, mask

log = logging.getLogger("tally.push.webhooks")

STRIPE_EVENTS = {"invoice.paid": "succeeded", "invoice.payment_succeeded": "succeeded",
                 "invoice.payment_failed": "failed", "invoice.marked_uncollectible": "failed",
                 "invoice.voided": "failed", "invoice.payment_action_required": "pending"}
GOCARDLESS_ACTIONS = {"confirmed": "succeeded", "paid_out": "succeeded", "failed": "failed", "cancelled": "failed",
                      "charged_back": "failed", "customer_approval_denied": "failed", "submitted": "pending",
                      "created": "pending"}


class SignatureError(ValueError):
    """The request is not signed by the provider (or not with the configured secret)."""


def _invoice_for(wh: Warehouse, system: str, provider_id: str) -> str | None:
    _, rows = wh.query(f'select object_id from "{wh.raw}".push_outbox where system = ? and provider_id = ? '
                       "and object_type = 'invoice' and action in ('invoice', 'payment')", [system, provider_id])
    return rows[0][0] if rows else None


def _ts(epoch: int | None) -> datetime | None:
    return None if epoch is None else datetime.fromtimestamp(int(epoch), timezone.utc).replace(tzinfo=None)


def receive_stripe(wh: Warehouse, body: bytes, signature: str, secret: str) -> int:
    import stripe

    try:
        event = stripe.Webhook.construct_event(body, signature or "", secret)
    except (stripe.SignatureVerificationError, ValueError) as exc:
        raise SignatureError(f"stripe: {mask(exc)}") from None
    status = STRIPE_EVENTS.get(event["type"])
    if status is None:
        return 0
    obj = event["data"]["object"]
    invoice_id = (obj.get("metadata") or {}).get("tally_invoice_id") or _invoice_for(wh, "stripe", obj.get("id"))
    if not invoice_id:
        log.info("stripe event %s: %s is not a Tally invoice", event["id"], obj.get("id"))
        return 0
    return int(append_payment_event(
        wh, provider="stripe", event_id=event["id"], invoice_id=invoice_id, provider_payment_id=obj.get("id"),
        event_type=event["type"], payment_status=status, payload=json.loads(body), occurred_at=_ts(event.get("created"))))


def receive_gocardless(wh: Warehouse, body: bytes, signature: str, secret: str) -> int:
    from gocardless_pro import webhooks
    from gocardless_pro.errors import InvalidSignatureError

    try:
        events = webhooks.parse(body, secret, signature or "")
    except (InvalidSignatureError, TypeError, ValueError) as exc:
        raise SignatureError(f"gocardless: invalid signature ({type(exc).__name__})") from None
    appended = 0
    for ev in events:
        attrs = ev.attributes
        status = GOCARDLESS_ACTIONS.get(attrs.get("action"))
        payment = (attrs.get("links") or {}).get("payment")
        if attrs.get("resource_type") != "payments" or status is None or not payment:
            continue
        invoice_id = _invoice_for(wh, "gocardless", payment)
        if not invoice_id:
            log.info("gocardless event %s: payment %s is not a Tally payment", attrs.get("id"), payment)
            continue
        created = attrs.get("created_at")
        occurred = datetime.fromisoformat(created.replace("Z", "+00:00")).astimezone(timezone.utc).replace(tzinfo=None) \
            if created else None
        appended += append_payment_event(
            wh, provider="gocardless", event_id=attrs["id"], invoice_id=invoice_id, provider_payment_id=payment,
            event_type=f"payments.{attrs.get('action')}", payment_status=status, payload=attrs, occurred_at=occurred)
    return appended


def receive(wh: Warehouse, provider: str, body: bytes, headers: dict[str, str], secrets: Secrets) -> int:
    """Verify and record one webhook request; returns how many status changes were appended."""
    h = {k.lower(): v for k, v in headers.items()}
    ensure_tables(wh)
    if provider == "stripe":
        return receive_stripe(wh, body, h.get("stripe-signature", ""), secrets.require("TALLY_STRIPE_WEBHOOK_SECRET"))
    if provider == "gocardless":
        return receive_gocardless(wh, body, h.get("webhook-signature", ""),
                                  secrets.require("TALLY_GOCARDLESS_WEBHOOK_SECRET"))
    raise ValueError(f"no webhooks from {provider!r}: stripe or gocardless")


def app(settings: Settings, secrets: Secrets | None = None):
    """A WSGI application: POST /webhooks/stripe and /webhooks/gocardless."""
    secrets = secrets or Secrets()

    def application(environ, start_response):
        path = environ.get("PATH_INFO", "")
        provider = path.rstrip("/").rsplit("/", 1)[-1]
        if environ.get("REQUEST_METHOD") != "POST" or not path.startswith("/webhooks/") \
                or provider not in ("stripe", "gocardless"):
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"not found"]
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        headers = {k[5:].replace("_", "-"): v for k, v in environ.items() if k.startswith("HTTP_")}
        try:
            with Warehouse(settings) as wh:
                n = receive(wh, provider, body, headers, secrets)
        except SignatureError as exc:
            log.warning("rejected webhook: %s", exc)
            start_response("401 Unauthorized", [("Content-Type", "text/plain")])
            return [b"invalid signature"]
        start_response("200 OK", [("Content-Type", "application/json")])
        return [json.dumps({"appended": n}).encode()]

    return application
