"""One object type's store: objects by id, sorted id lists (paging) and a sorted modified-date index (search)."""

from __future__ import annotations

import bisect

from hubspot_sandbox.crm_model import BUILTIN_PROPERTIES, iso_ms, modified_property


class ObjectStore:
    """One object type: objects by id, sorted id lists (paging) and a sorted modified-date index (search)."""

    def __init__(self, object_type: str):
        self.type = object_type
        self.modified_name = modified_property(object_type)
        self.by_id: dict[str, dict] = {}
        self.active: list[int] = []
        self.archived: list[int] = []
        self.modified: list[tuple[int, int]] = []  # (modified ms, int id) of active objects, sorted
        self.schema: set[str] = set(BUILTIN_PROPERTIES[object_type])
        self.next_id = 1

    def modified_key(self, obj: dict) -> tuple[int, int]:
        return (iso_ms(obj["properties"].get(self.modified_name)), int(obj["id"]))

    def index_add(self, obj: dict) -> None:
        oid = int(obj["id"])
        if obj.get("archived"):
            bisect.insort(self.archived, oid)
        else:
            bisect.insort(self.active, oid)
            bisect.insort(self.modified, self.modified_key(obj))

    def index_remove(self, obj: dict) -> None:
        oid = int(obj["id"])
        if obj.get("archived"):
            _remove_sorted(self.archived, oid)
        else:
            _remove_sorted(self.active, oid)
            _remove_sorted(self.modified, self.modified_key(obj))


def _remove_sorted(values: list, value) -> None:
    position = bisect.bisect_left(values, value)
    if position < len(values) and values[position] == value:
        del values[position]
