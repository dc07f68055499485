"""`tally replay`: run a scenario on a fresh, temporary warehouse and print what was billed.

A scenario holds a catalog (Lago payloads) and timed steps; each step's `at` is its knowledge
time. Billing runs (`run_billing`) and usage reads (`expect_current_usage`) run dbt with
as_of = that `at`, so every invoice is the one that was known when it was issued.
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
import uuid
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Iterator

import yaml

from . import catalog, reports
from .dbt_runner import bill
from .ingest import ingest_file
from .settings import Settings, load_settings
from .warehouse import Warehouse

# in dependency order: taxes before what names them, plans and metrics before coupons limited to them
CATALOG_SECTIONS = [("organization", "organization"), ("taxes", "tax"), ("billable_metrics", "billable_metric"),
                    ("add_ons", "add_on"), ("plans", "plan"), ("coupons", "coupon"), ("customers", "customer")]
STEP_OBJECTS = {"create_subscription": "subscription", "upgrade_or_downgrade": "subscription",
                "apply_coupon": "applied_coupon", "create_wallet": "wallet", "apply_add_on": "applied_add_on",
                "create_credit_note": "credit_note", "top_up_wallet": "wallet_transaction",
                "create_one_off_invoice": "invoice"}


def parse_at(text: str) -> datetime:
    d = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    if d.tzinfo is not None:
        d = d.astimezone(timezone.utc).replace(tzinfo=None)
    return d


def read_scenario(path: str | Path) -> dict:
    p = Path(path)
    text = p.read_text()
    return yaml.safe_load(text) if p.suffix in (".yaml", ".yml") else json.loads(text)


def _expand(value: Any, i: int) -> Any:
    if isinstance(value, str):
        return value.replace("{i}", str(i))
    if isinstance(value, dict):
        return {k: _expand(v, i) for k, v in value.items()}
    if isinstance(value, list):
        return [_expand(v, i) for v in value]
    return value


@contextmanager
def temporary_warehouse(target: str | None) -> Iterator[Settings]:
    """A fresh warehouse: a DuckDB file in a temp folder, or new PostgreSQL schemas; dropped after."""
    base = os.environ.get("TALLY_HOME")
    home = Path(tempfile.mkdtemp(prefix="tally-replay-", dir=base if base and os.path.isdir(base) else None))
    settings = load_settings(target)
    settings = replace(settings, home=home)
    if settings.target == "postgres":
        settings = settings.with_schema(f"tally_replay_{uuid.uuid4().hex[:10]}")
    else:
        settings = replace(settings, schema="main", raw_schema="raw")
    try:
        yield settings
    finally:
        if settings.target == "postgres":
            with Warehouse(settings) as wh:
                wh.drop_schema(settings.schema)
                wh.drop_schema(settings.raw_schema)
        shutil.rmtree(home, ignore_errors=True)


class Replay:
    def __init__(self, scenario: dict, settings: Settings, log=None):
        self.scenario = scenario
        self.settings = settings
        self.log = log or (lambda msg: None)
        self.invoices: list[dict] = []
        self.usage: list[dict] = []
        self.windows: list[tuple[int, list[dict]]] = []  # (step index of run_billing, invoices)
        self._billed_at: datetime | None = None
        self._last_run: datetime | None = None

    # -- steps ----------------------------------------------------------------
    def run(self) -> dict:
        steps = self.scenario.get("steps", [])
        start = min((parse_at(s["at"]) for s in steps), default=datetime(2000, 1, 1))
        with Warehouse(self.settings) as wh:
            wh.ensure_raw()
            self._load_catalog(wh, start)
            pending_events: list[tuple[datetime, dict]] = []
            for n, step in enumerate(steps):
                at = parse_at(step["at"])
                action = step["action"]
                if action != "send_event" and pending_events:
                    self._send(wh, pending_events)
                    pending_events = []
                if action == "send_event":
                    for i in range(int(step.get("repeat", 1))):
                        pending_events.append((at, _expand(step["payload"], i)))
                elif action == "create_credit_note":
                    self._create_credit_note(wh, n, at, step.get("payload", {}))
                elif action in STEP_OBJECTS:
                    payload = step.get("payload", {})
                    if action in ("create_one_off_invoice", "top_up_wallet") and "id" not in payload:
                        # two identical one-off invoices (or top-ups) in one scenario are two
                        payload = {**payload, "id": f"step-{n}"}
                    catalog.load_objects(wh, [{STEP_OBJECTS[action]: payload}], at)
                elif action == "terminate_wallet":
                    catalog.terminate_wallet(wh, step.get("payload", {}), at)
                elif action == "update_payment_status":
                    self._update_payment_status(wh, n, at, step.get("payload", {}))
                elif action == "void_invoice":
                    catalog.void_invoice(wh, self._invoice(wh, n, at, step.get("payload", {})), at)
                    self._billed_at = None  # the next billing, even at this instant, must see it
                elif action == "terminate_subscription":
                    external_id = step.get("external_id") or step.get("payload", {}).get("external_id")
                    catalog.terminate(wh, external_id, at)
                elif action == "run_billing":
                    self._bill(wh, at)
                    window = reports.invoices(wh, issued_after=self._last_run)
                    window = [i for i in window if _ts(i["issued_at"]) <= at]
                    self.invoices += window
                    self.windows.append((n, window))
                    self._last_run = at
                elif action == "expect_current_usage":
                    self._bill(wh, at)
                    self.usage.append(reports.current_usage(wh, step["external_subscription_id"], at))
                elif action.startswith("expect_"):
                    continue
                else:
                    raise ValueError(f"step {n}: unknown action {action!r}")
            if pending_events:
                self._send(wh, pending_events)
        return {"invoices": self.invoices, "usage": self.usage}

    def _load_catalog(self, wh: Warehouse, at: datetime) -> None:
        items = []
        for section, otype in CATALOG_SECTIONS:
            value = self.scenario.get(section)
            if value is None:
                continue
            for body in (value if isinstance(value, list) else [value]):
                items.append({otype: body})
        catalog.load_objects(wh, items, at)

    def _send(self, wh: Warehouse, events: list[tuple[datetime, dict]]) -> None:
        by_time: dict[datetime, list[dict]] = {}
        for at, ev in events:
            by_time.setdefault(at, []).append(ev)
        for at, batch in sorted(by_time.items()):
            with tempfile.NamedTemporaryFile("w", suffix=".ndjson", dir=self.settings.home,
                                             delete=False) as fh:
                for ev in batch:
                    fh.write(json.dumps(ev) + "\n")
            try:
                result = ingest_file(wh, fh.name, received_at=at)
            finally:
                os.unlink(fh.name)
            self.log(result.line())

    def _invoice(self, wh: Warehouse, n: int, at: datetime, payload: dict) -> dict:
        """The invoice a step names: by `invoice_number` (or `number`), else the customer's latest
        finalized invoice (of `invoice_type`, when given) issued by `at`, as billed at `at`."""
        self._bill(wh, at)
        wh.connect()
        try:
            return reports.find_invoice(wh, at, number=payload.get("invoice_number") or payload.get("number"),
                                        external_customer_id=payload.get("external_customer_id"),
                                        invoice_type=payload.get("invoice_type"))
        except ValueError as exc:
            raise ValueError(f"step {n}: {exc}") from None

    def _update_payment_status(self, wh: Warehouse, n: int, at: datetime, payload: dict) -> None:
        """Lago's PUT /invoices/:id {payment_status}, recorded as a provider-less payment event in
        raw.payment_events."""
        from .push.payments import append_payment_event

        invoice = self._invoice(wh, n, at, payload)
        append_payment_event(wh, provider="manual", event_id=f"step-{n}", invoice_id=invoice["invoice_id"],
                             provider_payment_id=None, event_type="invoice.payment_status_updated",
                             payment_status=payload.get("payment_status", "succeeded"), payload=payload,
                             occurred_at=at, received_at=at)
        self._billed_at = None  # the next billing, even at this instant, must see it

    def _create_credit_note(self, wh: Warehouse, n: int, at: datetime, payload: dict) -> None:
        """Lago's POST /credit_notes on an invoice finalized by `at`: the payload names the invoice by
        `invoice_id`, `invoice_number` or `external_customer_id` (+ `invoice_type`: the customer's
        latest finalized invoice issued by `at`) and its items' fees by `fee_id` or by `type`,
        `metric_code`, `external_subscription_id`, `add_on_code`, `filter`, `grouped_by`; the body
        written to raw.catalog_changes carries the real ids, checked against the invoice."""
        from .credit_notes import resolve

        invoice_id = payload.get("invoice_id")
        if invoice_id is None:
            invoice_id = self._invoice(wh, n, at, payload)["invoice_id"]
        else:
            self._bill(wh, at)  # its fees, as billed at `at`
            wh.connect()
        body = resolve(wh, payload, invoice_id, f"step {n}")
        body.setdefault("id", f"step-{n}")
        catalog.load_objects(wh, [{"credit_note": body}], at)
        self._billed_at = None  # the next billing, even at this instant, must see it

    def _bill(self, wh: Warehouse, at: datetime) -> None:
        if self._billed_at == at:
            return
        wh.commit()
        wh.close()  # DuckDB allows one writer: let dbt have the file
        self.log(f"billing as of {at.isoformat()}Z")
        bill(self.settings, at, tests=False)
        self._billed_at = at


def _ts(text: str) -> datetime:
    return parse_at(text)


# -- checking expectations --------------------------------------------------------
def _num(v) -> Decimal | None:
    if isinstance(v, bool):
        return None
    try:
        return Decimal(str(v))
    except (InvalidOperation, ValueError):
        return None


def same(expected, actual) -> bool:
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(same(v, actual.get(k)) for k, v in expected.items())
    if isinstance(expected, (bool, type(None), list)):
        return expected == actual
    e, a = _num(expected), _num(actual)
    if e is not None and a is not None:
        return e == a
    return expected == actual


def _fee_matches(exp: dict, fee: dict) -> bool:
    if any(k in exp and exp[k] != fee.get(k) for k in ("type", "metric_code")):
        return False
    return all(same(exp[k], fee.get(k) or {}) for k in ("filter", "grouped_by") if k in exp)


def _check_invoice(exp: dict, inv: dict) -> list[str]:
    problems = [f"{k}: expected {v}, got {inv.get(k)}" for k, v in exp.items()
                if k != "fees" and not same(v, inv.get(k))]
    for fe in exp.get("fees", []):
        candidates = [f for f in inv.get("fees", []) if _fee_matches(fe, f)]
        if not candidates:
            problems.append(f"fee {json.dumps(fe)} not found")
        elif not any(all(same(v, c.get(k)) for k, v in fe.items()) for c in candidates):
            problems.append(f"fee {json.dumps(fe)} differs: got {json.dumps(candidates)[:400]}")
    return problems


def check(scenario: dict, output: dict) -> list[str]:
    """Every expectation of the scenario against a replay's output; returns the mismatches."""
    invoices = sorted(output["invoices"], key=lambda i: (_ts(i["issued_at"]), i.get("sequential_id") or 0))
    problems: list[str] = []
    window: list[dict] = []
    previous: datetime | None = None
    k, seen = 0, {}
    for n, step in enumerate(scenario.get("steps", [])):
        action, at = step["action"], parse_at(step["at"])
        if action == "run_billing":
            window = [i for i in invoices if (previous is None or _ts(i["issued_at"]) > previous)
                      and _ts(i["issued_at"]) <= at]
            previous, k, seen = at, 0, {}
        elif action == "expect_invoice":
            exp = step["expect"]
            customer = exp.get("external_customer_id")
            if customer is not None:
                mine = [i for i in window if i["external_customer_id"] == customer]
                j = seen[customer] = seen.get(customer, -1) + 1
                target = mine[j] if j < len(mine) else None
                label = f"invoice #{j + 1} of {customer}"
            else:
                target = window[k] if k < len(window) else None
                label = f"invoice #{k + 1}"
                k += 1
            if target is None:
                problems.append(f"step {n}: expected {label} in the window, only "
                                f"{len(mine) if customer else len(window)} issued")
            else:
                problems += [f"step {n} ({label}): {p}" for p in _check_invoice(exp, target)]
        elif action == "expect_invoice_count":
            if len(window) != step["count"]:
                problems.append(f"step {n}: expected {step['count']} invoices in the window, got {len(window)}")
        elif action == "expect_current_usage":
            usage = [u for u in output["usage"] if u["external_subscription_id"] == step["external_subscription_id"]
                     and _ts(u["at"]) == at]
            if not usage:
                problems.append(f"step {n}: no usage reported at {step['at']}")
                continue
            for key, value in step["expect"].items():
                if key == "charges":
                    for ce in value:
                        matches = [c for c in usage[0]["charges"] if _fee_matches(ce, c)]
                        if not any(all(same(v, c.get(kk)) for kk, v in ce.items()) for c in matches):
                            problems.append(f"step {n}: usage charge {json.dumps(ce)} not matched: "
                                            f"{json.dumps(matches)[:300]}")
                elif not same(value, usage[0].get(key)):
                    problems.append(f"step {n}: usage {key}: expected {value}, got {usage[0].get(key)}")
    return problems


def replay(path: str | Path, target: str | None = None, log=None) -> tuple[dict, dict]:
    scenario = read_scenario(path)
    with temporary_warehouse(target) as settings:
        output = Replay(scenario, settings, log=log).run()
    return scenario, output
