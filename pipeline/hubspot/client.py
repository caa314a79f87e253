"""The paced, retrying HubSpot client: hubspot-api-client underneath, plain v3 JSON dicts out.

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
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson
import urllib3
from hubspot import HubSpot
from hubspot.crm.associations.v4 import exceptions as assoc_exceptions
from hubspot.crm.objects import exceptions as objects_exceptions
from hubspot.crm.owners import exceptions as owners_exceptions
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_delay

from pipeline.errors import HubSpotApiError
from pipeline.hubspot.pacing import Pacer, retry_after_seconds
from pipeline.settings import redact

log = logging.getLogger(__name__)

API_EXCEPTIONS = (
    objects_exceptions.ApiException,
    owners_exceptions.ApiException,
    assoc_exceptions.ApiException,
)
LIST_PAGE_SIZE = 100
LIST_PAGE_SIZE_WITH_HISTORY = 50
SEARCH_PAGE_SIZE = 200
BATCH_READ_SIZE = 100
BATCH_READ_SIZE_WITH_HISTORY = 50  # HubSpot: 400 VALIDATION_ERROR above 50 inputs when propertiesWithHistory is asked
ASSOCIATION_BATCH_SIZE = 1000
TASK_TO_CONTACT_ASSOCIATION_TYPE_ID = 204
UNREACHABLE_ATTEMPTS = 4  # connection failures before any answer at all: a wrong URL or no network
# the read scope each endpoint family needs (named in 403 errors when HubSpot does not name it)
READ_SCOPES = {
    "contacts": "crm.objects.contacts.read",
    "companies": "crm.objects.companies.read",
    "deals": "crm.objects.deals.read",
    "owners": "crm.objects.owners.read",
    "calls": "crm.objects.contacts.read",
    "emails": "crm.objects.contacts.read",
    "meetings": "crm.objects.contacts.read",
    "notes": "crm.objects.contacts.read",
    "tasks": "crm.objects.contacts.read",
    "communications": "crm.objects.contacts.read",
}


class HubSpotNotFoundError(HubSpotApiError):
    """The object does not exist (404): deleted, merged away, or a wrong id."""


class HubSpotAmbiguousWriteError(HubSpotApiError):
    """A non-idempotent write failed after it was sent: HubSpot may or may not have applied it."""


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
    """HubSpot CRM v3/v4 over hubspot-api-client, paced below the portal's limits."""

    def __init__(
        self,
        access_token: str,
        api_base: str = "https://api.hubapi.com",
        *,
        limit_per_10s: int = 190,
        search_per_s: int = 5,
        give_up_after_s: float = 300.0,
        request_timeout_s: float = 60.0,
        backoff_max_s: float = 30.0,
    ) -> None:
        self._token = access_token
        self.api_base = api_base.rstrip("/")
        self.give_up_after_s = give_up_after_s
        self.request_timeout_s = request_timeout_s
        self.backoff_max_s = backoff_max_s
        self.pacer = Pacer(limit_per_10s, search_per_s)
        self.stats = ClientStats()
        self._reached = False  # any HTTP answer yet? (never: connection failures are configuration, not weather)
        self._unreached_failures = 0
        no_retries = urllib3.Retry(total=0, connect=0, read=0, redirect=0, status=0, raise_on_status=False)
        hub = HubSpot(access_token=access_token, host=self.api_base, retry=no_retries)
        # the SDK builds a new ApiClient (and connection pool) on every attribute access: build once
        self._objects = hub.crm.objects.basic_api
        self._batch = hub.crm.objects.batch_api
        self._search = hub.crm.objects.search_api
        self._owners = hub.crm.owners.owners_api
        self._associations = hub.crm.associations.v4.batch_api

    def __repr__(self) -> str:  # never show the token
        return f"HubSpotClient(api_base={self.api_base!r})"

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
        """One page of ``GET /crm/v3/objects/{type}``: (results, next ``after`` or None). ``associations``: target
        types whose ids HubSpot lists inline per object (up to 100, then a per-object ``paging`` cursor)."""
        if limit is None:
            limit = LIST_PAGE_SIZE_WITH_HISTORY if properties_with_history else LIST_PAGE_SIZE
        kwargs: dict[str, Any] = {"limit": limit, "properties": properties, "archived": archived}
        if after:
            kwargs["after"] = after
        if properties_with_history:
            kwargs["properties_with_history"] = properties_with_history
        if associations:
            kwargs["associations"] = associations
        body = self._request(
            f"GET /crm/v3/objects/{object_type}",
            lambda **kw: self._objects.get_page(object_type, **kwargs, **kw),
            scope=READ_SCOPES.get(object_type),
        )
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
        """One page of ``POST /crm/v3/objects/{type}/search``: (results, next ``after``, total)."""
        request = {"filterGroups": filter_groups, "sorts": sorts, "properties": properties, "limit": limit}
        if after is not None:
            request["after"] = str(after)
        body = self._request(
            f"POST /crm/v3/objects/{object_type}/search",
            lambda **kw: self._search.do_search(object_type, request, **kw),
            is_search=True,
            scope=READ_SCOPES.get(object_type),
        )
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
        """``POST /crm/v3/objects/{type}/batch/read`` in chunks of 100 ids (50 with history); ids HubSpot does not
        know are skipped."""
        out: list[dict] = []
        size = batch_read_size(properties_with_history)
        for chunk in _chunks(list(dict.fromkeys(str(i) for i in ids)), size):
            request: dict[str, Any] = {"inputs": [{"id": i} for i in chunk], "properties": properties}
            if properties_with_history:
                request["propertiesWithHistory"] = properties_with_history
            body = self._request(
                f"POST /crm/v3/objects/{object_type}/batch/read",
                lambda request=request, **kw: self._batch.read(object_type, request, archived=archived, **kw),
                scope=READ_SCOPES.get(object_type),
            )
            out.extend(body.get("results", []))
        return out

    def associated_ids(self, from_type: str, ids: Iterable[str], to_type: str) -> dict[str, list[str]]:
        """``POST /crm/v4/associations/{from}/{to}/batch/read``: from id -> associated ids (all pages).

        Every requested id is a key; ids without associations map to an empty list.
        """
        return {from_id: list(targets) for from_id, targets in self.association_links(from_type, ids, to_type).items()}

    def association_links(self, from_type: str, ids: Iterable[str], to_type: str) -> dict[str, dict[str, list[dict]]]:
        """``POST /crm/v4/associations/{from}/{to}/batch/read``: from id -> {to id: association type objects as
        HubSpot returned them (``category``, ``typeId``, ``label``), merged over pages}. Every requested id is a key.
        """
        wanted = list(dict.fromkeys(str(i) for i in ids))
        found: dict[str, dict[str, list[dict]]] = {i: {} for i in wanted}
        pending: list[dict] = [{"id": i} for i in wanted]
        while pending:
            batch, pending = pending[:ASSOCIATION_BATCH_SIZE], pending[ASSOCIATION_BATCH_SIZE:]
            request = {"inputs": batch}
            body = self._request(
                f"POST /crm/v4/associations/{from_type}/{to_type}/batch/read",
                lambda request=request, **kw: self._associations.get_page(from_type, to_type, request, **kw),
                scope=READ_SCOPES.get(from_type),
            )
            for result in body.get("results", []):
                from_id = str(result["from"]["id"])
                targets = found.setdefault(from_id, {})
                for to in result.get("to", []):
                    types = targets.setdefault(str(to["toObjectId"]), [])
                    types.extend(t for t in to.get("associationTypes") or [] if t not in types)
                after = _next_after(result)
                if after:
                    pending.append({"id": from_id, "after": after})
        return found

    def owners_page(self, *, archived: bool = False, after: str | None = None) -> tuple[list[dict], str | None]:
        """One page of ``GET /crm/v3/owners``."""
        kwargs: dict[str, Any] = {"limit": LIST_PAGE_SIZE, "archived": archived}
        if after:
            kwargs["after"] = after
        body = self._request(
            "GET /crm/v3/owners",
            lambda **kw: self._owners.get_page(**kwargs, **kw),
            scope=READ_SCOPES["owners"],
        )
        return body.get("results", []), _next_after(body)

    def get_property(self, object_type: str, name: str) -> dict:
        """``GET /crm/v3/properties/{type}/{name}``: one property definition (``options`` for enumerations)."""
        api_client = self._objects.api_client
        return self._request(
            f"GET /crm/v3/properties/{object_type}/{{name}}",
            lambda **kw: api_client.call_api(
                f"/crm/v3/properties/{object_type}/{name}", "GET", auth_settings=["oauth2"],
                _return_http_data_only=True, **kw
            ),
            scope=READ_SCOPES.get(object_type),
        )

    def get_properties(self, object_type: str) -> list[dict]:
        """``GET /crm/v3/properties/{type}``: every property definition of the type (one call, not paged)."""
        api_client = self._objects.api_client
        body = self._request(
            f"GET /crm/v3/properties/{object_type}",
            lambda **kw: api_client.call_api(
                f"/crm/v3/properties/{object_type}", "GET", auth_settings=["oauth2"], _return_http_data_only=True, **kw
            ),
            scope=READ_SCOPES.get(object_type),
        )
        return list(body.get("results") or [])

    def account_details(self) -> dict:
        """``GET /account-info/v3/details`` (portal id, time zone, UI domain)."""
        api_client = self._objects.api_client
        return self._request(
            "GET /account-info/v3/details",
            lambda **kw: api_client.call_api(
                "/account-info/v3/details", "GET", auth_settings=["oauth2"], _return_http_data_only=True, **kw
            ),
            scope="oauth",
        )

    # ---------------------------------------------------------------- single reads and writes (SLA job)
    def get_object(
        self,
        object_type: str,
        object_id: str,
        properties: list[str],
        properties_with_history: list[str] | None = None,
        associations: list[str] | None = None,
    ) -> dict:
        """``GET /crm/v3/objects/{type}/{id}``; raises :class:`HubSpotNotFoundError` on 404."""
        kwargs: dict[str, Any] = {"properties": properties}
        if properties_with_history:
            kwargs["properties_with_history"] = properties_with_history
        if associations:
            kwargs["associations"] = associations
        return self._request(
            f"GET /crm/v3/objects/{object_type}/{{id}}",
            lambda **kw: self._objects.get_by_id(object_type, str(object_id), **kwargs, **kw),
            scope=READ_SCOPES.get(object_type),
        )

    def update_object(self, object_type: str, object_id: str, properties: dict[str, Any]) -> dict:
        """``PATCH /crm/v3/objects/{type}/{id}`` with ``{"properties": ...}``."""
        request = {"properties": properties}
        return self._request(
            f"PATCH /crm/v3/objects/{object_type}/{{id}}",
            lambda **kw: self._objects.update(object_type, str(object_id), request, **kw),
            scope=READ_SCOPES.get(object_type, "").replace(".read", ".write") or None,
        )

    def create_task(self, properties: dict[str, Any], contact_id: str) -> dict:
        """``POST /crm/v3/objects/tasks`` associated with the contact (type 204, task -> contact)."""
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
        return self._request(
            "POST /crm/v3/objects/tasks",
            lambda **kw: self._objects.create("tasks", request, **kw),
            scope="crm.objects.contacts.write",
            idempotent=False,
        )

    # ---------------------------------------------------------------- the one request path
    def _request(
        self,
        endpoint: str,
        send: Callable[..., Any],
        *,
        is_search: bool = False,
        scope: str | None = None,
        idempotent: bool = True,
    ) -> dict:
        """Send once per attempt through the pacer; retry transient failures; one-line errors otherwise.

        A non-idempotent write (creating a task) is retried only when it certainly was not applied (429, a
        connection that never opened); otherwise it raises HubSpotAmbiguousWriteError and the caller, which
        marks its writes, checks HubSpot before trying again (no duplicate task from a lost answer).
        """
        retrying = Retrying(
            stop=stop_after_delay(self.give_up_after_s),
            wait=self._wait,
            retry=retry_if_exception(lambda e: isinstance(e, _Transient) and (idempotent or not e.sent)),
            reraise=True,
        )
        try:
            for attempt in retrying:
                with attempt:
                    return self._attempt(endpoint, send, is_search=is_search, scope=scope)
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

    def _attempt(self, endpoint: str, send: Callable[..., Any], *, is_search: bool, scope: str | None) -> dict:
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
            self.pacer.observe_headers(headers)
            self._fail(endpoint, status, err.body, headers, scope)
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
        self.pacer.observe_headers(headers)
        if not data:
            return {}
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError:
            raise _Transient("response body was not JSON (truncated?)") from None

    def _fail(self, endpoint: str, status: int, raw_body: Any, headers: dict, scope: str | None) -> None:
        body = _json_or_empty(raw_body)
        message = redact(str(body.get("message") or ""), self._token)[:200]
        if status == 429:
            with self.stats._lock:
                self.stats.throttled_429 += 1
            policy = str(body.get("policyName") or "")
            if policy.upper() == "DAILY":
                raise HubSpotApiError(
                    f"HubSpot daily API limit reached on {endpoint}: wait until it resets (midnight in the "
                    "portal's time zone) or ask HubSpot for a higher limit"
                )
            wait = retry_after_seconds(headers, 1.0)
            self.pacer.pause(wait)
            raise _Transient(f"429 {policy or 'rate limited'}", wait_s=wait, sent=False)
        if status >= 500 or status == 0:
            with self.stats._lock:
                self.stats.server_errors += 1
            raise _Transient(f"HTTP {status or 'error'}")
        if status == 401:
            raise HubSpotApiError(
                f"HubSpot rejected the access token (401) on {endpoint}: set HUBSPOT_ACCESS_TOKEN to the private "
                "app's current access token (Settings > Integrations > Private apps)"
            )
        if status == 403:
            scopes = _required_scopes(body) or ([scope] if scope else [])
            named = ", ".join(scopes) if scopes else "the scope this endpoint needs"
            raise HubSpotApiError(
                f"HubSpot refused {endpoint} (403 missing scope): add {named} to the private app's scopes "
                "and use its new token"
            )
        if status == 404:
            raise HubSpotNotFoundError(f"HubSpot has no such object on {endpoint} (404): {message or 'not found'}")
        if status == 400:
            prop = _unknown_property(body)
            if prop:
                raise HubSpotApiError(
                    f"HubSpot rejected {endpoint} (400): property {prop!r} does not exist in this portal; create "
                    "it in HubSpot (Settings > Properties) or remove it from the extracted properties"
                )
            raise HubSpotApiError(f"HubSpot rejected {endpoint} (400): {message or 'bad request'}")
        raise HubSpotApiError(f"HubSpot answered {status} on {endpoint}: {message or 'unexpected error'}")


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

