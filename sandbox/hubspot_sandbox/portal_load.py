"""Filling a Portal from a snapshot dict: copies (or adopts) objects, builds sorted indexes and associations."""

from __future__ import annotations

from hubspot_sandbox.crm_model import OBJECT_TYPES, created_property, iso_ms, modified_property
from hubspot_sandbox.stage_dates import fill_object as fill_stage_dates

DEFAULT_OWNER_INSTANT = "2020-01-01T00:00:00.000Z"


def _own_object(object_type: str, source: dict) -> dict:
    """The portal's copy of a snapshot object (the input is never changed), with what HubSpot always has:
    hs_object_id, and the created/modified properties in sync with createdAt/updatedAt."""
    props = dict(source.get("properties") or {})
    obj = {"id": source["id"], "createdAt": source["createdAt"], "archived": bool(source.get("archived", False)),
           "properties": props}
    props["hs_object_id"] = obj["id"]
    props.setdefault(created_property(object_type), obj["createdAt"])
    modified_name = modified_property(object_type)
    obj["updatedAt"] = source.get("updatedAt") or props.get(modified_name) or obj["createdAt"]
    props[modified_name] = obj["updatedAt"]
    if obj["archived"]:
        obj["archivedAt"] = source.get("archivedAt") or obj["updatedAt"]
    if source.get("propertiesWithHistory"):
        obj["propertiesWithHistory"] = dict(source["propertiesWithHistory"])  # lists are replaced, never changed
    return obj


def _take_object(object_type: str, obj: dict) -> dict:
    """Like _own_object, but adopts the snapshot's dict itself (``owned=True``): no copy."""
    obj.pop("associations", None)
    props = obj.setdefault("properties", {})
    props["hs_object_id"] = obj["id"]
    props.setdefault(created_property(object_type), obj["createdAt"])
    modified_name = modified_property(object_type)
    if not obj.get("updatedAt"):
        obj["updatedAt"] = props.get(modified_name) or obj["createdAt"]
    props[modified_name] = obj["updatedAt"]
    obj["archived"] = bool(obj.get("archived", False))
    if obj["archived"] and not obj.get("archivedAt"):
        obj["archivedAt"] = obj["updatedAt"]
    if not obj.get("propertiesWithHistory"):
        obj.pop("propertiesWithHistory", None)
    return obj


def _normalise_owner(owner: dict) -> dict:
    user_id = owner.get("userId")
    return {
        "id": owner["id"],
        "email": owner.get("email"),
        "firstName": owner.get("firstName"),
        "lastName": owner.get("lastName"),
        "userId": user_id,
        "userIdIncludingInactive": owner.get("userIdIncludingInactive", user_id),
        "type": owner.get("type", "PERSON"),
        "createdAt": owner.get("createdAt", DEFAULT_OWNER_INSTANT),
        "updatedAt": owner.get("updatedAt", owner.get("createdAt", DEFAULT_OWNER_INSTANT)),
        "archived": bool(owner.get("archived", False)),
        "teams": [
            {"id": str(t["id"]), "name": t["name"], "primary": bool(t.get("primary", False))}
            for t in owner.get("teams", [])
        ],
    }


def fill_portal(portal, data: dict, *, owned: bool) -> None:
    """Load a snapshot's owners, objects, indexes and associations into an empty Portal."""
    for owner in data.get("owners", []):
        portal.owners[owner["id"]] = _normalise_owner(owner)
    portal.owner_ids = sorted(int(i) for i in portal.owners)
    own = _take_object if owned else _own_object
    for object_type in OBJECT_TYPES:
        store = portal.stores[object_type]
        objects = data.get(object_type, [])
        active: list[int] = []
        archived: list[int] = []
        modified: list[tuple[int, int]] = []
        schema = store.schema
        modified_name = store.modified_name
        by_id = store.by_id
        assoc = portal.associations
        pair_maps: dict[tuple[str, str], dict[str, list[str]]] = {}
        primary_links = portal.primary.setdefault((object_type, "companies"), {}) \
            if object_type in ("contacts", "deals") else None
        for source in objects:
            associations = source.get("associations")
            if primary_links is not None and source.get("primaryCompany"):
                # the snapshot's primary-company label (contact->company typeId 1, deal->company 5)
                primary_links[str(source["id"])] = str(source["primaryCompany"])
            obj = own(object_type, source)
            if object_type == "contacts":
                fill_stage_dates(obj)  # hs_v2_date_entered_<stage> from the lifecycle history
            object_id = obj["id"]
            by_id[object_id] = obj
            props = obj["properties"]
            schema.update(props)
            if "propertiesWithHistory" in obj:
                schema.update(obj["propertiesWithHistory"])
            oid = int(object_id)
            if obj["archived"]:
                archived.append(oid)
            else:
                active.append(oid)
                modified.append((iso_ms(props[modified_name]), oid))
            if associations:
                for target, target_ids in associations.items():
                    forward = pair_maps.get((object_type, target))
                    if forward is None:
                        forward = pair_maps[(object_type, target)] = assoc.setdefault((object_type, target), {})
                        pair_maps[(target, object_type)] = assoc.setdefault((target, object_type), {})
                    backward = pair_maps[(target, object_type)]
                    mine = forward.get(object_id)
                    if mine is None:
                        mine = forward[object_id] = []
                    for target_id in target_ids:
                        if target_id in mine:
                            continue
                        mine.append(target_id)
                        theirs = backward.get(target_id)
                        if theirs is None:
                            backward[target_id] = [object_id]
                        elif object_id not in theirs:
                            theirs.append(object_id)
        store.active = sorted(active)
        store.archived = sorted(archived)
        store.modified = sorted(modified)
        store.next_id = max([*active, *archived, 0]) + 1
    for object_type, definitions in (data.get("properties") or {}).items():
        overrides = portal.property_overrides.setdefault(object_type, {})
        schema = portal.stores[object_type].schema
        for definition in definitions:
            overrides[definition["name"]] = dict(definition)
            if definition.get("archived"):
                schema.discard(definition["name"])  # an archived property: absent from reads, search and writes
            else:
                schema.add(definition["name"])
    for object_type, rule in (data.get("validationRules") or {}).items():
        portal.validation_rules[object_type] = {"create": list(rule.get("requiredOnCreate") or []),
                                                "update": list(rule.get("requiredOnUpdate") or [])}
    for obj in portal.stores["contacts"].by_id.values():
        merged = obj["properties"].get("hs_merged_object_ids")
        for merged_id in (merged or "").split(";"):
            if merged_id.strip():
                portal.merged_into[merged_id.strip()] = obj["id"]
