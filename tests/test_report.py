"""The offline HTML report, the report asset and the speed_to_lead story metadata, on the hand-made database."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import dagster as dg
import pytest
from click.testing import CliRunner
from dagster_duckdb import DuckDBResource

from pipeline.cli import cli
from pipeline.report.connection import open_readonly
from pipeline.report.story import speed_to_lead_story
from pipeline.resources import PolicyResource
from pipeline.settings import parse_instant
from tests.fixtures.report_db import NOW, build_db


class Tables(HTMLParser):
    """Collects every <table data-table=...> as a list of row cell texts, plus links and KPI values."""

    def __init__(self):
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self.kpis: dict[str, str] = {}
        self.links: list[str] = []
        self.scripts_with_src: list[str] = []
        self._table = self._row = self._cell = self._kpi = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "table":
            self._table = a.get("data-table")
            self.tables[self._table] = []
        elif tag == "tr" and self._table:
            self._row = []
        elif tag == "td" and self._row is not None:
            self._cell = ""
        elif tag == "a":
            self.links.append(a.get("href"))
        elif tag == "div" and "data-kpi" in a:
            self._kpi = a["data-kpi"]
        elif tag == "div" and a.get("class") == "value" and self._kpi:
            self._cell = ""
        elif tag == "script" and a.get("src"):
            self.scripts_with_src.append(a["src"])

    def handle_data(self, data):
        if self._cell is not None:
            self._cell += data

    def handle_endtag(self, tag):
        if tag == "td" and self._row is not None:
            self._row.append(self._cell.strip())
            self._cell = None
        elif tag == "tr" and self._row is not None:
            if self._row:
                self.tables[self._table].append(self._row)
            self._row = None
        elif tag == "table":
            self._table = None
        elif tag == "div" and self._kpi and self._cell is not None:
            self.kpis[self._kpi] = self._cell.strip()
            self._cell = self._kpi = None


@pytest.fixture
def report_html(tmp_path, monkeypatch) -> tuple[str, Path]:
    monkeypatch.setenv("HANDOFF_NOW", NOW)
    build_db(tmp_path / "handoff.published.duckdb")
    out = tmp_path / "out" / "report.html"
    result = CliRunner().invoke(cli, ["report", "--out", str(out), "--quiet"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"wrote {out} (") and result.output.endswith("5 sections, 10 episodes)\n")
    return out.read_text(encoding="utf-8"), out


def chart_specs(html: str) -> dict:
    return json.loads(re.search(r"const charts = (\{.*?\});\n", html, re.S).group(1))


def test_report_is_self_contained(report_html):
    html, _ = report_html
    parsed = Tables()
    parsed.feed(html)
    assert parsed.scripts_with_src == []
    for cdn in ("cdn.jsdelivr", "unpkg.com", "cdnjs", "googleapis", "<link "):
        assert cdn not in html
    assert "vegaEmbed" in html and len(html) > 500_000  # vega + vega-lite + vega-embed inline


def test_report_kpis_and_tables(report_html):
    html, _ = report_html
    p = Tables()
    p.feed(html)
    assert p.kpis == {"episodes": "10", "sla_met_pct": "25.0%", "median": "75.0 min", "median_7d": "30.0 min",
                      "breached": "2", "overdue": "4", "pending": "2"}
    assert p.tables["sla-trend"] == [["North America", "5", "1", "2", "2", "20.0"],
                                     ["(no team)", "1", "0", "0", "1", "0.0"],
                                     ["EMEA", "2", "1", "0", "1", "50.0"]]
    assert p.tables["response-by-rep"] == [
        ["Ada Lovelace", "1", "3.0", "3.0", "3.0", "3.0", "3.0"],
        ["Cy Young", "2", "52.5", "75.0", "97.5", "111.0", "120.0"],
        ["Bob Stone", "1", "1620.0", "1620.0", "1620.0", "1620.0", "1620.0"],
    ]
    assert [row[:2] + row[7:9] for row in p.tables["breaches"]] == [
        ["4:1793624400000", "Ada Lovelace", "overdue", "60.0"],
        ["9:1793527200000", "Bob Stone", "overdue", "1680.0"],
        ["8:1793520000000", "Bob Stone", "overdue", "420.0"],
        ["7:1793354400000", "Cy Young", "breached", "60.0"],
        ["2:1793005200000", "Bob Stone", "breached", "180.0"],
        ["6:1790812800000", "(unassigned)", "overdue", "45540.0"],
    ]
    assert p.tables["breaches"][3] == ["7:1793354400000", "Cy Young", "North America", "demo_request",
                                       "2026-10-30 10:00", "2026-10-30 11:00", "2026-10-30 12:00", "breached",
                                       "60.0", "open in HubSpot"]
    assert "https://app.hubspot.com/contacts/4242/record/0-1/7" in p.links
    assert '<h2>Breaches (6)</h2>' in html
    assert [row[:5] for row in p.tables["conversion-by-response"]] == [
        ["<5 min", "40", "20", "50.0%", "35.2% - 64.8%"], ["5-60 min", "50", "15", "30.0%", "19.1% - 43.8%"],
        ["1-4 h", "30", "6", "20.0%", "9.5% - 37.3%"], ["4-24 h", "20", "2", "10.0%", "2.8% - 30.1%"],
        [">24 h", "16", "1", "6.2%", "1.1% - 28.3%"], ["never", "0", "0", "", ""]]
    assert "reached SQL 8.0x as often as those touched after 24 hours (50.0% vs 6.2%)" in html


def test_report_charts_carry_the_numbers(report_html):
    specs = chart_specs(report_html[0])
    assert sorted(specs) == ["conversion-by-response", "funnel-by-quarter", "response-by-rep", "sla-trend"]
    trend = {(v["week"], v["team"]): (v["decided"], v["met"], v["sla_met_pct"])
             for v in specs["sla-trend"]["data"]["values"]}
    # contact 8 and 9's MQLs on Sunday 2026-11-01 belong to the week of Monday 2026-10-26
    assert trend == {("2026-09-28", "(no team)"): (1, 0, 0.0), ("2026-10-26", "North America"): (5, 1, 20.0),
                     ("2026-11-02", "EMEA"): (2, 1, 50.0)}
    bars = [(v["bucket"], v["conversion_rate"]) for v in specs["conversion-by-response"]["data"]["values"]]
    assert bars == [("<5 min", 0.5), ("5-60 min", 0.3), ("1-4 h", 0.2), ("4-24 h", 0.1), (">24 h", 0.0625)]


def test_report_on_a_database_without_conversion_marts(tmp_path, monkeypatch):
    import duckdb

    monkeypatch.setenv("HANDOFF_NOW", NOW)
    db = build_db(tmp_path / "handoff.published.duckdb")
    con = duckdb.connect(str(db))
    con.execute("DROP TABLE marts.speed_to_lead_impact")
    con.close()
    out = tmp_path / "r.html"
    CliRunner().invoke(cli, ["report", "--out", str(out), "--quiet"], catch_exceptions=False)
    html = out.read_text()
    assert "marts.speed_to_lead_impact is not in this database yet: run `handoff run` to build the marts" in html


def test_speed_to_lead_story_metadata(tmp_path):
    con = open_readonly(build_db(tmp_path / "x.duckdb"))
    story = speed_to_lead_story(con, parse_instant(NOW))
    assert story["dagster/row_count"] == dg.MetadataValue.int(10)
    assert story["sla_met_pct"] == dg.MetadataValue.float(25.0)
    assert story["median_response_minutes_last_7_days"] == dg.MetadataValue.float(30.0)
    assert story["median_response_minutes_all_time"] == dg.MetadataValue.float(75.0)
    assert story["episodes_by_status"].data == {"met": 2, "breached": 2, "overdue": 4, "pending": 2}
    assert story["breaches_by_team"].md_str == (
        "| team | decided | met | breached | overdue | SLA met % |\n|---|---|---|---|---|---|\n"
        "| North America | 5 | 1 | 2 | 2 | 20.0 |\n| (no team) | 1 | 0 | 0 | 1 | 0.0 |\n| EMEA | 2 | 1 | 0 | 1 | 50.0 |"
    )
    assert story["response_time_chart"].md_str.startswith("![episodes by time to first touch](data:image/png;base64,iVBOR")
    values = story["response_time_vega_lite"].data["data"]["values"]
    # decided episodes only: 1 at 3 min, 7A at 30, 7B at 120, 2 at 1620, and four never touched
    assert [(v["bucket"], v["episodes"]) for v in values] == [
        ("<5 min", 1), ("5-60 min", 1), ("1-4 h", 1), (">24 h", 1), ("never", 4)]


def test_report_asset_materializes(tmp_path, monkeypatch):
    from assets.reports import handoff_report

    monkeypatch.setenv("HANDOFF_NOW", NOW)
    db = build_db(tmp_path / "handoff.duckdb")
    out = tmp_path / "asset" / "report.html"
    result = dg.materialize(
        [handoff_report],
        resources={"duckdb": DuckDBResource(database=str(db)), "policy": PolicyResource()},
        run_config={"ops": {"reports__handoff_report": {"config": {"out": str(out)}}}},
    )
    assert result.success
    meta = result.asset_materializations_for_node("reports__handoff_report")[0].metadata
    assert meta["path"] == dg.MetadataValue.path(str(out))
    assert meta["episodes"] == dg.MetadataValue.int(10)
    assert meta["sections"].data == ["sla-trend", "response-by-rep", "breaches", "conversion-by-response",
                                     "funnel-by-quarter"]
    assert "Lead handoff report" in out.read_text()


def test_report_funnel_by_quarter_against_benchmarks(report_html):
    html, _ = report_html
    p = Tables()
    p.feed(html)
    assert p.tables["funnel-by-quarter"] == [
        ["2026 Q2", "100", "20.0%, within 15-25%", "20", "40.0%", "25.0%, within 20-35%", "5", "40.0%", "2"],
        ["2026 Q3", "120", "12.5% (-7.5 pts QoQ), below 15-25%", "30", "30.0% (-10.0 pts QoQ)",
         "20.0% (-5.0 pts QoQ), within 20-35%", "6", "50.0% (+10.0 pts QoQ)", "3"],
        ["2026 Q4", "80", "30.0% (+17.5 pts QoQ), above 15-25%", "24", "50.0% (+20.0 pts QoQ)",
         "37.5% (+17.5 pts QoQ), above 20-35%", "9", "33.3% (-16.7 pts QoQ)", "3"],
    ]
    spec = chart_specs(html)["funnel-by-quarter"]
    bands = next(layer for layer in spec["layer"] if layer["mark"]["type"] == "rect")["data"]["values"]
    assert [(b["step"], b["low"], b["high"]) for b in bands] == [
        ("lead -> MQL", 0.15, 0.25), ("MQL -> opportunity", 0.2, 0.35)]
    points = next(layer for layer in spec["layer"] if layer["mark"]["type"] == "line")["data"]["values"]
    assert len(points) == 12
    assert {(v["quarter"], v["step"]): v["rate"] for v in points}[("2026 Q3", "lead -> MQL")] == 0.125


def test_report_and_story_on_a_portal_without_mqls(tmp_path, monkeypatch):
    """A fresh portal with no MQL episode yet: every section says so instead of failing."""
    import duckdb

    monkeypatch.setenv("HANDOFF_NOW", NOW)
    db = build_db(tmp_path / "handoff.published.duckdb")
    con = duckdb.connect(str(db))
    con.execute("DELETE FROM marts.speed_to_lead; DELETE FROM marts.speed_to_lead_impact; "
                "DELETE FROM marts.conversion_funnel")
    con.close()
    out = tmp_path / "r.html"
    result = CliRunner().invoke(cli, ["report", "--out", str(out), "--quiet"], catch_exceptions=False)
    assert result.output.endswith("5 sections, 0 episodes)\n")
    html = out.read_text()
    p = Tables()
    p.feed(html)
    assert p.kpis["episodes"] == "0" and p.kpis["sla_met_pct"] == "n/a" and p.kpis["median"] == "n/a"
    assert "const charts = {};" in html
    assert "no breaches: every decided episode met its SLA" in html
    assert "Not enough episodes in the &lt;5 min and &gt;24 h buckets to compare them yet." in html
    assert "no MQL cohorts yet" in html
    story = speed_to_lead_story(open_readonly(db), parse_instant(NOW))
    assert story["dagster/row_count"] == dg.MetadataValue.int(0)
    assert story["sla_met_pct"] == dg.MetadataValue.null()
    assert story["median_response_minutes_last_7_days"] == dg.MetadataValue.null()
