"""The enforcement lookback edge, stated literally. Rule (pipeline/sla/sensor.py's candidates query, DOMAIN.md
"only episodes whose mql_at is this recent are escalated"): an episode is chased when
``now - enforcement_lookback_days <= mql_at <= now``; exactly at the edge is inside, 1 ms older is outside.
The published copy is built by the marts' own helpers and published with pipeline.publish."""

from __future__ import annotations

from pipeline.policy import load_policy
from pipeline.publish import publish
from pipeline.settings import published_db_path
from pipeline.sla.sensor import find_due_steps
from tests.fixtures.raw_tables import build_marts, ts

MQL = "marketingqualifiedlead"
NOW = "2024-03-20T12:00:00Z"


def test_an_episode_exactly_at_the_lookback_edge_is_chased_one_ms_older_is_not(raw_portal, tmp_path):
    raw_portal.owner("101", team="EMEA")
    lead = ("2024-03-01T00:00:00Z", "lead")
    for contact, mql_at in (("1", "2024-03-13T12:00:00.000Z"),  # now - 7 days exactly
                            ("2", "2024-03-13T11:59:59.999Z"),  # 1 ms older
                            ("3", "2024-03-19T12:00:00.000Z")):  # now - 1 day exactly: 'other' SLA due now
        raw_portal.contact(contact, lifecycle=[lead, (mql_at, MQL)], owners=[("2024-03-01T00:00:00Z", "101")])
    build_marts(raw_portal, NOW)
    target = published_db_path(tmp_path / "handoff.duckdb")
    publish(raw_portal.con, target)
    evaluation = find_due_steps(target, load_policy(), ts(NOW))
    assert evaluation.skip is None and evaluation.considered == 2
    got = [(r["mql_id"], r["step"], r["due_at"]) for r in evaluation.due.iter_rows(named=True)]
    assert got == [
        ("1:1710331200000", "manager_escalation", ts("2024-03-14T12:00:00Z")),
        ("1:1710331200000", "reassignment", ts("2024-03-15T12:00:00Z")),
        ("3:1710849600000", "manager_escalation", ts(NOW)),  # due exactly now: due (due_at <= now)
    ]
