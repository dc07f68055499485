"""Each system's official SDK against a local fake server on 127.0.0.1: the requests it
receives (paths, bodies, idempotency keys), and a second run that sends nothing new."""
from __future__ import annotations

import json

import pytest

from tally.push import run_push
from tally.warehouse import Warehouse

from .conftest import FINALIZED

# The SDK requests do not depend on the warehouse: Stripe and the webhooks run on both, the
# other systems on DuckDB (the fault-injection test pushes to every system on both).
DUCKDB_ONLY = pytest.mark.parametrize("target", ["duckdb"])


def _outbox(settings, system=None) -> list[dict]:
    with Warehouse(settings) as wh:
        where, params = ("where system = ?", [system]) if system else ("", [])
        return wh.records(f'select * from "{wh.raw}".push_outbox {where} order by object_id, action', params)


def _invoices(settings) -> dict[str, dict]:
    with Warehouse(settings) as wh:
        rows = wh.records(f'select * from "{settings.schema}".fct_finalized_invoices')
    return {r["invoice_id"]: r for r in rows}


def _push(settings, system=None, **kw):
    result = run_push(settings, system, sleep=lambda s: None, **kw)
    assert not result.report.failed and not result.report.pending, result.lines()
    return result


def test_stripe(billed, systems):
    settings = billed
    _push(settings, "stripe")
    fake = systems.stripe
    invoices = {i: r for i, r in _invoices(settings).items() if r["external_customer_id"] == "acme"}
    assert len(invoices) == 2
    [customer_call] = fake.calls("POST", "/v1/customers")
    assert customer_call.form["name"] == "Acme Inc" and customer_call.form["email"] == "billing@acme.test"
    assert customer_call.form["metadata[tally_external_customer_id]"] == "acme"
    assert customer_call.form["address[city]"] == "Springfield"
    assert customer_call.headers["Idempotency-Key"].startswith("tally-")
    assert customer_call.headers["Authorization"] == "Bearer " + systems.secrets["TALLY_STRIPE_API_KEY"]
    creates = fake.calls("POST", "/v1/invoices")
    assert sorted(c.form["metadata[tally_invoice_id]"] for c in creates) == sorted(invoices)
    assert {c.form["customer"] for c in creates} == set(fake.objects["customers"])
    assert all(c.form["currency"] == "usd" and c.form["auto_advance"] == "false" for c in creates)
    # the lines add up to the frozen totals, and each invoice is finalized and paid once
    stored = {i["metadata"]["tally_invoice_id"]: i for i in fake.objects["invoices"].values()}
    assert {k: v["amount_due"] for k, v in stored.items()} == {k: int(v["total_amount_cents"]) for k, v in invoices.items()}
    assert all(v["status"] == "paid" for v in stored.values())
    assert len(fake.calls("POST", r"/v1/invoices/in_\w+/finalize")) == 2
    assert len(fake.calls("POST", r"/v1/invoices/in_\w+/pay")) == 2
    keys = [r.headers["Idempotency-Key"] for r in fake.requests if r.method == "POST"]
    assert len(keys) == len(set(keys))  # every request its own key (no retries were needed)
    rows = _outbox(settings, "stripe")
    assert {(r["object_type"], r["action"], r["status"]) for r in rows} == {
        ("customer", "customer", "done"), ("invoice", "invoice", "done"), ("invoice", "payment", "done")}
    assert len(rows) == 5 and all(r["outbox_id"] == r["outbox_id"].strip() for r in rows)
    # the payment's status came back through the log
    with Warehouse(settings) as wh:
        events = wh.records(f'select * from "{wh.raw}".payment_events order by invoice_id')
    assert sorted(e["invoice_id"] for e in events) == sorted(invoices)
    assert {e["payment_status"] for e in events} == {"succeeded"}

    before = len(fake.requests)
    _push(settings, "stripe")
    assert len(fake.requests) == before  # nothing left to send


@DUCKDB_ONLY
def test_gocardless(billed, systems):
    settings = billed
    _push(settings, "gocardless")
    fake = systems.gocardless
    [customer] = fake.calls("POST", "/customers")
    assert customer.json == {"customers": {"company_name": "Globex SA", "email": "ap@globex.test",
                                           "metadata": {"tally_external_customer_id": "globex"}}}
    [cid] = fake.objects["customers"]
    payments = fake.calls("POST", "/payments")
    invoices = {i: r for i, r in _invoices(settings).items() if r["external_customer_id"] == "globex"}
    assert sorted(p.json["payments"]["metadata"]["tally_invoice_id"] for p in payments) == sorted(invoices)
    [mandate] = fake.objects["mandates"]
    for p in payments:
        body = p.json["payments"]
        assert body["amount"] == 2000 and body["currency"] == "EUR" and body["links"] == {"mandate": mandate}
    assert all(len(fake.calls("GET", "/mandates")) == 2 for _ in [0])
    assert fake.calls("GET", "/mandates")[0].query == {"customer": cid}
    keys = [r.headers["Idempotency-Key"] for r in fake.calls("POST", "/payments")]
    assert len(set(keys)) == 2 and all(k.startswith("tally-") for k in keys)
    assert {r["status"] for r in _outbox(settings, "gocardless")} == {"done"}


@DUCKDB_ONLY
def test_gocardless_repeated_key_returns_the_first_payment(billed, systems):
    """A retry after GoCardless created the payment (a 5xx after the fact): the SDK meets 409
    idempotent_creation_conflict and fetches the payment it already made; nothing doubles."""
    from .fakes import Faults

    systems.gocardless.faults = Faults(rate=1.0, kinds=("after_500",))
    result = run_push(billed, "gocardless", sleep=lambda s: None, attempts_per_run=1)
    assert result.report.pending and not result.report.done
    systems.gocardless.faults = Faults()
    _push(billed, "gocardless")
    fake = systems.gocardless
    assert len(fake.objects["customers"]) == 1 and len(fake.objects["payments"]) == 2
    conflicts = [r for r in fake.requests if r.method == "GET" and r.path.startswith(("/customers/", "/payments/"))]
    assert conflicts  # the SDK fetched the conflicting resources


@DUCKDB_ONLY
def test_adyen(billed, systems):
    settings = billed
    _push(settings, "adyen")
    fake = systems.adyen
    invoices = {i: r for i, r in _invoices(settings).items() if r["external_customer_id"] == "initech"}
    methods = fake.calls("POST", "/v72/paymentMethods")
    assert {m.json["shopperReference"] for m in methods} == {"shopper_initech"}
    payments = fake.calls("POST", "/v72/payments")
    assert sorted(p.json["metadata"]["tally_invoice_id"] for p in payments) == sorted(invoices)
    for p in payments:
        assert p.json["merchantAccount"] == "TallyTestMerchant"
        assert p.json["amount"] == {"value": 1000, "currency": "USD"}
        assert p.json["paymentMethod"] == {"type": "scheme", "storedPaymentMethodId": "stored_shopper_initech"}
        assert p.json["shopperInteraction"] == "ContAuth"
        assert p.headers["Idempotency-Key"].startswith("tally-")
        assert p.headers["X-Api-Key"] == systems.secrets["TALLY_ADYEN_API_KEY"]
    rows = _outbox(settings, "adyen")
    assert {r["provider_id"] for r in rows} == set(fake.objects["payments"])


@DUCKDB_ONLY
def test_xero(billed, systems):
    settings = billed
    _push(settings, "xero")
    fake = systems.xero
    contacts = fake.calls("PUT", "/api.xro/2.0/Contacts") + fake.calls("POST", "/api.xro/2.0/Contacts")
    assert [c.json["Contacts"][0]["Name"] for c in contacts] == ["Acme Inc"]  # initech is linked to its contact
    assert contacts[0].headers["Xero-Tenant-Id"] == "tenant-1"
    assert contacts[0].headers["Idempotency-Key"].startswith("tally-")
    [acme_contact] = fake.objects["contacts"]
    posted = [c.json["Invoices"][0] for c in fake.calls("PUT", "/api.xro/2.0/Invoices")
              + fake.calls("POST", "/api.xro/2.0/Invoices")]
    invoices = {r["number"]: r for r in _invoices(settings).values()
                if r["external_customer_id"] in ("acme", "initech")}
    assert sorted(p["InvoiceNumber"] for p in posted) == sorted(invoices)
    for p in posted:
        inv = invoices[p["InvoiceNumber"]]
        assert p["Type"] == "ACCREC" and p["Status"] == "AUTHORISED" and p["Reference"] == inv["invoice_id"]
        expected = acme_contact if inv["external_customer_id"] == "acme" else "xero-contact-initech"
        assert p["Contact"]["ContactID"] == expected
        assert round(sum(li["UnitAmount"] * li["Quantity"] for li in p["LineItems"]) * 100) == int(inv["total_amount_cents"])
        assert {li["AccountCode"] for li in p["LineItems"]} == {"200"}


@DUCKDB_ONLY
def test_netsuite(billed, systems):
    settings = billed
    _push(settings, "netsuite")
    fake = systems.netsuite
    customers = fake.calls("PUT", r"/services/rest/record/v1/customer/eid:.+")
    assert sorted(c.path.rsplit(":", 1)[-1] for c in customers) == ["globex", "initech"]
    globex = next(c.json for c in customers if c.path.endswith("globex"))
    assert globex == {"companyName": "Globex SA", "externalId": "globex", "email": "ap@globex.test",
                      "subsidiary": {"id": "2"}}
    invoices = {i: r for i, r in _invoices(settings).items() if r["external_customer_id"] in ("globex", "initech")}
    puts = fake.calls("PUT", r"/services/rest/record/v1/invoice/eid:\w+")
    assert sorted(p.path.rsplit(":", 1)[-1] for p in puts) == sorted(invoices)
    ids = {r["externalId"]: r["id"] for r in fake.objects["customer"].values()}
    for p in puts:
        inv = invoices[p.json["externalId"]]
        assert p.json["entity"] == {"id": ids[inv["external_customer_id"]]}
        assert p.json["tranId"] == inv["number"]
        assert {line["item"]["id"] for line in p.json["item"]["items"]} == {"77"}
        assert round(sum(line["amount"] for line in p.json["item"]["items"]) * 100) == int(inv["total_amount_cents"])
        assert p.headers["Authorization"].startswith('OAuth realm="1234567_SB1"')
        assert 'oauth_signature_method="HMAC-SHA256"' in p.headers["Authorization"]
    assert {r["provider_id"] for r in _outbox(settings, "netsuite") if r["action"] == "invoice"} \
        == set(fake.objects["invoice"])


@DUCKDB_ONLY
def test_hubspot(billed, systems):
    settings = billed
    _push(settings, "hubspot")
    fake = systems.hubspot
    [company] = fake.calls("POST", "/crm/v3/objects/companies/batch/upsert")
    assert company.json["inputs"] == [{"idProperty": "tally_external_customer_id", "id": "acme",
                                       "properties": {"tally_external_customer_id": "acme", "name": "Acme Inc",
                                                      "domain": "acme.test"}}]
    [contact] = fake.calls("POST", "/crm/v3/objects/contacts/batch/upsert")
    assert contact.json["inputs"][0]["properties"]["email"] == "ap@globex.test"
    upserts = fake.calls("POST", "/crm/v3/objects/p_tally_invoices/batch/upsert")
    invoices = {i: r for i, r in _invoices(settings).items() if r["external_customer_id"] in ("acme", "globex")}
    assert sorted(u.json["inputs"][0]["id"] for u in upserts) == sorted(invoices)
    assert all(u.json["inputs"][0]["idProperty"] == "tally_invoice_id" for u in upserts)
    assocs = fake.calls("PUT", r"/crm/v4/objects/p_tally_invoices/\w+/associations/default/\w+/\w+")
    assert len(assocs) == 4
    assert {a.path.split("/")[-2] for a in assocs} == {"companies", "contacts"}
    assert len(fake.objects["p_tally_invoices"]) == 4


def test_webhooks_are_signed(billed, systems):
    settings = billed
    _push(settings, "webhook")
    fake = systems.webhook
    assert fake.bad_signatures == 0
    messages = list(fake.objects["messages"].values())
    types = sorted(m["webhook_type"] for m in messages)
    fees = sum(len(i["fees"]) for i in (m["invoice"] for m in messages if m["webhook_type"] == "invoice.created"))
    assert types.count("invoice.created") == FINALIZED
    assert types.count("fee.created") == fees
    assert types.count("subscription.terminated") == 1
    for r in fake.requests:
        assert r.headers["X-Tally-Signature-Algorithm"] == "hmac"
    # a receiver with another secret refuses them: the signature is over the exact body
    from tally.push.webhooks_out import sign, verify

    body = fake.requests[0].body
    assert verify(body, fake.requests[0].headers["X-Tally-Signature"], systems.secrets["TALLY_WEBHOOK_SECRET"])
    assert not verify(body + b" ", fake.requests[0].headers["X-Tally-Signature"], systems.secrets["TALLY_WEBHOOK_SECRET"])
    assert sign(body, "another") != fake.requests[0].headers["X-Tally-Signature"]


@DUCKDB_ONLY
def test_a_voided_invoice_is_voided_in_stripe_xero_and_hubspot(billed, systems):
    """Tally voids one of acme's invoices before any push: Stripe, Xero and HubSpot still get the
    invoice (the accounting trail), then its void (Stripe's void of the open invoice, Xero's
    VOIDED status, HubSpot's record updated), and Stripe never charges it. A second run sends nothing."""
    from datetime import datetime

    from tally import catalog

    settings = billed
    acme = sorted((r for r in _invoices(settings).values() if r["external_customer_id"] == "acme"),
                  key=lambda r: r["issued_at"])
    voided = acme[-1]
    with Warehouse(settings) as wh:
        invoice = wh.records(f'select * from "{settings.schema}".fct_invoices where invoice_id = ?',
                             [voided["invoice_id"]])[0]
        catalog.void_invoice(wh, invoice, datetime(2026, 4, 2))
        wh.commit()
    for system in ("stripe", "xero", "hubspot"):
        _push(settings, system)

    stripe = systems.stripe
    stored = {i["metadata"]["tally_invoice_id"]: i for i in stripe.objects["invoices"].values()}
    assert stored[voided["invoice_id"]]["status"] == "void"
    assert {k: v["status"] for k, v in stored.items() if k != voided["invoice_id"]} == {acme[0]["invoice_id"]: "paid"}
    [void_call] = stripe.calls("POST", r"/v1/invoices/in_\w+/void")
    assert void_call.path == f"/v1/invoices/{stored[voided['invoice_id']]['id']}/void"
    assert void_call.headers["Idempotency-Key"].startswith("tally-")
    assert len(stripe.calls("POST", r"/v1/invoices/in_\w+/pay")) == 1  # the other invoice only

    xero = systems.xero
    [xero_void] = xero.calls("POST", r"/api.xro/2.0/Invoices/[\w-]+")
    xero_invoice = xero.objects["invoices"][xero_void.path.rsplit("/", 1)[-1]]
    assert (xero_invoice["Reference"], xero_invoice["Status"]) == (voided["invoice_id"], "VOIDED")

    hubspot = systems.hubspot
    [record] = [r for r in hubspot.objects["p_tally_invoices"].values() if r["tally_invoice_id"] == voided["invoice_id"]]
    assert (record["tally_status"], record["tally_voided_at"], record["tally_number"]) == \
        ("voided", "2026-04-02T00:00:00Z", voided["number"])

    assert {(r["system"], r["status"]) for r in _outbox(settings) if r["action"] == "void"} == {
        ("stripe", "done"), ("xero", "done"), ("hubspot", "done")}
    before = sum(len(s.requests) for s in (stripe, xero, hubspot))
    for system in ("stripe", "xero", "hubspot"):
        _push(settings, system)
    assert sum(len(s.requests) for s in (stripe, xero, hubspot)) == before
