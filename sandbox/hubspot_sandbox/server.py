"""The sandbox HTTP server: HubSpot's CRM endpoints (FastAPI) behind a gate that does what HubSpot's edge
does: bearer auth, scopes, rate limits, injected faults, and request statistics.

Both path families are served with one behaviour: the gate maps the date-based paths (``/crm/objects/2026-09/...``,
``/crm/associations/2026-09/...``, ``/crm/owners/2026-09``, ``/crm/properties/2026-09/...``,
``/crm/pipelines/2026-09/...``, ``/crm-object-schemas/2026-09/schemas``, ``/account-info/2026-09/details``) onto
the legacy routes and remembers the version the client called (writes from 2026-09 on are held to the portal's
validation rules).

    with run_in_thread(Portal.from_snapshot(data)) as sandbox:
        HubSpot(access_token=sandbox.token, host=sandbox.base_url)
"""

from __future__ import annotations

import asyncio
import itertools
import re
import socket
import threading
from dataclasses import dataclass, field
import time

import orjson
import uvicorn
from fastapi import FastAPI

from pipeline.errors import HandoffError
from hubspot_sandbox.api_errors import correlation_id
from hubspot_sandbox.crm_model import ENGAGEMENT_TYPES, TYPE_ALIASES, UNMODELLED_ALIASES
from hubspot_sandbox.faults import FaultPlan
from hubspot_sandbox.portal import Portal
from hubspot_sandbox.ratelimit import RateLimiter, RateLimits, rate_limit_body
from hubspot_sandbox.routes import build_api
from hubspot_sandbox.stats import SandboxStats

DEFAULT_TOKEN = "sandbox-token"

_V = r"(?P<v>\d{4}-\d{2}(?:-beta)?)"
# date-based (and alternative legacy) path -> the legacy route serving it
_PATH_FAMILIES: list[tuple[re.Pattern, str]] = [
    # one object's associations: the date-based family replaces the v4 list (the v3 one has another shape)
    (re.compile(rf"^/crm/objects/{_V}(?P<rest>/[^/]+/[^/]+/associations/[^/]+/?)$"), "/crm/v4/objects{rest}"),
    (re.compile(rf"^/crm/objects/{_V}(?P<rest>/.*)?$"), "/crm/v3/objects{rest}"),
    (re.compile(rf"^/crm/associations/{_V}(?P<rest>/.*)?$"), "/crm/v4/associations{rest}"),
    (re.compile(rf"^/crm/owners/{_V}(?P<rest>/.*)?$"), "/crm/v3/owners{rest}"),
    (re.compile(rf"^/crm/properties/{_V}(?P<rest>/.*)?$"), "/crm/v3/properties{rest}"),
    (re.compile(rf"^/crm/pipelines/{_V}(?P<rest>/.*)?$"), "/crm/v3/pipelines{rest}"),
    (re.compile(rf"^/crm-object-schemas/{_V}/schemas(?P<rest>/.*)?$"), "/crm/v3/schemas{rest}"),
    (re.compile(r"^/crm-object-schemas/(?P<v>v3)/schemas(?P<rest>/.*)?$"), "/crm/v3/schemas{rest}"),
    (re.compile(rf"^/account-info/{_V}(?P<rest>/.*)?$"), "/account-info/v3{rest}"),
]


def route_path(path: str) -> tuple[str, str]:
    """(the legacy route path serving ``path``, the API version called: ``v3`` for legacy paths)."""
    for pattern, template in _PATH_FAMILIES:
        match = pattern.match(path)
        if match:
            return template.format(rest=match.group("rest") or ""), match.group("v")
    return path, "v3"

# (method, path pattern) -> endpoint name template; {t} = object type, {f}/{o} = association from/to types
_ROUTES: list[tuple[str, re.Pattern, str]] = [
    ("GET", re.compile(r"^/crm/v3/owners/?$"), "owners.list"),
    ("GET", re.compile(r"^/crm/v3/owners/(?P<id>[^/]+)$"), "owners.get"),
    ("GET", re.compile(r"^/account-info/v3/details$"), "account.details"),
    ("POST", re.compile(r"^/crm/v3/objects/(?P<t>[^/]+)/batch/read$"), "{t}.batch_read"),
    ("POST", re.compile(r"^/crm/v3/objects/(?P<t>[^/]+)/search$"), "{t}.search"),
    ("GET", re.compile(r"^/crm/v3/objects/(?P<t>[^/]+)/?$"), "{t}.list"),
    ("POST", re.compile(r"^/crm/v3/objects/(?P<t>[^/]+)/?$"), "{t}.create"),
    ("GET", re.compile(r"^/crm/v3/objects/(?P<t>[^/]+)/(?P<id>[^/]+)$"), "{t}.get"),
    ("PATCH", re.compile(r"^/crm/v3/objects/(?P<t>[^/]+)/(?P<id>[^/]+)$"), "{t}.update"),
    ("POST", re.compile(r"^/crm/v4/associations/(?P<f>[^/]+)/(?P<o>[^/]+)/batch/read$"), "associations.batch_read"),
    ("GET", re.compile(r"^/crm/v4/objects/(?P<f>[^/]+)/(?P<id>[^/]+)/associations/(?P<o>[^/]+)/?$"), "associations.list"),
    ("GET", re.compile(r"^/crm/v3/properties/(?P<t>[^/]+)/?$"), "{t}.properties"),
    ("GET", re.compile(r"^/crm/v3/properties/(?P<t>[^/]+)/(?P<id>[^/]+)$"), "{t}.property"),
    ("GET", re.compile(r"^/properties/v2/(?P<t>[^/]+)/properties(?:/.*)?$"), "{t}.properties"),
    ("GET", re.compile(r"^/crm/v3/pipelines/(?P<t>[^/]+)(?:/.*)?$"), "{t}.pipelines"),
    ("GET", re.compile(r"^/crm/v3/schemas(?:/.*)?$"), "schemas.list"),
]


@dataclass(frozen=True)
class Endpoint:
    """``scopes``: every group must be granted; a group is granted by any one of its scopes."""

    name: str
    is_search: bool
    scopes: tuple[tuple[str, ...], ...]

    def missing(self, granted: set[str] | None) -> list[str]:
        if granted is None:
            return []
        return [group[0] for group in self.scopes if not any(s in granted for s in group)]


def _canonical(name: str) -> str:
    lowered = (name or "").lower()
    return TYPE_ALIASES.get(lowered) or UNMODELLED_ALIASES.get(lowered) or name


def object_scopes(object_type: str, *, write: bool = False) -> tuple[tuple[str, ...], ...]:
    """HubSpot's scopes for an object type: engagements are authorised by the contact scopes (their specs'
    ``security``), emails also need ``sales-email-read``; tickets use ``tickets``."""
    access = "write" if write else "read"
    if object_type in ENGAGEMENT_TYPES:
        groups: tuple[tuple[str, ...], ...] = ((f"crm.objects.contacts.{access}",),)
        if object_type == "emails" and not write:
            groups += (("sales-email-read",),)
        return groups
    if object_type == "tickets":
        return (("tickets",),)
    return ((f"crm.objects.{object_type}.{access}",),)


def classify(method: str, path: str) -> Endpoint:
    """The stats name and required scopes of a request (``path``: the legacy route path)."""
    for route_method, pattern, template in _ROUTES:
        match = pattern.match(path)
        if route_method != method or match is None:
            continue
        groups = match.groupdict()
        object_type = _canonical(groups.get("t") or "")
        name = template.format(t=object_type)
        write = template.endswith((".create", ".update"))
        if template.startswith("owners"):
            scopes: tuple[tuple[str, ...], ...] = (("crm.objects.owners.read",),)
        elif template.startswith("account"):
            scopes = ()
        elif template.startswith("schemas"):
            scopes = (("crm.schemas.custom.read",),)
        elif template.startswith("associations"):
            scopes = tuple(dict.fromkeys(g for k in ("f", "o") for g in object_scopes(_canonical(groups[k]))))
        elif object_type in ("form", "forms"):
            scopes = (("forms",),)  # the legacy v2 form fields belong to the Forms API's scope
        elif template.endswith((".properties", ".pipelines")):
            # the object's read scopes suffice (or the schema scope); emails' sales-email-read is not needed
            scopes = ((object_scopes(object_type)[0][0], f"crm.schemas.{object_type}.read"),)
        else:
            scopes = object_scopes(object_type, write=write)
        return Endpoint(name, name.endswith(".search"), scopes)
    return Endpoint("other", False, ())


async def _respond(send, status: int, body: bytes, headers: list[tuple[bytes, bytes]],
                   content_type: bytes = b"application/json;charset=utf-8") -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", content_type), (b"content-length", str(len(body)).encode()), *headers]})
    await send({"type": "http.response.body", "body": body})


_GATEWAY_PAGE = b"<html><head><title>{code} {reason}</title></head><body><center><h1>{code} {reason}</h1></center>" \
                b"<hr><center>cloudflare</center></body></html>"
_REASONS = {502: b"Bad Gateway", 503: b"Service Temporarily Unavailable", 504: b"Gateway Time-out"}


class Gate:
    """ASGI wrapper in front of the API: stats, auth, scopes, rate limits, faults, HubSpot's headers."""

    def __init__(self, api, *, token: str, limits: RateLimits, faults: FaultPlan | None,
                 scopes: set[str] | None, stats: SandboxStats):
        self.api = api
        self.token = token
        self.limiter = RateLimiter(limits)
        self.faults = faults
        self.scopes = scopes
        self.stats = stats
        self._sequence = itertools.count(1)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["path"].startswith("/_sandbox/"):
            return await self.api(scope, receive, send)
        original = scope["path"]
        routed, version = route_path(original)
        if routed != original:
            scope = {**scope, "path": routed, "raw_path": routed.encode()}
        scope = {**scope, "hubspot.path": original, "hubspot.version": version}
        endpoint = classify(scope["method"], scope["path"])
        called = f"{scope['method']} {original}"
        self.stats.request(endpoint.name, is_search=endpoint.is_search)
        sequence = next(self._sequence)
        correlation = correlation_id()
        base_headers = [(b"x-hubspot-correlation-id", correlation.encode())]
        headers = dict(scope["headers"])
        if headers.get(b"authorization", b"").decode("latin-1") != f"Bearer {self.token}":
            return await self._error(send, 401, called, {
                "status": "error",
                "message": "Authentication credentials not found. This API supports OAuth 2.0 authentication and "
                           "you can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview",
                "correlationId": correlation, "category": "INVALID_AUTHENTICATION"}, base_headers)
        missing = endpoint.missing(self.scopes)
        if missing:
            return await self._error(send, 403, called, {
                "status": "error",
                "message": "This app hasn't been granted all required scopes to make this call. Read more about "
                           "required scopes here: https://developers.hubspot.com/scopes.",
                "correlationId": correlation,
                "errors": [{"message": "One or more of the following scopes are required.",
                            "context": {"requiredGranularScopes": missing}}],
                "links": {"scopes": "https://developers.hubspot.com/scopes"},
                "category": "MISSING_SCOPES"}, base_headers)
        decision = self.limiter.check(is_search=endpoint.is_search)
        limit_headers = [] if endpoint.is_search else self.limiter.headers(decision)
        if not decision.allowed:
            self.stats.rate_limited("limit")
            return await self._error(send, 429, called, rate_limit_body(decision.policy, correlation),
                                     base_headers + limit_headers)
        fault = self.faults.decide(sequence) if self.faults is not None else None
        if fault is not None:
            self.stats.fault(fault.kind)
            if fault.kind == "slow":
                await asyncio.sleep(fault.delay_s)
            elif fault.kind == "drop":
                return self._drop(receive)
            elif fault.kind == "429":
                self.stats.rate_limited("fault")
                policy = "SECONDLY" if endpoint.is_search else "TEN_SECONDLY_ROLLING"
                return await self._error(send, 429, called, rate_limit_body(policy, correlation),
                                         base_headers + limit_headers)
            elif fault.kind == "500":
                return await self._error(send, 500, called, {
                    "status": "error", "message": "internal error", "correlationId": correlation,
                    "category": "INTERNAL_ERROR"}, base_headers)
            else:
                code = int(fault.kind)
                self.stats.status(code)
                page = _GATEWAY_PAGE.replace(b"{code}", fault.kind.encode()).replace(b"{reason}", _REASONS[code])
                return await _respond(send, code, page, base_headers, b"text/html")
        extra = base_headers + limit_headers

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                self.stats.status(message["status"], called)
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.api(scope, receive, send_with_headers)

    async def _error(self, send, status: int, called: str, body: dict, headers) -> None:
        self.stats.status(status, called)
        await _respond(send, status, orjson.dumps(body), headers)

    @staticmethod
    def _drop(receive) -> None:
        """Close the connection without any response (uvicorn's request cycle holds the transport)."""
        cycle = getattr(receive, "__self__", None)
        transport = getattr(cycle, "transport", None)
        if transport is None:
            raise RuntimeError("cannot drop the connection: the server is not uvicorn")
        cycle.disconnected = True  # uvicorn must not answer 500 for us
        transport.close()


def build_app(portal: Portal, *, token: str = DEFAULT_TOKEN, limits: RateLimits | None = None,
              faults: FaultPlan | None = None, scopes: set[str] | None = None,
              stats: SandboxStats | None = None) -> Gate:
    """The ASGI app: the FastAPI routes behind the gate."""
    stats = stats or SandboxStats()
    api: FastAPI = build_api(portal, stats)
    return Gate(api, token=token, limits=limits or RateLimits(), faults=faults, scopes=scopes, stats=stats)


@dataclass
class SandboxHandle:
    """A running sandbox: ``base_url`` and ``token`` for clients, ``portal`` to mutate, ``stats`` to inspect."""

    base_url: str
    token: str
    portal: Portal
    stats: SandboxStats
    _server: uvicorn.Server = field(repr=False)
    _thread: threading.Thread = field(repr=False)
    gate: Gate | None = field(default=None, repr=False)  # .limiter, .scopes: what the edge enforces

    @property
    def port(self) -> int:
        return int(self.base_url.rsplit(":", 1)[1])

    def env(self) -> dict[str, str]:
        return {"HUBSPOT_API_BASE": self.base_url, "HUBSPOT_ACCESS_TOKEN": self.token}

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)

    def __enter__(self) -> SandboxHandle:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def run_in_thread(portal: Portal, *, port: int = 0, token: str = DEFAULT_TOKEN, limits: RateLimits | None = None,
                  faults: FaultPlan | str | None = None, search_lag_s: float = 0, scopes: set[str] | None = None,
                  host: str = "127.0.0.1") -> SandboxHandle:
    """Serve ``portal`` on ``host:port`` (0 = a free port) from a background thread; returns once it listens."""
    if isinstance(faults, str):
        from hubspot_sandbox.faults import parse_faults

        faults = parse_faults(faults)
    portal.search_lag_s = float(search_lag_s)
    stats = SandboxStats()
    app = build_app(portal, token=token, limits=limits, faults=faults, scopes=scopes, stats=stats)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as err:
        sock.close()
        raise HandoffError(f"sandbox: cannot listen on {host}:{port} ({err.strerror}); pick another --port") from None
    bound_port = sock.getsockname()[1]
    config = uvicorn.Config(app, lifespan="off", log_level="warning", access_log=False, timeout_keep_alive=30)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name=f"sandbox:{bound_port}",
                              daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise HandoffError(f"sandbox: the server did not start on {host}:{bound_port}")
        time.sleep(0.01)
    return SandboxHandle(base_url=f"http://{host}:{bound_port}", token=token, portal=portal, stats=stats,
                         _server=server, _thread=thread, gate=app)


__all__ = ["DEFAULT_TOKEN", "SandboxHandle", "build_app", "classify", "run_in_thread"]
