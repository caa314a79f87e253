"""The portal mutation API other tests use between syncs, and that writes show up in later reads over HTTP."""

from __future__ import annotations

from datetime import datetime, timezone

import httpx
import pytest

from hubspot_sandbox.portal import Portal
from hubspot_sandbox.ratelimit import RateLimits
from hubspot_sandbox.server import run_in_thread
from tests.fixtures.sandbox import small_portal_snapshot

PINNED = datetime(2026, 3, 10, 8, 30, tzinfo=timezone.utc)


@pytest.fixture
def pinned():
    portal = Portal.from_snapshot(small_portal_snapshot(), clock=lambda: PINNED)
    with run_in_thread(portal, limits=RateLimits.unlimited()) as handle:
        yield handle


def get(handle, path: str, **params) -> dict:
    answer = httpx.get(f"{handle.base_url}{path}", params=params, headers={"Authorization": f"Bearer {handle.token}"})
    assert answer.status_code == 200, answer.text
    return answer.json()


def search_ids(handle, object_type: str, body: dict) -> list[str]:
    answer = httpx.post(f"{handle.base_url}/crm/v3/objects/{object_type}/search", json=body,
                        headers={"Authorization": f"Bearer {handle.token}"})
    return [r["id"] for r in answer.json()["results"]]


def test_create_uses_the_clock_and_is_listed_searched_and_associated(pinned):
    new_id = pinned.portal.create("calls", {"hs_timestamp": "2026-03-10T08:00:00Z", "hs_call_direction": "OUTBOUND"},
                                  associations={"contacts": ["3"]})
    assert new_id == "7003"
    call = get(pinned, f"/crm/v3/objects/calls/{new_id}", properties="hs_call_direction", associations="contacts")
    assert call["createdAt"] == call["updatedAt"] == "2026-03-10T08:30:00.000Z"
    assert call["properties"]["hs_lastmodifieddate"] == "2026-03-10T08:30:00.000Z"
    assert call["associations"]["contacts"]["results"] == [{"id": "3", "type": "call_to_contact"}]
    contact = get(pinned, "/crm/v3/objects/contacts/3", associations="calls")
    assert contact["associations"]["calls"]["results"] == [{"id": new_id, "type": "contact_to_call"}]
    assert search_ids(pinned, "calls", {"filterGroups": [{"filters": [
        {"propertyName": "hs_lastmodifieddate", "operator": "GTE", "value": "2026-03-10T00:00:00Z"}]}]}) == [new_id]
    backdated = pinned.portal.create("contacts", {"email": "old@x.io"}, created_at="2025-01-01T00:00:00Z")
    assert get(pinned, f"/crm/v3/objects/contacts/{backdated}")["createdAt"] == "2025-01-01T00:00:00.000Z"


def test_update_appends_history_newest_first_and_moves_modified_date(pinned):
    pinned.portal.update("contacts", "1", {"lifecyclestage": "salesqualifiedlead"}, at="2026-03-09T00:00:00Z")
    pinned.portal.update("contacts", "1", {"lifecyclestage": "salesqualifiedlead"})  # same value: no change
    pinned.portal.update("contacts", "1", {"hubspot_owner_id": "102"})
    contact = get(pinned, "/crm/v3/objects/contacts/1", propertiesWithHistory="lifecyclestage,hubspot_owner_id")
    assert [(h["value"], h["timestamp"]) for h in contact["propertiesWithHistory"]["lifecyclestage"]] == [
        ("salesqualifiedlead", "2026-03-09T00:00:00.000Z"),
        ("marketingqualifiedlead", "2026-03-02T10:00:00.000Z"),
        ("lead", "2026-03-01T09:00:00.000Z"),
    ]
    assert [(h["value"], h["timestamp"]) for h in contact["propertiesWithHistory"]["hubspot_owner_id"]] == [
        ("102", "2026-03-10T08:30:00.000Z"), ("101", "2026-03-02T10:05:00.000Z")]
    assert contact["updatedAt"] == "2026-03-10T08:30:00.000Z"
    assert contact["properties"]["lastmodifieddate"] == "2026-03-10T08:30:00.000Z"
    # a property without history in the file keeps its old value as an entry at createdAt
    pinned.portal.update("contacts", "2", {"hubspotscore": "90"}, at="2026-03-09T12:00:00Z")
    bob = get(pinned, "/crm/v3/objects/contacts/2", propertiesWithHistory="hubspotscore")
    assert [(h["value"], h["timestamp"]) for h in bob["propertiesWithHistory"]["hubspotscore"]] == [
        ("90", "2026-03-09T12:00:00.000Z"), ("88", "2026-02-01T09:00:00.000Z")]


def test_backdated_write_lands_in_history_order(pinned):
    pinned.portal.update("contacts", "1", {"lifecyclestage": "opportunity"}, at="2026-03-01T12:00:00Z")
    history = get(pinned, "/crm/v3/objects/contacts/1", propertiesWithHistory="lifecyclestage")
    assert [h["value"] for h in history["propertiesWithHistory"]["lifecyclestage"]] == [
        "marketingqualifiedlead", "opportunity", "lead"]


def test_archive_hides_from_list_search_and_get(pinned):
    pinned.portal.archive("emails", "7101")
    assert get(pinned, "/crm/v3/objects/emails")["results"] == []
    archived = get(pinned, "/crm/v3/objects/emails", archived="true")["results"]
    assert [(e["id"], e["archived"], e["archivedAt"]) for e in archived] == [("7101", True, "2026-03-10T08:30:00.000Z")]
    assert search_ids(pinned, "emails", {}) == []
    missing = httpx.get(f"{pinned.base_url}/crm/v3/objects/emails/7101", headers={"Authorization": "Bearer sandbox-token"})
    assert missing.status_code == 404 and missing.json()["category"] == "OBJECT_NOT_FOUND"
    # archived engagements drop out of their contact's associations
    assert "associations" not in get(pinned, "/crm/v3/objects/contacts/1", associations="emails")


def test_merge_contacts_like_hubspot(pinned):
    pinned.portal.merge_contacts("1", "5")
    pinned.portal.merge_contacts("1", "6")
    listed = [c["id"] for c in get(pinned, "/crm/v3/objects/contacts")["results"]]
    assert listed == ["1", "2", "3"]
    assert [c["id"] for c in get(pinned, "/crm/v3/objects/contacts", archived="true")["results"]] == ["4", "5", "6"]
    assert search_ids(pinned, "contacts", {"limit": 100}) == ["1", "2", "3"]
    primary = get(pinned, "/crm/v3/objects/contacts/1", properties="hs_merged_object_ids",
                  associations="companies,communications,meetings")
    assert primary["properties"]["hs_merged_object_ids"] == "5;6"
    assert [a["id"] for a in primary["associations"]["communications"]["results"]] == ["7501"]
    assert [a["id"] for a in primary["associations"]["meetings"]["results"]] == ["7201"]
    assert {a["id"] for a in primary["associations"]["companies"]["results"]} == {"9001"}
    assert get(pinned, "/crm/v3/objects/contacts/5")["id"] == "1"  # a merged-away id answers the survivor
    with pytest.raises(KeyError):
        pinned.portal.merge_contacts("1", "5")  # already merged away


def test_associate_shows_in_v3_and_v4(pinned):
    pinned.portal.associate("calls", "7002", "contacts", "3")
    answer = httpx.post(f"{pinned.base_url}/crm/v4/associations/contacts/calls/batch/read",
                        headers={"Authorization": "Bearer sandbox-token"}, json={"inputs": [{"id": "3"}]}).json()
    assert [t["toObjectId"] for t in answer["results"][0]["to"]] == ["7002"]
    assert get(pinned, "/crm/v3/objects/calls/7002", associations="contacts")["associations"]["contacts"]["results"] == [
        {"id": "2", "type": "call_to_contact"}, {"id": "3", "type": "call_to_contact"}]


def test_snapshot_dict_is_never_changed():
    data = small_portal_snapshot()
    portal = Portal.from_snapshot(data)
    portal.update("contacts", "1", {"lifecyclestage": "customer"})
    portal.merge_contacts("2", "3")
    portal.archive("calls", "7001")
    assert data == small_portal_snapshot()


def test_unknown_objects_raise_key_errors():
    portal = Portal.from_snapshot(small_portal_snapshot())
    with pytest.raises(KeyError, match="no contacts with id '99'"):
        portal.update("contacts", "99", {"email": "x"})
    with pytest.raises(KeyError, match="no companies with id '1'"):
        portal.create("contacts", {"email": "x"}, associations={"companies": ["1"]})


def test_concurrent_clients_while_the_portal_is_mutated(pinned):
    import threading

    statuses: list[int] = []
    lock = threading.Lock()

    def client(kind: str) -> None:
        with httpx.Client(base_url=pinned.base_url, headers={"Authorization": "Bearer sandbox-token"}) as http:
            for _ in range(40):
                if kind == "list":
                    answer = http.get("/crm/v3/objects/contacts", params={"limit": 50, "propertiesWithHistory": "lifecyclestage"})
                elif kind == "search":
                    answer = http.post("/crm/v3/objects/contacts/search", json={"sorts": ["lastmodifieddate"], "limit": 200,
                        "filterGroups": [{"filters": [{"propertyName": "lastmodifieddate", "operator": "GTE", "value": "0"}]}]})
                else:
                    answer = http.patch("/crm/v3/objects/contacts/2", json={"properties": {"hs_lead_status": kind}})
                with lock:
                    statuses.append(answer.status_code)

    threads = [threading.Thread(target=client, args=(k,)) for k in ("list", "search", "OPEN", "IN_PROGRESS")]
    for thread in threads:
        thread.start()
    created = [pinned.portal.create("contacts", {"email": f"c{i}@x.io"}) for i in range(100)]
    for thread in threads:
        thread.join()
    assert statuses == [200] * 160
    listed = get(pinned, "/crm/v3/objects/contacts", limit="100")["results"]
    assert len(listed) == 100  # 5 fixture contacts + 100 created, first page
    assert search_ids(pinned, "contacts", {"limit": 200})[-100:] == created
    contact = get(pinned, "/crm/v3/objects/contacts/2", properties="hs_lead_status",
                  propertiesWithHistory="hs_lead_status")
    values = [h["value"] for h in contact["propertiesWithHistory"]["hs_lead_status"]]
    # only real changes are recorded: entries alternate, the newest is the current value
    assert 1 <= len(values) <= 80
    assert all(a != b for a, b in zip(values, values[1:], strict=False))
    assert values[0] == contact["properties"]["hs_lead_status"]
