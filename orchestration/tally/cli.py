"""The `tally` command."""
from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime

from . import catalog, reports
from .dbt_runner import DbtError, bill
from .ingest import ingest_file
from .settings import TARGETS, load_settings
from .warehouse import Warehouse


def _at(text: str | None) -> datetime | None:
    if text is None:
        return None
    from .scenario import parse_at

    try:
        return parse_at(text)
    except ValueError:
        raise SystemExit(f"tally: error: {text!r} is not an ISO 8601 date-time") from None


def _err(msg: str) -> None:
    print(msg, file=sys.stderr)


INVOICE_COLUMNS = ["number", "status", "external_customer_id", "issued_at", "invoice_type", "currency",
                   "fees_amount_cents", "taxes_amount_cents", "total_amount_cents", "payment_due_date"]
FEE_COLUMNS = ["billed_at", "external_customer_id", "external_subscription_id", "type", "metric_code",
               "units", "events_count", "amount_cents", "currency", "from_datetime", "to_datetime"]
USAGE_COLUMNS = ["metric_code", "charge_model", "units", "events_count", "amount_cents"]


def cmd_load(args, settings):
    with Warehouse(settings) as wh:
        for path, written, unchanged in catalog.load_paths(wh, args.paths, _at(args.at)):
            print(f"{path}: {written} written, {unchanged} unchanged")


def cmd_terminate(args, settings):
    with Warehouse(settings) as wh:
        catalog.terminate(wh, args.external_id, _at(args.at))
    print(f"subscription {args.external_id} terminated")


def cmd_void(args, settings):
    at = _at(args.at) or catalog.utcnow()
    with Warehouse(settings) as wh:
        invoice = reports.find_invoice(wh, at, number=args.number)
        catalog.void_invoice(wh, invoice, at)
    print(f"invoice {args.number} voided (run tally bill to update the marts)")


def cmd_ingest(args, settings):
    with Warehouse(settings) as wh:
        for path in args.files:
            print(ingest_file(wh, path, received_at=_at(args.at), fmt=args.format).line())


def cmd_bill(args, settings):
    as_of = _at(args.as_of) or catalog.utcnow()
    with Warehouse(settings) as wh:
        wh.ensure_raw()  # a warehouse made by an older Tally lacks the raw logs added since
    bill(settings, as_of, tests=not args.skip_tests, echo=args.verbose)
    # counted in SQL: building every invoice with its fees (reports.invoices) only to count them took
    # about 1.2 s for 3,650 invoices
    with Warehouse(settings) as wh:
        _, [(invoices, finalized)] = wh.query(
            f"select count(*), count(case when status = 'finalized' then 1 end) "
            f'from "{settings.schema}".fct_invoices')
    print(f"billed as of {as_of.isoformat()}Z: {invoices} invoices ({finalized} finalized)")


def cmd_invoices(args, settings):
    with Warehouse(settings) as wh:
        rows = reports.invoices(wh, customer=args.customer)
    if args.format != "json":
        rows = [{k: v for k, v in r.items() if k != "fees"} for r in rows]
    print(reports.render(rows, args.format, INVOICE_COLUMNS))


def cmd_fees(args, settings):
    with Warehouse(settings) as wh:
        rows = reports.fees(wh, args.subscription)
    print(reports.render(rows, args.format, FEE_COLUMNS))


def cmd_usage(args, settings):
    if args.as_of:
        bill(settings, _at(args.as_of), tests=False)
    with Warehouse(settings) as wh:
        usage = reports.current_usage(wh, args.subscription, _at(args.as_of))
    if args.format == "json":
        print(json.dumps(usage, indent=2))
        return
    print(f"{usage['external_subscription_id']}: {usage['from_datetime']} .. {usage['to_datetime']} "
          f"{usage['currency'] or ''}")
    print(reports.render(usage["charges"], args.format, USAGE_COLUMNS))
    print(f"total: {usage['amount_cents']} cents")


def cmd_replay(args, settings):
    from .scenario import check, replay

    scenario, output = replay(args.scenario, settings.target, log=lambda m: _err(m))
    if args.json:
        print(json.dumps(output, indent=2))
    else:
        rows = [{k: v for k, v in r.items() if k != "fees"} for r in output["invoices"]]
        print(reports.table(rows, INVOICE_COLUMNS))
    if args.check:
        problems = check(scenario, output)
        for p in problems:
            _err(f"MISMATCH {p}")
        _err(f"{scenario.get('name', args.scenario)}: "
             f"{'ok' if not problems else str(len(problems)) + ' mismatch(es)'}")
        if problems:
            return 1
    return 0


def cmd_demo(args, settings):
    from .demo import run_demo

    return run_demo(settings, events=args.events)


def cmd_push(args, settings):
    from .push import run_push
    from .push.secrets import mask

    if args.listen:
        from wsgiref.simple_server import make_server

        from .push.webhooks_in import app

        host, _, port = args.listen.rpartition(":")
        with make_server(host or "127.0.0.1", int(port), app(settings)) as server:
            _err(f"tally: receiving webhooks on http://{host or '127.0.0.1'}:{port}/webhooks/{{stripe,gocardless}}")
            server.serve_forever()
        return 0
    try:
        result = run_push(settings, args.system, args.dry_run, echo=print if args.verbose else None)
    except ValueError as exc:  # masked: a provider's message may quote what it was sent
        raise ValueError(mask(exc)) from None
    for line in result.lines():
        print(line)
    return 1 if not result.dry_run and result.report.failed else 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="tally", description="Usage-based billing as dbt models.")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--target", "--warehouse", dest="target", choices=TARGETS,
                        help="warehouse (default: $TALLY_TARGET, else duckdb)")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("load", parents=[common], help="load Lago payload files into raw.catalog_changes")
    s.add_argument("paths", nargs="+")
    s.add_argument("--at", help="knowledge time (default: now)")
    s.set_defaults(func=cmd_load)

    s = sub.add_parser("terminate", parents=[common], help="terminate a subscription")
    s.add_argument("external_id")
    s.add_argument("--at")
    s.set_defaults(func=cmd_terminate)

    s = sub.add_parser("void", parents=[common],
                       help="void a finalized invoice whose payment has not succeeded (Lago's void)")
    s.add_argument("number", help="the invoice's number, e.g. TAL-1CCD-001-002")
    s.add_argument("--at", help="knowledge time (default: now)")
    s.set_defaults(func=cmd_void)

    s = sub.add_parser("ingest", parents=[common], help="ingest events from NDJSON, CSV or Parquet")
    s.add_argument("files", nargs="+")
    s.add_argument("--at", help="knowledge time (default: now)")
    s.add_argument("--format", choices=["ndjson", "csv", "parquet"], help="default: from the extension")
    s.set_defaults(func=cmd_ingest)

    s = sub.add_parser("bill", parents=[common], help="compute the marts as of a time (dbt build)")
    s.add_argument("--as-of", help="knowledge time (default: now)")
    s.add_argument("--skip-tests", action="store_true", help="run models only, no data tests")
    s.add_argument("-v", "--verbose", action="store_true", help="show dbt's output")
    s.set_defaults(func=cmd_bill)

    for name, func, helptext in (("invoices", cmd_invoices, "list invoices"), ("fees", cmd_fees, "list fees")):
        s = sub.add_parser(name, parents=[common], help=helptext)
        s.add_argument("--format", choices=["table", "json", "csv"], default="table")
        if name == "invoices":
            s.add_argument("--customer")
        else:
            s.add_argument("--subscription")
        s.set_defaults(func=func)

    s = sub.add_parser("usage", parents=[common], help="current usage of a subscription")
    s.add_argument("subscription")
    s.add_argument("--as-of", help="bill as of this time first")
    s.add_argument("--format", choices=["table", "json", "csv"], default="table")
    s.set_defaults(func=cmd_usage)

    s = sub.add_parser("replay", parents=[common], help="run a scenario on a temporary warehouse")
    s.add_argument("scenario")
    s.add_argument("--json", action="store_true", help="print invoices and usage as JSON")
    s.add_argument("--check", action="store_true", help="compare with the scenario's expectations")
    s.set_defaults(func=cmd_replay)

    s = sub.add_parser("push", parents=[common],
                       help="push finalized invoices to payment, accounting and CRM systems and webhooks (exactly once)")
    s.add_argument("--system", choices=["stripe", "gocardless", "adyen", "xero", "netsuite", "hubspot", "webhook"],
                   help="only this system (default: every configured one)")
    s.add_argument("--dry-run", action="store_true", help="print what would be pushed; send and write nothing")
    s.add_argument("--listen", metavar="[HOST:]PORT", help="instead, receive Stripe and GoCardless webhooks")
    s.add_argument("-v", "--verbose", action="store_true", help="print each push")
    s.set_defaults(func=cmd_push)

    s = sub.add_parser("demo", parents=[common], help="build the demo warehouse and print its invoices")
    s.add_argument("--events", type=int, default=3000, help="about how many demo events to generate")
    s.set_defaults(func=cmd_demo)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings(args.target)
        return args.func(args, settings) or 0
    except (ValueError, FileNotFoundError, DbtError) as exc:
        _err(f"tally: error: {exc}")
        return 2
    except Exception as exc:  # a clear one-line error for the connection failures users meet
        name = type(exc).__name__
        if name in ("OperationalError", "IOException", "ConnectionException"):
            _err(f"tally: error: cannot reach the {args.target or 'default'} warehouse: {str(exc).splitlines()[0]}")
            return 2
        raise


if __name__ == "__main__":
    sys.exit(main())
