"""End to end on the hand-written world (tests/fixtures/enforcement.py): the sensor's requests, the job's
escalations, reassignments, cancellations and alerts, against outcomes stated literally here."""

from __future__ import annotations

import json

import dagster as dg
import pytest

from pipeline.sla.runner import enforce_once
from pipeline.sla.sensor import overdue_mql_sensor
from tests.fixtures.enforcement import by_contact, enforce_directly

M, R = "manager_escalation", "reassignment"

# What the world must produce at NOW (see the fixture's docstring for why each contact is there).
EXPECTED_ALERTS = {
    (by_contact("1"), M): "na.manager@sandbox.example",
    (by_contact("1"), R): "cleo@sandbox.example",   # account owner of Acme (103)
    (by_contact("2"), M): "emea.manager@sandbox.example",  # 'other' MQL 27 h ago: only 1x SLA reached
    (by_contact("8"), M): "emea.manager@sandbox.example",
    (by_contact("8"), R): "emil@sandbox.example",   # EMEA territory, Eva (202) missed it
    (by_contact("9"), M): "na.manager@sandbox.example",
    (by_contact("9"), R): "finn@sandbox.example",   # account owner 401 archived -> Fintech vertical
    (by_contact("11"), M): "na.manager@sandbox.example",
    (by_contact("11"), R): "cleo@sandbox.example",  # inbound -> NA; Ana missed it; Cleo's load 1 < Ben's 2
}
EXPECTED_REASSIGNMENTS = {
    by_contact("1"): ("103", "account_owner"),
    by_contact("8"): ("201", "emea_territory"),
    by_contact("9"): ("301", "fintech_vertical"),
    by_contact("11"): ("103", "inbound"),
}
EXPECTED_CANCELLED = {
    (by_contact("5"), M): "touch logged since the last sync: call 7101",
    (by_contact("5"), R): "touch logged since the last sync: call 7101",
    (by_contact("10"), M): "owner changed by hand to 102 (expected 101)",
    (by_contact("10"), R): "owner changed by hand to 102 (expected 101)",
}
NEW_OWNERS = {"1": "103", "8": "201", "9": "301", "11": "103"}


def _tasks(world, contact_id: str) -> list[dict]:
    portal = world.sandbox.portal
    return [portal.get("tasks", t) for t in portal.associated_ids("contacts", contact_id, "tasks")]


def _owner_changes(world, contact_id: str) -> int:
    contact = world.sandbox.portal.get("contacts", contact_id)
    return len((contact.get("propertiesWithHistory") or {}).get("hubspot_owner_id") or [])


def _assert_world_outcome(world) -> None:
    alerts = {(m, s): r for m, s, r in world.rows("SELECT mql_id, step, recipient FROM ops.alerts")}
    assert alerts == EXPECTED_ALERTS
    assert {r[0] for r in world.rows("SELECT DISTINCT status FROM ops.alerts")} == {"delivered"}
    decisions = {m: (o, rule) for m, o, rule in world.rows(
        "SELECT mql_id, to_owner_id, rule FROM ops.routing_decisions")}
    assert decisions == EXPECTED_REASSIGNMENTS
    cancelled = {(m, s): reason for m, s, reason in world.rows(
        "SELECT mql_id, step, reason FROM ops.enforcement_log WHERE status = 'cancelled'")}
    assert set(cancelled) == set(EXPECTED_CANCELLED)
    for key, start in EXPECTED_CANCELLED.items():
        assert cancelled[key].startswith(start)
    # exactly one Slack post per alert, one task and one owner change per reassignment
    assert sorted(world.slack.alert_keys()) == sorted(f"{m}:{s}" for m, s in EXPECTED_ALERTS)
    for contact_id, owner in NEW_OWNERS.items():
        assert world.sandbox.portal.get("contacts", contact_id)["properties"]["hubspot_owner_id"] == owner
        tasks = _tasks(world, contact_id)
        assert len(tasks) == 1
        assert tasks[0]["properties"]["hubspot_owner_id"] == owner
        assert f"[handoff:{by_contact(contact_id)}:reassignment]" in tasks[0]["properties"]["hs_task_body"]
    for untouched in ("2", "3", "4", "5", "6", "7", "10"):
        assert _tasks(world, untouched) == []


def test_handoff_run_path_produces_exactly_the_expected_alerts_and_reassignments(world):
    with dg.DagsterInstance.ephemeral() as instance:
        summary = enforce_once(instance, world.resources())
        assert summary["requested"] == 13
        assert summary["outcomes"] == {"done": 9, "cancelled": 4}
        assert summary["failed_runs"] == []
        assert summary["ops"] == {"alerts": {"delivered": 9}, "enforcement_log": {"cancelled": 4, "done": 9},
                                  "routing_decisions": {"account_owner": 1, "emea_territory": 1,
                                                        "fintech_vertical": 1, "inbound": 1}}
        _assert_world_outcome(world)
        # the task is due within the SLA (demo: 60 min after NOW)
        assert _tasks(world, "1")[0]["properties"]["hs_timestamp"].startswith("2026-11-02T16:00:00")

        # a second pass (same instance): the lane's own ops log (fresher than the published copy) already holds
        # every step, so the sensor requests none (the run keys would stop them too); nothing duplicated
        again = enforce_once(instance, world.resources())
        assert again["requested"] == 0 and again["skipped_existing"] == 0 and again["skip_reason"]
        _assert_world_outcome(world)
        assert len(world.slack.posts) == 9
        for contact_id in NEW_OWNERS:
            assert _owner_changes(world, contact_id) == 2  # the synced owner, then ours: one PATCH

        # each run reports the ops tables it wrote as asset materializations (ops/* in the UI)
        latest = instance.get_latest_materialization_event(dg.AssetKey(["ops", "alerts"]))
        assert latest.asset_materialization.metadata["rows"].value == 9
        decisions = instance.get_latest_materialization_event(dg.AssetKey(["ops", "routing_decisions"]))
        assert decisions.asset_materialization.metadata["rows"].value == len(EXPECTED_REASSIGNMENTS)

        runs = instance.get_runs(filters=dg.RunsFilter(job_name="sla_enforcement"))
        assert {r.tags["dagster/run_key"] for r in runs} == {f"{m}:{s}" for m, s in EXPECTED_ALERTS} | {
            f"{m}:{s}" for m, s in EXPECTED_CANCELLED}


def test_sensor_ticks_request_each_step_once_with_run_config_naming_episode_and_step(world):
    with dg.DagsterInstance.ephemeral() as instance:
        context = dg.build_sensor_context(instance=instance, resources={"policy": world.resources()["policy"]})
        first = overdue_mql_sensor(context)
        keys = sorted(r.run_key for r in first.run_requests)
        assert keys == sorted([f"{m}:{s}" for m, s in EXPECTED_ALERTS] + [f"{m}:{s}" for m, s in EXPECTED_CANCELLED])
        request = next(r for r in first.run_requests if r.run_key == f"{by_contact('8')}:reassignment")
        assert request.run_config == {"ops": {"enforce_step": {"config": {
            "mql_id": by_contact("8"), "step": "reassignment"}}}}
        assert request.tags["handoff/due_at"] == "2026-11-02T13:00:00+00:00"
        # the next tick with the stored cursor requests nothing new
        again = overdue_mql_sensor(dg.build_sensor_context(
            instance=instance, cursor=first.cursor, resources={"policy": world.resources()["policy"]}))
        assert again.run_requests == [] and "no new ladder steps due" in again.skip_reason.skip_message


def test_sensor_skips_with_a_reason_when_the_published_copy_is_missing_or_empty(world):
    resources = {"policy": world.resources()["policy"]}
    world.published.unlink()
    result = overdue_mql_sensor(dg.build_sensor_context(resources=resources))
    assert isinstance(result, dg.SkipReason)
    assert result.skip_message.startswith(f"no published database at {world.published}")
    world.published.write_bytes(b"this is not a duckdb file")
    result = overdue_mql_sensor(dg.build_sensor_context(resources=resources))
    assert isinstance(result, dg.SkipReason) and "cannot be opened right now" in result.skip_message


def test_sensor_sees_steps_recorded_in_the_published_ops_tables(world):
    from tests.fixtures.enforcement import publish

    assert enforce_directly(world) == {"done": 9, "cancelled": 4}
    publish(world.db_path)  # the next build publishes the ops tables with the marts
    result = overdue_mql_sensor(dg.build_sensor_context(resources={"policy": world.resources()["policy"]}))
    assert result.run_requests == []


def test_dry_run_records_the_intended_writes_and_changes_nothing_in_hubspot(world, tmp_path):
    dry = tmp_path / "dry.yaml"
    dry.write_text(world.policy_path.read_text().replace("write_mode: live", "write_mode: dry_run"))
    assert enforce_directly(world, policy_path=dry) == {"done": 5, "dry_run": 4, "cancelled": 4}
    decisions = world.rows("SELECT mql_id, to_owner_id, owner_write, task_write, task_id FROM ops.routing_decisions")
    assert {(m, o, ow, tw, t) for m, o, ow, tw, t in decisions} == {
        (m, o, "dry_run", "dry_run", None) for m, (o, _) in EXPECTED_REASSIGNMENTS.items()}
    for contact_id in NEW_OWNERS:
        assert _tasks(world, contact_id) == []
        assert _owner_changes(world, contact_id) <= 1
    statuses = dict(world.rows("SELECT step, list(DISTINCT status)::VARCHAR FROM ops.alerts GROUP BY step"))
    assert statuses == {M: "[delivered]", R: "[dry_run]"}  # manager alerts go out; reassignment alerts are held
    assert len(world.slack.posts) == 5


@pytest.mark.parametrize("step", [M, R])
def test_a_touch_logged_after_the_last_sync_cancels_the_step_and_sends_nothing(world, step):
    from pipeline.sla.job import open_enforcer

    r = world.resources()
    with open_enforcer(r["duckdb"], r["hubspot"], r["policy"], r["slack"]) as enforcer:
        outcome = enforcer.run(by_contact("5"), step)
    assert outcome.status == "cancelled"
    assert outcome.reason.startswith("touch logged since the last sync: call 7101 at 2026-11-02T14:49:59")
    assert world.rows("SELECT count(*) FROM ops.alerts") == [(0,)]
    assert world.slack.posts == []
    assert _tasks(world, "5") == []


def test_sensor_skips_when_the_published_marts_cannot_be_read(world):
    import duckdb

    con = duckdb.connect(str(world.published))
    con.execute("ALTER TABLE marts.speed_to_lead DROP COLUMN first_touch_at")  # a copy from an older build
    con.close()
    result = overdue_mql_sensor(dg.build_sensor_context(resources={"policy": world.resources()["policy"]}))
    assert isinstance(result, dg.SkipReason)
    assert result.skip_message.startswith(f"published database {world.published} could not be read (Binder Error")


def test_open_load_counts_untouched_mqls_under_their_current_or_routed_owner(world):
    from pipeline.policy import load_policy
    from pipeline.sla import facts
    from tests.fixtures.enforcement import NOW_DT

    from pipeline.sla.lane_db import open_lane

    with open_lane(world.db_path, world.published) as con:  # what a lane run sees: published copy + lane ops
        before = {r["owner_id"]: r["open_mqls"] for r in facts.load(con, load_policy(), NOW_DT).to_dicts()}
    # Ana: 1, 10, 11 (4 touched, 6 too old); Ben: 3, 5, 9 (7 moved on to SQL); Eva: 8; Emil: 2
    assert before == {"101": 3, "102": 3, "202": 1, "201": 1}
    assert enforce_directly(world) == {"done": 9, "cancelled": 4}
    with open_lane(world.db_path, world.published) as con:
        after = {r["owner_id"]: (r["open_mqls"], r["assigned_today"])
                 for r in facts.load(con, load_policy(), NOW_DT).to_dicts()}
    # reassigned episodes count for their new owner: 1 and 11 -> Cleo, 8 -> Emil, 9 -> Finn
    assert after == {"101": (1, 0), "102": (2, 0), "103": (2, 2), "201": (2, 1), "301": (1, 1)}


def test_an_owner_changed_before_the_last_sync_is_the_one_who_missed_it(world):
    import duckdb

    from pipeline.sla.job import open_enforcer
    from tests.fixtures.enforcement import publish

    # Erik (contact 2) was reassigned from Emil (EMEA) to Cleo (North America) after his MQL, before the sync
    con = duckdb.connect(str(world.db_path))
    con.execute("UPDATE hubspot.contacts SET hubspot_owner_id = '103' WHERE id = '2'")
    con.close()
    publish(world.db_path)  # the sync publishes what it wrote; the lane reads the published copy
    world.sandbox.portal.update("contacts", "2", {"hubspot_owner_id": "103"})
    r = world.resources()
    with open_enforcer(r["duckdb"], r["hubspot"], r["policy"], r["slack"]) as enforcer:
        outcome = enforcer.run(by_contact("2"), M)
    assert outcome.status == "done"
    assert outcome.reason == "alert to manager na.manager@sandbox.example (by team)"
    brief = json.loads(world.rows("SELECT brief FROM ops.alerts")[0][0])
    assert brief["sla"]["missed_by"] == {"id": "103", "name": "Cleo Chen", "email": "cleo@sandbox.example"}
    assert brief["sla"]["team"] == "North America"
