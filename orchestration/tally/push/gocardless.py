"""GoCardless, through the official `gocardless-pro` SDK: customers, mandates (the customer's
active one is looked up), payments, and a payment's status.

Secrets: TALLY_GOCARDLESS_ACCESS_TOKEN; TALLY_GOCARDLESS_ENVIRONMENT (sandbox | live, default
live) or TALLY_GOCARDLESS_BASE_URL (tests). Creations carry an Idempotency-Key derived from the
outbox row; GoCardless answers a repeated key with 409 idempotent_creation_conflict and the SDK
then returns the resource the first request created. The SDK's own retries are off.
"""
from __future__ import annotations

import os

import gocardless_pro
import requests
from gocardless_pro import errors, services

from .base import Connector, Customer, Invoice, PermanentError, Result, RetryableError, classify_status
from .secrets import mask

USABLE_MANDATES = ("active", "pending_submission", "submitted", "pending_customer_approval")
STATUSES = {"confirmed": "succeeded", "paid_out": "succeeded", "failed": "failed", "cancelled": "failed",
            "customer_approval_denied": "failed", "charged_back": "failed"}


def _error(exc: Exception):
    if isinstance(exc, (requests.Timeout, requests.ConnectionError)):
        return RetryableError(f"gocardless: {type(exc).__name__}: {mask(exc)}")
    if isinstance(exc, errors.MalformedResponseError):
        return RetryableError(f"gocardless: malformed response: {mask(exc)}")
    if isinstance(exc, errors.ApiError):
        status = exc.error.get("code") if isinstance(exc.error, dict) else None
        if isinstance(exc, (errors.RateLimitError, errors.GoCardlessInternalError)):
            return RetryableError(f"gocardless: HTTP {status}: {mask(exc.message)}", status)
        return classify_status(int(status) if status else 400, f"gocardless: HTTP {status}: {mask(exc)}")
    return RetryableError(f"gocardless: {type(exc).__name__}: {mask(exc)}")


class GoCardlessConnector(Connector):
    name = "gocardless"
    kind = "payment"
    actions = ("customer", "payment")
    required_secrets = ("TALLY_GOCARDLESS_ACCESS_TOKEN",)

    def __init__(self, secrets, timeout: float = 30.0):
        super().__init__(secrets, timeout)
        base = os.environ.get("TALLY_GOCARDLESS_BASE_URL")
        client = gocardless_pro.Client(
            access_token=secrets.require("TALLY_GOCARDLESS_ACCESS_TOKEN"), base_url=base,
            environment=None if base else os.environ.get("TALLY_GOCARDLESS_ENVIRONMENT", "live"), timeout=timeout)
        api = client._api_client  # the SDK's services, built with one attempt each (the outbox retries)
        self.customers = services.CustomersService(api, 1, 0, False)
        self.mandates = services.MandatesService(api, 1, 0, False)
        self.payments = services.PaymentsService(api, 1, 0, False)

    def describe(self) -> str:
        return os.environ.get("TALLY_GOCARDLESS_BASE_URL") or "https://api.gocardless.com"

    def _do(self, fn, *args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except (errors.GoCardlessProError, requests.RequestException) as exc:
            raise _error(exc) from None

    def sync_customer(self, customer: Customer, key: str, provider_id: str | None) -> Result:
        params = {"company_name": customer.name or customer.external_id,
                  "metadata": {"tally_external_customer_id": customer.external_id}}
        if customer.email:
            params["email"] = customer.email
        for ours, theirs in (("address_line1", "address_line1"), ("city", "city"), ("zipcode", "postal_code"),
                             ("country", "country_code")):
            if customer.address.get(ours):
                params[theirs] = customer.address[ours]
        if provider_id:
            c = self._do(self.customers.update, provider_id, params=params, headers={"Idempotency-Key": key})
        else:
            c = self._do(self.customers.create, params=params, headers={"Idempotency-Key": key})
        return Result(c.id)

    def collect_payment(self, invoice: Invoice, customer_id: str | None, invoice_ref: str | None, key: str) -> Result:
        mandates = self._do(self.mandates.list, params={"customer": customer_id})
        usable = [m for m in mandates.records if m.status in USABLE_MANDATES]
        if not usable:
            raise PermanentError(f"gocardless: customer {customer_id} has no active mandate")
        payment = self._do(self.payments.create, params={
            "amount": invoice.total_amount_cents, "currency": invoice.currency,
            "description": f"Invoice {invoice.number}", "links": {"mandate": usable[0].id},
            "metadata": {"tally_invoice_id": invoice.invoice_id, "tally_number": invoice.number},
        }, headers={"Idempotency-Key": key})
        return Result(payment.id, STATUSES.get(payment.status, "pending"), {"status": payment.status})

    def payment_status(self, provider_id: str) -> str | None:
        return STATUSES.get(self._do(self.payments.get, provider_id).status, "pending")
