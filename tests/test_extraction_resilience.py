"""Extraction under failure: a run killed mid-way (a real process exit) and rerun loses and duplicates nothing;
under 429/5xx/dropped-connection storms the data equals a clean run and the rate stays within the limits."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb

from hubspot_sandbox.portal import Portal
from hubspot_sandbox.ratelimit import RateLimits
from hubspot_sandbox.server import run_in_thread
from tests.fixtures.extraction import (
    OBJECT_TYPES,
    build_portal,
    duplicates,
    extraction_resources,
    materialize_raw,
    mismatches,
    query,
)

REPO = Path(__file__).resolve().parents[1]
_RUN = """
import sys
from pathlib import Path
from tests.fixtures.extraction import extraction_resources, materialize_raw
result = materialize_raw(extraction_resources(sys.argv[1], sys.argv[2], Path(sys.argv[3])))
sys.exit(0 if result.success else 3)
"""


def _start_run(sandbox, db: Path, scratch: Path) -> subprocess.Popen:
    """A sync in a new process with its own empty temp dir (no local dlt state of any earlier run)."""
    scratch.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "TMPDIR": str(scratch), "PYTHONPATH": str(REPO)}
    return subprocess.Popen([sys.executable, "-c", _RUN, sandbox.base_url, sandbox.token, str(db)], cwd=REPO,
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _kill_after(process: subprocess.Popen, sandbox, requests: int, timeout_s: float = 120.0) -> int:
    """SIGKILL the process once the sandbox has served ``requests`` more requests; returns its exit code."""
    start = sandbox.stats.snapshot()["total_requests"]
    deadline = time.monotonic() + timeout_s
    while sandbox.stats.snapshot()["total_requests"] - start < requests:
        if process.poll() is not None or time.monotonic() > deadline:
            break
        time.sleep(0.005)
    if process.poll() is None:
        os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=30)
    return process.returncode


def test_killed_runs_lose_and_duplicate_nothing(tmp_path):
    portal = Portal.from_snapshot(build_portal(contacts=80))
    with run_in_thread(portal, limits=RateLimits.unlimited()) as sandbox:
        db = tmp_path / "raw.duckdb"
        # 1. the very first (full) load dies half way through its API reads
        assert _kill_after(_start_run(sandbox, db, tmp_path / "a"), sandbox, requests=15) == -signal.SIGKILL
        # 2. rerun in this process: complete
        resources = extraction_resources(sandbox.base_url, sandbox.token, db)
        assert materialize_raw(resources).success
        assert mismatches(db, portal) == []
        state = query(db, "SELECT count(*) FROM hubspot._dlt_pipeline_state WHERE pipeline_name = 'hubspot_handoff'")
        assert state[0][0] >= 1  # the cursors live in DuckDB, beside the data they describe
        # 3. changes, then the incremental run dies after its first few calls
        new_ids = [portal.create("contacts", {"email": f"k{i}@example.com", "lifecyclestage": "lead"},
                                 {"companies": ["2"]}) for i in range(150)]
        for contact_id in ("5", "6", "7"):
            portal.update("contacts", contact_id, {"lifecyclestage": "marketingqualifiedlead"})
        portal.create("calls", {"hs_timestamp": "2026-11-20T10:00:00.000Z", "hs_call_direction": "OUTBOUND"},
                      {"contacts": [new_ids[0]]})
        assert _kill_after(_start_run(sandbox, db, tmp_path / "b"), sandbox, requests=4) == -signal.SIGKILL
        # 4. a fresh process (empty temp dir) resumes from the cursors stored in DuckDB
        before = dict(sandbox.stats.snapshot()["requests"])
        process = _start_run(sandbox, db, tmp_path / "c")
        _out, err = process.communicate(timeout=180)
        assert process.returncode == 0, err.decode()[-3000:]
        cost = {k: v - before.get(k, 0) for k, v in sandbox.stats.snapshot()["requests"].items()
                if v - before.get(k, 0)}
        assert not [name for name in cost if name.endswith(".list") and name != "owners.list"], cost
        assert mismatches(db, portal) == []
        assert set(duplicates(db).values()) == {0}
        assert query(db, "SELECT count(*) FROM hubspot.contacts") == [(230,)]


def _table_rows(db: Path) -> dict[str, list[tuple]]:
    """Every raw table's rows without dlt's bookkeeping columns, sorted."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        out = {}
        for table in (*OBJECT_TYPES, "owners", "owner_teams", "contact_property_history", "associations", "account"):
            columns = [r[0] for r in con.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_schema = 'hubspot' "
                "AND table_name = ? AND column_name NOT LIKE '\\_dlt%' ESCAPE '\\' ORDER BY column_name",
                [table]).fetchall()]
            rows = con.execute(f"SELECT {', '.join(columns)} FROM hubspot.{table}").fetchall()
            out[table] = sorted(rows, key=repr)
        return out
    finally:
        con.close()


def test_storm_gives_the_clean_data_and_never_exceeds_the_rate(tmp_path):
    snapshot = build_portal(contacts=40)
    with run_in_thread(Portal.from_snapshot(snapshot), limits=RateLimits.unlimited()) as clean:
        clean_db = tmp_path / "clean.duckdb"
        assert materialize_raw(extraction_resources(clean.base_url, clean.token, clean_db)).success
    limits = RateLimits(per_ten_seconds=25, search_per_second=3)
    storm_portal = Portal.from_snapshot(snapshot)
    faults = "429=0.1,500=0.08,502=0.04,503=0.04,drop=0.06,slow=0.03:0.3,seed=5"
    with run_in_thread(storm_portal, limits=limits, faults=faults) as storm:
        storm_db = tmp_path / "storm.duckdb"
        resources = extraction_resources(storm.base_url, storm.token, storm_db, limit_per_10s=25, search_per_s=3)
        result = materialize_raw(resources)
        assert result.success
        seen = storm.stats.snapshot()
    assert _table_rows(storm_db) == _table_rows(clean_db)
    assert mismatches(storm_db, storm_portal) == []
    assert set(duplicates(storm_db).values()) == {0}
    # the storm happened ...
    assert seen["rate_limited"]["fault"] >= 1 and sum(seen["faults"].values()) >= 5
    # ... and the sandbox never saw more than the allowed rate, nor had to refuse a request for it
    assert seen["max_requests_10s"] <= 25
    assert seen["max_search_requests_1s"] <= 3
    assert seen["rate_limited"]["limit"] == 0
    metadata = {ev.asset_key.path[-1]: ev.materialization.metadata for ev in result.get_asset_materialization_events()}
    assert metadata["contacts"]["http_429_seen_run"].value == seen["rate_limited"]["fault"]
