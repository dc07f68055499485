"""Xero, through the official `xero-python` SDK (Accounting API): contacts and sales invoices
(ACCREC, authorised), one line per fee, taxes and credits; a voided invoice is set VOIDED.

Secrets: TALLY_XERO_ACCESS_TOKEN (an OAuth2 access token, e.g. of a custom connection),
TALLY_XERO_TENANT_ID; TALLY_XERO_ACCOUNT_CODE (revenue account, default 200);
TALLY_XERO_BASE_URL points the SDK elsewhere (tests). Creations carry Xero's Idempotency-Key
header derived from the outbox row.
"""
from __future__ import annotations

import os
import time
from datetime import date

from xero_python.accounting import AccountingApi, Contact, Contacts, CurrencyCode, Invoices, LineAmountTypes, LineItem
from xero_python.accounting import Invoice as XeroInvoice
from xero_python.api_client import ApiClient, Configuration
from xero_python.api_client.oauth2 import OAuth2Token

from .base import Connector, Customer, Invoice, PermanentError, Result, classify_status, invoice_lines, \
    major_units, network_error
from .secrets import mask


class XeroConnector(Connector):
    name = "xero"
    kind = "accounting"
    actions = ("customer", "invoice")
    required_secrets = ("TALLY_XERO_ACCESS_TOKEN",)
    voids = True

    def __init__(self, secrets, timeout: float = 30.0):
        super().__init__(secrets, timeout)
        token = {"access_token": secrets.require("TALLY_XERO_ACCESS_TOKEN"), "token_type": "Bearer",
                 "expires_in": 1800, "expires_at": time.time() + 1800, "scope": ["accounting.transactions"]}
        self.api_client = ApiClient(Configuration(oauth2_token=OAuth2Token()), pool_threads=1,
                                    oauth2_token_getter=lambda: token, oauth2_token_saver=lambda t: None)
        # no retries below the outbox's (and none of a POST that may have reached Xero)
        self.api_client.rest_client.pool_manager.connection_pool_kw["retries"] = False
        self.api = AccountingApi(self.api_client, base_url=os.environ.get("TALLY_XERO_BASE_URL"))
        self.tenant = secrets.get("TALLY_XERO_TENANT_ID") or os.environ.get("TALLY_XERO_TENANT_ID")
        self.account_code = os.environ.get("TALLY_XERO_ACCOUNT_CODE", "200")

    def describe(self) -> str:
        return self.api.base_url

    def _do(self, fn, *args, **kwargs):
        if not self.tenant:
            raise PermanentError("xero: TALLY_XERO_TENANT_ID is not set")
        try:
            return fn(self.tenant, *args, _request_timeout=(self.timeout, self.timeout), **kwargs)
        except Exception as exc:  # noqa: BLE001 - the SDK's ApiException (with .status) or urllib3's errors
            status = getattr(exc, "status", None)
            if status is None:
                raise network_error("xero", exc) from None
            reason = getattr(exc, "reason", "") or ""
            raise classify_status(int(status), f"xero: HTTP {status}: {mask(reason)} {mask(getattr(exc, 'body', '') or '')[:300]}") from None

    def sync_customer(self, customer: Customer, key: str, provider_id: str | None) -> Result:
        contact = Contact(name=customer.name or customer.external_id, email_address=customer.email,
                          account_number=customer.external_id)
        if provider_id:
            contact.contact_id = provider_id
            out = self._do(self.api.update_contact, provider_id, Contacts(contacts=[contact]), idempotency_key=key)
        else:
            out = self._do(self.api.create_contacts, Contacts(contacts=[contact]), idempotency_key=key)
        return Result(str(out.contacts[0].contact_id))

    def push_invoice(self, invoice: Invoice, customer_id: str | None, key: str,
                     customer: Customer | None = None) -> Result:
        lines = [LineItem(description=d, quantity=1.0, unit_amount=float(major_units(a, invoice.currency)),
                          account_code=self.account_code) for d, a, _ in invoice_lines(invoice)]
        xi = XeroInvoice(type="ACCREC", contact=Contact(contact_id=customer_id), line_items=lines,
                         date=date.fromisoformat(invoice.issuing_date),
                         due_date=date.fromisoformat(invoice.payment_due_date or invoice.issuing_date),
                         invoice_number=invoice.number, reference=invoice.invoice_id,
                         currency_code=CurrencyCode[invoice.currency], status="AUTHORISED",
                         line_amount_types=LineAmountTypes.NOTAX)
        out = self._do(self.api.create_invoices, Invoices(invoices=[xi]), idempotency_key=key)
        return Result(str(out.invoices[0].invoice_id))

    def void_invoice(self, invoice: Invoice, invoice_ref: str, key: str) -> Result:
        xi = XeroInvoice(invoice_id=invoice_ref, status="VOIDED")
        out = self._do(self.api.update_invoice, invoice_ref, Invoices(invoices=[xi]), idempotency_key=key)
        return Result(str(out.invoices[0].invoice_id), detail={"status": str(out.invoices[0].status)})
