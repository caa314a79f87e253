"""Generated events exactly on the boundaries the metrics and the ladder decide at.

Most instants the generator draws are kept a few seconds off every boundary (so an off-by-one in a rule shows
as a wrong row only where a boundary case was meant); a deterministic fraction lands *exactly* on one, and
the truth (gen_truth.py) decides them by DOMAIN.md's rules from the instants as built:

- first touches at ``mql_at`` itself (for a re-MQL that is the earlier episode's ``next_mql_at``: the window
  is ``mql_at <= t < next_mql_at``, so the touch is the later episode's) and at ``mql_at`` + 5 / 60 / 240 /
  1440 minutes: the response buckets are half-open (exactly 5 minutes is ``5-60 min``) and 60 / 1440 are the
  SLA due times (``met``: first touch <= due);
- MQL instants with ``now - mql_at`` exactly at a ladder step (``at_sla_multiple`` x SLA: the step is due,
  ``now >= due``; at 1x an untouched episode is still ``pending``, ``now <= due``) and exactly at the
  enforcement lookback edge (``mql_at = now - enforcement_lookback_days``: inside the lookback, as the sensor's
  ``mql_at >= now - lookback``).

Which instants land on a boundary is decided by a hash of the contact id and the instant, not by the
contact's random stream, so every other draw of the portal is unchanged.
"""

from __future__ import annotations

import hashlib

from pipeline.policy import Policy
from hubspot_sandbox.gen_clock import MS_DAY, MS_HOUR, MS_MINUTE, MS_SECOND
from hubspot_sandbox.gen_records import BUCKET_EDGES_MIN

TOUCH_SHARE = 0.06  # share of drawn first touches placed exactly on an edge
MQL_SHARE = 0.5  # share of MQLs drawn within MQL_REACH of a ladder / lookback edge moved exactly onto it
MQL_REACH = 12 * MS_HOUR
NEAR = 2 * MS_SECOND  # "on a boundary" for the nudge: closer than this
NUDGE = 5 * MS_SECOND


def _share(*key: object) -> float:
    """A stable number in [0, 1) for ``key`` (same portal, same choices)."""
    digest = hashlib.blake2b(":".join(map(str, key)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def touch_edges(due_minutes: float) -> tuple[float, ...]:
    """Minutes after ``mql_at`` a first touch may land exactly on: 0, the bucket edges and the SLA due time."""
    return tuple(sorted({0.0, *BUCKET_EDGES_MIN, float(due_minutes)}))


def first_touch_instant(contact_id: str, mql: int, ts: int, due_minutes: float) -> int:
    """A drawn first-touch instant: for a fraction, exactly on an edge; otherwise nudged off every edge."""
    roll = _share("touch", contact_id, mql)
    if roll < TOUCH_SHARE:
        edges = touch_edges(due_minutes)
        return mql + int(edges[int(roll / TOUCH_SHARE * len(edges))] * MS_MINUTE)
    for edge in (*BUCKET_EDGES_MIN, due_minutes):  # never on a bucket edge or exactly at the SLA due time
        if abs((ts - mql) - edge * MS_MINUTE) < NEAR:
            ts += NUDGE
    return ts


def mql_edges(policy: Policy, demo: bool) -> list[int]:
    """``now - mql_at`` (ms) at which a ladder step falls due, and the enforcement lookback edge."""
    sla = policy.sla_minutes("demo_request" if demo else "other") * MS_MINUTE
    edges = [int(step.at_sla_multiple * sla) for step in policy.escalation]
    return [*edges, int(policy.enforcement_lookback_days * MS_DAY)]


def mql_instant(policy: Policy, now: int, contact_id: str, mql: int, demo: bool, *, latest: int,
                pinned: bool = False) -> int:
    """A drawn MQL instant: moved exactly onto a ladder / lookback edge when it was drawn near one (for a
    fraction, never past ``latest``, never for a scenario's pinned instant); otherwise kept > 2 s off them."""
    edges = mql_edges(policy, demo)
    if not pinned:
        for edge in (e for e in edges if e > 0):  # (a step at 0 x SLA would be the MQL instant itself)
            on_edge = now - edge
            if abs(mql - on_edge) < MQL_REACH and on_edge <= latest and _share("mql", contact_id, mql) < MQL_SHARE:
                return on_edge
    for edge in edges:
        if abs((now - mql) - edge) < NEAR:
            mql -= NUDGE
    return mql
