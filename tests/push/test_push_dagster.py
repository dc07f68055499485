"""One Dagster asset per system: materialising billing day D pushes the invoices finalized by
D's end, through the outbox; a re-run sends nothing; an unconfigured system sends nothing."""
from __future__ import annotations

import pytest


@pytest.mark.parametrize("target", ["duckdb"])
def test_push_assets(billed, systems, monkeypatch):
    from dagster import AssetKey, DagsterInstance, materialize

    from tally.assets import push_assets
    from tally.definitions import defs
    from tally.resources import TallyWarehouse, default_resources

    assert {a.key for a in push_assets} == {AssetKey(["push", s]) for s in
                                            ("stripe", "gocardless", "adyen", "xero", "netsuite", "hubspot", "webhook")}
    assert defs.resolve_job_def("push_invoices") is not None
    resources = default_resources(TallyWarehouse.from_settings(billed))
    [stripe_asset] = [a for a in push_assets if a.key == AssetKey(["push", "stripe"])]

    def run(day):
        with DagsterInstance.ephemeral() as instance:
            result = materialize([stripe_asset], partition_key=day, resources=resources, instance=instance)
        assert result.success
        [mat] = result.asset_materializations_for_node(stripe_asset.op.name)
        return {k: v.value for k, v in mat.metadata.items()}

    # 2026-03-01: acme's March invoice only (its April one is finalized on 2026-04-01)
    first = run("2026-03-01")
    assert (first["configured"], first["done"], first["failed"]) == (True, 3, 0)   # customer, invoice, payment
    assert len(systems.stripe.objects["invoices"]) == 1
    second = run("2026-04-01")
    assert (second["enqueued"], second["done"]) == (2, 2)
    again = run("2026-04-01")
    assert (again["enqueued"], again["done"]) == (0, 0)
    assert len(systems.stripe.objects["invoices"]) == 2

    monkeypatch.delenv("TALLY_STRIPE_API_KEY")
    assert run("2026-04-01") == {"configured": False}
