"""Payment status back: the append-only log raw.payment_events.

Verified provider webhooks (tally.push.webhooks_in) and polling (`tally push`) append a row per
provider event; a provider delivering the same event again appends nothing (key provider,
event_id). Nothing is updated: the status of an invoice is the mart fct_invoice_payments,
computed from this log by dbt as of any time.
"""
from __future__ import annotations

import json
from datetime import datetime

from ..catalog import utcnow
from ..warehouse import Warehouse
from .base import PAYMENT_STATUSES


def append_payment_event(wh: Warehouse, *, provider: str, event_id: str, invoice_id: str,
                         provider_payment_id: str | None, event_type: str, payment_status: str,
                         payload: dict, occurred_at: datetime | None = None,
                         received_at: datetime | None = None, commit: bool = True) -> bool:
    """Append one status change; False when (provider, event_id) is already in the log."""
    if payment_status not in PAYMENT_STATUSES:
        raise ValueError(f"payment_status must be one of {', '.join(PAYMENT_STATUSES)}, got {payment_status!r}")
    received_at = received_at or utcnow()
    _, [(n,)] = wh.query(f'select count(*) from "{wh.raw}".payment_events where provider = ? and event_id = ?',
                         [provider, event_id])
    if n:
        return False
    wh.execute(
        f'insert into "{wh.raw}".payment_events (provider, event_id, invoice_id, provider_payment_id, event_type, '
        "payment_status, payload, occurred_at, received_at) values (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [provider, event_id, invoice_id, provider_payment_id, event_type, payment_status,
         json.dumps(payload, sort_keys=True, default=str), occurred_at, received_at])
    if commit:
        wh.commit()
    return True


def latest_statuses(wh: Warehouse, invoice_id: str | None = None,
                    received_by: datetime | None = None) -> dict[str, str]:
    """{invoice_id: latest status in the log} (what polling compares with), of one invoice and as
    received by a time when given."""
    where, params = ["1 = 1"], []
    if invoice_id is not None:
        where.append("invoice_id = ?")
        params.append(invoice_id)
    if received_by is not None:
        where.append("received_at <= ?")
        params.append(received_by)
    rows = wh.records(
        f"""select invoice_id, payment_status from (
                select invoice_id, payment_status, row_number() over (
                    partition by invoice_id order by coalesce(occurred_at, received_at) desc,
                    case payment_status when 'pending' then 1 else 0 end, received_at desc, event_id desc) as rn
                from "{wh.raw}".payment_events where {' and '.join(where)}) latest where rn = 1""", params)
    return {r["invoice_id"]: r["payment_status"] for r in rows}


def payment_status(wh: Warehouse, invoice: dict, at: datetime | None = None) -> str:
    """An invoice's payment status as known at `at`, as fct_invoice_payments derives it: succeeded
    for an invoice of 0, else the latest change in the log, pending until one arrives."""
    if int(invoice["total_amount_cents"]) == 0:
        return "succeeded"
    return latest_statuses(wh, invoice["invoice_id"], received_by=at).get(invoice["invoice_id"], "pending")
