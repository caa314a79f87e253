"""The live lane with the real Dagster daemon on a sandbox running on the real clock (no HANDOFF_NOW, no batch
sync after the MQLs): a lead turned MQL gets its handoff (owner when it had none, task, Slack message) within one
poll interval plus a run; a lead touched before its due time is never escalated; an untouched one is escalated
at its due time and reassigned at 2x. Tiny SLA: demo requests 1 minute (escalation at 60 s, reassignment at
120 s). Poll every 2 s, overdue sensor every 3 s. "A run" is allowed 150 s: the daemon starts a process per run
that imports Dagster and the code, on 2 cores shared with the rest of the suite (the measured latencies are printed).
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta

import dagster as dg
import pytest

from tests.fixtures.live_lane import start_lane, turn_mql, wait_for

pytestmark = [pytest.mark.xdist_group("daemon"), pytest.mark.timeout(600)]

POLICY = """write_mode: live
sla:
  minutes: {demo_request: 1, other: 1440}
escalation:
  - {step: handoff, at_sla_multiple: 0}
  - {step: manager_escalation, at_sla_multiple: 1.0}
  - {step: reassignment, at_sla_multiple: 2.0}
"""
POLL_S = 2
RUN_ALLOWANCE_S = 150  # one run: the daemon starts a process that imports Dagster and the code; measured 10-95 s
# on this 2-core machine shared with seven other sessions (load average 8-21); idle, a run takes ~15 s
SENSOR_S = 3


@pytest.fixture
def lane(tmp_path):
    lane = start_lane(tmp_path / "lane", policy_text=POLICY, poll_s=POLL_S)
    lane.start_daemon()
    yield lane
    lane.stop()


def _tasks(portal, cid: str) -> list[dict]:
    return [portal.stores["tasks"].by_id[t]["properties"] for t in portal.associated_ids("contacts", cid, "tasks")]


def test_live_lane_hands_off_escalates_and_reassigns_on_time_with_the_real_daemon(lane):
    portal = lane.sandbox.portal
    from pipeline.sla.handoff import mql_id_of
    from pipeline.sla.recheck import parse_ts

    # the daemon is up once new_mql_sensor's first search reached the sandbox (its cursor starts then)
    assert wait_for(lambda: lane.sandbox.stats.snapshot()["requests"].get("contacts.search"), 240), \
        f"the daemon never ticked; log tail:\n{(lane.root / 'daemon.log').read_text()[-3000:]}"
    untouched = turn_mql(portal, country="Germany")
    t_untouched = time.monotonic()
    touched = turn_mql(portal, country="United States", owner="102")
    t_touched = time.monotonic()

    def mql_of(cid):
        entered = portal.stores["contacts"].by_id[cid]["properties"]["hs_v2_date_entered_marketingqualifiedlead"]
        return mql_id_of(cid, parse_ts(entered))

    a, b = mql_of(untouched), mql_of(touched)
    # 1. the handoff: within one poll interval plus a run
    posts = wait_for(lambda: (lambda k: k if {f"{a}:handoff", f"{b}:handoff"} <= set(k) else None)(lane.slack.keyed()),
                     POLL_S + RUN_ALLOWANCE_S)
    assert posts, f"no handoff messages; daemon log tail:\n{(lane.root / 'daemon.log').read_text()[-3000:]}"
    latency_a = posts[f"{a}:handoff"][0] - t_untouched
    latency_b = posts[f"{b}:handoff"][0] - t_touched
    assert latency_a <= POLL_S + RUN_ALLOWANCE_S and latency_b <= POLL_S + RUN_ALLOWANCE_S
    print(f"\nMQL -> handoff message: {latency_a:.1f} s and {latency_b:.1f} s (poll {POLL_S} s)")
    props = portal.stores["contacts"].by_id[untouched]["properties"]
    assert props["hubspot_owner_id"] == "201"  # it had none: routed by emea_territory
    task = _tasks(portal, untouched)
    assert len(task) == 1 and task[0]["hubspot_owner_id"] == "201"
    mql_at = parse_ts(props["hs_v2_date_entered_marketingqualifiedlead"])
    assert parse_ts(task[0]["hs_timestamp"]) == mql_at + timedelta(minutes=1)  # due at the SLA due time
    assert portal.stores["contacts"].by_id[touched]["properties"]["hubspot_owner_id"] == "102"  # kept its owner
    assert len(_tasks(portal, touched)) == 1
    # 2. the rep calls lead b before its due time (60 s after its MQL)
    portal.create("calls", {"hs_timestamp": datetime.now().astimezone().isoformat(), "hubspot_owner_id": "102",
                            "hs_call_direction": "OUTBOUND", "hs_call_status": "COMPLETED", "hs_call_title": "Intro"},
                  {"contacts": [touched]})
    # 3. lead a: escalated at 30 s, reassigned at 60 s, though no batch sync ran after the MQL
    keyed = wait_for(lambda: (lambda k: k if f"{a}:reassignment" in k else None)(lane.slack.keyed()),
                     120 + SENSOR_S + RUN_ALLOWANCE_S - (time.monotonic() - t_untouched))
    assert keyed, f"no reassignment; daemon log tail:\n{(lane.root / 'daemon.log').read_text()[-3000:]}"
    due_escalation = mql_at + timedelta(seconds=60)
    due_reassign = mql_at + timedelta(seconds=120)
    esc_wall, re_wall = keyed[f"{a}:manager_escalation"][1], keyed[f"{a}:reassignment"][1]
    assert due_escalation <= esc_wall <= due_escalation + timedelta(seconds=SENSOR_S + RUN_ALLOWANCE_S)
    assert due_reassign <= re_wall <= due_reassign + timedelta(seconds=SENSOR_S + RUN_ALLOWANCE_S)
    print(f"due -> escalation message {(esc_wall - due_escalation).total_seconds():.1f} s, "
          f"due -> reassignment message {(re_wall - due_reassign).total_seconds():.1f} s (sensor interval 3 s)")
    assert portal.stores["contacts"].by_id[untouched]["properties"]["hubspot_owner_id"] == "202"  # not the one who missed
    assert len(_tasks(portal, untouched)) == 2  # the handoff's and the reassignment's
    # 4. lead b is never escalated: wait past its reassignment time too, then look
    wait_for(lambda: False, max(0.0, 120 + 2 * SENSOR_S - (time.monotonic() - t_touched)))
    wait_for(lambda: not lane.rows("SELECT 1 FROM ops.enforcement_log WHERE status = 'started'"), RUN_ALLOWANCE_S)
    assert not {k for k in lane.slack.keyed() if k.startswith(f"{b}:") and not k.endswith(":handoff")}
    statuses = dict(lane.rows("SELECT step, status FROM ops.enforcement_log WHERE mql_id = ?", [b]))
    assert statuses.get("handoff") == "done" and statuses.get("manager_escalation") in (None, "cancelled")
    assert sorted(lane.rows("SELECT step, status FROM ops.enforcement_log WHERE mql_id = ?", [a])) == [
        ("handoff", "done"), ("manager_escalation", "done"), ("reassignment", "done")]
    # exactly one message per step
    assert sorted(k for k in lane.slack.keyed()) == sorted(
        [f"{a}:handoff", f"{a}:manager_escalation", f"{a}:reassignment", f"{b}:handoff"])
    assert len(lane.slack.posts) == 4
    # the daemon launched every lane run from the lane's own light code location (the UI lists them under it)
    def lane_runs():
        with dg.DagsterInstance.from_config(lane.env["DAGSTER_HOME"]) as instance:
            return [r for r in instance.get_runs() if r.job_name in ("mql_handoff", "sla_enforcement")]

    # (a run the sensor launched for lead b's escalation, cancelled by its live re-check, may still be finishing)
    runs = wait_for(lambda: (lambda rs: rs if all(r.is_finished for r in rs) else None)(lane_runs()), RUN_ALLOWANCE_S, 1.0)
    assert runs, [(r.job_name, r.status) for r in lane_runs()]
    assert {(r.job_name, r.status) for r in runs} == {("mql_handoff", dg.DagsterRunStatus.SUCCESS),
                                                       ("sla_enforcement", dg.DagsterRunStatus.SUCCESS)}
    assert {r.remote_job_origin.location_name for r in runs} == {"handoff_lane"}
