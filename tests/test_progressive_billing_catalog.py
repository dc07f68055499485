"""Plan usage thresholds (progressive billing) at `tally load`, on DuckDB and PostgreSQL.

Lago keeps a plan's `usage_thresholds` as {amount_cents, threshold_display_name, recurring}: the
amount is a positive whole number of cents, a plan has at most one recurring threshold, and two
non-recurring thresholds of one plan never share an amount (a recurring one may equal a fixed one).
A plan breaking one of these writes nothing of its file; the error is one line.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from tally.catalog import load_paths

METRIC = {"billable_metric": {"code": "tokens", "name": "Tokens", "aggregation_type": "sum_agg",
                              "field_name": "n"}}


def plan(thresholds) -> dict:
    return {"plan": {"code": "ai", "name": "AI", "interval": "monthly", "amount_cents": 0,
                     "amount_currency": "USD", "usage_thresholds": thresholds,
                     "charges": [{"billable_metric_code": "tokens", "charge_model": "standard",
                                  "properties": {"amount": "0.01"}}]}}


def write_json(path: Path, data) -> Path:
    path.write_text(json.dumps(data))
    return path


def n_changes(wh) -> int:
    return wh.query(f'select count(*) from "{wh.raw}".catalog_changes')[1][0][0]


@pytest.mark.parametrize("thresholds, expected", [
    ({"amount_cents": 1000}, "usage_thresholds: must be a list"),
    (["1000"], "usage_thresholds[0]: must be an object"),
    ([{"threshold_display_name": "first"}], "usage_thresholds[0].amount_cents: must be a positive whole number, got None"),
    ([{"amount_cents": 0}], "usage_thresholds[0].amount_cents: must be a positive whole number, got 0"),
    ([{"amount_cents": -500}], "usage_thresholds[0].amount_cents: must be a positive whole number, got -500"),
    ([{"amount_cents": 10.5}], "usage_thresholds[0].amount_cents: must be a positive whole number, got 10.5"),
    ([{"amount_cents": "1e3"}], "usage_thresholds[0].amount_cents: must be a positive whole number, got '1e3'"),
    ([{"amount_cents": True}], "usage_thresholds[0].amount_cents: must be a positive whole number, got True"),
    ([{"amount_cents": 1000, "recurring": "yes"}],
     "usage_thresholds[0].recurring: must be true or false, got 'yes'"),
    ([{"amount_cents": 1000, "threshold_display_name": 7}],
     "usage_thresholds[0].threshold_display_name: must be a string, got 7"),
    ([{"amount_cents": 1000, "recurring": True}, {"amount_cents": 2000, "recurring": True}],
     "usage_thresholds[1].recurring: a plan has at most one recurring threshold"),
    ([{"amount_cents": 1000}, {"amount_cents": 5000}, {"amount_cents": 1000}],
     "usage_thresholds[2].amount_cents: another non-recurring threshold has the amount 1000"),
])
def test_invalid_usage_thresholds_write_nothing(warehouse, tmp_path, thresholds, expected):
    path = write_json(tmp_path / "bad.json", [METRIC, plan(thresholds)])
    with pytest.raises(ValueError) as exc:
        load_paths(warehouse, [path])
    message = str(exc.value)
    assert "\n" not in message
    assert message == f"{path}: plan 'ai': {expected}"
    assert n_changes(warehouse) == 0


def test_valid_usage_thresholds_load(warehouse, tmp_path):
    # a recurring threshold may have the amount of a non-recurring one (Lago's uniqueness is per
    # amount and recurring flag); no thresholds at all is a plan without progressive billing
    path = write_json(tmp_path / "ok.json", [METRIC, plan([
        {"amount_cents": 1000, "threshold_display_name": "first"},
        {"amount_cents": "5000"},
        {"amount_cents": 1000, "recurring": True}])])
    load_paths(warehouse, [path])
    assert n_changes(warehouse) == 2
