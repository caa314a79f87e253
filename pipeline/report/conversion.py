"""Report sections over the conversion marts: ``marts.speed_to_lead_impact`` (the user's own "8x") and
``marts.conversion_funnel`` (funnel by MQL cohort quarter, QoQ change, benchmark ranges)."""

from __future__ import annotations

import duckdb

from pipeline.report import charts
from pipeline.report.connection import table_exists

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


STEPS = (  # (label, rate column, change column, benchmark low/high columns or None)
    ("lead -> MQL", "lead_to_mql_rate", "lead_to_mql_rate_change", "benchmark_lead_to_mql"),
    ("MQL -> SQL", "mql_to_sql_rate", "mql_to_sql_rate_change", None),
    ("MQL -> opportunity", "mql_to_opportunity_rate", "mql_to_opportunity_rate_change",
     "benchmark_mql_to_opportunity"),
    ("opportunity -> customer", "opportunity_to_customer_rate", "opportunity_to_customer_rate_change", None),
)


def funnel_rows(con: duckdb.DuckDBPyConnection) -> list[dict]:
    """Quarter rows of ``marts.conversion_funnel`` rolled up over MQL type, team and source, oldest first."""
    return _dicts(
        con.execute(
            """SELECT * FROM marts.conversion_funnel
               WHERE period_type = 'quarter' AND mql_type = 'all' AND team = 'all' AND lead_source = 'all'
               ORDER BY period_start"""
        )
    )


def _quarter(period_start) -> str:
    return f"{period_start.year} Q{(period_start.month - 1) // 3 + 1}"


def _rate_cell(rate, change, low=None, high=None) -> str | None:
    """``22.0% (+3.1 pts QoQ) below 25-35%``-style text for one funnel cell."""
    if rate is None:
        return None
    text = _pct(rate)
    if change is not None:
        text += f" ({100 * float(change):+.1f} pts QoQ)"
    if low is not None and high is not None:
        where = "below" if rate < low else "above" if rate > high else "within"
        text += f", {where} {100 * low:.0f}-{100 * high:.0f}%"
    return text


def funnel_section(con: duckdb.DuckDBPyConnection, section_type):
    """Funnel by MQL cohort quarter with quarter-over-quarter change and the benchmark ranges."""
    title = "Funnel by quarter"
    if not table_exists(con, "marts", "conversion_funnel"):
        return section_type("funnel-by-quarter", title, "", {}, [],
                            empty=NOT_BUILT.format(table="marts.conversion_funnel"))
    rows = funnel_rows(con)
    table, points, bands = [], [], {}
    for r in rows:
        quarter = _quarter(r["period_start"])
        line = {"quarter": quarter, "leads": r["leads"], "mqls": r["mqls"], "sqls": r["sqls"],
                "opportunities": r["opportunities"], "customers": r["customers"]}
        for label, rate, change, bench in STEPS:
            low = r.get(f"{bench}_low") if bench else None
            high = r.get(f"{bench}_high") if bench else None
            line[rate] = _rate_cell(r[rate], r[change], low, high)
            if r[rate] is not None:
                points.append({"quarter": quarter, "step": label, "rate": float(r[rate]),
                               "qoq_change": None if r[change] is None else float(r[change])})
            if low is not None:
                bands[label] = {"step": label, "low": float(low), "high": float(high),
                                "range": f"{100 * low:.0f}-{100 * high:.0f}% (inbound B2B SaaS)"}
        table.append(line)
    return section_type(
        "funnel-by-quarter", title,
        "Leads are counted in the quarter they first became a lead; the other steps follow the MQL cohort (episodes "
        "whose MQL falls in the quarter). QoQ = change in percentage points from the previous quarter. Benchmarks: "
        "15-25% lead -> MQL and 20-35% MQL -> opportunity (inbound B2B SaaS).",
        {"quarter": "cohort quarter", "leads": "leads", "lead_to_mql_rate": "lead -> MQL", "mqls": "MQLs",
         "mql_to_sql_rate": "MQL -> SQL", "mql_to_opportunity_rate": "MQL -> opportunity",
         "opportunities": "opportunities", "opportunity_to_customer_rate": "opportunity -> customer",
         "customers": "customers"},
        table,
        charts.funnel_by_quarter(points, list(bands.values())) if points else None,
        empty="no MQL cohorts yet",
    )
