"""`handoff run` end to end on a generated portal: sandbox -> dlt -> marts -> sensor -> enforcement.

Expected values come from the generator's construction-time ground truth (truth.json), never from the SQL.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import duckdb
import pytest

from hubspot_sandbox.generator import write_portal

pytestmark = pytest.mark.xdist_group("end_to_end")

TIMESTAMP_COLUMNS = ("mql_at", "sla_due_at", "first_touch_at", "sql_at", "opportunity_at", "customer_at")
EXACT_COLUMNS = ("contact_id", "mql_type", "owner_id", "team", "sla_minutes", "first_touch_type",
                 "first_touch_owner_id", "sla_status", "attempts")
MINUTE_COLUMNS = ("minutes_to_first_touch", "business_minutes_to_first_touch")


def _ms(value) -> int | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return round(value.timestamp() * 1000)


def _handoff(args: list[str], env: dict[str, str], cwd: Path, timeout: int = 420) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pipeline.cli", *args], env=env, capture_output=True, text=True,
                          timeout=timeout, cwd=cwd)


@pytest.fixture(scope="module")
def portal_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("e2e")
    written = write_portal(contacts=400, seed=23, out=root / "portal.json")
    truth = json.loads(Path(written.truth_path).read_text())
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HUBSPOT_", "HANDOFF_", "SLACK_"))}
    env.update(HANDOFF_DB=str(root / "data" / "handoff.duckdb"), DAGSTER_HOME=str(root / "dagster"))
    first = _handoff(["run", "--snapshot", str(written.snapshot_path)], env, root)
    assert first.returncode == 0, first.stderr[-3000:]
    return {"root": root, "truth": truth, "env": env, "snapshot": written.snapshot_path, "first": first}


def _rows(db: Path, sql: str) -> list[dict]:
    from pipeline.sla.lane_db import lane_db_path

    con = duckdb.connect(str(lane_db_path(db) if "ops." in sql else db), read_only=True)  # ops.*: the lane's file
    try:
        cursor = con.execute(sql)
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row)) for row in cursor.fetchall()]
    finally:
        con.close()


def test_speed_to_lead_equals_ground_truth(portal_run):
    db = portal_run["root"] / "data" / "handoff.published.duckdb"
    actual = {row["mql_id"]: row for row in _rows(db, "select * from marts.speed_to_lead")}
    expected = {row["mql_id"]: row for row in portal_run["truth"]["episodes"]}
    assert set(actual) == set(expected)
    mismatches = []
    for mql_id, want in expected.items():
        got = actual[mql_id]
        for column in EXACT_COLUMNS:
            if got[column] != want[column]:
                mismatches.append((mql_id, column, got[column], want[column]))
        for column in TIMESTAMP_COLUMNS:
            if _ms(got[column]) != _ms(want[column]):
                mismatches.append((mql_id, column, got[column], want[column]))
        for column in MINUTE_COLUMNS:
            if (got[column] is None) != (want[column] is None) or (
                want[column] is not None and abs(got[column] - want[column]) > 1e-6
            ):
                mismatches.append((mql_id, column, got[column], want[column]))
    assert mismatches == []


def test_enforcement_matches_ground_truth_exactly_once(portal_run):
    db = portal_run["root"] / "data" / "handoff.duckdb"
    expected = {(e["mql_id"], e["step"]) for e in portal_run["truth"]["enforcement"]}
    assert expected, "the generated portal must have ladder steps due at its `now`"
    alerts = _rows(db, "select mql_id, step, status from ops.alerts")
    assert {(a["mql_id"], a["step"]) for a in alerts} == expected
    log = _rows(db, "select mql_id, step, status from ops.enforcement_log")
    assert {(r["mql_id"], r["step"]): r["status"] for r in log} == {key: "done" for key in expected}
    reassigned = _rows(db, "select mql_id, from_owner_id, to_owner_id, owner_write, task_write "
                           "from ops.routing_decisions where step = 'reassignment'")
    assert {r["mql_id"] for r in reassigned} == {m for m, step in expected if step == "reassignment"}
    for decision in reassigned:
        assert decision["to_owner_id"] and decision["to_owner_id"] != decision["from_owner_id"]
        assert (decision["owner_write"], decision["task_write"]) == ("done", "done")

    # a second run over the same portal finds nothing new to do and duplicates nothing
    again = _handoff(["run", "--snapshot", str(portal_run["snapshot"])], portal_run["env"], portal_run["root"])
    assert again.returncode == 0, again.stderr[-3000:]
    assert len(_rows(db, "select * from ops.alerts")) == len(expected)
    assert len(_rows(db, "select * from ops.routing_decisions where step = 'reassignment'")) == len(
        [1 for _, step in expected if step == "reassignment"])


def test_run_prints_summary_and_report(portal_run):
    out = portal_run["first"].stdout
    assert "run complete" in out
    assert "MQL episodes" in out
    truth_count = len(portal_run["truth"]["episodes"])
    assert f"{truth_count:,}:" in out
    assert "handoff sql  (read-only SQL on" in out
    report = portal_run["root"] / "out" / "handoff_report.html"
    assert report.exists() and "out/handoff_report.html" in out
