"""The reference itself, against amounts computed by hand (and Lago's documented examples)."""
from __future__ import annotations

from decimal import Decimal as D

import pytest

from reference.charge_models import (PercentageRange, Range, amount_cents, dynamic, graduated,
                                     graduated_percentage, package, percentage, precise_cents,
                                     standard, volume)

# Segment's tiers: the first 10,000 free, then $0.012, $0.011 and $0.010.
SEGMENT = [Range.of(0, 10000, 0), Range.of(10001, 25000, "0.012"), Range.of(25001, 100000, "0.011"),
           Range.of(100001, None, "0.010")]
# $1 a unit and $5 flat for the first 100, then $0.5 a unit and $10 flat.
FLAT = [Range.of(0, 100, 1, 5), Range.of(101, None, "0.5", 10)]
# Lago's volume spec tiers.
VOLUME = [Range.of(0, 100, 2, 10), Range.of(101, 200, 1, 0), Range.of(201, None, "0.5", 50)]
# Lago's volume documentation: 65,000 API calls cost 65,000 x $0.0006 + $10 = $49.
VOLUME_DOC = [Range.of(0, 10000, "0.0010", 10), Range.of(10001, 50000, "0.0008", 10),
              Range.of(50001, 100000, "0.0006", 10), Range.of(100001, None, "0.0004", 10)]
# Lago's graduated percentage documentation: 1 % + $200, 2 % + $300, 3 % + $400.
GRAD_PCT = [PercentageRange.of(0, 1000, 1, 200), PercentageRange.of(1001, 10000, 2, 300),
            PercentageRange.of(10001, None, 3, 400)]


@pytest.mark.parametrize("units, expected", [
    ("30000", "235.00"),          # 15,000 x 0.012 + 5,000 x 0.011
    ("0", "0"),
    ("1", "0"),
    ("10000", "0"),               # exactly at the first to_value
    ("10001", "0.012"),           # one past it
    ("25000", "180"),             # 15,000 x 0.012
    ("25001", "180.011"),
    ("100000", "1005"),           # 180 + 75,000 x 0.011
    ("100001", "1005.010"),
    ("10000.5", "0.006"),         # fractional: half a unit in the second tier
    ("10000.00001", "0.00000012"),
    ("25000.99999", "180.01099989"),
])
def test_graduated_segment(units, expected):
    assert graduated(D(units), SEGMENT) == D(expected)


@pytest.mark.parametrize("units, expected", [
    ("0", "0"),                   # 0 units: no flat amount either
    ("0.5", "5.5"),               # the first tier is reached: its flat amount once
    ("100", "105"),               # at to_value: the second tier is not reached
    ("100.5", "115.25"),          # 105 + 0.5 x 0.5 + 10
    ("101", "115.5"),             # 105 + 1 x 0.5 + 10
    ("150", "140"),               # 105 + 50 x 0.5 + 10
])
def test_graduated_flat_amounts(units, expected):
    assert graduated(D(units), FLAT) == D(expected)


def test_graduated_single_open_tier():
    assert graduated(D("12.5"), [Range.of(0, None, "0.1", 3)]) == D("4.25")


def test_graduated_adjacent_ranges_count_half_open():
    # Lago's adjacent ranges (each from = previous to): units counted as to - from.
    ranges = [Range.of(0, 100, 1), Range.of(100, 200, "0.5", 2), Range.of(200, None, "0.1")]
    assert graduated(D(100), ranges) == D(100)
    assert graduated(D(150), ranges) == D(100 + 25 + 2)
    assert graduated(D(250), ranges) == D(100 + 50 + 2 + 5)


@pytest.mark.parametrize("units, expected", [
    ("0", "0"),
    ("1", "12"),
    ("100", "210"),               # exactly at to_value: still the first tier
    ("100.5", "100.5"),           # fractional past 100: the second tier (from <= ceil(units))
    ("101", "101"),               # one past
    ("200", "200"),
    ("201", "150.5"),             # 201 x 0.5 + 50
    ("300", "200"),
    ("-5", "0"),                  # no range holds negative units
])
def test_volume(units, expected):
    assert volume(D(units), VOLUME) == D(expected)


def test_volume_documented_example():
    assert volume(D(65000), VOLUME_DOC) == D(49)
    assert volume(D(10000), VOLUME_DOC) == D(20)
    assert volume(D(10001), VOLUME_DOC) == D("18.0008")


def test_volume_newer_lago_flat_at_zero():
    assert volume(D(0), VOLUME, flat_amount_at_zero_units=True) == D(10)
    assert volume(D(0), [Range.of(0, 1, 0, 0), Range.of(2, None, 2, 10)],
                  flat_amount_at_zero_units=True) == D(0)


@pytest.mark.parametrize("units, expected", [
    ("0", "0"),
    ("20", "0"),                  # free units larger than the usage
    ("50", "0"),                  # exactly the free units
    ("51", "5"),                  # one past: a package is started
    ("150", "5"),                 # exactly one package after the free units
    ("150.00001", "10"),          # fractional: a second package is started
    ("151", "10"),
    ("250", "10"),
])
def test_package_with_free_units(units, expected):
    assert package(D(units), "5", 100, 50) == D(expected)


def test_package_without_free_units():
    assert package(D(100), "0.25", 100) == D("0.25")
    assert package(D(101), "0.25", 100) == D("0.50")
    assert package(D("0.5"), "0.25", 100) == D("0.25")
    assert package(D(7), "1.5", 1) == D("10.5")


def test_standard():
    assert standard(D("1.19355"), "10") == D("11.9355")
    assert standard(D(0), "10") == 0
    assert standard(D(3), "150") == D(450)


@pytest.mark.parametrize("units, expected", [
    ("0", "0"),
    ("500", "205"),               # 500 x 1 % + $200
    ("1000", "210"),              # at to_value
    ("1001", "510.02"),           # one past: 210 + 1 x 2 % + $300
    ("1050", "511"),              # 210 + 50 x 2 % + $300 (the documented $306 is 511 - 205)
    ("5050", "591"),              # ... + 4,050 x 2 % (the documented $80 is 591 - 511)
    ("10001", "1090.03"),         # 210 + 9,000 x 2 % + 300 + 1 x 3 % + 400
    ("0.5", "200.005"),
])
def test_graduated_percentage(units, expected):
    assert graduated_percentage(D(units), GRAD_PCT) == D(expected)


# -- percentage ----------------------------------------------------------------------------------

def test_percentage_documented_example():
    # 3 free events or $500 free; 1.2 % and $0.10 a transaction: only the 4th event pays,
    # $0.10 + 1.2 % of $50 = $0.70.
    assert percentage(["200", "100", "100", "50"], "1.2", "0.10", 3, "500") == D("0.70")


SPEC_EVENTS = ["50", "100", "250", "400"]  # 800 units; running totals 50, 150, 400


@pytest.mark.parametrize("kwargs, expected", [
    # 250 free units, 2 events below them pay no fixed fee: 550 x 1.3 % + 2 x $2
    (dict(free_units_per_events=3, free_units_per_total_aggregation="250.0"), "11.15"),
    (dict(free_units_per_total_aggregation="250.0"), "11.15"),
    # the first 3 events free: 400 x 1.3 % + 1 x $2
    (dict(free_units_per_events=3), "7.2"),
    (dict(free_units_per_events=3, free_units_per_total_aggregation="500.0"), "7.2"),
    # no free units: 800 x 1.3 % + 4 x $2
    (dict(), "18.4"),
])
def test_percentage_free_units(kwargs, expected):
    assert percentage(SPEC_EVENTS, "1.3", "2.0", **kwargs) == D(expected)


def test_percentage_edges():
    # free units larger than the usage: nothing at all
    assert percentage(["50", "100", "250"], "1.3", "2.0", free_units_per_events=5) == 0
    assert percentage(["100", "200"], "1", "0.5", free_units_per_total_aggregation="1000") == 0
    # 0 units: no fixed fee either
    assert percentage(["0", "0", "0", "0"], "1.3", "2.0") == 0
    assert percentage([], "1.3", "2.0") == 0
    # rate only
    assert percentage(["1", "1", "1", "1"], "2.9") == D("0.116")
    # fixed amount only
    assert percentage(["200", "200", "200", "200"], "0", "2.0") == D(8)
    # fractional values
    assert percentage(["0.5", "0.25"], "10", free_units_per_total_aggregation="0.5") == D("0.025")


EVENTS_MIN_MAX = ["10", "80", "10000"]


@pytest.mark.parametrize("kwargs, expected", [
    # 1.75 (min) + 80 x 2.99 % + 12 (max)
    (dict(), "16.142"),
    (dict(fixed_amount="2.0"), "18.691"),                       # 2.299 + 4.392 + 12
    (dict(free_units_per_events=2), "12"),                      # only the 3rd pays: max
    (dict(free_units_per_total_aggregation="30"), "13.794"),    # (80 - 20) x 2.99 % + 12
    (dict(free_units_per_events=3, free_units_per_total_aggregation="10000"), "2.691"),  # 90 x 2.99 %
])
def test_percentage_min_max_per_transaction(kwargs, expected):
    result = percentage(EVENTS_MIN_MAX, "2.99", per_transaction_min_amount="1.75",
                        per_transaction_max_amount="12", **kwargs)
    assert result == D(expected)


def test_percentage_min_only_and_max_only():
    assert percentage(["10", "1000"], "1", per_transaction_min_amount="0.5") == D("10.5")
    assert percentage(["10", "1000"], "1", per_transaction_max_amount="5") == D("5.1")
    # an event exactly using up the free units pays the minimum on its 0 remaining units
    assert percentage(["100"], "1", free_units_per_total_aggregation="100",
                      per_transaction_min_amount="0.5") == D("0.5")


# -- dynamic -------------------------------------------------------------------------------------

def test_dynamic():
    assert dynamic([(7, "70"), (5, "55"), (10, "220")], 100) == D("3.45")
    assert dynamic([(20, "40.2")], 100) == D("0.402")
    assert dynamic([(0, "40.2")], 100) == 0
    assert dynamic([], 100) == 0
    assert dynamic([(1, "150"), (2, None)], 1) == D(150)
    assert dynamic([(1, "1234.5")], 1000) == D("1.2345")


# -- rounding ------------------------------------------------------------------------------------

@pytest.mark.parametrize("precise, subunit, cents", [
    ("235.00", 100, 23500),
    ("0.125", 100, 13),           # half away from zero, not to even
    ("0.135", 100, 14),
    ("0.12499", 100, 12),
    ("-0.125", 100, -13),
    ("2.5", 1, 3),                # JPY
    ("1.2345", 1000, 1235),       # KWD: 1234.5 fils
    ("1.23449", 1000, 1234),
    ("0.00000012", 100, 0),
])
def test_amount_cents(precise, subunit, cents):
    assert amount_cents(D(precise), subunit) == cents
    assert isinstance(amount_cents(D(precise), subunit), int)


def test_precise_cents_is_exact():
    assert precise_cents(D("180.01099989"), 100) == D("18001.099989")


def test_floats_are_refused():
    with pytest.raises(TypeError):
        standard(1.5, "1")
    with pytest.raises(TypeError):
        amount_cents(0.125, 100)


def test_negative_units_follow_lagos_walk():
    # Lago bills a negative total in the first range (units x price + flat); volume finds no range
    assert graduated(D(-3), FLAT) == D(2)
    assert volume(D(-3), VOLUME) == 0
    assert package(D(-3), "5", 100) == 0
    assert standard(D(-3), "2") == D(-6)
