"""NetSuite, through its REST web services (SuiteTalk REST, record API) with `httpx`: no
maintained Python client exists, so requests are plain HTTP, signed with token-based
authentication (OAuth 1.0a, HMAC-SHA256).

Customers and invoices are written with NetSuite's upsert by external id
(`PUT /services/rest/record/v1/customer/eid:<id>`), so sending the same row again updates the
record instead of creating a second one; the outbox key also goes in X-NetSuite-Idempotency-Key.

Secrets: TALLY_NETSUITE_ACCOUNT_ID, TALLY_NETSUITE_CONSUMER_KEY, TALLY_NETSUITE_CONSUMER_SECRET,
TALLY_NETSUITE_TOKEN_ID, TALLY_NETSUITE_TOKEN_SECRET; TALLY_NETSUITE_ITEM_ID (the item invoice
lines use); TALLY_NETSUITE_BASE_URL (default https://<account>.suitetalk.api.netsuite.com).
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets as random
import time
from urllib.parse import parse_qsl, quote, urlsplit, urlunsplit

import httpx

from .base import Connector, Customer, Invoice, PermanentError, Result, RetryableError, classify_status, \
    invoice_lines, major_units
from .secrets import mask

RECORDS = "/services/rest/record/v1"


def _enc(s: str) -> str:
    return quote(str(s), safe="~")


def oauth1_header(method: str, url: str, realm: str, consumer_key: str, consumer_secret: str, token: str,
                  token_secret: str, timestamp: str | None = None, nonce: str | None = None) -> str:
    """OAuth 1.0a Authorization header with HMAC-SHA256 (NetSuite token-based authentication)."""
    parts = urlsplit(url)
    params = {"oauth_consumer_key": consumer_key, "oauth_token": token, "oauth_signature_method": "HMAC-SHA256",
              "oauth_timestamp": timestamp or str(int(time.time())), "oauth_nonce": nonce or random.token_hex(16),
              "oauth_version": "1.0"}
    pairs = sorted([(_enc(k), _enc(v)) for k, v in [*params.items(), *parse_qsl(parts.query)]])
    base_url = urlunsplit((parts.scheme.lower(), parts.netloc.lower(), parts.path, "", ""))
    base = "&".join([method.upper(), _enc(base_url), _enc("&".join(f"{k}={v}" for k, v in pairs))])
    key = f"{_enc(consumer_secret)}&{_enc(token_secret)}"
    params["oauth_signature"] = base64.b64encode(hmac.new(key.encode(), base.encode(), hashlib.sha256).digest()).decode()
    return "OAuth " + ", ".join([f'realm="{_enc(realm)}"', *(f'{k}="{_enc(v)}"' for k, v in params.items())])


class NetSuiteConnector(Connector):
    name = "netsuite"
    kind = "accounting"
    actions = ("customer", "invoice")
    required_secrets = ("TALLY_NETSUITE_ACCOUNT_ID", "TALLY_NETSUITE_CONSUMER_KEY", "TALLY_NETSUITE_CONSUMER_SECRET",
                        "TALLY_NETSUITE_TOKEN_ID", "TALLY_NETSUITE_TOKEN_SECRET")

    def __init__(self, secrets, timeout: float = 30.0):
        super().__init__(secrets, timeout)
        self.account = secrets.require("TALLY_NETSUITE_ACCOUNT_ID")
        self.base = (os.environ.get("TALLY_NETSUITE_BASE_URL")
                     or f"https://{self.account.lower().replace('_', '-')}.suitetalk.api.netsuite.com").rstrip("/")
        self.item_id = os.environ.get("TALLY_NETSUITE_ITEM_ID")
        self.http = httpx.Client(timeout=timeout)

    def describe(self) -> str:
        return self.base

    def _request(self, method: str, path: str, body: dict, key: str) -> httpx.Response:
        url = self.base + path
        s = self.secrets
        auth = oauth1_header(method, url, self.account.upper(), s.require("TALLY_NETSUITE_CONSUMER_KEY"),
                             s.require("TALLY_NETSUITE_CONSUMER_SECRET"), s.require("TALLY_NETSUITE_TOKEN_ID"),
                             s.require("TALLY_NETSUITE_TOKEN_SECRET"))
        try:
            resp = self.http.request(method, url, json=body, headers={
                "Authorization": auth, "Content-Type": "application/json", "X-NetSuite-Idempotency-Key": key})
        except httpx.HTTPError as exc:
            raise RetryableError(f"netsuite: {type(exc).__name__}: {mask(exc)}") from None
        if resp.status_code >= 300:
            raise classify_status(resp.status_code, f"netsuite: HTTP {resp.status_code}: {mask(resp.text[:300])}")
        return resp

    @staticmethod
    def _id(resp: httpx.Response, fallback: str) -> str:
        location = resp.headers.get("Location", "")
        return location.rstrip("/").rsplit("/", 1)[-1] if location else fallback

    def sync_customer(self, customer: Customer, key: str, provider_id: str | None) -> Result:
        body = {"companyName": customer.name or customer.external_id, "externalId": customer.external_id}
        if customer.email:
            body["email"] = customer.email
        if customer.settings.get("subsidiary_id"):
            body["subsidiary"] = {"id": str(customer.settings["subsidiary_id"])}
        if provider_id:
            return Result(self._id(self._request("PATCH", f"{RECORDS}/customer/{provider_id}", body, key), provider_id))
        resp = self._request("PUT", f"{RECORDS}/customer/eid:{quote(customer.external_id, safe='')}", body, key)
        return Result(self._id(resp, f"eid:{customer.external_id}"))

    def push_invoice(self, invoice: Invoice, customer_id: str | None, key: str,
                     customer: Customer | None = None) -> Result:
        if not self.item_id:
            raise PermanentError("netsuite: TALLY_NETSUITE_ITEM_ID (the item invoice lines use) is not set")
        body = {
            "entity": {"id": customer_id}, "externalId": invoice.invoice_id, "tranId": invoice.number,
            "tranDate": invoice.issuing_date, "dueDate": invoice.payment_due_date or invoice.issuing_date,
            "memo": f"Tally invoice {invoice.number}", "currency": {"refName": invoice.currency},
            "item": {"items": [{"item": {"id": self.item_id}, "description": d, "quantity": 1,
                                "rate": float(major_units(a, invoice.currency)),
                                "amount": float(major_units(a, invoice.currency))}
                               for d, a, _ in invoice_lines(invoice)]},
        }
        resp = self._request("PUT", f"{RECORDS}/invoice/eid:{invoice.invoice_id}", body, key)
        return Result(self._id(resp, f"eid:{invoice.invoice_id}"))
