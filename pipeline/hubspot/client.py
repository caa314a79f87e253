"""The paced, retrying HubSpot client: hubspot-api-client's transport underneath, plain JSON dicts out.

Paths follow ``HUBSPOT_API_VERSION`` (:class:`ApiPaths`): the date-based ``/crm/objects/2026-09/...`` family by
default, or ``legacy`` (``/crm/v3/...``, ``/crm/v4/associations/...``). hubspot-api-client 12.0.0 knows only the
legacy paths, so every call goes through its ApiClient's ``call_api`` with the path built here; request and
response shapes are the same in both families. Answers are parsed with orjson into dicts, not into the SDK's
models: its ``deserialize`` took 33 ms for a page of 100 contacts with history against 0.35 ms, and its models
refuse enum values they do not know (a new owner ``type`` would stop a sync). tests/test_sandbox_client.py
deserializes the sandbox's answers into the SDK's models; tests/test_hubspot_api_faithful.py holds both path
families to HubSpot's published schemas.

Every request goes through :meth:`HubSpotClient._request`, which waits for the pacer, counts the call
in :attr:`HubSpotClient.stats`, honours 429s (``policyName``, ``Retry-After``, ``X-HubSpot-RateLimit-*``),
retries 5xx and dropped connections with jittered exponential back-off for at most ``give_up_after_s``,
and turns anything else into a one-line :class:`~pipeline.errors.HubSpotApiError` naming the endpoint.
The SDK's own urllib3 retries are switched off so the stats count every request the server saw.
The token never appears in an error, a log line or the stats.
"""

from __future__ import annotations

import logging
import random
import re
import threading
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import orjson
import urllib3
from hubspot import HubSpot
from hubspot.crm.objects import exceptions as objects_exceptions
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_delay

from pipeline.errors import HubSpotApiError
from pipeline.hubspot.pacing import Pacer, SharedLedger, retry_after_seconds
from pipeline.settings import DEFAULT_API_VERSION, DEFAULT_DAILY_RESERVE, LEGACY_API_VERSION, redact

log = logging.getLogger(__name__)

API_EXCEPTIONS = (objects_exceptions.ApiException,)
LIST_PAGE_SIZE = 100
LIST_PAGE_SIZE_WITH_HISTORY = 50  # HubSpot: list limit at most 50 when propertiesWithHistory is asked
SEARCH_PAGE_SIZE = 200
BATCH_READ_SIZE = 100
BATCH_READ_SIZE_WITH_HISTORY = 50  # HubSpot: "The maximum number of inputs ... for property histories is 50"
ASSOCIATION_BATCH_SIZE = 1000
TASK_TO_CONTACT_ASSOCIATION_TYPE_ID = 204
UNREACHABLE_ATTEMPTS = 4  # connection failures before any answer at all: a wrong URL or no network
# The scopes each endpoint family needs (named in 403 errors when HubSpot does not name them). HubSpot's specs
# (e.g. PublicApiSpecs/CRM/Tasks/Rollouts/424/2026-09/tasks.json, security of /crm/objects/2026-09/{objectType})
# authorise every engagement type with the contact scopes; emails also need sales-email-read.
READ_SCOPES: dict[str, tuple[str, ...]] = {
    "contacts": ("crm.objects.contacts.read",),
    "companies": ("crm.objects.companies.read",),
    "deals": ("crm.objects.deals.read",),
    "owners": ("crm.objects.owners.read",),
    "calls": ("crm.objects.contacts.read",),
    "emails": ("crm.objects.contacts.read", "sales-email-read"),
    "meetings": ("crm.objects.contacts.read",),
    "notes": ("crm.objects.contacts.read",),
    "tasks": ("crm.objects.contacts.read",),
    "communications": ("crm.objects.contacts.read",),
}
WRITE_SCOPES: dict[str, tuple[str, ...]] = {
    "contacts": ("crm.objects.contacts.write",),
    "companies": ("crm.objects.companies.write",),
    "deals": ("crm.objects.deals.write",),
    "tasks": ("crm.objects.contacts.write",),
}
# The scopes a Service Key (or a legacy private app) needs for everything this product does (README, docs).
REQUIRED_READ_SCOPES: tuple[str, ...] = tuple(dict.fromkeys(s for scopes in READ_SCOPES.values() for s in scopes))
REQUIRED_WRITE_SCOPES: tuple[str, ...] = ("crm.objects.contacts.write",)
SERVICE_KEY_PATH = "Development > Keys > Service keys"


class ApiPaths:
    """The request paths of one API version: date-based (``2026-09``) or ``legacy`` (v3 objects, v4 associations)."""

    def __init__(self, version: str = DEFAULT_API_VERSION):
        self.version = version
        self.legacy = version == LEGACY_API_VERSION

    def objects(self, object_type: str) -> str:
        return f"/crm/v3/objects/{object_type}" if self.legacy else f"/crm/objects/{self.version}/{object_type}"

    def associations_batch_read(self, from_type: str, to_type: str) -> str:
        if self.legacy:
            return f"/crm/v4/associations/{from_type}/{to_type}/batch/read"
        return f"/crm/associations/{self.version}/{from_type}/{to_type}/batch/read"

    def owners(self) -> str:
        return "/crm/v3/owners" if self.legacy else f"/crm/owners/{self.version}"

    def properties(self, object_type: str) -> str:
        return f"/crm/v3/properties/{object_type}" if self.legacy else f"/crm/properties/{self.version}/{object_type}"

    def account_details(self) -> str:
        return "/account-info/v3/details" if self.legacy else f"/account-info/{self.version}/details"


class HubSpotNotFoundError(HubSpotApiError):
    """The object does not exist (404): deleted, merged away, or a wrong id."""


class HubSpotAmbiguousWriteError(HubSpotApiError):
    """A non-idempotent write failed after it was sent: HubSpot may or may not have applied it."""


class HubSpotValidationError(HubSpotApiError):
    """HubSpot refused a write under the portal's validation rules (400 VALIDATION_ERROR): never retried.

    ``properties``: the properties HubSpot named (e.g. a MISSING_REQUIRED_PROPERTY); ``codes``: its error codes.
    """

    def __init__(self, message: str, *, properties: list[str] | None = None, codes: list[str] | None = None):
        super().__init__(message)
        self.properties = list(properties or [])
        self.codes = list(codes or [])


class DailyQuotaExhausted(HubSpotApiError):
    """The portal's shared daily API quota is (nearly) used up: stop cleanly and resume after ``resets_at``.

    Raised before sending a request once ``X-HubSpot-RateLimit-Daily-Remaining`` fell to the reserve, or on a
    429 with policy ``DAILY``. The quota resets at midnight in the portal's time zone.
    """

    def __init__(self, message: str, *, resets_at: datetime, remaining: int | None):
        super().__init__(message)
        self.resets_at = resets_at
        self.remaining = remaining


class _Transient(Exception):
    """A failure worth retrying: 429, 5xx, a dropped or timed-out connection.

    ``sent``: the request may have reached HubSpot and been applied (5xx, a connection dropped mid-request);
    False when it certainly was not (a 429, a connection that never opened). Only unsent failures of
    non-idempotent writes are retried.
    """

    def __init__(self, describe: str, wait_s: float | None = None, *, sent: bool = True) -> None:
        super().__init__(describe)
        self.describe = describe
        self.wait_s = wait_s
        self.sent = sent


@dataclass
class ClientStats:
    """What this client asked of HubSpot: every HTTP request (retries included) by endpoint."""

    calls: Counter = field(default_factory=Counter)  # "POST /crm/v3/objects/contacts/search" -> n
    throttled_429: int = 0
    server_errors: int = 0
    connection_errors: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def total_calls(self) -> int:
        return sum(self.calls.values())

    def as_dict(self) -> dict[str, Any]:
        with self._lock:
            return {
                "calls_by_endpoint": dict(sorted(self.calls.items())),
                "total_calls": sum(self.calls.values()),
                "throttled_429": self.throttled_429,
                "server_errors": self.server_errors,
                "connection_errors": self.connection_errors,
            }

    def count(self, endpoint: str) -> None:
        with self._lock:
            self.calls[endpoint] += 1


class HubSpotClient:
    """HubSpot's CRM APIs (date-based or legacy paths) over hubspot-api-client's transport, paced below the
    portal's limits."""

    def __init__(
        self,
        access_token: str,
        api_base: str = "https://api.hubapi.com",
        *,
        api_version: str = DEFAULT_API_VERSION,
        limit_per_10s: int = 190,
        search_per_s: int = 5,
        give_up_after_s: float = 300.0,
        request_timeout_s: float = 60.0,
        backoff_max_s: float = 30.0,
        daily_reserve: int = DEFAULT_DAILY_RESERVE,
        rate_ledger: str | Path | None = None,
        rate_share: str = "sync",
    ) -> None:
        self._token = access_token
        self.api_base = api_base.rstrip("/")
        self.paths = ApiPaths(api_version)
        self.give_up_after_s = give_up_after_s
        self.request_timeout_s = request_timeout_s
        self.backoff_max_s = backoff_max_s
        self.daily_reserve = daily_reserve
        self.daily_remaining: int | None = None  # from X-HubSpot-RateLimit-Daily-Remaining, when HubSpot sends it
        self.portal_timezone: str | None = None  # learnt from account details (the daily quota's midnight)
        # rate_ledger: the file every process of this installation paces through (the portal's budget is shared);
        # rate_share: which reserve this client draws on (pipeline/hubspot/pacing.py, docs/enforcement.md)
        shared = SharedLedger(rate_ledger, rate_share) if rate_ledger else None
        self.pacer = Pacer(limit_per_10s, search_per_s, shared=shared)
        self.stats = ClientStats()
        self._reached = False  # any HTTP answer yet? (never: connection failures are configuration, not weather)
        self._unreached_failures = 0
        no_retries = urllib3.Retry(total=0, connect=0, read=0, redirect=0, status=0, raise_on_status=False)
        hub = HubSpot(access_token=access_token, host=self.api_base, retry=no_retries)
        # one ApiClient (and connection pool) for every call: the SDK builds a new one on every attribute access
        self._api = hub.crm.objects.basic_api.api_client

    def __repr__(self) -> str:  # never show the token
        return f"HubSpotClient(api_base={self.api_base!r}, api_version={self.paths.version!r})"

    # ---------------------------------------------------------------- reads used by extraction
    def list_page(
        self,
        object_type: str,
        properties: list[str],
        *,
        properties_with_history: list[str] | None = None,
        archived: bool = False,
        after: str | None = None,
        limit: int | None = None,
        associations: list[str] | None = None,
    ) -> tuple[list[dict], str | None]:
        """One page of ``GET .../objects/{type}``: (results, next ``after`` or None). ``associations``: target
        types whose ids HubSpot lists inline per object (up to 100, then a per-object ``paging`` cursor)."""
        maximum = LIST_PAGE_SIZE_WITH_HISTORY if properties_with_history else LIST_PAGE_SIZE
        limit = maximum if limit is None else min(int(limit), maximum)
        query = [("limit", str(limit)), ("archived", _bool(archived)),
                 *_read_query(properties, properties_with_history, associations)]
        if after:
            query.append(("after", str(after)))
        path = self.paths.objects(object_type)
        body = self._request("GET", path, f"GET {path}", query=query, scopes=READ_SCOPES.get(object_type))
        return body.get("results", []), _next_after(body)

    def iter_list(self, object_type: str, properties: list[str], **kwargs) -> Iterator[list[dict]]:
        """Every page of a listing, in order."""
        after = None
        while True:
            results, after = self.list_page(object_type, properties, after=after, **kwargs)
            yield results
            if not after:
                return

    def search_page(
        self,
        object_type: str,
        *,
        filter_groups: list[dict],
        sorts: list[dict],
        properties: list[str],
        after: str | int | None = None,
        limit: int = SEARCH_PAGE_SIZE,
    ) -> tuple[list[dict], str | None, int]:
        """One page of ``POST .../objects/{type}/search``: (results, next ``after``, total)."""
        request = {"filterGroups": filter_groups, "sorts": sorts, "properties": properties, "limit": limit}
        if after is not None:
            request["after"] = str(after)
        path = f"{self.paths.objects(object_type)}/search"
        body = self._request("POST", path, f"POST {path}", body=request, is_search=True,
                             scopes=READ_SCOPES.get(object_type))
        return body.get("results", []), _next_after(body), int(body.get("total", 0))

    def batch_read(
        self,
        object_type: str,
        ids: Iterable[str],
        properties: list[str],
        properties_with_history: list[str] | None = None,
        *,
        archived: bool = False,
    ) -> list[dict]:
        """``POST .../objects/{type}/batch/read`` in chunks HubSpot accepts (100 ids, 50 with history); ids
        HubSpot does not know are skipped. Any caller may pass any number of ids."""
        size = batch_read_size(properties_with_history)
        path = f"{self.paths.objects(object_type)}/batch/read"
        out: list[dict] = []
        for chunk in _chunks(list(dict.fromkeys(str(i) for i in ids)), size):
            request: dict[str, Any] = {"inputs": [{"id": i} for i in chunk], "properties": properties}
            if properties_with_history:
                request["propertiesWithHistory"] = properties_with_history
            body = self._request("POST", path, f"POST {path}", query=[("archived", _bool(archived))], body=request,
                                 scopes=READ_SCOPES.get(object_type))
            out.extend(body.get("results", []))
        return out

    def associated_ids(self, from_type: str, ids: Iterable[str], to_type: str) -> dict[str, list[str]]:
        """``POST .../associations/{from}/{to}/batch/read``: from id -> associated ids (all pages).

        Every requested id is a key; ids without associations map to an empty list.
        """
        return {from_id: [link["toObjectId"] for link in links]
                for from_id, links in self.associations(from_type, ids, to_type).items()}

    def associations(self, from_type: str, ids: Iterable[str], to_type: str) -> dict[str, list[dict]]:
        """Like :meth:`associated_ids` with HubSpot's association types: from id -> ``[{"toObjectId": "9",
        "associationTypes": [{"category", "typeId", "label"}, ...]}]``, one entry per target (a target listed
        more than once, e.g. its primary and unlabelled links on separate pages, has its types merged).

        ``toObjectId`` is a string in HubSpot's published schema and a number in some answers: both are read
        as the id's string. Contact->company typeId 1 / deal->company 5 (label ``Primary``) mark the primary link.
        """
        wanted = list(dict.fromkeys(str(i) for i in ids))
        found: dict[str, dict[str, dict]] = {i: {} for i in wanted}
        pending: list[dict] = [{"id": i} for i in wanted]
        path = self.paths.associations_batch_read(from_type, to_type)
        while pending:
            batch, pending = pending[:ASSOCIATION_BATCH_SIZE], pending[ASSOCIATION_BATCH_SIZE:]
            body = self._request("POST", path, f"POST {path}", body={"inputs": batch},
                                 scopes=READ_SCOPES.get(from_type))
            for result in body.get("results", []):
                from_id = str(result["from"]["id"])
                targets = found.setdefault(from_id, {})
                for to in result.get("to", []):
                    to_id = _id_text(to["toObjectId"])
                    entry = targets.setdefault(to_id, {"toObjectId": to_id, "associationTypes": []})
                    for kind in to.get("associationTypes") or []:
                        if kind not in entry["associationTypes"]:
                            entry["associationTypes"].append(kind)
                after = _next_after(result)
                if after:
                    pending.append({"id": from_id, "after": after})
        return {from_id: list(targets.values()) for from_id, targets in found.items()}

    def association_links(self, from_type: str, ids: Iterable[str], to_type: str) -> dict[str, dict[str, list[dict]]]:
        """:meth:`associations` keyed by target: from id -> {to id: association type objects as HubSpot returned
        them (``category``, ``typeId``, ``label``)}. Every requested id is a key."""
        return {from_id: {link["toObjectId"]: link["associationTypes"] for link in links}
                for from_id, links in self.associations(from_type, ids, to_type).items()}

    def owners_page(self, *, archived: bool = False, after: str | None = None) -> tuple[list[dict], str | None]:
        """One page of ``GET .../owners``."""
        query = [("limit", str(LIST_PAGE_SIZE)), ("archived", _bool(archived))]
        if after:
            query.append(("after", str(after)))
        path = self.paths.owners()
        body = self._request("GET", path, f"GET {path}", query=query, scopes=READ_SCOPES["owners"])
        return body.get("results", []), _next_after(body)

    def account_details(self) -> dict:
        """``GET /account-info/{version}/details`` (portal id, time zone, UI domain)."""
        path = self.paths.account_details()
        body = self._request("GET", path, f"GET {path}", scopes=())
        if body.get("timeZone"):
            self.portal_timezone = str(body["timeZone"])
        return body

    def properties(self, object_type: str) -> list[dict]:
        """``GET /crm/properties/{version}/{type}``: the type's property definitions (with enumeration options),
        as HubSpot returns them. One call per type; no search quota."""
        path = self.paths.properties(object_type)
        body = self._request("GET", path, f"GET {path}", scopes=READ_SCOPES.get(object_type))
        return list(body.get("results", []))

    get_properties = properties  # the extractor's name for the same read

    def get_property(self, object_type: str, name: str) -> dict:
        """``GET /crm/properties/{version}/{type}/{name}``: one property definition (``options`` for enumerations)."""
        base = self.paths.properties(object_type)
        body = self._request("GET", f"{base}/{_quote(name)}", f"GET {base}/{{name}}",
                             scopes=READ_SCOPES.get(object_type))
        return body

    def missing_properties(self, object_type: str, names: Iterable[str]) -> list[str]:
        """The names among ``names`` this portal has no (unarchived) property of that type for, in order."""
        known = {str(p.get("name")) for p in self.properties(object_type) if not p.get("archived")}
        return [n for n in dict.fromkeys(names) if n not in known]

    # ---------------------------------------------------------------- single reads and writes (SLA job)
    def get_object(
        self,
        object_type: str,
        object_id: str,
        properties: list[str],
        properties_with_history: list[str] | None = None,
        associations: list[str] | None = None,
    ) -> dict:
        """``GET .../objects/{type}/{id}``; raises :class:`HubSpotNotFoundError` on 404."""
        query = _read_query(properties, properties_with_history, associations)
        base = self.paths.objects(object_type)
        return self._request("GET", f"{base}/{_quote(object_id)}", f"GET {base}/{{id}}", query=query,
                             scopes=READ_SCOPES.get(object_type))

    def update_object(self, object_type: str, object_id: str, properties: dict[str, Any]) -> dict:
        """``PATCH .../objects/{type}/{id}`` with ``{"properties": ...}``; a refusal under the portal's
        validation rules raises :class:`HubSpotValidationError` (never retried)."""
        base = self.paths.objects(object_type)
        return self._request("PATCH", f"{base}/{_quote(object_id)}", f"PATCH {base}/{{id}}",
                             body={"properties": properties}, scopes=WRITE_SCOPES.get(object_type), write=True)

    def create_task(self, properties: dict[str, Any], contact_id: str) -> dict:
        """``POST .../objects/tasks`` associated with the contact (type 204, task -> contact)."""
        request = {
            "properties": properties,
            "associations": [
                {
                    "to": {"id": str(contact_id)},
                    "types": [
                        {
                            "associationCategory": "HUBSPOT_DEFINED",
                            "associationTypeId": TASK_TO_CONTACT_ASSOCIATION_TYPE_ID,
                        }
                    ],
                }
            ],
        }
        path = self.paths.objects("tasks")
        return self._request("POST", path, f"POST {path}", body=request, scopes=WRITE_SCOPES["tasks"],
                             idempotent=False, write=True)

    # ---------------------------------------------------------------- the one request path
    def _request(
        self,
        method: str,
        path: str,
        endpoint: str,
        *,
        query: list[tuple[str, str]] | None = None,
        body: dict | None = None,
        is_search: bool = False,
        scopes: tuple[str, ...] | None = None,
        idempotent: bool = True,
        write: bool = False,
    ) -> dict:
        """Send once per attempt through the pacer; retry transient failures; one-line errors otherwise.

        ``endpoint`` names the call in stats and errors (``GET /crm/objects/2026-09/contacts/{id}``).
        A non-idempotent write (creating a task) is retried only when it certainly was not applied (429, a
        connection that never opened); otherwise it raises HubSpotAmbiguousWriteError and the caller, which
        marks its writes, checks HubSpot before trying again (no duplicate task from a lost answer).
        """
        def send(**kw):
            return self._api.call_api(
                path, method, query_params=list(query or []),
                header_params={"Accept": "application/json", "Content-Type": "application/json"},
                body=body, auth_settings=["oauth2"], _return_http_data_only=True, **kw,
            )

        retrying = Retrying(
            stop=stop_after_delay(self.give_up_after_s),
            wait=self._wait,
            retry=retry_if_exception(lambda e: isinstance(e, _Transient) and (idempotent or not e.sent)),
            reraise=True,
        )
        try:
            for attempt in retrying:
                with attempt:
                    return self._attempt(endpoint, send, is_search=is_search, scopes=scopes, write=write)
        except _Transient as last:
            if not idempotent and last.sent:
                raise HubSpotAmbiguousWriteError(
                    f"{endpoint} failed after it was sent ({last.describe}): HubSpot may or may not have applied it, "
                    "so it was not repeated; the next run checks HubSpot and finishes the step"
                ) from None
            raise HubSpotApiError(
                f"HubSpot kept failing on {endpoint} for {self.give_up_after_s:.0f}s (last: {last.describe}); "
                "HubSpot may be degraded: retry the run later"
            ) from None
        raise AssertionError("unreachable")  # pragma: no cover

    def _wait(self, state: RetryCallState) -> float:
        """Jittered exponential back-off; a 429's own wait when it named one."""
        error = state.outcome.exception() if state.outcome else None
        backoff = random.uniform(0, min(self.backoff_max_s, 0.25 * 2 ** (state.attempt_number - 1)))
        if isinstance(error, _Transient) and error.wait_s is not None:
            return error.wait_s + random.uniform(0, 0.1 * max(error.wait_s, 0.1))
        return backoff

    def _check_daily_quota(self, endpoint: str) -> None:
        """Stop before spending the reserve of the portal's shared daily quota (HubSpot's last header said so)."""
        if self.daily_remaining is not None and self.daily_remaining <= self.daily_reserve:
            raise self._quota_error(endpoint, self.daily_remaining)

    def _quota_error(self, endpoint: str, remaining: int | None) -> DailyQuotaExhausted:
        resets_at = daily_reset(datetime.now(timezone.utc), self.portal_timezone)
        zone = self.portal_timezone or "UTC (the portal's time zone is not known yet)"
        left = "used up" if not remaining else f"down to {remaining:,} calls (reserve {self.daily_reserve:,})"
        return DailyQuotaExhausted(
            f"HubSpot's daily API quota for this portal is {left}: stopped before {endpoint} with the sync cursor "
            f"untouched; resume after {resets_at:%Y-%m-%d %H:%M} UTC (midnight {zone}), or lower "
            "HUBSPOT_DAILY_RESERVE",
            resets_at=resets_at, remaining=remaining,
        )

    def _attempt(self, endpoint: str, send, *, is_search: bool, scopes: tuple[str, ...] | None,
                 write: bool) -> dict:
        self._check_daily_quota(endpoint)
        self.pacer.acquire(is_search)
        self.stats.count(endpoint)
        try:
            response = send(_preload_content=False, _request_timeout=self.request_timeout_s)
            data = response.data
            headers = dict(response.headers)
            response.release_conn()
        except API_EXCEPTIONS as err:
            self._reached = True
            status = int(getattr(err, "status", 0) or 0)
            headers = dict(err.headers or {})
            self._observe(headers)
            self._fail(endpoint, status, err.body, headers, scopes, write)
            raise AssertionError("unreachable")  # pragma: no cover
        except (urllib3.exceptions.HTTPError, ConnectionError, TimeoutError, OSError) as err:
            with self.stats._lock:
                self.stats.connection_errors += 1
            reason = type(getattr(err, "reason", None) or err).__name__
            if not self._reached:
                self._unreached_failures += 1
                if self._unreached_failures >= UNREACHABLE_ATTEMPTS:
                    raise HubSpotApiError(
                        f"cannot reach HubSpot at {self.api_base} on {endpoint} ({reason}): check HUBSPOT_API_BASE "
                        "and the network"
                    ) from None
            never_opened = isinstance(err, (urllib3.exceptions.NewConnectionError,
                                            urllib3.exceptions.ConnectTimeoutError, ConnectionRefusedError))
            raise _Transient(f"connection error: {reason}", sent=not never_opened) from None
        finally:
            self.pacer.release(is_search)
        self._reached = True
        self._observe(headers)
        if not data:
            return {}
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError:
            raise _Transient("response body was not JSON (truncated?)") from None

    def _observe(self, headers: dict) -> None:
        self.pacer.observe_headers(headers)
        lowered = {str(k).lower(): v for k, v in headers.items()}
        remaining = lowered.get("x-hubspot-ratelimit-daily-remaining")
        if remaining is not None and str(remaining).strip().lstrip("-").isdigit():
            self.daily_remaining = int(str(remaining).strip())

    def _fail(self, endpoint: str, status: int, raw_body: Any, headers: dict, scopes: tuple[str, ...] | None,
              write: bool = False) -> None:
        body = _json_or_empty(raw_body)
        message = redact(str(body.get("message") or ""), self._token)[:200]
        if status == 429:
            with self.stats._lock:
                self.stats.throttled_429 += 1
            policy = str(body.get("policyName") or "")
            if policy.upper() == "DAILY":
                raise self._quota_error(endpoint, 0)
            wait = retry_after_seconds(headers, 1.0)
            self.pacer.pause(wait)
            raise _Transient(f"429 {policy or 'rate limited'}", wait_s=wait, sent=False)
        if status >= 500 or status == 0:
            with self.stats._lock:
                self.stats.server_errors += 1
            raise _Transient(f"HTTP {status or 'error'}")
        if status == 401:
            raise HubSpotApiError(
                f"HubSpot rejected the access token (401) on {endpoint}: set HUBSPOT_ACCESS_TOKEN to a current "
                f"Service Key (HubSpot: {SERVICE_KEY_PATH}) or your existing private app's current token"
            )
        if status == 403:
            named_scopes = _required_scopes(body) or list(scopes or [])
            named = ", ".join(named_scopes) if named_scopes else "the scope this endpoint needs"
            raise HubSpotApiError(
                f"HubSpot refused {endpoint} (403 missing scope): add {named} to the Service Key "
                f"({SERVICE_KEY_PATH}, or your private app's scopes) and use its new token"
            )
        if status == 404:
            raise HubSpotNotFoundError(f"HubSpot has no such object on {endpoint} (404): {message or 'not found'}")
        if status == 400:
            if write:
                props, codes = _error_properties(body)
                if props or codes:
                    what = ", ".join(props) if props else "a property"
                    raise HubSpotValidationError(
                        f"HubSpot refused {endpoint} under the portal's validation rules (400 "
                        f"{'/'.join(codes) or 'VALIDATION_ERROR'}: {what}); not retried: fix the rule or the "
                        f"value in HubSpot, or the policy",
                        properties=props, codes=codes,
                    )
            prop = _unknown_property(body)
            if prop:
                raise HubSpotApiError(
                    f"HubSpot rejected {endpoint} (400): property {prop!r} does not exist in this portal; create "
                    "it in HubSpot (Settings > Properties) or remove it from the extracted properties"
                )
            raise HubSpotApiError(f"HubSpot rejected {endpoint} (400): {message or 'bad request'}")
        raise HubSpotApiError(f"HubSpot answered {status} on {endpoint}: {message or 'unexpected error'}")


def daily_reset(now: datetime, zone_name: str | None) -> datetime:
    """The next midnight in the portal's time zone (UTC when unknown), as a UTC instant: HubSpot's daily reset."""
    try:
        zone = ZoneInfo(zone_name) if zone_name else timezone.utc
    except Exception:  # an unknown zone name: UTC
        zone = timezone.utc
    local = now.astimezone(zone)
    midnight = datetime(local.year, local.month, local.day, tzinfo=zone) + timedelta(days=1)
    return midnight.astimezone(timezone.utc)


def _read_query(properties: list[str] | None, properties_with_history: list[str] | None,
                associations: list[str] | None) -> list[tuple[str, str]]:
    """The read parameters a list page and a single-object read share, each comma-separated, left out when empty."""
    params = (("properties", properties), ("propertiesWithHistory", properties_with_history),
              ("associations", associations))
    return [(name, ",".join(values)) for name, values in params if values]


def _bool(value: bool) -> str:
    return "true" if value else "false"


def _quote(object_id: object) -> str:
    from urllib.parse import quote

    return quote(str(object_id), safe="")


def _id_text(value: object) -> str:
    """An id HubSpot sent as a string or a number (``123`` or ``"123"``, never ``"123.0"``)."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _error_properties(body: dict) -> tuple[list[str], list[str]]:
    """Property names and error codes of a write validation refusal (``errors[].context.propertyName``,
    ``errors[].code`` such as MISSING_REQUIRED_PROPERTY)."""
    props: list[str] = []
    codes: list[str] = []
    for error in body.get("errors") or []:
        code = error.get("code") or error.get("subCategory")
        if code:
            codes.append(str(code))
        context = error.get("context") or {}
        for key in ("propertyName", "properties", "property"):
            value = context.get(key)
            if value:
                props.extend(str(v) for v in (value if isinstance(value, list) else [value]))
    return list(dict.fromkeys(props)), list(dict.fromkeys(codes))


def _json_or_empty(raw: Any) -> dict:
    if raw is None:
        return {}
    try:
        parsed = orjson.loads(raw)
    except (orjson.JSONDecodeError, TypeError):
        return {}
    return parsed if isinstance(parsed, dict) else {}


def _required_scopes(body: dict) -> list[str]:
    scopes: list[str] = []
    for error in body.get("errors") or []:
        context = error.get("context") or {}
        for key in ("requiredGranularScopes", "requiredScopes", "requiredScope"):
            value = context.get(key) or []
            scopes.extend([value] if isinstance(value, str) else value)
    context = body.get("context") or {}
    for key in ("requiredGranularScopes", "requiredScopes"):
        value = context.get(key) or []
        scopes.extend([value] if isinstance(value, str) else value)
    return list(dict.fromkeys(str(s) for s in scopes))


_PROPERTY_IN_MESSAGE = re.compile(r"propert(?:y|ies)\s+['\"]?([A-Za-z0-9_]+)['\"]?\s+(?:does not exist|doesn't exist|not found)", re.I)


def _unknown_property(body: dict) -> str | None:
    for error in [body, *(body.get("errors") or [])]:
        context = error.get("context") or {}
        for key in ("propertyName", "properties", "property"):
            value = context.get(key)
            if value:
                return str(value[0] if isinstance(value, list) else value)
        match = _PROPERTY_IN_MESSAGE.search(str(error.get("message") or ""))
        if match:
            return match.group(1)
    return None


def _next_after(body: dict) -> str | None:
    after = ((body.get("paging") or {}).get("next") or {}).get("after")
    return str(after) if after not in (None, "") else None


def batch_read_size(properties_with_history: list[str] | None) -> int:
    """Ids per batch read: 100, or 50 when property history is asked (HubSpot's limits)."""
    return BATCH_READ_SIZE_WITH_HISTORY if properties_with_history else BATCH_READ_SIZE


def _chunks(items: list, size: int) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]

