"""One hand-written case per DOMAIN rule: raw rows in, the expected marts.speed_to_lead rows stated literally."""

from __future__ import annotations

import pytest

from pipeline.policy import parse_policy
from tests.fixtures.raw_tables import build_marts, rows, ts

MQL = "marketingqualifiedlead"
NOW = "2024-03-20T00:00:00Z"
# Tuesday 2024-03-05 14:00 UTC = 09:00 in New York (EST, before the DST switch on 2024-03-10)
T0 = "2024-03-05T14:00:00Z"


def speed(portal, now=NOW, policy=None, columns="*"):
    build_marts(portal, now, policy)
    return rows(portal.con, f"SELECT {columns} FROM marts.speed_to_lead ORDER BY contact_id, mql_at")


def one_mql(portal, contact="1", mql_at=T0, owner="101", **extra):
    portal.owner(owner, team="EMEA")
    portal.contact(contact, lifecycle=[("2024-03-01T00:00:00Z", "lead"), (mql_at, MQL)],
                   owners=[("2024-03-01T00:00:00Z", owner)], **extra)


def first_touch(row):
    return (row["first_touch_at"], row["first_touch_type"], row["attempts"], row["sla_status"])


def test_touches_before_mql_never_count(raw_portal):
    one_mql(raw_portal)
    raw_portal.call("c0", "1", "2024-03-05T13:59:59.999Z")  # 1 ms before the MQL
    raw_portal.email("e1", "1", "2024-03-05T16:00:00Z")
    [row] = speed(raw_portal)
    assert first_touch(row) == (ts("2024-03-05T16:00:00Z"), "email", 1, "met")
    assert row["minutes_to_first_touch"] == 120.0


def test_touch_at_exactly_mql_at_counts(raw_portal):
    one_mql(raw_portal)
    raw_portal.call("c1", "1", T0)
    [row] = speed(raw_portal)
    assert first_touch(row) == (ts(T0), "call", 1, "met")
    assert row["minutes_to_first_touch"] == 0.0


def test_inbound_calls_are_not_touches_but_outbound_no_answer_is(raw_portal):
    one_mql(raw_portal)
    raw_portal.call("c1", "1", "2024-03-05T14:05:00Z", direction="INBOUND")
    raw_portal.call("c2", "1", "2024-03-05T18:00:00Z", status="NO_ANSWER")
    [row] = speed(raw_portal)
    assert first_touch(row) == (ts("2024-03-05T18:00:00Z"), "call", 1, "met")


def test_incoming_emails_are_not_touches_forwarded_are(raw_portal):
    one_mql(raw_portal)
    raw_portal.email("e1", "1", "2024-03-05T14:01:00Z", direction="INCOMING_EMAIL")
    raw_portal.email("e2", "1", "2024-03-05T14:20:00Z", direction="FORWARDED_EMAIL")
    [row] = speed(raw_portal)
    assert first_touch(row) == (ts("2024-03-05T14:20:00Z"), "email", 1, "met")


def test_notes_and_tasks_only_leave_the_episode_untouched(raw_portal):
    one_mql(raw_portal)
    raw_portal.note("n1", "1", "2024-03-05T14:10:00Z")
    raw_portal.task("t1", "1", "2024-03-05T14:11:00Z")
    [row] = speed(raw_portal)
    assert first_touch(row) == (None, None, 0, "overdue")
    assert row["minutes_to_first_touch"] is None and row["first_touch_owner_id"] is None


@pytest.mark.parametrize("status", ["BOUNCED", "FAILED", "SCHEDULED"])
def test_bounced_failed_scheduled_emails_are_not_touches(raw_portal, status):
    one_mql(raw_portal)
    raw_portal.email("e1", "1", "2024-03-05T14:01:00Z", status=status)
    raw_portal.email("e2", "1", "2024-03-05T15:30:00Z", status=None)  # no status = sent
    [row] = speed(raw_portal)
    assert first_touch(row) == (ts("2024-03-05T15:30:00Z"), "email", 1, "met")


def test_canceled_meetings_are_not_touches(raw_portal):
    one_mql(raw_portal)
    raw_portal.meeting("m1", "1", "2024-03-05T14:02:00Z", outcome="CANCELED")
    raw_portal.meeting("m2", "1", "2024-03-05T14:40:00Z", outcome="NO_SHOW")
    [row] = speed(raw_portal)
    assert first_touch(row) == (ts("2024-03-05T14:40:00Z"), "meeting", 1, "met")


def test_communications_logged_by_a_rep_count(raw_portal):
    one_mql(raw_portal)
    raw_portal.communication("s1", "1", "2024-03-05T14:01:00Z", channel="SMS", logged_from="INTEGRATION")
    raw_portal.communication("s2", "1", "2024-03-05T14:03:00Z", channel="WHATS_APP")
    raw_portal.communication("s3", "1", "2024-03-05T14:04:00Z", channel="LINKEDIN_MESSAGE")
    [row] = speed(raw_portal)
    assert first_touch(row) == (ts("2024-03-05T14:03:00Z"), "communication", 2, "met")


def test_archived_engagements_and_other_contacts_engagements_do_not_count(raw_portal):
    one_mql(raw_portal)
    raw_portal.contact("2", lifecycle=[("2024-03-01T00:00:00Z", "lead")])
    raw_portal.call("c1", "1", "2024-03-05T14:01:00Z", archived=True)
    raw_portal.call("c2", "2", "2024-03-05T14:02:00Z")
    [row] = speed(raw_portal)
    assert first_touch(row) == (None, None, 0, "overdue")


def test_touch_by_another_rep_is_recorded(raw_portal):
    one_mql(raw_portal, owner="101")
    raw_portal.owner("202", team="APAC")
    raw_portal.call("c1", "1", "2024-03-05T14:15:00Z", owner="202")
    raw_portal.call("c2", "1", "2024-03-05T14:30:00Z", owner="101")
    [row] = speed(raw_portal)
    assert (row["owner_id"], row["team"], row["first_touch_owner_id"], row["attempts"]) == ("101", "EMEA", "202", 2)


def test_same_instant_touches_break_ties_by_type_then_id(raw_portal):
    one_mql(raw_portal)
    at = "2024-03-05T14:10:00Z"
    raw_portal.communication("1", "1", at, owner="9")
    raw_portal.meeting("2", "1", at, owner="8")
    raw_portal.email("10", "1", at, owner="7")
    raw_portal.email("9", "1", at, owner="6")
    [row] = speed(raw_portal, columns="first_touch_type, first_touch_owner_id, attempts")
    assert row == {"first_touch_type": "email", "first_touch_owner_id": "6", "attempts": 4}


def test_re_mql_opens_a_new_episode_and_splits_touches_and_conversions(raw_portal):
    raw_portal.owner("101", team="EMEA")
    raw_portal.contact("1", owners=[("2024-03-01T00:00:00Z", "101")], lifecycle=[
        ("2024-03-01T00:00:00Z", "lead"), ("2024-03-04T10:00:00Z", MQL), ("2024-03-08T10:00:00Z", "lead"),
        ("2024-03-10T10:00:00Z", ""), ("2024-03-10T10:00:00Z", MQL), ("2024-03-12T10:00:00Z", "salesqualifiedlead")])
    raw_portal.call("c1", "1", "2024-03-06T10:00:00Z")  # second day: breached (other = 24 h)
    raw_portal.call("c2", "1", "2024-03-07T10:00:00Z")
    raw_portal.email("e1", "1", "2024-03-10T11:00:00Z")  # one hour into episode 2
    got = speed(raw_portal, columns="mql_id, mql_at, first_touch_at, attempts, sla_status, sql_at")
    assert got == [
        {"mql_id": "1:1709546400000", "mql_at": ts("2024-03-04T10:00:00Z"), "first_touch_at": ts("2024-03-06T10:00:00Z"),
         "attempts": 2, "sla_status": "breached", "sql_at": None},
        {"mql_id": "1:1710064800000", "mql_at": ts("2024-03-10T10:00:00Z"), "first_touch_at": ts("2024-03-10T11:00:00Z"),
         "attempts": 1, "sla_status": "met", "sql_at": ts("2024-03-12T10:00:00Z")},
    ]
    # the move back to `lead` with 2 attempts is a recycle below the minimum of 3
    [first, second] = rows(raw_portal.con, "SELECT recycled_at, attempts_before_recycled, "
                           "recycled_below_minimum_attempts FROM marts.speed_to_lead ORDER BY mql_at")
    assert first == {"recycled_at": ts("2024-03-08T10:00:00Z"), "attempts_before_recycled": 2,
                     "recycled_below_minimum_attempts": True}
    assert second["recycled_below_minimum_attempts"] is False


def test_stage_skips_lead_to_sql_has_no_episode_mql_to_customer_converts_everywhere(raw_portal):
    raw_portal.contact("1", lifecycle=[("2024-03-01T00:00:00Z", "lead"), ("2024-03-02T00:00:00Z", "salesqualifiedlead")])
    raw_portal.contact("2", lifecycle=[("2024-03-01T00:00:00Z", "lead"), ("2024-03-04T00:00:00Z", MQL),
                                       ("2024-03-09T00:00:00Z", "customer")])
    got = speed(raw_portal, columns="contact_id, sql_at, opportunity_at, customer_at")
    at = ts("2024-03-09T00:00:00Z")
    assert got == [{"contact_id": "2", "sql_at": at, "opportunity_at": at, "customer_at": at}]


def test_a_deal_created_in_the_window_is_the_opportunity(raw_portal):
    raw_portal.contact("1", lifecycle=[("2024-03-01T00:00:00Z", "lead"), ("2024-03-04T00:00:00Z", MQL),
                                       ("2024-03-15T00:00:00Z", "opportunity")])
    raw_portal.deal("d0", "1", "2024-03-03T00:00:00Z")  # before the MQL: not this episode's
    raw_portal.deal("d1", "1", "2024-03-06T00:00:00Z", archived=True)
    raw_portal.deal("d2", "1", "2024-03-07T00:00:00Z")
    [row] = speed(raw_portal, columns="sql_at, opportunity_at, customer_at")
    assert row == {"sql_at": ts("2024-03-15T00:00:00Z"), "opportunity_at": ts("2024-03-07T00:00:00Z"),
                   "customer_at": None}


def test_archived_and_merged_contacts_are_excluded(raw_portal):
    life = [("2024-03-01T00:00:00Z", "lead"), (T0, MQL)]
    raw_portal.contact("1", lifecycle=life)
    raw_portal.contact("2", lifecycle=life, archived=True)
    raw_portal.contact("3", lifecycle=life, merged_into="1")
    got = speed(raw_portal, columns="contact_id")
    assert got == [{"contact_id": "1"}]
    assert rows(raw_portal.con, "SELECT contact_id FROM marts.mql_episodes") == [{"contact_id": "1"}]


def test_owner_in_force_at_mql_and_assignment_after_it(raw_portal):
    for owner, team in (("101", "EMEA"), ("202", "APAC"), ("303", "North America")):
        raw_portal.owner(owner, team=team)
    # contact 1: 101 until just before the MQL, 202 from 1 ms before the MQL, 303 after it
    raw_portal.contact("1", lifecycle=[("2024-03-01T00:00:00Z", "lead"), (T0, MQL)], owners=[
        ("2024-03-01T00:00:00Z", "101"), ("2024-03-05T13:59:59.999Z", "202"), ("2024-03-05T14:30:00Z", "303")])
    # contact 2: no owner at the MQL (cleared), routed 12 minutes later
    raw_portal.contact("2", lifecycle=[("2024-03-01T00:00:00Z", "lead"), (T0, MQL)], owners=[
        ("2024-03-01T00:00:00Z", "101"), ("2024-03-02T00:00:00Z", ""), ("2024-03-05T14:12:00Z", "303")])
    raw_portal.call("c1", "2", "2024-03-05T14:20:00Z", owner="303")
    got = speed(raw_portal, columns="contact_id, owner_id, team, assigned_at, assigned_owner_id, routing_minutes, "
                                    "rep_minutes, minutes_to_first_touch")
    assert got == [
        {"contact_id": "1", "owner_id": "202", "team": "APAC", "assigned_at": ts(T0), "assigned_owner_id": "202",
         "routing_minutes": 0.0, "rep_minutes": None, "minutes_to_first_touch": None},
        {"contact_id": "2", "owner_id": None, "team": None, "assigned_at": ts("2024-03-05T14:12:00Z"),
         "assigned_owner_id": "303", "routing_minutes": 12.0, "rep_minutes": 8.0, "minutes_to_first_touch": 20.0},
    ]


def test_team_is_the_primary_team_else_any(raw_portal):
    raw_portal.owner("101", team="Fintech", primary=False)
    raw_portal.team("101", "EMEA", primary=True)
    raw_portal.owner("202", team="Zeta", primary=False)
    raw_portal.team("202", "Alpha", primary=False)
    for contact, owner in (("1", "101"), ("2", "202")):
        raw_portal.contact(contact, lifecycle=[(T0, MQL)], owners=[("2024-03-01T00:00:00Z", owner)])
    got = speed(raw_portal, columns="contact_id, team")
    assert got == [{"contact_id": "1", "team": "EMEA"}, {"contact_id": "2", "team": "Alpha"}]


def test_demo_request_is_the_event_in_force_at_mql_plus_skew(raw_portal):
    lead = ("2024-03-01T00:00:00Z", "lead")
    # 1: demo form logged 4 min after the MQL (inside the 5 min skew), later replaced by an ebook
    raw_portal.contact("1", lifecycle=[lead, (T0, MQL)],
                       events=[("2024-03-05T14:04:00Z", "Request a Demo"), ("2024-03-06T00:00:00Z", "Ebook")])
    # 2: the demo form arrived 6 min after: too late, the ebook was in force
    raw_portal.contact("2", lifecycle=[lead, (T0, MQL)],
                       events=[("2024-03-01T00:00:00Z", "Ebook"), ("2024-03-05T14:06:00Z", "Request a demo")])
    # 3: a policy form name that does not match the pattern
    raw_portal.contact("3", lifecycle=[lead, (T0, MQL)], events=[("2024-03-05T13:00:00Z", "Talk to Sales")])
    got = speed(raw_portal, columns="contact_id, mql_type, sla_minutes, sla_due_at")
    assert got == [
        {"contact_id": "1", "mql_type": "demo_request", "sla_minutes": 60, "sla_due_at": ts("2024-03-05T15:00:00Z")},
        {"contact_id": "2", "mql_type": "other", "sla_minutes": 1440, "sla_due_at": ts("2024-03-06T14:00:00Z")},
        {"contact_id": "3", "mql_type": "demo_request", "sla_minutes": 60, "sla_due_at": ts("2024-03-05T15:00:00Z")},
    ]


def test_business_minutes_across_a_weekend(raw_portal):
    # Friday 2024-03-08 16:30 New York (EST) = 21:30 UTC; touched Monday 2024-03-11 09:30 EDT = 13:30 UTC
    # (the DST switch on Sunday moves New York to UTC-4): 30 + 30 business minutes
    one_mql(raw_portal, mql_at="2024-03-08T21:30:00Z")
    raw_portal.call("c1", "1", "2024-03-11T13:30:00Z")
    [row] = speed(raw_portal, columns="minutes_to_first_touch, business_minutes_to_first_touch, sla_due_at, sla_status")
    assert row == {"minutes_to_first_touch": 3840.0, "business_minutes_to_first_touch": 60.0,
                   "sla_due_at": ts("2024-03-09T21:30:00Z"), "sla_status": "breached"}


def test_business_clock_due_time_skips_nights_and_weekends_in_the_policy_time_zone(raw_portal):
    policy = parse_policy("sla: {clock: business, minutes: {demo_request: 60, other: 600}}\n"
                          "business_hours: {timezone: Europe/Berlin, start: '09:00', end: '17:00'}")
    # contact 1 (other, 600 business min = 1 day + 2 h): MQL Friday 2024-03-08 15:00 Berlin (14:00 UTC):
    # 2 h Friday + 8 h Monday -> due Monday 17:00 Berlin = 16:00 UTC; touched Monday 16:00 UTC exactly
    one_mql(raw_portal, contact="1", mql_at="2024-03-08T14:00:00Z")
    raw_portal.call("c1", "1", "2024-03-11T16:00:00Z")
    # contact 2 (other): MQL Saturday; clock starts Monday 09:00 -> due Monday 17:00 + 2 h Tuesday = Tue 11:00 Berlin
    one_mql(raw_portal, contact="2", mql_at="2024-03-09T12:00:00Z")
    got = speed(raw_portal, now="2024-03-12T10:00:01Z", policy=policy,
                columns="contact_id, sla_due_at, business_minutes_to_first_touch, sla_status")
    assert got == [
        {"contact_id": "1", "sla_due_at": ts("2024-03-11T16:00:00Z"), "business_minutes_to_first_touch": 600.0,
         "sla_status": "met"},
        {"contact_id": "2", "sla_due_at": ts("2024-03-12T10:00:00Z"), "business_minutes_to_first_touch": None,
         "sla_status": "overdue"},
    ]


def test_millisecond_timestamps_are_exact(raw_portal):
    one_mql(raw_portal, mql_at="2024-03-05T14:00:00.250Z")
    raw_portal.call("c1", "1", "2024-03-05T14:00:01.000Z")
    [row] = speed(raw_portal, columns="mql_id, mql_at, minutes_to_first_touch, sla_due_at")
    assert row == {"mql_id": "1:1709647200250", "mql_at": ts("2024-03-05T14:00:00.250Z"),
                   "minutes_to_first_touch": 750 / 60000, "sla_due_at": ts("2024-03-06T14:00:00.250Z")}


def test_first_touch_exactly_at_the_due_boundary_is_met_one_ms_later_breached(raw_portal):
    demo = [("2024-03-05T14:00:00Z", "Book a demo")]
    one_mql(raw_portal, contact="1", events=demo)
    one_mql(raw_portal, contact="2", events=demo)
    raw_portal.call("c1", "1", "2024-03-05T15:00:00.000Z")
    raw_portal.call("c2", "2", "2024-03-05T15:00:00.001Z")
    got = speed(raw_portal, columns="contact_id, sla_due_at, sla_status")
    due = ts("2024-03-05T15:00:00Z")
    assert got == [{"contact_id": "1", "sla_due_at": due, "sla_status": "met"},
                   {"contact_id": "2", "sla_due_at": due, "sla_status": "breached"}]


@pytest.mark.parametrize(("now", "status", "attempts"), [
    ("2024-03-05T14:59:59.999Z", "pending", 0),  # before the due time, the future meeting is not a touch yet
    ("2024-03-05T15:00:00.000Z", "pending", 0),  # exactly at due: still pending
    ("2024-03-05T15:00:00.001Z", "overdue", 0),
    ("2024-03-05T15:30:00.000Z", "breached", 1),  # the meeting at 15:30 has happened
])
def test_pending_vs_overdue_under_a_pinned_clock(raw_portal, now, status, attempts):
    one_mql(raw_portal, events=[("2024-03-05T14:00:00Z", "demo request")])
    raw_portal.meeting("m1", "1", "2024-03-05T15:30:00Z", outcome="SCHEDULED")
    [row] = speed(raw_portal, now=now, columns="sla_status, attempts, computed_at")
    assert row == {"sla_status": status, "attempts": attempts, "computed_at": ts(now)}


# -- episode boundaries: the window is mql_at <= t < next_mql_at (docs/contracts.md "Touch rules", "Episode rules")
RE_MQL = [("2024-03-01T00:00:00Z", "lead"), ("2024-03-04T10:00:00Z", MQL), ("2024-03-08T10:00:00Z", "lead"),
          ("2024-03-10T10:00:00Z", MQL)]
NEXT_MQL = "2024-03-10T10:00:00Z"


def test_a_touch_a_deal_and_a_stage_change_exactly_at_the_next_mql_at_belong_to_the_later_episode(raw_portal):
    for owner, team in (("101", "EMEA"), ("303", "North America")):
        raw_portal.owner(owner, team=team)
    # 1: its only touch is a call at the instant of the re-MQL
    raw_portal.contact("1", lifecycle=RE_MQL, owners=[("2024-03-01T00:00:00Z", "101")])
    raw_portal.call("c1", "1", NEXT_MQL)
    # 2: a deal created at the instant of the re-MQL
    raw_portal.contact("2", lifecycle=RE_MQL, owners=[("2024-03-01T00:00:00Z", "101")])
    raw_portal.deal("d2", "2", NEXT_MQL)
    # 3: moved on to SQL in the same millisecond as the re-MQL (lifecycle order: MQL, then SQL), and its first
    #    owner set at that instant too (unowned before)
    raw_portal.contact("3", lifecycle=[*RE_MQL, (NEXT_MQL, "salesqualifiedlead")],
                       owners=[("2024-03-01T00:00:00Z", ""), (NEXT_MQL, "303")])
    # 4: stage cleared and set again (no move back to lead), marked unqualified at the instant of the re-MQL
    raw_portal.contact("4", lifecycle=[*RE_MQL[:2], (NEXT_MQL, ""), (NEXT_MQL, MQL)],
                       owners=[("2024-03-01T00:00:00Z", "101")],
                       lead_status=[("2024-03-05T00:00:00Z", "OPEN"), (NEXT_MQL, "UNQUALIFIED")])
    got = speed(raw_portal, columns="contact_id, mql_at, next_mql_at, first_touch_at, attempts, sla_status, "
                                    "minutes_to_first_touch, sql_at, opportunity_at, owner_id, assigned_at, "
                                    "routing_minutes")
    first, second = ts("2024-03-04T10:00:00Z"), ts(NEXT_MQL)
    owned = {"owner_id": "101", "routing_minutes": 0.0}
    untouched = {"first_touch_at": None, "attempts": 0, "sla_status": "overdue", "minutes_to_first_touch": None}
    assert got == [
        {"contact_id": "1", "mql_at": first, "next_mql_at": second, **untouched, "sql_at": None,
         "opportunity_at": None, **owned, "assigned_at": first},
        {"contact_id": "1", "mql_at": second, "next_mql_at": None, "first_touch_at": second, "attempts": 1,
         "sla_status": "met", "minutes_to_first_touch": 0.0, "sql_at": None, "opportunity_at": None, **owned,
         "assigned_at": second},
        {"contact_id": "2", "mql_at": first, "next_mql_at": second, **untouched, "sql_at": None,
         "opportunity_at": None, **owned, "assigned_at": first},
        {"contact_id": "2", "mql_at": second, "next_mql_at": None, **untouched, "sql_at": None,
         "opportunity_at": second, **owned, "assigned_at": second},
        {"contact_id": "3", "mql_at": first, "next_mql_at": second, **untouched, "sql_at": None,
         "opportunity_at": None, "owner_id": None, "assigned_at": None, "routing_minutes": None},
        {"contact_id": "3", "mql_at": second, "next_mql_at": None, **untouched, "sql_at": second,
         "opportunity_at": None, "owner_id": "303", "assigned_at": second, "routing_minutes": 0.0},
        {"contact_id": "4", "mql_at": first, "next_mql_at": second, **untouched, "sql_at": None,
         "opportunity_at": None, **owned, "assigned_at": first},
        {"contact_id": "4", "mql_at": second, "next_mql_at": None, **untouched, "sql_at": None,
         "opportunity_at": None, **owned, "assigned_at": second},
    ]
    recycled = rows(raw_portal.con, "SELECT contact_id, mql_at, recycled_at FROM marts.speed_to_lead "
                                    "WHERE contact_id = '4' ORDER BY mql_at")
    # episode 1 was never recycled (cleared, not moved back to lead); the UNQUALIFIED at the re-MQL is episode 2's
    assert recycled == [{"contact_id": "4", "mql_at": first, "recycled_at": None},
                        {"contact_id": "4", "mql_at": second, "recycled_at": second}]


def test_an_owner_change_exactly_at_mql_at_is_the_owner_in_force(raw_portal):
    for owner, team in (("101", "EMEA"), ("202", "APAC"), ("303", "North America")):
        raw_portal.owner(owner, team=team)
    # 1: 101 until the MQL, 202 from the MQL's own millisecond (latest entry <= mql_at)
    raw_portal.contact("1", lifecycle=[("2024-03-01T00:00:00Z", "lead"), (T0, MQL)],
                       owners=[("2024-03-01T00:00:00Z", "101"), (T0, "202")])
    # 2: unowned, routed in the MQL's own millisecond: owned at mql_at, no routing delay
    raw_portal.contact("2", lifecycle=[("2024-03-01T00:00:00Z", "lead"), (T0, MQL)],
                       owners=[("2024-03-01T00:00:00Z", ""), (T0, "303")])
    # 3: owned by 101, the owner cleared at the MQL's millisecond, 303 routed 1 ms later
    raw_portal.contact("3", lifecycle=[("2024-03-01T00:00:00Z", "lead"), (T0, MQL)],
                       owners=[("2024-03-01T00:00:00Z", "101"), (T0, ""), ("2024-03-05T14:00:00.001Z", "303")])
    got = speed(raw_portal, columns="contact_id, owner_id, team, assigned_at, assigned_owner_id, routing_minutes")
    assert got == [
        {"contact_id": "1", "owner_id": "202", "team": "APAC", "assigned_at": ts(T0), "assigned_owner_id": "202",
         "routing_minutes": 0.0},
        {"contact_id": "2", "owner_id": "303", "team": "North America", "assigned_at": ts(T0),
         "assigned_owner_id": "303", "routing_minutes": 0.0},
        {"contact_id": "3", "owner_id": None, "team": None, "assigned_at": ts("2024-03-05T14:00:00.001Z"),
         "assigned_owner_id": "303", "routing_minutes": 1 / 60000},
    ]


def test_a_touch_exactly_at_the_business_clock_due_time_is_met_one_ms_later_breached(raw_portal):
    policy = parse_policy("sla: {clock: business, minutes: {demo_request: 60, other: 1440}}\n"
                          "business_hours: {timezone: America/New_York, start: '09:00', end: '17:00'}")
    demo = [("2024-03-08T21:00:00Z", "Request a demo")]
    # MQL Friday 2024-03-08 16:30 EST (21:30 UTC): 30 business minutes Friday, 30 on Monday after the DST switch
    # (09:00 EDT = 13:00 UTC) -> due Monday 09:30 EDT = 13:30 UTC (on the wall clock it would be Friday 22:30 UTC)
    one_mql(raw_portal, contact="1", mql_at="2024-03-08T21:30:00Z", events=demo)
    one_mql(raw_portal, contact="2", mql_at="2024-03-08T21:30:00Z", events=demo)
    raw_portal.call("c1", "1", "2024-03-11T13:30:00.000Z")
    raw_portal.call("c2", "2", "2024-03-11T13:30:00.001Z")
    got = speed(raw_portal, policy=policy,
                columns="contact_id, sla_due_at, business_minutes_to_first_touch, sla_status")
    due = ts("2024-03-11T13:30:00Z")
    assert got == [
        {"contact_id": "1", "sla_due_at": due, "business_minutes_to_first_touch": 60.0, "sla_status": "met"},
        {"contact_id": "2", "sla_due_at": due, "business_minutes_to_first_touch": 60.0 + 1 / 60000,
         "sla_status": "breached"},
    ]
