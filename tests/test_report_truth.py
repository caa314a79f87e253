"""`explain`, `status` and the report against the generator's construction-time ground truth: a generated
portal is loaded into the raw tables (test-only loader) and the marts are built; the daily commands must agree
with how the generator built each episode."""

from __future__ import annotations

from datetime import timedelta

import pytest

from pipeline.policy import load_policy
from pipeline.report import queries
from pipeline.report.explain import explain_episode
from pipeline.report.status import status_snapshot
from hubspot_sandbox.generator import generate_portal
from pipeline.settings import parse_instant
from tests.fixtures.raw_tables import RawPortal, build_marts, connect
from tests.fixtures.snapshot_loader import load_snapshot


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    snapshot, truth = generate_portal(500, 11)
    con = connect(tmp_path_factory.mktemp("report_truth") / "raw.duckdb")
    portal = RawPortal(con)
    load_snapshot(portal, snapshot)
    build_marts(portal, truth["now"])
    con.execute("SET TimeZone = 'UTC'")
    yield con, truth, parse_instant(truth["now"])
    con.close()


def test_explain_counts_exactly_the_truths_touches(built):
    con, truth, now = built
    policy = load_policy()
    assert len(truth["episodes"]) > 50
    for episode in truth["episodes"]:
        data = explain_episode(con, episode["mql_id"], now, policy)
        assert len(data["touches"]) == episode["attempts"], episode["mql_id"]
        if episode["first_touch_at"] is None:
            assert data["touches"] == []
            continue
        first = data["touches"][0]
        assert first["first_touch"] and parse_instant(first["at"]) == parse_instant(episode["first_touch_at"])
        assert first["type"] == episode["first_touch_type"], episode["mql_id"]
        assert data["explanation"].startswith(episode["sla_status"]), episode["mql_id"]


def test_status_overdue_list_is_the_truths_enforcement_set(built):
    """Every episode the generator says is due for a ladder step at `now` is overdue in `status`, and no other."""
    con, truth, now = built
    data = status_snapshot(con, now, load_policy(), include_on_track=True)
    overdue = {e["mql_id"] for rep in data["reps"] for e in rep["episodes"] if e["state"] == "overdue"}
    due = {step["mql_id"] for step in truth["enforcement"]}
    assert due, "the generated portal should have MQLs due for escalation"
    assert overdue == due
    # everything listed is untouched and within the lookback window, per the truth
    by_id = {e["mql_id"]: e for e in truth["episodes"]}
    for rep in data["reps"]:
        for item in rep["episodes"]:
            ep = by_id[item["mql_id"]]
            assert ep["first_touch_at"] is None
            assert parse_instant(ep["mql_at"]) >= now - timedelta(days=7)


def test_report_headline_counts_equal_the_truth(built):
    con, truth, now = built
    k = queries.kpis(con, now)
    statuses = [e["sla_status"] for e in truth["episodes"]]
    assert (k["episodes"], k["met"], k["breached"], k["overdue"], k["pending"]) == (
        len(statuses), statuses.count("met"), statuses.count("breached"), statuses.count("overdue"),
        statuses.count("pending"))
