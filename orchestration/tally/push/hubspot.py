"""HubSpot, through the official `hubspot-api-client` SDK: the customer as a company (or a
contact, `targeted_object: contacts`), and each invoice as a record of a custom object
associated with it, as Lago syncs invoices to HubSpot; a voided invoice's record is updated with
`tally_status: voided` and `tally_voided_at` (Lago updates the HubSpot invoice on a void).

Both are written with batch upsert on a unique property (`tally_external_customer_id`,
`tally_invoice_id`; create them as unique properties in HubSpot), so sending the same row
again updates the record instead of creating a second one: HubSpot takes no idempotency keys.

Secrets: TALLY_HUBSPOT_ACCESS_TOKEN (private app); TALLY_HUBSPOT_INVOICE_OBJECT (the custom
object type, default p_tally_invoices); TALLY_HUBSPOT_BASE_URL (tests).
"""
from __future__ import annotations

import os

from hubspot import HubSpot
from urllib3.util.retry import Retry

from .base import Connector, Customer, Invoice, Result, classify_status, major_units, network_error
from .secrets import mask

CUSTOMER_ID_PROPERTY = "tally_external_customer_id"
INVOICE_ID_PROPERTY = "tally_invoice_id"


class HubSpotConnector(Connector):
    name = "hubspot"
    kind = "crm"
    actions = ("customer", "invoice")
    required_secrets = ("TALLY_HUBSPOT_ACCESS_TOKEN",)
    voids = True

    def __init__(self, secrets, timeout: float = 30.0):
        super().__init__(secrets, timeout)
        kwargs = {}
        if os.environ.get("TALLY_HUBSPOT_BASE_URL"):
            kwargs["host"] = os.environ["TALLY_HUBSPOT_BASE_URL"].rstrip("/")
        self.client = HubSpot(access_token=secrets.require("TALLY_HUBSPOT_ACCESS_TOKEN"),
                              retry=Retry(total=0, raise_on_status=False), **kwargs)
        self.invoice_object = os.environ.get("TALLY_HUBSPOT_INVOICE_OBJECT", "p_tally_invoices")
        self._object_types: dict[str, str] = {}

    def describe(self) -> str:
        return os.environ.get("TALLY_HUBSPOT_BASE_URL") or "https://api.hubapi.com"

    def _do(self, fn, *args, **kwargs):
        try:
            return fn(*args, _request_timeout=(self.timeout, self.timeout), **kwargs)
        except Exception as exc:  # noqa: BLE001 - the SDK's ApiException (with .status) or urllib3's errors
            status = getattr(exc, "status", None)
            if status is None:
                raise network_error("hubspot", exc) from None
            raise classify_status(int(status), f"hubspot: HTTP {status}: {mask(getattr(exc, 'body', '') or '')[:300]}") from None

    def sync_customer(self, customer: Customer, key: str, provider_id: str | None) -> Result:
        contacts = (customer.settings.get("targeted_object") or "companies") == "contacts"
        props = {CUSTOMER_ID_PROPERTY: customer.external_id}
        if contacts:
            props.update(firstname=customer.name or customer.external_id)
            if customer.email:
                props["email"] = customer.email
            from hubspot.crm.contacts import BatchInputSimplePublicObjectBatchInputUpsert as Batch
            from hubspot.crm.contacts import SimplePublicObjectBatchInputUpsert as Upsert
            api = self.client.crm.contacts.batch_api
        else:
            props.update(name=customer.name or customer.external_id)
            if customer.email:
                props["domain"] = customer.email.split("@")[-1]
            from hubspot.crm.companies import BatchInputSimplePublicObjectBatchInputUpsert as Batch
            from hubspot.crm.companies import SimplePublicObjectBatchInputUpsert as Upsert
            api = self.client.crm.companies.batch_api
        out = self._do(api.upsert, Batch(inputs=[Upsert(id_property=CUSTOMER_ID_PROPERTY, id=customer.external_id,
                                                         properties=props)]))
        return Result(str(out.results[0].id), detail={"object_type": "contacts" if contacts else "companies"})

    def push_invoice(self, invoice: Invoice, customer_id: str | None, key: str,
                     customer: Customer | None = None) -> Result:
        from hubspot.crm.objects import BatchInputSimplePublicObjectBatchInputUpsert as Batch
        from hubspot.crm.objects import SimplePublicObjectBatchInputUpsert as Upsert

        props = {INVOICE_ID_PROPERTY: invoice.invoice_id, "tally_number": invoice.number,
                 "tally_issuing_date": invoice.issuing_date, "tally_currency": invoice.currency,
                 "tally_total_amount": major_units(invoice.total_amount_cents, invoice.currency),
                 "tally_invoice_type": invoice.invoice_type,
                 "tally_payment_due_date": invoice.payment_due_date or ""}
        out = self._do(self.client.crm.objects.batch_api.upsert, self.invoice_object,
                       Batch(inputs=[Upsert(id_property=INVOICE_ID_PROPERTY, id=invoice.invoice_id, properties=props)]))
        record_id = str(out.results[0].id)
        if customer_id:
            # a PUT of the default association: sending it twice leaves one association
            to_type = "contacts" if customer and customer.settings.get("targeted_object") == "contacts" else "companies"
            self._do(self.client.crm.associations.v4.basic_api.create_default, self.invoice_object, record_id,
                     to_type, customer_id)
        return Result(record_id)

    def void_invoice(self, invoice: Invoice, invoice_ref: str, key: str) -> Result:
        from hubspot.crm.objects import BatchInputSimplePublicObjectBatchInputUpsert as Batch
        from hubspot.crm.objects import SimplePublicObjectBatchInputUpsert as Upsert

        props = {INVOICE_ID_PROPERTY: invoice.invoice_id, "tally_status": "voided",
                 "tally_voided_at": invoice.document.get("voided_at") or ""}
        out = self._do(self.client.crm.objects.batch_api.upsert, self.invoice_object,
                       Batch(inputs=[Upsert(id_property=INVOICE_ID_PROPERTY, id=invoice.invoice_id, properties=props)]))
        return Result(str(out.results[0].id))
