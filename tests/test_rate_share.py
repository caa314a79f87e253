"""The sync and the live lane are separate processes with one HubSpot budget (HubSpot counts an app's requests per
portal). Two real processes against the sandbox's rate limiter (40 requests per rolling 10 s here): with the
shared ledger (``pipeline/hubspot/pacing.py`` ``SharedLedger``) HubSpot refuses nothing, the lane's handoffs are
not slowed by a hammering sync, a hammering lane cannot starve the sync, and each share gets at least its reserve
in every 10-second window; without it (each process pacing alone, the old design) the same load draws 429s.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pipeline.hubspot.pacing import RESERVE, SharedLedger

pytestmark = [pytest.mark.timeout(300)]

REPO = Path(__file__).resolve().parent.parent
LIMIT = 40
SECONDS = 22.0


@pytest.fixture
def sandbox():
    from hubspot_sandbox.portal import Portal
    from hubspot_sandbox.ratelimit import RateLimits
    from hubspot_sandbox.server import run_in_thread
    from tests.fixtures.enforcement import build_snapshot

    portal = Portal.from_snapshot(build_snapshot())
    handle = run_in_thread(portal, limits=RateLimits(per_ten_seconds=LIMIT, search_per_second=5, daily=10_000_000))
    handle.contact_id = portal.create("contacts", {"email": "rate@share.example"})
    yield handle
    handle.stop()


def _run(sandbox, tmp_path: Path, ledger: str, sync_mode: str, lane_mode: str) -> dict[str, dict]:
    procs = {}
    for share, mode in (("sync", sync_mode), ("lane", lane_mode)):
        out = tmp_path / f"{share}.json"
        procs[share] = (subprocess.Popen(
            [sys.executable, "-m", "tests.rate_share_worker", sandbox.base_url, sandbox.token, ledger, share, mode,
             repr(SECONDS), str(out), sandbox.contact_id], cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True), out)
    for proc, _ in procs.values():  # both imported: the measured part starts together
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    start = time.monotonic() + 0.5
    for proc, _ in procs.values():
        assert proc.stdin is not None
        proc.stdin.write(f"{start!r}\n")
        proc.stdin.close()
    results = {}
    for share, (proc, out) in procs.items():
        proc.wait(timeout=200)
        assert proc.stderr is not None
        err = proc.stderr.read()
        assert proc.returncode == 0, err[-2000:]
        results[share] = dict(json.loads(out.read_text()), start=start)
    return results


def _in(result: dict, first: float, last: float) -> int:
    """Responses between ``first`` and ``last`` seconds after the shared start."""
    return sum(1 for d in result["done"] if result["start"] + first <= d < result["start"] + last)


def _busiest_window(*results: dict) -> int:
    """The most responses of these processes together inside any 10-second window (the server's rolling one)."""
    done = sorted(d for r in results for d in r["done"])
    return max((sum(1 for e in done if d <= e < d + 10) for d in done), default=0)


def test_with_the_shared_ledger_a_hammering_sync_neither_slows_the_lanes_handoffs_nor_draws_429s(sandbox, tmp_path):
    before = sandbox.stats.snapshot()["rate_limited"]["limit"]
    r = _run(sandbox, tmp_path, str(tmp_path / "rate.json"), "hammer", "handoffs")
    assert sandbox.stats.snapshot()["rate_limited"]["limit"] == before  # HubSpot refused nothing
    assert r["sync"]["throttled"] == 0 and r["lane"]["throttled"] == 0
    # the lane's 4-call handoffs (8 calls per 10 s; 12 where a slot's 10 s after its response overlaps three
    # bursts, 2 over its reserve of 10) wait at most for the oldest slot to expire, never for the sync's window
    assert len(r["lane"]["latency"]) >= 4 * int(SECONDS / 5) and r["lane"]["waited_s"] < 0.5, r["lane"]
    # the sync fills its part of every window (its cap: the limit less the lane's reserve), never more
    sync_cap = LIMIT - int(LIMIT * RESERVE["lane"][0])
    assert 2 * sync_cap - 2 <= _in(r["sync"], 0, 20) and _busiest_window(r["sync"]) <= sync_cap + 1
    assert _busiest_window(r["sync"], r["lane"]) <= LIMIT + 1
    print(f"\nsync calls in 20 s: {_in(r['sync'], 0, 20)} (cap {sync_cap} per 10 s); "
          f"lane waited {r['lane']['waited_s']:.2f} s in all, sync {r['sync']['waited_s']:.1f} s")


def test_with_the_shared_ledger_two_hammering_processes_each_get_their_reserve(sandbox, tmp_path):
    before = sandbox.stats.snapshot()["rate_limited"]["limit"]
    r = _run(sandbox, tmp_path, str(tmp_path / "rate.json"), "hammer", "hammer")
    assert sandbox.stats.snapshot()["rate_limited"]["limit"] == before
    assert r["sync"]["throttled"] == 0 and r["lane"]["throttled"] == 0
    lane_reserve, sync_reserve = int(LIMIT * RESERVE["lane"][0]), int(LIMIT * RESERVE["sync"][0])
    sync, lane = _in(r["sync"], 0, 20), _in(r["lane"], 0, 20)
    assert lane >= 2 * lane_reserve - 1 and sync >= 2 * sync_reserve - 1, (sync, lane)  # neither starved
    assert _busiest_window(r["lane"]) <= LIMIT - sync_reserve + 1 and _busiest_window(r["sync"]) <= LIMIT - lane_reserve + 1
    assert _busiest_window(r["sync"], r["lane"]) <= LIMIT + 1
    print(f"\nin 20 s: sync {sync} calls, lane {lane} calls (limit {LIMIT} per 10 s)")


def test_without_the_shared_ledger_the_same_two_processes_draw_429s(sandbox, tmp_path):
    """The control: each process pacing alone at the portal's limit overruns it together."""
    before = sandbox.stats.snapshot()["rate_limited"]["limit"]
    r = _run(sandbox, tmp_path, "", "hammer", "hammer")
    refused = sandbox.stats.snapshot()["rate_limited"]["limit"] - before
    assert refused > 0 and r["sync"]["throttled"] + r["lane"]["throttled"] == refused


def test_a_slot_of_a_process_that_died_mid_request_is_freed(tmp_path):
    ledger = SharedLedger(tmp_path / "rate.json", "sync")
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    state = {"slots": [["x", "g", "lane", dead.pid, time.monotonic(), None]], "paused_until": 0.0}
    (tmp_path / "rate.json").write_text(json.dumps(state))
    assert ledger.usage() == {}
    slot, wait = ledger.try_acquire(False, 1)
    assert slot and wait == 0 and ledger.usage() == {"sync.general": 1}
    assert ledger.try_acquire(False, 1)[0] is None  # full: one slot a window
    ledger.release(slot)
    assert ledger.usage() == {"sync.general": 1}  # counted until a window after its response
