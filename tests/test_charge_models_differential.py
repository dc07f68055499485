"""Differential tests: the SQL of int_charges__amounts against the pure-Python reference
(tests/reference/charge_models.py), on thousands of random cases, on DuckDB and PostgreSQL.

How: the project is built once per warehouse (an empty one), the model is compiled, and every
relation its SQL reads (int_charges__period_units, int_charges__tiers, currencies, ...) is
replaced by an empty copy in a scratch schema. Each hypothesis example fills the copies with a
batch of a few hundred generated cases and runs the compiled SQL once; every row must equal the
reference to the precise amount (precise_amount_cents, exact) and to the cent (rounded half away
from zero, as int_fees__computed does). A disagreement is shrunk to a minimal case by re-running
the SQL on simplified variants, and reported with both sides.

Adding a charge model = adding a ModelSpec to MODELS (a batch strategy whose cases know their
rows and their reference amount); the models the SQL does not support yet are in the list too,
skipped with what is missing.
"""
from __future__ import annotations

import contextlib
import json
import re
import time
import uuid
from collections import Counter
from dataclasses import dataclass, replace
from decimal import ROUND_HALF_UP, Decimal
from typing import Iterator

import pytest
from hypothesis import HealthCheck, Phase, example, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from reference import charge_models as ref
from reference.charge_models import PercentageRange, Range

MODEL = "int_charges__amounts"
PERIOD_UNITS = "int_charges__period_units"
TIERS = "int_charges__tiers"
CURRENCIES_REL = "currencies"
# Per-event values, in event order (percentage: free units, per-transaction minimum and maximum).
EVENT_VALUES = "int_charges__event_values"

#: (code, subunit_to_unit): a currency with 2, 0 and 3 decimals.
CURRENCIES = {"USD": 100, "JPY": 1, "KWD": 1000}

#: At least this many cases per model and warehouse.
MIN_CASES = 2000
#: Cases compared, by (warehouse, model), printed at the end of the module.
COMPARED: Counter = Counter()
TIMINGS: dict[str, float] = {}


def dec(text: str | int) -> Decimal:
    return Decimal(str(text))


def fmt(value: Decimal) -> str:
    """A Decimal as plain digits (no exponent), trailing zeros dropped: "0.012", "10"."""
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text or "0"


# -- cases ---------------------------------------------------------------------------------------

@dataclass(frozen=True, eq=False)
class Case:
    """One charge bucket in one period: its model, pricing, currency and units."""
    model: str
    currency: str
    units: Decimal
    properties: dict
    pricing_key: str
    ranges: tuple = ()                       # Range / PercentageRange, for tiered models
    events: tuple = ()                       # per-event values (percentage) or (units, cents)

    @property
    def subunit(self) -> int:
        return CURRENCIES[self.currency]

    def reference(self) -> Decimal:
        """The reference amount in major units."""
        p = self.properties
        if self.model == "standard":
            return ref.standard(self.units, p["amount"])
        if self.model == "graduated":
            return ref.graduated(self.units, self.ranges)
        if self.model == "volume":
            return ref.volume(self.units, self.ranges)
        if self.model == "package":
            return ref.package(self.units, p["amount"], p["package_size"], p.get("free_units", 0))
        if self.model == "graduated_percentage":
            return ref.graduated_percentage(self.units, self.ranges)
        if self.model == "percentage":
            return ref.percentage(self.events, p["rate"], p.get("fixed_amount"),
                                  p.get("free_units_per_events"),
                                  p.get("free_units_per_total_aggregation"),
                                  p.get("per_transaction_min_amount"),
                                  p.get("per_transaction_max_amount"))
        if self.model == "dynamic":
            return ref.dynamic(self.events, self.subunit)
        raise ValueError(self.model)

    def rows(self, case_id: str) -> dict[str, list[dict]]:
        """Rows of each relation the model reads; tier rows are keyed by the pricing."""
        pricing_id = f"p_{self.pricing_key}"
        out: dict[str, list[dict]] = {PERIOD_UNITS: [{
            "period_id": case_id, "billing_period_id": case_id, "is_hindsight": False,
            "charge_id": pricing_id, "pricing_id": pricing_id, "bucket_id": f"{pricing_id}|{{}}",
            "metric_code": "m", "grouped_by_text": "{}", "units": self.units,
            "events_count": len(self.events), "charge_model": self.model,
            "properties": json.dumps(self.properties), "is_pay_in_advance": False,
            "is_invoiceable": True, "currency": self.currency, "is_closed": True,
        }]}
        if self.model in ("graduated", "volume"):
            out[TIERS] = [{"pricing_id": pricing_id, "charge_model": self.model, "tier_index": i,
                           "from_value": r.from_value, "to_value": r.to_value,
                           "per_unit_amount": r.per_unit_amount, "flat_amount": r.flat_amount}
                          for i, r in enumerate(self.ranges)]
        elif self.model == "graduated_percentage":
            # int_charges__tiers turns a tier's rate (%) into its per-unit amount
            out[TIERS] = [{"pricing_id": pricing_id, "charge_model": self.model, "tier_index": i,
                           "from_value": r.from_value, "to_value": r.to_value,
                           "per_unit_amount": r.rate / Decimal(100), "flat_amount": r.flat_amount}
                          for i, r in enumerate(self.ranges)]
        elif self.model == "percentage":
            out[EVENT_VALUES] = [{"period_id": case_id, "bucket_id": f"{pricing_id}|{{}}",
                                  "event_index": i, "value": v} for i, v in enumerate(self.events)]
        elif self.model == "dynamic":
            # int_charges__period_units sums the events' precise_total_amount_cents
            out[PERIOD_UNITS][0]["dynamic_amount_cents"] = sum((Decimal(c or 0) for _, c in self.events), Decimal(0))
        return out

    def describe(self) -> str:
        parts = [f"{self.model}, {fmt(self.units)} units, {self.currency}"]
        if self.ranges:
            parts.append("ranges " + "; ".join(
                f"{fmt(r.from_value)}-{'inf' if r.to_value is None else fmt(r.to_value)} at "
                f"{fmt(getattr(r, 'per_unit_amount', getattr(r, 'rate', 0)))}"
                f"{'%' if isinstance(r, PercentageRange) else ''} + {fmt(r.flat_amount)} flat"
                for r in self.ranges))
        else:
            parts.append(f"properties {json.dumps(self.properties)}")
        if self.events:
            parts.append(f"events {[str(e) for e in self.events]}")
        return ", ".join(parts)

    # smaller variants, for shrinking a disagreement
    def simpler(self) -> Iterator["Case"]:
        if self.currency != "USD":
            yield replace(self, currency="USD")
        if len(self.ranges) > 1:
            cut = list(self.ranges[:-1])
            cut[-1] = replace(cut[-1], to_value=None)
            yield self._with_ranges(cut)
        for i, r in enumerate(self.ranges):
            if r.flat_amount != 0:
                yield self._with_ranges([*self.ranges[:i], replace(r, flat_amount=Decimal(0)),
                                         *self.ranges[i + 1:]])
            price = getattr(r, "per_unit_amount", None)
            if price is not None and price not in (0, 1):
                yield self._with_ranges([*self.ranges[:i], replace(r, per_unit_amount=Decimal(1)),
                                         *self.ranges[i + 1:]])
        if self.events:
            for kept in (self.events[:-1], self.events[1:]):
                yield replace(self, events=kept, units=sum(
                    (e[0] if isinstance(e, tuple) else e for e in kept), Decimal(0)))
        elif self.units != self.units.to_integral_value():
            for whole in (self.units.to_integral_value("ROUND_FLOOR"),
                          self.units.to_integral_value("ROUND_CEILING")):
                yield replace(self, units=whole)
        elif self.units > 0:
            for smaller in {Decimal(0), Decimal(1), self.units // 2, self.units - 1}:
                if smaller < self.units:
                    yield replace(self, units=smaller)
        if "amount" in self.properties and dec(self.properties["amount"]) not in (0, 1):
            yield replace(self, properties={**self.properties, "amount": "1"})
        if self.properties.get("free_units"):
            yield replace(self, properties={**self.properties, "free_units": 0})
        if self.properties.get("package_size", 1) != 1:
            yield replace(self, properties={**self.properties, "package_size": 1})

    def _with_ranges(self, ranges) -> "Case":
        props = {name: ranges_json(ranges) if name.endswith("ranges") else value
                 for name, value in self.properties.items()}
        return replace(self, ranges=tuple(ranges), properties=props,
                       pricing_key=f"{self.pricing_key}_{uuid.uuid4().hex[:6]}")


def ranges_json(ranges) -> list[dict]:
    out = []
    for r in ranges:
        item = {"from_value": int(r.from_value),
                "to_value": None if r.to_value is None else int(r.to_value),
                "flat_amount": fmt(r.flat_amount)}
        if isinstance(r, PercentageRange):
            item["rate"] = fmt(r.rate)
        else:
            item["per_unit_amount"] = fmt(r.per_unit_amount)
        out.append(item)
    return out


class Batch(list):
    """A batch of cases; a short repr keeps hypothesis' reports readable."""

    def __repr__(self) -> str:
        models = Counter(c.model for c in self)
        return f"Batch({', '.join(f'{n} {m}' for m, n in models.items())} cases)"


# -- strategies ----------------------------------------------------------------------------------

def scaled(hi: int, places: int) -> st.SearchStrategy[Decimal]:
    """Decimals in [0, hi / 10**places] with up to `places` decimals."""
    return st.integers(0, hi).map(lambda n: Decimal(n).scaleb(-places))


currencies = st.sampled_from(["KWD", "USD", "JPY"])
# per-unit amounts with up to 4 decimals: zero, sub-unit prices, prices up to 100
unit_prices = st.one_of(st.just(Decimal(0)), scaled(10_000, 4), scaled(1_000_000, 4),
                        st.integers(0, 50).map(Decimal))
flat_amounts = st.one_of(st.just(Decimal(0)), st.just(Decimal(0)), scaled(10_000_000, 4),
                         st.integers(0, 1000).map(Decimal))
widths = st.one_of(st.integers(1, 3), st.integers(1, 100), st.integers(1, 50_000))
fractions = st.one_of(st.just(Decimal("0.5")), st.just(Decimal("0.00001")), st.just(Decimal("0.99999")),
                      st.integers(1, 99_999).map(lambda n: Decimal(n).scaleb(-5)))


@st.composite
def range_tables(draw, percentage: bool = False) -> list:
    """1-6 contiguous ranges from 0 (from = previous to + 1, to > from), the last open."""
    count = draw(st.integers(1, 6))
    ranges, start = [], 0
    for i in range(count):
        to = None if i == count - 1 else start + draw(widths)
        flat = draw(flat_amounts)
        if percentage:
            ranges.append(PercentageRange(Decimal(start), None if to is None else Decimal(to),
                                          draw(scaled(1_000_000, 4)), flat))
        else:
            ranges.append(Range(Decimal(start), None if to is None else Decimal(to),
                                draw(unit_prices), flat))
        if to is not None:
            start = to + 1
    return ranges


@st.composite
def units_near(draw, anchors: list[int]) -> Decimal:
    """0, an anchor (a boundary) exactly, one unit or a fraction either side, or anywhere."""
    top = max(anchors) if anchors else 0
    kind = draw(st.sampled_from(["at", "plus_one", "plus_fraction", "minus_fraction", "minus_one",
                                 "anywhere", "anywhere_fraction", "zero"]))
    anchor = Decimal(draw(st.sampled_from(anchors))) if anchors else Decimal(0)
    if kind == "zero":
        value = Decimal(0)
    elif kind == "at":
        value = anchor
    elif kind == "plus_one":
        value = anchor + 1
    elif kind == "minus_one":
        value = anchor - 1
    elif kind == "plus_fraction":
        value = anchor + draw(fractions)
    elif kind == "minus_fraction":
        value = anchor - draw(fractions)
    elif kind == "anywhere":
        value = Decimal(draw(st.integers(1, 2 * top + 1000)))
    else:
        value = Decimal(draw(st.integers(0, 2 * top + 1000))) + draw(fractions)
    return max(value, Decimal(0))


def boundaries(ranges) -> list[int]:
    """Every from_value and to_value, 0 last (hypothesis favours the first)."""
    out = set()
    for r in ranges:
        out.add(int(r.from_value))
        if r.to_value is not None:
            out.add(int(r.to_value))
    return sorted(out - {0}, reverse=True) + [0]


@st.composite
def tiered_batches(draw, model: str, pricings: int, units_each: int) -> Batch:
    """`pricings` random range tables, each priced at `units_each` unit counts."""
    batch = Batch()
    for p in range(pricings):
        ranges = draw(range_tables(percentage=model == "graduated_percentage"))
        currency = draw(currencies)
        key = {"graduated": "graduated_ranges", "volume": "volume_ranges",
               "graduated_percentage": "graduated_percentage_ranges"}[model]
        props = {key: ranges_json(ranges)}
        anchors = boundaries(ranges) + [draw(st.integers(1, 200_000))]  # and somewhere else
        for _ in range(units_each):
            batch.append(Case(model, currency, draw(units_near(anchors)), props, f"{model}{p}",
                              tuple(ranges)))
    return batch


@st.composite
def standard_batches(draw, size: int) -> Batch:
    batch = Batch()
    for i in range(size):
        amount = draw(st.one_of(scaled(100_000, 5), scaled(100_000_000, 5), st.integers(0, 1000).map(Decimal)))
        units = draw(st.one_of(st.integers(1, 10_000_000).map(Decimal), scaled(10_000_000_000, 5),
                               scaled(100_000, 5), st.just(Decimal(0))))
        batch.append(Case("standard", draw(currencies), units, {"amount": fmt(amount)}, f"s{i}"))
    return batch


@st.composite
def package_batches(draw, pricings: int, units_each: int) -> Batch:
    batch = Batch()
    for p in range(pricings):
        amount = draw(st.one_of(scaled(100_000, 5), scaled(100_000_000, 5), st.integers(0, 1000).map(Decimal)))
        size = draw(st.one_of(st.integers(1, 3), st.integers(1, 1000), st.integers(1, 100_000)))
        free = draw(st.one_of(st.just(0), st.integers(0, 100), st.integers(0, 100_000)))
        props = {"amount": fmt(amount), "package_size": size, "free_units": free}
        anchors = [free + size, free, free + 2 * size, free + draw(st.integers(3, 50)) * size, 0]
        currency = draw(currencies)
        for _ in range(units_each):
            batch.append(Case("package", currency, draw(units_near(anchors)), props, f"k{p}"))
    return batch


@st.composite
def percentage_batches(draw, pricings: int, events_each: int) -> Batch:
    batch = Batch()
    for p in range(pricings):
        props = {"rate": fmt(draw(scaled(1_000_000, 4)))}
        for name, strategy in [
            ("fixed_amount", scaled(100_000, 4)),
            ("free_units_per_events", st.integers(0, 10)),
            ("free_units_per_total_aggregation", scaled(100_000_000, 4)),
            ("per_transaction_min_amount", scaled(100_000, 4)),
            ("per_transaction_max_amount", scaled(10_000_000, 4)),
        ]:
            if draw(st.booleans()):
                value = draw(strategy)
                props[name] = value if isinstance(value, int) else fmt(value)
        currency = draw(currencies)
        for _ in range(events_each):
            events = draw(st.lists(st.one_of(st.integers(0, 10_000).map(Decimal), scaled(1_000_000_000, 5)),
                                   max_size=8))
            batch.append(Case("percentage", currency, sum(events, Decimal(0)), props, f"q{p}",
                              events=tuple(events)))
    return batch


@st.composite
def dynamic_batches(draw, size: int) -> Batch:
    batch = Batch()
    for i in range(size):
        events = draw(st.lists(st.tuples(st.one_of(st.just(Decimal(0)), scaled(10_000_000, 5)),
                                         st.one_of(st.none(), scaled(10_000_000_000, 6))), max_size=6))
        batch.append(Case("dynamic", draw(currencies), sum((u for u, _ in events), Decimal(0)), {},
                          f"d{i}", events=tuple(events)))
    return batch


@dataclass(frozen=True)
class ModelSpec:
    name: str
    batches: st.SearchStrategy           # one hypothesis example = one batch of cases
    examples: int                        # hypothesis examples (batches) per warehouse
    missing: str | None = None           # why the SQL cannot be compared yet (skips the spec)
    explicit: Batch | None = None        # hand-picked cases, always run first


def _explicit(model: str, ranges: list, units: list[str], key: str) -> Batch:
    props = {f"{model}_ranges": ranges_json(ranges)}
    return Batch(Case(model, currency, dec(u), props, f"{key}_{currency}", tuple(ranges))
                 for currency in CURRENCIES for u in units)


SEGMENT = [Range.of(0, 10000, 0), Range.of(10001, 25000, "0.012"), Range.of(25001, 100000, "0.011"),
           Range.of(100001, None, "0.010")]
WITH_FLAT = [Range.of(0, 100, 1, 5), Range.of(101, 200, "0.5", 10), Range.of(201, None, "0.1234", "0.0005")]
BOUNDARY_UNITS = ["0", "0.00001", "0.5", "1", "100", "100.00001", "100.5", "101", "200", "201", "10000",
                  "10000.5", "10001", "25000", "25001", "30000", "100000", "100001", "123456.78901"]
EXPLICIT = {
    "graduated": Batch(_explicit("graduated", SEGMENT, BOUNDARY_UNITS, "seg")
                       + _explicit("graduated", WITH_FLAT, BOUNDARY_UNITS, "flat")),
    "volume": Batch(_explicit("volume", SEGMENT, BOUNDARY_UNITS, "seg")
                    + _explicit("volume", WITH_FLAT, BOUNDARY_UNITS, "flat")),
    "package": Batch(Case("package", currency, dec(u), {"amount": amount, "package_size": 100, "free_units": 50},
                          f"pk_{currency}_{amount}")
                     for currency in CURRENCIES for amount in ("5", "1.2345", "0.00001")
                     for u in ("0", "20", "50", "50.5", "51", "150", "150.00001", "151", "250", "1000000")),
    # 1.2345 KWD is 1234.5 fils and 0.125 USD 12.5 cents: ties round away from zero
    "standard": Batch(Case("standard", currency, dec(u), {"amount": amount}, f"st_{currency}_{amount}")
                      for currency in CURRENCIES for amount in ("10", "1.2345", "0.125", "0.00001", "0")
                      for u in ("0", "1", "1.19355", "3", "0.00001", "99999.99999")),
}


MODELS = [
    ModelSpec("standard", standard_batches(500), 10, explicit=EXPLICIT["standard"]),
    ModelSpec("graduated", tiered_batches("graduated", 25, 16), 15, explicit=EXPLICIT["graduated"]),
    ModelSpec("volume", tiered_batches("volume", 25, 16), 15, explicit=EXPLICIT["volume"]),
    ModelSpec("package", package_batches(40, 12), 12, explicit=EXPLICIT["package"]),
    ModelSpec("graduated_percentage", tiered_batches("graduated_percentage", 25, 16), 8),
    ModelSpec("percentage", percentage_batches(25, 12), 12),
    ModelSpec("dynamic", dynamic_batches(300), 12),
]


# -- the SQL side --------------------------------------------------------------------------------

_RELATION = re.compile(r'"[^"]+"\."[^"]+"\."([^"]+)"')


class SqlModel:
    """int_charges__amounts, compiled once, run against scratch copies of its inputs."""

    def __init__(self, settings):
        from tally.dbt_runner import run_dbt
        from tally.warehouse import Warehouse

        self.settings, self.target = settings, settings.target
        started = time.monotonic()
        with Warehouse(settings) as wh:
            wh.ensure_raw()
        run_dbt(settings, ["build", "--select", f"+{MODEL}", "--exclude-resource-type", "test", "unit_test"])
        run_dbt(settings, ["compile", "--select", MODEL])
        compiled = (settings.home / "target" / f"{settings.target}-{settings.schema}" / "compiled" / "tally"
                    / "models" / "intermediate" / f"{MODEL}.sql").read_text()
        TIMINGS[f"{self.target} build+compile"] = time.monotonic() - started

        self.wh = Warehouse(settings)
        self.wh.connect()
        self.scratch = f"{settings.schema}_diff"
        self.wh.execute(f'drop schema if exists "{self.scratch}" cascade')
        self.wh.execute(f'create schema "{self.scratch}"')
        self.columns: dict[str, list[str]] = {}
        originals: dict[str, str] = {}
        for match in dict.fromkeys(m.group(0) for m in _RELATION.finditer(compiled)):
            name = _RELATION.fullmatch(match).group(1)
            originals[name] = match
            self.wh.execute(f'create table "{self.scratch}"."{name}" as select * from {match} where 1 = 0')
            self.columns[name] = [r[0] for r in self.wh.query(
                "select column_name from information_schema.columns where table_schema = ? "
                "and table_name = ? order by ordinal_position", [self.scratch, name])[1]]
            compiled = compiled.replace(match, f'"{self.scratch}"."{name}"')
        for needed in (PERIOD_UNITS, TIERS, CURRENCIES_REL):
            assert needed in self.columns, f"{MODEL} no longer reads {needed}: update this test"
        # the real currencies seed, for the three currencies of the cases
        codes = ", ".join(f"'{c}'" for c in CURRENCIES)
        self.wh.execute(f'insert into "{self.scratch}"."{CURRENCIES_REL}" select * from {originals[CURRENCIES_REL]} '
                        f"where code in ({codes})")
        seeded = dict(self.wh.query(f'select code, subunit_to_unit from "{self.scratch}"."{CURRENCIES_REL}"')[1])
        assert {k: int(v) for k, v in seeded.items()} == CURRENCIES, seeded
        self.wh.commit()
        self.sql = (f"select period_id, precise_amount_cents, "
                    f"cast(round(precise_amount_cents, 0) as bigint) as amount_cents "
                    f"from ({compiled}) as model")
        self.relations_read = sorted(self.columns)

    def run(self, cases: list[Case]) -> dict[str, list[tuple[Decimal, int]]]:
        """The model's rows for these cases: {case id: [(precise_amount_cents, amount_cents)]}."""
        rows: dict[str, dict[str, dict]] = {}
        for i, case in enumerate(cases):
            for relation, items in case.rows(f"c{i}").items():
                for j, item in enumerate(items):
                    # tier rows once per pricing (the cases of one table share it)
                    key = f"{item['pricing_id']}#{item['tier_index']}" if relation == TIERS else f"c{i}#{j}"
                    rows.setdefault(relation, {})[key] = item
        for relation in self.columns:
            if relation != CURRENCIES_REL:
                self.wh.execute(f'delete from "{self.scratch}"."{relation}"')
        try:
            for relation, items in rows.items():
                self._insert(relation, list(items.values()))
            _, result = self.wh.query(self.sql)
        except Exception:
            if self.target == "postgres":
                self.wh.connect().rollback()
            raise
        self.wh.commit()
        out: dict[str, list[tuple[Decimal, int]]] = {}
        for period_id, precise, cents in result:
            out.setdefault(period_id, []).append((None if precise is None else Decimal(precise), cents))
        return out

    def _insert(self, relation: str, items: list[dict]) -> None:
        if relation not in self.columns:
            raise AssertionError(f"{MODEL} does not read {relation}; these cases need it")
        names = list(items[0])
        unknown = [n for n in names if n not in self.columns[relation]]
        if unknown:
            raise AssertionError(f"{relation} has no column {unknown}; these cases need it")
        values = ",\n".join("(" + ", ".join(_literal(item[n]) for n in names) + ")" for item in items)
        cols = ", ".join(f'"{n}"' for n in names)
        self.wh.execute(f'insert into "{self.scratch}"."{relation}" ({cols}) values {values}')

    def close(self) -> None:
        """Drop the scratch schema (and, on PostgreSQL, the schemas built for this module)."""
        try:
            self.wh.drop_schema(self.scratch)
            if self.target == "postgres":
                self.wh.drop_schema(self.settings.schema)
                self.wh.drop_schema(self.settings.raw_schema)
        finally:
            self.wh.close()


def _literal(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, Decimal)):
        return format(value, "f") if isinstance(value, Decimal) else str(value)
    return "'" + str(value).replace("'", "''") + "'"


# -- comparison ----------------------------------------------------------------------------------

def disagreements(sql: SqlModel, cases: list[Case]) -> list[tuple[Case, str]]:
    got = sql.run(cases)
    bad = []
    for i, case in enumerate(cases):
        expected = case.reference()
        # the marts keep precise amounts to 10 decimals of a minor unit (DECIMAL(38, 10))
        want_precise = ref.precise_cents(expected, case.subunit).quantize(Decimal("1e-10"), rounding=ROUND_HALF_UP)
        want_cents = ref.amount_cents(expected, case.subunit)
        rows = got.get(f"c{i}", [])
        if len(rows) != 1:
            bad.append((case, f"SQL returned {len(rows)} rows, the reference {fmt(want_precise)} cents"))
            continue
        precise, cents = rows[0]
        if precise != want_precise or cents != want_cents:
            bad.append((case, f"SQL precise_amount_cents {'null' if precise is None else fmt(precise)} "
                              f"(amount_cents {cents}), reference "
                              f"{fmt(want_precise)} ({want_cents}); reference in major units {fmt(expected)}"))
    return bad


def shrink(sql: SqlModel, case: Case, budget: int = 300) -> tuple[Case, str]:
    """Greedily simplify a disagreeing case while the SQL keeps disagreeing."""
    found = disagreements(sql, [case])
    current, why = case, found[0][1] if found else "(agrees when run alone)"
    progress = True
    while progress and budget > 0:
        progress = False
        for candidate in current.simpler():
            budget -= 1
            found = disagreements(sql, [candidate])
            if found:
                current, why, progress = candidate, found[0][1], True
                break
            if budget <= 0:
                break
    return current, why


_SQL: dict[str, "SqlModel | Exception"] = {}


@pytest.fixture(scope="module", autouse=True)
def _report(request):
    yield
    for model in _SQL.values():
        if isinstance(model, SqlModel):
            model.close()
    _SQL.clear()
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    if not (reporter and COMPARED):
        return
    lines = [f"differential {target:8} {name:22} {count:6} cases ({TIMINGS.get(f'{target} {name}', 0):.1f}s)"
             for (target, name), count in sorted(COMPARED.items())]
    lines += [f"differential {key}: {seconds:.1f}s" for key, seconds in sorted(TIMINGS.items())
              if key.endswith("build+compile")]
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    with capture.global_and_fixture_disabled() if capture else contextlib.nullcontext():
        reporter.write_line("")
        for line in lines:
            reporter.write_line(line)


@pytest.fixture
def sql_model(target, settings) -> SqlModel:
    """The compiled model on this warehouse, built once (for the first test of the module).

    The built warehouse must outlive the first test's `settings`, whose teardown drops its
    PostgreSQL schema: PostgreSQL builds in a schema of its own (same test database).
    """
    if target not in _SQL:
        own = settings.with_schema(f"diff_{uuid.uuid4().hex[:8]}") if target == "postgres" else settings
        try:
            _SQL[target] = SqlModel(own)
        except Exception as exc:  # noqa: BLE001 - build once: the next tests fail at once
            _SQL[target] = exc
    if isinstance(_SQL[target], Exception):
        pytest.fail(f"cannot build {MODEL} on {target}: {_SQL[target]}", pytrace=False)
    return _SQL[target]


@pytest.mark.parametrize("spec", [
    pytest.param(s, id=s.name, marks=[pytest.mark.skip(reason=s.missing)] if s.missing else [])
    for s in MODELS])
def test_sql_matches_reference(spec: ModelSpec, target, sql_model):
    started = time.monotonic()

    @hsettings(max_examples=spec.examples, deadline=None, database=None,
               phases=(Phase.explicit, Phase.generate),
               suppress_health_check=list(HealthCheck))
    @given(batch=spec.batches)
    def check(batch: Batch):
        bad = disagreements(sql_model, batch)
        COMPARED[(target, spec.name)] += len(batch)
        if bad:
            minimal, why = shrink(sql_model, min(bad, key=lambda b: _size(b[0]))[0])
            pytest.fail(f"{len(bad)} of {len(batch)} {spec.name} cases disagree on {target}. "
                        f"Minimal: {minimal.describe()}: {why}", pytrace=False)

    if spec.explicit:
        check = example(batch=spec.explicit)(check)
    check()
    TIMINGS[f"{target} {spec.name}"] = time.monotonic() - started
    # batches too large for hypothesis are dropped silently: make sure thousands did run
    assert COMPARED[(target, spec.name)] >= MIN_CASES, COMPARED


def _size(case: Case) -> tuple:
    return (len(case.ranges), len(case.events), len(str(case.units)), case.units)
