"""``reports/handoff_report``: the offline HTML report, rebuilt after the marts in the same run."""

from pathlib import Path

import dagster as dg
from dagster_duckdb import DuckDBResource
from pydantic import Field

from pipeline.resources import PolicyResource
from pipeline.settings import now as clock_now

MARTS = ("speed_to_lead", "conversion_funnel", "rep_scorecard", "speed_to_lead_impact")


class ReportConfig(dg.Config):
    out: str = Field("out/handoff_report.html", description="where to write the HTML file (relative to the cwd)")


@dg.asset(
    key=["reports", "handoff_report"],
    group_name="reports",
    deps=[dg.AssetKey(["marts", name]) for name in MARTS],
    owners=["team:revops"],
    kinds={"html", "duckdb"},
    pool="duckdb_write",
    description=(
        "One self-contained offline HTML file (charts' JavaScript inline, no CDN): SLA compliance by week and "
        "team, response time by rep, breaches with HubSpot links, conversion by response time, funnel by quarter "
        "against benchmarks. Same content as `handoff report`."
    ),
)
def handoff_report(context: dg.AssetExecutionContext, config: ReportConfig, duckdb: DuckDBResource,
                   policy: PolicyResource) -> dg.MaterializeResult:
    from pipeline.report.html import write_report  # altair, jinja2, rich: only when the report is written

    out = Path(config.out).resolve()
    with duckdb.get_connection() as con:
        con.execute("SET TimeZone = 'UTC'")
        result = write_report(con, out, clock_now(), policy.load())
    context.log.info(f"wrote {out} ({result.size_bytes / 1e6:.1f} MB)")
    return dg.MaterializeResult(
        metadata={
            "path": dg.MetadataValue.path(str(out)),
            "size_mb": dg.MetadataValue.float(round(result.size_bytes / 1e6, 2)),
            "episodes": dg.MetadataValue.int(result.episodes),
            "sections": dg.MetadataValue.json(result.sections),
        }
    )


defs = dg.Definitions(assets=[handoff_report])
