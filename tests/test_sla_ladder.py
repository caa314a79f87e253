"""The ladder's due times (wall and business clock) and the live re-check's touch rules and cancellations."""

from __future__ import annotations

from datetime import datetime, timezone

import polars as pl
import pytest

from pipeline.policy import load_policy, parse_policy
from pipeline.sla.ladder import add_business_minutes, due_steps
from pipeline.sla.recheck import is_touch, recheck

UTC = timezone.utc
NOW = datetime(2026, 11, 2, 15, 0, tzinfo=UTC)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_due_steps_on_the_wall_clock_sorted_by_due_time():
    candidates = pl.DataFrame({
        "mql_id": ["a", "b", "c", "d"], "contact_id": ["1", "2", "3", "4"],
        "mql_at": [at("2026-11-02T12:00:00"), at("2026-11-02T14:00:00"), at("2026-11-01T14:00:00"),
                   at("2026-11-02T13:00:00")],
        "sla_minutes": [60, 60, 1440, 60],
    })
    due = due_steps(candidates, load_policy(), NOW)
    assert due.select("mql_id", "step", "due_at").rows() == [
        ("a", "manager_escalation", at("2026-11-02T13:00:00")),
        ("a", "reassignment", at("2026-11-02T14:00:00")),
        ("c", "manager_escalation", at("2026-11-02T14:00:00")),  # 'other': 24 h; 2x not reached
        ("d", "manager_escalation", at("2026-11-02T14:00:00")),
        ("b", "manager_escalation", at("2026-11-02T15:00:00")),  # exactly at the due instant: due
        ("d", "reassignment", at("2026-11-02T15:00:00")),
    ]


def test_business_clock_skips_nights_and_weekends():
    hours = load_policy().business_hours  # New York, Mon-Fri 09:00-17:00
    # Friday 16:30 New York (21:30 UTC) + 60 business minutes = Monday 09:30 New York (14:30 UTC)
    assert add_business_minutes(at("2026-11-20T21:30:00"), 60, hours) == at("2026-11-23T14:30:00")
    # Saturday: the clock starts Monday 09:00
    assert add_business_minutes(at("2026-11-21T12:00:00"), 60, hours) == at("2026-11-23T15:00:00")
    # across the DST change (1 Nov 2026): Friday 30 Oct 16:00 EDT + 120 min = Monday 2 Nov 10:00 EST
    assert add_business_minutes(at("2026-10-30T20:00:00"), 120, hours) == at("2026-11-02T15:00:00")
    policy = parse_policy("sla: {clock: business}")
    candidates = pl.DataFrame({"mql_id": ["f"], "contact_id": ["1"], "mql_at": [at("2026-10-30T20:00:00")],
                               "sla_minutes": [60]})
    assert due_steps(candidates, policy, NOW).select("step", "due_at").rows() == [
        ("manager_escalation", at("2026-10-30T21:00:00")), ("reassignment", at("2026-11-02T15:00:00"))]


@pytest.mark.parametrize(("kind", "props", "touch"), [
    ("calls", {"hs_call_direction": "OUTBOUND", "hs_call_status": "NO_ANSWER"}, True),
    ("calls", {"hs_call_direction": "INBOUND"}, False),
    ("emails", {"hs_email_direction": "EMAIL"}, True),
    ("emails", {"hs_email_direction": "FORWARDED_EMAIL", "hs_email_status": "SENT"}, True),
    ("emails", {"hs_email_direction": "EMAIL", "hs_email_status": "BOUNCED"}, False),
    ("emails", {"hs_email_direction": "EMAIL", "hs_email_status": "SCHEDULED"}, False),
    ("emails", {"hs_email_direction": "INCOMING_EMAIL"}, False),
    ("meetings", {"hs_meeting_outcome": "CANCELED"}, False),
    ("meetings", {}, True),
    ("communications", {"hs_communication_channel_type": "WHATS_APP"}, True),
    ("communications", {"hs_communication_channel_type": "SMS", "hs_communication_logged_from": "API"}, False),
    ("notes", {}, False),
])
def test_touch_rules_match_the_contract(kind, props, touch):
    assert is_touch(kind, props) is touch


def _recheck(**kw):
    base = dict(mql_at=at("2026-11-02T12:00:00"),
                live_contact={"lifecyclestage": "marketingqualifiedlead", "hubspot_owner_id": "101"},
                engagements=[], expected_owners={"101"}, now=NOW)
    return recheck(**{**base, **kw})


def test_recheck_proceeds_when_nothing_changed_and_ignores_non_touches():
    engagements = [
        {"type": "calls", "id": "1", "properties": {"hs_timestamp": "2026-11-02T11:59:59.999Z",
                                                     "hs_call_direction": "OUTBOUND"}},  # before mql_at
        {"type": "emails", "id": "2", "properties": {"hs_timestamp": "2026-11-02T14:00:00Z",
                                                      "hs_email_direction": "INCOMING_EMAIL"}},
        {"type": "calls", "id": "3", "properties": {"hs_timestamp": "2026-11-02T15:00:00.001Z",
                                                     "hs_call_direction": "OUTBOUND"}},  # after now
    ]
    assert _recheck(engagements=engagements).proceed


def test_recheck_cancels_on_touch_stage_owner_or_deletion():
    touch = [{"type": "meetings", "id": "9", "properties": {"hs_timestamp": "1793628000000"}}]  # epoch ms 14:00
    result = _recheck(engagements=touch)
    assert not result.proceed
    assert result.reason == "touch logged since the last sync: meeting 9 at 2026-11-02T14:00:00+00:00"
    stage = _recheck(live_contact={"lifecyclestage": "salesqualifiedlead", "hubspot_owner_id": "101"})
    assert stage.reason == "lifecycle stage moved on to salesqualifiedlead"
    owner = _recheck(live_contact={"lifecyclestage": "marketingqualifiedlead", "hubspot_owner_id": "555"})
    assert owner.reason == "owner changed by hand to 555 (expected 101)"
    ours = _recheck(live_contact={"lifecyclestage": "marketingqualifiedlead", "hubspot_owner_id": "103"},
                    expected_owners={"101", "103"})
    assert ours.proceed  # our own earlier PATCH (resume after a crash) is not a change by hand
    assert _recheck(live_contact=None).reason == "contact no longer exists in HubSpot (deleted or merged)"
    both = _recheck(engagements=touch, live_contact={"lifecyclestage": "", "hubspot_owner_id": "101"})
    assert both.details["reasons"][1] == "lifecycle stage moved on to (cleared)"
