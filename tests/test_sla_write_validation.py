"""Issue #12 item 12: a write the portal's 2026-09 validation rules refuse fails the step once, never retried,
with the property named in ops.enforcement_log and in the alert (the hand-written world of
tests/fixtures/enforcement.py; contact 1's reassignment goes to Cleo, 103, by the account-owner rule)."""

from __future__ import annotations

import json

from tests.fixtures.enforcement import by_contact

R = "reassignment"


def test_task_refused_by_a_required_property_rule_fails_the_step_once_naming_it(world):
    from pipeline.sla.job import open_enforcer

    world.sandbox.portal.validation_rules = {"tasks": {"create": ["hs_queue_membership_ids"], "update": []}}
    mql_id = by_contact("1")
    r = world.resources()
    with open_enforcer(r["duckdb"], r["hubspot"], r["policy"], r["slack"]) as enforcer:
        outcome = enforcer.run(mql_id, R)
        again = enforcer.run(mql_id, R)  # a repeated request: terminal, nothing sent again
    assert outcome.status == "failed"
    assert outcome.reason == ("HubSpot refused the write under the portal's validation rules "
                              "(MISSING_REQUIRED_PROPERTY: hs_queue_membership_ids); not retried")
    assert again.status == "failed" and again.resumed
    assert world.sandbox.stats.snapshot()["requests"]["tasks.create"] == 1  # one attempt, no retry loop
    assert world.sandbox.portal.associated_ids("contacts", "1", "tasks") == []
    [(status, reason, details)] = world.rows(
        "SELECT status, reason, details FROM ops.enforcement_log WHERE mql_id = ? AND step = ?", [mql_id, R])
    assert status == "failed" and "hs_queue_membership_ids" in reason
    details = json.loads(details)
    assert details["refused_properties"] == ["hs_queue_membership_ids"]
    assert details["codes"] == ["MISSING_REQUIRED_PROPERTY"] and details["to_owner_id"] == "103"
    [(recipient, brief)] = world.rows("SELECT recipient, brief FROM ops.alerts WHERE mql_id = ? AND step = ?",
                                      [mql_id, R])
    assert recipient == "na.manager@sandbox.example"  # the manager hears why the handoff did not complete
    assert "hs_queue_membership_ids" in json.loads(brief)["assignment"]["routing_reason"]
