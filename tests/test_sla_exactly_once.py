"""Exactly once under crashes, Slack 500s and sandbox faults: no duplicate alert, task or reassignment, none lost.

A crash is an exception raised at the exact point in question (after the real HubSpot write, or before the
Slack POST); the next pass (``Enforcer.recover``, which every enforcement run ends with) must finish the work.
"""

from __future__ import annotations

import dagster as dg
import pytest

from pipeline.resources import HubSpotResource
from pipeline.sla.job import open_enforcer
from pipeline.sla.runner import enforce_once
from tests.fixtures.crashing_crm import CRASH_POINTS, Crash, CrashingCrm
from tests.fixtures.enforcement import by_contact, make_world
from tests.test_sla_enforcement import EXPECTED_ALERTS, _assert_world_outcome, _owner_changes, _tasks

REASSIGN = "reassignment"


@pytest.mark.parametrize("point", CRASH_POINTS)
def test_crash_between_owner_patch_and_task_resumes_without_a_second_patch_or_task(world, point):
    r = world.resources()
    mql = by_contact("1")
    with open_enforcer(r["duckdb"], r["hubspot"], r["policy"], r["slack"], delivery_backoff_s=0) as enforcer:
        enforcer.crm = CrashingCrm(enforcer.crm.client, point)
        with pytest.raises(Crash):
            enforcer.run(mql, REASSIGN)
    assert world.rows("SELECT status FROM ops.enforcement_log WHERE mql_id = ?", [mql]) == [("started",)]
    assert world.slack.posts == []
    with open_enforcer(r["duckdb"], r["hubspot"], r["policy"], r["slack"], delivery_backoff_s=0) as enforcer:
        recovery = enforcer.recover()
    assert [(s["mql_id"], s["status"]) for s in recovery["resumed_steps"]] == [(mql, "done")]
    assert _owner_changes(world, "1") == 2  # exactly one PATCH reached HubSpot
    tasks = _tasks(world, "1")
    assert len(tasks) == 1 and tasks[0]["properties"]["hubspot_owner_id"] == "103"
    assert world.rows("SELECT to_owner_id, owner_write, task_write, task_id FROM ops.routing_decisions") == [
        ("103", "done", "done", tasks[0]["id"])]
    assert world.slack.alert_keys() == [f"{mql}:{REASSIGN}"]


def test_crash_between_outbox_write_and_delivery_delivers_once_on_the_next_pass(world):
    r = world.resources()
    mql = by_contact("2")
    with open_enforcer(r["duckdb"], r["hubspot"], r["policy"], r["slack"]) as enforcer:
        def crash(_ids):
            raise Crash("after the outbox commit, before any POST")
        enforcer._deliver = crash
        with pytest.raises(Crash):
            enforcer.run(mql, "manager_escalation")
    assert world.rows("SELECT status, attempts FROM ops.alerts") == [("pending", 0)]
    assert world.slack.posts == []
    for _ in range(3):  # repeated passes and a repeated request of the same step
        with open_enforcer(r["duckdb"], r["hubspot"], r["policy"], r["slack"]) as enforcer:
            enforcer.recover()
            assert enforcer.run(mql, "manager_escalation").resumed
    assert world.slack.alert_keys() == [f"{mql}:manager_escalation"]
    assert world.rows("SELECT status, attempts FROM ops.alerts") == [("delivered", 1)]


def test_a_delivery_cut_mid_post_is_flagged_uncertain_and_never_resent(world):
    r = world.resources()
    mql = by_contact("2")
    with open_enforcer(r["duckdb"], r["hubspot"], r["policy"], r["slack"]) as enforcer:
        real_send = enforcer.sender.send

        def dies_after_posting(text, blocks):
            real_send(text, blocks)
            raise Crash("process died before the response was recorded")

        enforcer.sender.send = dies_after_posting
        with pytest.raises(Crash):
            enforcer.run(mql, "manager_escalation")
    with open_enforcer(r["duckdb"], r["hubspot"], r["policy"], r["slack"]) as enforcer:
        recovery = enforcer.recover()
    assert recovery["interrupted_deliveries"] == 1
    assert len(world.slack.posts) == 1
    status, attempts, error = world.rows("SELECT status, attempts, last_error FROM ops.alerts")[0]
    assert (status, attempts) == ("uncertain", 1) and "not re-sent" in error


def test_slack_500s_are_retried_with_backoff_across_passes_and_delivered_once(tmp_path, monkeypatch):
    w = make_world(tmp_path, monkeypatch, fail_first=7)
    try:
        r = w.resources()
        slept: list[float] = []
        mql = by_contact("2")
        with open_enforcer(r["duckdb"], r["hubspot"], r["policy"], r["slack"], delivery_backoff_s=0.01) as enforcer:
            enforcer.sleep = slept.append
            assert enforcer.run(mql, "manager_escalation").status == "done"
        assert slept == [0.01, 0.02, 0.04, 0.08]  # 5 attempts in the first pass, back-off doubling between them
        assert w.rows("SELECT status, attempts, last_error FROM ops.alerts") == [
            ("failed", 5, "Slack answered HTTP 500: internal_error")]
        with open_enforcer(r["duckdb"], r["hubspot"], r["policy"], r["slack"], delivery_backoff_s=0.01) as enforcer:
            enforcer.sleep = slept.append
            report = enforcer.recover()["delivery"]
        assert report["delivered"] == 1 and report["attempts"] == 3  # two more 500s, then accepted
        assert w.slack.failures == 7
        assert w.slack.alert_keys() == [f"{mql}:manager_escalation"]
        assert w.rows("SELECT status, attempts, last_error FROM ops.alerts") == [("delivered", 8, None)]
    finally:
        w.sandbox.stop()
        w.slack.stop()


_CRASHES = {"task": False}


class _CrashOnceHubSpot(HubSpotResource):
    """The HubSpot resource with a client whose first task creation dies (the run fails mid-reassignment)."""

    def get_client(self, share: str = "sync"):
        client = super().get_client(share)
        real = client.create_task

        def create_task(properties, contact_id):
            if not _CRASHES["task"]:
                _CRASHES["task"] = True
                raise Crash("run died before the task was created")
            return real(properties, contact_id)

        client.create_task = create_task
        return client


def test_sandbox_faults_and_a_failed_run_still_give_exactly_the_expected_outcome(tmp_path, monkeypatch):
    # 429s (10 s rolling-window back-off each), 5xx and dropped connections, deterministic for this seed
    w = make_world(tmp_path, monkeypatch, faults="429=0.01,500=0.06,502=0.04,503=0.02,drop=0.03,seed=4")
    try:
        _CRASHES["task"] = False
        resources = w.resources()
        resources["hubspot"] = _CrashOnceHubSpot(access_token=w.sandbox.token, api_base=w.sandbox.base_url)
        with dg.DagsterInstance.ephemeral() as instance:
            summary = enforce_once(instance, resources)
            # the crashed run failed in Dagster, and so does any run whose task POST failed after it was sent
            # (the client never repeats a possibly-applied create: HubSpotAmbiguousWriteError) ...
            assert summary["failed_runs"], summary
            for failed in summary["failed_runs"]:
                mql, step = failed["run_key"].rsplit(":", 1)
                # ... and the next run's recovery pass (or the final one) finished each of them
                assert w.rows("SELECT status FROM ops.enforcement_log WHERE mql_id = ? AND step = ?",
                              [mql, step]) == [("done",)]
            again = enforce_once(instance, resources)
            assert again["requested"] == 0
        stats = w.sandbox.stats.snapshot()
        assert stats["rate_limited"]["fault"] >= 1 and sum(stats["faults"].values()) >= 5, stats
        _assert_world_outcome(w)
        assert len(w.slack.posts) == len(EXPECTED_ALERTS)
        for contact_id in ("1", "8", "9", "11"):
            assert _owner_changes(w, contact_id) == 2
    finally:
        w.sandbox.stop()
        w.slack.stop()


def test_the_sensor_requests_a_resume_for_a_step_a_crashed_run_left_started(world, monkeypatch):
    from pipeline.sla.sensor import overdue_mql_sensor
    from tests.fixtures.enforcement import publish

    r = world.resources()
    mql = by_contact("8")
    with open_enforcer(r["duckdb"], r["hubspot"], r["policy"], r["slack"]) as enforcer:
        enforcer.crm = CrashingCrm(enforcer.crm.client, "before_task")
        with pytest.raises(Crash):
            enforcer.run(mql, REASSIGN)
    publish(world.db_path)
    context = dg.build_sensor_context(resources={"policy": r["policy"]})
    fresh = overdue_mql_sensor(context)
    assert f"{mql}:{REASSIGN}" not in {q.run_key for q in fresh.run_requests}  # handled (started) and not stale
    monkeypatch.setenv("HANDOFF_NOW", "2026-11-02T15:11:00.000Z")  # 11 minutes later: the run is clearly dead
    later = overdue_mql_sensor(dg.build_sensor_context(resources={"policy": r["policy"]}, cursor=fresh.cursor))
    resume = [q for q in later.run_requests if q.tags.get("handoff/resume")]
    assert [q.run_key for q in resume] == [f"{mql}:{REASSIGN}:resume:1793631600000"]
    config = resume[0].run_config["ops"]["enforce_step"]["config"]
    with open_enforcer(r["duckdb"], r["hubspot"], r["policy"], r["slack"]) as enforcer:
        assert enforcer.run(config["mql_id"], config["step"]).status == "done"
    assert len(_tasks(world, "8")) == 1 and _owner_changes(world, "8") == 2
    again = overdue_mql_sensor(dg.build_sensor_context(resources={"policy": r["policy"]}, cursor=later.cursor))
    assert not [q for q in again.run_requests if q.tags.get("handoff/resume")]
