"""Flatten HubSpot v3 JSON into the raw tables' rows (docs/contracts.md "Raw layer"), plus the column hints."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

from pipeline.hubspot.properties import (
    HISTORY_PROPERTIES,
    PRIMARY_LABEL,
    PRIMARY_TYPE_IDS,
    PROPERTIES,
    TIMESTAMP_PROPERTIES,
    inline_association_types,
)


def parse_instant(value: Any) -> datetime | None:
    """HubSpot instants (ISO-8601, with or without ms, or epoch-ms strings) as aware UTC datetimes."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    text = str(value).strip()
    if text.lstrip("-").isdigit():
        return datetime.fromtimestamp(int(text) / 1000, tz=timezone.utc)
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def instant_ms(value: Any) -> int | None:
    parsed = parse_instant(value)
    return None if parsed is None else int(round(parsed.timestamp() * 1000))


def iso_from_ms(ms: int) -> str:
    """HubSpot's instant format, ``2026-11-24T15:00:00.123Z``."""
    moment = datetime.fromtimestamp(ms / 1000, tz=timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def object_row(object_type: str, obj: dict, *, archived: bool | None = None) -> dict:
    """One row of an object table: id, created_at, updated_at, archived and the extracted properties."""
    props = obj.get("properties") or {}
    row: dict[str, Any] = {
        "id": str(obj["id"]),
        "created_at": parse_instant(obj.get("createdAt")),
        "updated_at": parse_instant(obj.get("updatedAt")),
        "archived": bool(obj.get("archived", False)) if archived is None else archived,
    }
    for name in PROPERTIES[object_type]:
        value = props.get(name)
        row[name] = parse_instant(value) if name in TIMESTAMP_PROPERTIES else value
    if object_type == "contacts":
        row["merged_into_id"] = None  # set after the load from the survivors' hs_merged_object_ids
    return row


def history_rows(contact: dict) -> list[dict]:
    """One row per history entry of the tracked contact properties; ``position`` 0 = newest (HubSpot's order)."""
    rows = []
    history = contact.get("propertiesWithHistory") or {}
    for prop in HISTORY_PROPERTIES:
        for position, entry in enumerate(history.get(prop) or []):
            changed_at = parse_instant(entry.get("timestamp"))
            if changed_at is None:
                continue
            value = entry.get("value")
            rows.append({
                "contact_id": str(contact["id"]),
                "property": prop,
                "value": "" if value is None else str(value),
                "changed_at": changed_at,
                "source_type": entry.get("sourceType"),
                "source_id": _text_or_none(entry.get("sourceId")),
                "updated_by_user_id": _int_or_none(entry.get("updatedByUserId")),
                "position": position,
            })
    return rows


def _text_or_none(value: Any) -> str | None:
    return None if value in (None, "") else str(value)


def _int_or_none(value: Any) -> int | None:
    if value in (None, ""):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def owner_row(owner: dict) -> dict:
    user_id = owner.get("userId")
    return {
        "id": str(owner["id"]),
        "email": owner.get("email"),
        "first_name": owner.get("firstName"),
        "last_name": owner.get("lastName"),
        "user_id": None if user_id in (None, "") else int(user_id),
        "created_at": parse_instant(owner.get("createdAt")),
        "updated_at": parse_instant(owner.get("updatedAt")),
        "archived": bool(owner.get("archived", False)),
        "type": owner.get("type"),
    }


def owner_team_rows(owner: dict) -> list[dict]:
    return [
        {
            "owner_id": str(owner["id"]),
            "team_id": str(team["id"]),
            "team_name": team.get("name"),
            "is_primary": bool(team.get("primary", False)),
        }
        for team in owner.get("teams") or []
    ]


Links = dict[str, dict[str, list[dict]]]  # from id -> {to id: association type objects}


def association_rows(from_type: str, to_type: str, targets: Links) -> list[dict]:
    """Rows for every (from, to) pair, with its association types. An object with none gets one marker row
    (``to_id`` empty): the merge on (from_type, from_id, to_type) replaces its old rows with the marker, which
    stays, so the load that cleared the links is visible to incremental models (a hard-delete tombstone would
    leave no trace)."""
    rows: list[dict] = []
    for from_id, links in targets.items():
        if not links:
            rows.append({"from_type": from_type, "from_id": from_id, "to_type": to_type, "to_id": "",
                         "association_types": None, "is_primary": False, "deleted": False})
        for to_id, types in links.items():
            rows.append({"from_type": from_type, "from_id": from_id, "to_type": to_type, "to_id": to_id,
                         "association_types": association_types_text(types),
                         "is_primary": is_primary(from_type, to_type, types), "deleted": False})
    return rows


def association_types_text(types: list[dict]) -> str:
    """The contract's ``association_types``: compact JSON of the type objects, deduplicated and sorted by
    (category, typeId), so the inline listing and the v4 batch read store the same text."""
    unique = {(t.get("category"), t.get("typeId")): {"category": t.get("category"), "typeId": t.get("typeId"),
                                                       "label": t.get("label")} for t in types}
    ordered = [unique[k] for k in sorted(unique, key=lambda k: (str(k[0]), k[1] if isinstance(k[1], int) else -1))]
    return json.dumps(ordered, separators=(",", ":"))


def is_primary(from_type: str, to_type: str, types: list[dict]) -> bool:
    """Contract 1: typeId 1 (contact -> company) or 5 (deal -> company), or the label ``Primary``."""
    primary = PRIMARY_TYPE_IDS.get((from_type, to_type))
    return any((primary is not None and t.get("typeId") == primary) or t.get("label") == PRIMARY_LABEL
               for t in types)


def inline_links(from_type: str, to_type: str, obj: dict) -> dict[str, list[dict]] | None:
    """The links of an inline ``associations=`` listing, as the v4 batch read would give them: {to id: type
    objects}, primary and unlabelled entries of one id merged. None when the listing is incomplete for this
    object (a per-object paging cursor: over 100 entries) or names a type we cannot translate (a custom label):
    the caller batch-reads those objects instead."""
    block = (obj.get("associations") or {}).get(to_type)
    if not block:
        return {}
    if ((block.get("paging") or {}).get("next") or {}).get("after"):
        return None
    known = inline_association_types(from_type, to_type)
    links: dict[str, list[dict]] = {}
    for entry in block.get("results") or []:
        type_object = known.get(str(entry.get("type")))
        if type_object is None:
            return None
        types = links.setdefault(str(entry["id"]), [])
        if type_object not in types:
            types.append(dict(type_object))
    return links


def property_option_rows(object_type: str, definition: dict) -> list[dict]:
    """Contract 2: one row per option of an enumeration property (Properties API definition)."""
    rows = []
    for option in definition.get("options") or []:
        order = option.get("displayOrder")
        rows.append({
            "object_type": object_type,
            "property_name": str(definition.get("name")),
            "value": None if option.get("value") is None else str(option["value"]),
            "label": option.get("label"),
            "display_order": _int_or_none(order),
            "hidden": bool(option.get("hidden", False)),
        })
    return rows


def account_row(details: dict) -> dict:
    portal_id = details.get("portalId")
    return {
        "portal_id": None if portal_id in (None, "") else int(portal_id),
        "time_zone": details.get("timeZone"),
        "ui_domain": details.get("uiDomain"),
    }


# ---------------------------------------------------------------------------------------------- column hints
def _text(*names: str) -> dict:
    return {name: {"data_type": "text", "nullable": True} for name in names}


def _timestamps(*names: str) -> dict:
    return {name: {"data_type": "timestamp", "timezone": True, "nullable": True} for name in names}


def object_columns(object_type: str) -> dict:
    columns = {"id": {"data_type": "text", "nullable": False, "primary_key": True}}
    columns.update(_timestamps("created_at", "updated_at"))
    columns["archived"] = {"data_type": "bool", "nullable": True}
    for name in PROPERTIES[object_type]:
        columns.update(_timestamps(name) if name in TIMESTAMP_PROPERTIES else _text(name))
    if object_type == "contacts":
        columns.update(_text("merged_into_id"))
    return columns


HISTORY_COLUMNS = {
    **_text("contact_id", "property", "value"),
    **_timestamps("changed_at"),
    **_text("source_type", "source_id"),
    "updated_by_user_id": {"data_type": "bigint", "nullable": True},
    "position": {"data_type": "bigint", "nullable": True},
}
OWNER_COLUMNS = {
    **_text("id", "email", "first_name", "last_name"),
    "user_id": {"data_type": "bigint", "nullable": True},
    **_timestamps("created_at", "updated_at"),
    "archived": {"data_type": "bool", "nullable": True},
    **_text("type"),
}
OWNER_TEAM_COLUMNS = {
    **_text("owner_id", "team_id", "team_name"),
    "is_primary": {"data_type": "bool", "nullable": True},
    "deleted": {"data_type": "bool", "nullable": True, "hard_delete": True},
}
ASSOCIATION_COLUMNS = {
    **_text("from_type", "from_id", "to_type", "to_id", "association_types"),
    "is_primary": {"data_type": "bool", "nullable": True},
    "deleted": {"data_type": "bool", "nullable": True, "hard_delete": True},
}
PROPERTY_OPTION_COLUMNS = {
    **_text("object_type", "property_name", "value", "label"),
    "display_order": {"data_type": "bigint", "nullable": True},
    "hidden": {"data_type": "bool", "nullable": True},
}
ACCOUNT_COLUMNS = {"portal_id": {"data_type": "bigint", "nullable": True}, **_text("time_zone", "ui_domain")}
