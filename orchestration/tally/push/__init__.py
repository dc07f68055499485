"""Pushing finalized invoices out, exactly once: Stripe, GoCardless, Adyen (payments), Xero,
NetSuite (accounting), HubSpot (CRM), and Tally's own signed webhooks.

    run_push(settings)                      # what `tally push` does
    run_push(settings, system="stripe")     # one system
    run_push(settings, dry_run=True)        # what would be sent; writes and sends nothing

Each system is used when its secrets are set (see each module, and docs/push.md); a customer
syncs to the systems its Lago payload names (`billing_configuration.payment_provider`,
`integration_customers[].integration_type`). See tally.push.outbox for the exactly-once rules.
"""
from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable

from ..settings import Settings
from ..warehouse import Warehouse
from .base import Connector
from .secrets import Secrets, install_log_masking, mask

log = logging.getLogger("tally.push")


def _registry() -> dict[str, type[Connector]]:
    from .adyen import AdyenConnector
    from .gocardless import GoCardlessConnector
    from .hubspot import HubSpotConnector
    from .netsuite import NetSuiteConnector
    from .stripe import StripeConnector
    from .xero import XeroConnector

    return {c.name: c for c in (StripeConnector, GoCardlessConnector, AdyenConnector, XeroConnector,
                                NetSuiteConnector, HubSpotConnector)}


SYSTEMS = ("stripe", "gocardless", "adyen", "xero", "netsuite", "hubspot", "webhook")


def timeout_seconds() -> float:
    return float(os.environ.get("TALLY_PUSH_TIMEOUT", "30"))


def connectors(secrets: Secrets, only: str | None = None) -> dict[str, Connector]:
    """The systems whose secrets are set (all of them, or `only`)."""
    out = {}
    for name, cls in _registry().items():
        if only and only != name:
            continue
        if secrets.has(*cls.required_secrets):
            out[name] = cls(secrets, timeout=timeout_seconds())
    return out


def webhook_sender(secrets: Secrets):
    from .webhooks_out import WebhookSender

    secret = secrets.get("TALLY_WEBHOOK_SECRET")
    return WebhookSender(secret, timeout=timeout_seconds()) if secret else None


@dataclass
class PushResult:
    dry_run: bool
    systems: list[str]
    planned: list = field(default_factory=list)    # dry run: rows that would be enqueued or sent
    report: object | None = None

    def lines(self) -> list[str]:
        if self.dry_run:
            out = [f"would push {r.system} {r.action} {r.object_type} {r.object_id}"
                   + (f" -> {r.target}" if r.system == "webhook" else "") for r in self.planned]
            return out + [f"dry run: {len(self.planned)} pushes due to {', '.join(self.systems) or 'no system'}"]
        return [mask(line) for line in self.report.lines()]


def run_push(settings: Settings, system: str | None = None, dry_run: bool = False, *,
             secrets: Secrets | None = None, sleep: Callable[[float], None] = time.sleep,
             finalized_before: datetime | None = None, echo: Callable[[str], None] | None = None,
             **pusher_options) -> PushResult:
    """Enqueue what is due, deliver it (retries, backoff), poll payment statuses."""
    from . import outbox

    install_log_masking()
    if system is not None and system not in SYSTEMS:
        raise ValueError(f"unknown system {system!r}: choose one of {', '.join(SYSTEMS)}")
    secrets = secrets or Secrets()
    conns = connectors(secrets, None if system in (None, "webhook") else system) if system != "webhook" else {}
    sender = webhook_sender(secrets) if system in (None, "webhook") else None
    with Warehouse(settings) as wh:
        endpoints = []
        if sender is not None:
            from .source import webhook_endpoints

            endpoints = webhook_endpoints(wh)
        names = sorted(conns) + (["webhook"] if sender is not None and endpoints else [])
        if system and system not in names:
            raise ValueError(f"{system} is not configured: set its secrets (see docs/push.md)")

        def plan():
            return outbox.Plan(wh, conns, endpoints, system, finalized_before)

        if dry_run:
            have = outbox.existing_ids(wh)
            pending = set()
            if outbox.tables_exist(wh):
                pending = {r.outbox_id for r in outbox.load_rows(wh, "where status in ('pending', 'in_flight')")}
            planned = [r for r in plan().rows if r.outbox_id not in have or r.outbox_id in pending]
            return PushResult(True, names, planned=planned)
        outbox.ensure_tables(wh)
        for option, variable, kind in (("backoff_seconds", "TALLY_PUSH_BACKOFF_SECONDS", float),
                                       ("attempts_per_run", "TALLY_PUSH_ATTEMPTS_PER_RUN", int),
                                       ("max_attempts", "TALLY_PUSH_MAX_ATTEMPTS", int)):
            if option not in pusher_options and os.environ.get(variable):
                pusher_options[option] = kind(os.environ[variable])
        pusher = outbox.Pusher(wh, conns, sender, sleep=sleep, echo=echo, **pusher_options)
        report = pusher.run(plan, system)
    for line in report.lines():
        log.info("%s", line)
    return PushResult(False, names, report=report)
