"""Read the marts: invoices, fees and current usage, as Lago-shaped dictionaries."""
from __future__ import annotations

import csv
import io
import json
from datetime import date, datetime
from decimal import Decimal

from .warehouse import Warehouse


def decimal_text(value) -> str:
    """A decimal as plain text without trailing zeros: 1.1935500000 -> '1.19355', 3E+4 -> '30000'."""
    if value is None:
        return "0"
    d = Decimal(str(value))
    if d == d.to_integral_value():
        return str(d.quantize(Decimal(1)))
    return format(d.normalize(), "f")


def iso(ts) -> str | None:
    if ts is None:
        return None
    if isinstance(ts, datetime):
        return ts.strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(ts, date):
        return ts.isoformat()
    return str(ts)


def _rel(wh: Warehouse, name: str) -> str:
    return f'"{wh.settings.schema}"."{name}"'


def _json_object(text) -> dict:
    if text is None:
        return {}
    return text if isinstance(text, dict) else json.loads(text)


def _fee(row: dict) -> dict:
    return {
        "type": row["fee_type"],
        "metric_code": row["metric_code"],
        "charge_id": row["charge_id"],
        "external_subscription_id": row["external_subscription_id"],
        "filter": _json_object(row["charge_filter"]),
        "grouped_by": _json_object(row["grouped_by"]),
        "units": decimal_text(row["units"]),
        "events_count": int(row["events_count"] or 0),
        "amount_cents": int(row["amount_cents"]),
        "precise_amount_cents": decimal_text(row["precise_amount_cents"]),
        "from_datetime": iso(row["from_datetime"]),
        "to_datetime": iso(row["to_datetime"]),
        # a minimum-spend true-up (Lago's true_up_parent_fee): the fee it tops up
        "true_up_parent_fee_id": row.get("true_up_parent_fee_id"),
        "pay_in_advance": bool(row.get("is_pay_in_advance")),
        "invoiceable": row.get("is_invoiceable") is not False,
        # add-on fees of one-off invoices; coupons and taxes (Lago's fee fields)
        "add_on_code": row.get("add_on_code"),
        "precise_coupons_amount_cents": decimal_text(row.get("precise_coupons_amount_cents")),
        "taxes_amount_cents": int(row.get("taxes_amount_cents") or 0),
        "taxes_precise_amount_cents": decimal_text(row.get("taxes_precise_amount_cents")),
        "taxes_rate": decimal_text(row.get("taxes_rate")),
        "progressive_billing_credit_amount_cents": int(row.get("progressive_billing_credit_amount_cents") or 0),
    }


def invoices(wh: Warehouse, issued_after: datetime | None = None, customer: str | None = None) -> list[dict]:
    where, params = ["1 = 1"], []
    if issued_after is not None:
        where.append("issued_at > ?")
        params.append(issued_after)
    if customer:
        where.append("external_customer_id = ?")
        params.append(customer)
    rows = wh.records(f"select * from {_rel(wh, 'fct_invoices')} where {' and '.join(where)} "
                      "order by issued_at, external_customer_id, invoice_id", params)
    if not rows:
        return []
    fees = wh.records(
        f"select * from {_rel(wh, 'fct_fees')} where invoice_id in ({', '.join('?' for _ in rows)}) "
        "order by fee_type desc, external_subscription_id, metric_code, charge_id, charge_filter, grouped_by",
        [r["invoice_id"] for r in rows])
    by_invoice: dict[str, list[dict]] = {}
    for f in fees:
        by_invoice.setdefault(f["invoice_id"], []).append(f)
    # Sorted here, not in SQL: text collations differ between warehouses.
    rows.sort(key=lambda r: (r["issued_at"], r["external_customer_id"], r["invoice_id"]))
    ids = [r["invoice_id"] for r in rows]
    marks = ", ".join("?" for _ in ids)
    applied_taxes: dict[str, list[dict]] = {}
    for t in wh.records(f"select * from {_rel(wh, 'fct_invoice_taxes')} where invoice_id in ({marks})", ids):
        applied_taxes.setdefault(t["invoice_id"], []).append({
            "tax_code": t["tax_code"], "tax_rate": decimal_text(t["tax_rate"]),
            "taxable_amount_cents": decimal_text(t["taxable_amount_cents"]), "amount_cents": int(t["amount_cents"])})
    payments = {p["invoice_id"]: p for p in wh.records(
        f"select invoice_id, payment_status, payment_overdue from {_rel(wh, 'fct_invoice_payments')} "
        f"where invoice_id in ({marks})", ids)}
    credits: dict[str, list[dict]] = {}
    for c in wh.records(f"select * from {_rel(wh, 'fct_invoice_coupons')} where invoice_id in ({marks})", ids):
        credits.setdefault(c["invoice_id"], []).append({
            "coupon_code": c["coupon_code"], "amount_cents": int(c["amount_cents"]),
            "remaining_amount_cents": None if c["remaining_amount_cents"] is None else int(c["remaining_amount_cents"]),
            "frequency_duration_remaining": None if c["frequency_duration_remaining"] is None
            else int(c["frequency_duration_remaining"]),
            "terminated": bool(c["is_terminated"])})
    out = []
    for r in rows:
        inv_fees = by_invoice.get(r["invoice_id"], [])
        out.append({
            "invoice_id": r["invoice_id"],
            "issued_at": iso(r["issued_at"]),
            "issuing_date": iso(r["issuing_date"]),
            "payment_due_date": iso(r["payment_due_date"]),
            "invoice_type": r["invoice_type"],
            "status": r["status"],
            "voided_at": iso(r.get("voided_at")),
            # Lago's payment fields; drafts have no payment yet
            "payment_status": payments.get(r["invoice_id"], {}).get("payment_status", "pending"),
            "payment_overdue": bool(payments.get(r["invoice_id"], {}).get("payment_overdue")),
            "number": r["number"],
            "sequential_id": None if r["sequential_id"] is None else int(r["sequential_id"]),
            "external_customer_id": r["external_customer_id"],
            "external_subscription_ids": sorted({f["external_subscription_id"] for f in inv_fees
                                                 if f["external_subscription_id"]}),
            "currency": r["currency"],
            **{k: int(r[k]) for k in ("fees_amount_cents", "coupons_amount_cents", "taxes_amount_cents",
                                      "credit_notes_amount_cents", "prepaid_credit_amount_cents",
                                      "total_amount_cents")},
            # Lago's progressive_billing_credit_amount_cents: what progressive billing invoices of the
            # period already billed, deducted before coupons and taxes
            "progressive_billing_credit_amount_cents": int(r.get("progressive_billing_credit_amount_cents") or 0),
            "sub_total_excluding_taxes_amount_cents": int(r["sub_total_excluding_taxes_amount_cents"]),
            "sub_total_including_taxes_amount_cents": int(r["sub_total_including_taxes_amount_cents"]
                                                          if r.get("sub_total_including_taxes_amount_cents") is not None
                                                          else r["sub_total_excluding_taxes_amount_cents"]
                                                          + r["taxes_amount_cents"]),
            "applied_taxes": sorted(applied_taxes.get(r["invoice_id"], []), key=lambda t: t["tax_code"]),
            "credits": sorted(credits.get(r["invoice_id"], []), key=lambda c: c["coupon_code"]),
            "fees": sorted((_fee(f) for f in inv_fees), key=_fee_order),
        })
    return out


def find_invoice(wh: Warehouse, at: datetime, number: str | None = None, external_customer_id: str | None = None,
                 invoice_type: str | None = None, statuses: tuple[str, ...] = ("finalized",)) -> dict:
    """The invoice of fct_invoices (as last billed) numbered `number`, else the latest of
    `external_customer_id` (of `invoice_type`, when given) issued by `at`, among `statuses`.
    Raises ValueError when none matches."""
    wanted = {"number": number, "external_customer_id": external_customer_id, "invoice_type": invoice_type}
    wanted = {k: v for k, v in wanted.items() if v is not None}
    if not wanted:
        raise ValueError("name the invoice: number, or external_customer_id (and invoice_type)")
    where = " and ".join(f"{k} = ?" for k in wanted)
    if not wh.relation_exists(wh.settings.schema, "fct_invoices"):
        raise ValueError("the warehouse has no invoices yet; bill it first: tally bill")
    rows = wh.records(f"select * from {_rel(wh, 'fct_invoices')} where {where} and issued_at <= ?",
                      [*wanted.values(), at])
    rows = [r for r in rows if r["status"] in statuses]
    if not rows:
        described = ", ".join(f"{k} {v!r}" for k, v in wanted.items())
        raise ValueError(f"no {' or '.join(statuses)} invoice with {described} issued by {iso(at)} "
                         "(bill the warehouse first: tally bill)")
    return max(rows, key=lambda r: (r["issued_at"], r["sequential_id"] or 0))


def _fee_order(fee: dict) -> tuple:
    return (fee["type"] != "subscription", fee["type"], fee["add_on_code"] or "", fee["external_subscription_id"] or "",
            fee["metric_code"] or "", fee["charge_id"] or "", json.dumps(fee["filter"], sort_keys=True),
            json.dumps(fee["grouped_by"], sort_keys=True))


def fees(wh: Warehouse, subscription: str | None = None) -> list[dict]:
    where, params = "", []
    if subscription:
        where, params = "where external_subscription_id = ?", [subscription]
    rows = wh.records(f"select * from {_rel(wh, 'fct_fees')} {where} "
                      "order by billed_at, external_customer_id, fee_type desc, metric_code", params)
    return [{"invoice_id": r["invoice_id"], "external_customer_id": r["external_customer_id"],
             "currency": r["currency"], "billed_at": iso(r["billed_at"]), **_fee(r)} for r in rows]


def current_usage(wh: Warehouse, subscription: str, at: datetime | None = None) -> dict:
    rows = wh.records(f"select * from {_rel(wh, 'fct_current_usage')} where external_subscription_id = ? "
                      "order by metric_code, charge_id, bucket_id", [subscription])
    totals = wh.records(f"select * from {_rel(wh, 'fct_current_usage_totals')} where external_subscription_id = ?",
                        [subscription])
    total = totals[0] if totals else {"amount_cents": 0, "taxes_amount_cents": 0, "total_amount_cents": 0}
    return {
        "at": iso(at),
        "external_subscription_id": subscription,
        "currency": rows[0]["currency"] if rows else None,
        "from_datetime": iso(rows[0]["from_datetime"]) if rows else None,
        "to_datetime": iso(rows[0]["to_datetime"]) if rows else None,
        "amount_cents": int(total["amount_cents"]),
        "taxes_amount_cents": int(total["taxes_amount_cents"]),
        "total_amount_cents": int(total["total_amount_cents"]),
        "charges": [{
            "metric_code": r["metric_code"],
            "charge_id": r["charge_id"],
            "charge_model": r["charge_model"],
            "filter": _json_object(r["charge_filter"]),
            "grouped_by": _json_object(r["grouped_by"]),
            "units": decimal_text(r["units"]),
            "events_count": int(r["events_count"] or 0),
            "amount_cents": int(r["amount_cents"]),
            "taxes_amount_cents": int(r["taxes_amount_cents"]),
        } for r in rows],
    }


# -- output formats -------------------------------------------------------------
def render(rows: list[dict], fmt: str, columns: list[str]) -> str:
    if fmt == "json":
        return json.dumps(rows, indent=2)
    if fmt == "csv":
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=columns, extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)
        return buf.getvalue()
    return table(rows, columns)


def table(rows: list[dict], columns: list[str]) -> str:
    if not rows:
        return "(none)"
    cells = [[("" if r.get(c) is None else str(r.get(c))) for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    numeric = [all(_is_number(row[i]) for row in cells) for i in range(len(columns))]
    def fmt(vals):
        return "  ".join(v.rjust(w) if n else v.ljust(w) for v, w, n in zip(vals, widths, numeric)).rstrip()
    return "\n".join([fmt(columns), fmt(["-" * w for w in widths]), *(fmt(r) for r in cells)])


def _is_number(s: str) -> bool:
    try:
        Decimal(s)
        return s != ""
    except Exception:
        return s == ""
