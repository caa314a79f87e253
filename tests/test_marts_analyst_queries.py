"""The example queries of docs/analyst-guide.md run on the published copy of a generated portal and give
the numbers the generator's ground truth implies."""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
import pytest

from pipeline.publish import publish
from hubspot_sandbox.generator import generate_portal
from pipeline.settings import published_db_path
from tests.fixtures.raw_tables import RawPortal, build_marts, connect
from tests.fixtures.snapshot_loader import load_snapshot

GUIDE = Path(__file__).resolve().parents[1] / "docs" / "analyst-guide.md"


def guide_queries() -> list[str]:
    blocks = re.findall(r"```sql\n(.*?)```", GUIDE.read_text(), flags=re.S)
    return [b for b in blocks if b.lstrip().upper().startswith("SELECT")]


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    snapshot, truth = generate_portal(1500, 7)
    db = tmp_path_factory.mktemp("analyst") / "handoff.duckdb"
    con = connect(db)
    portal = RawPortal(con)
    load_snapshot(portal, snapshot)
    build_marts(portal, truth["now"])
    publish(con, published_db_path(db))
    con.close()
    reader = duckdb.connect(str(published_db_path(db)), read_only=True)
    reader.execute("SET TimeZone = 'UTC'")
    yield reader, truth
    reader.close()


def test_the_guide_has_the_four_example_queries():
    assert len(guide_queries()) == 4


def test_breaches_by_team_matches_the_truth(published):
    reader, truth = published
    query = guide_queries()[1]
    got = {r[0]: r[1:4] for r in reader.execute(query).fetchall()}
    expected: dict[str, list[int]] = {}
    for ep in truth["episodes"]:
        row = expected.setdefault(ep["team"] or "(no team)", [0, 0, 0])
        row[0] += ep["sla_status"] != "pending"
        row[1] += ep["sla_status"] == "breached"
        row[2] += ep["sla_status"] == "overdue"
    assert got == {team: tuple(v) for team, v in expected.items()}


def test_rep_response_this_week_counts_this_weeks_mqls(published):
    reader, truth = published
    rows = reader.execute(guide_queries()[0]).fetchall()
    # the generator's clock is a Monday 15:00 UTC: "this week" = MQLs since Monday 00:00 UTC
    monday = truth["now"][:10]
    expected = sum(1 for ep in truth["episodes"] if ep["mql_at"][:10] >= monday)
    assert sum(r[3] for r in rows) == expected


def test_qoq_funnel_and_8x_queries_return_rows_consistent_with_the_truth(published):
    reader, truth = published
    funnel = reader.execute(guide_queries()[2]).fetchall()
    assert sum(r[2] for r in funnel) == len(truth["episodes"])  # every MQL lands in one quarter
    impact = reader.execute(guide_queries()[3]).fetchall()
    demo = [ep for ep in truth["episodes"] if ep["mql_type"] == "demo_request"]
    assert sum(r[1] for r in impact) == len(demo)
    assert sum(r[2] for r in impact) == sum(ep["sql_at"] is not None for ep in demo)
