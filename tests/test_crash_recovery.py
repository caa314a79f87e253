"""Issue #14: SIGKILL ``handoff run`` mid-way; the next run completes and its database equals a clean run's.

Real processes only: each ``handoff run`` is a subprocess with its embedded sandbox (the same generated portal
each time), a persistent ``DAGSTER_HOME`` (SQLite) and a DuckDB file. The kill points are found in the run's
event log (the STEP_START of the extraction, of a mart, of an enforcement step), not by sleeping. The
reference is one clean ``handoff run`` on the same portal: raw rows (without dlt's load ids), what ops.*
recorded (without run ids and times) and every column of marts.speed_to_lead. The last test does the same
with the Dagster daemon: its ``stale_run_sensor`` frees the dead run's slot and the schedule's next tick
completes.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from datetime import datetime

import dagster as dg
import pytest

from pipeline.recovery import RECOVERED_AT_TAG, RECOVERED_BY_TAG, RECOVERED_TAG, RESUMED_TAG
from tests.crashkit import (
    CONTACTS,
    SEED,
    Workspace,
    database_picture,
    duplicate_keys,
    handoff_run,
    run_status,
    sigkill,
    slots_held,
    status_json,
    wait_for_step,
)

# real runs on a shared machine take minutes each; the clean reference run is built once per module
pytestmark = [pytest.mark.xdist_group("crash_runs"), pytest.mark.timeout(2400)]
RUN_ARGS = ("run", "--contacts", str(CONTACTS), "--seed", str(SEED))


@pytest.fixture(scope="module")
def clean(tmp_path_factory):
    """One clean run on the portal: the picture every recovered database must equal."""
    ws = Workspace(tmp_path_factory.mktemp("clean"))
    code, out = ws.run(*RUN_ARGS)
    assert code == 0, out
    now = re.search(r"HANDOFF_NOW=(\S+)", out).group(1)
    return {"picture": database_picture(ws.db), "now": now}


def _no_duplicates(ws: Workspace) -> None:
    dups = duplicate_keys(ws.db)
    assert dups and set(dups.values()) == {0}, dups


def _crash_then_recover(tmp_path, clean, matches, *, pooled: bool = True) -> tuple[Workspace, str, str]:
    ws = Workspace(tmp_path / "ws")
    proc = handoff_run(ws)
    run_id, step = wait_for_step(ws, proc, matches)
    sigkill(proc)
    status, _ = run_status(ws, run_id)
    assert status == dg.DagsterRunStatus.STARTED  # what the crash leaves behind: a run that looks alive
    held = slots_held(ws, run_id)
    if pooled:
        # ... holding the one writer slot every later run needs (the run may have moved on to the next step of
        # the same layer, e.g. a check of the mart, between seeing the step start and the kill)
        assert len(held) == 1 and held[0][1].startswith(step), (step, held)  # the step or one of its checks
        pool, held_step = held[0]
        # the kill lands on the step seen starting or, when the run had just moved on, on the next one (its check)
        steps, freed = {step, held_step}, f"freed {pool}:{held_step}"
    else:  # the lane's ops are in no Dagster pool (the lane file's lock serialises them: pipeline/sla/lane_db.py)
        assert held == [], held
        steps, freed = {step}, "marked failed"
    code, out = ws.run(*RUN_ARGS)
    assert code == 0, out
    assert f"recovered crashed run {run_id[:8]}" in out
    assert any(f"during {s}" in out for s in steps) and freed in out
    assert out.index("recovered crashed run") < out.index("materializing every asset")
    status, tags = run_status(ws, run_id)
    assert status == dg.DagsterRunStatus.FAILURE and tags[RECOVERED_TAG] == "true"
    assert tags[RECOVERED_BY_TAG].startswith("handoff run (pid ")
    assert RESUMED_TAG in tags
    assert slots_held(ws, run_id) == []
    _no_duplicates(ws)
    picture = database_picture(ws.db)
    assert picture.keys() == clean["picture"].keys()
    for table, rows in clean["picture"].items():
        assert picture[table] == rows, f"{table} differs from the clean run"
    crashes = status_json(ws, clean["now"])["recovered_crashes"]
    assert crashes[0]["run_id"] == run_id and len(crashes[0]["steps_in_flight"]) == 1
    assert crashes[0]["steps_in_flight"][0] in steps
    assert crashes[0]["resumed"]["steps_rerun"] == crashes[0]["steps_in_flight"]
    return ws, run_id, out


def test_sigkill_during_the_extraction(tmp_path, clean):
    _crash_then_recover(tmp_path, clean, lambda job, step: step == "hubspot_raw")


def test_sigkill_during_the_marts(tmp_path, clean):
    _crash_then_recover(tmp_path, clean, lambda job, step: step == "handoff_models")  # dbt build, then the checks


def test_sigkill_during_an_enforcement_run(tmp_path, clean):
    ws, run_id, out = _crash_then_recover(tmp_path, clean,
                                          lambda job, step: job == "sla_enforcement" and step == "enforce_step",
                                          pooled=False)
    status, tags = run_status(ws, run_id)
    key = tags["dagster/run_key"]
    # the killed step ran once: requested again (killed before it recorded anything), finished by the recovery
    # pass (killed after it recorded `started`), or neither because the kill landed after the step had recorded
    # `done` (the run dies between the step's last write and its end); never both. _crash_then_recover has
    # already held the ops rows equal to a clean run's: exactly one of each write.
    assert not ((f" {key}: " in out) and (f"{key} -> " in tags[RESUMED_TAG])), out


def test_sigkill_with_the_daemon_running_the_next_schedule_tick_completes(tmp_path, clean):
    ws = Workspace(tmp_path / "ws")
    ws.root.mkdir(parents=True)
    sandbox = subprocess.Popen([sys.executable, "-m", "pipeline.cli", "sandbox", "serve", "--contacts", str(CONTACTS),
                                "--seed", str(SEED), "--port", "0"], cwd=ws.root, env=ws.env(),
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, start_new_session=True)
    daemon = None
    try:
        base = None
        for line in sandbox.stdout:
            if line.startswith("base URL: "):
                base = line.split(": ", 1)[1].strip()
                break
        assert base, "sandbox did not start"
        env = {"HUBSPOT_API_BASE": base, "HUBSPOT_ACCESS_TOKEN": "sandbox-token", "HANDOFF_NOW": clean["now"],
               "HANDOFF_SYNC_CRON": "* * * * *", "HANDOFF_SCHEDULES": "running"}
        proc = handoff_run(ws, **env)
        run_id, step = wait_for_step(ws, proc, lambda job, step: step == "hubspot_raw")
        sigkill(proc)
        assert slots_held(ws, run_id) == [("duckdb_write", "hubspot_raw")]
        daemon_log = open(ws.root / "daemon.log", "w")
        daemon = subprocess.Popen([os.path.join(os.path.dirname(sys.executable), "dagster-daemon"), "run",
                                   "-m", "pipeline.definitions"], cwd=ws.root, env=ws.env(**env),
                                  stdout=daemon_log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 900
        scheduled = None
        while time.monotonic() < deadline:
            assert daemon.poll() is None, (ws.root / "daemon.log").read_text()[-3000:]
            with ws.instance() as instance:
                runs = instance.get_runs(filters=dg.RunsFilter(job_name="hourly_sync"))
                done = [r for r in runs if r.status == dg.DagsterRunStatus.SUCCESS]
                failed = [r for r in runs if r.status == dg.DagsterRunStatus.FAILURE]
                assert not failed, [r.run_id for r in failed]
                if done:
                    scheduled = done[-1]
                    break
            time.sleep(2)
        assert scheduled is not None, (ws.root / "daemon.log").read_text()[-3000:]
        assert scheduled.tags.get("dagster/schedule_name") == "hourly_sync_schedule"
        status, tags = run_status(ws, run_id)
        assert status == dg.DagsterRunStatus.FAILURE and tags[RECOVERED_BY_TAG] == "stale_run_sensor"
        assert "no longer exists" in tags["handoff/recovery_reason"]
        with ws.instance() as instance:  # the scheduled run started only once the dead run was failed and freed
            record = instance.get_run_record_by_id(scheduled.run_id)
            assert record.start_time >= datetime.fromisoformat(tags[RECOVERED_AT_TAG]).timestamp() - 1
    finally:
        for child in (daemon, sandbox):
            if child is not None and child.poll() is None:
                os.killpg(child.pid, signal.SIGTERM)
                try:
                    child.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    os.killpg(child.pid, signal.SIGKILL)
                    child.wait()
    _no_duplicates(ws)
    picture = database_picture(ws.db, with_ops=False)
    # the scheduled sync has no enforcement (that is the sensor's job): compare the raw tables and the mart
    for table, rows in clean["picture"].items():
        if table.startswith("hubspot.") or table == "marts.speed_to_lead":
            assert picture[table] == rows, f"{table} differs from the clean run"
