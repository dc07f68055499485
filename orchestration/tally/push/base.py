"""The push interface: one small contract every system implements.

A connector knows how to create or update a customer, push an invoice, collect its payment and
read a payment's status back, in one system, through that system's official SDK (NetSuite:
httpx). Every call gets the outbox row's idempotency key; a connector sends it the way its
system understands (Stripe, GoCardless, Adyen and Xero: an Idempotency-Key header; NetSuite:
an upsert on an external id derived from it; HubSpot: a batch upsert on a unique property), so
sending the same row twice never creates a second object.

Errors are sorted into two kinds: `RetryableError` (timeouts, connection errors, HTTP 429 and
5xx: the outbox retries with exponential backoff) and `PermanentError` (other 4xx, a missing
mandate, a bad configuration: recorded on the row and reported, never retried).
"""
from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

from .secrets import mask

PAYMENT_STATUSES = ("pending", "succeeded", "failed")


class PushError(Exception):
    """An error from a system, its message already masked."""

    def __init__(self, message: str, status: int | None = None):
        self.status = status
        super().__init__(mask(message))


class RetryableError(PushError):
    """Timeout, connection error, HTTP 429 or 5xx: try again later."""


class PermanentError(PushError):
    """A 4xx or a configuration problem: retrying the same request cannot succeed."""


class WaitingError(Exception):
    """A prerequisite (the customer, the invoice in the same system) is not pushed yet."""


def classify_status(status: int | None, message: str) -> PushError:
    if status is None or status == 429 or status >= 500 or status == 408:
        return RetryableError(message, status)
    return PermanentError(message, status)


def network_error(system: str, exc: Exception) -> PushError:
    """An exception that is not an HTTP answer: a timeout or connection error is retried; anything
    else (the SDK refusing what it was given) cannot succeed by retrying."""
    import urllib3

    try:
        import requests
        transport: tuple = (OSError, urllib3.exceptions.HTTPError, requests.RequestException)
    except ImportError:  # pragma: no cover
        transport = (OSError, urllib3.exceptions.HTTPError)
    import httpx

    transport += (httpx.TransportError,)
    message = f"{system}: {type(exc).__name__}: {exc}"
    return RetryableError(message) if isinstance(exc, transport) else PermanentError(message)


def idempotency_key(object_type: str, object_id: str, system: str, action: str, target: str = "") -> str:
    """The key every request of one outbox row carries: derived from what is pushed and how,
    never random, so a retry or a restart after a crash sends the same key."""
    digest = hashlib.sha256("\x1f".join((object_type, object_id, system, action, target)).encode()).hexdigest()
    return f"tally-{digest[:40]}"


@dataclass
class Customer:
    """A customer as its Lago payload describes it, and how it syncs to one system."""
    external_id: str
    name: str | None = None
    email: str | None = None
    currency: str | None = None
    address: dict[str, Any] = field(default_factory=dict)
    payload: dict[str, Any] = field(default_factory=dict)
    # the system's own id for this customer when the payload gives it
    # (billing_configuration.provider_customer_id, integration_customers[].external_customer_id)
    provider_customer_id: str | None = None
    sync_with_provider: bool = False
    settings: dict[str, Any] = field(default_factory=dict)  # the integration entry / billing configuration


@dataclass
class Invoice:
    """A finalized invoice (fct_finalized_invoices and its frozen fees), Lago-shaped."""
    invoice_id: str
    number: str
    external_customer_id: str
    currency: str
    invoice_type: str
    issuing_date: str
    payment_due_date: str | None
    fees_amount_cents: int
    taxes_amount_cents: int
    total_amount_cents: int
    fees: list[dict[str, Any]] = field(default_factory=list)
    document: dict[str, Any] = field(default_factory=dict)  # the whole Lago-shaped invoice
    finalized_at: Any = None  # when it was finalized (naive UTC datetime)


@dataclass
class Result:
    """What a system answered: its id for the object, and a payment status when known."""
    provider_id: str
    payment_status: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)


class Connector(ABC):
    """One system. `actions` are done in order for each invoice; `customer` first when listed."""

    name: str = ""
    kind: str = ""  # payment | accounting | crm
    actions: tuple[str, ...] = ()
    # the secrets that must be set for the system to be used
    required_secrets: tuple[str, ...] = ()
    # whether a voided invoice is voided in the system too (after its invoice row is done)
    voids: bool = False

    def __init__(self, secrets, timeout: float = 30.0):
        self.secrets = secrets
        self.timeout = timeout

    # -- the interface ------------------------------------------------------------
    def sync_customer(self, customer: Customer, key: str, provider_id: str | None) -> Result:
        """Create the customer (or update it when `provider_id` is known); returns its id."""
        raise PermanentError(f"{self.name} has no customer objects")

    def push_invoice(self, invoice: Invoice, customer_id: str | None, key: str,
                     customer: Customer | None = None) -> Result:
        raise PermanentError(f"{self.name} does not take invoices")

    def collect_payment(self, invoice: Invoice, customer_id: str | None, invoice_ref: str | None,
                        key: str) -> Result:
        raise PermanentError(f"{self.name} does not collect payments")

    def void_invoice(self, invoice: Invoice, invoice_ref: str, key: str) -> Result:
        """Void, in the system, the invoice pushed there as `invoice_ref` (Tally voided it)."""
        raise PermanentError(f"{self.name} does not void invoices")

    def payment_status(self, provider_id: str) -> str | None:
        """The payment's status now (pending | succeeded | failed), None when unknown."""
        return None

    # -- helpers ------------------------------------------------------------------
    @abstractmethod
    def describe(self) -> str:
        """Where requests go (never a secret)."""


def major_units(cents: int, currency: str) -> str:
    """Cents as a decimal amount text in the currency's major unit (JPY 500 -> '500')."""
    from decimal import Decimal

    from ..catalog import currencies

    digits = currencies().get(currency, 2)
    return str((Decimal(int(cents)) / (Decimal(10) ** digits)).quantize(Decimal(1).scaleb(-digits)))


def invoice_lines(invoice: Invoice) -> list[tuple[str, int, dict | None]]:
    """(description, amount in cents, fee) lines that add up to the invoice's total: one per fee
    with an amount, then taxes, then coupons and credits (negative), as the systems expect lines."""
    lines: list[tuple[str, int, dict | None]] = []
    for fee in invoice.fees:
        if int(fee["amount_cents"]) == 0:
            continue
        what = fee["metric_code"] or ("Subscription" if fee["type"] == "subscription" else fee["type"])
        period = f" {fee['from_datetime'][:10]}..{fee['to_datetime'][:10]}" if fee.get("from_datetime") else ""
        lines.append((f"{what}{period}", int(fee["amount_cents"]), fee))
    if invoice.taxes_amount_cents:
        lines.append(("Taxes", invoice.taxes_amount_cents, None))
    rest = invoice.total_amount_cents - sum(a for _, a, _ in lines)
    if rest:
        lines.append(("Coupons and credits", rest, None))
    return lines
