"""What the generator built, as facts: per-contact and per-episode records, and the property histories.

The ground truth (gen_truth.py) is written from these records, never from the snapshot.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hubspot_sandbox.gen_activity import Touch
from hubspot_sandbox.gen_clock import iso

BUCKET_EDGES_MIN = (5.0, 60.0, 240.0, 1440.0)


def response_bucket(minutes: float | None) -> str:
    if minutes is None:
        return "never"
    if minutes < 5:
        return "<5 min"
    if minutes < 60:
        return "5-60 min"
    if minutes < 240:
        return "1-4 h"
    if minutes < 1440:
        return "4-24 h"
    return ">24 h"


@dataclass
class EpisodeRecord:
    mql_ms: int
    next_mql_ms: int | None
    demo: bool
    owner_id: str | None
    assigned_ms: int | None
    touches: list[Touch] = field(default_factory=list)
    sql_ms: int | None = None
    opportunity_ms: int | None = None
    customer_ms: int | None = None


@dataclass
class ContactRecord:
    contact_id: str
    kind: str
    excluded: str | None  # None, "archived" or "merged"
    lead_ms: int | None  # first entry into `lead`
    stage_now: str
    episodes: list[EpisodeRecord]
    merged_into: str | None = None
    stage_skip: bool = False
    company_id: str | None = None  # the contact's company (contract 6): the one it was built around


class Histories:
    """Per-property change lists (instant, value, sourceType), kept in any order and sorted on output."""

    TRUTH_PROPERTIES = ("lifecyclestage", "hubspot_owner_id", "recent_conversion_event_name")

    def __init__(self, limit: int) -> None:
        self.limit = limit  # nothing is recorded after this instant
        self.lists: dict[str, list[tuple[int, str, str]]] = {
            "lifecyclestage": [], "hubspot_owner_id": [], "recent_conversion_event_name": [],
            "hs_lead_status": [], "hubspotscore": [],
        }

    def add(self, prop: str, ts: int, value: str, source: str) -> None:
        if ts > self.limit:
            if prop in self.TRUTH_PROPERTIES:
                raise AssertionError(f"generator bug: {prop} change after the cutoff")
            return
        self.lists[prop].append((ts, value, source))

    def ordered(self, prop: str) -> list[tuple[int, str, str]]:
        return sorted(self.lists[prop], key=lambda e: e[0])

    def current(self, prop: str) -> str | None:
        entries = self.ordered(prop)
        return entries[-1][1] if entries else None

    def as_v3(self) -> dict[str, list[dict]]:
        out = {}
        for prop, entries in self.lists.items():
            if entries:
                out[prop] = [{"value": v, "timestamp": iso(ts), "sourceType": s}
                             for ts, v, s in sorted(entries, key=lambda e: e[0], reverse=True)]
        return out

    def last_change(self) -> int:
        return max(ts for entries in self.lists.values() for ts, _, _ in entries)


