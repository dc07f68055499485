"""Lago's charge models in plain Python, exact (decimal.Decimal, never a float).

Written from Lago's documentation (getlago.com/docs/guide/plans/charges/charge-models/*) and the
behaviour its charge-model services and their specs pin down, independently of Tally's SQL, so
the differential tests (tests/test_charge_models_differential.py) can hold the SQL to it.

Every model returns the precise amount in the currency's MAJOR unit (Lago's charge properties
hold major units: "amount": "10" is $10.00), unrounded. `amount_cents` makes the fee amount from
it: half away from zero at the currency's minor unit, once (Lago rounds at the fee).

Arithmetic runs in a context that traps Inexact: a result that is not exact raises instead of
being silently rounded.

Rules, per model (units = the period's aggregated units; a "range" = a tier):

- standard: units x amount.
- graduated: ranges from 0, each from_value = the previous to_value + 1, the last open. Walking
  the ranges in order, stopping after the first one whose to_value >= units (or open): each
  visited range bills min(units, to) - from + 1 units at its per-unit amount (min(units, to) for
  the range starting at 0) and, when it billed a non-zero number of units, its flat amount once.
  0 units cost 0. Negative units (a sum metric can go below 0) are billed in the first range,
  units x per-unit amount + its flat amount, as Lago's walk does. (Lago also accepts *adjacent*
  ranges, from_value = the previous to_value; units are then counted half-open,
  min(units, to) - from. Detected as Lago does.)
- graduated_percentage: the same walk, rate % of the range's units instead of a per-unit amount,
  plus the flat amount of each range reached; 0 units cost 0.
- package: ceil((units - free_units) / package_size) packages x amount; nothing while units do
  not exceed the free units.
- percentage: rate % of (units - free units) + fixed_amount per paying event. Free units:
  free_units_per_events (the first N events) and free_units_per_total_aggregation (the first X
  units), whichever runs out first; the events whose running total stays below X, or the first N
  (the smaller non-zero count), pay no fixed amount; 0 units cost 0 (no fixed amount either).
  With per_transaction_min_amount or per_transaction_max_amount (Lago premium), every event is
  priced on its own (its value after free units, x rate, + fixed amount, then clamped to
  [min, max]); free events cost nothing. In that mode Lago keeps consuming the free units after
  the free events are used up (events are free while either remains), unlike the aggregate mode.
- volume: all units at the per-unit amount of the range holding the total (from_value <=
  ceil(units) and units <= to_value), plus that range's flat amount; 0 units cost 0 (see `volume`
  for Lago's newer first-tier flat amount at 0 units); negative units: no range, 0.
- dynamic: the sum of the events' precise_total_amount_cents (minor unit) / subunit_to_unit;
  0 units cost 0.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from decimal import (ROUND_CEILING, ROUND_HALF_UP, Context, Decimal, DivisionByZero, Inexact,
                     InvalidOperation, Overflow, localcontext)
from typing import Iterable, Sequence, Union

Number = Union[Decimal, int, str]

_EXACT = Context(prec=200, rounding=ROUND_HALF_UP,
                 traps=[InvalidOperation, DivisionByZero, Overflow, Inexact])
ZERO = Decimal(0)
HUNDRED = Decimal(100)


def D(value: Number | None, default: Number | None = None) -> Decimal:
    """An exact Decimal from a Decimal, an int or a numeric string; floats are refused."""
    if value is None or value == "":
        if default is None:
            raise ValueError("a number is required")
        value = default
    if isinstance(value, bool) or isinstance(value, float):
        raise TypeError(f"{value!r}: pass a Decimal, an int or a string, never a float")
    if isinstance(value, Decimal):
        return value
    return Decimal(value) if isinstance(value, int) else Decimal(str(value).strip())


def _exact(fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with localcontext(_EXACT):
            return fn(*args, **kwargs)
    return wrapper


@dataclass(frozen=True)
class Range:
    """A graduated or volume range (tier), amounts in major units; to_value None = open."""
    from_value: Decimal
    to_value: Decimal | None
    per_unit_amount: Decimal = ZERO
    flat_amount: Decimal = ZERO

    @classmethod
    def of(cls, from_value: Number, to_value: Number | None, per_unit_amount: Number = 0,
           flat_amount: Number = 0) -> "Range":
        return cls(D(from_value), None if to_value is None else D(to_value), D(per_unit_amount),
                   D(flat_amount))


@dataclass(frozen=True)
class PercentageRange:
    """A graduated_percentage range: rate in percent (1.5 = 1.5 %), flat amount in major units."""
    from_value: Decimal
    to_value: Decimal | None
    rate: Decimal = ZERO
    flat_amount: Decimal = ZERO

    @classmethod
    def of(cls, from_value: Number, to_value: Number | None, rate: Number = 0,
           flat_amount: Number = 0) -> "PercentageRange":
        return cls(D(from_value), None if to_value is None else D(to_value), D(rate), D(flat_amount))


# -- rounding ---------------------------------------------------------------------------------

@_exact
def precise_cents(precise_major: Number, subunit_to_unit: int) -> Decimal:
    """The precise amount in the currency's minor unit (no rounding)."""
    return D(precise_major) * D(subunit_to_unit)


@_exact
def amount_cents(precise_major: Number, subunit_to_unit: int) -> int:
    """The fee amount: precise x subunit_to_unit rounded half away from zero to an integer."""
    cents = D(precise_major) * D(subunit_to_unit)
    return int(cents.to_integral_value(rounding=ROUND_HALF_UP))


# -- models -----------------------------------------------------------------------------------

@_exact
def standard(units: Number, amount: Number) -> Decimal:
    return D(units) * D(amount)


def _adjacent(ranges: Sequence[Range | PercentageRange]) -> bool:
    """Lago's adjacent ranges: at least two, each starting where the previous one ends."""
    return len(ranges) >= 2 and all(
        cur.from_value == (prev.to_value if prev.to_value is not None else ZERO)
        for prev, cur in zip(ranges, ranges[1:]))


def _range_units(total: Decimal, rng: Range | PercentageRange, adjacent: bool) -> Decimal:
    """How many of `total` units fall in a visited range."""
    if rng.to_value is not None and total >= rng.to_value:
        effective = rng.to_value
    else:
        effective = total
    if rng.from_value == 0:
        return effective
    return effective - rng.from_value + (0 if adjacent else 1)


def _visited(total: Decimal, ranges: Sequence[Range | PercentageRange]):
    """The ranges in order, up to and including the first whose to_value >= total (or open)."""
    for rng in ranges:
        yield rng
        if rng.to_value is None or rng.to_value >= total:
            return


@_exact
def graduated(units: Number, ranges: Sequence[Range]) -> Decimal:
    total = D(units)
    if total == 0:
        return ZERO
    adjacent = _adjacent(ranges)
    amount = ZERO
    for rng in _visited(total, ranges):
        in_range = _range_units(total, rng, adjacent)
        amount += in_range * rng.per_unit_amount
        if in_range != 0:
            amount += rng.flat_amount
    return amount


@_exact
def graduated_percentage(units: Number, ranges: Sequence[PercentageRange]) -> Decimal:
    total = D(units)
    if total == 0:
        return ZERO
    amount = ZERO
    for rng in _visited(total, ranges):
        in_range = _range_units(total, rng, adjacent=False)  # Lago: no adjacent variant here
        amount += in_range * rng.rate / HUNDRED
        if in_range != 0:
            amount += rng.flat_amount
    return amount


@_exact
def package(units: Number, amount: Number, package_size: int, free_units: int = 0) -> Decimal:
    paid = D(units) - D(free_units, 0)
    if paid < 0:
        return ZERO
    size = D(package_size)
    if size <= 0:
        raise ValueError("package_size must be a positive integer")
    whole, rest = divmod(paid, size)  # exact: integer quotient and remainder
    packages = whole + (1 if rest != 0 else 0)
    return packages * D(amount)


@_exact
def volume(units: Number, ranges: Sequence[Range], flat_amount_at_zero_units: bool = False) -> Decimal:
    """All units at the per-unit amount of the range holding the total, plus its flat amount.

    A range holds n units when from_value <= ceil(n) and n <= to_value (so 100.5 falls in the range
    starting at 101). 0 units cost 0, as Lago long did and as Tally specifies; recent Lago (volume
    spec "applies the flat amount from the first tier") bills the first range's flat amount at 0
    units: pass flat_amount_at_zero_units=True for that behaviour.
    """
    n = D(units)
    if n == 0 and not flat_amount_at_zero_units:
        return ZERO
    ceiling = n.to_integral_value(rounding=ROUND_CEILING)
    for rng in ranges:
        if rng.from_value <= ceiling and (rng.to_value is None or n <= rng.to_value):
            return n * rng.per_unit_amount + rng.flat_amount
    return ZERO  # negative units: no range applies


def _present(value) -> bool:
    return value is not None and value != ""


@_exact
def percentage(event_values: Sequence[Number], rate: Number, fixed_amount: Number | None = None,
               free_units_per_events: int | None = None,
               free_units_per_total_aggregation: Number | None = None,
               per_transaction_min_amount: Number | None = None,
               per_transaction_max_amount: Number | None = None) -> Decimal:
    """Percentage of the events' values (in chronological order), see the module docstring."""
    values = [D(v) for v in event_values]
    rate_ = D(rate, 0)
    fixed = D(fixed_amount, 0)
    free_events = int(free_units_per_events or 0)
    free_total = D(free_units_per_total_aggregation, 0)

    if _present(per_transaction_min_amount) or _present(per_transaction_max_amount):
        low = D(per_transaction_min_amount) if _present(per_transaction_min_amount) else None
        high = D(per_transaction_max_amount) if _present(per_transaction_max_amount) else None
        return _percentage_per_transaction(values, rate_, fixed, free_events, free_total, low, high)

    units = sum(values, ZERO)
    count = len(values)
    running = _running_total(values, free_events, free_total)
    last = running[-1] if running else ZERO

    # units free of the rate: the first N events' total, or the free amount, whichever is smaller
    if last == 0:
        free_value = ZERO
    elif free_total == 0 or last <= free_total:
        free_value = last
    else:
        free_value = free_total
    rate_amount = ZERO if free_value > units else (units - free_value) * rate_ / HUNDRED

    # events free of the fixed amount: the smaller non-zero of N and the events kept below X
    below_free_total = sum(1 for total in running if total < free_total)
    free_count = min((c for c in (free_events, below_free_total) if c != 0), default=0)
    if units == 0 or free_count >= count:
        fixed_total = ZERO
    else:
        fixed_total = (count - free_count) * fixed
    return rate_amount + fixed_total


def _running_total(values: list[Decimal], free_events: int, free_total: Decimal) -> list[Decimal]:
    """Cumulative totals Lago keeps for free units: over the first N events when
    free_units_per_events is set, else up to and including the event that passes the free total."""
    if free_events == 0 and free_total == 0:
        return []
    out, total = [], ZERO
    if free_events != 0:
        for value in values[:free_events]:
            total += value
            out.append(total)
        return out
    for value in values:
        if free_total < total:
            break
        total += value
        out.append(total)
    return out


def _percentage_per_transaction(values: list[Decimal], rate: Decimal, fixed: Decimal,
                                free_events: int, free_total: Decimal,
                                low: Decimal | None, high: Decimal | None) -> Decimal:
    """Each event priced on its own, clamped to [low, high]; free events (a prefix) cost nothing.

    While free events or free units remain, an event uses one free event; if free units remain
    it consumes them (an event larger than what is left pays on its excess and ends all free
    units); an event covered by free units or free events costs nothing (no fixed amount, no
    minimum).
    """
    remaining_events, remaining_units = free_events, free_total
    total = ZERO
    for value in values:
        if remaining_events > 0 or remaining_units > 0:
            remaining_events -= 1
            if not remaining_units > 0:
                continue
            if remaining_units > value:
                remaining_units -= value
                continue
            value -= remaining_units
            remaining_units = ZERO
            remaining_events = 0
        amount = value * rate / HUNDRED + fixed
        if low is not None and amount < low:
            amount = low
        elif high is not None and amount > high:
            amount = high
        total += amount
    return total


@_exact
def dynamic(events: Iterable[tuple[Number, Number | None]], subunit_to_unit: int) -> Decimal:
    """events: (units, precise_total_amount_cents) per event; the amount is the sum of the
    events' amounts (minor unit) in the major unit, 0 when the units add up to 0."""
    events = list(events)
    units = sum((D(u) for u, _ in events), ZERO)
    if units == 0:
        return ZERO
    cents = sum((D(c, 0) for _, c in events), ZERO)
    return cents / D(subunit_to_unit)


#: The models by Lago name.
MODELS = {
    "standard": standard,
    "graduated": graduated,
    "graduated_percentage": graduated_percentage,
    "package": package,
    "percentage": percentage,
    "volume": volume,
    "dynamic": dynamic,
}
