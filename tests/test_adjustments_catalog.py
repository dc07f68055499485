"""Taxes, coupons, applied coupons and one-off invoices at `tally load`, on DuckDB and PostgreSQL.

Lago refuses tax codes that name no tax, coupons applied after their expiration date, and one-off
invoices of unknown add-ons; the loader does the same, writing nothing of the file.
"""
from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest

from tally.catalog import load_objects, load_paths

TAX = {"tax": {"code": "vat20", "name": "VAT", "rate": 20}}
CUSTOMER = {"customer": {"external_id": "c1", "name": "Acme", "currency": "USD"}}
ADD_ON = {"add_on": {"code": "setup", "name": "Setup", "amount_cents": 50000, "amount_currency": "USD",
                     "tax_codes": ["vat20"]}}
PROMO = {"coupon": {"code": "promo", "name": "Promo", "coupon_type": "percentage", "percentage_rate": 10,
                    "frequency": "once", "expiration": "time_limit", "expiration_at": "2026-01-31T23:59:59Z"}}


def write_json(path: Path, data) -> Path:
    path.write_text(json.dumps(data))
    return path


def n_changes(wh) -> int:
    return wh.query(f'select count(*) from "{wh.raw}".catalog_changes')[1][0][0]


@pytest.mark.parametrize("bad, expected", [
    ({"customer": {"external_id": "c2", "name": "B", "tax_codes": ["nope"]}},
     "customer 'c2': tax_codes[0]: tax 'nope' does not exist"),
    ({"add_on": {"code": "a", "name": "A", "amount_cents": 1, "amount_currency": "USD", "tax_codes": ["x"]}},
     "add_on 'a': tax_codes[0]: tax 'x' does not exist"),
    ({"coupon": {"code": "k", "name": "K", "coupon_type": "fixed_amount", "amount_cents": 100,
                 "amount_currency": "USD", "applies_to": {"plan_codes": ["none"]}}},
     "coupon 'k': applies_to.plan_codes[0]: plan 'none' does not exist"),
    ({"coupon": {"code": "k", "name": "K", "coupon_type": "percentage", "percentage_rate": 5,
                 "expiration": "time_limit"}},
     "coupon 'k': expiration_at: is required with expiration time_limit"),
    ({"applied_coupon": {"external_customer_id": "c1", "coupon_code": "ghost"}},
     "applied_coupon 'c1/ghost': coupon_code: coupon 'ghost' does not exist"),
    ({"invoice": {"id": "i1", "external_customer_id": "c1", "currency": "USD", "fees": []}},
     "invoice 'c1/i1': fees: must be a non-empty list of add-on fees"),
    ({"invoice": {"id": "i1", "external_customer_id": "c1", "fees": [{"add_on_code": "nope"}]}},
     "invoice 'c1/i1': fees[0].add_on_code: add-on 'nope' does not exist"),
    ({"invoice": {"id": "i1", "external_customer_id": "c1", "currency": "EUR", "fees": [{"add_on_code": "setup"}]}},
     "invoice 'c1/i1': currency: EUR differs from the customer's currency USD"),
    ({"invoice": {"id": "i1", "external_customer_id": "c1", "fees": [{"add_on_code": "setup", "tax_codes": ["zz"]}]}},
     "invoice 'c1/i1': fees[0].tax_codes[0]: tax 'zz' does not exist"),
])
def test_invalid_adjustment_objects_write_nothing(warehouse, tmp_path, bad, expected):
    path = write_json(tmp_path / "bad.json", [TAX, CUSTOMER, ADD_ON, PROMO, bad])
    with pytest.raises(ValueError) as exc:
        load_paths(warehouse, [path])
    assert str(exc.value) == f"{path}: {expected}"
    assert n_changes(warehouse) == 0


def test_an_expired_coupon_cannot_be_applied(warehouse):
    load_objects(warehouse, [TAX, CUSTOMER, PROMO], datetime(2026, 1, 1))
    applied = {"applied_coupon": {"external_customer_id": "c1", "coupon_code": "promo"}}
    with pytest.raises(ValueError, match="coupon 'promo' expired at 2026-01-31T23:59:59Z"):
        load_objects(warehouse, [applied], datetime(2026, 2, 1))
    assert load_objects(warehouse, [applied], datetime(2026, 1, 31, 12)) == (1, 0)


def test_one_off_invoices_are_identified_by_their_id(warehouse):
    load_objects(warehouse, [TAX, CUSTOMER, ADD_ON], datetime(2026, 1, 1))
    body = {"external_customer_id": "c1", "currency": "USD", "fees": [{"add_on_code": "setup"}]}
    assert load_objects(warehouse, [{"invoice": body}], datetime(2026, 1, 2)) == (1, 0)
    assert load_objects(warehouse, [{"invoice": body}], datetime(2026, 1, 3)) == (0, 1)
    assert load_objects(warehouse, [{"invoice": {**body, "id": "second"}}], datetime(2026, 1, 3)) == (1, 0)
