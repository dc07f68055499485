"""Adyen, through the official `Adyen` SDK (Checkout API): the shopper's stored payment
method (`/paymentMethods`), then a card-on-file payment (`/payments`).

Secrets: TALLY_ADYEN_API_KEY, TALLY_ADYEN_MERCHANT_ACCOUNT; TALLY_ADYEN_ENVIRONMENT (test |
live, default live) with TALLY_ADYEN_LIVE_PREFIX, or TALLY_ADYEN_CHECKOUT_URL (tests). The
shopper is billing_configuration.provider_customer_id (else the customer's external id).
Payments carry Adyen's Idempotency-Key header derived from the outbox row.
"""
from __future__ import annotations

import os

import Adyen
from Adyen.exceptions import AdyenError

from .base import Connector, Invoice, PermanentError, Result, classify_status, network_error
from .secrets import mask

SUCCEEDED = {"Authorised", "Received", "SentForSettle", "SettleScheduled", "Settled"}
FAILED = {"Cancelled", "CaptureFailed", "Error", "Expired", "Refused"}


def status_of(result_code: str | None) -> str:
    return "succeeded" if result_code in SUCCEEDED else "failed" if result_code in FAILED else "pending"


class AdyenConnector(Connector):
    name = "adyen"
    kind = "payment"
    actions = ("payment",)
    required_secrets = ("TALLY_ADYEN_API_KEY",)

    def __init__(self, secrets, timeout: float = 30.0):
        super().__init__(secrets, timeout)
        url = os.environ.get("TALLY_ADYEN_CHECKOUT_URL")
        environment = "test" if url else os.environ.get("TALLY_ADYEN_ENVIRONMENT", "live")
        self.adyen = Adyen.Adyen(xapikey=secrets.require("TALLY_ADYEN_API_KEY"), platform=environment,
                                 live_endpoint_prefix=os.environ.get("TALLY_ADYEN_LIVE_PREFIX"))
        self.adyen.client.http_timeout = timeout
        self.adyen.client.http_force = "requests"
        self.checkout = self.adyen.checkout.payments_api
        if url:
            self.checkout.baseUrl = url.rstrip("/")
        self.merchant = secrets.get("TALLY_ADYEN_MERCHANT_ACCOUNT") or os.environ.get("TALLY_ADYEN_MERCHANT_ACCOUNT")

    def describe(self) -> str:
        return self.checkout.baseUrl

    def _do(self, fn, *args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except AdyenError as exc:
            status = getattr(exc, "status_code", None)
            return_msg = getattr(exc, "message", None) or exc
            raise classify_status(status, f"adyen: HTTP {status}: {mask(return_msg)}") from None
        except Exception as exc:  # noqa: BLE001 - timeouts and connection errors of the HTTP client
            raise network_error("adyen", exc) from None

    def collect_payment(self, invoice: Invoice, customer_id: str | None, invoice_ref: str | None, key: str) -> Result:
        if not self.merchant:
            raise PermanentError("adyen: TALLY_ADYEN_MERCHANT_ACCOUNT is not set")
        shopper = customer_id or invoice.external_customer_id
        methods = self._do(self.checkout.payment_methods,
                           {"merchantAccount": self.merchant, "shopperReference": shopper})
        stored = (methods.message or {}).get("storedPaymentMethods") or []
        if not stored:
            raise PermanentError(f"adyen: shopper {shopper} has no stored payment method")
        result = self._do(self.checkout.payments, {
            "merchantAccount": self.merchant,
            "amount": {"value": invoice.total_amount_cents, "currency": invoice.currency},
            "reference": invoice.number,
            "shopperReference": shopper,
            "paymentMethod": {"type": "scheme", "storedPaymentMethodId": stored[0]["id"]},
            "shopperInteraction": "ContAuth",
            "recurringProcessingModel": "UnscheduledCardOnFile",
            "metadata": {"tally_invoice_id": invoice.invoice_id},
        }, idempotency_key=key)
        message = result.message or {}
        return Result(message.get("pspReference") or result.psp, status_of(message.get("resultCode")),
                      {"resultCode": message.get("resultCode")})
