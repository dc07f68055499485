"""Credit notes on request (Lago's POST /credit_notes), checked against what was invoiced.

A credit note names a finalized invoice, items (fees of that invoice and the amount credited on
each, before taxes) and how its total is split: `credit_amount_cents` goes to the customer's
credit balance (later invoices consume it after taxes), `refund_amount_cents` is paid back.
The total is what the dbt models compute (int_credit_notes__items, int_credit_notes__issued):
items - their coupon shares + their taxes at the fees' rates, rounded once, half away from zero.
This module computes the same figures to refuse, before anything is written, a body the models
would disagree with; each refusal is one line.

Scenarios cannot know invoice or fee ids: `resolve` turns a scenario payload that names the
invoice by `invoice_number`, or by `external_customer_id` (+ `invoice_type`) for the customer's
latest finalized invoice, and items by `type`/`metric_code`/`external_subscription_id`/
`add_on_code`, into a Lago body with real ids.
"""
from __future__ import annotations

import json
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from .push.payments import payment_status
from .warehouse import Warehouse

# Lago's CreditNote reasons
REASONS = ("duplicated_charge", "product_unsatisfactory", "order_change", "order_cancellation",
           "fraudulent_charge", "other")
TEN_DECIMALS = Decimal("1E-10")
ITEM_SELECTORS = ("type", "metric_code", "external_subscription_id", "add_on_code")


class CreditNoteError(ValueError):
    """One refused credit note: `credit_note for invoice 'X': field: reason`."""

    def __init__(self, invoice: str | None, field: str, reason: str):
        super().__init__(f"credit_note for invoice {invoice!r}: {field}: {reason}")


def _money(value) -> Decimal:
    return Decimal(str(value if value is not None else 0))


def _round(value: Decimal) -> int:
    return int(value.quantize(Decimal(1), ROUND_HALF_UP))


def _rel(wh: Warehouse, name: str) -> str:
    return f'"{wh.settings.schema}"."{name}"'


def _has(wh: Warehouse, name: str) -> bool:
    return wh.relation_exists(wh.settings.schema, name)


def _whole(value, invoice, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, str)) or not str(value).strip().isdigit():
        raise CreditNoteError(invoice, field, f"must be a whole number of cents >= 0, got {value!r}")
    return int(value)


def check_shape(body: dict) -> None:
    """What can be checked without the warehouse: fields, types, reason."""
    invoice = body.get("invoice_id")
    if not invoice or not isinstance(invoice, str):
        raise CreditNoteError(invoice, "invoice_id", "is required")
    reason = body.get("reason", "other")
    if reason not in REASONS:
        raise CreditNoteError(invoice, "reason", f"must be one of {', '.join(REASONS)}, got {reason!r}")
    for f in ("credit_amount_cents", "refund_amount_cents"):
        _whole(body.get(f, 0), invoice, f)
    items = body.get("items")
    if not isinstance(items, list) or not items:
        raise CreditNoteError(invoice, "items", "must be a non-empty list of {fee_id, amount_cents}")
    seen = set()
    for i, item in enumerate(items):
        if not isinstance(item, dict) or not isinstance(item.get("fee_id"), str) or not item["fee_id"]:
            raise CreditNoteError(invoice, f"items[{i}].fee_id", "is required")
        if item["fee_id"] in seen:
            raise CreditNoteError(invoice, f"items[{i}].fee_id", f"fee {item['fee_id']!r} is listed twice")
        seen.add(item["fee_id"])
        _whole(item.get("amount_cents"), invoice, f"items[{i}].amount_cents")


def item_figures(fee: dict, amount) -> tuple[Decimal, Decimal]:
    """(coupons adjustment, precise taxes) of crediting `amount` of `fee`, as the models compute
    them: the fee's coupon share x amount / the fee's amount_cents, then (amount - that) x the
    fee's tax rates / 100, each exact to 10 decimals, half away from zero."""
    amount = _money(amount)
    fee_amount = _money(fee["amount_cents"])
    coupons = Decimal(0) if fee_amount == 0 else (
        _money(fee["precise_coupons_amount_cents"]) * amount / fee_amount).quantize(TEN_DECIMALS, ROUND_HALF_UP)
    taxes = ((amount - coupons) * _money(fee["taxes_rate"]) / 100).quantize(TEN_DECIMALS, ROUND_HALF_UP)
    return coupons, taxes


def totals(fees: dict[str, dict], items: list[dict]) -> dict:
    """A credit note's amounts from its items: each part rounded once, total = items - coupons + taxes."""
    precise_items = sum((_money(i["amount_cents"]) for i in items), Decimal(0))
    coupons = taxes = Decimal(0)
    for item in items:
        c, t = item_figures(fees[item["fee_id"]], item["amount_cents"])
        coupons += c
        taxes += t
    total = _round(precise_items - coupons + taxes)
    return {"items_amount_cents": int(precise_items), "coupons_adjustment_amount_cents": _round(coupons),
            "taxes_amount_cents": _round(taxes), "total_amount_cents": total,
            "sub_total_excluding_taxes_amount_cents": total - _round(taxes)}


def _invoice(wh: Warehouse, invoice_id: str) -> dict | None:
    if not _has(wh, "fct_invoices"):
        return None
    rows = wh.records(f"select * from {_rel(wh, 'fct_invoices')} where invoice_id = ?", [invoice_id])
    return rows[0] if rows else None


def _fees(wh: Warehouse, invoice_id: str) -> list[dict]:
    return wh.records(
        f"select fee_id, fee_type, metric_code, external_subscription_id, add_on_code, charge_filter, grouped_by, "
        f"amount_cents, precise_coupons_amount_cents, taxes_rate from {_rel(wh, 'fct_fees')} where invoice_id = ?",
        [invoice_id])


def _earlier_notes(wh: Warehouse, invoice_id: str, at: datetime | None, skip_key: str | None) -> list[dict]:
    """The invoice's credit notes so far: requested ones from the raw log (the bodies as received,
    also those not billed yet), automatic ones (terminations, upgrades) from the marts."""
    sql = (f"select object_key, cast(payload as varchar) as payload from \"{wh.raw}\".catalog_changes "
           "where object_type = 'credit_note' and action = 'upsert'")
    params: list = []
    if at is not None:
        sql += " and received_at <= ?"
        params.append(at)
    notes, keys = [], set()
    for key, payload in wh.query(sql, params)[1]:
        body = json.loads(payload)["credit_note"]
        if key in keys or key == skip_key or body.get("invoice_id") != invoice_id:
            continue
        keys.add(key)
        notes.append({"credit": int(body.get("credit_amount_cents") or 0),
                      "refund": int(body.get("refund_amount_cents") or 0),
                      "items": [(i["fee_id"], int(i["amount_cents"])) for i in body.get("items", [])]})
    if _has(wh, "fct_credit_notes") and _has(wh, "fct_credit_note_items"):
        for n in wh.records(f"select credit_note_id, credit_amount_cents, refund_amount_cents from "
                            f"{_rel(wh, 'fct_credit_notes')} where invoice_id = ? and is_automatic", [invoice_id]):
            items = wh.records(f"select fee_id, amount_cents from {_rel(wh, 'fct_credit_note_items')} "
                               "where credit_note_id = ?", [n["credit_note_id"]])
            notes.append({"credit": int(n["credit_amount_cents"]), "refund": int(n["refund_amount_cents"]),
                          "items": [(i["fee_id"], int(i["amount_cents"])) for i in items]})
    return notes


def check_against_invoice(wh: Warehouse, body: dict, at: datetime | None = None, key: str | None = None) -> dict:
    """Lago's checks of a credit note against its invoice (as the marts last computed it);
    returns the credit note's amounts. Raises CreditNoteError."""
    check_shape(body)
    invoice_id = body["invoice_id"]
    invoice = _invoice(wh, invoice_id)
    if invoice is None:
        raise CreditNoteError(invoice_id, "invoice_id", "no such invoice (bill first: credit notes name invoices "
                              "of fct_invoices)")
    if invoice["status"] != "finalized":
        raise CreditNoteError(invoice_id, "invoice_id", f"invoice is a {invoice['status']}: only a finalized "
                              "invoice can be credited")
    if invoice["invoice_type"] == "credit":
        raise CreditNoteError(invoice_id, "invoice_id", "credit notes on wallet purchases (credit invoices) are "
                              "not supported")
    fees = {f["fee_id"]: f for f in _fees(wh, invoice_id)}
    earlier = _earlier_notes(wh, invoice_id, at, key)
    credited_items: dict[str, int] = {}
    for note in earlier:
        for fee_id, amount in note["items"]:
            credited_items[fee_id] = credited_items.get(fee_id, 0) + amount
    for i, item in enumerate(body["items"]):
        fee = fees.get(item["fee_id"])
        if fee is None:
            raise CreditNoteError(invoice_id, f"items[{i}].fee_id", f"fee {item['fee_id']!r} is not on the invoice")
        creditable = int(fee["amount_cents"]) - credited_items.get(item["fee_id"], 0)
        if int(item["amount_cents"]) > creditable:
            raise CreditNoteError(invoice_id, f"items[{i}].amount_cents",
                                  f"{item['amount_cents']} is more than the fee's creditable amount {creditable} "
                                  f"(fee {fee['amount_cents']} less {credited_items.get(item['fee_id'], 0)} "
                                  "already credited)")
    figures = totals(fees, body["items"])
    credit = int(body.get("credit_amount_cents") or 0)
    refund = int(body.get("refund_amount_cents") or 0)
    total = figures["total_amount_cents"]
    if total <= 0:
        raise CreditNoteError(invoice_id, "items", "the credit note's total must be greater than 0")
    if credit + refund != total:
        raise CreditNoteError(invoice_id, "credit_amount_cents",
                              f"credit_amount_cents + refund_amount_cents = {credit + refund}, but the items' total "
                              f"is {total} (items {figures['items_amount_cents']} - coupons "
                              f"{figures['coupons_adjustment_amount_cents']} + taxes {figures['taxes_amount_cents']})")
    if refund > 0:
        status = payment_status(wh, invoice, at)
        if status != "succeeded":
            raise CreditNoteError(invoice_id, "refund_amount_cents",
                                  f"the invoice is not paid (payment_status {status}): it can only be credited")
        refunded = sum(n["refund"] for n in earlier)
        if refund > int(invoice["total_amount_cents"]) - refunded:
            raise CreditNoteError(invoice_id, "refund_amount_cents",
                                  f"{refund} is more than what was paid and not refunded yet "
                                  f"({int(invoice['total_amount_cents']) - refunded})")
    # Lago's invoice fee total: the fees and their taxes before coupons
    fee_total = sum(int(f["amount_cents"]) for f in fees.values()) + _round(
        sum((_money(f["amount_cents"]) * _money(f["taxes_rate"]) for f in fees.values()), Decimal(0)) / 100)
    credited = sum(n["credit"] for n in earlier)
    if credit > fee_total - credited:
        raise CreditNoteError(invoice_id, "credit_amount_cents",
                              f"{credit} is more than the invoice's remaining amount {fee_total - credited}")
    if total > fee_total - credited - sum(n["refund"] for n in earlier):
        raise CreditNoteError(invoice_id, "items", f"the total {total} is more than the invoice's remaining amount "
                              f"{fee_total - credited - sum(n['refund'] for n in earlier)}")
    return figures


def _fee_matches(selector: dict, fee: dict) -> bool:
    for k in ITEM_SELECTORS:
        if k in selector and selector[k] != fee.get("fee_type" if k == "type" else k):
            return False
    for k, col in (("filter", "charge_filter"), ("grouped_by", "grouped_by")):
        if k in selector:
            value = fee.get(col)
            value = json.loads(value) if isinstance(value, str) else (value or {})
            if value != selector[k]:
                return False
    return True


def resolve(wh: Warehouse, payload: dict, invoice_id: str, label: str) -> dict:
    """A scenario's create_credit_note payload on the invoice `invoice_id` → Lago's body with real
    ids (its items' fees found on the invoice)."""
    body = {k: v for k, v in payload.items() if k not in ("invoice_number", "external_customer_id", "invoice_type",
                                                          "items")}
    body["invoice_id"] = invoice_id
    fees = _fees(wh, body["invoice_id"]) if _has(wh, "fct_fees") else []
    items = []
    for n, item in enumerate(payload.get("items") or []):
        if not isinstance(item, dict):
            raise ValueError(f"{label}: create_credit_note: items[{n}] must be an object")
        if "fee_id" in item:
            items.append({"fee_id": item["fee_id"], "amount_cents": item.get("amount_cents")})
            continue
        matches = [f for f in fees if _fee_matches(item, f)]
        selector = {k: v for k, v in item.items() if k != "amount_cents"}
        if len(matches) != 1:
            raise ValueError(f"{label}: create_credit_note: items[{n}] {selector} matches {len(matches)} fees of "
                             "the invoice; name exactly one (type, metric_code, external_subscription_id, "
                             "add_on_code, filter, grouped_by or fee_id)")
        items.append({"fee_id": matches[0]["fee_id"], "amount_cents": item.get("amount_cents")})
    body["items"] = items
    return body
