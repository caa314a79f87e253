"""Suite ``handoff``: the live lane on a live-clock sandbox with the real Dagster daemon.

MQLs are created at random instants (seeded) while the daemon runs ``new_mql_sensor`` and ``overdue_mql_sensor``
on a persistent instance (``dagster-daemon run``, what users run). The middle of the MQLs arrive while a sync
stand-in runs: a process that holds the main DuckDB's write transaction open for the whole window (as the hourly
sync's writer does) and pages contacts from HubSpot as fast as the shared pacer lets its ``sync`` share (as the
extraction does), against HubSpot's Professional limits (190 per rolling 10 s, 5 searches a second). Measured:
MQL -> handoff message p50 / p95, due -> escalation message p95 (SLA shortened by the bench's policy file: demo
requests 1 minute), HubSpot calls per idle hour (the calls both sensors make over an idle window, scaled to an hour:
the window is stated in the detail) and the 429s HubSpot answered while the lane and the sync ran together.
Targets: p95 handoff <= poll + 30 s; escalation <= sensor interval + 30 s after due; <= 120 calls per idle hour.
The load average is printed with the results (the machine is shared).
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.results import Result

# the SLA shortened (demo requests 1 minute) so escalations fall due inside the bench; the ladder stops at the
# measured escalation (reassignment at 2x is tested with the real daemon in tests/test_handoff_daemon.py): a third
# run per MQL within two minutes would measure the machine's process starts more than the lane
POLICY = """write_mode: live
sla:
  minutes: {demo_request: 1, other: 1440}
escalation:
  - {step: handoff, at_sla_multiple: 0}
  - {step: manager_escalation, at_sla_multiple: 1.0}
"""
SYNC_STAND_IN = """
import duckdb, json, sys, time
from pipeline.hubspot.client import HubSpotClient
db, seconds, base, token, ledger, out = sys.argv[1], float(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6]
con = duckdb.connect(db)
con.execute("BEGIN")
con.execute("CREATE TABLE IF NOT EXISTS main.bench_sync_hold (x INT)")
con.execute("INSERT INTO main.bench_sync_hold VALUES (1)")
client = HubSpotClient(token, base, rate_ledger=ledger, rate_share="sync")
print("holding", flush=True)
end, after, pages = time.monotonic() + seconds, None, 0
while time.monotonic() < end:
    _, after = client.list_page("contacts", ["email", "lifecyclestage"], after=after, limit=10)
    pages += 1
con.execute("ROLLBACK")
json.dump({"pages": pages, "throttled": client.stats.throttled_429, "waited_s": client.pacer.waited_s}, open(out, "w"))
"""


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, int(round(q * (len(ordered) - 1)))))
    return ordered[index]


def run_phases(home: Path) -> dict[str, list[float]]:
    """Per lane run, from the instance's event log: ``start`` = launched (RUN_STARTING) -> the run's process up
    (RUN_START), i.e. the process start and the code location's import; ``step`` = the step's own time."""
    import dagster as dg

    out: dict[str, list[float]] = {"start": [], "step": []}
    with dg.DagsterInstance.from_config(str(home)) as instance:
        for run in instance.get_runs():
            if run.job_name not in ("mql_handoff", "sla_enforcement"):
                continue
            first: dict = {}
            for entry in instance.all_logs(run.run_id):
                if entry.dagster_event is not None:
                    first.setdefault(entry.dagster_event.event_type, entry.timestamp)
            kinds = dg.DagsterEventType
            if kinds.RUN_STARTING in first and kinds.RUN_START in first:
                out["start"].append(first[kinds.RUN_START] - first[kinds.RUN_STARTING])
            if kinds.STEP_START in first and kinds.STEP_SUCCESS in first:
                out["step"].append(first[kinds.STEP_SUCCESS] - first[kinds.STEP_START])
    return out


def main(quick: bool = False) -> list[Result]:
    import os

    from hubspot_sandbox.ratelimit import RateLimits
    from pipeline.resources import rate_ledger_path
    from pipeline.sla.handoff import mql_id_of
    from pipeline.sla.recheck import parse_ts
    from tests.fixtures.live_lane import start_lane, turn_mql, wait_for

    poll_s, sensor_s = (5, 10) if quick else (30, 30)
    count, spread_s, idle_s = (3, 40, 60) if quick else (8, 180, 120)
    rng = random.Random(17)
    root = Path(tempfile.mkdtemp(prefix="bench-handoff-"))
    lane = start_lane(root, policy_text=POLICY, poll_s=poll_s, sensor_interval_s=sensor_s, limits=RateLimits())
    sync_out = root / "sync.json"
    lane.start_daemon()
    created: dict[str, tuple[float, object]] = {}
    holder = None
    try:
        if not wait_for(lambda: lane.sandbox.stats.snapshot()["requests"].get("contacts.search"), 300):
            raise RuntimeError(f"daemon never ticked: {(root / 'daemon.log').read_text()[-2000:]}")
        # idle: no MQLs; count every HubSpot call both sensors make
        before = lane.sandbox.stats.snapshot()["total_requests"]
        time.sleep(idle_s)
        idle_calls = lane.sandbox.stats.snapshot()["total_requests"] - before
        # MQLs at random instants; the middle third while a sync holds the main DB's writer
        instants = sorted(rng.uniform(0, spread_s) for _ in range(count))
        start = time.monotonic()
        during_sync = 0
        for i, at in enumerate(instants):
            time.sleep(max(0.0, start + at - time.monotonic()))
            if holder is None and i >= count // 3:
                holder = subprocess.Popen(
                    [sys.executable, "-c", SYNC_STAND_IN, str(lane.db_path), str(spread_s - at), lane.sandbox.base_url,
                     lane.sandbox.token, str(rate_ledger_path(lane.db_path)), str(sync_out)],
                    stdout=subprocess.PIPE, text=True, cwd=str(Path(__file__).resolve().parent.parent),
                    env=dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parent.parent)))
                assert holder.stdout is not None
                holder.stdout.readline()
            if holder is not None and holder.poll() is None:
                during_sync += 1
            cid = turn_mql(lane.sandbox.portal, country=rng.choice(["Germany", "United States", "Canada"]))
            entered = lane.sandbox.portal.stores["contacts"].by_id[cid]["properties"][
                "hs_v2_date_entered_marketingqualifiedlead"]
            mql_at = parse_ts(entered)
            created[mql_id_of(cid, mql_at)] = (time.monotonic(), mql_at)
        want_handoffs = {f"{m}:handoff" for m in created}
        want_escalations = {f"{m}:manager_escalation" for m in created}
        wait_for(lambda: (want_handoffs | want_escalations) <= set(lane.slack.keyed()), 60 + sensor_s + 240)
        keyed = lane.slack.keyed()
        refused = lane.sandbox.stats.snapshot()["rate_limited"]["limit"]
        load = os.getloadavg()
    finally:
        if holder is not None and holder.poll() is None:
            holder.terminate()
            holder.wait(timeout=10)
        lane.stop()
    handoff = [keyed[f"{m}:handoff"][0] - t for m, (t, _) in created.items() if f"{m}:handoff" in keyed]
    escalation = [(keyed[f"{m}:manager_escalation"][1] - at).total_seconds() - 60
                  for m, (_, at) in created.items() if f"{m}:manager_escalation" in keyed]
    missing = len(created) * 2 - len(handoff) - len(escalation)
    per_hour = idle_calls * 3600 / idle_s
    if holder is not None:
        holder.wait(timeout=60)
    sync = json.loads(sync_out.read_text()) if sync_out.exists() else {"pages": 0, "throttled": 0, "waited_s": 0}
    phases = run_phases(root / "dagster_home")
    detail = (f"{len(created)} MQLs ({during_sync} while the sync stand-in held the main DB writer and paged HubSpot), "
              f"poll {poll_s} s; load average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} (1 / 5 / 15 min)")
    return [
        Result("handoff", "MQL -> handoff message p50 (s)", _pct(handoff, 0.5), "info", None, detail),
        Result("handoff", "MQL -> handoff message p95 (s)", _pct(handoff, 0.95), f"<= {poll_s + 30}",
               bool(handoff) and missing == 0 and _pct(handoff, 0.95) <= poll_s + 30,
               f"{len(handoff)} messages; {missing} missing"),
        Result("handoff", "due -> escalation message p95 (s)", _pct(escalation, 0.95), f"<= {sensor_s + 30}",
               bool(escalation) and _pct(escalation, 0.95) <= sensor_s + 30,
               f"{len(escalation)} escalations, sensor interval {sensor_s} s, SLA 1 min"),
        Result("handoff", "lane run: launched -> its process up, median (s)", _pct(phases["start"], 0.5), "info", None,
               f"{len(phases['start'])} runs, max {max(phases['start'], default=float('nan')):.1f} s (process start "
               f"+ import of the lane's code location); the step itself: median {_pct(phases['step'], 0.5):.1f} s"),
        Result("handoff", "HubSpot calls per idle hour", per_hour, "<= 120", per_hour <= 120,
               f"{idle_calls} calls in {idle_s} s idle, scaled x{3600 / idle_s:.0f} (measured over the window, "
               "not an hour)"),
        Result("handoff", "HubSpot 429s while the lane and the sync shared the limit", float(refused), "0",
               refused == 0, f"sync stand-in: {sync['pages']} pages, {sync['waited_s']:.1f} s waiting for the "
               f"shared pacer, {sync['throttled']} 429s"),
    ]
