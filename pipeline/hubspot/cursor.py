"""The incremental cursor per object type, and the windowed search that walks changes past the 10,000 cap.

State (kept in dlt source state, i.e. the destination's ``_dlt_pipeline_state``)::

    {"max_seen_ms": <largest modified date loaded>, "tail": {id: modified ms, ...}}

The next run searches ``modified >= max_seen_ms - lag`` (search results lag writes by seconds, so a record
written just before ``max_seen`` may not have been visible yet). Records in that overlap that come back
with the same modified date as recorded in ``tail`` are known to be loaded already and are skipped, so a
run with no changes costs one search call per object type.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from pipeline.hubspot.client import SEARCH_PAGE_SIZE, HubSpotClient
from pipeline.hubspot.properties import modified_property
from pipeline.hubspot.rows import instant_ms

SEARCH_RESULT_CAP = 10_000  # HubSpot's limit per query; keyset paging below never gets near it
TAIL_CAP = 1_000  # above this, forget the tail: the next run re-reads the overlap (correct, just costlier)


@dataclass
class Cursor:
    max_seen_ms: int | None = None
    tail: dict[str, int] = field(default_factory=dict)

    @classmethod
    def from_state(cls, state: dict | None) -> Cursor | None:
        if not state or state.get("max_seen_ms") is None:
            return None
        return cls(int(state["max_seen_ms"]), {str(k): int(v) for k, v in (state.get("tail") or {}).items()})

    def to_state(self) -> dict:
        return {"max_seen_ms": self.max_seen_ms, "tail": dict(self.tail)}

    def search_from_ms(self, lag_ms: int) -> int:
        return (self.max_seen_ms or 0) - lag_ms

    def is_known(self, object_id: str, modified_ms: int | None) -> bool:
        """True when this exact version was loaded by an earlier run (it sits in the overlap window)."""
        return modified_ms is not None and self.tail.get(object_id) == modified_ms


class CursorTracker:
    """Collects the modified dates seen in one run and produces the next cursor."""

    def __init__(self, previous: Cursor | None, lag_ms: int) -> None:
        self.lag_ms = lag_ms
        self.max_seen_ms = previous.max_seen_ms if previous else None
        self._seen: dict[str, int] = {}

    def see(self, object_id: str, modified_ms: int | None) -> None:
        if modified_ms is None:
            return
        self._seen[object_id] = modified_ms
        if self.max_seen_ms is None or modified_ms > self.max_seen_ms:
            self.max_seen_ms = modified_ms

    def next_cursor(self, previous: Cursor | None) -> Cursor:
        if self.max_seen_ms is None:
            return previous or Cursor()
        floor = self.max_seen_ms - self.lag_ms
        tail = {i: ms for i, ms in self._seen.items() if ms >= floor}
        if previous:  # versions loaded earlier and still inside the window stay known
            for i, ms in previous.tail.items():
                if ms >= floor and i not in self._seen:
                    tail[i] = ms
        if len(tail) > TAIL_CAP:
            tail = {}
        return Cursor(self.max_seen_ms, tail)


def search_changed(
    client: HubSpotClient,
    object_type: str,
    properties: list[str],
    since_ms: int,
    *,
    page_size: int = SEARCH_PAGE_SIZE,
) -> Iterator[list[dict]]:
    """Pages of objects modified at or after ``since_ms``, ascending by modified date, each version once.

    Keyset paging: every page is a fresh query ``modified >= <last value seen>`` (no ``after`` offset), so
    a query never approaches the 10,000-result cap and records modified while we walk move ahead of us
    instead of shifting an offset past unseen rows. Records sharing the boundary instant come back on the
    next page and are dropped by (id, modified); a full page at a single instant is walked by
    ``hs_object_id`` within that instant.
    """
    prop = modified_property(object_type)
    wanted = list(dict.fromkeys([*properties, prop]))
    seen: set[tuple[str, int | None]] = set()
    lower, operator, tie_after_id = since_ms, "GTE", None
    while True:
        if tie_after_id is None:
            filters = [{"propertyName": prop, "operator": operator, "value": str(lower)}]
            sorts = [{"propertyName": prop, "direction": "ASCENDING"}]
        else:
            filters = [
                {"propertyName": prop, "operator": "EQ", "value": str(lower)},
                {"propertyName": "hs_object_id", "operator": "GT", "value": tie_after_id},
            ]
            sorts = [{"propertyName": "hs_object_id", "direction": "ASCENDING"}]
        results, _after, _total = client.search_page(
            object_type, filter_groups=[{"filters": filters}], sorts=sorts, properties=wanted, limit=page_size
        )
        fresh = []
        for result in results:
            key = (str(result["id"]), instant_ms((result.get("properties") or {}).get(prop)))
            if key not in seen:
                seen.add(key)
                fresh.append(result)
        if fresh:
            yield fresh
        full_page = len(results) >= page_size
        if tie_after_id is not None:
            if full_page:
                tie_after_id = str(results[-1]["id"])
            else:  # this instant is done: continue strictly after it
                operator, tie_after_id = "GT", None
            continue
        if not full_page:
            return
        last_ms = instant_ms((results[-1].get("properties") or {}).get(prop))
        if last_ms is not None and last_ms > lower:
            lower, operator = last_ms, "GTE"
        else:  # a full page at one instant: walk that instant by id
            lower = last_ms if last_ms is not None else lower
            tie_after_id = "0"
