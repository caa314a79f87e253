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
