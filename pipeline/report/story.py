"""Materialization metadata for ``marts/speed_to_lead`` that tells the story at a glance in the Dagster UI."""

from __future__ import annotations

from datetime import datetime

import dagster as dg
import duckdb

from pipeline.report import charts, queries
from pipeline.settings import now as clock_now


def markdown_table(rows: list[dict], headers: dict[str, str]) -> str:
    """Rows as a GitHub-flavoured Markdown table; ``headers`` maps row keys to column titles, in order."""
    def cell(value) -> str:
        return "" if value is None else str(value).replace("|", "\\|")

    lines = ["| " + " | ".join(headers.values()) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(cell(row.get(k)) for k in headers) + " |" for row in rows]
    return "\n".join(lines)


def speed_to_lead_story(con: duckdb.DuckDBPyConnection, now: datetime | None = None) -> dict[str, dg.MetadataValue]:
    """Rows, SLA met %, median response over the last 7 days, breaches by team (Markdown) and the response-time
    chart (Vega-Lite JSON plus a PNG in Markdown), read from ``marts.speed_to_lead`` on ``con``."""
    now = now or clock_now()
    k = queries.kpis(con, now)
    teams = queries.breaches_by_team(con)
    spec = charts.response_histogram(queries.response_histogram(con))
    met = k["sla_met_pct"]
    median_week = k["median_minutes_last_7_days"]
    table = markdown_table(
        teams,
        {"team": "team", "decided": "decided", "met": "met", "breached": "breached", "overdue": "overdue",
         "sla_met_pct": "SLA met %"},
    )
    return {
        "dagster/row_count": dg.MetadataValue.int(int(k["episodes"])),
        "sla_met_pct": dg.MetadataValue.float(float(met)) if met is not None else dg.MetadataValue.null(),
        "median_response_minutes_last_7_days": (
            dg.MetadataValue.float(float(median_week)) if median_week is not None else dg.MetadataValue.null()
        ),
        "median_response_minutes_all_time": (
            dg.MetadataValue.float(float(k["median_minutes"])) if k["median_minutes"] is not None
            else dg.MetadataValue.null()
        ),
        "episodes_by_status": dg.MetadataValue.json(
            {s: int(k[s]) for s in ("met", "breached", "overdue", "pending")}
        ),
        "breaches_by_team": dg.MetadataValue.md(table),
        "response_time_chart": dg.MetadataValue.md(charts.to_png_markdown(spec, "episodes by time to first touch")),
        "response_time_vega_lite": dg.MetadataValue.json(spec),
    }
