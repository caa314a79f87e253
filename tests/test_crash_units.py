"""Crash recovery pieces with real processes and a persistent DAGSTER_HOME (seconds each).

A worker process (tests/crash_worker.py) holds a run and the ``duckdb_write`` slot; the test kills it or
lets it live, and checks what ``pipeline.recovery`` does: a live run is never touched, a dead one is failed
with its reason and its slot freed; a waiting run says so once, names the holder, and sleeps.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from pipeline import dblock
from pipeline.errors import ConfigError, DatabaseLockedError
from pipeline.recovery import (
    HEARTBEAT_TAG,
    HOST_TAG,
    RECOVERED_TAG,
    Heartbeat,
    pool_holders,
    recover_stale_runs,
    recovered_crashes,
    wait_for_pool,
)
from pipeline.report.crash_status import crash_lines

ROOT = Path(__file__).resolve().parents[1]
WORKER = ROOT / "tests" / "crash_worker.py"

pytestmark = pytest.mark.xdist_group("crash_units")


@pytest.fixture
def home(tmp_path, monkeypatch):
    home = tmp_path / "crash_home"
    home.mkdir()
    shutil.copyfile(ROOT / "dagster.yaml", home / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    return home


class Holder:
    """A worker process holding a run; ``run_id`` once its op is running (and holds the slot)."""

    def __init__(self, home: Path, tmp: Path, name: str, tags: dict | None = None):
        self.ready, self.release = tmp / f"{name}.ready", tmp / f"{name}.release"
        self.proc = subprocess.Popen([sys.executable, str(WORKER), str(home), str(self.ready), str(self.release),
                                      json.dumps(tags or {})], cwd=ROOT)
        deadline = time.monotonic() + 120
        while not self.ready.exists():
            assert self.proc.poll() is None, "worker exited early"
            assert time.monotonic() < deadline, "worker never started its op"
            time.sleep(0.1)
        time.sleep(0.2)
        self.run_id = self.ready.read_text()

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)

    def finish(self) -> None:
        self.release.write_text("go")
        assert self.proc.wait(timeout=120) == 0


def _status(instance: dg.DagsterInstance, run_id: str) -> dg.DagsterRunStatus:
    return instance.get_run_by_id(run_id).status


def test_live_run_is_left_alone_and_a_killed_one_is_failed_with_its_slot_freed(home, tmp_path):
    holder = Holder(home, tmp_path, "a")
    with dg.DagsterInstance.get() as instance:
        assert recover_stale_runs(instance, recovered_by="test") == []
        assert _status(instance, holder.run_id) == dg.DagsterRunStatus.STARTED
        assert [(h.run_id, h.step_key) for h in pool_holders(instance)[1]] == [(holder.run_id, "hold_the_pool")]
        holder.kill()
        # the crash itself leaves the run STARTED and the slot claimed: what blocked every later run
        assert _status(instance, holder.run_id) == dg.DagsterRunStatus.STARTED
        assert pool_holders(instance)[1] != []
        said: list[str] = []
        recovered = recover_stale_runs(instance, recovered_by="test", echo=said.append)
        assert [r.run_id for r in recovered] == [holder.run_id]
        assert recovered[0].steps_in_flight == ["hold_the_pool"]
        assert recovered[0].slots_freed == ["duckdb_write:hold_the_pool"]
        assert f"pid {holder.proc.pid}" in recovered[0].reason and "no longer exists" in recovered[0].reason
        assert _status(instance, holder.run_id) == dg.DagsterRunStatus.FAILURE
        assert pool_holders(instance)[1] == []
        failure = instance.get_records_for_run(holder.run_id, of_type=dg.DagsterEventType.PIPELINE_FAILURE).records
        assert "Run worker crashed: its process" in failure[0].event_log_entry.dagster_event.message
        assert len(said) == 1 and said[0].startswith(f"recovered crashed run {holder.run_id[:8]} (pool_holder")
        # idempotent: a second pass finds nothing
        assert recover_stale_runs(instance, recovered_by="test") == []
        crashes = recovered_crashes(instance)
        assert [c["run_id"] for c in crashes] == [holder.run_id]
        assert crashes[0]["steps_in_flight"] == ["hold_the_pool"] and crashes[0]["resumed"] is None


def test_another_hosts_run_is_judged_by_its_heartbeat(home, tmp_path):
    old = "2026-01-01T00:00:00+00:00"
    fresh = Holder(home, tmp_path, "fresh", {HOST_TAG: "other-host"})
    silent = None
    try:
        with dg.DagsterInstance.get() as instance:
            assert recover_stale_runs(instance, recovered_by="test") == []  # other host, fresh heartbeat: alive
            fresh.finish()
            silent = Holder(home, tmp_path, "silent", {HOST_TAG: "other-host", HEARTBEAT_TAG: old})
            recovered = recover_stale_runs(instance, recovered_by="test")
            assert [r.run_id for r in recovered] == [silent.run_id]
            assert recovered[0].reason.startswith("no heartbeat from its process")
            assert _status(instance, fresh.run_id) == dg.DagsterRunStatus.SUCCESS
    finally:
        for holder in (fresh, silent):
            if holder is not None and holder.proc.poll() is None:
                holder.kill()


def test_heartbeat_refreshes_this_process_runs_only(home, tmp_path):
    holder = Holder(home, tmp_path, "b")
    try:
        with dg.DagsterInstance.get() as instance:
            assert Heartbeat(instance).beat() == 0  # the worker's run is not this process's
    finally:
        holder.finish()


def test_waiting_for_the_pool_says_so_once_names_the_holder_and_sleeps(home, tmp_path):
    holder = Holder(home, tmp_path, "c")
    said: list[str] = []
    polls = []

    def sleep(seconds: float) -> None:
        polls.append(seconds)
        if len(polls) == 3:
            holder.finish()  # the holder ends normally while we wait
        time.sleep(seconds)

    with dg.DagsterInstance.get() as instance:
        cpu = time.process_time()
        waited = wait_for_pool(instance, said.append, recovered_by="test", poll_s=1.0, sleep=sleep)
        cpu = time.process_time() - cpu
    assert len(polls) >= 3 and set(polls) == {1.0} and waited >= 3
    waits = [line for line in said if line.startswith("waiting for the duckdb_write pool")]
    assert len(waits) == 1
    assert f"run {holder.run_id[:8]} (pool_holder, step hold_the_pool) holds it since 20" in waits[0]
    assert said[-1].startswith("duckdb_write pool free after")
    assert cpu < 0.5 * waited  # it sleeps between polls; Dagster's own wait loop spins a core


def test_a_holder_that_dies_while_we_wait_is_freed(home, tmp_path):
    holder = Holder(home, tmp_path, "d")
    said: list[str] = []

    def sleep(seconds: float) -> None:
        if holder.proc.poll() is None:
            holder.kill()

    with dg.DagsterInstance.get() as instance:
        recovered: list = []
        wait_for_pool(instance, said.append, recovered_by="test", sleep=sleep, recovered=recovered)
        assert [r.run_id for r in recovered] == [holder.run_id]
        assert instance.get_run_by_id(holder.run_id).tags[RECOVERED_TAG] == "true"


# ------------------------------------------------------------------------------------------ the DB file lock
@pytest.fixture
def locked_db(tmp_path):
    db = tmp_path / "handoff.duckdb"
    duckdb.connect(str(db)).close()
    release = tmp_path / "release"
    code = ("import duckdb, sys, time, pathlib; con = duckdb.connect(sys.argv[1]); print('ready', flush=True)\n"
            "while not pathlib.Path(sys.argv[2]).exists(): time.sleep(0.05)\ncon.close()")
    proc = subprocess.Popen([sys.executable, "-c", code, str(db), str(release)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready"
    yield db, proc, release
    release.write_text("go")
    proc.wait(timeout=30)


def test_db_lock_is_named_in_one_line_after_the_stated_wait(locked_db):
    db, proc, _ = locked_db
    said: list[str] = []
    started = time.monotonic()
    with pytest.raises(DatabaseLockedError) as err:
        dblock.connect_writable(db, wait_s=1.5, echo=said.append)
    took = time.monotonic() - started
    assert 1.5 <= took < 5
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith(f"{db} is open read-write in another process, PID {proc.pid} ({sys.executable} -c ")
    assert f"close it (or reopen it read-only; analysts use the published copy: handoff sql (reads " \
           f"{db.with_name('handoff.published.duckdb')}))" in message
    assert message.endswith("gave up after waiting 2 s (HANDOFF_DB_LOCK_WAIT_SECONDS)")
    assert len(said) == 1 and said[0].endswith("waiting up to 2 s (HANDOFF_DB_LOCK_WAIT_SECONDS) ...")


def test_db_lock_wait_ends_when_the_holder_closes(locked_db):
    db, proc, release = locked_db
    said: list[str] = []

    def sleep(seconds: float) -> None:
        release.write_text("go")
        proc.wait(timeout=30)

    con = dblock.connect_writable(db, wait_s=30, echo=said.append, sleep=sleep)
    con.close()
    assert len(said) == 1 and f"PID {proc.pid}" in said[0]


def test_handoff_run_exits_with_one_line_when_the_db_stays_locked(locked_db, tmp_path):
    db, proc, _ = locked_db
    env = {"PATH": "/usr/bin:/bin", "HANDOFF_DB": str(db), "DAGSTER_HOME": str(tmp_path / "dh"),
           "HANDOFF_DB_LOCK_WAIT_SECONDS": "0", "PYTHONPATH": str(ROOT)}
    started = time.monotonic()
    out = subprocess.run([sys.executable, "-m", "pipeline.cli", "run", "--contacts", "50"], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 1
    assert time.monotonic() - started < 120
    assert "Traceback" not in out.stderr and "IOException" not in out.stderr
    last = out.stderr.strip().splitlines()[-1]
    assert last.startswith(f"error: {db} is open read-write in another process, PID {proc.pid} (")
    assert last.endswith("gave up (HANDOFF_DB_LOCK_WAIT_SECONDS=0: no wait)")


@pytest.mark.parametrize("raw, message", [
    ("soon", "HANDOFF_DB_LOCK_WAIT_SECONDS='soon' is not a number of seconds (e.g. 60; 0 fails at once)"),
    ("-1", "HANDOFF_DB_LOCK_WAIT_SECONDS='-1': use 0 to 86400 seconds (0 fails at once)"),
    ("nan", "HANDOFF_DB_LOCK_WAIT_SECONDS='nan': use 0 to 86400 seconds (0 fails at once)"),
])
def test_lock_wait_setting_is_validated(raw, message):
    with pytest.raises(ConfigError) as err:
        dblock.lock_wait_seconds({"HANDOFF_DB_LOCK_WAIT_SECONDS": raw})
    assert str(err.value) == message
    assert dblock.lock_wait_seconds({}) == 60.0
    assert dblock.lock_wait_seconds({"HANDOFF_DB_LOCK_WAIT_SECONDS": "2.5"}) == 2.5


def test_status_section_in_words():
    item = {"run_id": "3a582b61-c7a0-409f-bb22-e0061bfebdb4", "job_name": "__ASSET_JOB",
            "started_at": "2026-12-01T23:43:54+00:00", "recovered_at": "2026-12-01T23:44:34+00:00",
            "recovered_by": "handoff run (pid 31561)", "reason": "its process (pid 29500 on vm) no longer exists",
            "steps_in_flight": ["hubspot_raw"],
            "resumed": {"by_run": "8ab30075-3abb", "completed_at": "2026-12-01T23:46:41Z", "steps_rerun": ["hubspot_raw"],
                        "incomplete_loads_removed": "contacts 100", "enforcement_steps_resumed": [],
                        "interrupted_deliveries": 0}}
    assert crash_lines([item]) == [
        "Recovered crashes (last 7 days, newest first):",
        "- run 3a582b61 (handoff run, every asset, started 2026-12-01 23:43 UTC) crashed",
        "  during hubspot_raw: its process (pid 29500 on vm) no longer exists; marked",
        "  failed 2026-12-01 23:44 UTC by handoff run (pid 31561); resumed by run",
        "  8ab30075 (2026-12-01 23:46 UTC): re-ran hubspot_raw; removed rows of an",
        "  unfinished load (contacts 100)",
    ]
    assert all(len(line) <= 80 for line in crash_lines([item]))
    assert crash_lines([]) == []
