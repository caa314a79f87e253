"""CRM search (``POST /crm/v3/objects/{type}/search``) over a Portal, with HubSpot's semantics and limits.

filterGroups are ORed, filters inside a group ANDed; a top-level ``filters`` array is ANDed with every group (as
HubSpot does). Dates compare as instants (ISO or epoch-ms strings),
numbers numerically, other strings case-insensitively. Archived objects are never returned. Range filters on
the modified date use the sorted index, so windowed incremental extraction stays fast on big portals.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable

from hubspot_sandbox.api_errors import validation_error
from hubspot_sandbox.crm_model import DATETIME_PROPERTIES, DEFAULT_PROPERTIES, NUMBER_PROPERTIES, parse_instant_ms
from hubspot_sandbox.stage_dates import is_stage_date

MAX_LIMIT = 200
DEFAULT_LIMIT = 10
MAX_RESULTS = 10_000
MAX_GROUPS = 5
MAX_FILTERS_PER_GROUP = 6
MAX_FILTERS = 18
VALUE_OPERATORS = {"EQ", "NEQ", "LT", "LTE", "GT", "GTE", "CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN"}
OPERATORS = VALUE_OPERATORS | {"BETWEEN", "IN", "NOT_IN", "HAS_PROPERTY", "NOT_HAS_PROPERTY"}
_MISSING = object()

Predicate = Callable[[dict], bool]


def _kind(name: str) -> str:
    if name in DATETIME_PROPERTIES or is_stage_date(name):
        return "datetime"
    if name in NUMBER_PROPERTIES:
        return "number"
    return "auto"


def _number(value: object) -> float | None:
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def _comparable(kind: str, raw: object):
    """(value, ok) for comparing a stored or filter value of a property kind."""
    if raw is None or raw == "":
        return None
    if kind == "datetime":
        return parse_instant_ms(raw)
    if kind == "number":
        return _number(raw)
    number = _number(raw)
    return number if number is not None else str(raw).lower()


def _filter_value(kind: str, name: str, raw: object, field: str):
    if raw is None:
        raise validation_error(f"filter on {name!r} needs {field!r}")
    value = _comparable(kind, raw)
    if value is None:
        wanted = "a date (ISO-8601 or epoch milliseconds)" if kind == "datetime" else "a number"
        raise validation_error(f"filter {field} {raw!r} for property {name!r} is not {wanted}")
    return value


def _same_type(a, b) -> bool:
    return isinstance(a, str) == isinstance(b, str)


def compile_filter(spec: dict, schema: set[str]) -> tuple[str, Predicate, tuple[int, int] | None]:
    """(property, predicate over a properties dict, optional inclusive ms range usable by the date index)."""
    if not isinstance(spec, dict):
        raise validation_error("each filter must be an object with propertyName and operator")
    name = spec.get("propertyName")
    operator = spec.get("operator")
    if not name:
        raise validation_error("filter is missing propertyName")
    if operator not in OPERATORS:
        raise validation_error(f"filter on {name!r}: unknown operator {operator!r} (one of {', '.join(sorted(OPERATORS))})")
    if name not in schema:
        raise validation_error(f"There was a problem with the request. Property {name!r} does not exist",
                               errors=[{"message": f"Property {name!r} does not exist", "code": "INVALID_PROPERTY",
                                        "context": {"propertyName": [name]}}])
    kind = _kind(name)
    if operator == "HAS_PROPERTY":
        return name, lambda p: p.get(name) not in (None, ""), None
    if operator == "NOT_HAS_PROPERTY":
        return name, lambda p: p.get(name) in (None, ""), None
    if operator in ("IN", "NOT_IN"):
        values = spec.get("values")
        if not isinstance(values, list) or not values:
            raise validation_error(f"filter {operator} on {name!r} needs a non-empty 'values' list")
        wanted = {_filter_value(kind, name, v, "values") for v in values}
        if operator == "IN":
            return name, lambda p: _comparable(kind, p.get(name)) in wanted, None
        return name, lambda p: _comparable(kind, p.get(name)) not in wanted, None
    if operator == "BETWEEN":
        low = _filter_value(kind, name, spec.get("value"), "value")
        high = _filter_value(kind, name, spec.get("highValue"), "highValue")

        def between(p: dict) -> bool:
            value = _comparable(kind, p.get(name))
            return value is not None and _same_type(value, low) and _same_type(value, high) and low <= value <= high

        return name, between, (int(low), int(high)) if kind == "datetime" else None
    value = _filter_value(kind, name, spec.get("value"), "value")
    if operator in ("CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN"):
        token = str(spec.get("value")).lower().strip("*")
        contains = operator == "CONTAINS_TOKEN"
        return name, lambda p: (token in str(p.get(name) or "").lower()) == contains, None
    ms_range = None
    if kind == "datetime":
        ms_range = {"EQ": (value, value), "LT": (None, value - 1), "LTE": (None, value),
                    "GT": (value + 1, None), "GTE": (value, None)}.get(operator)

    def compare(p: dict) -> bool:
        stored = _comparable(kind, p.get(name))
        if operator == "NEQ":
            return stored is None or stored != value
        if stored is None or not _same_type(stored, value):
            return False
        if operator == "EQ":
            return stored == value
        if operator == "LT":
            return stored < value
        if operator == "LTE":
            return stored <= value
        if operator == "GT":
            return stored > value
        return stored >= value

    return name, compare, ms_range


def _query_predicate(object_type: str, query: str) -> Predicate:
    needle = query.lower().strip()
    fields = [n for n in DEFAULT_PROPERTIES[object_type] if n not in ("hs_object_id",)] + ["phone", "company", "jobtitle"]
    return lambda p: any(needle in str(p.get(f) or "").lower() for f in fields)


def _parse_sorts(sorts: object, schema: set[str]) -> list[tuple[str, bool]]:
    if sorts is None:
        return []
    if not isinstance(sorts, list):
        raise validation_error("sorts must be a list")
    parsed = []
    for sort in sorts:
        if isinstance(sort, str):
            name, descending = sort.lstrip("-"), sort.startswith("-")
        elif isinstance(sort, dict):
            name = sort.get("propertyName")
            direction = str(sort.get("direction", "ASCENDING")).upper()
            if direction not in ("ASCENDING", "DESCENDING"):
                raise validation_error(f"sort direction {direction!r} must be ASCENDING or DESCENDING")
            descending = direction == "DESCENDING"
        else:
            raise validation_error("each sort is a property name or {propertyName, direction}")
        if name not in schema:
            raise validation_error(f"There was a problem with the request. Cannot sort on unknown property {name!r}")
        parsed.append((name, descending))
    return parsed


def _int_field(body: dict, key: str, default: int) -> int:
    raw = body.get(key, default)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise validation_error(f"{key}={raw!r} must be an integer") from None
    if value < 0:
        raise validation_error(f"{key}={raw!r} must not be negative")
    return value


def execute_search(portal, object_type: str, body: dict) -> dict:
    """Answer one search request body (raises ApiError 400 like HubSpot for invalid requests)."""
    if not isinstance(body, dict):
        raise validation_error("search body must be a JSON object")
    store = portal.stores[object_type]
    schema = store.schema
    limit = _int_field(body, "limit", DEFAULT_LIMIT)
    if limit > MAX_LIMIT:
        raise validation_error(f"limit={limit} is above the maximum of {MAX_LIMIT} for search")
    after = _int_field(body, "after", 0)
    if after + limit > MAX_RESULTS:
        raise validation_error(
            f"There was a problem with the request. Search results are limited to {MAX_RESULTS:,}: "
            f"after={after} limit={limit} pages beyond them; narrow the filter (e.g. window on the modified date)",
            subCategory="SEARCH_RESULT_LIMIT_EXCEEDED",
        )
    groups = body.get("filterGroups") or []
    if not isinstance(groups, list):
        raise validation_error("filterGroups must be a list of {filters: [...]}")
    if len(groups) > MAX_GROUPS:
        raise validation_error(f"There was a problem with the request. Too many filter groups: {len(groups)} "
                               f"(at most {MAX_GROUPS})", context={"filterGroups": [str(len(groups))]})
    top = body.get("filters") or []
    if not isinstance(top, list):
        raise validation_error("filters must be a list of filters")
    raw_groups: list[list] = []
    total_filters = len(top)
    for group in groups:
        filters = group.get("filters", []) if isinstance(group, dict) else None
        if not isinstance(filters, list):
            raise validation_error("each filter group holds a 'filters' list")
        if len(filters) > MAX_FILTERS_PER_GROUP:
            raise validation_error(f"There was a problem with the request. Too many filters in a group: "
                                   f"{len(filters)} (at most {MAX_FILTERS_PER_GROUP})",
                                   context={"filters": [str(len(filters))]})
        total_filters += len(filters)
        raw_groups.append(filters)
    if len(top) > MAX_FILTERS_PER_GROUP:
        raise validation_error(f"There was a problem with the request. Too many filters: {len(top)} "
                               f"(at most {MAX_FILTERS_PER_GROUP})", context={"filters": [str(len(top))]})
    if total_filters > MAX_FILTERS:
        raise validation_error(f"There was a problem with the request. Too many filters in all groups: "
                               f"{total_filters} (at most {MAX_FILTERS})", context={"filters": [str(total_filters)]})
    top_compiled = [compile_filter(f, schema) for f in top]
    compiled: list[list[tuple[str, Predicate, tuple[int, int] | None]]] = [
        [compile_filter(f, schema) for f in filters] + top_compiled for filters in raw_groups
    ]
    if top_compiled and not compiled:
        compiled = [top_compiled]
    sorts = _parse_sorts(body.get("sorts"), schema)
    properties = body.get("properties") or None
    query = body.get("query")
    query_predicate = _query_predicate(object_type, query) if query else None

    with portal.lock:
        pending = portal.search_pending(object_type)
        group_ranges = [_group_range(store.modified_name, g) for g in compiled]
        # fast path: sorted ascending by the modified date, one group: the index is already in that order
        fast = not pending and query_predicate is None and len(compiled) <= 1 and sorts == [(store.modified_name, False)]
        if fast:
            start, end = _range_bounds(store, group_ranges[0] if compiled else None)
            # filters on the modified date are exactly the index range; only the others need checking
            predicates = [p for (name, p, r) in compiled[0] if name != store.modified_name or r is None] \
                if compiled else []
            if predicates:
                by_id = store.by_id
                matched = [oid for (_, oid) in store.modified[start:end]
                           if _all(predicates, by_id[str(oid)]["properties"])]
                page_ids = [str(oid) for oid in matched[after:after + limit]]
                total = len(matched)
            else:
                page_ids = [str(oid) for (_, oid) in store.modified[start + after:min(end, start + after + limit)]]
                total = end - start
            objects = [store.by_id[i] for i in page_ids]
        else:
            objects_all = _candidates(store, group_ranges, pending)
            matched_objs = [
                obj for obj in objects_all
                if (not compiled or any(_all([p for (_, p, _) in g], obj["properties"]) for g in compiled))
                and (query_predicate is None or query_predicate(obj["properties"]))
            ]
            matched_objs = _sort(matched_objs, sorts)
            total = len(matched_objs)
            objects = matched_objs[after:after + limit]
        results = [portal.render(object_type, obj, properties) for obj in objects]
    answer: dict = {"total": total, "results": results}
    if after + limit < total:
        answer["paging"] = {"next": {"after": str(after + limit)}}
    return answer


def _all(predicates: list[Predicate], props: dict) -> bool:
    for predicate in predicates:
        if not predicate(props):
            return False
    return True


def _group_range(modified_name: str, group) -> tuple[int | None, int | None] | None:
    low, high, used = None, None, False
    for name, _, ms_range in group:
        if name != modified_name or ms_range is None:
            continue
        used = True
        if ms_range[0] is not None:
            low = ms_range[0] if low is None else max(low, ms_range[0])
        if ms_range[1] is not None:
            high = ms_range[1] if high is None else min(high, ms_range[1])
    return (low, high) if used else None


def _range_bounds(store, ms_range) -> tuple[int, int]:
    """Positions in the modified-date index covering an inclusive ms range (None: everything)."""
    index = store.modified
    if ms_range is None:
        return 0, len(index)
    low, high = ms_range
    start = 0 if low is None else bisect.bisect_left(index, (low, -1))
    end = len(index) if high is None else bisect.bisect_right(index, (high, float("inf")))
    return start, max(start, end)


def _range_slice(store, ms_range) -> list[tuple[int, int]]:
    start, end = _range_bounds(store, ms_range)
    return store.modified[start:end]


def _candidates(store, group_ranges, pending: dict) -> list[dict]:
    """Objects search can see that may match: index ranges when every group has one, else all active."""
    if group_ranges and all(r is not None for r in group_ranges):
        ids: set[int] = set()
        for ms_range in group_ranges:
            ids.update(oid for (_, oid) in _range_slice(store, ms_range))
        ordered = sorted(ids)
    else:
        ordered = store.active
    objects = [store.by_id[str(oid)] for oid in ordered if str(oid) not in pending]
    objects.extend(before for before in pending.values() if before is not None and not before["archived"])
    return objects


def _sort(objects: list[dict], sorts: list[tuple[str, bool]]) -> list[dict]:
    objects = sorted(objects, key=lambda o: int(o["id"]))
    for name, descending in reversed(sorts):
        kind = _kind(name)
        present = [(o, _comparable(kind, o["properties"].get(name))) for o in objects]
        have = [(o, v) for (o, v) in present if v is not None]
        missing = [o for (o, v) in present if v is None]
        # numbers before strings when a property mixes them, like a keyword sort would not: keep deterministic
        have.sort(key=lambda pair: (isinstance(pair[1], str), pair[1]), reverse=descending)
        objects = [o for (o, _) in have] + missing
    return objects
