"""The handoff brief from hand-written rows: every DOMAIN.md element, its Slack Block Kit rendering, and the
brief the job stores for the fixture world."""

from __future__ import annotations

import json
from datetime import datetime, timezone

from pipeline.brief import BriefFacts, build_brief, slack_blocks, slack_text
from pipeline.policy import load_policy

NOW = datetime(2026, 11, 2, 15, 0, tzinfo=timezone.utc)


def ts(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=timezone.utc)


def facts(**overrides) -> BriefFacts:
    base = dict(
        episode={"mql_id": "7:1793620800000", "contact_id": "7", "mql_at": ts("2026-11-02T12:00:00"),
                 "mql_type": "demo_request", "owner_id": "101", "team": "North America", "sla_minutes": 60,
                 "sla_due_at": ts("2026-11-02T13:00:00")},
        step="manager_escalation",
        contact={"id": "7", "firstname": "Dana", "lastname": "Demo", "email": "dana@buyer.example",
                 "jobtitle": "VP Sales", "country": "United States", "lifecyclestage": "marketingqualifiedlead",
                 "recent_conversion_event_name": "Ebook download", "hs_analytics_source": "ORGANIC_SEARCH"},
        company={"id": "9001", "name": "Acme Inc", "domain": "acme.example", "industry": "COMPUTER_SOFTWARE",
                 "numberofemployees": 250.0, "annualrevenue": 3.0e7, "country": "United States",
                 "hubspot_owner_id": "103"},
        activities=[
            {"type": "email", "id": "1", "at": ts("2026-11-02T11:50:00"), "title": "Question about pricing",
             "detail": "INCOMING_EMAIL", "owner_id": None},
            {"type": "note", "id": "2", "at": ts("2026-11-02T12:05:00"), "title": "Came in via the demo form",
             "detail": None, "owner_id": "101"},
            {"type": "call", "id": "3", "at": ts("2026-10-20T10:00:00"), "title": "Old inbound call",
             "detail": "INBOUND", "owner_id": None},
            {"type": "meeting", "id": "4", "at": ts("2026-10-01T10:00:00"), "title": "Webinar follow-up",
             "detail": "CANCELED", "owner_id": "101"},
            {"type": "email", "id": "5", "at": ts("2026-09-01T10:00:00"), "title": "Newsletter",
             "detail": "EMAIL", "owner_id": "101"},
            {"type": "task", "id": "6", "at": ts("2026-08-01T10:00:00"), "title": "Old task", "detail": "COMPLETED",
             "owner_id": "101"},
            {"type": "call", "id": "9", "at": ts("2026-11-02T16:00:00"), "title": "Scheduled later",
             "detail": "OUTBOUND", "owner_id": "101"},  # in the future: not an activity yet
        ],
        conversions=[{"value": "Ebook download", "at": ts("2026-09-01T09:00:00")},
                     {"value": "Request a Demo", "at": ts("2026-11-02T12:02:00")},  # logged 2 min late
                     {"value": "Ebook download", "at": ts("2026-11-02T14:00:00")}],
        score_history=[{"value": "20", "at": ts("2026-09-01T09:00:00")},
                       {"value": "65", "at": ts("2026-11-02T12:00:00")},
                       {"value": "70", "at": ts("2026-11-02T14:30:00")}],
        other_contacts=[{"id": "12", "name": "Carl Colleague", "jobtitle": "CTO", "lifecyclestage": "opportunity",
                         "last_activity_at": "2026-11-01T10:00:00+00:00"}],
        open_deals=[{"id": "8001", "dealname": "Acme expansion", "dealstage": "presentationscheduled",
                     "amount": 48000.0, "closedate": None}],
        owners={"101": {"email": "ana@sandbox.example", "first_name": "Ana", "last_name": "Alvarez"},
                "103": {"email": "cleo@sandbox.example", "first_name": "Cleo", "last_name": "Chen"}},
        recipient="na.manager@sandbox.example", portal_id=4242,
    )
    base.update(overrides)
    return BriefFacts(**base)


def test_brief_carries_every_element_a_rep_needs():
    brief = build_brief(facts(), load_policy(), NOW)
    assert brief["title"] == "SLA missed: no outreach yet"
    assert brief["contact"] == {"id": "7", "name": "Dana Demo", "email": "dana@buyer.example",
                                "job_title": "VP Sales", "company": "Acme Inc", "country": "United States",
                                "lifecycle_stage": "marketingqualifiedlead"}
    assert brief["company"] == {"id": "9001", "name": "Acme Inc", "domain": "acme.example",
                                "industry": "COMPUTER_SOFTWARE", "employees": 250.0, "annual_revenue": 3.0e7,
                                "country": "United States",
                                "owner": {"id": "103", "name": "Cleo Chen", "email": "cleo@sandbox.example"}}
    # why it qualified: the event in force at mql_at + 5 min skew (not today's value), the score at MQL time
    assert brief["qualified"] == {"mql_at": "2026-11-02T12:00:00.000Z", "mql_type": "demo_request",
                                  "conversion_event": "Request a Demo", "score_at_mql": "65",
                                  "source": "ORGANIC_SEARCH"}
    assert brief["sla"] == {"sla_minutes": 60, "due_at": "2026-11-02T13:00:00.000Z", "minutes_overdue": 120.0,
                            "missed_by": {"id": "101", "name": "Ana Alvarez", "email": "ana@sandbox.example"},
                            "team": "North America"}
    # the last 5 activities that already happened, newest first
    assert [a["id"] for a in brief["last_activities"]] == ["2", "1", "3", "4", "5"]
    assert brief["last_activities"][0] == {"type": "note", "id": "2", "at": "2026-11-02T12:05:00.000Z",
                                           "title": "Came in via the demo form", "detail": None,
                                           "owner": "Ana Alvarez"}
    # the highest-intent interaction: the demo request conversion beats the pricing email
    assert brief["top_interaction"]["type"] == "conversion"
    assert brief["top_interaction"]["title"] == "Request a Demo"
    # decision-stage content: keyword matches on conversions and email subjects (not the rep's note), newest first
    assert [(d["text"], d["keyword"]) for d in brief["decision_stage"]] == [
        ("Request a Demo", "demo"), ("Question about pricing", "pricing")]
    assert brief["account"]["other_contacts"][0]["name"] == "Carl Colleague"
    assert brief["account"]["open_deals"][0]["dealname"] == "Acme expansion"
    assert brief["account"]["company_owner"]["name"] == "Cleo Chen"
    assert brief["link"] == "https://app.hubspot.com/contacts/4242/record/0-1/7"
    json.dumps(brief)  # stored as JSON as-is


def test_reassignment_brief_names_the_new_owner_and_the_rule():
    brief = build_brief(facts(step="reassignment", new_owner_id="103", recipient="cleo@sandbox.example",
                              routing_reason="account_owner (account_owner)"), load_policy(), NOW)
    assert brief["title"] == "Lead reassigned to you"
    assert brief["assignment"] == {"recipient": "cleo@sandbox.example",
                                   "new_owner": {"id": "103", "name": "Cleo Chen", "email": "cleo@sandbox.example"},
                                   "routing_reason": "account_owner (account_owner)"}
    blocks = slack_blocks(brief)
    texts = json.dumps(blocks)
    assert "*Now owned by* Cleo Chen" in texts


def test_slack_rendering_is_block_kit_with_a_link_button_and_fallback_text():
    brief = build_brief(facts(), load_policy(), NOW)
    blocks = slack_blocks(brief)
    assert blocks[0] == {"type": "header", "text": {"type": "plain_text",
                                                    "text": "SLA missed: no outreach yet: Dana Demo · Acme Inc"}}
    assert {b["type"] for b in blocks} == {"header", "section", "actions", "context"}
    button = next(b for b in blocks if b["type"] == "actions")["elements"][0]
    assert button["url"] == "https://app.hubspot.com/contacts/4242/record/0-1/7"
    assert blocks[-1]["elements"][0]["text"] == ("MQL `7:1793620800000` · step `manager_escalation` · "
                                                 "for na.manager@sandbox.example")
    fields = {f["text"].split("\n")[0]: f["text"].split("\n")[1] for f in blocks[1]["fields"]}
    assert fields["*Qualified by*"] == "Request a Demo (score 65)"
    assert fields["*SLA due*"] == "2026-11-02T13:00:00.000Z (120.0 min overdue, missed by Ana Alvarez)"
    for block in blocks:  # Slack limits
        for text in [block.get("text", {}).get("text", "")] + [f["text"] for f in block.get("fields", [])]:
            assert len(text) <= 3000
    assert slack_text(brief) == ("SLA missed: no outreach yet: Dana Demo (Acme Inc), SLA due "
                                 "2026-11-02T13:00:00.000Z. https://app.hubspot.com/contacts/4242/record/0-1/7")


def test_brief_without_company_or_history_still_renders():
    brief = build_brief(facts(company=None, activities=[], conversions=[], score_history=[], other_contacts=[],
                              open_deals=[], portal_id=None), load_policy(), NOW)
    assert brief["company"] is None
    assert brief["qualified"]["conversion_event"] == "Ebook download"  # no history: the synced value
    assert brief["top_interaction"] is None and brief["last_activities"] == []
    assert brief["link"] == "https://app.hubspot.com/contacts/record/0-1/7"
    assert slack_blocks(brief)[0]["type"] == "header"


def test_the_job_stores_the_brief_from_the_synced_rows(world):
    from pipeline.sla.job import open_enforcer
    from tests.fixtures.enforcement import by_contact

    r = world.resources()
    with open_enforcer(r["duckdb"], r["hubspot"], r["policy"], r["slack"]) as enforcer:
        enforcer.run(by_contact("1"), "manager_escalation")
    brief = json.loads(world.rows("SELECT brief FROM ops.alerts")[0][0])
    assert brief["contact"]["name"] == "Dana Demo" and brief["company"]["name"] == "Acme Inc"
    assert brief["qualified"]["conversion_event"] == "Demo Request Form"
    assert [a["id"] for a in brief["last_activities"]] == ["7002", "7001"]
    assert [d["text"] for d in brief["decision_stage"]] == ["Demo Request Form", "Question about pricing for 50 seats"]
    assert brief["account"]["other_contacts"] == [{"id": "12", "name": "Carl Colleague", "jobtitle": "CTO",
                                                   "lifecyclestage": "opportunity",
                                                   "last_activity_at": "2026-11-01T09:00:00+00:00"}]
    assert [d["dealname"] for d in brief["account"]["open_deals"]] == ["Acme expansion"]  # closed-won left out
    assert brief["link"] == "https://app.hubspot.com/contacts/4242/record/0-1/1"
    assert world.slack.posts[0]["blocks"][0]["text"]["text"] == "SLA missed: no outreach yet: Dana Demo · Acme Inc"
