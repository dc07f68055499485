"""Customers' sync settings (Lago's billing_configuration and integration_customers) and the
organization's webhook_urls, validated at `tally load` on DuckDB and PostgreSQL."""
from __future__ import annotations

from datetime import datetime

import pytest

from tally import catalog

AT = datetime(2026, 3, 1)


def _customer(**extra) -> dict:
    return {"customer": {"external_id": "c1", "name": "C1", "currency": "EUR", **extra}}


GOOD = [
    {"billing_configuration": {"payment_provider": "stripe", "provider_customer_id": "cus_1", "sync": True}},
    {"billing_configuration": {"payment_provider": "gocardless", "sync_with_provider": True,
                               "payment_provider_code": "gc_main"}},
    {"billing_configuration": {"invoice_grace_period": 2}},
    {"integration_customers": [{"integration_type": "netsuite", "subsidiary_id": 3, "sync_with_provider": True},
                               {"integration_type": "hubspot", "targeted_object": "contacts",
                                "external_customer_id": "123"},
                               {"integration_type": "xero", "integration_code": "x"}]},
]

BAD = [
    ({"billing_configuration": "stripe"}, "billing_configuration: must be an object"),
    ({"billing_configuration": {"payment_provider": "paypal"}},
     "billing_configuration.payment_provider: must be one of adyen, gocardless, stripe, got 'paypal'"),
    ({"billing_configuration": {"provider_customer_id": "cus_1"}},
     "billing_configuration.payment_provider: is required with provider_customer_id or sync_with_provider"),
    ({"billing_configuration": {"payment_provider": "stripe", "sync_with_provider": "yes"}},
     "billing_configuration.sync_with_provider: must be true or false, got 'yes'"),
    ({"billing_configuration": {"payment_provider": "adyen", "provider_customer_id": ""}},
     "billing_configuration.provider_customer_id: must be a non-empty string, got ''"),
    ({"integration_customers": {"integration_type": "xero"}}, "integration_customers: must be a list"),
    ({"integration_customers": ["xero"]}, "integration_customers[0]: must be an object"),
    ({"integration_customers": [{"integration_type": "quickbooks"}]},
     "integration_customers[0].integration_type: must be one of anrok, avalara, hubspot, netsuite, salesforce, xero, "
     "got 'quickbooks'"),
    ({"integration_customers": [{"integration_type": "xero"}, {"integration_type": "xero"}]},
     "integration_customers[1].integration_type: xero is listed twice"),
    ({"integration_customers": [{"integration_type": "hubspot", "targeted_object": "deals"}]},
     "integration_customers[0].targeted_object: must be companies or contacts, got 'deals'"),
    ({"integration_customers": [{"integration_type": "netsuite", "sync_with_provider": 1}]},
     "integration_customers[0].sync_with_provider: must be true or false, got 1"),
]


@pytest.mark.parametrize("extra", GOOD)
def test_valid_sync_settings_load(warehouse, extra):
    assert catalog.load_objects(warehouse, [_customer(**extra)], AT) == (1, 0)


@pytest.mark.parametrize("extra,message", BAD)
def test_invalid_sync_settings_are_refused(warehouse, extra, message):
    with pytest.raises(catalog.CatalogError) as err:
        catalog.load_objects(warehouse, [_customer(**extra)], AT)
    assert str(err.value) == f"customer 'c1': {message}"
    assert warehouse.query(f'select count(*) from "{warehouse.raw}".catalog_changes')[1][0][0] == 0


def test_organization_webhook_urls(warehouse):
    org = {"organization": {"name": "O", "timezone": "UTC", "webhook_urls": ["https://hooks.example.com/tally"]}}
    assert catalog.load_objects(warehouse, [org], AT) == (1, 0)
    bad = {"organization": {"name": "O", "timezone": "UTC", "webhook_urls": ["ftp://x"]}}
    with pytest.raises(catalog.CatalogError, match=r"webhook_urls\[0\]: 'ftp://x' is not an http\(s\) URL"):
        catalog.load_objects(warehouse, [bad], AT)
    from tally.push.source import webhook_endpoints

    assert webhook_endpoints(warehouse) == ["https://hooks.example.com/tally"]
