"""Extraction benchmark: API calls against their theoretical minimum, incremental costs, rate, memory.

A generated portal is served by the sandbox in this process; every sync runs through Dagster in a child
process (so its peak RSS is its own, measured with psutil). Measures, in one run:

- full (initial) sync calls / lower bound (records / page size per type, contacts 50 a page with history; the
  associations come inline with the listings, so they add nothing to the bound), target <= 1.05, counted by the
  sandbox (an independent counter, not the client's own stats);
- calls of a no-change incremental sync (a handful, independent of size);
- calls and seconds of a sync after 1% of contacts changed (plus as many new calls logged);
- achieved request rate / allowed limit while rate-bound (a second sandbox with HubSpot's real limits);
- peak memory of the initial sync.
"""

from __future__ import annotations

import json
import math
import random
import sys
import tempfile
from pathlib import Path


from bench.child import run_python
from bench.results import Result

FULL_CONTACTS = 100_000
QUICK_CONTACTS = 2_000
RATE_CONTACTS = 2_000  # the rate-bound run's portal (its extraction takes ~15 s at 190 requests / 10 s)
ROOT = Path(__file__).resolve().parent.parent

_SYNC = """
import json, sys, time
import dagster as dg
from dagster_dlt import DagsterDltResource
from dagster_duckdb import DuckDBResource
from assets.hubspot_raw import hubspot_raw_assets
from pipeline.resources import HubSpotResource
base_url, token, db, mode, search_per_s = sys.argv[1:6]
started = time.perf_counter()
result = dg.materialize([hubspot_raw_assets], resources={
    "duckdb": DuckDBResource(database=db),
    "hubspot": HubSpotResource(access_token=token, api_base=base_url, search_per_s=int(search_per_s)),
    "dlt": DagsterDltResource()}, run_config={"ops": {"hubspot_raw": {"config": {"mode": mode}}}})
seconds = time.perf_counter() - started
meta = {ev.asset_key.path[-1]: ev.materialization.metadata for ev in result.get_asset_materialization_events()}
extract_s = sum(m["extract_duration_s"].value for t, m in meta.items() if "extract_duration_s" in m
                and t not in ("contact_property_history",))
print(json.dumps({"seconds": seconds, "extract_s": extract_s, "calls": meta["contacts"]["api_calls_run_total"].value,
                  "http_429": meta["contacts"]["http_429_seen_run"].value}))
"""


def _sync(sandbox, db: Path, mode: str = "sync", search_per_s: int = 5) -> dict:
    """One Dagster sync in a child process: its own numbers plus the child's peak RSS."""
    run = run_python(_SYNC, sandbox.base_url, sandbox.token, str(db), mode, str(search_per_s),
                     what="benchmark sync")
    numbers = json.loads(run.stdout.strip().splitlines()[-1])
    numbers["peak_rss"] = run.peak_rss
    return numbers


LOWER_BOUND_TARGET = 1.05


def lower_bound(snapshot: dict) -> tuple[int, str]:
    """Calls no extractor can go below: every live record once at HubSpot's largest page (100; contacts 50 since
    they are read with history), associations inline with those pages, both owner listings, the account.
    (Property checks, the lifecycle-stage options and overflow association reads are ours to justify.)"""
    def live(kind: str) -> int:
        return sum(1 for o in snapshot.get(kind, []) if not o.get("archived"))

    pages = {"contacts": max(1, math.ceil(live("contacts") / 50))}  # 50 per page when asking for history
    for kind in ("companies", "deals", "calls", "emails", "meetings", "notes", "tasks", "communications"):
        pages[kind] = max(1, math.ceil(live(kind) / 100))
    owners = 2  # the active and the archived listing
    total = sum(pages.values()) + owners + 1
    return total, f"{sum(pages.values())} pages + {owners} owner pages + 1 account"


def _mutate_one_percent(portal, contacts: list[str], seed: int = 7) -> int:
    rng = random.Random(seed)
    changed = rng.sample(contacts, max(1, len(contacts) // 100))
    stages = ["marketingqualifiedlead", "salesqualifiedlead", "opportunity"]
    for contact_id in changed:
        portal.update("contacts", contact_id, {"lifecyclestage": rng.choice(stages)})
        portal.create("calls", {"hs_timestamp": "2026-11-24T10:00:00.000Z", "hs_call_direction": "OUTBOUND",
                                "hs_call_status": "COMPLETED"}, {"contacts": [contact_id]})
    return len(changed)


def _by_kind(requests: dict[str, int]) -> str:
    """The sandbox's counts grouped by kind of endpoint (``contacts.list`` -> ``list``)."""
    kinds: dict[str, int] = {}
    for name, n in requests.items():
        kind = name.split(".", 1)[-1]
        kinds[kind] = kinds.get(kind, 0) + n
    return ", ".join(f"{k} {n}" for k, n in sorted(kinds.items()))


def main(quick: bool) -> list[Result]:
    from hubspot_sandbox.generator import generate_portal
    from hubspot_sandbox.portal import Portal
    from hubspot_sandbox.ratelimit import RateLimits
    from hubspot_sandbox.server import run_in_thread

    contacts = QUICK_CONTACTS if quick else FULL_CONTACTS
    snapshot, _truth = generate_portal(contacts, seed=1)
    minimum, minimum_detail = lower_bound(snapshot)
    live_contacts = [o["id"] for o in snapshot["contacts"] if not o.get("archived")]
    engagements = sum(len(snapshot.get(k, [])) for k in ("calls", "emails", "meetings", "notes", "tasks",
                                                         "communications"))
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="bench-extraction-") as scratch:
        db = Path(scratch) / "raw.duckdb"
        portal = Portal.from_snapshot(snapshot, owned=True, validate=False)
        with run_in_thread(portal, limits=RateLimits.unlimited()) as sandbox:
            # the sandbox enforces nothing here; the client still paces itself at 190 / 10 s and 5 searches / s
            initial = _sync(sandbox, db)
            initial_seen = sandbox.stats.snapshot()
            initial_calls = initial_seen["total_requests"]
            sandbox.stats.reset()
            no_change = _sync(sandbox, db)
            no_change_calls = sandbox.stats.snapshot()["total_requests"]
            sandbox.stats.reset()
            changed = _mutate_one_percent(portal, live_contacts)
            one_percent = _sync(sandbox, db)
            one_percent_calls = sandbox.stats.snapshot()["total_requests"]
        by_kind = _by_kind(initial_seen["requests"])
        results += [
            Result("extraction", f"full sync API calls / lower bound ({contacts:,} contacts)",
                   initial_calls / minimum, f"<= {LOWER_BOUND_TARGET}", initial_calls / minimum <= LOWER_BOUND_TARGET,
                   f"{initial_calls} calls (sandbox's count: {by_kind}) / {minimum} lower bound ({minimum_detail}); "
                   f"{engagements:,} engagements; {initial['seconds']:.0f}s; "
                   f"peak {initial_seen['max_requests_10s']} requests in 10 s"),
            Result("extraction", "no-change incremental sync: API calls", float(no_change_calls), "<= 15",
                   no_change_calls <= 15, f"{no_change['seconds']:.1f}s; one search per object type + owners + account"),
            Result("extraction", "1% changed: API calls / changed contacts", one_percent_calls / changed, "info", None,
                   f"{one_percent_calls} calls for {changed} contacts changed + {changed} calls logged; "
                   f"{one_percent['seconds']:.1f}s"),
            Result("extraction", "1% changed: sync seconds / initial sync seconds",
                   one_percent["seconds"] / initial["seconds"], "info", None,
                   f"{one_percent['seconds']:.1f}s / {initial['seconds']:.1f}s"),
            Result("extraction", "initial sync peak RSS (GiB)", initial["peak_rss"] / 2**30, "info", None,
                   f"{initial['peak_rss'] / 2**20:.0f} MiB in the syncing process"),
        ]
        del portal, snapshot
        # rate-bound: HubSpot's real limits in the sandbox and in the client
        rate_snapshot = generate_portal(RATE_CONTACTS, seed=2)[0]  # the first portal consumed its snapshot
        rate_db = Path(scratch) / "rate.duckdb"
        limits = RateLimits()
        with run_in_thread(Portal.from_snapshot(rate_snapshot, owned=True, validate=False), limits=limits) as sandbox:
            rated = _sync(sandbox, rate_db)
            seen = sandbox.stats.snapshot()
        searches = sum(n for name, n in seen["requests"].items() if name.endswith(".search"))
        general = seen["total_requests"] - searches
        average = general / rated["extract_s"] / (limits.per_ten_seconds / 10)
        results += [
            Result("extraction", "rate-bound: peak requests in any 10 s / allowed", seen["max_requests_10s"] / 190,
                   ">= 0.9", 0.9 <= seen["max_requests_10s"] / 190 <= 1.0,
                   f"{seen['max_requests_10s']} / 190; 429s from the limit: {seen['rate_limited']['limit']}; "
                   f"peak searches in 1 s: {seen['max_search_requests_1s']} / 5"),
            Result("extraction", "rate-bound: mean rate while extracting / allowed", average, "info", None,
                   f"{general} non-search requests in {rated['extract_s']:.1f}s of API reads ({RATE_CONTACTS:,}-contact "
                   "portal; a fresh window starts with a burst of 190, so short runs average above 1)"),
        ]
    return results


if __name__ == "__main__":
    for result in main(quick="--quick" in sys.argv):
        print(result)
