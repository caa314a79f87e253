"""The handoff at the MQL moment (ladder step 0), in-process against the sandbox: the sensor's one search, the
live read, routing of an unowned lead, the task, the brief, exactly once, dry run. The real-daemon tests are in
``tests/test_handoff_daemon.py``.

World: ``tests/fixtures/enforcement.py`` (clock pinned at NOW, Monday 2026-11-02 15:00 UTC). New leads are created
in the sandbox only (the last sync has not seen them) and turned MQL with a PATCH-equivalent portal update at NOW.
"""

from __future__ import annotations

import json
from datetime import timedelta

import dagster as dg
import pytest

from pipeline.policy import load_policy
from pipeline.sla.handoff import Handoff, mql_id_of
from pipeline.sla.handoff_sensor import evaluate, load_cursor
from pipeline.sla.job import open_enforcer
from tests.fixtures.crashing_crm import CRASH_POINTS, Crash, CrashingCrm
from tests.fixtures.enforcement import NOW, NOW_DT

MS = 1000


def new_lead(world, *, owner: str | None = None, country: str = "Germany", event: str = "Demo Request Form",
             company: str | None = None, at=NOW_DT, web: bool = True) -> tuple[str, str]:
    """A lead created 10 days ago, scored and converted, turned MQL at ``at``. Returns (contact id, mql_id)."""
    portal = world.sandbox.portal
    created = NOW_DT - timedelta(days=10)
    props = {"firstname": "Nora", "lastname": "New", "email": "nora@buyer.example", "jobtitle": "Head of Ops",
             "country": country, "lifecyclestage": "lead", "hubspotscore": "10"}
    if owner:
        props["hubspot_owner_id"] = owner
    if web:
        props.update({"hs_analytics_source": "ORGANIC_SEARCH", "hs_analytics_first_url": "https://acme.example/blog",
                      "hs_analytics_last_url": "https://acme.example/pricing", "hs_analytics_num_page_views": "14",
                      "hs_analytics_num_visits": "4", "hs_analytics_last_visit_timestamp": NOW,
                      "hs_email_last_open_date": "2026-11-01T09:00:00.000Z",
                      "hs_email_last_click_date": "2026-11-01T09:02:00.000Z",
                      "hs_email_last_email_name": "November webinar invite"})
    cid = portal.create("contacts", props, {"companies": [company]} if company else None, created_at=created)
    portal.update("contacts", cid, {"recent_conversion_event_name": "Ebook: Sales Playbook", "hubspotscore": "25"},
                  at=NOW_DT - timedelta(days=3))
    portal.update("contacts", cid, {"recent_conversion_event_name": event, "hubspotscore": "55"},
                  at=at - timedelta(seconds=30))
    portal.update("contacts", cid, {"lifecyclestage": "marketingqualifiedlead"}, at=at)
    return cid, mql_id_of(cid, at)


def tick(world, cursor: str | None = None):
    r = world.resources()
    client = r["hubspot"].get_client()
    result = evaluate(cursor, client, load_policy(world.policy_path), NOW_DT)
    return result, client


def run_handoff(world, mql_id: str, *, policy_path=None, crm=None):
    r = world.resources(policy_path=policy_path)
    with open_enforcer(r["duckdb"], r["hubspot"], r["policy"], r["slack"], delivery_backoff_s=0) as enforcer:
        if crm is not None:
            enforcer.crm = crm(enforcer.crm.client)
        outcome = Handoff(enforcer).run(mql_id)
        enforcer.recover()
    return outcome


def tasks_of(world, contact_id: str) -> list[dict]:
    portal = world.sandbox.portal
    return [portal.stores["tasks"].by_id[t] for t in portal.associated_ids("contacts", contact_id, "tasks")]


def test_the_sensor_requests_one_handoff_per_new_mql_with_one_search(world):
    cid, mql = new_lead(world)
    first, client = tick(world, json.dumps({"v": 1, "since_ms": int(NOW_DT.timestamp() * MS) - 60 * MS, "seen": {}}))
    assert [r.run_key for r in first.run_requests] == [f"{mql}:handoff"]
    assert first.run_requests[0].run_config == {"ops": {"handoff": {"config": {"mql_id": mql}}}}
    assert client.stats.total_calls == 1  # one search, nothing else
    again, client = tick(world, first.cursor)  # the overlap sees it again; the cursor drops it
    assert again.run_requests == [] and client.stats.total_calls == 1
    assert json.loads(again.cursor)["since_ms"] == int(NOW_DT.timestamp() * MS)


def test_a_malformed_cursor_is_reset_with_a_warning(world):
    cursor, warning = load_cursor("{not json", NOW_DT)
    assert cursor.since_ms == int(NOW_DT.timestamp() * MS) and "malformed" in warning
    assert load_cursor(json.dumps({"v": 1, "since_ms": "x"}), NOW_DT)[1]


def test_an_unowned_lead_is_routed_tasked_and_briefed_once(world):
    cid, mql = new_lead(world, country="Germany")
    outcome = run_handoff(world, mql)
    # EMEA territory: Emil (201) and Eva (202) both have one open MQL; lower id wins the tie
    assert (outcome.status, outcome.reason) == ("done", "routed to 201 by rule emea_territory; task due "
                                                        "2026-11-02T16:00:00.000Z")
    contact = world.sandbox.portal.stores["contacts"].by_id[cid]["properties"]
    assert contact["hubspot_owner_id"] == "201"
    tasks = tasks_of(world, cid)
    assert len(tasks) == 1
    task = tasks[0]["properties"]
    assert task["hubspot_owner_id"] == "201" and task["hs_timestamp"] == "2026-11-02T16:00:00.000Z"
    assert f"[handoff:{mql}:handoff]" in task["hs_task_body"]
    assert task["hs_task_subject"] == "Call Nora New: new demo request, first outreach due by 2026-11-02T16:00:00.000Z"
    assert world.rows("SELECT mql_id, mql_type, sla_minutes, owner_id FROM ops.lane_episodes") == [
        (mql, "demo_request", 60, "201")]
    assert world.rows("SELECT owner_write, task_write, task_id, rule FROM ops.routing_decisions WHERE step = 'handoff'"
                      ) == [("done", "done", tasks[0]["id"], "emea_territory")]
    assert world.slack.alert_keys() == [f"{mql}:handoff"]
    brief = json.loads(world.rows("SELECT brief FROM ops.alerts WHERE step = 'handoff'")[0][0])
    assert brief["title"] == "New MQL for you" and brief["assignment"]["recipient"] == "emil@sandbox.example"
    assert brief["conversions"] == [{"at": "2026-11-02T14:59:30.000Z", "event": "Demo Request Form"},
                                    {"at": "2026-10-30T15:00:00.000Z", "event": "Ebook: Sales Playbook"}]
    assert brief["web_activity"]["last_url"] == "https://acme.example/pricing"
    assert brief["web_activity"]["page_views"] == "14" and brief["web_activity"]["source"] == "ORGANIC_SEARCH"
    assert brief["email_engagement"]["last_email_name"] == "November webinar invite"
    assert brief["score_movement"]["score_before"] == "10" and brief["score_movement"]["score_at_mql"] == "55"
    assert brief["score_movement"]["change"] == 45.0
    assert brief["handoff"] == {"mention": None, "task_id": tasks[0]["id"], "minutes_left": 60.0}
    # a second run (repeated request, resume) writes nothing more
    again = run_handoff(world, mql)
    assert again.resumed and again.status == "done"
    assert len(tasks_of(world, cid)) == 1 and len(world.slack.posts) == 1
    history = world.sandbox.portal.stores["contacts"].by_id[cid]["propertiesWithHistory"]["hubspot_owner_id"]
    assert [h["value"] for h in history] == ["201"]


def test_an_owned_lead_keeps_its_owner_and_the_message_mentions_the_mapped_member(world, tmp_path):
    policy = tmp_path / "mention.yaml"
    policy.write_text(world.policy_path.read_text() + "\nhandoff:\n  slack_members: {ben@sandbox.example: U0BEN}\n")
    cid, mql = new_lead(world, owner="102", event="Newsletter signup", web=False)
    outcome = run_handoff(world, mql, policy_path=policy)
    assert (outcome.status, outcome.reason) == ("done", "kept owner 102; task due 2026-11-03T15:00:00.000Z")
    assert world.rows("SELECT rule, owner_write, task_write FROM ops.routing_decisions") == [
        ("kept_owner", "skipped", "done")]
    post = world.slack.posts[0]
    assert "<@U0BEN>: this lead is yours" in json.dumps(post["blocks"])
    brief = json.loads(world.rows("SELECT brief FROM ops.alerts")[0][0])
    assert brief["qualified"]["mql_type"] == "other"
    assert brief["web_activity"] == {"available": False, "note": "no web analytics on this contact "
                                     "(hs_analytics_* properties empty: tracking code not installed, or the lead "
                                     "never visited)"}
    assert brief["email_engagement"]["available"] is False


def test_reroute_owned_routes_even_an_owned_lead(world, tmp_path):
    policy = tmp_path / "reroute.yaml"
    policy.write_text(world.policy_path.read_text() + "\nhandoff:\n  reroute_owned: true\n")
    cid, mql = new_lead(world, owner="102", country="Germany")
    outcome = run_handoff(world, mql, policy_path=policy)
    assert outcome.reason.startswith("routed to 201 by rule emea_territory")
    assert world.sandbox.portal.stores["contacts"].by_id[cid]["properties"]["hubspot_owner_id"] == "201"


def test_dry_run_records_the_intents_and_writes_nothing(world, tmp_path):
    dry = tmp_path / "dry.yaml"
    dry.write_text(world.policy_path.read_text().replace("write_mode: live", "write_mode: dry_run"))
    cid, mql = new_lead(world)
    outcome = run_handoff(world, mql, policy_path=dry)
    assert outcome.status == "dry_run"
    assert world.rows("SELECT to_owner_id, owner_write, task_write FROM ops.routing_decisions") == [
        ("201", "dry_run", "dry_run")]
    assert "hubspot_owner_id" not in world.sandbox.portal.stores["contacts"].by_id[cid]["properties"]
    assert tasks_of(world, cid) == [] and world.slack.posts == []
    assert world.rows("SELECT status FROM ops.alerts") == [("dry_run",)]


def test_a_lead_touched_or_moved_on_before_its_handoff_is_cancelled(world):
    cid, mql = new_lead(world)
    world.sandbox.portal.update("contacts", cid, {"lifecyclestage": "salesqualifiedlead"}, at=NOW_DT)
    outcome = run_handoff(world, mql)
    assert (outcome.status, outcome.reason) == ("cancelled",
                                                "lifecycle stage moved on to salesqualifiedlead before the handoff")
    assert tasks_of(world, cid) == [] and world.slack.posts == []


@pytest.mark.parametrize("point", [*CRASH_POINTS, "before_delivery"])
def test_a_crash_at_each_point_resumes_to_exactly_one_of_each_write(world, point):
    cid, mql = new_lead(world)
    r = world.resources()
    with open_enforcer(r["duckdb"], r["hubspot"], r["policy"], r["slack"], delivery_backoff_s=0) as enforcer:
        enforcer.crm = CrashingCrm(enforcer.crm.client, point)
        if point == "before_delivery":
            def crash(_ids):
                raise Crash(point)
            enforcer._deliver = crash
        with pytest.raises(Crash):
            Handoff(enforcer).run(mql)
    assert world.rows("SELECT status FROM ops.enforcement_log WHERE mql_id = ?", [mql]) == [
        ("done",) if point == "before_delivery" else ("started",)]
    with open_enforcer(r["duckdb"], r["hubspot"], r["policy"], r["slack"], delivery_backoff_s=0) as enforcer:
        recovery = enforcer.recover()  # what every lane run ends with
    if point != "before_delivery":
        assert [(s["mql_id"], s["step"], s["status"]) for s in recovery["resumed_steps"]] == [(mql, "handoff", "done")]
    history = world.sandbox.portal.stores["contacts"].by_id[cid]["propertiesWithHistory"]["hubspot_owner_id"]
    assert [h["value"] for h in history] == ["201"]  # one PATCH
    tasks = tasks_of(world, cid)
    assert len(tasks) == 1 and tasks[0]["properties"]["hubspot_owner_id"] == "201"
    assert world.rows("SELECT owner_write, task_write, task_id FROM ops.routing_decisions") == [
        ("done", "done", tasks[0]["id"])]
    assert world.slack.alert_keys() == [f"{mql}:handoff"]


def test_the_job_reports_decision_task_and_message_as_run_metadata(world):
    from pipeline.sla.handoff_job import mql_handoff_job

    cid, mql = new_lead(world)
    with dg.DagsterInstance.ephemeral() as instance:
        result = mql_handoff_job.execute_in_process(
            run_config={"ops": {"handoff": {"config": {"mql_id": mql}}}}, instance=instance,
            resources=world.resources())
        assert result.success
        meta = next(e for e in result.all_events if e.event_type_value == "STEP_OUTPUT").event_specific_data.metadata
    assert meta["status"].value == "done" and meta["owner"].value == "201" and meta["rule"].value == "emea_territory"
    assert meta["task_id"].value == tasks_of(world, cid)[0]["id"]
    assert meta["message_status"].value == "delivered" and meta["recipient"].value == "emil@sandbox.example"


def test_the_lane_takes_the_episode_id_from_the_lifecycle_history_when_the_stage_date_differs(world):
    """A portal whose ``hs_v2_date_entered_<stage>`` is 7 ms after the lifecycle history entry (HubSpot does not
    document that they are equal): the sensor's id is the date property's, the handoff records everything under
    the history entry's id (the marts' episode id), and a repeated request with the sensor's id writes nothing."""
    from pipeline.brief import iso

    cid, mql = new_lead(world)  # the history entry at NOW: the marts' id is mql
    entered = NOW_DT + timedelta(milliseconds=7)
    props = world.sandbox.portal.stores["contacts"].by_id[cid]["properties"]
    props["hs_v2_date_entered_marketingqualifiedlead"] = iso(entered)
    first, _ = tick(world, json.dumps({"v": 1, "since_ms": int(NOW_DT.timestamp() * MS) - 60 * MS, "seen": {}}))
    sensor_id = first.run_requests[0].run_config["ops"]["handoff"]["config"]["mql_id"]
    assert sensor_id == f"{cid}:{int(NOW_DT.timestamp() * MS) + 7}" and mql == f"{cid}:{int(NOW_DT.timestamp() * MS)}"
    outcome = run_handoff(world, sensor_id)
    assert (outcome.mql_id, outcome.status) == (mql, "done")
    assert world.rows("SELECT mql_id, mql_at FROM ops.lane_episodes") == [(mql, NOW_DT)]
    assert world.rows("SELECT mql_id, step FROM ops.enforcement_log") == [(mql, "handoff")]
    assert world.rows("SELECT mql_id FROM ops.routing_decisions") == [(mql,)]
    [task] = tasks_of(world, cid)
    assert f"[handoff:{mql}:handoff]" in task["properties"]["hs_task_body"]
    assert world.slack.alert_keys() == [f"{mql}:handoff"]
    again = run_handoff(world, sensor_id)  # the sensor's id again (a retried run): nothing more
    assert (again.mql_id, again.status, again.resumed) == (mql, "done", True)
    assert len(tasks_of(world, cid)) == 1 and len(world.slack.posts) == 1


# lifecycle histories (oldest first) and the episodes the marts open in each (by index into the history)
OPENING_CASES = {
    "1": ([("2024-03-01T10:00:00Z", "lead"), ("2024-03-05T14:00:00.123Z", "marketingqualifiedlead")], [1]),
    "2": ([("2024-03-01T10:00:00Z", "lead"), ("2024-03-02T10:00:00Z", "marketingqualifiedlead"),
           ("2024-03-03T10:00:00Z", "salesqualifiedlead"), ("2024-03-04T10:00:00Z", "lead"),
           ("2024-03-05T10:00:00.001Z", "marketingqualifiedlead")], [1, 4]),
    "3": ([("2024-03-01T10:00:00Z", "lead"), ("2024-03-02T10:00:00Z", "marketingqualifiedlead"),
           ("2024-03-03T10:00:00Z", "98765"), ("2024-03-04T10:00:00Z", "marketingqualifiedlead")], [1]),
    "4": ([("2024-03-02T10:00:00Z", "marketingqualifiedlead"), ("2024-03-03T10:00:00Z", ""),
           ("2024-03-04T10:00:00Z", "marketingqualifiedlead")], [0, 2]),
    "5": ([("2024-03-01T10:00:00Z", "subscriber"), ("2024-03-02T10:00:00Z", "marketingqualifiedlead"),
           ("2024-03-02T11:00:00Z", "marketingqualifiedlead"), ("2024-03-03T10:00:00Z", "opportunity"),
           ("2024-03-06T10:00:00Z", "marketingqualifiedlead")], [1, 4]),
}


def test_the_lanes_episode_openings_are_the_marts(raw_portal):
    """``episode_openings`` (the lane's spelling of the episode rule) against the marts' ``mql_episodes`` on the
    same histories, and both against the literal openings of each case."""
    from pipeline.sla.handoff import episode_openings
    from pipeline.sla.recheck import parse_ts
    from tests.fixtures.raw_tables import build_marts, rows

    for cid, (history, _) in OPENING_CASES.items():
        raw_portal.contact(cid, lifecycle=history)
    build_marts(raw_portal, "2024-03-10T00:00:00Z")
    marts: dict[str, list] = {}
    for row in rows(raw_portal.con, "SELECT contact_id, mql_id FROM marts.mql_episodes ORDER BY mql_at"):
        marts.setdefault(row["contact_id"], []).append(row["mql_id"])
    policy = load_policy()
    for cid, (history, opened) in OPENING_CASES.items():
        newest_first = [{"value": v, "at": at} for at, v in reversed(history)]
        lane = [mql_id_of(cid, at) for at in episode_openings(newest_first, policy)]
        assert lane == [mql_id_of(cid, parse_ts(history[i][0])) for i in opened] == marts[cid], cid


def test_an_escalation_after_a_sync_that_read_the_lead_before_its_handoff_keeps_the_routed_owner(world):
    """The sync read the new MQL unowned, then the handoff routed it to 201, then the sync published: the synced
    copy says 'no owner', HubSpot says 201. The escalation must not take the handoff's own write for a hand change
    (the bench's real syncs found it cancelling such escalations): it escalates 201's miss."""
    import duckdb

    from tests.fixtures.enforcement import publish

    cid, mql = new_lead(world, country="Germany", at=NOW_DT - timedelta(minutes=90))
    assert run_handoff(world, mql).status == "done"
    assert world.sandbox.portal.stores["contacts"].by_id[cid]["properties"]["hubspot_owner_id"] == "201"
    con = duckdb.connect(str(world.db_path))
    con.execute("INSERT INTO hubspot.contacts (id, firstname, lastname, lifecyclestage, hubspot_owner_id, archived) "
                "VALUES (?, 'Nora', 'New', 'marketingqualifiedlead', NULL, false)", [cid])
    con.close()
    publish(world.db_path)
    r = world.resources()
    with open_enforcer(r["duckdb"], r["hubspot"], r["policy"], r["slack"], delivery_backoff_s=0) as enforcer:
        outcome = enforcer.run(mql, "manager_escalation")
        enforcer.recover()
    assert outcome.status == "done", outcome.reason
    escalation = json.loads(world.rows("SELECT brief FROM ops.alerts WHERE step = 'manager_escalation'")[0][0])
    assert escalation["assignment"]["recipient"] == "emea.manager@sandbox.example"  # 201's team: EMEA
    assert escalation["sla"]["missed_by"]["id"] == "201"  # whose miss it is: the routed owner, not "nobody"
