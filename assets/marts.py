"""Marts layer: ``marts/<table>`` built from ``sql/marts/<table>.sql``, then ``marts/published_copy``.

``mql_episodes`` and ``speed_to_lead`` rebuild only the contacts changed since their last build (config
``full_refresh: true`` forces a full rebuild; on ``mql_episodes`` it also rewrites the link table
``staging._contact_links`` from the raw associations); ``rep_scorecard`` recomputes only the (period, owner) groups
holding a changed episode (by delta), ``conversion_funnel`` reads the leads per
contact kept with ``mql_episodes``, ``speed_to_lead_impact`` is recomputed.
``published_copy`` depends on every mart, so it runs only after their blocking checks pass: analysts and the
SLA sensor never see a build that failed its checks.
"""


from pathlib import Path

import dagster as dg
from dagster_duckdb import DuckDBResource

from pipeline.modeling.metadata import build_metadata
from pipeline.modeling.runner import build_mart
from pipeline.publish import publish
from pipeline.report.story import speed_to_lead_story
from pipeline.settings import published_db_path

STAGING = lambda *names: [dg.AssetKey(["staging", n]) for n in names]  # noqa: E731
MARTS_KEY = lambda name: dg.AssetKey(["marts", name])  # noqa: E731


class MartBuildConfig(dg.Config):
    full_refresh: bool = False


@dg.asset(
    key=["marts", "mql_episodes"], group_name="marts", pool="duckdb_write", kinds={"duckdb", "sql"},
    deps=STAGING("contacts", "contact_property_history", "associations", "deals", "policy"),
    description="One row per MQL episode: mql_at, owner at MQL, assignment, MQL type, conversions in its window.",
)
def mql_episodes(duckdb: DuckDBResource, config: MartBuildConfig) -> dg.MaterializeResult:
    with duckdb.get_connection() as con:
        result = build_mart(con, "mql_episodes", full_refresh=config.full_refresh)
        return dg.MaterializeResult(metadata=build_metadata(con, result))


@dg.asset(
    key=["marts", "speed_to_lead"], group_name="marts", pool="duckdb_write", kinds={"duckdb", "sql"},
    deps=[MARTS_KEY("mql_episodes"),
          *STAGING("calls", "emails", "meetings", "communications", "associations", "owner_teams",
                   "business_calendar", "policy")],
    description="One row per MQL episode with first touch, response times, SLA status and attempts "
                "(the pinned analyst contract; docs/analyst-guide.md).",
)
def speed_to_lead(duckdb: DuckDBResource, config: MartBuildConfig) -> dg.MaterializeResult:
    with duckdb.get_connection() as con:
        result = build_mart(con, "speed_to_lead", full_refresh=config.full_refresh)
        metadata = build_metadata(con, result)
        metadata.update(speed_to_lead_story(con))
        return dg.MaterializeResult(metadata=metadata)


def _aggregate(name: str, deps: list[dg.AssetKey], description: str) -> dg.AssetsDefinition:
    @dg.asset(key=["marts", name], group_name="marts", pool="duckdb_write", kinds={"duckdb", "sql"},
              deps=deps, description=description)
    def _build(duckdb: DuckDBResource) -> dg.MaterializeResult:
        with duckdb.get_connection() as con:
            result = build_mart(con, name)
            return dg.MaterializeResult(metadata=build_metadata(con, result))

    return _build


AGGREGATES = [
    _aggregate("conversion_funnel",
               [MARTS_KEY("speed_to_lead"), MARTS_KEY("mql_episodes"), *STAGING("contacts", "owner_teams")],
               "Funnel by cohort month/quarter, MQL type, team and source, with change vs the previous period "
               "and benchmark ranges."),
    _aggregate("rep_scorecard", [MARTS_KEY("speed_to_lead"), *STAGING("owners")],
               "Per owner and week/month/quarter: MQLs, median/p90 response, SLA met %, breaches, attempts, "
               "recycling below the minimum attempts, conversion."),
    _aggregate("speed_to_lead_impact", [MARTS_KEY("speed_to_lead")],
               "Conversion by response-time bucket with Wilson intervals and the fastest / >24 h ratio."),
]
MART_NAMES = ("mql_episodes", "speed_to_lead", "conversion_funnel", "rep_scorecard", "speed_to_lead_impact")


@dg.asset(
    key=["marts", "published_copy"], group_name="marts", pool="duckdb_write", kinds={"duckdb"},
    deps=[MARTS_KEY(n) for n in MART_NAMES],
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


defs = dg.Definitions(assets=[mql_episodes, speed_to_lead, *AGGREGATES, published_copy])
