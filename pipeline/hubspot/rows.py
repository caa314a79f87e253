"""Flatten HubSpot v3 JSON into the raw tables' rows (docs/contracts.md "Raw layer"), plus the column hints."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from pipeline.hubspot.properties import HISTORY_PROPERTIES, PROPERTIES, TIMESTAMP_PROPERTIES


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
                "position": position,
            })
    return rows


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


def association_rows(from_type: str, to_type: str, targets: dict[str, list[str]]) -> list[dict]:
    """Rows for every (from, to) pair. An object with none gets one marker row (``to_id`` empty): the merge on
    (from_type, from_id, to_type) replaces its old rows with the marker, which stays, so the load that cleared
    the links is visible to incremental models (a hard-delete tombstone would leave no trace)."""
    rows: list[dict] = []
    for from_id, to_ids in targets.items():
        if not to_ids:
            rows.append({"from_type": from_type, "from_id": from_id, "to_type": to_type, "to_id": "", "deleted": False})
        for to_id in to_ids:
            rows.append({"from_type": from_type, "from_id": from_id, "to_type": to_type, "to_id": to_id, "deleted": False})
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
    **_text("source_type"),
    "position": {"data_type": "bigint", "nullable": True},
}
OWNER_COLUMNS = {
    **_text("id", "email", "first_name", "last_name"),
    "user_id": {"data_type": "bigint", "nullable": True},
    **_timestamps("created_at", "updated_at"),
    "archived": {"data_type": "bool", "nullable": True},
}
OWNER_TEAM_COLUMNS = {
    **_text("owner_id", "team_id", "team_name"),
    "is_primary": {"data_type": "bool", "nullable": True},
    "deleted": {"data_type": "bool", "nullable": True, "hard_delete": True},
}
ASSOCIATION_COLUMNS = {
    **_text("from_type", "from_id", "to_type", "to_id"),
    "deleted": {"data_type": "bool", "nullable": True, "hard_delete": True},
}
ACCOUNT_COLUMNS = {"portal_id": {"data_type": "bigint", "nullable": True}, **_text("time_zone", "ui_domain")}
