"""The paced, retrying HubSpot client against the sandbox: answers, one-line errors, retries, exact stats, pacing."""

from __future__ import annotations

import time

import pytest

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from pipeline.errors import HandoffError, HubSpotApiError
from pipeline.hubspot.client import DailyQuotaExhausted, HubSpotClient, HubSpotNotFoundError
from pipeline.hubspot.pacing import Pacer, RollingWindow, retry_after_seconds
from hubspot_sandbox.portal import Portal
from hubspot_sandbox.ratelimit import RateLimits
from hubspot_sandbox.server import run_in_thread
from tests.fixtures.sandbox import small_portal_snapshot


def client_for(sandbox, **kwargs) -> HubSpotClient:
    return HubSpotClient(sandbox.token, sandbox.base_url, **kwargs)


# ------------------------------------------------------------------------------------------ reads and writes
def test_reads_return_v3_json(sandbox):
    client = client_for(sandbox)
    page, after = client.list_page("contacts", ["email", "lifecyclestage"])
    assert after is None
    assert sorted(o["id"] for o in page) == ["1", "2", "3", "5", "6"]  # 4 is archived
    by_id = {o["id"]: o for o in page}
    assert by_id["1"]["properties"]["email"] == "ada@acme.io"
    assert by_id["2"]["properties"]["lifecyclestage"] == "customer"

    archived, _ = client.list_page("contacts", ["email"], archived=True)
    assert [o["id"] for o in archived] == ["4"]

    got = client.get_object("contacts", "5", ["email", "hubspotscore"], associations=["companies"])
    assert got["properties"]["email"] == "erin@acme.io"
    assert got["properties"]["hubspotscore"] == "61"

    read = client.batch_read("contacts", ["1", "2", "999"], ["email"], ["lifecyclestage"])
    assert sorted(o["id"] for o in read) == ["1", "2"]  # unknown ids are skipped (HubSpot answers 207)
    assert read[0]["propertiesWithHistory"]["lifecyclestage"][0]["value"] in ("marketingqualifiedlead", "customer")

    links = client.associated_ids("contacts", ["1", "5", "3"], "companies")
    assert links == {"1": ["9001"], "5": ["9001"], "3": []}


def test_writes_patch_and_task(sandbox):
    client = client_for(sandbox)
    updated = client.update_object("contacts", "1", {"hubspot_owner_id": "102"})
    assert updated["properties"]["hubspot_owner_id"] == "102"
    assert sandbox.portal.stores["contacts"].by_id["1"]["properties"]["hubspot_owner_id"] == "102"

    task = client.create_task({"hs_task_subject": "Call Ada now", "hs_timestamp": "2026-03-08T09:00:00.000Z",
                               "hubspot_owner_id": "102"}, "1")
    assert task["properties"]["hs_task_subject"] == "Call Ada now"
    assert sandbox.portal.associated_ids("tasks", task["id"], "contacts") == ["1"]

    with pytest.raises(HubSpotNotFoundError) as err:
        client.get_object("contacts", "424242", ["email"])
    assert "GET /crm/objects/2026-09/contacts/{id}" in str(err.value) and "404" in str(err.value)


# ---------------------------------------------------------------------------------------- one-line errors
def test_wrong_token_is_one_actionable_line_without_the_token(sandbox):
    client = HubSpotClient("pat-na1-wrong-secret-token", sandbox.base_url)
    with pytest.raises(HubSpotApiError) as err:
        client.list_page("contacts", ["email"])
    message = str(err.value)
    assert "\n" not in message
    assert "401" in message and "GET /crm/objects/2026-09/contacts" in message and "HUBSPOT_ACCESS_TOKEN" in message
    # new integrations use Service Keys (legacy private apps can no longer be created): the line says where
    assert "Service Key (HubSpot: Development > Keys > Service keys)" in message and "private app" in message
    assert "pat-na1-wrong-secret-token" not in message and "pat-na1-wrong-secret-token" not in repr(client)


def test_missing_scope_names_the_scope():
    portal = Portal.from_snapshot(small_portal_snapshot())
    granted = {"crm.objects.contacts.read", "crm.objects.owners.read"}
    with run_in_thread(portal, limits=RateLimits.unlimited(), scopes=granted) as sandbox:
        client = client_for(sandbox)
        client.list_page("contacts", ["email"])  # granted
        with pytest.raises(HubSpotApiError) as err:
            client.list_page("deals", ["dealname"])
    message = str(err.value)
    assert "\n" not in message
    assert "403" in message and "crm.objects.deals.read" in message and "GET /crm/objects/2026-09/deals" in message


def test_unknown_property_is_named(sandbox):
    client = client_for(sandbox)
    with pytest.raises(HubSpotApiError) as err:
        client.search_page("contacts", filter_groups=[{"filters": [
            {"propertyName": "lead_temperature_c", "operator": "HAS_PROPERTY"}]}], sorts=[], properties=["email"])
    message = str(err.value)
    assert "\n" not in message
    assert "'lead_temperature_c'" in message and "does not exist" in message and "400" in message


# ------------------------------------------------------------------------------- retries and exact counting
def test_5xx_and_dropped_connections_are_retried_and_counted_exactly():
    portal = Portal.from_snapshot(small_portal_snapshot())
    faults = "500=0.15,502=0.1,503=0.05,drop=0.1,429=0.1,seed=11"
    with run_in_thread(portal, limits=RateLimits.unlimited(), faults=faults) as sandbox:
        client = client_for(sandbox, give_up_after_s=60)
        client.backoff_max_s = 0.2
        ids = []
        for _ in range(12):
            page, _after = client.list_page("contacts", ["email"])
            ids.append(sorted(o["id"] for o in page))
        seen = sandbox.stats.snapshot()
    assert ids == [["1", "2", "3", "5", "6"]] * 12
    stats = client.stats.as_dict()
    # every request the server saw is in our count (the SDK's own urllib3 retries are off)
    assert stats["total_calls"] == seen["total_requests"]
    assert stats["total_calls"] > 12  # faults did happen and were retried
    assert stats["throttled_429"] == seen["rate_limited"]["fault"]
    assert stats["connection_errors"] == seen["faults"].get("drop", 0)


def test_gives_up_after_the_bound_with_the_endpoint_named():
    portal = Portal.from_snapshot(small_portal_snapshot())
    with run_in_thread(portal, limits=RateLimits.unlimited(), faults="503=1.0") as sandbox:
        client = client_for(sandbox, give_up_after_s=1.5)
        client.backoff_max_s = 0.3
        started = time.monotonic()
        with pytest.raises(HubSpotApiError) as err:
            client.list_page("companies", ["name"])
        elapsed = time.monotonic() - started
    assert elapsed < 5
    message = str(err.value)
    assert "\n" not in message and "GET /crm/objects/2026-09/companies" in message and "HTTP 503" in message


def test_an_unreachable_api_base_fails_fast_with_one_line():
    import socket

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = HubSpotClient("pat-secret", f"http://127.0.0.1:{port}", give_up_after_s=120)
    started = time.monotonic()
    with pytest.raises(HubSpotApiError) as err:
        client.list_page("contacts", ["email"])
    assert time.monotonic() - started < 10
    message = str(err.value)
    assert "\n" not in message and f"127.0.0.1:{port}" in message and "HUBSPOT_API_BASE" in message
    assert "pat-secret" not in message


def test_daily_limit_is_not_retried():
    portal = Portal.from_snapshot(small_portal_snapshot())
    with run_in_thread(portal, limits=RateLimits(daily=2)) as sandbox:
        client = client_for(sandbox, daily_reserve=0)  # no reserve: run into HubSpot's own 429 DAILY
        client.list_page("contacts", ["email"])
        client.list_page("contacts", ["email"])
        with pytest.raises(DailyQuotaExhausted) as err:
            client.list_page("contacts", ["email"])
    assert "daily API quota" in str(err.value) and client.stats.total_calls == 2  # the header said 0 left


def test_daily_quota_stops_cleanly_before_the_reserve_with_the_reset_time():
    portal = Portal.from_snapshot(small_portal_snapshot())  # portal time zone America/New_York
    with run_in_thread(portal, limits=RateLimits(daily=10_000)) as sandbox:
        sandbox.gate.limiter.use_daily(10_000 - 103)  # other integrations used the portal's quota
        client = client_for(sandbox, daily_reserve=100)
        client.account_details()  # 102 left: learns the portal's time zone
        client.list_page("contacts", ["email"])  # 101 left
        client.list_page("contacts", ["email"])  # 100 left: at the reserve
        with pytest.raises(DailyQuotaExhausted) as err:
            client.list_page("contacts", ["email"])
        assert sandbox.stats.snapshot()["total_requests"] == 3  # stopped before sending the fourth
    message = str(err.value)
    assert isinstance(err.value, HandoffError) and "\n" not in message
    assert "cursor untouched" in message and "resume after" in message and "America/New_York" in message
    resets = err.value.resets_at
    local = resets.astimezone(ZoneInfo("America/New_York"))
    assert (local.hour, local.minute) == (0, 0) and resets > datetime.now(timezone.utc)
    assert resets - datetime.now(timezone.utc) <= timedelta(days=1)


# ---------------------------------------------------------------------------------------------- pacing
class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_pacer_never_allows_more_than_the_limit_in_any_window():
    clock = FakeClock()
    pacer = Pacer(limit_per_10s=19, search_per_s=5, clock=clock, sleep=clock.sleep)
    sent: list[float] = []
    for i in range(100):
        is_search = i % 3 == 0
        pacer.acquire(is_search)
        sent.append(clock.now)
        clock.now += 0.05  # the response takes 50 ms
        pacer.release(is_search)
    general = [t for i, t in enumerate(sent) if i % 3 != 0]
    for start in general:  # searches are exempt from the 10-second window (HubSpot: ten-secondly exemption)
        assert sum(1 for t in general if start <= t < start + 10.0) <= 19
    searches = sent[::3]
    for start in searches:
        assert sum(1 for t in searches if start <= t < start + 1.0) <= 5
    # and it is not needlessly slow: 66 ordinary requests at 19 per 10 s need a little over 30 s
    assert sent[-1] < 10.0 * (66 / 19) + 1.0


def test_searches_have_their_own_window_and_do_not_use_the_ten_second_budget():
    clock = FakeClock()
    pacer = Pacer(limit_per_10s=10, search_per_s=5, clock=clock, sleep=clock.sleep)
    for _ in range(10):  # the 10-second budget, used up at once
        pacer.acquire()
        pacer.release()
    started = clock.now
    for _ in range(5):  # searches still go at once: they count only against 5 per second
        pacer.acquire(is_search=True)
        pacer.release(is_search=True)
    assert clock.now == started
    pacer.acquire(is_search=True)  # the sixth search in the second waits for the search window, not 10 s
    assert 0.9 < clock.now - started < 1.1


def test_secondly_header_is_the_general_per_second_allowance():
    clock = FakeClock()
    pacer = Pacer(limit_per_10s=190, search_per_s=5, clock=clock, sleep=clock.sleep)
    pacer.observe_headers({"X-HubSpot-RateLimit-Secondly": "4"})
    assert pacer.search.limit == 5  # not the search limit
    for _ in range(4):
        pacer.acquire()
        pacer.release()
    assert clock.now == 0
    pacer.acquire()  # the fifth ordinary request within a second waits
    assert clock.now >= 0.99


def test_pacer_pause_and_headers():
    clock = FakeClock()
    pacer = Pacer(limit_per_10s=190, clock=clock, sleep=clock.sleep)
    pacer.pause(2.5)
    pacer.acquire()
    assert clock.now == pytest.approx(2.5)
    pacer.release()
    pacer.observe_headers({"X-HubSpot-RateLimit-Max": "100", "X-HubSpot-RateLimit-Remaining": "50"})
    assert pacer.general.limit == 100  # a Starter portal's lower limit is adopted
    assert retry_after_seconds({"Retry-After": "3"}, 1.0) == 3.0
    assert retry_after_seconds({"X-HubSpot-RateLimit-Interval-Milliseconds": "10000"}, 1.0) == 1.0
    assert retry_after_seconds({}, 1.5) == 1.5


def test_rolling_window_counts_in_flight_requests():
    window = RollingWindow(limit=2, seconds=10.0)
    window.in_flight = 2
    assert window.wait_time(0.0) > 0
    window.finish(1.0)
    window.finish(2.0)
    assert window.wait_time(5.0) == pytest.approx(6.001, abs=0.01)  # the oldest slot frees at 11.0
    assert window.wait_time(11.5) == 0.0


# ------------------------------------------------------------------------- non-idempotent writes: never twice
@pytest.mark.parametrize("fault", ["500=1.0,seed=3", "drop=1.0,seed=3"])
def test_task_creation_is_not_repeated_after_an_ambiguous_failure(fault):
    from pipeline.hubspot.client import HubSpotAmbiguousWriteError

    portal = Portal.from_snapshot(small_portal_snapshot())
    tasks_before = len(portal.stores["tasks"].by_id)
    with run_in_thread(portal, faults=fault) as sandbox:
        client = client_for(sandbox, give_up_after_s=5)
        with pytest.raises(HubSpotAmbiguousWriteError) as err:
            client.create_task({"hs_task_subject": "Call Ada", "hs_timestamp": "2026-03-08T09:00:00.000Z"}, "1")
        assert client.stats.as_dict()["calls_by_endpoint"] == {"POST /crm/objects/2026-09/tasks": 1}
    message = str(err.value)
    assert message.startswith("POST /crm/objects/2026-09/tasks failed after it was sent")
    assert "not repeated" in message and "\n" not in message
    assert len(portal.stores["tasks"].by_id) == tasks_before  # the sandbox applies no faulted write


def test_task_creation_retries_a_429_because_it_was_not_applied():
    portal = Portal.from_snapshot(small_portal_snapshot())
    with run_in_thread(portal, faults="429=1.0,seed=3") as sandbox:
        client = client_for(sandbox, give_up_after_s=2.5)
        with pytest.raises(HubSpotApiError, match="HubSpot kept failing on POST /crm/objects/2026-09/tasks"):
            client.create_task({"hs_task_subject": "Call Ada", "hs_timestamp": "2026-03-08T09:00:00.000Z"}, "1")
        assert client.stats.as_dict()["calls_by_endpoint"]["POST /crm/objects/2026-09/tasks"] >= 2
