"""Real processes for the crash tests: start ``handoff run``, find a step in its Dagster event log, SIGKILL it.

Nothing is mocked: each ``handoff run`` is a subprocess with its own embedded sandbox, against a persistent
``DAGSTER_HOME`` (SQLite under a temp dir) and a DuckDB file, exactly as an operator runs it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import duckdb

ROOT = Path(__file__).resolve().parents[1]
HANDOFF = [sys.executable, "-m", "pipeline.cli"]
CONTACTS = 200
SEED = 11
RUN_TIMEOUT_S = 900


@dataclass
class Workspace:
    root: Path

    @property
    def home(self) -> Path:
        return self.root / "dagster_home"

    @property
    def db(self) -> Path:
        return self.root / "data" / "handoff.duckdb"

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("HANDOFF_", "HUBSPOT_", "SLACK_", "DAGSTER_"))}
        env.update({"DAGSTER_HOME": str(self.home), "HANDOFF_DB": str(self.db), "PYTHONPATH": str(ROOT),
                    "HANDOFF_SCHEDULES": "stopped"})
        env.update(extra)
        return env

    def start(self, *args: str, **extra_env: str) -> subprocess.Popen:
        self.root.mkdir(parents=True, exist_ok=True)
        n = len(list(self.root.glob("run-*.log")))
        log = open(self.root / f"run-{n}.log", "w")
        return subprocess.Popen([*HANDOFF, *args], cwd=self.root, env=self.env(**extra_env), stdout=log,
                                stderr=subprocess.STDOUT)

    def run(self, *args: str, timeout: float = RUN_TIMEOUT_S, **extra_env: str) -> tuple[int, str]:
        proc = self.start(*args, **extra_env)
        try:
            code = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise AssertionError(f"`handoff {' '.join(args)}` did not finish in {timeout} s:\n{self.last_log()}")
        return code, self.last_log()

    def last_log(self) -> str:
        logs = sorted(self.root.glob("run-*.log"), key=lambda p: int(p.stem.split("-")[1]))
        return logs[-1].read_text() if logs else ""

    def instance(self) -> dg.DagsterInstance:
        os.environ["DAGSTER_HOME"] = str(self.home)
        return dg.DagsterInstance.from_config(str(self.home))


def handoff_run(ws: Workspace, **extra_env: str) -> subprocess.Popen:
    return ws.start("run", "--contacts", str(CONTACTS), "--seed", str(SEED), **extra_env)


def wait_for_step(ws: Workspace, proc: subprocess.Popen, matches: Callable[[str, str], bool],
                  timeout: float = 600) -> tuple[str, str]:
    """Poll the run storage until a run of ``proc`` logs STEP_START of a step ``matches(job_name, step_key)``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"handoff run exited ({proc.returncode}) before the step started:\n{ws.last_log()}")
        if (ws.home / "dagster.yaml").exists() and (ws.home / "storage").exists():
            try:
                with ws.instance() as instance:
                    for record in instance.get_run_records(filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED])):
                        run = record.dagster_run
                        if run.tags.get("handoff/pid") != str(proc.pid):
                            continue
                        starts = instance.get_records_for_run(run.run_id, of_type=dg.DagsterEventType.STEP_START).records
                        for start in starts:
                            if matches(run.job_name, start.event_log_entry.step_key):
                                return run.run_id, start.event_log_entry.step_key
            except Exception:  # storage being created by the other process: look again
                pass
        time.sleep(0.2)
    raise AssertionError(f"no matching step started within {timeout} s:\n{ws.last_log()}")


def sigkill(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL


def run_status(ws: Workspace, run_id: str) -> tuple[dg.DagsterRunStatus, dict]:
    with ws.instance() as instance:
        run = instance.get_run_by_id(run_id)
        return run.status, dict(run.tags)


POOLS = ("duckdb_write", "handoff_lane")  # the batch lane's writer and the live lane's (pipeline/sla/lane_db.py)


def slots_held(ws: Workspace, run_id: str) -> list[tuple[str, str]]:
    """(pool, step key) of every concurrency slot the run holds."""
    with ws.instance() as instance:
        return [(pool, slot.step_key) for pool in POOLS
                for slot in instance.event_log_storage.get_concurrency_info(pool).claimed_slots
                if slot.run_id == run_id]


# ------------------------------------------------------------------------------------------ the database
RAW_SKIP_COLUMNS = {"_dlt_load_id", "_dlt_id"}
RAW_KEYS = {"associations": ("from_type", "from_id", "to_type", "to_id"),
            "contact_property_history": ("contact_id", "property", "changed_at", "value"),
            "owner_teams": ("owner_id", "team_id")}


def database_picture(db: Path, *, with_ops: bool = True) -> dict[str, list[tuple]]:
    """Every raw table's rows (without dlt's load ids), ops.* without run ids and times (from the live lane's
    database beside ``db``, where ops.* live: pipeline/sla/lane_db.py), and marts.speed_to_lead with every
    column: sorted, so two databases built from the same portal compare equal."""
    from pipeline.sla.lane_db import lane_db_path

    picture: dict[str, list[tuple]] = {}
    _picture_of(db, picture)
    if with_ops:
        _picture_of(lane_db_path(db), picture)
        assert any(name.startswith("ops.") for name in picture), "no ops tables: nothing to compare"
    return picture


def _picture_of(db: Path, picture: dict[str, list[tuple]]) -> None:
    con = duckdb.connect(str(db), read_only=True)
    try:
        tables = con.execute("SELECT schema_name, table_name FROM duckdb_tables() WHERE schema_name IN "
                             "('hubspot', 'marts', 'ops') ORDER BY 1, 2").fetchall()
        for schema, table in tables:
            if table.startswith("_dlt"):
                continue
            columns = [r[0] for r in con.execute(f'DESCRIBE {schema}."{table}"').fetchall()]
            if schema == "hubspot":
                keep = [c for c in columns if c not in RAW_SKIP_COLUMNS]
            elif schema == "ops":  # what was done, not when or by which run
                keep = [c for c in columns if c not in ("run_id", "started_at", "finished_at", "created_at",
                                                         "delivered_at", "decided_at", "task_due_at", "attempts",
                                                         "last_error", "brief", "blocks", "candidates")]
            elif table == "speed_to_lead":
                keep = columns
            else:
                continue
            select = ", ".join(f'"{c}"' for c in keep)
            rows = con.execute(f'SELECT {select} FROM {schema}."{table}"').fetchall()
            picture[f"{schema}.{table}"] = sorted(rows, key=repr)
    finally:
        con.close()


def duplicate_keys(db: Path) -> dict[str, int]:
    """Rows sharing a primary key in each raw table and in speed_to_lead (must all be 0)."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        out = {}
        tables = [t for (t,) in con.execute("SELECT table_name FROM duckdb_tables() WHERE schema_name = 'hubspot' "
                                            "AND table_name NOT LIKE '\\_dlt%' ESCAPE '\\'").fetchall()]
        for table in tables:
            key = RAW_KEYS.get(table, ("id",) if table != "account" else ("portal_id",))
            cols = [r[0] for r in con.execute(f'DESCRIBE hubspot."{table}"').fetchall()]
            if not set(key) <= set(cols):
                continue
            keys = ", ".join(f'"{c}"' for c in key)
            out[f"hubspot.{table}"] = con.execute(
                f'SELECT count(*) - count(DISTINCT ({keys})) FROM hubspot."{table}"').fetchone()[0]
        out["marts.speed_to_lead"] = con.execute(
            "SELECT count(*) - count(DISTINCT mql_id) FROM marts.speed_to_lead").fetchone()[0]
        return out
    finally:
        con.close()


def status_json(ws: Workspace, now: str) -> dict:
    code, out = ws.run("status", "--json", timeout=300, HANDOFF_NOW=now)
    assert code == 0, out
    return json.loads(out[out.index("{"):])
