"""The FastAPI routes of the sandbox: HubSpot CRM objects, owners, account info, association reads, properties,
pipelines and schemas, on the legacy paths (``/crm/v3/...``, ``/crm/v4/associations/...``). The gate in
``server.py`` maps the date-based family (``/crm/objects/2026-09/...``) onto them: one behaviour for both.

Responses are built as plain dicts and serialised with orjson (big pages stay fast). Errors are ApiError,
rendered in HubSpot's JSON shape, and so are the framework's own (unknown path, wrong method).
"""

from __future__ import annotations

from datetime import datetime, timezone

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from hubspot_sandbox.api_errors import ApiError, validation_error
from hubspot_sandbox.crm_meta import legacy_v2_definition
from hubspot_sandbox.crm_model import (
    ASSOCIATION_TYPE_BY_ID,
    ENGAGEMENT_TYPES,
    SINGULAR,
    TYPE_ALIASES,
    UNMODELLED_ALIASES,
    iso_from_ms,
    to_ms,
)
from hubspot_sandbox.portal import Portal
from hubspot_sandbox.search import execute_search
from hubspot_sandbox.stats import SandboxStats

LIST_MAX = 100
LIST_HISTORY_MAX = 50
BATCH_HISTORY_MAX = 50
BATCH_HISTORY_MESSAGE = "The maximum number of inputs supported in a batch request for property histories is 50"
LIST_DEFAULT = 10
BATCH_MAX = 100
BATCH_HISTORY_MAX = 50
ASSOCIATION_BATCH_MAX = 1000
ASSOCIATION_LIST_DEFAULT = ASSOCIATION_LIST_MAX = 500  # v4 list: limit defaults to 500 (the v4 spec)
OWNERS_MAX = 500
READ_ONLY = {"hs_object_id", "createdate", "hs_createdate", "lastmodifieddate", "hs_lastmodifieddate",
             "hs_merged_object_ids"}


def _json(body: object, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json;charset=utf-8")


def _now_iso() -> str:
    return iso_from_ms(to_ms(datetime.now(timezone.utc)))


def _object_type(name: str) -> str:
    """The object type a URL names; HubSpot types the sandbox does not model are served empty."""
    object_type = TYPE_ALIASES.get(name.lower()) or UNMODELLED_ALIASES.get(name.lower())
    if object_type is None:
        raise validation_error(f"Unable to infer object type from: {name}")
    return object_type


def _version(request: Request) -> str:
    """The API version the client called (``v3`` for the legacy paths, else e.g. ``2026-09``)."""
    return request.scope.get("hubspot.version", "v3")


def _enforces_write_validation(request: Request) -> bool:
    """HubSpot enforces admin-configured validation rules on writes from the 2026-09 API version on."""
    version = _version(request)
    return version[:4].isdigit() and version[:7] >= "2026-09"


def _link_base(request: Request) -> str:
    return _origin(request) + request.scope.get("hubspot.path", request.url.path)


def _origin(request: Request) -> str:
    """Scheme and host the client called: the start of the links the answer hands out."""
    return str(request.base_url).rstrip("/")


def _names(request: Request, key: str) -> list[str] | None:
    """A multi-valued query parameter; HubSpot accepts repeats (``?p=a&p=b``) and commas (``?p=a,b``)."""
    values = [part.strip() for raw in request.query_params.getlist(key) for part in raw.split(",") if part.strip()]
    return values or None


def _flag(request: Request, key: str) -> bool:
    raw = request.query_params.get(key, "false").lower()
    if raw not in ("true", "false"):
        raise validation_error(f"{key}={raw!r} must be true or false")
    return raw == "true"


def _limit(request: Request, default: int, maximum: int, why: str = "") -> int:
    """``limit``: default when absent; above ``maximum`` a 400 (HubSpot refuses, it does not cap)."""
    raw = request.query_params.get("limit")
    if raw is None:
        return default
    if not raw.isdigit() or int(raw) < 1:
        raise validation_error(f"limit={raw!r} must be a positive integer")
    if int(raw) > maximum:
        raise validation_error(f"limit={raw} is above the maximum of {maximum}{why}",
                               context={"limit": [raw]})
    return int(raw)


async def _body(request: Request) -> dict:
    raw = await request.body()
    try:
        body = orjson.loads(raw or b"{}")
    except orjson.JSONDecodeError as err:
        raise validation_error(f"Invalid input JSON on line {err.lineno}, column {err.colno}: {err.msg}") from None
    if not isinstance(body, dict):
        raise validation_error("Invalid input JSON: expected an object")
    return body


def _property_list(body: dict, key: str) -> list[str] | None:
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise validation_error(f"{key} must be a list of property names")
    return value or None


def _check_write_properties(portal: Portal, object_type: str, properties: object) -> dict[str, str]:
    """HubSpot's write validation: known, writable properties; string values; real owner ids."""
    if not isinstance(properties, dict):
        raise validation_error("properties must be an object of property name -> value")
    schema = portal.known_properties(object_type)
    problems = []
    for name, value in properties.items():
        if name not in schema:
            problems.append({"isValid": False, "message": f'Property "{name}" does not exist',
                             "error": "PROPERTY_DOESNT_EXIST", "name": name})
        elif name in READ_ONLY:
            problems.append({"isValid": False, "message": f'"{name}" is a read only property; its value cannot be set.',
                             "error": "READ_ONLY_VALUE", "name": name})
        elif value is not None and not isinstance(value, (str, int, float, bool)):
            problems.append({"isValid": False, "message": f"{name}: {value!r} is not a valid value",
                             "error": "INVALID_VALUE", "name": name})
        elif name == "hubspot_owner_id" and value not in (None, "") and str(value) not in portal.owners:
            problems.append({"isValid": False, "message": f"{value} is not a valid owner id",
                             "error": "INVALID_OWNER_ID", "name": name})
    if problems:
        raise validation_error("Property values were not valid: " + orjson.dumps(problems).decode(),
                               errors=[{"message": p["message"], "code": p["error"],
                                        "context": {"propertyName": [p["name"]]}} for p in problems])
    return {name: (None if v is None else str(v).lower() if isinstance(v, bool) else str(v))
            for name, v in properties.items()}


def build_api(portal: Portal, stats: SandboxStats) -> FastAPI:
    app = FastAPI(title="HubSpot sandbox", docs_url=None, redoc_url=None, openapi_url=None)

    @app.exception_handler(ApiError)
    async def api_error(request: Request, err: ApiError) -> Response:
        return _json(err.body(), err.status)

    @app.get("/_sandbox/stats")
    async def sandbox_stats() -> Response:
        return _json(stats.snapshot())

    @app.get("/account-info/v3/details")
    async def account_details() -> Response:
        return _json(portal.account_details())

    @app.get("/crm/v3/owners")
    @app.get("/crm/v3/owners/")
    async def owners_list(request: Request) -> Response:
        return _json(portal.owners_page(limit=_limit(request, 100, OWNERS_MAX), after=request.query_params.get("after"),
                                        archived=_flag(request, "archived"), email=request.query_params.get("email")))

    @app.get("/crm/v3/owners/{owner_id}")
    async def owners_get(owner_id: str, request: Request) -> Response:
        if request.query_params.get("idProperty") == "userId":
            owner = next((o for o in portal.owners.values() if str(o["userId"]) == owner_id), None)
        else:
            owner = portal.owners.get(owner_id)
        if owner is None or owner["archived"] != _flag(request, "archived"):
            raise ApiError(404, "OBJECT_NOT_FOUND", f"Owner {owner_id} not found", context={"id": [owner_id]})
        return _json(owner)

    @app.get("/crm/v3/objects/{object_type}")
    async def objects_list(object_type: str, request: Request) -> Response:
        object_type = _object_type(object_type)
        history = _names(request, "propertiesWithHistory")
        if history:
            limit = _limit(request, LIST_DEFAULT, LIST_HISTORY_MAX, " when propertiesWithHistory is requested")
        else:
            limit = _limit(request, LIST_DEFAULT, LIST_MAX)
        associations = [TYPE_ALIASES[a.lower()] for a in (_names(request, "associations") or [])
                        if a.lower() in TYPE_ALIASES]
        return _json(portal.list_page(
            object_type, limit=limit, after=request.query_params.get("after"), properties=_names(request, "properties"),
            history=history, associations=associations or None, archived=_flag(request, "archived"),
            link_base=_link_base(request), link_params=list(request.query_params.multi_items()),
        ))

    @app.get("/crm/v3/objects/{object_type}/{object_id}")
    async def objects_get(object_type: str, object_id: str, request: Request) -> Response:
        object_type = _object_type(object_type)
        id_property = request.query_params.get("idProperty")
        if id_property not in (None, "", "hs_object_id"):
            raise validation_error(f"idProperty={id_property!r} is not supported by the sandbox (ids only)")
        associations = [TYPE_ALIASES[a.lower()] for a in (_names(request, "associations") or [])
                        if a.lower() in TYPE_ALIASES]
        with portal.lock:
            obj = portal.require_api_object(object_type, object_id, _flag(request, "archived"))
            return _json(portal.render(object_type, obj, _names(request, "properties"),
                                       _names(request, "propertiesWithHistory"), associations or None,
                                       _origin(request)))

    @app.post("/crm/v3/objects/{object_type}/batch/read")
    async def objects_batch_read(object_type: str, request: Request) -> Response:
        object_type = _object_type(object_type)
        started = _now_iso()
        body = await _body(request)
        inputs = _batch_inputs(body, BATCH_MAX, f" (batch read takes at most {BATCH_MAX} ids)", with_context=True)
        if body.get("idProperty") not in (None, "", "hs_object_id"):
            raise validation_error(f"idProperty={body['idProperty']!r} is not supported by the sandbox (ids only)")
        properties = _property_list(body, "properties")
        history = _property_list(body, "propertiesWithHistory")
        if history and len(inputs) > BATCH_HISTORY_MAX:
            raise validation_error(BATCH_HISTORY_MESSAGE, context={"inputs": [str(len(inputs))]})
        archived = _flag(request, "archived")
        results, missing, seen = [], [], set()
        with portal.lock:
            for item in inputs:
                object_id = str(item["id"])
                obj = portal.get(object_type, object_id, archived=archived)
                if obj is None:
                    missing.append(object_id)
                elif obj["id"] not in seen:
                    seen.add(obj["id"])
                    results.append(portal.render(object_type, obj, properties, history))
        answer = {"status": "COMPLETE", "results": results, "startedAt": started, "completedAt": _now_iso()}
        if not missing:
            return _json(answer)
        answer["numErrors"] = 1
        answer["errors"] = [{
            "status": "error", "category": "OBJECT_NOT_FOUND",
            "message": f"Could not get some {SINGULAR[object_type].upper()} objects, they may be deleted or not "
                       "exist. Check that ids are valid.",
            "context": {"ids": missing}, "links": {}, "errors": [],
        }]
        return _json(answer, 207)

    @app.post("/crm/v3/objects/{object_type}/search")
    async def objects_search(object_type: str, request: Request) -> Response:
        object_type = _object_type(object_type)
        return _json(execute_search(portal, object_type, await _body(request)))

    @app.patch("/crm/v3/objects/{object_type}/{object_id}")
    async def objects_update(object_type: str, object_id: str, request: Request) -> Response:
        object_type = _object_type(object_type)
        body = await _body(request)
        with portal.lock:
            obj = portal.require_api_object(object_type, object_id)
            properties = _check_write_properties(portal, object_type, body.get("properties"))
            if _enforces_write_validation(request):
                _check_required(portal, object_type, "update", {**obj["properties"], **properties})
            obj = portal.update(object_type, obj["id"], properties, source_type="INTEGRATION")
            return _json(portal.render(object_type, obj, list(properties)))

    @app.post("/crm/v3/objects/{object_type}")
    async def objects_create(object_type: str, request: Request) -> Response:
        object_type = _object_type(object_type)
        body = await _body(request)
        with portal.lock:
            properties = _check_write_properties(portal, object_type, body.get("properties"))
            if object_type in ENGAGEMENT_TYPES and not properties.get("hs_timestamp"):
                raise validation_error('Property values were not valid: "hs_timestamp" is required for '
                                       f"{object_type}", errors=[{"message": "hs_timestamp is required",
                                                                  "code": "REQUIRED_PROPERTY"}])
            if _enforces_write_validation(request):
                _check_required(portal, object_type, "create", properties)
            links = _association_inputs(portal, object_type, body.get("associations") or [])
            object_id = portal.create(object_type, properties, links, source_type="INTEGRATION")
            obj = portal.stores[object_type].by_id[object_id]
            return _json(portal.render(object_type, obj, list(properties)), 201)

    @app.get("/crm/v4/objects/{from_type}/{object_id}/associations/{to_type}")
    async def associations_list(from_type: str, object_id: str, to_type: str, request: Request) -> Response:
        from_type, to_type = _object_type(from_type), _object_type(to_type)
        after = request.query_params.get("after")
        if after is not None and not after.isdigit():
            raise validation_error(f"after={after!r} is not a paging cursor this list handed out",
                                   context={"after": [after]})
        limit = _limit(request, ASSOCIATION_LIST_DEFAULT, ASSOCIATION_LIST_MAX)
        return _json(portal.association_page(from_type, object_id, to_type, after=after, limit=limit,
                                             link=_link_base(request)))

    @app.post("/crm/v4/associations/{from_type}/{to_type}/batch/read")
    async def associations_batch_read(from_type: str, to_type: str, request: Request) -> Response:
        from_type, to_type = _object_type(from_type), _object_type(to_type)
        started = _now_iso()
        body = await _body(request)
        inputs = _batch_inputs(body, ASSOCIATION_BATCH_MAX)
        ids = list(dict.fromkeys(str(i["id"]) for i in inputs))
        results, empty = portal.association_batch(from_type, to_type, ids)
        answer = {"status": "COMPLETE", "results": results, "startedAt": started, "completedAt": _now_iso()}
        if not empty:
            return _json(answer)
        answer["numErrors"] = len(empty)
        answer["errors"] = [{
            "status": "error", "category": "OBJECT_NOT_FOUND", "subCategory": "crm.associations.NO_ASSOCIATIONS_FOUND",
            "message": f"No {SINGULAR[to_type]} is associated with {SINGULAR[from_type]} {object_id}.",
            "context": {"fromObjectId": [object_id]}, "links": {}, "errors": [],
        } for object_id in empty]
        return _json(answer, 207)

    @app.get("/crm/v3/properties/{object_type}")
    async def properties_list(object_type: str, request: Request) -> Response:
        object_type = _object_type(object_type)
        return _json({"results": portal.property_definitions(object_type, archived=_flag(request, "archived"))})

    @app.get("/crm/v3/properties/{object_type}/{name}")
    async def properties_get(object_type: str, name: str, request: Request) -> Response:
        object_type = _object_type(object_type)
        definition = portal.property_definition(object_type, name, archived=_flag(request, "archived"))
        if definition is None:
            raise ApiError(404, "OBJECT_NOT_FOUND", f"Unable to find property {name} for object type {object_type}",
                           context={"propertyName": [name]})
        return _json(definition)

    @app.get("/properties/v2/{object_type}/properties")
    async def properties_v2_list(object_type: str) -> Response:
        """The legacy Properties API v2: a bare array, each the v2 form of the v3 definition (one source)."""
        object_type = _object_type(object_type)
        return _json([legacy_v2_definition(d) for d in portal.property_definitions(object_type)])

    @app.get("/properties/v2/{object_type}/properties/named/{name}")
    async def properties_v2_get(object_type: str, name: str) -> Response:
        definition = portal.property_definition(_object_type(object_type), name)
        if definition is None:
            raise ApiError(404, "OBJECT_NOT_FOUND", f"Unable to find property {name} for object type {object_type}",
                           context={"propertyName": [name]})
        return _json(legacy_v2_definition(definition))

    @app.get("/crm/v3/pipelines/{object_type}")
    async def pipelines_list(object_type: str) -> Response:
        return _json(portal.pipelines(_object_type(object_type)))

    def _pipeline(object_type: str, pipeline_id: str) -> dict:
        found = [p for p in portal.pipelines(_object_type(object_type))["results"] if p["id"] == pipeline_id]
        if not found:
            raise ApiError(404, "OBJECT_NOT_FOUND", f"Unable to find pipeline {pipeline_id}",
                           context={"pipelineId": [pipeline_id]})
        return found[0]

    @app.get("/crm/v3/pipelines/{object_type}/{pipeline_id}")
    async def pipelines_get(object_type: str, pipeline_id: str) -> Response:
        return _json(_pipeline(object_type, pipeline_id))

    @app.get("/crm/v3/pipelines/{object_type}/{pipeline_id}/stages")
    async def pipeline_stages(object_type: str, pipeline_id: str) -> Response:
        return _json({"results": _pipeline(object_type, pipeline_id)["stages"]})

    @app.get("/crm/v3/schemas")
    async def schemas_list() -> Response:
        return _json({"results": []})  # a portal without custom objects

    @app.get("/crm/v3/schemas/{object_type}")
    async def schemas_get(object_type: str) -> Response:
        raise ApiError(404, "OBJECT_NOT_FOUND", f"Unable to find object schema {object_type}",
                       context={"objectType": [object_type]})

    @app.exception_handler(StarletteHTTPException)
    async def framework_error(request: Request, err: StarletteHTTPException) -> Response:
        """Unknown paths and methods answer in HubSpot's error envelope, never the framework's ``{"detail"}``."""
        path = request.scope.get("hubspot.path", request.url.path)
        if err.status_code == 405:
            return _json(ApiError(405, "METHOD_NOT_ALLOWED",
                                  f"{request.method} is not supported on {path}").body(), 405)
        return _json(ApiError(err.status_code, "OBJECT_NOT_FOUND" if err.status_code == 404 else "UNKNOWN",
                              f"No API endpoint at {request.method} {path}").body(), err.status_code)

    @app.exception_handler(RequestValidationError)
    async def framework_validation(request: Request, err: RequestValidationError) -> Response:
        return _json(validation_error(f"Invalid request: {err.errors()[0].get('msg', 'bad input')}").body(), 400)

    return app


def _check_required(portal: Portal, object_type: str, action: str, properties: dict) -> None:
    """The portal's admin-configured validation rules (required properties), as HubSpot enforces them on 2026-09
    writes: a 400 VALIDATION_ERROR naming each missing property (code MISSING_REQUIRED_PROPERTY)."""
    missing = portal.missing_required(object_type, action, properties)
    if missing:
        raise validation_error(
            "Property values were not valid: required propert" + ("ies " if len(missing) > 1 else "y ")
            + ", ".join(missing) + f" missing on {action} (portal validation rule)",
            errors=[{"message": f"{name} is required", "code": "MISSING_REQUIRED_PROPERTY",
                     "context": {"propertyName": [name]}} for name in missing],
        )


def _association_inputs(portal: Portal, object_type: str, associations: object) -> dict[str, list[str]]:
    """v3 create associations: ``[{"to": {"id"}, "types": [{"associationCategory", "associationTypeId"}]}]``."""
    if not isinstance(associations, list):
        raise validation_error("associations must be a list of {to: {id}, types: [...]}")
    links: dict[str, list[str]] = {}
    for item in associations:
        target_id = str(((item or {}).get("to") or {}).get("id", ""))
        types = (item or {}).get("types") or []
        if not target_id or not types:
            raise validation_error("each association needs to.id and at least one type")
        for spec in types:
            type_id = spec.get("associationTypeId")
            pair = ASSOCIATION_TYPE_BY_ID.get(type_id) if spec.get("associationCategory") == "HUBSPOT_DEFINED" else None
            if pair is None or pair[0] != object_type:
                raise validation_error(
                    f"association type {spec.get('associationCategory')}/{type_id} is not valid from {object_type}")
            target_type = pair[1]
            if portal.get(target_type, target_id) is None:
                raise validation_error(f"cannot associate: no {target_type} with id {target_id}",
                                       context={"id": [target_id]})
            links.setdefault(target_type, []).append(target_id)
    return links


def _batch_inputs(body: dict, limit: int, hint: str = "", *, with_context: bool = False) -> list[dict]:
    """The ``inputs`` of a batch request, validated as HubSpot does (a list of ``{"id": ...}``, at most ``limit``)."""
    inputs = body.get("inputs")
    if not isinstance(inputs, list) or not all(isinstance(i, dict) and "id" in i for i in inputs):
        raise validation_error('inputs must be a list of {"id": "..."}')
    if len(inputs) > limit:
        context = {"context": {"inputs": [str(len(inputs))]}} if with_context else {}
        raise validation_error(f"Too many inputs: {len(inputs)} > {limit}{hint}", **context)
    return inputs
