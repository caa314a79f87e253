"""CRM search semantics: each operator, AND/OR, sorts, paging, the 10,000 cap, archived objects, search lag.

Expected ids come from the hand-written fixture (tests/fixtures/sandbox.py): live contacts 1, 2, 3, 5, 6 with
scores 42, 88, 5, 61, 17; contact 4 is archived.
"""

from __future__ import annotations

from datetime import datetime

import httpx
import pytest
from hubspot.crm.contacts import PublicObjectSearchRequest
from hubspot.crm.contacts.exceptions import ApiException

from hubspot_sandbox.portal import Portal
from hubspot_sandbox.ratelimit import RateLimits
from hubspot_sandbox.server import run_in_thread
from tests.fixtures.sandbox import small_portal_snapshot


def search(sandbox, body: dict, object_type: str = "contacts") -> httpx.Response:
    return httpx.post(f"{sandbox.base_url}/crm/v3/objects/{object_type}/search", json=body,
                      headers={"Authorization": f"Bearer {sandbox.token}"})


def ids(sandbox, *filters, groups=None, **body) -> list[str]:
    groups = groups if groups is not None else [{"filters": list(filters)}]
    answer = search(sandbox, {"filterGroups": groups, "limit": 200, **body})
    assert answer.status_code == 200, answer.text
    return [r["id"] for r in answer.json()["results"]]


def f(prop: str, operator: str, value=None, **extra) -> dict:
    spec = {"propertyName": prop, "operator": operator, **extra}
    if value is not None:
        spec["value"] = value
    return spec


def ms(text: str) -> str:
    return str(int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000))


@pytest.mark.parametrize(("spec", "expected"), [
    (f("email", "EQ", "ADA@acme.io"), ["1"]),  # strings compare case-insensitively
    (f("lifecyclestage", "NEQ", "lead"), ["1", "2", "3", "5"]),
    (f("hubspotscore", "GT", "10"), ["1", "2", "5", "6"]),  # numerically: "5" is not above "10"
    (f("hubspotscore", "GTE", "42"), ["1", "2", "5"]),
    (f("hubspotscore", "LT", "20"), ["3", "6"]),
    (f("hubspotscore", "LTE", "17"), ["3", "6"]),
    (f("hubspotscore", "BETWEEN", "17", highValue="61"), ["1", "5", "6"]),
    (f("lifecyclestage", "IN", values=["lead", "customer"]), ["2", "6"]),
    (f("country", "NOT_IN", values=["Germany"]), ["2", "3", "6"]),  # no value counts as not in
    (f("hubspot_owner_id", "HAS_PROPERTY"), ["1", "2", "5", "6"]),
    (f("hubspot_owner_id", "NOT_HAS_PROPERTY"), ["3"]),
    (f("lastmodifieddate", "LTE", "2026-03-05T10:00:00Z"), ["1", "3", "6"]),  # ISO instants
    (f("createdate", "GTE", ms("2026-03-01T09:00:00Z")), ["1", "5"]),  # epoch-ms strings
    (f("lastmodifieddate", "EQ", ms("2026-03-05T10:00:00Z")), ["1", "6"]),
    (f("lastmodifieddate", "BETWEEN", "2026-03-04T00:00:00Z", highValue=ms("2026-03-06T12:00:00Z")),
     ["1", "2", "3", "6"]),
    (f("email", "EQ", "dave@old.com"), []),  # archived: never returned
])
def test_each_operator(sandbox, spec, expected):
    assert ids(sandbox, spec) == expected


def test_filters_and_within_a_group_or_across_groups(sandbox):
    assert ids(sandbox, f("country", "EQ", "Germany"), f("hubspotscore", "GT", "50")) == ["5"]
    assert ids(sandbox, groups=[{"filters": [f("country", "EQ", "France")]},
                                {"filters": [f("lifecyclestage", "EQ", "customer")]}]) == ["2", "6"]
    assert ids(sandbox, groups=[]) == ["1", "2", "3", "5", "6"]


def test_sorts_numbers_strings_missing_last_and_shorthand(sandbox):
    desc = [{"propertyName": "hubspotscore", "direction": "DESCENDING"}]
    assert ids(sandbox, groups=[], sorts=desc) == ["2", "5", "1", "6", "3"]
    assert ids(sandbox, groups=[], sorts=["email"]) == ["1", "2", "3", "5", "6"]
    assert ids(sandbox, groups=[], sorts=["-email"]) == ["6", "5", "3", "2", "1"]
    assert ids(sandbox, groups=[], sorts=["country"]) == ["6", "1", "5", "2", "3"]


def test_modified_date_window_sorted_ascending_and_descending(sandbox):
    window = [f("lastmodifieddate", "GTE", "2026-03-05T00:00:00Z"), f("hubspotscore", "GT", "20")]
    assert ids(sandbox, *window, sorts=[{"propertyName": "lastmodifieddate", "direction": "ASCENDING"}]) == [
        "1", "2", "5"]
    assert ids(sandbox, *window, sorts=[{"propertyName": "lastmodifieddate", "direction": "DESCENDING"}]) == [
        "5", "2", "1"]


def test_paging_total_and_properties(sandbox):
    first = search(sandbox, {"filterGroups": [], "limit": 2, "properties": ["hubspotscore"]}).json()
    assert first["total"] == 5
    assert [r["id"] for r in first["results"]] == ["1", "2"]
    assert first["results"][0]["properties"] == {
        "createdate": "2026-03-01T09:00:00.000Z", "hs_object_id": "1", "hubspotscore": "42",
        "lastmodifieddate": "2026-03-05T10:00:00.000Z"}
    assert first["paging"] == {"next": {"after": "2"}}
    last = search(sandbox, {"filterGroups": [], "limit": 2, "after": "4"}).json()
    assert [r["id"] for r in last["results"]] == ["6"] and "paging" not in last


def test_free_text_query(sandbox):
    answer = search(sandbox, {"query": "acme", "limit": 10}).json()
    assert [r["id"] for r in answer["results"]] == ["1", "5"]


@pytest.mark.parametrize(("body", "needle"), [
    ({"filterGroups": [{"filters": [f("no_such_prop", "EQ", "x")]}]}, "no_such_prop"),
    ({"filterGroups": [{"filters": [f("email", "LIKE", "x")]}]}, "unknown operator 'LIKE'"),
    ({"filterGroups": [{"filters": [f("lastmodifieddate", "GT", "last tuesday")]}]}, "is not a date"),
    ({"filterGroups": [{"filters": [f("email", "IN")]}]}, "non-empty 'values'"),
    ({"limit": 201}, "maximum of 200"),
    ({"sorts": ["nope"]}, "unknown property 'nope'"),
    ({"filterGroups": [{"filters": []}] * 6}, "Too many filter groups: 6 (at most 5)"),
    ({"filterGroups": [{"filters": [f("email", "HAS_PROPERTY")] * 7}]}, "Too many filters in a group: 7 (at most 6)"),
    ({"filterGroups": [{"filters": [f("email", "HAS_PROPERTY")] * 6}] * 3 + [{"filters": [f("email", "HAS_PROPERTY")]}]},
     "Too many filters in all groups: 19 (at most 18)"),
    ({"filterGroups": [{"filters": [f("email", "HAS_PROPERTY")] * 6}] * 2,
      "filters": [f("email", "HAS_PROPERTY")] * 6 + [f("email", "HAS_PROPERTY")]}, "at most 6"),
])
def test_invalid_search_is_400_validation_error(sandbox, body, needle):
    answer = search(sandbox, body)
    assert answer.status_code == 400
    assert answer.json()["category"] == "VALIDATION_ERROR"
    assert needle in answer.json()["message"]


def test_top_level_filters_are_anded_with_every_group(sandbox):
    """HubSpot ANDs a top-level ``filters`` array with the filter groups (it was ignored before)."""
    only_top = search(sandbox, {"filters": [f("country", "EQ", "Germany")], "limit": 10}).json()
    assert [r["id"] for r in only_top["results"]] == ["1", "5"]
    both = search(sandbox, {"filters": [f("country", "EQ", "Germany")],
                            "filterGroups": [{"filters": [f("hubspotscore", "GT", "50")]},
                                             {"filters": [f("email", "EQ", "bob@globex.com")]}],
                            "limit": 10}).json()
    assert [r["id"] for r in both["results"]] == ["5"]  # bob matches a group but not the top-level filter
    assert both["total"] == 1


def test_ten_thousand_result_cap():
    data = small_portal_snapshot()
    portal = Portal.from_snapshot(data)
    for i in range(10_050):
        portal.create("notes", {"hs_timestamp": "2026-03-01T00:00:00Z", "hs_note_body": f"n{i}"},
                      created_at="2026-03-01T00:00:00Z")
    with run_in_thread(portal, limits=RateLimits.unlimited()) as sandbox:
        seen, after = 0, None
        # the extractor's pattern: a window on the modified date, sorted ascending by it
        body = {"filterGroups": [{"filters": [f("hs_lastmodifieddate", "GTE", "0")]}], "limit": 200,
                "sorts": ["hs_lastmodifieddate"], "properties": ["hs_note_body"]}
        while True:
            answer = search(sandbox, {**body, **({"after": after} if after else {})}, "notes")
            if answer.status_code != 200:
                break
            page = answer.json()
            assert page["total"] == 10_051  # the fixture's note + 10,050
            seen += len(page["results"])
            after = page["paging"]["next"]["after"]
        assert seen == 10_000
        assert after == "10000"
        assert answer.status_code == 400
        error = answer.json()
        assert error["category"] == "VALIDATION_ERROR" and error["status"] == "error" and error["correlationId"]
        assert "10,000" in error["message"]


def test_cap_through_the_client(hubspot_client):
    with pytest.raises(ApiException) as err:
        hubspot_client.crm.contacts.search_api.do_search(
            public_object_search_request=PublicObjectSearchRequest(after="9900", limit=200))
    assert err.value.status == 400


def test_search_lag_hides_writes_from_search_only(monkeypatch):
    import types

    import hubspot_sandbox.portal as portal_module

    now = [100.0]  # a fake monotonic clock for the lag: no real wait, no race with a loaded machine
    monkeypatch.setattr(portal_module, "time", types.SimpleNamespace(monotonic=lambda: now[0]))
    portal = Portal.from_snapshot(small_portal_snapshot())
    with run_in_thread(portal, limits=RateLimits.unlimited(), search_lag_s=0.6) as sandbox:
        portal.update("contacts", "3", {"lifecyclestage": "lead"})
        new_id = portal.create("contacts", {"email": "zed@new.io", "lifecyclestage": "lead"})
        assert ids(sandbox, f("lifecyclestage", "EQ", "lead")) == ["6"]  # search still sees the old state
        shown = httpx.get(f"{sandbox.base_url}/crm/v3/objects/contacts/3?properties=lifecyclestage",
                          headers={"Authorization": f"Bearer {sandbox.token}"}).json()
        assert shown["properties"]["lifecyclestage"] == "lead"  # reads see the write at once
        now[0] += 0.599
        assert ids(sandbox, f("lifecyclestage", "EQ", "lead")) == ["6"]  # 1 ms before the lag is over
        now[0] += 0.001
        assert ids(sandbox, f("lifecyclestage", "EQ", "lead")) == ["3", "6", new_id]


def test_written_modified_dates_are_searchable_at_their_new_instant(sandbox):
    sandbox.portal.update("contacts", "3", {"hs_lead_status": "OPEN"}, at="2026-03-09T00:00:00Z")
    window = [f("lastmodifieddate", "GT", "2026-03-08T00:00:00Z")]
    assert ids(sandbox, *window, sorts=["lastmodifieddate"]) == ["3"]
    assert ids(sandbox, f("lastmodifieddate", "EQ", "2026-03-04T08:00:00Z")) == []
