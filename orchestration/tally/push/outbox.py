"""The outbox: every push to the outside world, one row per (object, system, action).

`raw.push_outbox` holds one row per invoice, system and action (customer rows per customer
version, webhook rows per message and endpoint): its status (pending, in_flight, done, failed),
attempts, last error (masked), the system's id for what was created, and the idempotency key,
derived from the invoice (or customer, or message) and the action, that every request of the
row carries. It is the push layer's working state, the one table Tally updates in place; every
attempt is also appended to `raw.push_attempts`, which is never updated.

Exactly once: a row is marked in_flight (attempts + 1, committed) before its request and done
only after the system answered. A crash in between leaves it in_flight; the next run sends the
same request with the same key, and the system answers with the object it already created.
Retries: timeouts, connection errors, 429 and 5xx are retried with exponential backoff
(`backoff_seconds * 2**n`, capped), `attempts_per_run` times per run and `max_attempts` in
all; 4xx and configuration errors fail the row at once, with the reason.
"""
from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Callable

from ..catalog import utcnow
from ..warehouse import Warehouse
from . import source
from .base import (Connector, Customer, Invoice, PermanentError, PushError, RetryableError, WaitingError,
                   idempotency_key)
from .payments import append_payment_event, latest_statuses
from .secrets import mask

log = logging.getLogger("tally.push")

OUTBOX_COLUMNS = [
    ("outbox_id", "varchar not null"),       # the idempotency key
    ("object_type", "varchar not null"),     # invoice | customer | fee | subscription
    ("object_id", "varchar not null"),
    ("system", "varchar not null"),          # stripe, gocardless, adyen, xero, netsuite, hubspot, webhook
    ("action", "varchar not null"),          # customer, invoice, payment, or the webhook type
    ("target", "varchar not null"),          # the webhook endpoint; the customer version; '' otherwise
    ("external_customer_id", "varchar"),
    ("payload", "varchar"),                  # the message, for webhooks (sent identical on every attempt)
    ("status", "varchar not null"),          # pending | in_flight | done | failed
    ("attempts", "integer not null"),
    ("last_error", "varchar"),
    ("http_status", "integer"),
    ("provider_id", "varchar"),
    ("created_at", "timestamp not null"),
    ("updated_at", "timestamp not null"),
    ("next_attempt_at", "timestamp"),
    ("done_at", "timestamp"),
]
ATTEMPT_COLUMNS = [
    ("outbox_id", "varchar not null"),
    ("system", "varchar not null"),
    ("action", "varchar not null"),
    ("attempt", "integer not null"),
    ("outcome", "varchar not null"),         # done | retry | failed | waiting
    ("http_status", "integer"),
    ("error", "varchar"),
    ("provider_id", "varchar"),
    ("started_at", "timestamp not null"),
    ("finished_at", "timestamp not null"),
]
STAGES = {"customer": 0, "invoice": 1, "payment": 2, "void": 3}
WEBHOOK = "webhook"


def ensure_tables(wh: Warehouse) -> None:
    wh.ensure_raw()
    for table, cols in (("push_outbox", OUTBOX_COLUMNS), ("push_attempts", ATTEMPT_COLUMNS)):
        body = ", ".join(f'"{c}" {t}' for c, t in cols)
        wh.execute(f'create table if not exists "{wh.raw}"."{table}" ({body})')
    if wh.target == "postgres":
        wh.execute(f'create unique index if not exists push_outbox_key on "{wh.raw}".push_outbox (outbox_id)')
    wh.commit()


def tables_exist(wh: Warehouse) -> bool:
    return wh.relation_exists(wh.raw, "push_outbox")


@dataclass
class Row:
    outbox_id: str
    object_type: str
    object_id: str
    system: str
    action: str
    target: str = ""
    external_customer_id: str | None = None
    payload: str | None = None
    status: str = "pending"
    attempts: int = 0
    last_error: str | None = None
    provider_id: str | None = None

    @classmethod
    def new(cls, object_type, object_id, system, action, target="", customer=None, payload=None) -> "Row":
        return cls(idempotency_key(object_type, object_id, system, action, target), object_type, object_id,
                   system, action, target, customer, payload)


@dataclass
class Report:
    enqueued: list[Row] = field(default_factory=list)
    done: list[Row] = field(default_factory=list)
    failed: list[Row] = field(default_factory=list)
    pending: list[Row] = field(default_factory=list)
    statuses: list[tuple[str, str]] = field(default_factory=list)  # (invoice, status) appended by polling

    def lines(self) -> list[str]:
        out = [f"{r.system} {r.action} {r.object_type} {r.object_id}: failed: {r.last_error}" for r in self.failed]
        out.append(f"{len(self.enqueued)} enqueued, {len(self.done)} done, {len(self.failed)} failed, "
                   f"{len(self.pending)} pending")
        return out


def customer_version(customer: Customer) -> str:
    doc = {"name": customer.name, "email": customer.email, "currency": customer.currency,
           "address": customer.address, "provider_customer_id": customer.provider_customer_id,
           "settings": customer.settings}
    return hashlib.sha256(json.dumps(doc, sort_keys=True, default=str).encode()).hexdigest()[:16]


# -- what should be pushed --------------------------------------------------------------
class Plan:
    """Everything the warehouse says should be pushed, as outbox rows (not yet written)."""

    def __init__(self, wh: Warehouse, connectors: dict[str, Connector], endpoints: list[str],
                 only: str | None = None, finalized_before: datetime | None = None):
        self.invoices: dict[str, Invoice] = {}
        self.voided: dict[str, str] = {}
        self.customers: dict[str, dict[str, Customer]] = {}
        self.rows: list[Row] = []
        if not source.marts_ready(wh):
            return
        # every finalized invoice, to deliver rows enqueued earlier; rows are added for those
        # finalized by `finalized_before` (a billing day's end) only
        self.invoices = {i.invoice_id: i for i in source.finalized_invoices(wh)}
        self.voided = source.voided_invoices(wh)
        self.customers = source.customer_systems(wh)
        due = [i for i in self.invoices.values()
               if finalized_before is None or (i.finalized_at is not None and i.finalized_at <= finalized_before)]
        for inv in due:
            for system, customer in sorted(self.customers.get(inv.external_customer_id, {}).items()):
                conn = connectors.get(system)
                if conn is None or (only and only != system):
                    continue
                if "customer" in conn.actions:
                    self.rows.append(Row.new("customer", customer.external_id, system, "customer",
                                             customer_version(customer), customer.external_id))
                for action in conn.actions:
                    # a voided invoice is no longer due: its payment is not collected
                    if action == "customer" or (action == "payment" and (inv.total_amount_cents <= 0
                                                                         or inv.invoice_id in self.voided)):
                        continue
                    self.rows.append(Row.new("invoice", inv.invoice_id, system, action, "", inv.external_customer_id))
                # voided in Tally: voided in the systems that hold the invoice, once it is there
                if inv.invoice_id in self.voided and conn.voids and "invoice" in conn.actions:
                    self.rows.append(Row.new("invoice", inv.invoice_id, system, "void", "", inv.external_customer_id))
        if endpoints and only in (None, WEBHOOK):
            from .webhooks_out import messages

            for object_type, object_id, webhook_type, customer, body in messages(wh, due, self.voided):
                for url in endpoints:
                    self.rows.append(Row.new(object_type, object_id, WEBHOOK, webhook_type, url, customer, body))
        seen, unique = set(), []
        for r in self.rows:
            if r.outbox_id not in seen:
                seen.add(r.outbox_id)
                unique.append(r)
        self.rows = unique


def existing_ids(wh: Warehouse) -> set[str]:
    if not tables_exist(wh):
        return set()
    _, rows = wh.query(f'select outbox_id from "{wh.raw}".push_outbox')
    return {r[0] for r in rows}


def enqueue(wh: Warehouse, plan: Plan, now: datetime) -> list[Row]:
    """Append the plan's rows that are not in the outbox yet (idempotent)."""
    have = existing_ids(wh)
    new = [r for r in plan.rows if r.outbox_id not in have]
    if new:
        with wh.transaction():
            wh.executemany(
                f'insert into "{wh.raw}".push_outbox (outbox_id, object_type, object_id, system, action, target, '
                "external_customer_id, payload, status, attempts, created_at, updated_at, next_attempt_at) "
                "values (?, ?, ?, ?, ?, ?, ?, ?, 'pending', 0, ?, ?, ?)",
                [(r.outbox_id, r.object_type, r.object_id, r.system, r.action, r.target, r.external_customer_id,
                  r.payload, now, now, now) for r in new])
    return new


def load_rows(wh: Warehouse, where: str = "", params=None) -> list[Row]:
    recs = wh.records(
        f'select outbox_id, object_type, object_id, system, action, target, external_customer_id, payload, '
        f'status, attempts, last_error, provider_id from "{wh.raw}".push_outbox {where}', params or [])
    return [Row(**{k: (int(v) if k == "attempts" else v) for k, v in r.items()}) for r in recs]


# -- delivering -------------------------------------------------------------------------
class Pusher:
    def __init__(self, wh: Warehouse, connectors: dict[str, Connector], webhook_sender=None, *,
                 sleep: Callable[[float], None] = time.sleep, now: Callable[[], datetime] = utcnow,
                 attempts_per_run: int = 6, max_attempts: int = 20, backoff_seconds: float = 0.5,
                 max_backoff_seconds: float = 60.0, echo: Callable[[str], None] | None = None):
        self.wh, self.connectors, self.webhook_sender = wh, connectors, webhook_sender
        self.sleep, self.now = sleep, now
        self.attempts_per_run, self.max_attempts = attempts_per_run, max_attempts
        self.backoff_seconds, self.max_backoff_seconds = backoff_seconds, max_backoff_seconds
        self.echo = echo or (lambda m: None)

    def backoff(self, attempt: int) -> float:
        """Seconds to wait after the attempt-th failure of a row in this run (1-based)."""
        return min(self.backoff_seconds * (2 ** (attempt - 1)), self.max_backoff_seconds)

    # the row's state, committed at once: a kill between two statements loses nothing
    def _update(self, row: Row, commit: bool = True, **values) -> None:
        values["updated_at"] = self.now()
        sets = ", ".join(f'"{k}" = ?' for k in values)
        self.wh.execute(f'update "{self.wh.raw}".push_outbox set {sets} where outbox_id = ?',
                        [*values.values(), row.outbox_id])
        if commit:
            self.wh.commit()
        for k, v in values.items():
            if hasattr(row, k):
                setattr(row, k, v)

    def _attempt_log(self, row: Row, outcome: str, started: datetime, status: int | None = None,
                     error: str | None = None, provider_id: str | None = None, commit: bool = True) -> None:
        self.wh.execute(
            f'insert into "{self.wh.raw}".push_attempts (outbox_id, system, action, attempt, outcome, http_status, '
            "error, provider_id, started_at, finished_at) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [row.outbox_id, row.system, row.action, row.attempts, outcome, status, mask(error) if error else None,
             provider_id, started, self.now()])
        if commit:
            self.wh.commit()

    def _done_customer_id(self, system: str, customer: str) -> str | None:
        _, rows = self.wh.query(
            f'select provider_id from "{self.wh.raw}".push_outbox where object_type = ? and object_id = ? '
            "and system = ? and status = 'done' order by done_at desc", ["customer", customer, system])
        return rows[0][0] if rows else None

    def _row_status(self, object_type: str, object_id: str, system: str, action: str) -> tuple[str | None, str | None]:
        _, rows = self.wh.query(
            f'select status, provider_id from "{self.wh.raw}".push_outbox where object_type = ? and object_id = ? '
            "and system = ? and action = ? order by updated_at desc", [object_type, object_id, system, action])
        return (rows[0][0], rows[0][1]) if rows else (None, None)

    def _customer_failed(self, system: str, customer: str) -> bool:
        _, rows = self.wh.query(
            f'select count(*) from "{self.wh.raw}".push_outbox where object_type = ? and object_id = ? '
            "and system = ? and status = 'failed'", ["customer", customer, system])
        return rows[0][0] > 0

    def _call(self, row: Row, plan: Plan):
        """The row's request(s) through its connector; returns a Result."""
        if row.system == WEBHOOK:
            return self.webhook_sender.send(row.target, row.payload, row.outbox_id, row.action)
        conn = self.connectors[row.system]
        if row.object_type == "customer":
            customer = plan.customers.get(row.object_id, {}).get(row.system)
            if customer is None:
                raise PermanentError(f"customer {row.object_id!r} no longer syncs to {row.system}")
            previous = self._done_customer_id(row.system, row.object_id)
            if customer.provider_customer_id and not customer.sync_with_provider:
                from .base import Result

                return Result(customer.provider_customer_id)  # linked, nothing to send
            return conn.sync_customer(customer, row.outbox_id, previous or customer.provider_customer_id)
        invoice = plan.invoices.get(row.object_id)
        if invoice is None:
            raise PermanentError(f"invoice {row.object_id!r} is not in fct_finalized_invoices")
        customer_id = None
        if "customer" in conn.actions:
            customer_id = self._done_customer_id(row.system, invoice.external_customer_id)
            if customer_id is None:
                if self._customer_failed(row.system, invoice.external_customer_id):
                    raise PermanentError(f"customer {invoice.external_customer_id!r} could not be synced to {row.system}")
                raise WaitingError(f"customer {invoice.external_customer_id!r} is not synced to {row.system} yet")
        else:
            customer = plan.customers.get(invoice.external_customer_id, {}).get(row.system)
            customer_id = customer.provider_customer_id if customer else None
        if row.action == "invoice":
            return conn.push_invoice(invoice, customer_id, row.outbox_id,
                                     plan.customers.get(invoice.external_customer_id, {}).get(row.system))
        if row.action == "void":
            status, invoice_ref = self._row_status("invoice", invoice.invoice_id, row.system, "invoice")
            if status == "failed":
                raise PermanentError(f"invoice could not be pushed to {row.system}; there is nothing to void")
            if status != "done":
                raise WaitingError(f"invoice is not pushed to {row.system} yet")
            voided = replace(invoice, document={**invoice.document, "status": "voided",
                                                "voided_at": plan.voided.get(invoice.invoice_id)})
            return conn.void_invoice(voided, invoice_ref, row.outbox_id)
        if row.action == "payment":
            if invoice.invoice_id in plan.voided:
                raise PermanentError(f"invoice was voided at {plan.voided[invoice.invoice_id]}; no payment is collected")
            invoice_ref = None
            if "invoice" in conn.actions:
                status, invoice_ref = self._row_status("invoice", invoice.invoice_id, row.system, "invoice")
                if status == "failed":
                    raise PermanentError(f"invoice could not be pushed to {row.system}")
                if status != "done":
                    raise WaitingError(f"invoice is not pushed to {row.system} yet")
            return conn.collect_payment(invoice, customer_id, invoice_ref, row.outbox_id)
        raise PermanentError(f"unknown action {row.action!r}")

    def deliver(self, row: Row, plan: Plan, report: Report) -> None:
        for n in range(1, self.attempts_per_run + 1):
            started = self.now()
            self._update(row, status="in_flight", attempts=row.attempts + 1)
            try:
                result = self._call(row, plan)
            except WaitingError as exc:
                self._update(row, status="pending", attempts=row.attempts - 1, last_error=str(exc))
                report.pending.append(row)
                return
            except PermanentError as exc:
                with self.wh.transaction():
                    self._update(row, commit=False, status="failed", last_error=str(exc), http_status=exc.status)
                    self._attempt_log(row, "failed", started, exc.status, str(exc), commit=False)
                log.warning("%s %s %s: failed: %s", row.system, row.action, row.object_id, exc)
                report.failed.append(row)
                return
            except Exception as exc:  # noqa: BLE001 - RetryableError, or an error we could not sort
                status = exc.status if isinstance(exc, PushError) else None
                message = str(exc) if isinstance(exc, PushError) else mask(f"{type(exc).__name__}: {exc}")
                if row.attempts >= self.max_attempts:
                    with self.wh.transaction():
                        self._update(row, commit=False, status="failed", http_status=status,
                                     last_error=f"gave up after {row.attempts} attempts: {message}")
                        self._attempt_log(row, "failed", started, status, message, commit=False)
                    report.failed.append(row)
                    return
                wait = self.backoff(n)
                with self.wh.transaction():
                    self._update(row, commit=False, status="pending", last_error=message, http_status=status,
                                 next_attempt_at=self.now() + timedelta(seconds=wait))
                    self._attempt_log(row, "retry", started, status, message, commit=False)
                log.info("%s %s %s: attempt %d failed (%s); retrying in %.1fs", row.system, row.action,
                         row.object_id, row.attempts, message, wait)
                if n < self.attempts_per_run:
                    self.sleep(wait)
                continue
            with self.wh.transaction():  # one commit; keyed by the row, so a crash before it is harmless
                if result.payment_status and row.action == "payment":
                    append_payment_event(
                        self.wh, provider=row.system, event_id=f"push:{row.outbox_id}", invoice_id=row.object_id,
                        provider_payment_id=result.provider_id, event_type="payment.created",
                        payment_status=result.payment_status, payload=result.detail or {}, occurred_at=started,
                        commit=False)
                self._update(row, commit=False, status="done", provider_id=result.provider_id, last_error=None,
                             done_at=self.now())
                self._attempt_log(row, "done", started, None, None, result.provider_id, commit=False)
            self.echo(f"{row.system} {row.action} {row.object_id}: {result.provider_id}")
            report.done.append(row)
            return
        report.pending.append(row)

    def poll(self, plan: Plan, report: Report, only: str | None = None) -> None:
        """Ask the payment systems for the status of payments still pending in the log."""
        known = latest_statuses(self.wh)
        for row in load_rows(self.wh, "where action = 'payment' and status = 'done'"):
            conn = self.connectors.get(row.system)
            if conn is None or (only and only != row.system) or known.get(row.object_id, "pending") != "pending":
                continue
            try:
                status = conn.payment_status(row.provider_id)
            except PushError as exc:
                log.info("%s: payment %s status not read: %s", row.system, row.provider_id, exc)
                continue
            if status and status != "pending":
                if append_payment_event(self.wh, provider=row.system, event_id=f"poll:{row.provider_id}:{status}",
                                        invoice_id=row.object_id, provider_payment_id=row.provider_id,
                                        event_type="payment.polled", payment_status=status, payload={}):
                    report.statuses.append((row.object_id, status))

    def run(self, plan_factory: Callable[[], Plan], only: str | None = None) -> Report:
        report = Report()
        tried: set[str] = set()
        for round_ in range(2):  # the second round sends what the first produced (payment status webhooks)
            plan = plan_factory()
            report.enqueued += enqueue(self.wh, plan, self.now())
            where, params = "where status in ('pending', 'in_flight')", []
            if only:
                where += " and system = ?"
                params.append(only)
            rows = load_rows(self.wh, where, params)
            rows.sort(key=lambda r: (r.system == WEBHOOK, STAGES.get(r.action, 3), r.object_type, r.object_id,
                                     r.system, r.action, r.target))
            for row in rows:
                if row.outbox_id not in tried:
                    tried.add(row.outbox_id)
                    self.deliver(row, plan, report)
            if round_ == 0:
                self.poll(plan, report, only)
        done_ids = {r.outbox_id for r in report.done} | {r.outbox_id for r in report.failed}
        report.pending = list({r.outbox_id: r for r in report.pending if r.outbox_id not in done_ids}.values())
        return report


def status_counts(wh: Warehouse) -> dict[tuple[str, str], int]:
    if not tables_exist(wh):
        return {}
    _, rows = wh.query(f'select system, status, count(*) from "{wh.raw}".push_outbox group by system, status')
    return {(s, st): int(n) for s, st, n in rows}


__all__ = ["Plan", "Pusher", "Report", "Row", "enqueue", "ensure_tables", "load_rows", "status_counts",
           "RetryableError"]
