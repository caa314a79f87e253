"""``marts/published_copy``: the read-only copy analysts and the SLA sensor query.

The marts themselves are dbt models (assets/models.py). This asset depends on every mart, so it runs only
after their blocking checks pass: analysts and the sensor never see a build that failed its checks.
"""

from pathlib import Path

import dagster as dg
from dagster_duckdb import DuckDBResource

from pipeline.publish import publish
from pipeline.settings import published_db_path

MART_NAMES = ("mql_episodes", "speed_to_lead", "conversion_funnel", "rep_scorecard", "speed_to_lead_impact")


@dg.asset(
    key=["marts", "published_copy"], group_name="marts", pool="duckdb_write", kinds={"duckdb"},
    deps=[dg.AssetKey(["marts", n]) for n in MART_NAMES],
    description="The read-only copy analysts and the SLA sensor query (settings.published_db_path), "
                "replaced atomically after the marts pass their checks.",
)
def published_copy(duckdb: DuckDBResource) -> dg.MaterializeResult:
    target = published_db_path(Path(duckdb.database))
    with duckdb.get_connection() as con:
        result = publish(con, target)
    return dg.MaterializeResult(metadata={
        "path": dg.MetadataValue.path(str(result.path)),
        "size_mb": dg.MetadataValue.float(round(result.bytes / 2**20, 2)),
        "tables": dg.MetadataValue.int(result.tables),
        "publish_seconds": dg.MetadataValue.float(round(result.seconds, 3)),
        "usage": dg.MetadataValue.md(f"`handoff sql` (read-only session on {result.path}; any DuckDB 2.x client opens it read-only)"),
    })


defs = dg.Definitions(assets=[published_copy])
