"""Invalid catalog objects for the catalog loader (`tally load`), on DuckDB and on PostgreSQL.

A bad object makes `load_paths` raise a ValueError whose message is one line,
`<file>: <object type> '<key>': <field>: <reason>`, and nothing of that file is written, even
the valid objects before it. All expected values below are worked out by hand.
"""
from __future__ import annotations

import copy
import json
import os
import subprocess
from pathlib import Path

import pytest
import yaml

from tally.catalog import load_paths
from tally.warehouse import Warehouse

TALLY = Path(__file__).resolve().parents[1] / ".venv" / "bin" / "tally"

METRIC = {"billable_metric": {"code": "api_calls", "name": "API calls", "aggregation_type": "count_agg"}}
STORAGE = {"billable_metric": {"code": "storage", "name": "Storage", "aggregation_type": "sum_agg",
                               "field_name": "gb", "recurring": True}}
PLAN = {"plan": {"code": "starter", "name": "Starter", "interval": "monthly", "amount_cents": 1000,
                 "amount_currency": "EUR", "charges": [
                     {"billable_metric_code": "api_calls", "charge_model": "standard",
                      "properties": {"amount": "0.01"}}]}}
CUSTOMER = {"customer": {"external_id": "cus_1", "name": "Acme", "currency": "EUR", "timezone": "Europe/Paris"}}
SUBSCRIPTION = {"subscription": {"external_id": "sub_1", "external_customer_id": "cus_1", "plan_code": "starter",
                                 "subscription_at": "2024-01-01T00:00:00Z"}}
VALID = [METRIC, CUSTOMER, PLAN]          # precede every bad object below


# -- helpers --------------------------------------------------------------------------------------
def write_json(path: Path, data) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2))
    return path


def write_yaml(path: Path, data) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def n_changes(wh) -> int:
    return wh.query(f'select count(*) from "{wh.raw}".catalog_changes')[1][0][0]


def versions(wh, otype: str, key: str) -> list[dict]:
    """Payload bodies of (otype, key), oldest first."""
    _, rows = wh.query(f'select cast(payload as varchar) from "{wh.raw}".catalog_changes '
                       "where object_type = ? and object_key = ? order by seq", [otype, key])
    return [json.loads(r[0])[otype] for r in rows]


def with_changes(item: dict, path: str, value) -> dict:
    """A deep copy of `item` with the value at dotted `path` (ints index lists) replaced."""
    item = copy.deepcopy(item)
    node = next(iter(item.values()))
    *parents, last = [int(p) if p.isdigit() else p for p in path.split(".")]
    for p in parents:
        node = node[p]
    node[last] = value
    return item


def charge(model: str, properties: dict, **extra) -> dict:
    return with_changes(PLAN, "charges", [{"billable_metric_code": "api_calls", "charge_model": model,
                                           "properties": properties, **extra}])


def ranges(*pairs) -> dict:
    return {"graduated_ranges": [{"from_value": f, "to_value": t, "per_unit_amount": "0.01", "flat_amount": "0"}
                                 for f, t in pairs]}


# (kind, bad object, expected "<type> '<key>': <field>: <reason>")
CASES = [
    ("unknown_aggregation_type",
     {"billable_metric": {"code": "m_bad", "name": "M", "aggregation_type": "avg_agg"}},
     "billable_metric 'm_bad': aggregation_type: unknown aggregation type 'avg_agg'"),
    ("aggregation_type_as_list",
     {"billable_metric": {"code": "m_bad", "name": "M", "aggregation_type": ["count_agg"]}},
     "billable_metric 'm_bad': aggregation_type: unknown aggregation type ['count_agg']"),
    ("recurring_count_agg",
     {"billable_metric": {"code": "m_bad", "name": "M", "aggregation_type": "count_agg", "recurring": True}},
     "billable_metric 'm_bad': recurring: count_agg cannot be recurring"),
    ("sum_agg_without_field_name",
     {"billable_metric": {"code": "m_bad", "name": "M", "aggregation_type": "sum_agg"}},
     "billable_metric 'm_bad': field_name: is required for sum_agg"),
    ("unknown_charge_model", charge("flat", {"amount": "1"}),
     "plan 'starter': charges[0].charge_model: unknown charge model 'flat'"),
    ("charge_for_unknown_metric", with_changes(PLAN, "charges.0.billable_metric_code", "gpu_hours"),
     "plan 'starter': charges[0].billable_metric_code: billable metric 'gpu_hours' does not exist"),
    ("graduated_ranges_overlap", charge("graduated", ranges((0, 10), (10, None))),
     "plan 'starter': charges[0].properties.graduated_ranges[1].from_value: "
     "overlaps the previous range (expected 11)"),
    ("graduated_ranges_gap", charge("graduated", ranges((0, 10), (12, None))),
     "plan 'starter': charges[0].properties.graduated_ranges[1].from_value: "
     "leaves a gap after the previous range (expected 11)"),
    ("graduated_ranges_not_from_zero", charge("graduated", ranges((1, 10), (11, None))),
     "plan 'starter': charges[0].properties.graduated_ranges[0].from_value: must start at 0"),
    ("graduated_last_range_closed", charge("graduated", ranges((0, 10), (11, 20))),
     "plan 'starter': charges[0].properties.graduated_ranges[1].to_value: "
     "the last range must be open-ended (null)"),
    ("currency_not_iso_4217", with_changes(PLAN, "amount_currency", "EURO"),
     "plan 'starter': amount_currency: 'EURO' is not an ISO 4217 currency code"),
    ("currency_lowercase", with_changes(PLAN, "amount_currency", "eur"),
     "plan 'starter': amount_currency: 'eur' is not an ISO 4217 currency code"),
    ("negative_amount_cents", with_changes(PLAN, "amount_cents", -100),
     "plan 'starter': amount_cents: must not be negative, got -100"),
    ("fractional_amount_cents", with_changes(PLAN, "amount_cents", 10.5),
     "plan 'starter': amount_cents: must be a whole number, got 10.5"),
    ("negative_charge_amount", charge("standard", {"amount": "-0.01"}),
     "plan 'starter': charges[0].properties.amount: must not be negative, got '-0.01'"),
    ("percentage_rate_over_100", charge("percentage", {"rate": "150"}),
     "plan 'starter': charges[0].properties.rate: must be at most 100, got '150'"),
    ("interval_as_list", with_changes(PLAN, "interval", ["monthly"]),
     "plan 'starter': interval: must be one of monthly, quarterly, semiannual, weekly, yearly, got ['monthly']"),
    ("charge_filter_not_an_object", charge("standard", {"amount": "1"}, filters=["region=eu"]),
     "plan 'starter': charges[0].filters[0]: must be an object"),
    ("plan_without_code", with_changes(PLAN, "code", ""),
     "plan None: code: is required"),
    ("subscription_for_unknown_customer", with_changes(SUBSCRIPTION, "external_customer_id", "cus_404"),
     "subscription 'sub_1': external_customer_id: customer 'cus_404' does not exist"),
    ("subscription_for_unknown_plan", with_changes(SUBSCRIPTION, "plan_code", "gold"),
     "subscription 'sub_1': plan_code: plan 'gold' does not exist"),
    ("subscription_at_not_iso_extended", with_changes(SUBSCRIPTION, "subscription_at", "20240101T000000Z"),
     "subscription 'sub_1': subscription_at: '20240101T000000Z' is not an ISO 8601 date-time "
     "(such as 2024-01-31T00:00:00Z)"),
    ("subscription_at_not_a_date", with_changes(SUBSCRIPTION, "subscription_at", "next monday"),
     "subscription 'sub_1': subscription_at: 'next monday' is not an ISO 8601 date-time "
     "(such as 2024-01-31T00:00:00Z)"),
    ("invalid_timezone", with_changes(CUSTOMER, "timezone", "Mars/Olympus_Mons"),
     "customer 'cus_1': timezone: 'Mars/Olympus_Mons' is not an IANA time zone"),
    ("timezone_is_a_zone_folder", with_changes(CUSTOMER, "timezone", "America"),
     "customer 'cus_1': timezone: 'America' is not an IANA time zone"),
    ("nan_in_metadata", with_changes(CUSTOMER, "metadata", {"score": float("nan")}),
     "customer 'cus_1': metadata.score: must be a finite number, got nan"),
    ("tax_rate_over_100", {"tax": {"code": "vat", "name": "VAT", "rate": 120}},
     "tax 'vat': rate: must be at most 100, got 120"),
]


@pytest.mark.parametrize("kind, bad, expected", CASES, ids=[c[0] for c in CASES])
def test_invalid_object_writes_nothing_from_its_file(warehouse, tmp_path, kind, bad, expected):
    load_paths(warehouse, [write_json(tmp_path / "base.json", {"billable_metric": {
        "code": "existing", "name": "Existing", "aggregation_type": "count_agg"}})])
    before = n_changes(warehouse)
    assert before == 1
    path = write_json(tmp_path / "bad.json", [*VALID, bad])
    with pytest.raises(ValueError) as exc:
        load_paths(warehouse, [path])
    message = str(exc.value)
    assert "\n" not in message
    assert message == f"{path}: {expected}"
    assert n_changes(warehouse) == before


def test_invalid_object_in_yaml(warehouse, tmp_path):
    path = write_yaml(tmp_path / "bad.yaml", [*VALID, charge("graduated", ranges((0, 10), (5, None)))])
    with pytest.raises(ValueError) as exc:
        load_paths(warehouse, [path])
    assert str(exc.value) == (f"{path}: plan 'starter': charges[0].properties.graduated_ranges[1].from_value: "
                              "overlaps the previous range (expected 11)")
    assert n_changes(warehouse) == 0


STRUCTURE_CASES = [
    ("unknown_object_type", "bad.json", json.dumps([METRIC, {"widget": {"code": "w"}}]),
     "item 1: expected a Lago request body such as {\"plan\": {...}}, one of: add_on, applied_add_on, "
     "applied_coupon, billable_metric, coupon, credit_note, customer, invoice, organization, plan, subscription, "
     "tax, wallet, wallet_transaction"),
    ("body_not_an_object", "bad.json", json.dumps([METRIC, {"plan": ["starter"]}]),
     "item 1: the body of 'plan' must be an object"),
    ("json_syntax_error", "bad.json", '[{"billable_metric": {"code": "x",}}]',
     "not valid JSON: Expecting property name enclosed in double quotes: line 1 column 35 (char 34)"),
    ("yaml_syntax_error", "bad.yaml", "- billable_metric:\n    code: [x\n    name: y\n",
     "not valid YAML: expected ',' or ']', but got ':' (line 3, column 9)"),
]


@pytest.mark.parametrize("kind, name, text, expected", STRUCTURE_CASES, ids=[c[0] for c in STRUCTURE_CASES])
def test_unreadable_file(warehouse, tmp_path, kind, name, text, expected):
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(ValueError) as exc:
        load_paths(warehouse, [path])
    assert str(exc.value) == f"{path}: {expected}"
    assert n_changes(warehouse) == 0


# -- what loads -----------------------------------------------------------------------------------
def test_loading_the_same_definitions_twice_writes_nothing_the_second_time(warehouse, tmp_path):
    path = write_json(tmp_path / "catalog.json", [*VALID, STORAGE, SUBSCRIPTION])
    assert load_paths(warehouse, [path]) == [(path, 5, 0)]
    assert n_changes(warehouse) == 5
    assert load_paths(warehouse, [path]) == [(path, 0, 5)]
    # the same definitions written differently (key order, YAML) are the same definitions
    shuffled = [{k: dict(reversed(list(v.items())))} for item in [*VALID, STORAGE, SUBSCRIPTION]
                for k, v in item.items()]
    yaml_path = write_yaml(tmp_path / "catalog.yaml", shuffled)
    assert load_paths(warehouse, [yaml_path]) == [(yaml_path, 0, 5)]
    assert n_changes(warehouse) == 5


def test_a_changed_definition_writes_a_new_version(warehouse, tmp_path):
    path = write_json(tmp_path / "catalog.json", [*VALID, SUBSCRIPTION])
    assert load_paths(warehouse, [path]) == [(path, 4, 0)]
    changed = write_json(tmp_path / "catalog.json", [*VALID[:2], with_changes(PLAN, "amount_cents", 1500),
                                                     SUBSCRIPTION])
    assert load_paths(warehouse, [changed]) == [(changed, 1, 3)]
    assert n_changes(warehouse) == 5
    assert [v["amount_cents"] for v in versions(warehouse, "plan", "starter")] == [1000, 1500]
    # changing it back is a change too
    assert load_paths(warehouse, [write_json(tmp_path / "catalog.json", [PLAN])]) == [(path, 1, 0)]
    assert [v["amount_cents"] for v in versions(warehouse, "plan", "starter")] == [1000, 1500, 1000]


def test_yaml_and_json_lists_and_folders(warehouse, tmp_path):
    folder = tmp_path / "catalog"
    write_yaml(folder / "01_metrics.yaml", [METRIC, STORAGE])
    write_json(folder / "02_plan.json", PLAN)                                  # a single body, not a list
    write_yaml(folder / "sub" / "03_customers.yml", [CUSTOMER, SUBSCRIPTION])
    (folder / "README.md").write_text("not a catalog file")
    results = load_paths(warehouse, [folder])
    assert [(p.relative_to(folder).as_posix(), w, u) for p, w, u in results] == [
        ("01_metrics.yaml", 2, 0), ("02_plan.json", 1, 0), ("sub/03_customers.yml", 2, 0)]
    _, rows = warehouse.query(f'select object_type, object_key from "{warehouse.raw}".catalog_changes order by seq')
    assert rows == [("billable_metric", "api_calls"), ("billable_metric", "storage"), ("plan", "starter"),
                    ("customer", "cus_1"), ("subscription", "sub_1")]
    assert load_paths(warehouse, [folder]) == [(p, 0, w) for p, w, _ in results]


def test_yaml_dates_and_times_load_as_iso_text(warehouse, tmp_path):
    path = tmp_path / "catalog.yaml"
    path.write_text(
        "- billable_metric: {code: api_calls, name: API calls, aggregation_type: count_agg}\n"
        "- customer: {external_id: cus_1, currency: EUR, metadata: {1: one, 2.5: yes}}\n"
        "- plan: {code: starter, name: Starter, interval: monthly, amount_cents: 0, amount_currency: EUR}\n"
        "- subscription:\n"
        "    external_id: sub_1\n"
        "    external_customer_id: cus_1\n"
        "    plan_code: starter\n"
        "    subscription_at: 2024-01-01T09:30:00+02:00\n"
        "    ending_at: 2024-12-31\n")
    assert load_paths(warehouse, [path]) == [(path, 4, 0)]
    sub = versions(warehouse, "subscription", "sub_1")[0]
    assert (sub["subscription_at"], sub["ending_at"]) == ("2024-01-01T07:30:00Z", "2024-12-31")
    assert versions(warehouse, "customer", "cus_1")[0]["metadata"] == {"1": "one", "2.5": True}
    assert load_paths(warehouse, [path]) == [(path, 0, 4)]


def test_each_file_is_its_own_unit(warehouse, tmp_path):
    good = write_json(tmp_path / "a_good.json", [METRIC, CUSTOMER])
    bad = write_json(tmp_path / "b_bad.json", [PLAN, with_changes(SUBSCRIPTION, "plan_code", "gold")])
    with pytest.raises(ValueError) as exc:
        load_paths(warehouse, [good, bad])
    assert str(exc.value).startswith(f"{bad}: subscription 'sub_1': plan_code: ")
    _, rows = warehouse.query(f'select object_key from "{warehouse.raw}".catalog_changes order by seq')
    assert rows == [("api_calls",), ("cus_1",)]


# -- the command line -----------------------------------------------------------------------------
def _tally(settings, *args) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("TALLY_") or k.startswith("TALLY_PG_") or k == "TALLY_PROJECT_DIR"}
    env.update(TALLY_HOME=str(settings.home), TALLY_TARGET=settings.target, TALLY_SCHEMA=settings.schema,
               TALLY_RAW_SCHEMA=settings.raw_schema)
    return subprocess.run([str(TALLY), *args], env=env, capture_output=True, text=True, timeout=60)


def test_cli_load_bad_file_exits_2_with_one_line(settings, tmp_path):
    good = write_json(tmp_path / "good.json", [METRIC])
    bad = write_json(tmp_path / "bad.json", [CUSTOMER, charge("flat", {"amount": "1"})])
    done = _tally(settings, "load", str(good))
    assert (done.returncode, done.stdout, done.stderr) == (0, f"{good}: 1 written, 0 unchanged\n", "")

    done = _tally(settings, "load", str(bad))
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr == f"tally: error: {bad}: plan 'starter': charges[0].charge_model: unknown charge model 'flat'\n"

    odd = tmp_path / "odd.yaml"                        # a list where a name is expected: no traceback
    odd.write_text("billable_metric: {code: m, name: M, aggregation_type: [count_agg]}\n")
    done = _tally(settings, "load", str(odd))
    assert (done.returncode, done.stderr) == (
        2, f"tally: error: {odd}: billable_metric 'm': aggregation_type: unknown aggregation type ['count_agg']\n")

    missing = tmp_path / "nope.json"
    done = _tally(settings, "load", str(missing))
    assert (done.returncode, done.stderr) == (2, f"tally: error: {missing}: no such file or folder\n")

    broken = tmp_path / "broken.yaml"
    broken.write_text("customer: {external_id: [cus_1}\n")
    done = _tally(settings, "load", str(broken))
    assert done.returncode == 2
    assert len(done.stderr.splitlines()) == 1 and done.stderr.startswith(f"tally: error: {broken}: not valid YAML: ")

    with Warehouse(settings) as wh:
        _, rows = wh.query(f'select object_type, object_key from "{wh.raw}".catalog_changes')
    assert rows == [("billable_metric", "api_calls")]


# -- metric expressions and charge filters, checked at load --------------------------------
def _metric_with_expression(expression):
    return {"billable_metric": {"name": "Hours", "code": "hours", "aggregation_type": "sum_agg",
                                "field_name": "hours", "expression": expression}}


@pytest.mark.parametrize("expression, fragment", [
    ("(select count(*) from raw.events)", "expression"),
    ("1; drop table raw.events", "expression"),
    ("pg_sleep(10)", "expression"),
])
def test_hostile_expression_is_refused_at_load(warehouse, tmp_path, expression, fragment):
    from tally import catalog

    path = tmp_path / "metric.json"
    path.write_text(json.dumps(_metric_with_expression(expression)))
    with pytest.raises(ValueError) as err:
        catalog.load_paths(warehouse, [path])
    message = str(err.value)
    assert "\n" not in message and f"billable_metric 'hours': {fragment}:" in message
    assert warehouse.query(f'select count(*) from "{warehouse.raw}".catalog_changes')[1][0][0] == 0


def test_valid_expression_loads(warehouse, tmp_path):
    from tally import catalog

    path = tmp_path / "metric.json"
    path.write_text(json.dumps(_metric_with_expression("CEIL((event.properties.ended_at - event.timestamp) / 3600)")))
    assert catalog.load_paths(warehouse, [path])[0][1] == 1


@pytest.mark.parametrize("values, field, reason", [
    ({"zone": ["eu"]}, "values.zone", "has no filter on 'zone'"),
    ({"region": ["mars"]}, "values.region", "'mars' is not one of the metric's values"),
    ({"region": []}, "values.region", "must be a non-empty list"),
])
def test_charge_filter_must_match_the_metric_filters(warehouse, tmp_path, values, field, reason):
    from tally import catalog

    path = tmp_path / "catalog.json"
    path.write_text(json.dumps([
        {"billable_metric": {"name": "Calls", "code": "calls", "aggregation_type": "count_agg",
                             "filters": [{"key": "region", "values": ["eu", "us"]}]}},
        {"plan": {"name": "P", "code": "p", "interval": "monthly", "amount_cents": 0, "amount_currency": "USD",
                  "charges": [{"billable_metric_code": "calls", "charge_model": "standard",
                               "properties": {"amount": "1"},
                               "filters": [{"values": values, "properties": {"amount": "2"}}]}]}}]))
    with pytest.raises(ValueError) as err:
        catalog.load_paths(warehouse, [path])
    assert f"plan 'p': charges[0].filters[0].{field}: " in str(err.value) and reason in str(err.value)
    assert warehouse.query(f'select count(*) from "{warehouse.raw}".catalog_changes')[1][0][0] == 0


def test_custom_agg_is_refused_not_billed_as_zero(warehouse, tmp_path):
    from tally import catalog

    path = tmp_path / "metric.json"
    path.write_text(json.dumps({"billable_metric": {"name": "C", "code": "c", "aggregation_type": "custom_agg"}}))
    with pytest.raises(ValueError) as err:
        catalog.load_paths(warehouse, [path])
    assert "billable_metric 'c': aggregation_type: custom_agg is not supported" in str(err.value)
