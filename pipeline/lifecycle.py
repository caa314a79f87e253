"""The portal's lifecycle stages against the policy's ``lifecycle_stages`` (docs/policy.md).

Portals rename, remove and add lifecycle stages (custom stages have numeric internal values), so the stages that
play each role come from the policy and are checked against the ``lifecyclestage`` property's options read from
the portal (the Properties API; raw table ``hubspot.property_options``, docs/contracts.md). A configured stage the
portal lacks is one line listing the portal's stages (label -> internal value) and the key to set.

``missing_stages_message`` is pure (options in, message out); ``check_portal_stages`` reads the raw table and is
what the blocking Dagster check on ``staging/policy`` calls (assets/lifecycle_check.py).
"""

from __future__ import annotations

from collections.abc import Iterable

import duckdb

from pipeline.errors import ConfigError
from pipeline.policy import LifecycleStages, Policy

OPTIONS_TABLE = "property_options"


def _option_value(option: dict) -> str:
    return str(option.get("value") or "").strip()


def _order(option: dict) -> tuple[int, str]:
    order = option.get("display_order", option.get("displayOrder"))
    return (int(order) if order is not None and str(order).lstrip("-").isdigit() else 1 << 30, _option_value(option))


def options_from_property(definition: dict) -> list[dict]:
    """The options of one property definition exactly as the Properties API returns it (``options`` list)."""
    return [dict(o) for o in definition.get("options") or []]


def describe_stages(options: Iterable[dict]) -> str:
    """``Label -> internal value`` of each option in the portal's display order, comma-separated."""
    parts = []
    for option in sorted(options, key=_order):
        label = str(option.get("label") or "").strip() or "(no label)"
        hidden = " (hidden)" if option.get("hidden") else ""
        parts.append(f"{label} -> {_option_value(option)}{hidden}")
    return ", ".join(parts) if parts else "(none)"


def missing_stages_message(stages: LifecycleStages, options: list[dict], source: str = "the policy") -> str | None:
    """None when every configured stage is one of the portal's ``lifecyclestage`` options; else one line naming
    the missing stages with their keys and listing the portal's stages (label -> internal value)."""
    present = {_option_value(o) for o in options}
    missing = [(key, value) for key, value in stages.configured() if value not in present]
    if not missing:
        return None
    keys: dict[str, list[str]] = {}
    for key, value in missing:
        keys.setdefault(key, []).append(value)
    first = next(iter(keys))
    what = ", ".join(f"{value!r}" + (f" ({key})" if len(keys) > 1 else "") for key, value in missing)
    plural = "s" if len(missing) > 1 else ""
    return (f"{source}: {first}: the portal has no lifecycle stage{plural} {what}; set {' and '.join(keys)} to the "
            f"portal's internal values (label -> internal value): {describe_stages(options)}")


def read_stage_options(con: duckdb.DuckDBPyConnection) -> list[dict] | None:
    """The contacts' ``lifecyclestage`` options from ``hubspot.property_options``; None before the extractor has
    written that table (an older database, or a run that did not sync)."""
    exists = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database() AND schema_name = 'hubspot' "
        "AND table_name = ?", [OPTIONS_TABLE]).fetchone()[0]
    if not exists:
        return None
    cursor = con.execute(
        f"SELECT CAST(value AS VARCHAR), CAST(label AS VARCHAR), TRY_CAST(display_order AS BIGINT), "
        f"TRY_CAST(hidden AS BOOLEAN) FROM hubspot.{OPTIONS_TABLE} "
        "WHERE object_type = 'contacts' AND property_name = 'lifecyclestage'")
    return [{"value": v, "label": label, "display_order": order, "hidden": bool(hidden)}
            for v, label, order, hidden in cursor.fetchall()]


def check_portal_stages(con: duckdb.DuckDBPyConnection, policy: Policy, source: str = "the policy") -> dict:
    """Raise ConfigError (one line) when the portal lacks a configured stage; else a summary for the check's
    metadata: ``{"checked": bool, "stages": n, "portal_stages": "Lead -> lead, ..."}``. Not checked (passes)
    while ``hubspot.property_options`` does not exist or holds no lifecyclestage options."""
    options = read_stage_options(con)
    if not options:
        return {"checked": False, "stages": 0, "portal_stages": ""}
    message = missing_stages_message(policy.lifecycle_stages, options, source)
    if message:
        raise ConfigError(message)
    return {"checked": True, "stages": len(options), "portal_stages": describe_stages(options)}
