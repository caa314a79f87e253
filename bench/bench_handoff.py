"""Suite ``handoff``: the live lane on a live-clock sandbox with the real Dagster daemon.

MQLs are created at random instants (seeded) while the daemon runs ``new_mql_sensor`` and ``overdue_mql_sensor``
on a persistent instance (``dagster-daemon run``, what users run), against HubSpot's Professional limits (190 per
rolling 10 s, 5 searches a second). The batch lane is production's too: ``hourly_sync_schedule`` runs (a cron
ticking at two chosen minutes), and the daemon's scheduler launches real ``hourly_sync`` runs (dlt extraction,
the dbt models and their checks, the published copy, the report) on the same sandbox and main DB. The first
tick is a new install's first sync (full load: it builds the main DB, the marts and the published copy the lane
reads) and ends before the idle window; the second ticks a third of the way into the MQL window, so some MQLs
arrive while it holds the main DuckDB's writer and pages HubSpot through the shared rate-limit ledger.
Measured: MQL -> handoff message p50 / p95, due -> escalation message p95 (SLA shortened by the bench's policy
file: demo requests 1 minute), HubSpot calls per idle hour (the calls both sensors make over an idle window,
scaled to an hour: the window is stated in the detail) and the 429s HubSpot answered over the bench; with the
syncs' durations and their own HubSpot calls and 429s (the extraction's metadata).
Targets: p95 handoff <= poll + 30 s; escalation <= sensor interval + 30 s after due; <= 120 calls per idle hour.
The load average is printed with the results (the machine is shared).
"""

from __future__ import annotations

import math
import random
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
# the daemon's code locations loaded before the first tick; the first sync's budget (a new install's full load
# of the small portal, dbt included, on 2 busy cores) before the idle window; the wait for the second to end
DAEMON_UP_S = 90
FIRST_SYNC_BUDGET_S = 180
SECOND_SYNC_WAIT_S = 300
FINISHED = ("SUCCESS", "FAILURE", "CANCELED")


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
    from pipeline.sla.handoff import mql_id_of
    from pipeline.sla.recheck import parse_ts
    from tests.fixtures.live_lane import schedule_syncs, start_lane, sync_runs, turn_mql, wait_for

    poll_s, sensor_s = (5, 10) if quick else (30, 30)
    count, spread_s, idle_s = (3, 40, 60) if quick else (8, 180, 120)
    rng = random.Random(17)
    root = Path(tempfile.mkdtemp(prefix="bench-handoff-"))
    lane = start_lane(root, policy_text=POLICY, poll_s=poll_s, sensor_interval_s=sensor_s, limits=RateLimits())
    # the schedule's two ticks: the first sync (building the main DB, the marts and the published copy) before
    # the idle window, the second a third of the way into the MQL window (--quick: at its start, the run's process
    # taking 15-30 s to start on a busy machine)
    lead_in = 0.0 if quick else spread_s / 3
    first = math.ceil((time.time() + DAEMON_UP_S) / 60) * 60
    second = first + math.ceil((FIRST_SYNC_BUDGET_S + idle_s + lead_in) / 60) * 60
    cron = schedule_syncs(lane, [first, second])
    lane.start_daemon()
    created: dict[str, tuple[float, float, object]] = {}
    try:
        if not wait_for(lambda: lane.sandbox.stats.snapshot()["requests"].get("contacts.search"), 300):
            raise RuntimeError(f"daemon never ticked: {(root / 'daemon.log').read_text()[-2000:]}")
        synced = wait_for(lambda: [r for r in sync_runs(lane) if r["status"] in FINISHED],
                          second - lead_in - idle_s - time.time(), interval_s=2)
        if not synced or synced[0]["status"] != "SUCCESS":
            raise RuntimeError(f"the first scheduled hourly_sync did not succeed before the idle window (cron {cron}): "
                               f"{synced or sync_runs(lane)}; {(root / 'daemon.log').read_text()[-2000:]}")
        published = published_picture(lane.db_path)
        # idle: no MQLs, no sync; count every HubSpot call both sensors make
        time.sleep(max(0.0, second - lead_in - idle_s - time.time()))
        before = lane.sandbox.stats.snapshot()["total_requests"]
        time.sleep(idle_s)
        idle_calls = lane.sandbox.stats.snapshot()["total_requests"] - before
        # MQLs at random instants; the schedule's second tick a third of the way in
        start, wall_start = time.monotonic(), time.time()
        for at in sorted(rng.uniform(0, spread_s) for _ in range(count)):
            time.sleep(max(0.0, start + at - time.monotonic()))
            cid = turn_mql(lane.sandbox.portal, country=rng.choice(["Germany", "United States", "Canada"]))
            entered = lane.sandbox.portal.stores["contacts"].by_id[cid]["properties"][
                "hs_v2_date_entered_marketingqualifiedlead"]
            mql_at = parse_ts(entered)
            created[mql_id_of(cid, mql_at)] = (time.monotonic(), time.time(), mql_at)
        want_handoffs = {f"{m}:handoff" for m in created}
        want_escalations = {f"{m}:manager_escalation" for m in created}
        wait_for(lambda: (want_handoffs | want_escalations) <= set(lane.slack.keyed()), 60 + sensor_s + 240)
        keyed = lane.slack.keyed()
        refused = lane.sandbox.stats.snapshot()["rate_limited"]["limit"]
        load = os.getloadavg()
        # the second sync to its end (its numbers; and the daemon is stopped with no run in flight)
        runs = wait_for(lambda: (lambda rs: rs if len(rs) > 1 and rs[1]["status"] in FINISHED else None)(
            sync_runs(lane)), SECOND_SYNC_WAIT_S, interval_s=2) or sync_runs(lane)
        after_sync = published_picture(lane.db_path, [m for m in created])
        # the escalations the live re-check cancelled (why an escalation message is missing)
        cancelled = lane.rows("SELECT mql_id, reason FROM ops.enforcement_log WHERE step = 'manager_escalation' "
                              "AND status = 'cancelled' ORDER BY mql_id")
    finally:
        lane.stop()
    handoff = [keyed[f"{m}:handoff"][0] - t for m, (t, _, _) in created.items() if f"{m}:handoff" in keyed]
    escalation = [(keyed[f"{m}:manager_escalation"][1] - at).total_seconds() - 60
                  for m, (_, _, at) in created.items() if f"{m}:manager_escalation" in keyed]
    missing_handoffs, missing_escalations = len(created) - len(handoff), len(created) - len(escalation)
    per_hour = idle_calls * 3600 / idle_s
    phases = run_phases(root / "dagster_home")
    sync = runs[1] if len(runs) > 1 else None
    sync_ok = sync is not None and sync["status"] == "SUCCESS" and sync["schedule"] == "hourly_sync_schedule"
    during = (sum(1 for _, wall, _ in created.values() if sync["started"] <= wall <= sync["ended"])
              if sync_ok and sync["ended"] else 0)
    launching = (sum(1 for _, wall, _ in created.values() if sync["created"] <= wall < sync["started"])
                 if sync_ok and sync["ended"] else 0)
    sync_s = (sync["ended"] - sync["started"]) if sync_ok and sync["ended"] else float("nan")
    first_run = runs[0]
    detail = (f"{len(created)} MQLs ({during} while the scheduled hourly_sync ran, {launching} more between its tick "
              f"and its start), poll {poll_s} s; "
              f"load average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} (1 / 5 / 15 min)")
    sync_detail = (f"run {sync['run_id'][:8]} {sync['status']}, ticked {sync['created'] - wall_start:.0f} s into the "
                   f"{spread_s} s MQL window, launched -> started {sync['started'] - sync['created']:.1f} s; "
                   f"{sync['calls']} HubSpot calls, {sync['throttled']} 429s; published copy after it: "
                   f"{after_sync['episodes']} of the {len(created)} MQLs in marts.mql_episodes"
                   if sync is not None and sync["started"] else f"second sync: {sync}")
    return [
        Result("handoff", "MQL -> handoff message p50 (s)", _pct(handoff, 0.5), "info", None, detail),
        Result("handoff", "MQL -> handoff message p95 (s)", _pct(handoff, 0.95), f"<= {poll_s + 30}",
               bool(handoff) and missing_handoffs == 0 and _pct(handoff, 0.95) <= poll_s + 30,
               f"{len(handoff)} messages; {missing_handoffs} missing"),
        Result("handoff", "due -> escalation message p95 (s)", _pct(escalation, 0.95), f"<= {sensor_s + 30}",
               bool(escalation) and missing_escalations == 0 and _pct(escalation, 0.95) <= sensor_s + 30,
               f"{len(escalation)} escalations, {missing_escalations} missing, sensor interval {sensor_s} s, SLA "
               "1 min; cancelled by the live re-check: "
               + ("; ".join(f"{m} ({reason})" for m, reason in cancelled) or "none")),
        Result("handoff", "lane run: launched -> its process up, median (s)", _pct(phases["start"], 0.5), "info", None,
               f"{len(phases['start'])} runs, max {max(phases['start'], default=float('nan')):.1f} s (process start "
               f"+ import of the lane's code location); the step itself: median {_pct(phases['step'], 0.5):.1f} s"),
        Result("handoff", "HubSpot calls per idle hour", per_hour, "<= 120", per_hour <= 120,
               f"{idle_calls} calls in {idle_s} s idle, scaled x{3600 / idle_s:.0f} (measured over the window, "
               "not an hour)"),
        Result("handoff", "HubSpot 429s while the lane and the sync shared the limit", float(refused), "0",
               refused == 0, f"{refused} 429s over the whole bench (both syncs and the lane); the MQL window's sync: "
               f"{sync['calls'] if sync else '?'} calls, {sync['throttled'] if sync else '?'} 429s"),
        Result("handoff", "hourly_sync during the MQL window: started -> ended (s)", sync_s, "info",
               None if sync_ok else False, sync_detail),
        Result("handoff", "first hourly_sync (new install: full load) started -> ended (s)",
               (first_run["ended"] or float("nan")) - (first_run["started"] or float("nan")), "info", None,
               f"run {first_run['run_id'][:8]} {first_run['status']}, {first_run['calls']} HubSpot calls, "
               f"{first_run['throttled']} 429s; the lane read its published copy: {published['dlt_loads']} dlt "
               f"loads, {published['owners']} owners, marts.speed_to_lead {published['speed_to_lead']} rows "
               f"(schedule cron {cron!r})"),
    ]


def published_picture(main_db: Path, mql_ids: list[str] | None = None) -> dict:
    """What the published copy (what the lane reads) holds: dlt's loads (a real sync built it), owners, the
    speed_to_lead rows, and how many of ``mql_ids`` the marts have as episodes."""
    import duckdb

    from pipeline.settings import published_db_path

    con = duckdb.connect(str(published_db_path(main_db)), read_only=True)
    try:
        one = lambda sql, params=None: con.execute(sql, params or []).fetchone()[0]  # noqa: E731
        return {"dlt_loads": one("SELECT count(*) FROM hubspot._dlt_loads"),
                "owners": one("SELECT count(*) FROM hubspot.owners"),
                "speed_to_lead": one("SELECT count(*) FROM marts.speed_to_lead"),
                "episodes": one("SELECT count(*) FROM marts.mql_episodes WHERE list_contains(?, mql_id)",
                                [mql_ids or []])}
    finally:
        con.close()
