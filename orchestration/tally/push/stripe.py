"""Stripe, through the official `stripe` SDK: customers, invoices (items, finalization),
payment (paying the invoice), the invoice's payment status, and voids (Stripe's void of an open
invoice, once Tally voided it).

Secrets: TALLY_STRIPE_API_KEY. TALLY_STRIPE_API_BASE points the SDK elsewhere (tests).
Every request carries an Idempotency-Key derived from the outbox row (invoice items and the
finalization: the row's key and a suffix); the SDK's own retries are off: the outbox retries.
"""
from __future__ import annotations

import os

import stripe

from .base import Connector, Customer, Invoice, PermanentError, Result, classify_status, invoice_lines
from .secrets import mask

PAID = {"paid": "succeeded", "uncollectible": "failed", "void": "failed"}


def _error(exc: Exception):
    if isinstance(exc, stripe.APIConnectionError):
        from .base import RetryableError

        return RetryableError(f"stripe: connection error: {mask(exc.user_message or exc)}")
    status = getattr(exc, "http_status", None)
    return classify_status(status, f"stripe: HTTP {status}: {mask(getattr(exc, 'user_message', None) or exc)}")


class StripeConnector(Connector):
    name = "stripe"
    kind = "payment"
    actions = ("customer", "invoice", "payment")
    required_secrets = ("TALLY_STRIPE_API_KEY",)
    voids = True

    def __init__(self, secrets, timeout: float = 30.0):
        super().__init__(secrets, timeout)
        self.client = stripe.StripeClient(
            secrets.require("TALLY_STRIPE_API_KEY"),
            base_addresses={"api": os.environ["TALLY_STRIPE_API_BASE"]} if os.environ.get("TALLY_STRIPE_API_BASE") else None,
            max_network_retries=0,
            http_client=stripe.RequestsClient(timeout=timeout),
        )

    def describe(self) -> str:
        return os.environ.get("TALLY_STRIPE_API_BASE") or "https://api.stripe.com"

    def _do(self, fn, *args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except stripe.StripeError as exc:
            raise _error(exc) from None

    def sync_customer(self, customer: Customer, key: str, provider_id: str | None) -> Result:
        params = {"name": customer.name or customer.external_id, "metadata": {"tally_external_customer_id": customer.external_id}}
        if customer.email:
            params["email"] = customer.email
        if customer.address:
            params["address"] = {"line1": customer.address.get("address_line1"), "city": customer.address.get("city"),
                                 "postal_code": customer.address.get("zipcode"),
                                 "country": customer.address.get("country")}
            params["address"] = {k: v for k, v in params["address"].items() if v}
        if provider_id:
            c = self._do(self.client.v1.customers.update, provider_id, params, {"idempotency_key": key})
        else:
            c = self._do(self.client.v1.customers.create, params, {"idempotency_key": key})
        return Result(c.id)

    def push_invoice(self, invoice: Invoice, customer_id: str | None, key: str,
                     customer: Customer | None = None) -> Result:
        currency = invoice.currency.lower()
        inv = self._do(self.client.v1.invoices.create, {
            "customer": customer_id, "currency": currency, "collection_method": "charge_automatically",
            "auto_advance": False, "pending_invoice_items_behavior": "exclude",
            "description": f"Tally invoice {invoice.number}",
            "metadata": {"tally_invoice_id": invoice.invoice_id, "tally_number": invoice.number},
        }, {"idempotency_key": key})
        for n, (description, amount, fee) in enumerate(invoice_lines(invoice)):
            meta = {"tally_invoice_id": invoice.invoice_id}
            if fee:
                meta["tally_fee_id"] = fee["fee_id"]
            self._do(self.client.v1.invoice_items.create, {
                "customer": customer_id, "invoice": inv.id, "amount": amount, "currency": currency,
                "description": description, "metadata": meta,
            }, {"idempotency_key": f"{key}-item-{n}"})
        fin = self._do(self.client.v1.invoices.finalize_invoice, inv.id, {"auto_advance": False},
                       {"idempotency_key": f"{key}-finalize"})
        return Result(fin.id, detail={"status": fin.status})

    def collect_payment(self, invoice: Invoice, customer_id: str | None, invoice_ref: str | None, key: str) -> Result:
        if not invoice_ref:
            raise PermanentError("stripe: the invoice has no Stripe id")
        try:
            paid = self.client.v1.invoices.pay(invoice_ref, None, {"idempotency_key": key})
        except stripe.CardError as exc:  # declined: a payment status, not a push failure
            return Result(invoice_ref, "failed", {"decline_code": getattr(exc, "code", None)})
        except stripe.StripeError as exc:
            raise _error(exc) from None
        return Result(paid.id, PAID.get(paid.status, "pending"), {"status": paid.status})

    def void_invoice(self, invoice: Invoice, invoice_ref: str, key: str) -> Result:
        inv = self._do(self.client.v1.invoices.void_invoice, invoice_ref, None, {"idempotency_key": key})
        return Result(inv.id, detail={"status": inv.status})

    def payment_status(self, provider_id: str) -> str | None:
        inv = self._do(self.client.v1.invoices.retrieve, provider_id)
        return PAID.get(inv.status, "pending")
