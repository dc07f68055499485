"""Pay-in-advance charges outside what a scenario can say: fees of a charge that is not
invoiceable exist, are final at once and sit on no invoice; Lago's restrictions on in-advance and
prorated charges are enforced at `tally load`."""
from __future__ import annotations

import copy
from datetime import datetime

import pytest

from conftest import ROOT
from tally import catalog, reports
from tally.catalog import CatalogError
from tally.dbt_runner import bill
from tally.scenario import Replay, read_scenario
from tally.warehouse import Warehouse

ADVANCE = ROOT / "tests" / "scenarios" / "charge_models_pay_in_advance.json"


def _logs_only(scenario: dict) -> dict:
    s = copy.deepcopy(scenario)
    s["steps"] = [st for st in s["steps"] if not st["action"].startswith(("run_billing", "expect_"))]
    return s


def test_non_invoiceable_fees_have_no_invoice(settings):
    Replay(_logs_only(read_scenario(ADVANCE)), settings).run()
    bill(settings, datetime(2026, 3, 8, 12), tests=True)
    with Warehouse(settings) as wh:
        fees = reports.fees(wh)
        invoices = reports.invoices(wh)
    atm = [f for f in fees if f["metric_code"] == "atm"]
    # known by March 8 12:00: the first withdrawal only, $2, on no invoice
    assert [(f["invoice_id"], f["amount_cents"], f["pay_in_advance"], f["invoiceable"]) for f in atm] == \
        [(None, 200, True, False)]
    assert all(f["metric_code"] != "atm" for inv in invoices for f in inv["fees"])
    # the in-advance invoices are final at once
    assert [i["status"] for i in invoices] == ["finalized"] * 5
    assert sum(i["total_amount_cents"] for i in invoices) == 250 + 100 + 100 + 550 + 100


def _plan(charge: dict) -> dict:
    return {"plan": {"name": "P", "code": "p", "interval": "monthly", "amount_cents": 0,
                     "amount_currency": "USD", "charges": [charge]}}


@pytest.mark.parametrize("metric,charge,message", [
    ({"aggregation_type": "max_agg", "field_name": "v"},
     {"charge_model": "standard", "pay_in_advance": True, "properties": {"amount": "1"}},
     "a max_agg metric cannot be paid in advance"),
    ({"aggregation_type": "sum_agg", "field_name": "v"},
     {"charge_model": "volume", "pay_in_advance": True,
      "properties": {"volume_ranges": [{"from_value": 0, "to_value": None, "per_unit_amount": "1", "flat_amount": "0"}]}},
     "a volume charge cannot be paid in advance"),
    ({"aggregation_type": "count_agg"},
     {"charge_model": "standard", "invoiceable": False, "properties": {"amount": "1"}},
     "only a pay-in-advance charge can be non-invoiceable"),
    ({"aggregation_type": "sum_agg", "field_name": "v"},
     {"charge_model": "standard", "prorated": True, "properties": {"amount": "1"}},
     "only charges on recurring sum_agg or unique_count_agg metrics can be prorated"),
    ({"aggregation_type": "sum_agg", "field_name": "v", "recurring": True},
     {"charge_model": "package", "prorated": True, "properties": {"amount": "1", "package_size": 10}},
     "a package charge cannot be prorated"),
    ({"aggregation_type": "count_agg"},
     {"charge_model": "standard", "pay_in_advance": "yes", "properties": {"amount": "1"}},
     "must be true or false"),
])
def test_charge_options_are_validated(warehouse, metric, charge, message):
    catalog.load_objects(warehouse, [{"billable_metric": {"name": "M", "code": "m", **metric}}], datetime(2026, 1, 1))
    with pytest.raises(CatalogError) as err:
        catalog.load_objects(warehouse, [_plan({"billable_metric_code": "m", **charge})], datetime(2026, 1, 1))
    assert message in str(err.value)
    assert "plan 'p'" in str(err.value) and "charges[0]" in str(err.value)
