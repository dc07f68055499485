"""What the push layer reads: finalized invoices (frozen marts), customers' sync settings
(staging), subscription terminations and payment statuses (raw logs), webhook endpoints."""
from __future__ import annotations

import json
import os
from datetime import datetime
from typing import Any

from ..reports import _fee, decimal_text, iso
from ..warehouse import Warehouse
from .base import Customer, Invoice

PAYMENT_PROVIDERS = ("stripe", "gocardless", "adyen")
INTEGRATIONS = ("xero", "netsuite", "hubspot")


def _rel(wh: Warehouse, name: str) -> str:
    return f'"{wh.settings.schema}"."{name}"'


def _json(value) -> Any:
    if value is None or isinstance(value, (dict, list)):
        return value
    return json.loads(value)


def marts_ready(wh: Warehouse) -> bool:
    return wh.relation_exists(wh.settings.schema, "fct_finalized_invoices") and \
        wh.relation_exists(wh.settings.schema, "stg_customers")


def finalized_invoices(wh: Warehouse) -> list[Invoice]:
    """Every finalized invoice (fct_finalized_invoices) with its frozen fees, oldest first."""
    rows = wh.records(f"select * from {_rel(wh, 'fct_finalized_invoices')}")
    if not rows:
        return []
    fees = wh.records(f"select * from {_rel(wh, 'fct_finalized_fees')}")
    by_invoice: dict[str, list[dict]] = {}
    for f in fees:
        by_invoice.setdefault(f["invoice_id"], []).append(f)
    rows.sort(key=lambda r: (r["finalizes_at"], r["issued_at"], r["invoice_id"]))
    out = []
    for r in rows:
        inv_fees = []
        for f in sorted(by_invoice.get(r["invoice_id"], []), key=lambda f: str(f["fee_id"])):
            fee = _fee(f)
            fee["fee_id"] = f["fee_id"]
            inv_fees.append(fee)
        document = {
            "lago_id": r["invoice_id"],
            "number": r["number"],
            "sequential_id": int(r["sequential_id"]),
            "issuing_date": iso(r["issuing_date"]),
            "payment_due_date": iso(r["payment_due_date"]),
            "invoice_type": r["invoice_type"],
            "status": r["status"],
            "payment_status": "pending",
            "currency": r["currency"],
            "external_customer_id": r["external_customer_id"],
            **{k: int(r[k]) for k in ("fees_amount_cents", "coupons_amount_cents", "taxes_amount_cents",
                                      "credit_notes_amount_cents", "prepaid_credit_amount_cents",
                                      "sub_total_excluding_taxes_amount_cents", "total_amount_cents")},
            "issued_at": iso(r["issued_at"]),
            "finalized_at": iso(r["finalizes_at"]),
            "fees": inv_fees,
        }
        out.append(Invoice(
            invoice_id=r["invoice_id"], number=r["number"], external_customer_id=r["external_customer_id"],
            currency=r["currency"], invoice_type=r["invoice_type"], issuing_date=iso(r["issuing_date"]),
            payment_due_date=iso(r["payment_due_date"]), fees_amount_cents=int(r["fees_amount_cents"]),
            taxes_amount_cents=int(r["taxes_amount_cents"]), total_amount_cents=int(r["total_amount_cents"]),
            fees=inv_fees, document=document, finalized_at=r["finalizes_at"]))
    return out


def customer_systems(wh: Warehouse) -> dict[str, dict[str, Customer]]:
    """{external_customer_id: {system: Customer}} for the systems each current customer syncs
    to: its payment provider (billing_configuration) and its integrations (integration_customers).
    A system is listed when the customer has an id there or asks to be created there."""
    customers = wh.records(f"select * from {_rel(wh, 'stg_customers')} where is_current and not is_deleted")
    integrations = []
    if wh.relation_exists(wh.settings.schema, "stg_customer_integrations"):
        integrations = wh.records(f"select * from {_rel(wh, 'stg_customer_integrations')} where is_current")
    out: dict[str, dict[str, Customer]] = {}

    def base(row: dict) -> dict:
        return dict(external_id=row["external_customer_id"], name=row["customer_name"], email=row["email"],
                    currency=row["currency"],
                    address={k: row.get(k) for k in ("address_line1", "city", "zipcode", "country")
                             if row.get(k)})

    by_id = {c["external_customer_id"]: c for c in customers}
    for c in customers:
        provider = (c.get("payment_provider") or "").lower()
        if provider in PAYMENT_PROVIDERS and (c.get("provider_customer_id") or c.get("sync_with_provider")):
            out.setdefault(c["external_customer_id"], {})[provider] = Customer(
                **base(c), provider_customer_id=c.get("provider_customer_id"),
                sync_with_provider=bool(c.get("sync_with_provider")),
                settings=_json(c.get("billing_configuration")) or {})
    for i in integrations:
        kind = (i.get("integration_type") or "").lower()
        c = by_id.get(i["external_customer_id"])
        if c is None or kind not in INTEGRATIONS:
            continue
        if not (i.get("integration_customer_id") or i.get("sync_with_provider")):
            continue
        out.setdefault(c["external_customer_id"], {})[kind] = Customer(
            **base(c), provider_customer_id=i.get("integration_customer_id"),
            sync_with_provider=bool(i.get("sync_with_provider")),
            settings={k: i.get(k) for k in ("integration_code", "subsidiary_id", "targeted_object") if i.get(k)})
    return out


def terminated_subscriptions(wh: Warehouse) -> list[dict]:
    """Subscription terminations from raw.catalog_changes (the first one per subscription)."""
    rows = wh.records(
        f"""select object_key, min(received_at) as terminated_at from "{wh.raw}".catalog_changes
            where object_type = 'subscription' and action = 'terminate' group by object_key""")
    return sorted(({"external_id": r["object_key"], "status": "terminated",
                    "terminated_at": iso(r["terminated_at"])} for r in rows), key=lambda r: r["external_id"])


def voided_invoices(wh: Warehouse) -> dict[str, str]:
    """{invoice_id: voided_at} of every void in raw.catalog_changes (`tally void`)."""
    rows = wh.records(
        f"""select object_key, min(received_at) as voided_at from "{wh.raw}".catalog_changes
            where object_type = 'invoice' and action = 'void' group by object_key""")
    return {r["object_key"]: iso(r["voided_at"]) for r in rows}


def payment_statuses(wh: Warehouse) -> list[dict]:
    """Each (invoice, status) the payment log holds, with its first report: one webhook each."""
    rows = wh.records(
        f"""select invoice_id, payment_status, min(coalesce(occurred_at, received_at)) as occurred_at,
                   min(provider) as provider
            from "{wh.raw}".payment_events group by invoice_id, payment_status""")
    return sorted(rows, key=lambda r: (r["occurred_at"], r["invoice_id"], r["payment_status"]))


def webhook_endpoints(wh: Warehouse) -> list[str]:
    """$TALLY_WEBHOOK_URLS (comma-separated) and the organization's `webhook_urls` (Lago)."""
    urls = [u.strip() for u in os.environ.get("TALLY_WEBHOOK_URLS", "").split(",") if u.strip()]
    _, rows = wh.query(
        f"""select cast(payload as {'varchar' if wh.target == 'duckdb' else 'text'}) from "{wh.raw}".catalog_changes
            where object_type = 'organization' order by received_at desc, seq desc limit 1""")
    if rows:
        org = json.loads(rows[0][0]).get("organization", {})
        for u in org.get("webhook_urls") or []:
            if isinstance(u, str) and u not in urls:
                urls.append(u)
    return urls


__all__ = ["customer_systems", "decimal_text", "finalized_invoices", "marts_ready", "payment_statuses",
           "voided_invoices",
           "terminated_subscriptions", "webhook_endpoints"]
