"""The offline HTML report: one self-contained file with the Vega/Vega-Lite/vega-embed JavaScript inline."""

from __future__ import annotations

import json
import os
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from pathlib import Path

import altair as alt
import duckdb
import jinja2
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from pipeline.policy import Policy
from pipeline.report import charts, conversion, queries

TEMPLATES = Path(__file__).with_name("templates")


@dataclass(frozen=True)
class Section:
    id: str
    title: str
    intro: str
    headers: dict[str, str]
    rows: list[dict]
    spec: dict | None = None
    note: str = ""
    empty: str = "nothing to show yet"


@dataclass
class ReportResult:
    path: Path
    size_bytes: int
    episodes: int
    sections: list[str] = field(default_factory=list)


@lru_cache(maxsize=1)
def vega_bundle() -> tuple[str, dict[str, str]]:
    """The vega-embed + Vega-Lite + Vega JavaScript for altair's schema version, and the versions."""
    import vl_convert

    wanted = alt.SCHEMA_VERSION.lstrip("v").rsplit(".", 1)[0]
    available = vl_convert.get_vegalite_versions()
    version = wanted if wanted in available else available[-1]
    js = vl_convert.javascript_bundle(vl_version=version)
    return js, {"vegalite": version, "vega": vl_convert.get_vega_version(),
                "embed": vl_convert.get_vega_embed_version()}


def _fmt_minutes(value) -> str:
    return "n/a" if value is None else f"{float(value):,.1f} min"


def _sections(con: duckdb.DuckDBPyConnection, now: datetime, policy: Policy, step) -> list[Section]:
    trend = queries.sla_trend_by_week(con)
    step("SLA trend")
    teams = queries.breaches_by_team(con)
    out = [
        Section(
            "sla-trend", "SLA compliance by week and team",
            "Share of decided MQL episodes (met, breached or overdue; pending ones are not decided yet) whose first "
            "touch came within the SLA, by ISO week of the MQL (UTC).",
            {"team": "team", "decided": "decided", "met": "met", "breached": "breached", "overdue": "overdue",
             "sla_met_pct": "SLA met % (all weeks)"},
            teams, charts.sla_trend(trend) if trend else None,
        )
    ]
    reps = queries.response_by_rep(con)
    step("response by rep")
    out.append(
        Section(
            "response-by-rep", "Response time by rep",
            "Minutes from the MQL to the first outreach attempt, per owner at MQL (touched episodes only).",
            {"owner": "owner at MQL", "touched": "touched", "p25_minutes": "p25 min", "median_minutes": "median min",
             "p75_minutes": "p75 min", "p90_minutes": "p90 min", "max_minutes": "max min"},
            reps, charts.response_by_rep(reps) if reps else None,
        )
    )
    rows, total = queries.breaches(con, now)
    pid = queries.portal_id(con)
    for row in rows:
        row["url"] = policy.hubspot.contact_url(row["contact_id"], pid)
        for key in ("mql_at", "sla_due_at", "first_touch_at"):
            row[key] = row[key].strftime("%Y-%m-%d %H:%M") if row[key] else ""
    step("breaches")
    out.append(
        Section(
            "breaches", f"Breaches ({total})",
            "Episodes whose first touch came after the SLA (breached) or that still have none (overdue), most "
            "recent MQL first. Minutes past due run to the first touch, or to now when there is none.",
            {"mql_id": "mql_id", "owner": "owner at MQL", "team": "team", "mql_type": "type", "mql_at": "MQL at",
             "sla_due_at": "due", "first_touch_at": "first touch", "sla_status": "status",
             "minutes_past_due": "min past due", "url": "record"},
            rows, note=f"showing {len(rows)} of {total}" if total > len(rows) else "",
            empty="no breaches: every decided episode met its SLA",
        )
    )
    out.append(conversion.impact_section(con, Section))
    step("conversion by response time")
    out.append(conversion.funnel_section(con, Section))
    step("funnel by quarter")
    return out


def render_report(con: duckdb.DuckDBPyConnection, now: datetime, policy: Policy, step=lambda name: None) -> tuple[str, list[Section], dict]:
    """The report's HTML text, its sections and headline figures."""
    k = queries.kpis(con, now)
    sections = _sections(con, now, policy, step)
    js, versions = vega_bundle()
    step("scripts")
    specs = {s.id: s.spec for s in sections if s.spec}
    specs_json = json.dumps(specs, default=str).replace("</", "<\\/")
    kpis = [
        {"key": "episodes", "label": "MQL episodes", "value": f"{k['episodes']:,}"},
        {"key": "sla_met_pct", "label": "SLA met % (decided)",
         "value": "n/a" if k["sla_met_pct"] is None else f"{k['sla_met_pct']}%"},
        {"key": "median", "label": "median response", "value": _fmt_minutes(k["median_minutes"])},
        {"key": "median_7d", "label": "median response, last 7 days", "value": _fmt_minutes(k["median_minutes_last_7_days"])},
        {"key": "breached", "label": "breached", "value": f"{k['breached']:,}"},
        {"key": "overdue", "label": "overdue (no touch)", "value": f"{k['overdue']:,}"},
        {"key": "pending", "label": "pending", "value": f"{k['pending']:,}"},
    ]
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True)
    html = env.get_template("report.html.j2").render(
        generated_at=now.strftime("%Y-%m-%d %H:%M"),
        data_as_of=k["computed_at"].strftime("%Y-%m-%d %H:%M") if k["computed_at"] else "n/a",
        sla_demo=policy.sla.minutes.demo_request, sla_other=policy.sla.minutes.other, clock=policy.sla.clock,
        kpis=kpis, sections=sections, specs_json=specs_json, vega_bundle=js.replace("</script", "<\\/script"),
        vega_version=versions["vega"], vegalite_version=versions["vegalite"], embed_version=versions["embed"],
    )
    return html, sections, k


def write_report(con: duckdb.DuckDBPyConnection, out: Path, now: datetime, policy: Policy, *,
                 progress: bool = False) -> ReportResult:
    """Render and write atomically (temp file + rename); a progress bar on stderr when asked."""
    bar = Progress(TextColumn("report: {task.description:<28}"), BarColumn(), TimeElapsedColumn(),
                   console=Console(stderr=True), transient=True) if progress else nullcontext()
    with bar:
        task = bar.add_task("queries", total=7) if progress else None

        def step(name: str) -> None:
            if progress:
                bar.update(task, advance=1, description=name)

        html, sections, k = render_report(con, now, policy, step)
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
        tmp.write_text(html, encoding="utf-8")
        os.replace(tmp, out)
        step("written")
    return ReportResult(out, out.stat().st_size, int(k["episodes"]), [s.id for s in sections])
