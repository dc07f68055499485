"""`tally load`: Lago request bodies → `raw.catalog_changes`.

Every object is validated before anything is written; a file with one bad
object writes nothing. Loading a definition identical to the one in force is a
no-op, so loading the same files twice changes nothing.
"""
from __future__ import annotations

import csv
import json
import math
import re
from datetime import date, datetime, timezone
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable
from zoneinfo import available_timezones

import yaml

from .settings import project_dir
from .warehouse import Warehouse

# object_type → the field of the body that identifies it
OBJECT_KEYS = {
    "organization": None,
    "billable_metric": "code",
    "plan": "code",
    "customer": "external_id",
    "subscription": "external_id",
    "tax": "code",
    "coupon": "code",
    "applied_coupon": None,
    "add_on": "code",
    "applied_add_on": None,
    "wallet": "external_customer_id",
    "wallet_transaction": None,
    "credit_note": None,
    "invoice": None,
}
AGGREGATION_TYPES = {"count_agg", "sum_agg", "max_agg", "unique_count_agg", "latest_agg",
                     "weighted_sum_agg", "custom_agg"}
RECURRING_AGGREGATIONS = {"sum_agg", "unique_count_agg", "weighted_sum_agg", "custom_agg"}
CHARGE_MODELS = {"standard", "graduated", "graduated_percentage", "package", "percentage",
                 "volume", "dynamic"}
INTERVALS = {"weekly", "monthly", "quarterly", "semiannual", "yearly"}
BILLING_TIMES = {"calendar", "anniversary"}


class CatalogError(ValueError):
    """One invalid object: `object 'key': field: reason`."""

    def __init__(self, object_type: str, key: Any, field: str, reason: str):
        self.object_type, self.key, self.field, self.reason = object_type, key, field, reason
        super().__init__(f"{object_type} {key!r}: {field}: {reason}")


@lru_cache(maxsize=1)
def currencies() -> dict[str, int]:
    with open(project_dir() / "seeds" / "currencies.csv", newline="") as fh:
        return {row["code"]: int(row["minor_unit"]) for row in csv.DictReader(fh)}


# -- reading files ------------------------------------------------------------
def read_payload_file(path: Path) -> list[dict]:
    text = path.read_text()
    try:
        data = yaml.safe_load(text) if path.suffix in (".yaml", ".yml") else json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not valid JSON: {exc}") from None
    except yaml.YAMLError as exc:
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        raise ValueError(f"not valid YAML: {' '.join(problem.split())}{where}") from None
    items = data if isinstance(data, list) else [data]
    for i, item in enumerate(items):
        if not isinstance(item, dict) or len(item) != 1 or next(iter(item)) not in OBJECT_KEYS:
            raise ValueError(f"item {i}: expected a Lago request body such as "
                             f'{{"plan": {{...}}}}, one of: {", ".join(sorted(OBJECT_KEYS))}')
        if not isinstance(next(iter(item.values())), dict):
            raise ValueError(f"item {i}: the body of {next(iter(item))!r} must be an object")
    return items


def payload_files(paths: Iterable[str | Path]) -> list[Path]:
    files: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            files += sorted(f for f in p.rglob("*") if f.suffix in (".json", ".yaml", ".yml"))
        elif p.exists():
            files.append(p)
        else:
            raise FileNotFoundError(f"{p}: no such file or folder")
    return files


# -- validation -----------------------------------------------------------------
def _decimal(value: Any, otype: str, key: Any, field: str, *, minimum: Decimal | None = Decimal(0),
             maximum: Decimal | None = None, required: bool = True) -> Decimal | None:
    if value is None:
        if required:
            raise CatalogError(otype, key, field, "is required")
        return None
    if isinstance(value, bool):
        raise CatalogError(otype, key, field, f"must be a number, got {value!r}")
    try:
        d = Decimal(str(value))
    except InvalidOperation:
        raise CatalogError(otype, key, field, f"must be a number, got {value!r}") from None
    if not d.is_finite():
        raise CatalogError(otype, key, field, f"must be a finite number, got {value!r}")
    if minimum is not None and d < minimum:
        raise CatalogError(otype, key, field, f"must not be negative, got {value!r}" if minimum == 0
                           else f"must be at least {minimum}, got {value!r}")
    if maximum is not None and d > maximum:
        raise CatalogError(otype, key, field, f"must be at most {maximum}, got {value!r}")
    return d


def _integer(value, otype, key, field, required=True):
    d = _decimal(value, otype, key, field, required=required)
    if d is not None and d != d.to_integral_value():
        raise CatalogError(otype, key, field, f"must be a whole number, got {value!r}")
    return d


def _currency(value, otype, key, field, required=True):
    if value is None and not required:
        return
    if not isinstance(value, str) or value not in currencies():
        raise CatalogError(otype, key, field, f"{value!r} is not an ISO 4217 currency code")


# The ISO 8601 forms both warehouses can cast to a timestamp: a date, or a date and a time with
# seconds, optionally an offset (Python alone would also take 20240101T000000 or 2024-W01-1).
_ISO_DATE_TIME = re.compile(r"\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}(:?\d{2})?)?)?")


def _timestamp(value, otype, key, field):
    if value is None:
        return
    ok = isinstance(value, str) and _ISO_DATE_TIME.fullmatch(value) is not None
    if ok:
        try:
            # at most 6 decimals for Python; the warehouses round the rest
            datetime.fromisoformat(re.sub(r"(\.\d{6})\d+", r"\1", value).replace("Z", "+00:00"))
        except ValueError:
            ok = False
    if not ok:
        raise CatalogError(otype, key, field, f"{value!r} is not an ISO 8601 date-time "
                           "(such as 2024-01-31T00:00:00Z)")


@lru_cache(maxsize=1)
def _time_zones() -> frozenset[str]:
    # `localtime` names the machine's zone, which the warehouses do not know
    return frozenset(available_timezones() - {"localtime"})


def _timezone(value, otype, key, field):
    if value is None:
        return
    if not isinstance(value, str) or value not in _time_zones():
        raise CatalogError(otype, key, field, f"{value!r} is not an IANA time zone")


def _one_of(value, allowed, otype, key, field, what: str) -> None:
    """`value` must be one of the strings `allowed` (a list or a dict from YAML is not)."""
    if not isinstance(value, str) or value not in allowed:
        raise CatalogError(otype, key, field, what.format(value=value))


def _json_value(value: Any, otype: str, key: Any, field: str) -> Any:
    """`value` as it will be stored as JSON: YAML dates become ISO 8601 text and YAML's non-text
    keys become text; values neither warehouse can store (NaN, infinities, NUL) are refused."""
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            name = k if isinstance(k, str) else json.dumps(k) if isinstance(k, (bool, type(None))) else str(k)
            out[name] = _json_value(v, otype, key, f"{field}.{name}" if field else name)
        return out
    if isinstance(value, (list, tuple)):
        return [_json_value(v, otype, key, f"{field}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, float) and not math.isfinite(value):
        raise CatalogError(otype, key, field, f"must be a finite number, got {value!r}")
    if isinstance(value, str) and "\x00" in value:
        raise CatalogError(otype, key, field, "must not contain a NUL character")
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(timezone.utc).replace(tzinfo=None)
            return value.isoformat() + "Z"
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    raise CatalogError(otype, key, field, f"{type(value).__name__} is not a JSON value")


def _ranges(ranges, otype, key, field, amount_fields):
    """Graduated and volume ranges: start at 0, contiguous (next from = to + 1), open last."""
    if not isinstance(ranges, list) or not ranges:
        raise CatalogError(otype, key, field, "must be a non-empty list of ranges")
    expected_from = Decimal(0)
    for i, r in enumerate(ranges):
        f = f"{field}[{i}]"
        if not isinstance(r, dict):
            raise CatalogError(otype, key, f, "must be an object")
        frm = _decimal(r.get("from_value"), otype, key, f"{f}.from_value")
        to = _decimal(r.get("to_value"), otype, key, f"{f}.to_value", required=False)
        if frm != expected_from:
            what = "must start at 0" if i == 0 else (
                f"overlaps the previous range (expected {expected_from})" if frm < expected_from
                else f"leaves a gap after the previous range (expected {expected_from})")
            raise CatalogError(otype, key, f"{f}.from_value", what)
        last = i == len(ranges) - 1
        if to is None and not last:
            raise CatalogError(otype, key, f"{f}.to_value", "only the last range may be open-ended")
        if to is not None and last:
            raise CatalogError(otype, key, f"{f}.to_value", "the last range must be open-ended (null)")
        if to is not None and to <= frm:
            raise CatalogError(otype, key, f"{f}.to_value", f"must be greater than from_value ({frm})")
        for a in amount_fields:
            _decimal(r.get(a), otype, key, f"{f}.{a}")
        if to is not None:
            expected_from = to + 1


#: Aggregations whose events can be priced one by one, in advance (as in Lago).
IN_ADVANCE_AGGREGATIONS = {"count_agg", "sum_agg", "unique_count_agg"}
#: Charge models Lago prorates on recurring metrics.
PRORATED_MODELS = {"standard", "graduated", "volume"}


def _usage_thresholds(thresholds: Any, key: str) -> None:
    """A plan's progressive billing thresholds (Lago's usage_thresholds): amounts in cents, whole
    and positive; one recurring threshold at most; no two non-recurring ones with the same amount
    (Lago's uniqueness of amount_cents per plan and recurring flag)."""
    otype = "plan"
    if thresholds is None:
        return
    if not isinstance(thresholds, list):
        raise CatalogError(otype, key, "usage_thresholds", "must be a list")
    fixed: set[Decimal] = set()
    recurring = 0
    for i, th in enumerate(thresholds):
        f = f"usage_thresholds[{i}]"
        if not isinstance(th, dict):
            raise CatalogError(otype, key, f, "must be an object")
        amount = th.get("amount_cents")
        if isinstance(amount, bool) or not isinstance(amount, (int, str)) or (
                isinstance(amount, str) and not amount.strip().isdigit()):
            raise CatalogError(otype, key, f"{f}.amount_cents", f"must be a positive whole number, got {amount!r}")
        amount = Decimal(str(amount).strip())
        if amount <= 0:
            raise CatalogError(otype, key, f"{f}.amount_cents", f"must be a positive whole number, got {th.get('amount_cents')!r}")
        flag = th.get("recurring", False)
        if not isinstance(flag, bool):
            raise CatalogError(otype, key, f"{f}.recurring", f"must be true or false, got {flag!r}")
        name = th.get("threshold_display_name")
        if name is not None and not isinstance(name, str):
            raise CatalogError(otype, key, f"{f}.threshold_display_name", f"must be a string, got {name!r}")
        if flag:
            recurring += 1
            if recurring > 1:
                raise CatalogError(otype, key, f"{f}.recurring", "a plan has at most one recurring threshold")
        else:
            if amount in fixed:
                raise CatalogError(otype, key, f"{f}.amount_cents",
                                   f"another non-recurring threshold has the amount {int(amount)}")
            fixed.add(amount)


def _charge_options(ch: dict, model: str, metric: dict, key: str, field: str) -> None:
    """pay_in_advance, invoiceable and prorated, where Lago allows them."""
    otype = "plan"
    for flag in ("pay_in_advance", "invoiceable", "prorated"):
        if flag in ch and not isinstance(ch[flag], bool):
            raise CatalogError(otype, key, f"{field}.{flag}", f"must be true or false, got {ch[flag]!r}")
    aggregation = metric.get("aggregation_type")
    if ch.get("pay_in_advance"):
        if model == "volume":
            raise CatalogError(otype, key, f"{field}.pay_in_advance", "a volume charge cannot be paid in advance")
        if aggregation not in IN_ADVANCE_AGGREGATIONS:
            raise CatalogError(otype, key, f"{field}.pay_in_advance",
                               f"a {aggregation} metric cannot be paid in advance "
                               f"(only {', '.join(sorted(IN_ADVANCE_AGGREGATIONS))})")
    elif ch.get("invoiceable") is False:
        raise CatalogError(otype, key, f"{field}.invoiceable", "only a pay-in-advance charge can be non-invoiceable")
    if ch.get("prorated"):
        if model not in PRORATED_MODELS:
            raise CatalogError(otype, key, f"{field}.prorated",
                               f"a {model} charge cannot be prorated (only {', '.join(sorted(PRORATED_MODELS))})")
        if not metric.get("recurring") or aggregation not in ("sum_agg", "unique_count_agg"):
            raise CatalogError(otype, key, f"{field}.prorated",
                               "only charges on recurring sum_agg or unique_count_agg metrics can be prorated")


def validate_charge_properties(model: str, props: Any, key: str, field: str) -> None:
    otype = "plan"
    if props is None:
        props = {}
    if not isinstance(props, dict):
        raise CatalogError(otype, key, field, "must be an object")
    if model == "standard":
        _decimal(props.get("amount"), otype, key, f"{field}.amount")
    elif model == "graduated":
        _ranges(props.get("graduated_ranges"), otype, key, f"{field}.graduated_ranges",
                ("per_unit_amount", "flat_amount"))
    elif model == "graduated_percentage":
        _ranges(props.get("graduated_percentage_ranges"), otype, key,
                f"{field}.graduated_percentage_ranges", ("rate", "flat_amount"))
    elif model == "volume":
        _ranges(props.get("volume_ranges"), otype, key, f"{field}.volume_ranges",
                ("per_unit_amount", "flat_amount"))
    elif model == "package":
        _decimal(props.get("amount"), otype, key, f"{field}.amount")
        size = _integer(props.get("package_size"), otype, key, f"{field}.package_size")
        if size == 0:
            raise CatalogError(otype, key, f"{field}.package_size", "must be at least 1")
        _integer(props.get("free_units", 0), otype, key, f"{field}.free_units")
    elif model == "percentage":
        _decimal(props.get("rate"), otype, key, f"{field}.rate", maximum=Decimal(100))
        for f in ("fixed_amount", "per_transaction_min_amount", "per_transaction_max_amount"):
            _decimal(props.get(f), otype, key, f"{field}.{f}", required=False)
        for f in ("free_units_per_events",):
            _integer(props.get(f), otype, key, f"{field}.{f}", required=False)
        _decimal(props.get("free_units_per_total_aggregation"), otype, key,
                 f"{field}.free_units_per_total_aggregation", required=False)
        lo, hi = props.get("per_transaction_min_amount"), props.get("per_transaction_max_amount")
        if lo is not None and hi is not None and Decimal(str(lo)) > Decimal(str(hi)):
            raise CatalogError(otype, key, f"{field}.per_transaction_min_amount",
                               "must not exceed per_transaction_max_amount")


class Catalog:
    """What is known of the catalog: the warehouse's latest versions plus this load."""

    def __init__(self, wh: Warehouse):
        self.wh = wh
        self.current: dict[tuple[str, str], dict] = {}
        cols, rows = wh.query(
            f"""
            select object_type, object_key, action, cast(payload as varchar) as payload
            from (
                select *, row_number() over (
                    partition by object_type, object_key order by received_at desc, seq desc) as rn
                from "{wh.raw}".catalog_changes
            ) latest where rn = 1
            """
        )
        for otype, okey, action, payload in rows:
            if action != "delete":
                self.current[(otype, okey)] = {"action": action, "payload": json.loads(payload)}

    def has(self, otype: str, key: str) -> bool:
        return (otype, key) in self.current

    def body(self, otype: str, key: str) -> dict | None:
        entry = self.current.get((otype, key))
        return entry["payload"][otype] if entry else None


def object_key(otype: str, body: dict) -> str:
    field = OBJECT_KEYS[otype]
    if otype == "organization":
        return "default"
    if otype == "applied_coupon":
        return f'{body.get("external_customer_id")}/{body.get("coupon_code")}'
    if otype == "applied_add_on":
        return f'{body.get("external_customer_id")}/{body.get("add_on_code")}/{body.get("id", "")}'
    if otype == "wallet":
        # a customer's wallet, by its code (Lago's wallets carry one; "default" when not given)
        customer = body.get("external_customer_id")
        if customer is None or (isinstance(customer, str) and not customer.strip()):
            raise CatalogError(otype, None, "external_customer_id", "is required")
        return f'{customer}/{body.get("code") or "default"}'
    if otype == "wallet_transaction":
        return f'{wallet_key(body)}/{body.get("id", "")}'
    if otype == "credit_note":
        # Lago's POST /credit_notes: several credit notes may name one invoice; the same body twice
        # is one credit note unless it carries its own `id`
        import hashlib

        invoice = body.get("invoice_id")
        if not invoice or not isinstance(invoice, str):
            raise CatalogError(otype, None, "invoice_id", "is required")
        ident = body.get("id") or hashlib.sha1(_canonical(body).encode()).hexdigest()[:16]
        return f"{invoice}/{ident}"
    if otype == "invoice":
        if body.get("invoice_id"):
            # an action on an invoice Tally issued (a void): keyed by that invoice's id
            return str(body["invoice_id"])
        # a one-off invoice (Lago's POST /invoices): the same body twice is one invoice unless
        # it carries its own `id`
        import hashlib

        ident = body.get("id") or hashlib.sha1(_canonical(body).encode()).hexdigest()[:16]
        return f'{body.get("external_customer_id")}/{ident}'
    value = body.get(field)
    if value is None or (isinstance(value, str) and not value.strip()):
        raise CatalogError(otype, None, field, "is required")
    if not isinstance(value, (str, int)) or isinstance(value, bool):
        raise CatalogError(otype, None, field, f"must be a string, got {value!r}")
    return str(value)


def validate(otype: str, body: dict, catalog: Catalog) -> None:
    key = object_key(otype, body)
    if otype == "billable_metric":
        agg = body.get("aggregation_type")
        _one_of(agg, AGGREGATION_TYPES, otype, key, "aggregation_type", "unknown aggregation type {value!r}")
        if agg == "custom_agg":
            # Lago runs custom aggregations with code written for one organization; there is no
            # definition to bring, so refusing it beats billing its events as 0.
            raise CatalogError(otype, key, "aggregation_type",
                               "custom_agg is not supported: Lago computes it with organization-specific code")
        if agg not in ("count_agg", "custom_agg") and not body.get("field_name"):
            raise CatalogError(otype, key, "field_name", f"is required for {agg}")
        if body.get("recurring") and agg not in RECURRING_AGGREGATIONS:
            raise CatalogError(otype, key, "recurring", f"{agg} cannot be recurring")
        filters = body.get("filters") or []
        if not isinstance(filters, list):
            raise CatalogError(otype, key, "filters", "must be a list")
        for i, f in enumerate(filters):
            if not isinstance(f, dict) or not f.get("key") or not isinstance(f.get("values"), list) \
                    or not f["values"]:
                raise CatalogError(otype, key, f"filters[{i}]", "needs a key and a non-empty list of values")
        expression = body.get("expression")
        if expression not in (None, ""):
            from .expressions import ExpressionError, parse_expression

            try:
                parse_expression(expression)
            except ExpressionError as exc:
                raise CatalogError(otype, key, "expression", str(exc)) from None
    elif otype == "plan":
        if not body.get("name"):
            raise CatalogError(otype, key, "name", "is required")
        _one_of(body.get("interval"), INTERVALS, otype, key, "interval",
                f"must be one of {', '.join(sorted(INTERVALS))}, got {{value!r}}")
        _integer(body.get("amount_cents"), otype, key, "amount_cents")
        _currency(body.get("amount_currency"), otype, key, "amount_currency")
        _integer(body.get("trial_period", 0), otype, key, "trial_period")
        _integer(body.get("minimum_commitment", {}).get("amount_cents") if isinstance(
            body.get("minimum_commitment"), dict) else None, otype, key,
            "minimum_commitment.amount_cents", required=False)
        _tax_codes(body.get("tax_codes"), otype, key, "tax_codes", catalog)
        charges = body.get("charges") or []
        if not isinstance(charges, list):
            raise CatalogError(otype, key, "charges", "must be a list")
        for i, ch in enumerate(charges):
            f = f"charges[{i}]"
            if not isinstance(ch, dict):
                raise CatalogError(otype, key, f, "must be an object")
            code = ch.get("billable_metric_code")
            if not code or not catalog.has("billable_metric", str(code)):
                raise CatalogError(otype, key, f"{f}.billable_metric_code",
                                   f"billable metric {code!r} does not exist")
            model = ch.get("charge_model")
            _one_of(model, CHARGE_MODELS, otype, key, f"{f}.charge_model", "unknown charge model {value!r}")
            validate_charge_properties(model, ch.get("properties"), key, f"{f}.properties")
            filters = ch.get("filters") or []
            if not isinstance(filters, list):
                raise CatalogError(otype, key, f"{f}.filters", "must be a list")
            metric = catalog.body("billable_metric", str(code)) or {}
            declared = {mf.get("key"): set(map(str, mf.get("values") or []))
                        for mf in (metric.get("filters") or []) if isinstance(mf, dict)}
            for j, flt in enumerate(filters):
                if not isinstance(flt, dict):
                    raise CatalogError(otype, key, f"{f}.filters[{j}]", "must be an object")
                values = flt.get("values")
                if not isinstance(values, dict) or not values:
                    raise CatalogError(otype, key, f"{f}.filters[{j}].values",
                                       "must be an object of property keys to lists of values")
                for fkey, fvalues in values.items():
                    if fkey not in declared:
                        raise CatalogError(otype, key, f"{f}.filters[{j}].values.{fkey}",
                                           f"billable metric {code!r} has no filter on {fkey!r}")
                    if not isinstance(fvalues, list) or not fvalues:
                        raise CatalogError(otype, key, f"{f}.filters[{j}].values.{fkey}",
                                           "must be a non-empty list of values")
                    unknown = [v for v in fvalues if str(v) not in declared[fkey]]
                    if unknown:
                        raise CatalogError(otype, key, f"{f}.filters[{j}].values.{fkey}",
                                           f"{unknown[0]!r} is not one of the metric's values for {fkey!r}")
                validate_charge_properties(model, flt.get("properties"), key, f"{f}.filters[{j}].properties")
            _integer(ch.get("min_amount_cents"), otype, key, f"{f}.min_amount_cents", required=False)
            _tax_codes(ch.get("tax_codes"), otype, key, f"{f}.tax_codes", catalog)
            _charge_options(ch, model, metric, key, f)
        _usage_thresholds(body.get("usage_thresholds"), key)
    elif otype == "customer":
        _currency(body.get("currency"), otype, key, "currency", required=False)
        _timezone(body.get("timezone"), otype, key, "timezone")
        _integer(body.get("net_payment_term"), otype, key, "net_payment_term", required=False)
        _integer(body.get("invoice_grace_period"), otype, key, "invoice_grace_period", required=False)
        _tax_codes(body.get("tax_codes"), otype, key, "tax_codes", catalog)
        _sync_settings(body, key)
    elif otype == "organization":
        _timezone(body.get("timezone"), otype, key, "timezone")
        _currency(body.get("default_currency"), otype, key, "default_currency", required=False)
        _integer(body.get("net_payment_term"), otype, key, "net_payment_term", required=False)
        _integer(body.get("invoice_grace_period"), otype, key, "invoice_grace_period", required=False)
        urls = body.get("webhook_urls")
        if urls is not None:
            if not isinstance(urls, list):
                raise CatalogError(otype, key, "webhook_urls", "must be a list of http(s) URLs")
            for i, url in enumerate(urls):
                if not isinstance(url, str) or not re.match(r"https?://[^\s/]+", url):
                    raise CatalogError(otype, key, f"webhook_urls[{i}]", f"{url!r} is not an http(s) URL")
    elif otype == "subscription":
        cust = body.get("external_customer_id")
        if not cust or not catalog.has("customer", str(cust)):
            raise CatalogError(otype, key, "external_customer_id", f"customer {cust!r} does not exist")
        plan = body.get("plan_code")
        if not plan or not catalog.has("plan", str(plan)):
            raise CatalogError(otype, key, "plan_code", f"plan {plan!r} does not exist")
        _one_of(body.get("billing_time", "calendar"), BILLING_TIMES, otype, key, "billing_time",
                "must be calendar or anniversary, got {value!r}")
        _timestamp(body.get("subscription_at"), otype, key, "subscription_at")
        _timestamp(body.get("ending_at"), otype, key, "ending_at")
        plan_body = catalog.body("plan", str(plan))
        cust_body = catalog.body("customer", str(cust))
        if plan_body and cust_body and cust_body.get("currency") and \
                cust_body["currency"] != plan_body.get("amount_currency"):
            raise CatalogError(otype, key, "plan_code", f"plan currency {plan_body.get('amount_currency')} "
                               f"differs from the customer's currency {cust_body['currency']}")
    elif otype == "tax":
        if not body.get("name"):
            raise CatalogError(otype, key, "name", "is required")
        _decimal(body.get("rate"), otype, key, "rate", maximum=Decimal(100))
    elif otype == "applied_coupon":
        _validate_applied_coupon(body, key, catalog)
    elif otype == "invoice":
        _validate_one_off_invoice(body, key, catalog)
    elif otype == "applied_add_on":
        _must_exist(catalog, "customer", body.get("external_customer_id"), otype, key, "external_customer_id")
        _must_exist(catalog, "add_on", body.get("add_on_code"), otype, key, "add_on_code", "add-on")
        _integer(body.get("amount_cents"), otype, key, "amount_cents", required=False)
        _tax_codes(body.get("tax_codes"), otype, key, "tax_codes", catalog)
    elif otype == "coupon":
        ctype = body.get("coupon_type")
        if ctype not in ("fixed_amount", "percentage"):
            raise CatalogError(otype, key, "coupon_type", f"must be fixed_amount or percentage, got {ctype!r}")
        if ctype == "fixed_amount":
            _integer(body.get("amount_cents"), otype, key, "amount_cents")
            _currency(body.get("amount_currency"), otype, key, "amount_currency")
        else:
            _decimal(body.get("percentage_rate"), otype, key, "percentage_rate", maximum=Decimal(100))
        freq = body.get("frequency", "once")
        if freq not in ("once", "recurring", "forever"):
            raise CatalogError(otype, key, "frequency", f"must be once, recurring or forever, got {freq!r}")
        if freq == "recurring":
            _integer(body.get("frequency_duration"), otype, key, "frequency_duration")
        expiration = body.get("expiration", "no_expiration")
        if expiration not in ("no_expiration", "time_limit"):
            raise CatalogError(otype, key, "expiration", f"must be no_expiration or time_limit, got {expiration!r}")
        if expiration == "time_limit" and not body.get("expiration_at"):
            raise CatalogError(otype, key, "expiration_at", "is required with expiration time_limit")
        _timestamp(body.get("expiration_at"), otype, key, "expiration_at")
        applies_to = body.get("applies_to")
        if applies_to is not None:
            if not isinstance(applies_to, dict):
                raise CatalogError(otype, key, "applies_to", "must be an object")
            plans = applies_to.get("plan_codes") or []
            metrics = applies_to.get("billable_metric_codes") or []
            if plans and metrics:
                raise CatalogError(otype, key, "applies_to",
                                   "limits to plans or to billable metrics, not both")
            for field, codes, kind in (("plan_codes", plans, "plan"), ("billable_metric_codes", metrics,
                                                                       "billable_metric")):
                if not isinstance(codes, list):
                    raise CatalogError(otype, key, f"applies_to.{field}", "must be a list")
                for i, c in enumerate(codes):
                    _must_exist(catalog, kind, c, otype, key, f"applies_to.{field}[{i}]")
    elif otype == "add_on":
        if not body.get("name"):
            raise CatalogError(otype, key, "name", "is required")
        _integer(body.get("amount_cents"), otype, key, "amount_cents")
        _currency(body.get("amount_currency"), otype, key, "amount_currency")
        _tax_codes(body.get("tax_codes"), otype, key, "tax_codes", catalog)
    elif otype == "wallet":
        _validate_wallet(body, key, catalog)
    elif otype == "wallet_transaction":
        _validate_wallet_transaction(body, key, catalog)
    elif otype == "credit_note":
        from .credit_notes import check_shape

        check_shape(body)


def wallet_key(body: dict) -> str:
    """The wallet a wallet transaction names: `wallet_id` (the wallet's key,
    EXTERNAL_CUSTOMER_ID/CODE), else the customer's wallet of `wallet_code` ("default")."""
    if body.get("wallet_id"):
        return str(body["wallet_id"])
    return f'{body.get("external_customer_id")}/{body.get("wallet_code") or "default"}'


WALLET_INTERVALS = {"weekly", "monthly", "quarterly", "semiannual", "yearly"}


def _validate_wallet(body: dict, key: str, catalog: "Catalog") -> None:
    otype = "wallet"
    customer_id = body.get("external_customer_id")
    _must_exist(catalog, "customer", customer_id, otype, key, "external_customer_id")
    rate = _decimal(body.get("rate_amount"), otype, key, "rate_amount")
    if rate == 0:
        raise CatalogError(otype, key, "rate_amount", "must be greater than 0")
    _currency(body.get("currency"), otype, key, "currency")
    customer_currency = (catalog.body("customer", str(customer_id)) or {}).get("currency")
    if customer_currency and body.get("currency") != customer_currency:
        raise CatalogError(otype, key, "currency",
                           f"{body.get('currency')!r} differs from the customer's currency {customer_currency!r}")
    for f in ("paid_credits", "granted_credits"):
        _decimal(body.get(f), otype, key, f, required=False)
    _timestamp(body.get("expiration_at"), otype, key, "expiration_at")
    priority = _integer(body.get("priority"), otype, key, "priority", required=False)
    if priority is not None and not 1 <= priority <= 50:
        raise CatalogError(otype, key, "priority", f"must be between 1 and 50, got {body.get('priority')!r}")
    current = catalog.body("wallet", key)
    if current is not None:
        # Lago keeps a wallet's credit value and currency for its whole life
        for f in ("rate_amount", "currency"):
            if str(current.get(f)) != str(body.get(f)) and _decimal_or_text(current.get(f)) != _decimal_or_text(body.get(f)):
                raise CatalogError(otype, key, f, f"cannot change ({current.get(f)!r} → {body.get(f)!r})")
    else:
        # one active wallet per customer: invoices take prepaid credits from it
        for (kind, other), entry in catalog.current.items():
            if kind == "wallet" and other != key and entry["action"] == "upsert" \
                    and entry["payload"]["wallet"].get("external_customer_id") == customer_id:
                raise CatalogError(otype, key, "external_customer_id",
                                   f"customer {customer_id!r} already has the active wallet {other!r}; "
                                   "terminate it first")
    rules = body.get("recurring_transaction_rules")
    if rules is None:
        return
    if not isinstance(rules, list):
        raise CatalogError(otype, key, "recurring_transaction_rules", "must be a list")
    threshold_rules = 0
    for i, rule in enumerate(rules):
        field = f"recurring_transaction_rules[{i}]"
        if not isinstance(rule, dict):
            raise CatalogError(otype, key, field, "must be an object")
        trigger = rule.get("trigger")
        _one_of(trigger, {"interval", "threshold"}, otype, key, f"{field}.trigger",
                "must be interval or threshold, got {value!r}")
        method = rule.get("method", "fixed")
        _one_of(method, {"fixed", "target"}, otype, key, f"{field}.method", "must be fixed or target, got {value!r}")
        if method == "target" and trigger != "threshold":
            # a target is reached when the ongoing balance falls: Tally tops up to it on thresholds only
            raise CatalogError(otype, key, f"{field}.method",
                               "target is supported with trigger threshold only")
        if trigger == "threshold":
            threshold_rules += 1
            if threshold_rules > 1:
                raise CatalogError(otype, key, field, "a wallet has at most one threshold rule")
            # required, and not negative
            _decimal(rule.get("threshold_credits"), otype, key, f"{field}.threshold_credits")
            if method == "target":
                _decimal(rule.get("target_ongoing_balance"), otype, key, f"{field}.target_ongoing_balance")
            _timestamp(rule.get("expiration_at"), otype, key, f"{field}.expiration_at")
        else:
            _one_of(rule.get("interval"), WALLET_INTERVALS, otype, key, f"{field}.interval",
                    "must be weekly, monthly, quarterly, semiannual or yearly, got {value!r}")
            _timestamp(rule.get("started_at"), otype, key, f"{field}.started_at")
        for f in ("paid_credits", "granted_credits"):
            _decimal(rule.get(f), otype, key, f"{field}.{f}", required=False)


def _decimal_or_text(value):
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return value


def _validate_wallet_transaction(body: dict, key: str, catalog: "Catalog") -> None:
    otype = "wallet_transaction"
    wallet = wallet_key(body)
    entry = catalog.current.get(("wallet", wallet))
    if entry is None:
        raise CatalogError(otype, key, "wallet_id", f"wallet {wallet!r} does not exist")
    if entry["action"] != "upsert":
        raise CatalogError(otype, key, "wallet_id", f"wallet {wallet!r} is terminated")
    amounts = [_decimal(body.get(f), otype, key, f, required=False)
               for f in ("paid_credits", "granted_credits", "voided_credits")]
    if not any(amounts):
        raise CatalogError(otype, key, "paid_credits",
                           "one of paid_credits, granted_credits or voided_credits must be greater than 0")


def _must_exist(catalog: "Catalog", kind: str, value, otype, key, field, label: str | None = None) -> None:
    """`field` names an existing catalog object of `kind` (a customer, an add-on, ...)."""
    if not value or not catalog.has(kind, str(value)):
        raise CatalogError(otype, key, field, f"{label or kind.replace('_', ' ')} {value!r} does not exist")


def _tax_codes(codes, otype, key, field, catalog: "Catalog") -> None:
    """Lago refuses tax codes that name no tax."""
    if codes is None:
        return
    if not isinstance(codes, list):
        raise CatalogError(otype, key, field, "must be a list of tax codes")
    for i, code in enumerate(codes):
        if not isinstance(code, str) or not catalog.has("tax", code):
            raise CatalogError(otype, key, f"{field}[{i}]", f"tax {code!r} does not exist")


def _validate_applied_coupon(body: dict, key: str, catalog: "Catalog") -> None:
    otype = "applied_coupon"
    _must_exist(catalog, "customer", body.get("external_customer_id"), otype, key, "external_customer_id")
    code = body.get("coupon_code")
    coupon = catalog.body("coupon", str(code)) if code else None
    if coupon is None:
        raise CatalogError(otype, key, "coupon_code", f"coupon {code!r} does not exist")
    _integer(body.get("amount_cents"), otype, key, "amount_cents", required=False)
    _currency(body.get("amount_currency"), otype, key, "amount_currency", required=False)
    _decimal(body.get("percentage_rate"), otype, key, "percentage_rate", maximum=Decimal(100), required=False)
    freq = body.get("frequency")
    if freq is not None and freq not in ("once", "recurring", "forever"):
        raise CatalogError(otype, key, "frequency", f"must be once, recurring or forever, got {freq!r}")
    _integer(body.get("frequency_duration"), otype, key, "frequency_duration",
             required=(freq == "recurring" and coupon.get("frequency") != "recurring"))


def _validate_one_off_invoice(body: dict, key: str, catalog: "Catalog") -> None:
    """Lago's POST /invoices: add-on fees billed at once on an invoice of type one_off."""
    otype = "invoice"
    cust = body.get("external_customer_id")
    _must_exist(catalog, "customer", cust, otype, key, "external_customer_id")
    _currency(body.get("currency"), otype, key, "currency", required=False)
    cust_body = catalog.body("customer", str(cust)) or {}
    if body.get("currency") and cust_body.get("currency") and body["currency"] != cust_body["currency"]:
        raise CatalogError(otype, key, "currency", f"{body['currency']} differs from the customer's "
                           f"currency {cust_body['currency']}")
    fees = body.get("fees")
    if not isinstance(fees, list) or not fees:
        raise CatalogError(otype, key, "fees", "must be a non-empty list of add-on fees")
    for i, fee in enumerate(fees):
        f = f"fees[{i}]"
        if not isinstance(fee, dict):
            raise CatalogError(otype, key, f, "must be an object")
        _must_exist(catalog, "add_on", fee.get("add_on_code"), otype, key, f"{f}.add_on_code", "add-on")
        _decimal(fee.get("units"), otype, key, f"{f}.units", required=False)
        _integer(fee.get("unit_amount_cents"), otype, key, f"{f}.unit_amount_cents", required=False)
        _tax_codes(fee.get("tax_codes"), otype, key, f"{f}.tax_codes", catalog)


PAYMENT_PROVIDERS = {"stripe", "gocardless", "adyen"}
INTEGRATION_TYPES = {"xero", "netsuite", "hubspot", "anrok", "avalara", "salesforce"}
HUBSPOT_TARGETS = {"companies", "contacts"}


def _optional_text(value, otype, key, field):
    if value is not None and (not isinstance(value, str) or not value.strip()):
        raise CatalogError(otype, key, field, f"must be a non-empty string, got {value!r}")


def _optional_bool(value, otype, key, field):
    if value is not None and not isinstance(value, bool):
        raise CatalogError(otype, key, field, f"must be true or false, got {value!r}")


def _sync_settings(body: dict, key: str) -> None:
    """Lago's `billing_configuration` (payment provider) and `integration_customers` (accounting and
    CRM systems): what the push layer syncs the customer and its invoices to."""
    otype = "customer"
    bc = body.get("billing_configuration")
    if bc is not None:
        if not isinstance(bc, dict):
            raise CatalogError(otype, key, "billing_configuration", "must be an object")
        provider = bc.get("payment_provider")
        if provider is not None:
            _one_of(provider, PAYMENT_PROVIDERS, otype, key, "billing_configuration.payment_provider",
                    f"must be one of {', '.join(sorted(PAYMENT_PROVIDERS))}, got {{value!r}}")
        for f in ("provider_customer_id", "payment_provider_code"):
            _optional_text(bc.get(f), otype, key, f"billing_configuration.{f}")
        for f in ("sync", "sync_with_provider"):
            _optional_bool(bc.get(f), otype, key, f"billing_configuration.{f}")
        if provider is None and (bc.get("provider_customer_id") or bc.get("sync_with_provider")):
            raise CatalogError(otype, key, "billing_configuration.payment_provider",
                               "is required with provider_customer_id or sync_with_provider")
    ics = body.get("integration_customers")
    if ics is None:
        return
    if not isinstance(ics, list):
        raise CatalogError(otype, key, "integration_customers", "must be a list")
    seen = set()
    for i, ic in enumerate(ics):
        f = f"integration_customers[{i}]"
        if not isinstance(ic, dict):
            raise CatalogError(otype, key, f, "must be an object")
        kind = ic.get("integration_type")
        _one_of(kind, INTEGRATION_TYPES, otype, key, f"{f}.integration_type",
                f"must be one of {', '.join(sorted(INTEGRATION_TYPES))}, got {{value!r}}")
        if kind in seen:
            raise CatalogError(otype, key, f"{f}.integration_type", f"{kind} is listed twice")
        seen.add(kind)
        for g in ("external_customer_id", "integration_code", "subsidiary_id"):
            v = ic.get(g)
            _optional_text(str(v) if isinstance(v, int) and not isinstance(v, bool) else v, otype, key, f"{f}.{g}")
        _optional_bool(ic.get("sync_with_provider"), otype, key, f"{f}.sync_with_provider")
        if kind == "hubspot" and ic.get("targeted_object") is not None:
            _one_of(ic.get("targeted_object"), HUBSPOT_TARGETS, otype, key, f"{f}.targeted_object",
                    "must be companies or contacts, got {value!r}")


def _canonical(body: dict) -> str:
    return json.dumps(body, sort_keys=True, separators=(",", ":"))


def utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None, microsecond=0)


def load_objects(wh: Warehouse, items: list[dict], received_at: datetime,
                 action: str = "upsert") -> tuple[int, int]:
    """Validate then append `items`; returns (written, unchanged). Raises CatalogError, writing nothing."""
    wh.ensure_raw()
    catalog = Catalog(wh)
    pending = []
    for item in items:
        otype, body = next(iter(item.items()))
        guess = body.get(OBJECT_KEYS[otype]) if OBJECT_KEYS[otype] else None
        body = _json_value(body, otype, guess if isinstance(guess, (str, int)) else None, "")
        item = {otype: body}
        if action == "upsert":
            validate(otype, body, catalog)
            if otype == "applied_coupon":
                _check_not_expired(body, catalog, received_at)
        key = object_key(otype, body)
        if otype == "credit_note" and action == "upsert":
            # against the invoice as the marts last computed it (its fees, earlier credit notes, payment)
            from .credit_notes import check_against_invoice

            check_against_invoice(wh, body, received_at, key)
        current = catalog.current.get((otype, key))
        if current and current["action"] == action and _canonical(current["payload"]) == _canonical(item):
            continue
        catalog.current[(otype, key)] = {"action": action, "payload": item}
        pending.append((otype, key, action, _canonical(item)))
    if pending:
        _, rows = wh.query(f'select coalesce(max(seq), 0) from "{wh.raw}".catalog_changes')
        seq0 = rows[0][0]
        with wh.transaction():
            wh.executemany(
                f'insert into "{wh.raw}".catalog_changes (object_type, object_key, action, payload, '
                "received_at, seq) values (?, ?, ?, ?, ?, ?)",
                [(o, k, a, p, received_at, seq0 + i + 1) for i, (o, k, a, p) in enumerate(pending)],
            )
    return len(pending), len(items) - len(pending)


def _check_not_expired(body: dict, catalog: Catalog, received_at: datetime) -> None:
    """A coupon past its expiration_at can no longer be applied (Lago)."""
    coupon = catalog.body("coupon", str(body.get("coupon_code"))) or {}
    expiration_at = coupon.get("expiration_at")
    if coupon.get("expiration", "time_limit" if expiration_at else "no_expiration") == "time_limit" and expiration_at:
        ends = datetime.fromisoformat(re.sub(r"(\.\d{6})\d+", r"\1", expiration_at).replace("Z", "+00:00"))
        if ends.tzinfo is not None:
            ends = ends.astimezone(timezone.utc).replace(tzinfo=None)
        if received_at > ends:
            raise CatalogError("applied_coupon", object_key("applied_coupon", body), "coupon_code",
                               f"coupon {body.get('coupon_code')!r} expired at {expiration_at}")


def load_paths(wh: Warehouse, paths: Iterable[str | Path], received_at: datetime | None = None
               ) -> list[tuple[Path, int, int]]:
    """Load each file in its own all-or-nothing unit. Raises ValueError naming the file."""
    received_at = received_at or utcnow()
    results = []
    for path in payload_files(paths):
        try:
            items = read_payload_file(path)
            written, unchanged = load_objects(wh, items, received_at)
        except (CatalogError, ValueError) as exc:
            raise ValueError(f"{path}: {exc}") from None
        results.append((path, written, unchanged))
    return results


def terminate_wallet(wh: Warehouse, body: dict, at: datetime | None = None) -> None:
    """Lago's DELETE /wallets/:id: the wallet stops at `at`; its remaining credits are lost."""
    wh.ensure_raw()
    key = object_key("wallet", body)
    current = Catalog(wh).current.get(("wallet", key))
    if current is None:
        raise ValueError(f"wallet {key!r}: does not exist")
    if current["action"] == "terminate":
        raise ValueError(f"wallet {key!r}: already terminated")
    load_objects(wh, [{"wallet": {"external_customer_id": body["external_customer_id"],
                                  "code": key.split("/", 1)[1]}}], at or utcnow(), action="terminate")


def void_invoice(wh: Warehouse, invoice: dict, at: datetime | None = None) -> None:
    """Lago's POST /invoices/:id/void: `invoice` (a row of fct_invoices) stops being due at `at`.
    As in Lago, only a finalized invoice whose payment has not succeeded can be voided, once."""
    wh.ensure_raw()
    at = at or utcnow()
    label = f"invoice {invoice['number']!r}"
    if invoice["status"] != "finalized":
        raise ValueError(f"{label}: status: is {invoice['status']}; only a finalized invoice can be voided")
    catalog = Catalog(wh)
    current = catalog.current.get(("invoice", invoice["invoice_id"]))
    if current is not None and current["action"] == "void":
        raise ValueError(f"{label}: already voided")
    # Lago voids no invoice that has credit notes: requested ones (the log), automatic ones (the marts)
    credited = any(kind == "credit_note" and entry["payload"]["credit_note"].get("invoice_id") == invoice["invoice_id"]
                   for (kind, _), entry in catalog.current.items())
    if not credited and wh.relation_exists(wh.settings.schema, "fct_credit_notes"):
        _, [(n,)] = wh.query(f'select count(*) from "{wh.settings.schema}".fct_credit_notes where invoice_id = ?',
                             [invoice["invoice_id"]])
        credited = n > 0
    if credited:
        raise ValueError(f"{label}: has credit notes; an invoice with credit notes cannot be voided")
    from .push.payments import payment_status  # the push layer imports this module

    if payment_status(wh, invoice, at) == "succeeded":
        raise ValueError(f"{label}: payment_status: succeeded; a paid invoice cannot be voided")
    load_objects(wh, [{"invoice": {"invoice_id": invoice["invoice_id"], "number": invoice["number"]}}], at,
                 action="void")


def terminate(wh: Warehouse, external_id: str, at: datetime | None = None) -> None:
    wh.ensure_raw()
    catalog = Catalog(wh)
    current = catalog.current.get(("subscription", external_id))
    if current is None:
        raise ValueError(f"subscription {external_id!r}: external_id: does not exist")
    if current["action"] == "terminate":
        raise ValueError(f"subscription {external_id!r}: already terminated")
    load_objects(wh, [{"subscription": {"external_id": external_id}}], at or utcnow(), action="terminate")
