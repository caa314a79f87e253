"""Report sections over the conversion marts: ``marts.speed_to_lead_impact`` (the user's own "8x") and
``marts.conversion_funnel`` (funnel by MQL cohort quarter, QoQ change, benchmark ranges)."""

from __future__ import annotations

import duckdb

from pipeline.report import charts
from pipeline.report.connection import columns, table_exists

NOT_BUILT = "{table} is not in this database yet: run `handoff run` to build the marts"


def _dicts(cursor: duckdb.DuckDBPyConnection) -> list[dict]:
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row)) for row in cursor.fetchall()]


def _pct(value) -> str | None:
    return None if value is None else f"{100 * float(value):.1f}%"


def impact_rows(con: duckdb.DuckDBPyConnection) -> list[dict]:
    """All-types rows of ``marts.speed_to_lead_impact`` in bucket order."""
    return _dicts(
        con.execute(
            """SELECT response_bucket AS bucket, episodes, conversions, conversion_rate, conversion_rate_low,
                      conversion_rate_high, opportunities, opportunity_rate, ratio_to_over_24h,
                      fastest_to_over_24h_ratio
               FROM marts.speed_to_lead_impact WHERE mql_type = 'all' ORDER BY bucket_order"""
        )
    )


def impact_section(con: duckdb.DuckDBPyConnection, section_type):
    """Conversion to SQL by response bucket, with 95% Wilson intervals and the fastest / >24 h ratio."""
    title = "Conversion by response time (your own \"8x\")"
    if not table_exists(con, "marts", "speed_to_lead_impact"):
        return section_type("conversion-by-response", title, "", {}, [],
                            empty=NOT_BUILT.format(table="marts.speed_to_lead_impact"))
    rows = impact_rows(con)
    ratio = rows[0]["fastest_to_over_24h_ratio"] if rows else None
    fast = next((r for r in rows if r["bucket"] == "<5 min"), None)
    slow = next((r for r in rows if r["bucket"] == ">24 h"), None)
    if ratio is not None and fast and slow:
        headline = (f"Episodes first touched in under 5 minutes reached SQL {float(ratio):.1f}x as often as those "
                    f"touched after 24 hours ({_pct(fast['conversion_rate'])} vs {_pct(slow['conversion_rate'])}).")
    else:
        headline = "Not enough episodes in the <5 min and >24 h buckets to compare them yet."
    table = [
        {"bucket": r["bucket"], "episodes": r["episodes"], "conversions": r["conversions"],
         "conversion": _pct(r["conversion_rate"]),
         "interval": (f"{_pct(r['conversion_rate_low'])} - {_pct(r['conversion_rate_high'])}"
                      if r["conversion_rate_low"] is not None else None),
         "opportunity": _pct(r["opportunity_rate"]),
         "ratio": None if r["ratio_to_over_24h"] is None else round(float(r["ratio_to_over_24h"]), 2)}
        for r in rows
    ]
    plotted = [r for r in rows if r["episodes"]]
    return section_type(
        "conversion-by-response", title,
        headline + " Conversion = the episode reached SQL; pending episodes are left out. Bars show the 95% "
        "Wilson interval.",
        {"bucket": "first touch within", "episodes": "episodes", "conversions": "reached SQL",
         "conversion": "SQL rate", "interval": "95% interval", "opportunity": "opportunity rate",
         "ratio": "x the >24 h rate"},
        table,
        charts.conversion_by_bucket(plotted, "conversion_rate", "conversion_rate_low", "conversion_rate_high")
        if plotted else None,
    )


def funnel_section(con: duckdb.DuckDBPyConnection, section_type):
    """Funnel by MQL cohort quarter with quarter-over-quarter change and the benchmark ranges."""
    title = "Funnel by quarter"
    if not table_exists(con, "marts", "conversion_funnel"):
        return section_type("funnel-by-quarter", title, "", {}, [],
                            empty=NOT_BUILT.format(table="marts.conversion_funnel"))
    have = columns(con, "marts", "conversion_funnel")
    return section_type("funnel-by-quarter", title, "", {}, [],
                        empty=f"marts.conversion_funnel has unexpected columns: {sorted(have)}")
