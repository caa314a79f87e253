"""Vega-Lite chart specs (built with altair) for the report and the story metadata; plain dicts out."""

from __future__ import annotations

import base64
from datetime import date, datetime
from decimal import Decimal

import altair as alt

WIDTH = 640
# axis labels for minute values: 5m, 4h, 3d
DURATION_LABEL = ("datum.value < 60 ? datum.value + 'm' : datum.value < 1440 ? datum.value / 60 + 'h' "
                  ": datum.value / 1440 + 'd'")
BUCKET_ORDER = ["<5 min", "5-60 min", "1-4 h", "4-24 h", ">24 h", "never"]


def _jsonable(rows: list[dict]) -> list[dict]:
    def value(v):
        if isinstance(v, (datetime, date)):
            return v.isoformat()
        if isinstance(v, Decimal):
            return float(v)
        return v

    return [{k: value(v) for k, v in row.items()} for row in rows]


def _spec(chart: alt.TopLevelMixin) -> dict:
    return chart.configure_view(stroke=None).to_dict(validate=True)


def sla_trend(rows: list[dict]) -> dict:
    """SLA met % per week (columns) and team (rows) as a heatmap: red below, green above the policy's intent."""
    data = alt.Data(values=_jsonable(rows))
    chart = (
        alt.Chart(data, title="SLA met % by week and team")
        .mark_rect()
        .encode(
            x=alt.X("week:O", title="week of MQL (Monday, UTC)", axis=alt.Axis(labelAngle=-60, labelOverlap=True)),
            y=alt.Y("team:N", title="team"),
            color=alt.Color("sla_met_pct:Q", title="SLA met %", scale=alt.Scale(scheme="redyellowgreen",
                                                                             domain=[0, 100])),
            tooltip=["week:O", "team:N", "decided:Q", "met:Q", "sla_met_pct:Q"],
        )
        .properties(width=WIDTH, height=alt.Step(22))
    )
    return _spec(chart)


def response_by_rep(rows: list[dict]) -> dict:
    """Box plot per rep from precomputed quantiles: whisker min..p90, box p25..p75, tick at the median."""
    data = alt.Data(values=_jsonable(rows))
    order = [r["owner"] for r in rows]
    y = alt.Y("owner:N", title="owner at MQL", sort=order)
    scale = alt.Scale(type="symlog")
    base = alt.Chart(data).encode(y=y)
    axis = alt.Axis(values=[0, 1, 5, 15, 60, 240, 1440, 4320, 10080, 43200], labelExpr=DURATION_LABEL)
    whisker = base.mark_rule(color="#888").encode(
        x=alt.X("min_minutes:Q", title="time to first touch (log-like scale)", scale=scale, axis=axis),
        x2="p90_minutes:Q",
    )
    box = base.mark_bar(size=12, color="#4c78a8").encode(x=alt.X("p25_minutes:Q", scale=scale), x2="p75_minutes:Q")
    median = base.mark_tick(color="black", thickness=2, size=16).encode(
        x=alt.X("median_minutes:Q", scale=scale),
        tooltip=["owner:N", "touched:Q", "p25_minutes:Q", "median_minutes:Q", "p75_minutes:Q", "p90_minutes:Q"],
    )
    chart = (whisker + box + median).properties(
        title="Response time by rep (box: p25-p75, line: min-p90, tick: median)",
        width=WIDTH,
        height=max(120, 22 * len(rows)),
    )
    return _spec(chart)


def response_histogram(rows: list[dict]) -> dict:
    """Decided episodes per response-time bucket."""
    data = alt.Data(values=_jsonable(rows))
    chart = (
        alt.Chart(data, title="Episodes by time to first touch")
        .mark_bar(color="#4c78a8")
        .encode(
            x=alt.X("bucket:N", title="time to first touch", sort=BUCKET_ORDER, axis=alt.Axis(labelAngle=0)),
            y=alt.Y("episodes:Q", title="episodes"),
            tooltip=["bucket:N", "episodes:Q"],
        )
        .properties(width=420, height=220)
    )
    return _spec(chart)


def conversion_by_bucket(rows: list[dict], rate: str, low: str, high: str) -> dict:
    """Conversion rate per response bucket with its confidence interval (columns named by the caller)."""
    data = alt.Data(values=_jsonable(rows))
    x = alt.X("bucket:N", title="time to first touch", sort=BUCKET_ORDER, axis=alt.Axis(labelAngle=0))
    base = alt.Chart(data).encode(x=x)
    bars = base.mark_bar(color="#54a24b").encode(
        y=alt.Y(f"{rate}:Q", title="conversion rate", axis=alt.Axis(format="%")),
        tooltip=["bucket:N", alt.Tooltip(f"{rate}:Q", format=".1%"), alt.Tooltip(f"{low}:Q", format=".1%"),
                 alt.Tooltip(f"{high}:Q", format=".1%")],
    )
    errors = base.mark_rule(color="black").encode(y=f"{low}:Q", y2=f"{high}:Q")
    chart = (bars + errors).properties(title="Conversion by response time (95% interval)", width=WIDTH, height=260)
    return _spec(chart)


def funnel_by_quarter(rows: list[dict], benchmarks: list[dict]) -> dict:
    """Funnel rates per MQL cohort quarter, one panel per step, benchmark range shaded where one exists."""
    data = _jsonable(rows)
    marks = (
        alt.Chart(alt.Data(values=data))
        .mark_line(point=True)
        .encode(
            x=alt.X("quarter:N", title="cohort quarter", axis=alt.Axis(labelAngle=0)),
            y=alt.Y("rate:Q", title="rate", axis=alt.Axis(format="%")),
            color=alt.Color("step:N", title="step"),
            tooltip=["quarter:N", "step:N", alt.Tooltip("rate:Q", format=".1%"),
                     alt.Tooltip("qoq_change:Q", format="+.1%", title="QoQ change (points)")],
        )
    )
    band = (
        alt.Chart(alt.Data(values=benchmarks))
        .mark_rect(opacity=0.15)
        .encode(y="low:Q", y2="high:Q", color=alt.Color("step:N"), tooltip=["step:N", "range:N"])
    )
    chart = (band + marks).properties(
        title="Funnel by MQL cohort quarter (shaded: benchmark range)", width=WIDTH, height=260
    )
    return _spec(chart)


def to_png_markdown(spec: dict, alt_text: str) -> str:
    """The chart as a Markdown image with an inline PNG (Dagster shows it in the asset's metadata)."""
    import vl_convert

    png = vl_convert.vegalite_to_png(spec, scale=1)
    return f"![{alt_text}](data:image/png;base64,{base64.b64encode(png).decode()})"
