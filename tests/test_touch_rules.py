"""The Python touch rules (explain, live re-check) agree with the SQL marts on the same engagements."""

from __future__ import annotations

import pytest

from pipeline.sla.recheck import touches_since
from pipeline.touch_rules import id_order, is_touch, type_reasons

# (table, properties, counts as a touch) -- stated by hand from docs/contracts.md "Touch rules"
CASES = [
    ("calls", {"hs_call_direction": "OUTBOUND", "hs_call_status": "NO_ANSWER"}, True),
    ("calls", {"hs_call_direction": "outbound"}, True),  # staging upper-cases enum values; so must Python
    ("calls", {"hs_call_direction": "INBOUND"}, False),
    ("calls", {}, False),
    ("emails", {"hs_email_direction": "EMAIL", "hs_email_status": "SENT"}, True),
    ("emails", {"hs_email_direction": "FORWARDED_EMAIL"}, True),
    ("emails", {"hs_email_direction": "EMAIL", "hs_email_status": "bounced"}, False),
    ("emails", {"hs_email_direction": "EMAIL", "hs_email_status": "SCHEDULED"}, False),
    ("emails", {"hs_email_direction": "INCOMING_EMAIL"}, False),
    ("meetings", {"hs_meeting_outcome": "COMPLETED"}, True),
    ("meetings", {}, True),
    ("meetings", {"hs_meeting_outcome": "canceled"}, False),
    ("communications", {"hs_communication_channel_type": "WHATS_APP", "hs_communication_logged_from": "CRM"}, True),
    ("communications", {"hs_communication_channel_type": "sms"}, True),
    ("communications", {"hs_communication_channel_type": "SMS", "hs_communication_logged_from": "INTEGRATION"}, False),
    ("notes", {}, False),
    ("tasks", {"hs_task_status": "COMPLETED"}, False),
]


@pytest.mark.parametrize(("table", "props", "expected"), CASES)
def test_is_touch(table, props, expected):
    assert is_touch(table, props) is expected


def test_reasons_name_the_rule():
    assert type_reasons("call", "inbound", None) == ["inbound call"]
    assert type_reasons("email", "EMAIL", "bounced") == ["email bounced"]
    assert type_reasons("note", None, None) == ["notes never count as outreach"]


def test_ties_break_on_numeric_ids_like_the_sql():
    assert sorted(["10", "9", "x1"], key=id_order) == ["9", "10", "x1"]
    from datetime import datetime, timezone

    at = "2026-11-02T10:00:00.000Z"
    engagements = [{"type": "calls", "id": "10", "properties": {"hs_timestamp": at, "hs_call_direction": "OUTBOUND"}},
                   {"type": "calls", "id": "9", "properties": {"hs_timestamp": at, "hs_call_direction": "OUTBOUND"}}]
    found = touches_since(engagements, datetime(2026, 11, 2, 9, tzinfo=timezone.utc),
                          datetime(2026, 11, 2, 12, tzinfo=timezone.utc))
    assert [t["id"] for t in found] == ["9", "10"]


def test_sql_marts_agree_with_the_python_rules(raw_portal):
    """Each case as the only engagement of its own MQL contact, an hour after the MQL: the mart's attempts
    are 1 exactly where the Python rules say touch."""
    from tests.fixtures.raw_tables import build_marts, rows

    raw_portal.owner("101", team="EMEA")
    for n, (table, props, _expected) in enumerate(CASES, start=1):
        contact = str(n)
        raw_portal.contact(contact, lifecycle=[("2024-03-01T00:00:00Z", "lead"),
                                               ("2024-03-05T14:00:00Z", "marketingqualifiedlead")],
                           owners=[("2024-03-01T00:00:00Z", "101")])
        raw_portal._engagement(table, str(1000 + n), contact, "2024-03-05T15:00:00Z", "101", False, **props)
    build_marts(raw_portal, "2024-03-20T00:00:00Z")
    attempts = {r["contact_id"]: r["attempts"] for r in rows(raw_portal.con,
                                                            "SELECT contact_id, attempts FROM marts.speed_to_lead")}
    assert attempts == {str(n): int(expected) for n, (_t, _p, expected) in enumerate(CASES, start=1)}


# -- booked meetings (contract 5): stated by hand -------------------------------------------------------------
def _utc(text: str):
    from datetime import datetime

    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_a_meeting_counts_at_the_earlier_of_booked_and_held():
    from pipeline.touch_rules import touch_time

    booked, held = _utc("2026-11-02T10:05:00Z"), _utc("2026-11-09T15:00:00Z")
    assert touch_time("meeting", held, booked) == booked  # booked for next week: counts when booked
    assert touch_time("meeting", booked, held) == booked  # logged after it took place: counts when held
    assert touch_time("meeting", held, None) == held  # no hs_createdate: hs_timestamp
    assert touch_time("meeting", None, booked) == booked
    assert touch_time("call", held, booked) == held  # every other family: hs_timestamp only
    assert touch_time("email", held, booked) == held


def test_meeting_outcomes_excluded_come_from_the_policy_upper_cased():
    assert is_touch("meetings", {"hs_meeting_outcome": "Demo Held"})  # a portal's custom outcome counts
    assert not is_touch("meetings", {"hs_meeting_outcome": "CANCELED"})
    assert is_touch("meetings", {"hs_meeting_outcome": "NO_SHOW"})
    assert not is_touch("meetings", {"hs_meeting_outcome": "no_show"}, meeting_outcomes_excluded=["NO_SHOW"])
    assert is_touch("meetings", {"hs_meeting_outcome": "CANCELED"}, meeting_outcomes_excluded=[])
    assert type_reasons("meeting", "NO_SHOW", None, meeting_outcomes_excluded=["CANCELED", "NO_SHOW"]) == [
        "meeting outcome NO_SHOW (in touches.meeting_outcomes_excluded)"]
    assert type_reasons("meeting", "CANCELED", None) == ["meeting canceled"]


MQL_AT = "2026-11-02T10:00:00.000Z"
BOOKED_FOR_NEXT_WEEK = {"type": "meetings", "id": "77", "properties": {
    "hs_timestamp": "2026-11-09T15:00:00.000Z", "hs_createdate": "2026-11-02T10:05:00.000Z",
    "hs_meeting_outcome": "SCHEDULED", "hubspot_owner_id": "101"}}


def test_a_meeting_booked_five_minutes_after_the_mql_for_next_week_is_a_touch_at_five_minutes():
    found = touches_since([BOOKED_FOR_NEXT_WEEK], _utc(MQL_AT), _utc("2026-11-02T12:00:00Z"))
    assert found == [{"type": "meetings", "id": "77", "at": "2026-11-02T10:05:00+00:00", "owner_id": "101"}]


def test_that_lead_is_never_escalated_by_the_live_recheck():
    from pipeline.policy import load_policy
    from pipeline.sla.recheck import recheck

    live = {"lifecyclestage": "marketingqualifiedlead", "hubspot_owner_id": "101"}
    # the manager escalation of a demo request (1 h) and the reassignment (2 h), and a day later
    for now in ("2026-11-02T11:00:00.500Z", "2026-11-02T12:00:00.500Z", "2026-11-03T10:00:00Z"):
        check = recheck(mql_at=_utc(MQL_AT), live_contact=live, engagements=[BOOKED_FOR_NEXT_WEEK],
                        expected_owners={"101"}, now=_utc(now), policy=load_policy())
        assert check.proceed is False
        assert check.reason == "touch logged since the last sync: meeting 77 at 2026-11-02T10:05:00+00:00"
    canceled = {**BOOKED_FOR_NEXT_WEEK, "properties": {**BOOKED_FOR_NEXT_WEEK["properties"],
                                                       "hs_meeting_outcome": "CANCELED"}}
    check = recheck(mql_at=_utc(MQL_AT), live_contact=live, engagements=[canceled], expected_owners={"101"},
                    now=_utc("2026-11-02T11:00:00.500Z"), policy=load_policy())
    assert check.proceed is True and check.reason == "still overdue"


def test_a_meeting_booked_before_the_mql_is_not_a_touch_of_it():
    before = {**BOOKED_FOR_NEXT_WEEK, "properties": {**BOOKED_FOR_NEXT_WEEK["properties"],
                                                     "hs_createdate": "2026-11-02T09:00:00.000Z"}}
    assert touches_since([before], _utc(MQL_AT), _utc("2026-11-10T00:00:00Z")) == []


def test_the_live_crm_reads_meetings_with_hs_createdate():
    from pipeline.sla.crm import TOUCH_PROPERTIES

    assert "hs_createdate" in TOUCH_PROPERTIES["meetings"]


def _mql_with_a_meeting_booked_5_minutes_later(raw_portal) -> None:
    """Owner 101 (EMEA); contact 1 MQL at 2024-03-05 14:00 UTC, meeting 900 booked at 14:05 for 03-12 15:00."""
    raw_portal.owner("101", team="EMEA")
    raw_portal.contact("1", lifecycle=[("2024-03-01T00:00:00Z", "lead"),
                                       ("2024-03-05T14:00:00Z", "marketingqualifiedlead")],
                       owners=[("2024-03-01T00:00:00Z", "101")])
    raw_portal._engagement("meetings", "900", "1", "2024-03-12T15:00:00Z", "101", False,
                           hs_meeting_outcome="SCHEDULED", hs_createdate="2024-03-05T14:05:00Z")


def test_sql_marts_count_a_booked_meeting_when_booked(raw_portal):
    """The SQL spelling of contract 5 agrees with the Python one (fails until the marts implement it)."""
    from tests.fixtures.raw_tables import build_marts, rows

    _mql_with_a_meeting_booked_5_minutes_later(raw_portal)
    raw_portal.contact("2", lifecycle=[("2024-03-01T00:00:00Z", "lead"),
                                       ("2024-03-05T14:00:00Z", "marketingqualifiedlead")],
                       owners=[("2024-03-01T00:00:00Z", "101")])
    raw_portal._engagement("meetings", "901", "2", "2024-03-06T15:00:00Z", "101", False,
                           hs_meeting_outcome="NO_SHOW", hs_createdate="2024-03-05T14:05:00Z")
    from pipeline.policy import parse_policy

    build_marts(raw_portal, "2024-03-07T00:00:00Z",
                parse_policy("touches: {meeting_outcomes_excluded: [CANCELED, no_show]}"))
    got = {r["contact_id"]: (r["attempts"], r["minutes_to_first_touch"]) for r in rows(
        raw_portal.con, "SELECT contact_id, attempts, minutes_to_first_touch FROM marts.speed_to_lead")}
    assert got == {"1": (1, 5.0), "2": (0, None)}


def test_explain_lists_a_booked_meeting_at_its_booking(raw_portal):
    """``handoff explain`` judges with the Python rules: the meeting counts at hs_createdate, a NO_SHOW the policy
    excludes is ignored with the key named."""
    from pipeline.policy import parse_policy
    from pipeline.report.explain import explain_episode
    from tests.fixtures.raw_tables import build_marts, ts

    _mql_with_a_meeting_booked_5_minutes_later(raw_portal)
    raw_portal._engagement("meetings", "901", "1", "2024-03-05T16:00:00Z", "101", False,
                           hs_meeting_outcome="NO_SHOW", hs_createdate="2024-03-05T15:00:00Z")
    policy = parse_policy("touches: {meeting_outcomes_excluded: [CANCELED, NO_SHOW]}")
    build_marts(raw_portal, "2024-03-07T00:00:00Z", policy)
    mql_id = f"1:{int(ts('2024-03-05T14:00:00Z').timestamp() * 1000)}"
    data = explain_episode(raw_portal.con, mql_id, ts("2024-03-07T00:00:00Z"), policy)
    assert [(t["id"], t["at"], t["booked_at"], t["meeting_at"], t["first_touch"]) for t in data["touches"]] == [
        ("900", "2024-03-05T14:05:00+00:00", "2024-03-05T14:05:00+00:00", "2024-03-12T15:00:00+00:00", True)]
    assert [(i["id"], i["at"], i["reason"]) for i in data["ignored"]] == [
        ("901", "2024-03-05T15:00:00+00:00", "meeting outcome NO_SHOW (in touches.meeting_outcomes_excluded)")]
