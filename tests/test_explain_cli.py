"""`handoff explain MQL_ID`: the touches of an episode and the engagements ignored, each with the contract rule."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from pipeline.cli import cli, main
from tests.fixtures.report_db import NOW, build_db

EPISODE_7B = "7:1793354400000"  # contact 7's second MQL, 2026-10-30T10:00Z, demo request
EPISODE_7A = "7:1793181600000"  # contact 7's first MQL, 2026-10-28T10:00Z


@pytest.fixture
def published(tmp_path, monkeypatch):
    monkeypatch.setenv("HANDOFF_NOW", NOW)
    monkeypatch.setenv("COLUMNS", "200")
    return build_db(tmp_path / "handoff.published.duckdb")


def run(*args: str) -> str:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_explain_json_counts_and_ignores_by_the_touch_rules(published):
    data = json.loads(run("explain", EPISODE_7B, "--json"))
    assert data["explanation"] == "breached: first touch (call) 120.0 min after the MQL, 60.0 min past the 60 min SLA"
    ep = data["episode"]
    assert (ep["mql_id"], ep["contact_id"], ep["owner"], ep["team"], ep["sla_status"], ep["next_mql_id"],
            ep["ladder"]) == (EPISODE_7B, "7", "Cy Young", "North America", "breached", None, None)
    assert ep["url"] == "https://app.hubspot.com/contacts/4242/record/0-1/7"
    # tie at 12:00 breaks call before communication; the SMS has no logged-from column at all (dlt drops
    # all-null columns) and counts as logged in the CRM
    assert [(t["type"], t["id"], t["at"], t["first_touch"]) for t in data["touches"]] == [
        ("call", "k2", "2026-10-30T12:00:00+00:00", True),
        ("communication", "cm1", "2026-10-30T12:00:00+00:00", False),
    ]
    assert [(i["id"], i["reason"]) for i in data["ignored"]] == [
        ("m1", "before the MQL (activity before mql_at never counts)"),
        ("n1", "notes never count as outreach"),
        ("k1", "inbound call"),
        ("em1", "incoming email"),
        ("em2", "email bounced"),
        ("m2", "meeting canceled"),
        ("t1", "tasks never count as outreach"),
        ("k3", "archived (deleted) in HubSpot"),
        ("em3", "email scheduled; after now (in the future)"),
    ]
    # k4 belongs to contact 2 only
    assert "k4" not in {i["id"] for i in data["touches"] + data["ignored"]}


def test_explain_earlier_episode_ends_where_the_next_one_opens(published):
    data = json.loads(run("explain", EPISODE_7A, "--json"))
    assert data["episode"]["next_mql_id"] == EPISODE_7B
    assert data["explanation"] == "met: first touch (meeting) 30.0 min after the MQL, within the 1440 min SLA"
    assert [(t["id"], t["first_touch"]) for t in data["touches"]] == [("m1", True)]
    after_next = f"after the next MQL episode opened (counts for {EPISODE_7B})"
    reasons = {i["id"]: i["reason"] for i in data["ignored"]}
    assert reasons["k2"] == after_next
    assert reasons["k1"] == f"inbound call; {after_next}"
    assert reasons["n1"] == f"notes never count as outreach; {after_next}"
    assert reasons["em3"] == f"email scheduled; {after_next}"


def test_explain_overdue_and_pending_sentences(published, monkeypatch):
    overdue = json.loads(run("explain", "4:1793624400000", "--json"))
    assert overdue["explanation"] == "overdue: no touch counted, the 60 min SLA ran out 60.0 min ago"
    assert overdue["episode"]["ladder"] == "manager_escalation: done"
    assert json.loads(run("explain", "9:1793527200000", "--json"))["episode"]["ladder"] == (
        "manager_escalation: done, reassignment: dry_run")
    assert "escalation ladder (as of this copy): manager_escalation: done" in run("explain", "4:1793624400000")
    assert json.loads(run("explain", "3:1793629800000", "--json"))["explanation"] == (
        "pending: no touch counted yet, 30.0 min left of the 60 min SLA")
    monkeypatch.setenv("HANDOFF_NOW", "2026-11-02T15:40:00Z")
    assert json.loads(run("explain", "3:1793629800000", "--json"))["explanation"] == (
        "pending at the last build, past due now by 10.0 min: no touch counted (rebuild to update)")


def test_explain_table_for_a_terminal(published):
    out = run("explain", EPISODE_7B)
    assert "breached: first touch (call) 120.0 min after the MQL, 60.0 min past the 60 min SLA" in out
    assert "Touches (counted): 2" in out and "Ignored engagements: 9" in out
    k2 = next(line for line in out.splitlines() if " k2 " in line)
    assert "OUTBOUND / NO_ANSWER" in k2 and "first touch" in k2
    em2 = next(line for line in out.splitlines() if " em2 " in line)
    assert "email bounced" in em2


def test_explain_unknown_episode_is_one_line(published, capsys):
    with pytest.raises(SystemExit):
        main(["explain", "7:123"])
    err = capsys.readouterr().err
    assert err.startswith("error: no MQL episode '7:123' in marts.speed_to_lead: ids look like")
    assert err.count("\n") == 1


def test_explain_judges_touch_times_at_the_build_clock_not_today(published, monkeypatch):
    """A day later (no rebuild) the episode still lists what the mart counted: em3 was in the future then."""
    before = json.loads(run("explain", EPISODE_7B, "--json"))
    monkeypatch.setenv("HANDOFF_NOW", "2027-01-01T00:00:00Z")
    later = json.loads(run("explain", EPISODE_7B, "--json"))
    assert later["touches"] == before["touches"]
    assert ("em3", "email scheduled; after now (in the future)") in [(i["id"], i["reason"]) for i in later["ignored"]]
