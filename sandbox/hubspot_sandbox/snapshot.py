"""Load and validate a portal snapshot (DOMAIN.md's format); every problem is one line naming object and field.

    data = load_snapshot("portal.json")        # dict, validated
    validate_snapshot(data, "portal.json")     # for a dict built in memory
"""

from __future__ import annotations

import gc
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

import orjson

from pipeline.errors import SnapshotError
from hubspot_sandbox.crm_model import OBJECT_TYPES

TOP_LEVEL_KEYS = ("portal", "owners", *OBJECT_TYPES, "properties", "validationRules")
_TYPES = frozenset(OBJECT_TYPES)
_STRING_TYPES = frozenset({str, type(None)})


@contextmanager
def paused_gc():
    """Building millions of objects with the cyclic GC on costs several times the work itself."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def load_snapshot(path: str | Path) -> dict:
    """Read and validate a snapshot file. Raises SnapshotError (one line) on any problem."""
    with paused_gc():
        return _load(Path(path))


def _load(path: Path) -> dict:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise SnapshotError(f"snapshot {path}: no such file (make one with `handoff sandbox generate`)") from None
    except OSError as err:
        raise SnapshotError(f"snapshot {path}: cannot read it ({err.strerror})") from None
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as err:
        reason = str(err.msg if hasattr(err, "msg") else err).split(": line")[0]
        raise SnapshotError(
            f"snapshot {path}: not valid JSON at line {err.lineno}, column {err.colno}: {reason}"
        ) from None
    validate_snapshot(data, str(path))
    return data


def _is_iso(value: object) -> bool:
    if not isinstance(value, str) or len(value) < 10 or value[4:5] != "-":
        return False
    try:
        datetime.fromisoformat(value[:-1] + "+00:00" if value.endswith("Z") else value)
    except ValueError:
        return False
    return True


def _iso_key(value: object) -> datetime | None:
    if not _is_iso(value):
        return None
    parsed = datetime.fromisoformat(value[:-1] + "+00:00" if value.endswith("Z") else value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


class _Checker:
    def __init__(self, source: str):
        self.source = source

    def fail(self, where: str, problem: str) -> None:
        raise SnapshotError(f"snapshot {self.source}: {where}: {problem}")

    def iso(self, where: str, value: object) -> None:
        if not _is_iso(value):
            self.fail(where, f"{_show(value)} is not an ISO-8601 timestamp (e.g. 2026-11-24T15:00:00.000Z)")

    def string(self, where: str, value: object, *, optional: bool = False) -> None:
        if value is None and optional:
            return
        if not isinstance(value, str):
            self.fail(where, f"{_show(value)} must be a string")

    def boolean(self, where: str, value: object) -> None:
        if not isinstance(value, bool):
            self.fail(where, f"{_show(value)} must be true or false")

    def object_id(self, where: str, value: object) -> None:
        if not isinstance(value, str) or not value.isdigit():
            self.fail(where, f"{_show(value)} must be a string of digits (HubSpot ids are numeric strings)")


def _show(value: object) -> str:
    text = orjson.dumps(value).decode() if not isinstance(value, bytes) else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def validate_snapshot(data: object, source: str = "<memory>") -> None:
    """Check a snapshot dict; raise SnapshotError naming the first offending object and field."""
    check = _Checker(source)
    if not isinstance(data, dict):
        check.fail("top level", "must be a JSON object with keys portal, owners, contacts, ...")
    for key in data:
        if key not in TOP_LEVEL_KEYS:
            check.fail(f"key {key!r}", f"unknown top-level key (expected some of: {', '.join(TOP_LEVEL_KEYS)})")
    _validate_portal(check, data.get("portal"))
    _validate_owners(check, data.get("owners", []))
    ids: dict[str, set[str]] = {}
    for object_type in OBJECT_TYPES:
        ids[object_type] = _validate_objects(check, object_type, data.get(object_type, []))
    for object_type in OBJECT_TYPES:
        _validate_association_targets(check, object_type, data.get(object_type, []), ids)
    _validate_property_map(check, data.get("properties"))
    _validate_validation_rules(check, data.get("validationRules"))


def _validate_property_map(check: _Checker, properties: object) -> None:
    """``"properties": {type: [definition, ...]}``, each definition as the Properties API returns it."""
    if properties is None:
        return
    if not isinstance(properties, dict):
        check.fail("properties", "must be an object of object type -> list of property definitions")
    for object_type, definitions in properties.items():
        if object_type not in _TYPES:
            check.fail(f"properties.{object_type}", f"unknown object type (expected one of: {', '.join(OBJECT_TYPES)})")
        if not isinstance(definitions, list):
            check.fail(f"properties.{object_type}", "must be a list of property definitions")
        seen: set[str] = set()
        for index, definition in enumerate(definitions):
            where = f"properties.{object_type}[{index}]"
            if not isinstance(definition, dict):
                check.fail(where, 'must be an object like {"name": "lifecyclestage", "options": [...]}')
            name = definition.get("name")
            if not isinstance(name, str) or not name:
                check.fail(f"{where}.name", f"{_show(name)} must be the property's internal name")
            where = f'properties.{object_type}[{index}] ("{name}")'
            if name in seen:
                check.fail(where, "duplicate property definition")
            seen.add(name)
            for field in ("label", "type", "fieldType", "groupName", "description"):
                if field in definition:
                    check.string(f"{where}.{field}", definition[field])
            for field in ("hidden", "archived", "hubspotDefined", "calculated"):
                if field in definition:
                    check.boolean(f"{where}.{field}", definition[field])
            options = definition.get("options", [])
            if not isinstance(options, list):
                check.fail(f"{where}.options", "must be a list of {label, value, displayOrder, hidden}")
            for o_index, option in enumerate(options):
                o_where = f"{where}.options[{o_index}]"
                if not isinstance(option, dict):
                    check.fail(o_where, "must be an object with label, value, displayOrder, hidden")
                check.string(f"{o_where}.label", option.get("label"))
                check.string(f"{o_where}.value", option.get("value"))
                order = option.get("displayOrder", 0)
                if not isinstance(order, int) or isinstance(order, bool):
                    check.fail(f"{o_where}.displayOrder", f"{_show(order)} must be an integer")
                if "hidden" in option:
                    check.boolean(f"{o_where}.hidden", option["hidden"])


def _validate_validation_rules(check: _Checker, rules: object) -> None:
    """``"validationRules": {type: {"requiredOnCreate": [names], "requiredOnUpdate": [names]}}`` (2026-09 writes)."""
    if rules is None:
        return
    if not isinstance(rules, dict):
        check.fail("validationRules", 'must be an object like {"tasks": {"requiredOnCreate": ["hs_task_priority"]}}')
    for object_type, rule in rules.items():
        if object_type not in _TYPES:
            check.fail(f"validationRules.{object_type}", "unknown object type")
        if not isinstance(rule, dict):
            check.fail(f"validationRules.{object_type}", "must be an object with requiredOnCreate / requiredOnUpdate")
        for key, names in rule.items():
            if key not in ("requiredOnCreate", "requiredOnUpdate"):
                check.fail(f"validationRules.{object_type}.{key}", "unknown rule (requiredOnCreate or requiredOnUpdate)")
            if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
                check.fail(f"validationRules.{object_type}.{key}", "must be a list of property names")


def _validate_portal(check: _Checker, portal: object) -> None:
    if portal is None:
        check.fail("portal", 'missing (e.g. "portal": {"id": 1234, "timezone": "America/New_York"})')
    if not isinstance(portal, dict):
        check.fail("portal", "must be an object")
    if not isinstance(portal.get("id"), int) or isinstance(portal.get("id"), bool):
        check.fail("portal.id", f"{_show(portal.get('id'))} must be an integer portal id")
    if "timezone" in portal:
        check.string("portal.timezone", portal["timezone"])
    if "now" in portal:
        check.iso("portal.now", portal["now"])


def _validate_owners(check: _Checker, owners: object) -> None:
    if not isinstance(owners, list):
        check.fail("owners", "must be a list")
    seen: set[str] = set()
    for index, owner in enumerate(owners):
        where = f"owners[{index}]"
        if not isinstance(owner, dict):
            check.fail(where, "must be an object")
        check.object_id(f"{where}.id", owner.get("id"))
        where = f'owners[{index}] (id "{owner["id"]}")'
        if owner["id"] in seen:
            check.fail(where, "duplicate owner id")
        seen.add(owner["id"])
        for field in ("email", "firstName", "lastName"):
            if field in owner:
                check.string(f"{where}: {field}", owner[field], optional=True)
        if "userId" in owner and owner["userId"] is not None and (
            not isinstance(owner["userId"], int) or isinstance(owner["userId"], bool)
        ):
            check.fail(f"{where}: userId", f"{_show(owner['userId'])} must be an integer")
        if "archived" in owner:
            check.boolean(f"{where}: archived", owner["archived"])
        for field in ("createdAt", "updatedAt"):
            if field in owner:
                check.iso(f"{where}: {field}", owner[field])
        teams = owner.get("teams", [])
        if not isinstance(teams, list):
            check.fail(f"{where}: teams", "must be a list")
        for t_index, team in enumerate(teams):
            t_where = f"{where}: teams[{t_index}]"
            if not isinstance(team, dict):
                check.fail(t_where, "must be an object")
            check.string(f"{t_where}.id", team.get("id"))
            check.string(f"{t_where}.name", team.get("name"))
            if "primary" in team:
                check.boolean(f"{t_where}.primary", team["primary"])


def _validate_objects(check: _Checker, object_type: str, objects: object) -> set[str]:
    """The hot loop for big portals: cheap checks inline, messages formatted only on failure."""
    if not isinstance(objects, list):
        check.fail(object_type, "must be a list of objects")
    seen: set[str] = set()
    for index, obj in enumerate(objects):
        if not isinstance(obj, dict):
            check.fail(f"{object_type}[{index}]", "must be an object")
        object_id = obj.get("id")
        if not isinstance(object_id, str) or not object_id.isdigit():
            check.object_id(f"{object_type}[{index}].id", object_id)
        if object_id in seen:
            check.fail(_where(object_type, index, obj), f"duplicate id in {object_type}")
        seen.add(object_id)
        if not _is_iso(obj.get("createdAt")):
            check.iso(f"{_where(object_type, index, obj)}: createdAt", obj.get("createdAt"))
        if "updatedAt" in obj and not _is_iso(obj["updatedAt"]):
            check.iso(f"{_where(object_type, index, obj)}: updatedAt", obj["updatedAt"])
        if "archived" in obj and not isinstance(obj["archived"], bool):
            check.boolean(f"{_where(object_type, index, obj)}: archived", obj["archived"])
        if obj.get("archivedAt") is not None and not _is_iso(obj["archivedAt"]):
            check.iso(f"{_where(object_type, index, obj)}: archivedAt", obj["archivedAt"])
        properties = obj.get("properties", {})
        if not isinstance(properties, dict):
            check.fail(f"{_where(object_type, index, obj)}: properties",
                       "must be an object of property name -> string value")
        if not _STRING_TYPES.issuperset(map(type, properties.values())):
            name, value = next((n, v) for n, v in properties.items() if v is not None and not isinstance(v, str))
            check.fail(f"{_where(object_type, index, obj)}: properties.{name}",
                       f"{_show(value)} must be a string or null (HubSpot sends every value as a string)")
        history = obj.get("propertiesWithHistory")
        if history:
            _validate_history(check, object_type, index, obj, history)
        associations = obj.get("associations")
        if associations:
            if not isinstance(associations, dict):
                check.fail(f"{_where(object_type, index, obj)}: associations",
                           "must be an object of target type -> list of ids")
            for target, target_ids in associations.items():
                if target not in _TYPES:
                    check.fail(f"{_where(object_type, index, obj)}: associations.{target}",
                               f"unknown object type (expected one of: {', '.join(OBJECT_TYPES)})")
                if not isinstance(target_ids, list):
                    check.fail(f"{_where(object_type, index, obj)}: associations.{target}", "must be a list of ids")
        primary = obj.get("primaryCompany")
        if primary is not None and (object_type not in ("contacts", "deals")
                                    or str(primary) not in ((associations or {}).get("companies") or [])):
            check.fail(f"{_where(object_type, index, obj)}: primaryCompany",
                       "must be one of the object's associations.companies (contacts and deals only)")
    return seen


def _where(object_type: str, index: int, obj: dict) -> str:
    return f'{object_type}[{index}] (id "{obj["id"]}")'


def _validate_history(check: _Checker, object_type: str, index: int, obj: dict, history: object) -> None:
    if not isinstance(history, dict):
        check.fail(f"{_where(object_type, index, obj)}: propertiesWithHistory",
                   "must be an object of property name -> list of entries")
    for name, entries in history.items():
        if not isinstance(entries, list):
            check.fail(f"{_where(object_type, index, obj)}: propertiesWithHistory.{name}",
                       "must be a list of {value, timestamp, sourceType} entries, newest first")
        previous = None
        for e_index, entry in enumerate(entries):
            if (isinstance(entry, dict) and "value" in entry and (entry["value"] is None or isinstance(entry["value"], str))
                    and isinstance(entry.get("sourceType"), str)):
                moment = _iso_key(entry.get("timestamp"))
                if moment is not None and (previous is None or moment <= previous):
                    previous = moment
                    continue
            _history_entry_problem(check, f"{_where(object_type, index, obj)}: propertiesWithHistory.{name}[{e_index}]",
                                   entry, previous)


def _history_entry_problem(check: _Checker, where: str, entry: object, previous) -> None:
    if not isinstance(entry, dict):
        check.fail(where, "must be an object with value, timestamp, sourceType")
    if "value" not in entry:
        check.fail(f"{where}.value", "missing")
    check.string(f"{where}.value", entry["value"], optional=True)
    check.iso(f"{where}.timestamp", entry.get("timestamp"))
    check.string(f"{where}.sourceType", entry.get("sourceType"))
    check.fail(f"{where}.timestamp",
               f"{_show(entry['timestamp'])} is newer than the entry before it (history is newest first)")


def _validate_association_targets(check: _Checker, object_type: str, objects: list, ids: dict) -> None:
    for index, obj in enumerate(objects):
        for target, target_ids in obj.get("associations", {}).items():
            known = ids[target]
            for t_index, target_id in enumerate(target_ids):
                if target_id not in known:
                    check.fail(f'{object_type}[{index}] (id "{obj["id"]}"): associations.{target}[{t_index}]',
                               f"{_show(target_id)} is not the id of any object in {target}")
