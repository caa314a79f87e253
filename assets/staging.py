"""Staging layer: ``staging/<table>`` views over the raw ``hubspot/<table>`` tables (typed, renamed), plus
``staging/policy`` (this run's policy values and clock, as data for the SQL) and ``staging/business_calendar``.

All views are built by one subsettable step (creating a view is instant; one step avoids a process per view).
"""


import dagster as dg
from dagster_duckdb import DuckDBResource

from pipeline.modeling.metadata import build_metadata
from pipeline.modeling.runner import STAGING_VIEWS, build_parameters, build_staging_view, staging_catalog
from pipeline.resources import PolicyResource
from pipeline.settings import now as clock_now

STAGING_SPECS = [
    dg.AssetSpec(
        key=["staging", table],
        group_name="staging",
        deps=[dg.AssetKey(["hubspot", table])],
        description=f"Typed, renamed view over hubspot.{table} (sql/staging/{table}.sql).",
        kinds={"duckdb", "sql"},
    )
    for table in STAGING_VIEWS
]


@dg.multi_asset(specs=STAGING_SPECS, can_subset=True, pool="duckdb_write", name="staging_views")
def staging_views(context: dg.AssetExecutionContext, duckdb: DuckDBResource):
    with duckdb.get_connection() as con:
        catalog = staging_catalog(con)
        for key in sorted(context.selected_asset_keys, key=lambda k: k.path[-1]):
            result = build_staging_view(con, key.path[-1], catalog)
            yield dg.MaterializeResult(asset_key=key, metadata=build_metadata(con, result))


@dg.multi_asset(
    specs=[
        dg.AssetSpec(key=["staging", "policy"], group_name="staging", kinds={"duckdb"},
                     description="One row: the policy values the SQL models read (SLA minutes, demo recognition, "
                                 "business hours, minimum attempts) and now_at, the run's clock (HANDOFF_NOW)."),
        dg.AssetSpec(key=["staging", "business_calendar"], group_name="staging", kinds={"duckdb", "sql"},
                     deps=[dg.AssetKey(["staging", "contact_property_history"])],
                     description="Business hours per local day in the policy's time zone, with cumulative open "
                                 "time (sql/staging/business_calendar.sql)."),
    ],
    pool="duckdb_write",
    name="staging_parameters",
)
def staging_parameters(duckdb: DuckDBResource, policy: PolicyResource):
    with duckdb.get_connection() as con:
        for result in build_parameters(con, policy.load(), clock_now()):
            yield dg.MaterializeResult(asset_key=["staging", result.model.split(".")[1]],
                                       metadata=build_metadata(con, result))


defs = dg.Definitions(assets=[staging_views, staging_parameters])
