"""Recoverable by construction: find runs whose process is gone, mark them failed, free their pool slots.

A run killed with SIGKILL (an OOM kill, a reboot, a container eviction) never writes its failure: the Dagster
instance keeps it STARTED and its ``duckdb_write`` slot claimed, and every later run waits on that slot.
Dagster's own run monitoring cannot see it with the default run launcher (``DefaultRunLauncher`` has no
worker health check), so this module decides liveness itself, from facts about the run's process:

- runs started by ``handoff run`` carry tags ``handoff/pid``, ``handoff/host``, ``handoff/process_started``
  (the process's start time, so a recycled pid is not mistaken for the run) and a ``handoff/heartbeat``
  refreshed every :data:`HEARTBEAT_SECONDS` while the process lives;
- runs launched by the Dagster daemon / UI with the default run launcher log their worker's pid in the
  engine event "Started process for run (pid: N)"; with SQLite storage (``DAGSTER_HOME`` on a local disk)
  that worker is on this host.

A run is *gone* when its recorded process does not exist on this host (or exists but started after the run:
a recycled pid), or, for a ``handoff run`` on another host, when its heartbeat is older than
:data:`HEARTBEAT_STALE_SECONDS`. Anything else (no pid known, another host without a heartbeat) is left
alone: a live run is never touched. A gone run is marked FAILED with the reason (``report_run_failed``) and
tagged ``handoff/recovered_*`` so ``handoff status`` can tell the story, and its concurrency slots are freed.

Called by ``handoff run`` before it starts work and while it waits for the pool, and by the
``stale_run_sensor`` that the Dagster daemon evaluates in ``make dev`` and deployments.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from datetime import datetime, timezone

import dagster as dg
import psutil

PID_TAG = "handoff/pid"
HOST_TAG = "handoff/host"
PROCESS_STARTED_TAG = "handoff/process_started"
HEARTBEAT_TAG = "handoff/heartbeat"
RECOVERED_TAG = "handoff/recovered"  # "true" on a run this module failed
RECOVERED_AT_TAG = "handoff/recovered_at"
RECOVERED_BY_TAG = "handoff/recovered_by"  # "handoff run <run id>" or "stale_run_sensor"
RECOVERY_REASON_TAG = "handoff/recovery_reason"
STEPS_IN_FLIGHT_TAG = "handoff/steps_in_flight"  # comma-separated steps the crash interrupted
RESUMED_TAG = "handoff/resumed"  # JSON: what the next run resumed (written when it completes)
RECOVERS_TAG = "handoff/recovers"  # on the run that recovered others: their run ids, comma-separated

HEARTBEAT_SECONDS = 15.0
HEARTBEAT_STALE_SECONDS = 180.0
# a process that started this long after the run cannot be the run's: its pid was recycled
PID_REUSE_SLACK_SECONDS = 2.0
IN_PROGRESS = [dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.CANCELING]
POOL = "duckdb_write"

Echo = Callable[[str], None]


def job_label(job_name: str) -> str:
    """``__ASSET_JOB`` is what Dagster calls the all-assets job ``handoff run`` executes."""
    return "handoff run, every asset" if job_name == "__ASSET_JOB" else job_name


def _host() -> str:
    return socket.gethostname()


def _process_started(pid: int) -> float | None:
    try:
        return psutil.Process(pid).create_time()
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return None


def process_tags() -> dict[str, str]:
    """Tags for a run executed in this process (``execute_in_process(tags=...)``): who runs it, where, since when."""
    pid = os.getpid()
    started = _process_started(pid)
    now = _iso(time.time())
    return {PID_TAG: str(pid), HOST_TAG: _host(), PROCESS_STARTED_TAG: f"{started:.3f}" if started else "",
            HEARTBEAT_TAG: now}


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).isoformat(timespec="seconds")


def _ts(iso: str | None) -> float | None:
    if not iso:
        return None
    try:
        return datetime.fromisoformat(iso).timestamp()
    except ValueError:
        return None


@dataclass
class Worker:
    """Where a run's process is, as far as the instance knows."""

    pid: int | None
    host: str | None  # None: not recorded
    process_started: float | None
    heartbeat: float | None
    source: str  # "handoff run tags" | "run worker engine event" | "unknown"


@dataclass
class RecoveredRun:
    run_id: str
    job_name: str
    status: str  # status it had (STARTED, ...)
    started_at: str | None
    steps_in_flight: list[str]
    slots_freed: list[str]  # "<pool>:<step>" of the slots it held
    reason: str
    recovered_at: str
    recovered_by: str

    def as_dict(self) -> dict:
        return asdict(self)


def _engine_event_pid(instance: dg.DagsterInstance, run_id: str) -> int | None:
    """The pid Dagster's run worker (``dagster api execute_run``) logged when it started."""
    records = instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.ENGINE_EVENT, limit=20).records
    for record in records:
        event = record.event_log_entry.dagster_event
        data = event.event_specific_data if event is not None else None
        metadata = getattr(data, "metadata", None) or {}
        pid = metadata.get("pid")
        if pid is not None and "process for run" in (record.event_log_entry.user_message or event.message or ""):
            text = getattr(pid, "text", None) or getattr(pid, "value", None) or str(pid)
            try:
                return int(text)
            except ValueError:
                return None
    return None


def _local_storage(instance: dg.DagsterInstance) -> bool:
    """SQLite run storage lives in a local ``DAGSTER_HOME``: every process writing it is on this host."""
    return type(instance.run_storage).__name__.lower().startswith("sqlite")


def worker_of(instance: dg.DagsterInstance, record: dg.RunRecord) -> Worker:
    tags = record.dagster_run.tags
    heartbeat = _ts(tags.get(HEARTBEAT_TAG))
    if tags.get(PID_TAG):
        try:
            pid = int(tags[PID_TAG])
        except ValueError:
            pid = None
        started = float(tags[PROCESS_STARTED_TAG]) if tags.get(PROCESS_STARTED_TAG) else None
        return Worker(pid, tags.get(HOST_TAG) or None, started, heartbeat, "handoff run tags")
    if isinstance(instance.run_launcher, dg.DefaultRunLauncher) and _local_storage(instance):
        pid = _engine_event_pid(instance, record.dagster_run.run_id)
        if pid is not None:
            return Worker(pid, _host(), None, None, "run worker engine event")
    return Worker(None, None, None, heartbeat, "unknown")


def gone_reason(instance: dg.DagsterInstance, record: dg.RunRecord, *, now: float | None = None) -> str | None:
    """Why this in-progress run's process is gone, or None when it may be alive (then it is left alone)."""
    now = time.time() if now is None else now
    worker = worker_of(instance, record)
    if worker.pid is not None and worker.host == _host():
        actual = _process_started(worker.pid)
        if actual is None:
            return f"its process (pid {worker.pid} on {worker.host}) no longer exists"
        expected = worker.process_started
        if expected is not None and abs(actual - expected) > PID_REUSE_SLACK_SECONDS:
            return f"its process (pid {worker.pid} on {worker.host}) is gone; that pid now belongs to another process"
        # without a recorded process start time (daemon-launched workers) only a missing process counts: a
        # STARTING run has no start time yet, and comparing with its creation time failed a live run
        return None
    if worker.source == "handoff run tags" and worker.heartbeat is not None:
        silent = now - worker.heartbeat
        if silent > HEARTBEAT_STALE_SECONDS:
            return (f"no heartbeat from its process (pid {worker.pid} on {worker.host}) for {silent:,.0f} s "
                    f"(beats every {HEARTBEAT_SECONDS:.0f} s)")
    return None


def _held_slots(instance: dg.DagsterInstance, run_id: str) -> list[str]:
    storage = instance.event_log_storage
    if not storage.supports_global_concurrency_limits:
        return []
    held = []
    for key in sorted(storage.get_concurrency_keys()):
        info = storage.get_concurrency_info(key)
        held.extend(f"{key}:{slot.step_key}" for slot in info.claimed_slots if slot.run_id == run_id)
    return held


def _steps_in_flight(instance: dg.DagsterInstance, run_id: str) -> list[str]:
    """Steps that started and never finished (what the crash interrupted)."""
    started, finished = [], set()
    for record in instance.get_records_for_run(
        run_id, of_type={dg.DagsterEventType.STEP_START, dg.DagsterEventType.STEP_SUCCESS,
                         dg.DagsterEventType.STEP_FAILURE, dg.DagsterEventType.STEP_SKIPPED}, limit=10_000
    ).records:
        entry = record.event_log_entry
        if entry.dagster_event.event_type == dg.DagsterEventType.STEP_START:
            started.append(entry.step_key)
        else:
            finished.add(entry.step_key)
    return [step for step in started if step not in finished]


def recover_stale_runs(
    instance: dg.DagsterInstance, *, recovered_by: str, echo: Echo | None = None, exclude: Iterable[str] = (),
) -> list[RecoveredRun]:
    """Mark every in-progress run whose process is gone as failed (with the reason) and free its slots."""
    out: list[RecoveredRun] = []
    skip = set(exclude)
    for record in instance.get_run_records(filters=dg.RunsFilter(statuses=IN_PROGRESS)):
        run = record.dagster_run
        if run.run_id in skip:
            continue
        why = gone_reason(instance, record)
        if why is None:
            continue
        # re-read: the run may have finished while we looked (a slow, live run is never failed)
        fresh = instance.get_run_record_by_id(run.run_id)
        if fresh is None or fresh.dagster_run.status not in IN_PROGRESS:
            continue
        steps = _steps_in_flight(instance, run.run_id)
        slots = _held_slots(instance, run.run_id)
        now = _iso(time.time())
        reason = f"Run worker crashed: {why}; marked failed by {recovered_by}"
        instance.add_run_tags(run.run_id, {RECOVERED_TAG: "true", RECOVERED_AT_TAG: now,
                                           RECOVERED_BY_TAG: recovered_by, RECOVERY_REASON_TAG: why,
                                           STEPS_IN_FLIGHT_TAG: ",".join(steps)})
        instance.report_run_failed(fresh.dagster_run, reason)
        storage = instance.event_log_storage
        if storage.supports_global_concurrency_limits:
            storage.free_concurrency_slots_for_run(run.run_id)
        started_at = _iso(record.start_time) if record.start_time else None
        item = RecoveredRun(run.run_id, run.job_name, run.status.value, started_at, steps, slots, why, now,
                            recovered_by)
        out.append(item)
        if echo:
            where = f" during {', '.join(steps)}" if steps else ""
            freed = f"; freed {', '.join(slots)}" if slots else ""
            echo(f"recovered crashed run {run.run_id[:8]} ({job_label(run.job_name)}, started {started_at or '?'}){where}: "
                 f"{why}; marked failed{freed}")
    return out


def record_resumed(instance: dg.DagsterInstance, recovered: Iterable[RecoveredRun], resumed: dict) -> None:
    """After the recovering run completed: write onto each crashed run what the new run resumed."""
    text = json.dumps(resumed, separators=(",", ":"), default=str)
    for item in recovered:
        instance.add_run_tags(item.run_id, {RESUMED_TAG: text})


def recovered_crashes(instance: dg.DagsterInstance, *, limit: int = 5, since: float | None = None) -> list[dict]:
    """The most recent runs marked failed after a crash (recovered at or after ``since``, epoch s), newest
    first, with what the next run resumed."""
    records = instance.get_run_records(filters=dg.RunsFilter(tags={RECOVERED_TAG: "true"}), limit=limit)
    out = []
    for record in records:
        tags = record.dagster_run.tags
        if since is not None and (_ts(tags.get(RECOVERED_AT_TAG)) or 0) < since:
            continue
        resumed = None
        if tags.get(RESUMED_TAG):
            try:
                resumed = json.loads(tags[RESUMED_TAG])
            except ValueError:
                resumed = None
        out.append({
            "run_id": record.dagster_run.run_id, "job_name": record.dagster_run.job_name,
            "started_at": _iso(record.start_time) if record.start_time else None,
            "recovered_at": tags.get(RECOVERED_AT_TAG), "recovered_by": tags.get(RECOVERED_BY_TAG),
            "reason": tags.get(RECOVERY_REASON_TAG),
            "steps_in_flight": [s for s in (tags.get(STEPS_IN_FLIGHT_TAG) or "").split(",") if s],
            "resumed": resumed,
        })
    return out


# ---------------------------------------------------------------------------------------------- pool wait
@dataclass
class Holder:
    run_id: str
    step_key: str
    job_name: str | None
    since: str | None


def pool_holders(instance: dg.DagsterInstance, pool: str = POOL, *, exclude: Iterable[str] = ()) -> tuple[int, list[Holder]]:
    """The pool's limit and the slots other runs hold, each with its run, step and when it got the slot."""
    storage = instance.event_log_storage
    if not storage.supports_global_concurrency_limits:
        return 0, []
    info = storage.get_concurrency_info(pool)
    skip = set(exclude)
    assigned = {(p.run_id, p.step_key): p.assigned_timestamp for p in info.pending_steps if p.assigned_timestamp}
    holders = []
    for slot in info.claimed_slots:
        if slot.run_id in skip:
            continue
        run = instance.get_run_by_id(slot.run_id)
        since = assigned.get((slot.run_id, slot.step_key))
        if since is None and run is not None:
            record = instance.get_run_record_by_id(slot.run_id)
            since = datetime.fromtimestamp(record.start_time, timezone.utc) if record and record.start_time else None
        holders.append(Holder(slot.run_id, slot.step_key, run.job_name if run else None,
                              since.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC") if since else None))
    limit = info.slot_count if info.slot_count else (info.limit or 0)
    return limit, holders


def wait_for_pool(
    instance: dg.DagsterInstance, echo: Echo, *, recovered_by: str, pool: str = POOL, poll_s: float = 2.0,
    sleep: Callable[[float], None] = time.sleep, recovered: list[RecoveredRun] | None = None,
) -> float:
    """Block (sleeping, not spinning) until the pool has a free slot; say so once per holder. Returns seconds waited.

    Each poll also re-runs the stale-run check, so a holder that dies while we wait is freed at once.
    """
    started = time.monotonic()
    told: set[tuple[str, str]] = set()
    while True:
        found = recover_stale_runs(instance, recovered_by=recovered_by, echo=echo)
        if recovered is not None:
            recovered.extend(found)
        limit, holders = pool_holders(instance, pool)
        if not limit or len(holders) < limit:
            if told:
                echo(f"{pool} pool free after {time.monotonic() - started:,.0f} s; starting")
            return time.monotonic() - started
        for holder in holders:
            key = (holder.run_id, holder.step_key)
            if key in told:
                continue
            told.add(key)
            echo(f"waiting for the {pool} pool (DuckDB allows one writer): run {holder.run_id[:8]} "
                 f"({holder.job_name or '?'}, step {holder.step_key}) holds it since {holder.since or '?'}; "
                 f"this run starts when it finishes (Ctrl-C to stop waiting)")
        sleep(poll_s)


# ---------------------------------------------------------------------------------------------- heartbeat
class Heartbeat:
    """While this process lives, refresh ``handoff/heartbeat`` on its in-progress runs every few seconds."""

    def __init__(self, instance: dg.DagsterInstance, interval_s: float = HEARTBEAT_SECONDS):
        self._instance = instance
        self._interval = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="run-heartbeat", daemon=True)

    def __enter__(self) -> "Heartbeat":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def beat(self) -> int:
        mine = {PID_TAG: str(os.getpid()), HOST_TAG: _host()}
        runs = self._instance.get_runs(filters=dg.RunsFilter(statuses=IN_PROGRESS, tags=mine))
        now = _iso(time.time())
        for run in runs:
            self._instance.add_run_tags(run.run_id, {HEARTBEAT_TAG: now})
        return len(runs)

    def _loop(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self.beat()
            except Exception:  # a missed beat only delays detection on another host; never break the run
                pass

