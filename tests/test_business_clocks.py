"""The business clock is spelled twice: in SQL (staging.business_calendar -> marts.speed_to_lead's
``sla_due_at`` and ``business_minutes_to_first_touch``) and in Python (pipeline/sla/ladder.py's
``add_business_minutes`` for the sensor's ladder; the generator's ``BusinessCalendar`` for the truth). They
are held to each other on the same episodes across both US daylight-saving changes of 2024 (March 10 and
November 3, America/New_York), with a few due times stated literally.

Two windows: the default 09:00-17:00 (the switch at 02:00 falls outside it) and a night window 00:30-04:00
on Sundays and Mondays, which the switch falls inside: on 2024-03-10 it is 2.5 real hours long (02:00-03:00
does not exist), on 2024-11-03 4.5 real hours (01:00-02:00 happens twice). Business time is real elapsed time
inside the window. (Not covered: a window that opens or closes inside the skipped or repeated hour itself,
e.g. at 01:30 on 2024-11-03: the SQL resolves that ambiguous local time to the later instant, Python to the
earlier.)
"""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from pipeline.policy import parse_policy
from hubspot_sandbox.gen_clock import BusinessCalendar
from pipeline.sla.ladder import step_due_at
from tests.fixtures.raw_tables import build_marts, rows, ts

MQL = "marketingqualifiedlead"
DAYTIME = parse_policy("sla: {clock: business, minutes: {demo_request: 60, other: 600}}\n"
                       "business_hours: {timezone: America/New_York, start: '09:00', end: '17:00'}")
NIGHT = parse_policy("sla: {clock: business, minutes: {demo_request: 90, other: 240}}\n"
                     "business_hours: {timezone: America/New_York, weekdays: [sun, mon], start: '00:30', "
                     "end: '04:00'}")

# MQL instants (UTC) around both switches; each contact gets a touch 1 h 45 min after its MQL
MQLS = [
    "2024-03-08T21:30:00Z",  # Fri 16:30 EST
    "2024-03-09T15:00:00Z",  # Sat
    "2024-03-10T05:30:00Z",  # Sun 00:30 EST, before the switch
    "2024-03-10T06:59:59.999Z",  # Sun 01:59:59.999 EST, the last ms before the switch
    "2024-03-10T07:00:00Z",  # Sun 03:00 EDT, the first instant after it
    "2024-03-10T07:30:00Z",  # Sun 03:30 EDT
    "2024-03-11T12:59:00Z",  # Mon 08:59 EDT
    "2024-03-11T20:45:00Z",  # Mon 16:45 EDT
    "2024-11-01T20:30:00Z",  # Fri 16:30 EDT
    "2024-11-03T04:30:00Z",  # Sun 00:30 EDT
    "2024-11-03T05:30:00Z",  # Sun 01:30 EDT (the first 01:30)
    "2024-11-03T06:30:00Z",  # Sun 01:30 EST (the second 01:30)
    "2024-11-03T08:30:00Z",  # Sun 03:30 EST
    "2024-11-04T13:59:00Z",  # Mon 08:59 EST
    "2024-11-04T21:45:00Z",  # Mon 16:45 EST
]
TOUCH_AFTER_MS = 105 * 60_000


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _episodes(raw_portal, policy):
    raw_portal.owner("101", team="EMEA")
    for n, mql_at in enumerate(MQLS, start=1):
        demo = n % 2 == 1
        raw_portal.contact(str(n), lifecycle=[("2024-02-01T00:00:00Z", "lead"), (mql_at, MQL)],
                           owners=[("2024-02-01T00:00:00Z", "101")],
                           events=[(mql_at, "Request a demo" if demo else "Ebook")])
        touch = datetime.fromtimestamp((_ms(ts(mql_at)) + TOUCH_AFTER_MS) / 1000, timezone.utc)
        raw_portal.call(f"c{n}", str(n), touch.isoformat(timespec="milliseconds").replace("+00:00", "Z"))
    build_marts(raw_portal, "2024-12-01T00:00:00Z", policy)
    return rows(raw_portal.con, "SELECT contact_id, mql_at, sla_minutes, sla_due_at, first_touch_at, "
                                "business_minutes_to_first_touch FROM marts.speed_to_lead "
                                "ORDER BY CAST(contact_id AS INTEGER)")


@pytest.mark.parametrize("policy", [DAYTIME, NIGHT], ids=["09-17", "night-0030-0400"])
def test_sql_and_python_business_clocks_agree_across_both_dst_changes(raw_portal, policy):
    got = _episodes(raw_portal, policy)
    assert [r["mql_at"] for r in got] == [ts(m) for m in MQLS]
    calendar = BusinessCalendar(policy.business_hours)
    for row in got:
        python_due = step_due_at(row["mql_at"], row["sla_minutes"], 1.0, policy)
        assert row["sla_due_at"] == python_due, (row["contact_id"], row["mql_at"], row["sla_due_at"], python_due)
        python_minutes = calendar.business_minutes(_ms(row["mql_at"]), _ms(row["first_touch_at"]))
        assert row["business_minutes_to_first_touch"] == pytest.approx(python_minutes, abs=1e-9), row["contact_id"]


def test_business_due_times_across_the_switches_stated_literally(raw_portal):
    got = {r["contact_id"]: r for r in _episodes(raw_portal, NIGHT)}
    literal = {
        # Sat 2024-03-09, other (240 min): Sunday's window 00:30 EST-04:00 EDT is 150 real minutes
        # (05:30-08:00 UTC), 90 more from Monday's 00:30 EDT (04:30 UTC)
        "2": ("2024-03-11T06:00:00Z", 0.0),
        # Sun 2024-03-10 00:30 EST (the opening), demo (90 min): 90 real minutes -> 03:00 EDT
        "3": ("2024-03-10T07:00:00Z", 105.0),  # touched 07:15 UTC, inside the window
        # Sun 2024-11-03 00:30 EDT (the opening), other: 240 real minutes -> 03:30 EST (04:00 EST closes at 09:00)
        "10": ("2024-11-03T08:30:00Z", 105.0),
        # Sun 2024-11-03 01:30 EDT (the first 01:30), demo: 90 real minutes -> 02:00 EST
        "11": ("2024-11-03T07:00:00Z", 105.0),
    }
    for contact_id, (due, business_minutes) in literal.items():
        row = got[contact_id]
        assert (row["sla_due_at"], row["business_minutes_to_first_touch"]) == (ts(due), business_minutes), contact_id
        assert step_due_at(row["mql_at"], row["sla_minutes"], 1.0, NIGHT) == ts(due), contact_id
