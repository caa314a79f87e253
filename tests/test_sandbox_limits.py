"""The sandbox's edge: bearer auth (401), scopes (403), rate limits (429 + headers), faults, statistics."""

from __future__ import annotations

import time

import httpx
import pytest
from hubspot import HubSpot
from hubspot.crm.contacts.exceptions import ApiException

from pipeline.errors import ConfigError
from hubspot_sandbox.faults import FaultPlan, parse_faults
from hubspot_sandbox.portal import Portal
from hubspot_sandbox.ratelimit import RateLimiter, RateLimits
from hubspot_sandbox.server import run_in_thread
from tests.fixtures.sandbox import small_portal_snapshot


def auth(token: str = "sandbox-token") -> dict:
    return {"Authorization": f"Bearer {token}"}


def serve(**options):
    options.setdefault("limits", RateLimits.unlimited())
    return run_in_thread(Portal.from_snapshot(small_portal_snapshot()), **options)


def test_missing_or_wrong_token_is_401_in_hubspot_shape(sandbox):
    for headers in ({}, auth("wrong")):
        answer = httpx.get(f"{sandbox.base_url}/crm/v3/objects/contacts", headers=headers)
        assert answer.status_code == 401
        body = answer.json()
        assert body["status"] == "error" and body["category"] == "INVALID_AUTHENTICATION"
        assert body["correlationId"] and body["message"].startswith("Authentication credentials not found")
    client = HubSpot(access_token="wrong", host=sandbox.base_url)
    with pytest.raises(ApiException) as err:
        client.crm.contacts.basic_api.get_page()
    assert err.value.status == 401
    assert sandbox.stats.snapshot()["statuses"] == {"401": 3}


def test_missing_scope_is_403_for_that_object_type():
    with serve(scopes={"crm.objects.contacts.read", "crm.objects.owners.read"}) as sandbox:
        assert httpx.get(f"{sandbox.base_url}/crm/v3/objects/contacts", headers=auth()).status_code == 200
        answer = httpx.get(f"{sandbox.base_url}/crm/v3/objects/calls", headers=auth())
        # engagements are read with the contact scope (HubSpot's specs): calls answer, emails need sales-email-read
        assert answer.status_code == 200
        answer = httpx.get(f"{sandbox.base_url}/crm/objects/2026-09/emails", headers=auth())
        assert answer.status_code == 403
        body = answer.json()
        assert body["category"] == "MISSING_SCOPES"
        assert body["errors"][0]["context"] == {"requiredGranularScopes": ["sales-email-read"]}
        assert httpx.get(f"{sandbox.base_url}/crm/v3/objects/deals", headers=auth()).json()["errors"][0][
            "context"] == {"requiredGranularScopes": ["crm.objects.deals.read"]}
        patch = httpx.patch(f"{sandbox.base_url}/crm/v3/objects/contacts/1", headers=auth(),
                            json={"properties": {"hs_lead_status": "OPEN"}})
        assert patch.status_code == 403
        assert sandbox.portal.get("contacts", "1")["properties"].get("hs_lead_status") is None


def test_ten_second_limit_answers_429_with_policy_and_headers():
    with serve(limits=RateLimits(per_ten_seconds=4, search_per_second=50)) as sandbox:
        remaining = []
        for _ in range(4):
            answer = httpx.get(f"{sandbox.base_url}/crm/v3/objects/contacts", headers=auth())
            assert answer.status_code == 200
            assert answer.headers["X-HubSpot-RateLimit-Max"] == "4"
            assert answer.headers["X-HubSpot-RateLimit-Interval-Milliseconds"] == "10000"
            assert answer.headers["X-HubSpot-RateLimit-Daily"] == "625000"  # Professional's default
            assert answer.headers["X-HubSpot-RateLimit-Secondly"] == "4"  # no per-second limit of its own
            remaining.append(answer.headers["X-HubSpot-RateLimit-Remaining"])
        assert remaining == ["3", "2", "1", "0"]
        refused = httpx.get(f"{sandbox.base_url}/crm/v3/objects/contacts", headers=auth())
        assert refused.status_code == 429
        body = refused.json()
        assert (body["status"], body["errorType"], body["policyName"]) == ("error", "RATE_LIMIT", "TEN_SECONDLY_ROLLING")
        assert body["message"] == "You have reached your ten_secondly_rolling limit."
        assert body["correlationId"] and body["requestId"] and body["requestId"] != body["correlationId"]
        assert refused.headers["X-HubSpot-RateLimit-Remaining"] == "0"
        stats = sandbox.stats.snapshot()
        assert stats["rate_limited"] == {"limit": 1, "fault": 0}
        assert stats["max_requests_10s"] == 5  # every arrival counts, refused or not


def test_search_limit_is_per_second_without_rate_headers(monkeypatch):
    import functools

    import hubspot_sandbox.server as server

    now = [500.0]  # a fake clock: the three searches land in the same second however loaded the machine is
    monkeypatch.setattr(server, "RateLimiter", functools.partial(RateLimiter, clock=lambda: now[0]))
    with serve(limits=RateLimits(per_ten_seconds=100, search_per_second=2)) as sandbox:
        with httpx.Client(base_url=sandbox.base_url, headers=auth()) as client:
            answers = [client.post("/crm/v3/objects/contacts/search", json={}) for _ in range(3)]
        assert [a.status_code for a in answers] == [200, 200, 429]
        assert answers[2].json()["policyName"] == "SECONDLY"
        assert not any(h.lower().startswith("x-hubspot-ratelimit") for h in answers[0].headers)
        now[0] += 0.999  # the first two are still inside the last second
        assert httpx.post(f"{sandbox.base_url}/crm/v3/objects/contacts/search", json={}, headers=auth()).status_code == 429
        now[0] += 0.001  # exactly one second after them: they have left the window
        assert httpx.post(f"{sandbox.base_url}/crm/v3/objects/contacts/search", json={}, headers=auth()).status_code == 200
        # (the statistics' busiest-second figure runs on the real clock: not asserted here)
        assert sandbox.stats.snapshot()["requests"] == {"contacts.search": 5}


def test_rolling_window_and_daily_quota_with_a_fake_clock():
    now = [1000.0]
    limiter = RateLimiter(RateLimits(per_ten_seconds=2, search_per_second=1, daily=4), clock=lambda: now[0])
    assert [limiter.check(is_search=False).allowed for _ in range(3)] == [True, True, False]
    now[0] += 9.9
    assert limiter.check(is_search=False).policy == "TEN_SECONDLY_ROLLING"
    now[0] += 0.2  # the first two requests are now more than 10 s old
    assert limiter.check(is_search=False).allowed
    assert limiter.check(is_search=True).allowed
    decision = limiter.check(is_search=True)
    assert (decision.allowed, decision.policy) == (False, "DAILY")  # 4 used today
    assert not RateLimiter(RateLimits.unlimited()).check(is_search=False).policy


def test_rate_limit_option_parsing():
    assert RateLimits.parse("100") == RateLimits(per_ten_seconds=100)
    assert RateLimits.parse("190,search=4,daily=500000") == RateLimits(190, 4, 500000)
    assert RateLimits.parse("off").enabled is False
    with pytest.raises(ConfigError, match="--rate-limit 'fast'"):
        RateLimits.parse("fast")


def test_fault_spec_parsing_and_errors():
    plan = parse_faults("429=0.05,500=0.02,502=0.02,slow=0.02:1.5,drop=0.01,seed=7")
    assert plan == FaultPlan(rates={"429": 0.05, "500": 0.02, "502": 0.02, "slow": 0.02, "drop": 0.01},
                             slow_s=1.5, seed=7)
    assert parse_faults("") is None
    for spec, needle in (("500=abc", "not a number"), ("boom=0.1", "unknown fault 'boom'"),
                         ("500=0.7,502=0.5", "more than 1"), ("500", "needs KIND=RATE"), ("500=2", "between 0 and 1")):
        with pytest.raises(ConfigError) as err:
            parse_faults(spec)
        assert needle in str(err.value) and "\n" not in str(err.value)


def test_faults_are_deterministic_per_seed_and_near_their_rates():
    spec = "429=0.05,500=0.02,502=0.02,slow=0.02:1.5,drop=0.01,seed=7"
    first = [parse_faults(spec).decide(n) for n in range(1, 5001)]
    again = [parse_faults(spec).decide(n) for n in range(1, 5001)]
    other = [parse_faults(spec.replace("seed=7", "seed=8")).decide(n) for n in range(1, 5001)]
    assert first == again
    assert first != other
    kinds = [f.kind for f in first if f is not None]
    # binomial(5000, p): each count is within 5 standard deviations of 5000 * p
    for kind, rate in (("429", 0.05), ("500", 0.02), ("502", 0.02), ("slow", 0.02), ("drop", 0.01)):
        expected = 5000 * rate
        assert abs(kinds.count(kind) - expected) < 5 * (expected * (1 - rate)) ** 0.5, kind
    assert all(f.delay_s == 1.5 for f in first if f is not None and f.kind == "slow")


def _statuses(spec: str, count: int) -> list[int]:
    with serve(faults=spec) as sandbox, httpx.Client(base_url=sandbox.base_url, headers=auth()) as client:
        return [client.get("/crm/v3/objects/contacts").status_code for _ in range(count)]


def test_server_applies_faults_by_request_sequence_number():
    spec = "429=0.2,500=0.2,502=0.1,seed=3"
    statuses = _statuses(spec, 40)
    assert statuses == _statuses(spec, 40)  # a new server with the same spec answers the same sequence
    plan = parse_faults(spec)
    expected = [int(plan.decide(n).kind) if plan.decide(n) else 200 for n in range(1, 41)]
    assert statuses == expected
    assert {200, 429, 500, 502} <= set(statuses)


def test_fault_answers_shapes_and_no_writes():
    with serve(faults="500=1.0,seed=1") as sandbox:
        answer = httpx.patch(f"{sandbox.base_url}/crm/v3/objects/contacts/3", headers=auth(),
                             json={"properties": {"lifecyclestage": "lead"}})
        assert answer.status_code == 500 and answer.json()["category"] == "INTERNAL_ERROR"
        assert sandbox.portal.get("contacts", "3")["properties"]["lifecyclestage"] == "subscriber"
    with serve(faults="502=1.0") as sandbox:
        answer = httpx.get(f"{sandbox.base_url}/crm/v3/objects/contacts", headers=auth())
        assert answer.status_code == 502 and answer.headers["content-type"] == "text/html"
        assert b"502 Bad Gateway" in answer.content
    with serve(faults="429=1.0") as sandbox:
        answer = httpx.post(f"{sandbox.base_url}/crm/v3/objects/contacts/search", headers=auth(), json={})
        assert answer.status_code == 429 and answer.json()["policyName"] == "SECONDLY"
        assert sandbox.stats.snapshot()["rate_limited"] == {"limit": 0, "fault": 1}


def test_drop_closes_the_connection_without_a_response():
    with serve(faults="drop=1.0") as sandbox:
        with pytest.raises(httpx.RemoteProtocolError):
            httpx.get(f"{sandbox.base_url}/crm/v3/objects/contacts", headers=auth())
        assert sandbox.stats.snapshot()["faults"] == {"drop": 1}


def test_slow_delays_then_serves():
    with serve(faults="slow=1.0:0.4") as sandbox:
        started = time.perf_counter()
        answer = httpx.get(f"{sandbox.base_url}/crm/v3/objects/contacts", headers=auth())
        assert answer.status_code == 200 and time.perf_counter() - started >= 0.4


def test_stats_count_endpoints_in_process_and_over_http(sandbox, hubspot_client):
    hubspot_client.crm.contacts.basic_api.get_page()
    hubspot_client.crm.contacts.basic_api.get_page()
    hubspot_client.crm.owners.owners_api.get_page()
    with httpx.Client(base_url=sandbox.base_url, headers=auth()) as client:
        client.post("/crm/v3/objects/contacts/search", json={})
        client.post("/crm/v3/objects/contacts/batch/read", json={"inputs": [{"id": "1"}]})
        client.post("/crm/v4/associations/contacts/companies/batch/read", json={"inputs": [{"id": "1"}]})
        client.get("/crm/v3/objects/calls/7001")
        client.patch("/crm/v3/objects/contacts/1", json={"properties": {"hs_lead_status": "OPEN"}})
    expected_requests = {"associations.batch_read": 1, "calls.get": 1, "contacts.batch_read": 1,
                         "contacts.list": 2, "contacts.search": 1, "contacts.update": 1, "owners.list": 1}
    snapshot = sandbox.stats.snapshot()
    assert snapshot["requests"] == expected_requests
    assert snapshot["total_requests"] == 8
    assert snapshot["statuses"] == {"200": 8}
    assert snapshot["max_requests_10s"] == 7 and snapshot["max_search_requests_1s"] == 1
    over_http = httpx.get(f"{sandbox.base_url}/_sandbox/stats").json()  # no auth needed, not counted
    assert over_http["requests"] == expected_requests
