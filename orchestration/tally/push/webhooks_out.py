"""Tally's own webhooks, Lago-shaped, sent through the outbox.

Messages: `invoice.created` (a finalized invoice), `fee.created` (each of its fees),
`invoice.payment_status_updated` (each status the payment log reports for an invoice),
`subscription.terminated`. Each (message, endpoint) is one outbox row (system `webhook`,
target = the endpoint); the body is fixed when the row is enqueued, so every retry sends the
same bytes. Endpoints: `$TALLY_WEBHOOK_URLS` (comma-separated) and the organization's
`webhook_urls`.

Each request is signed with HMAC-SHA256 over the exact body with `TALLY_WEBHOOK_SECRET`:
`X-Tally-Signature: base64(hmac_sha256(secret, body))`, `X-Tally-Signature-Algorithm: hmac`
(Lago's scheme), and carries `X-Tally-Unique-Key` (the outbox row's idempotency key) for the
receiver to drop a repeated delivery. Timeouts, 429 and 5xx are retried; other 4xx fail the row.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json

import httpx

from ..warehouse import Warehouse
from . import source
from .base import Invoice, Result, RetryableError, classify_status
from .secrets import mask

SIGNATURE_HEADER = "X-Tally-Signature"
ALGORITHM_HEADER = "X-Tally-Signature-Algorithm"
UNIQUE_KEY_HEADER = "X-Tally-Unique-Key"
TYPE_HEADER = "X-Tally-Webhook-Type"


def sign(body: bytes, secret: str) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def verify(body: bytes, signature: str, secret: str) -> bool:
    """For receivers: is `signature` Tally's signature of `body`?"""
    return hmac.compare_digest(sign(body, secret), signature or "")


def _body(webhook_type: str, object_type: str, obj: dict) -> str:
    return json.dumps({"webhook_type": webhook_type, "object_type": object_type, object_type: obj},
                      sort_keys=True, separators=(",", ":"))


def messages(wh: Warehouse, invoices: list[Invoice], voided: dict[str, str] | None = None):
    """(object_type, object_id, webhook_type, external_customer_id, body) for every message due;
    `voided` is {invoice_id: voided_at} (source.voided_invoices)."""
    by_id = {i.invoice_id: i for i in invoices}
    for inv in invoices:
        yield "invoice", inv.invoice_id, "invoice.created", inv.external_customer_id, \
            _body("invoice.created", "invoice", inv.document)
        if inv.invoice_id in (voided or {}):
            doc = {**inv.document, "status": "voided", "voided_at": voided[inv.invoice_id]}
            yield "invoice", inv.invoice_id, "invoice.voided", inv.external_customer_id, \
                _body("invoice.voided", "invoice", doc)
        for fee in inv.fees:
            doc = {**fee, "lago_invoice_id": inv.invoice_id, "external_customer_id": inv.external_customer_id,
                   "currency": inv.currency}
            yield "fee", fee["fee_id"], "fee.created", inv.external_customer_id, _body("fee.created", "fee", doc)
    for ps in source.payment_statuses(wh):
        inv = by_id.get(ps["invoice_id"])
        if inv is None:
            continue  # statuses of invoices this warehouse does not know (yet) wait
        doc = {**inv.document, "payment_status": ps["payment_status"]}
        yield "invoice", inv.invoice_id, f"invoice.payment_status_updated:{ps['payment_status']}", \
            inv.external_customer_id, _body("invoice.payment_status_updated", "invoice", doc)
    for sub in source.terminated_subscriptions(wh):
        yield "subscription", sub["external_id"], "subscription.terminated", None, \
            _body("subscription.terminated", "subscription", sub)


class WebhookSender:
    name = "webhook"

    def __init__(self, secret: str, timeout: float = 30.0):
        self._secret = secret
        self._client = httpx.Client(timeout=timeout, follow_redirects=False)

    def send(self, url: str, body: str, key: str, action: str) -> Result:
        data = body.encode()
        headers = {"Content-Type": "application/json", SIGNATURE_HEADER: sign(data, self._secret),
                   ALGORITHM_HEADER: "hmac", UNIQUE_KEY_HEADER: key, TYPE_HEADER: action.split(":")[0],
                   "User-Agent": "tally-webhooks"}
        try:
            resp = self._client.post(url, content=data, headers=headers)
        except httpx.HTTPError as exc:
            raise RetryableError(f"webhook {mask(url)}: {type(exc).__name__}: {mask(exc)}") from None
        if resp.status_code >= 300:
            raise classify_status(resp.status_code, f"webhook {mask(url)}: HTTP {resp.status_code}: "
                                                    f"{mask(resp.text[:200])}")
        return Result(provider_id=f"{resp.status_code}")

    def describe(self) -> str:
        return "webhook endpoints"
