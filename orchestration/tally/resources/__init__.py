"""Dagster resources: the warehouse (duckdb | postgres) and dbt configured for it."""
from .dbt import TallyDbtCliResource
from .warehouse import WAREHOUSE_POOL, TallyWarehouse


def default_resources(warehouse: TallyWarehouse | None = None) -> dict:
    """The resources every Tally job needs, for one warehouse (default: from the environment)."""
    warehouse = warehouse or TallyWarehouse()
    return {"warehouse": warehouse, "dbt": TallyDbtCliResource.for_warehouse(warehouse)}


__all__ = ["TallyDbtCliResource", "TallyWarehouse", "WAREHOUSE_POOL", "default_resources"]
