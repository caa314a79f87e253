"""The cursor's overlap bookkeeping and the keyset search walk, on hand-stated values."""

from __future__ import annotations

from pipeline.hubspot.cursor import Cursor, CursorTracker, search_changed
from pipeline.hubspot.rows import association_rows, history_rows, object_row


def test_next_cursor_keeps_the_versions_inside_the_overlap():
    previous = Cursor(max_seen_ms=10_000, tail={"1": 9_000, "2": 10_000})
    tracker = CursorTracker(previous, lag_ms=2_000)
    tracker.see("2", 10_000)  # seen again, unchanged
    tracker.see("3", 11_500)
    tracker.see("4", 12_000)
    cursor = tracker.next_cursor(previous)
    assert cursor.max_seen_ms == 12_000
    # floor = 10,000: "1" (9,000) left the window, "2" stays, "3" and "4" join
    assert cursor.tail == {"2": 10_000, "3": 11_500, "4": 12_000}
    assert cursor.search_from_ms(2_000) == 10_000
    assert cursor.is_known("3", 11_500) and not cursor.is_known("3", 11_501) and not cursor.is_known("9", 12_000)
    assert Cursor.from_state(cursor.to_state()) == cursor
    assert Cursor.from_state(None) is None and Cursor.from_state({"max_seen_ms": None}) is None


def test_a_run_that_sees_nothing_keeps_the_cursor():
    previous = Cursor(max_seen_ms=5_000, tail={"7": 5_000})
    assert CursorTracker(previous, lag_ms=1_000).next_cursor(previous) == previous


class ScriptedSearch:
    """Answers searches from a fixed list of (id, modified ms), applying the filters and sort it is sent."""

    def __init__(self, records: list[tuple[str, int]]):
        self.records = records
        self.requests: list[dict] = []

    def search_page(self, object_type, *, filter_groups, sorts, properties, after=None, limit=200):
        self.requests.append({"filters": filter_groups[0]["filters"], "sort": sorts[0]["propertyName"]})
        rows = self.records
        for f in filter_groups[0]["filters"]:
            value = int(f["value"])
            key = (lambda r: r[1]) if f["propertyName"] == "lastmodifieddate" else (lambda r: int(r[0]))
            op = {"GTE": lambda a: a >= value, "GT": lambda a: a > value, "EQ": lambda a: a == value}[f["operator"]]
            rows = [r for r in rows if op(key(r))]
        if sorts[0]["propertyName"] == "hs_object_id":
            rows = sorted(rows, key=lambda r: int(r[0]))
        else:
            rows = sorted(rows, key=lambda r: (r[1], -int(r[0])))  # ties in an order unlike id order
        page = rows[:limit]
        results = [{"id": i, "properties": {"lastmodifieddate": str(ms)}} for i, ms in page]
        return results, None, len(rows)


def test_keyset_walk_returns_every_record_once_across_a_shared_instant():
    # 5 records before, 12 sharing instant 100, 4 after; pages of 5
    records = [(str(i), 50 + i) for i in range(1, 6)]
    records += [(str(i), 100) for i in range(10, 22)]
    records += [(str(i), 200 + i) for i in range(30, 34)]
    fake = ScriptedSearch(records)
    pages = list(search_changed(fake, "contacts", ["email"], since_ms=0, page_size=5))
    seen = [r["id"] for page in pages for r in page]
    assert sorted(seen, key=int) == sorted((r[0] for r in records), key=int)
    assert len(seen) == len(set(seen))
    # the shared instant was walked by id: EQ 100 with hs_object_id > last id, then strictly after it
    tie_queries = [r for r in fake.requests if r["sort"] == "hs_object_id"]
    assert [q["filters"][1]["value"] for q in tie_queries] == ["0", "14", "19"]
    assert any(q["filters"][0] == {"propertyName": "lastmodifieddate", "operator": "GT", "value": "100"}
               for q in fake.requests)


def test_rows_follow_the_contract():
    contact = {"id": "7", "createdAt": "2026-01-01T00:00:00Z", "updatedAt": "2026-01-02T00:00:00.123Z",
               "archived": False,
               "properties": {"email": "a@b.c", "lastmodifieddate": "2026-01-02T00:00:00.123Z", "hubspotscore": "12"},
               "propertiesWithHistory": {"lifecyclestage": [
                   {"value": "marketingqualifiedlead", "timestamp": "2026-01-02T00:00:00Z", "sourceType": "WORKFLOW"},
                   {"value": "lead", "timestamp": "2026-01-01T00:00:00Z", "sourceType": "FORM"}],
                   "hs_lead_status": [{"value": None, "timestamp": "2026-01-01T00:00:00Z", "sourceType": "CRM_UI"}]}}
    row = object_row("contacts", contact)
    assert row["id"] == "7" and row["email"] == "a@b.c" and row["hubspotscore"] == "12"
    assert row["lastmodifieddate"].isoformat() == "2026-01-02T00:00:00.123000+00:00"
    assert row["archived"] is False and row["merged_into_id"] is None and row["jobtitle"] is None
    assert object_row("contacts", contact, archived=True)["archived"] is True
    history = history_rows(contact)
    assert [(h["property"], h["value"], h["position"]) for h in history] == [
        ("lifecyclestage", "marketingqualifiedlead", 0), ("lifecyclestage", "lead", 1), ("hs_lead_status", "", 0)]
    unlabelled = {"category": "HUBSPOT_DEFINED", "typeId": 194, "label": None}
    rows = association_rows("calls", "contacts", {"1": {"7": [unlabelled], "8": [unlabelled]}, "2": {}})
    call_type = '[{"category":"HUBSPOT_DEFINED","typeId":194,"label":null}]'
    assert rows == [
        {"from_type": "calls", "from_id": "1", "to_type": "contacts", "to_id": "7", "association_types": call_type,
         "is_primary": False, "deleted": False},
        {"from_type": "calls", "from_id": "1", "to_type": "contacts", "to_id": "8", "association_types": call_type,
         "is_primary": False, "deleted": False},
        {"from_type": "calls", "from_id": "2", "to_type": "contacts", "to_id": "", "association_types": None,
         "is_primary": False, "deleted": False},  # marker
    ]
