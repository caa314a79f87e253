"""Snapshot loading: a valid file loads; every bad one fails with one line naming the object and the field."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from pipeline.errors import SnapshotError
from hubspot_sandbox.portal import Portal
from hubspot_sandbox.snapshot import load_snapshot, validate_snapshot
from tests.fixtures.sandbox import small_portal_snapshot


def write(tmp_path: Path, data) -> Path:
    path = tmp_path / "portal.json"
    path.write_bytes(data if isinstance(data, bytes) else orjson.dumps(data))
    return path


def failure(tmp_path: Path, data) -> str:
    with pytest.raises(SnapshotError) as err:
        load_snapshot(write(tmp_path, data))
    message = str(err.value)
    assert "\n" not in message
    return message.replace(str(tmp_path) + "/", "")


def test_valid_snapshot_loads_into_a_portal(tmp_path):
    data = load_snapshot(write(tmp_path, small_portal_snapshot()))
    assert Portal.from_snapshot(data).counts() == {
        "contacts": 5, "companies": 2, "deals": 1, "calls": 2, "emails": 1, "meetings": 1, "notes": 1, "tasks": 1,
        "communications": 1, "owners": 3}


def test_missing_file_and_corrupt_json(tmp_path):
    with pytest.raises(SnapshotError, match="nope.json: no such file"):
        load_snapshot(tmp_path / "nope.json")
    assert failure(tmp_path, b'{\n  "portal": {"id": 1,}\n}') == (
        "snapshot portal.json: not valid JSON at line 2, column 21: trailing comma is not allowed")


def _with(change) -> dict:
    data = small_portal_snapshot()
    change(data)
    return data


def _set_history_timestamp(data):
    data["contacts"][2]["propertiesWithHistory"] = {
        "lifecyclestage": [{"value": "lead", "timestamp": "yesterday", "sourceType": "CRM_UI"}]}


@pytest.mark.parametrize(("change", "expected"), [
    (_set_history_timestamp,
     'contacts[2] (id "3"): propertiesWithHistory.lifecyclestage[0].timestamp: "yesterday" is not an ISO-8601 '
     "timestamp (e.g. 2026-11-24T15:00:00.000Z)"),
    (lambda d: d["contacts"][0].update(id=57), "contacts[0].id: 57 must be a string of digits"),
    (lambda d: d["contacts"][1].update(id="1"), 'contacts[1] (id "1"): duplicate id in contacts'),
    (lambda d: d["contacts"][0]["properties"].update(hubspotscore=42),
     'contacts[0] (id "1"): properties.hubspotscore: 42 must be a string or null'),
    (lambda d: d["calls"][0]["associations"].update(contacts=["999"]),
     'calls[0] (id "7001"): associations.contacts[0]: "999" is not the id of any object in contacts'),
    (lambda d: d["deals"][0]["associations"].update(widgets=["1"]),
     'deals[0] (id "501"): associations.widgets: unknown object type'),
    (lambda d: d["contacts"][0]["propertiesWithHistory"]["lifecyclestage"].reverse(),
     'contacts[0] (id "1"): propertiesWithHistory.lifecyclestage[1].timestamp: "2026-03-02T10:00:00.000Z" is newer '
     "than the entry before it (history is newest first)"),
    (lambda d: d["contacts"][0]["propertiesWithHistory"]["hubspot_owner_id"][0].pop("sourceType"),
     'contacts[0] (id "1"): propertiesWithHistory.hubspot_owner_id[0].sourceType: null must be a string'),
    (lambda d: d["companies"][1].update(createdAt="2026-13-45"),
     'companies[1] (id "9002"): createdAt: "2026-13-45" is not an ISO-8601 timestamp'),
    (lambda d: d["emails"][0].update(archived="no"), 'emails[0] (id "7101"): archived: "no" must be true or false'),
    (lambda d: d["owners"][0].update(userId="9101"), 'owners[0] (id "101"): userId: "9101" must be an integer'),
    (lambda d: d["owners"][1]["teams"][0].pop("name"), 'owners[1] (id "102"): teams[0].name: null must be a string'),
    (lambda d: d.pop("portal"), 'portal: missing (e.g. "portal": {"id": 1234'),
    (lambda d: d["portal"].update(id="4242"), 'portal.id: "4242" must be an integer portal id'),
    (lambda d: d.update(tickets=[]), "key 'tickets': unknown top-level key"),
    (lambda d: d.update(notes={"id": "1"}), "notes: must be a list of objects"),
])
def test_bad_snapshots_name_object_and_field(tmp_path, change, expected):
    message = failure(tmp_path, _with(change))
    assert message.startswith("snapshot portal.json: ")
    assert expected in message


def test_validate_in_memory_and_from_snapshot_validates():
    bad = _with(lambda d: d["contacts"][0].update(createdAt=None))
    with pytest.raises(SnapshotError, match=r'snapshot <memory>: contacts\[0\] \(id "1"\): createdAt: null'):
        Portal.from_snapshot(bad)
    validate_snapshot(small_portal_snapshot(), "ok.json")
    with pytest.raises(SnapshotError, match="top level: must be a JSON object"):
        validate_snapshot([], "list.json")
