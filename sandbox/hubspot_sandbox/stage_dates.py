"""HubSpot's lifecycle stage-entered / exited date properties, as the sandbox maintains them.

HubSpot keeps, per lifecycle stage internal value ``<v>`` (standard or custom), ``hs_v2_date_entered_<v>``
(the instant the contact last entered the stage) and ``hs_v2_date_exited_<v>`` (the instant it last left
it), read-only, filterable and sortable in CRM search (docs/sandbox.md cites the source). The sandbox sets
them on every lifecycle change: a PATCH or in-process ``Portal.update``/``create``, and when a snapshot or the
generator's portal is loaded (derived from the ``lifecyclestage`` history then, unless the snapshot has them).
"""

from __future__ import annotations

from pipeline.policy import STANDARD_LIFECYCLE_STAGES

ENTERED_PREFIX = "hs_v2_date_entered_"
EXITED_PREFIX = "hs_v2_date_exited_"
PREFIXES = (ENTERED_PREFIX, EXITED_PREFIX)
# every portal has these date properties for HubSpot's standard stages (the one list, pipeline/policy.py)
STANDARD_STAGES = STANDARD_LIFECYCLE_STAGES


def entered_property(stage: str) -> str:
    return f"{ENTERED_PREFIX}{stage}"


def exited_property(stage: str) -> str:
    return f"{EXITED_PREFIX}{stage}"


def is_stage_date(name: str) -> bool:
    return name.startswith(PREFIXES)


def on_stage_change(old: str | None, new: str | None, instant: str) -> dict[str, str]:
    """The date properties a change of ``lifecyclestage`` from ``old`` to ``new`` at ``instant`` sets."""
    out: dict[str, str] = {}
    if old and old != new:
        out[exited_property(old)] = instant
    if new and new != old:
        out[entered_property(new)] = instant
    return out


def from_history(history: list[dict]) -> dict[str, str]:
    """Stage dates implied by a ``lifecyclestage`` history (any order): latest entry / exit of each stage."""
    out: dict[str, str] = {}
    previous = None
    for entry in sorted(history, key=lambda e: str(e.get("timestamp") or "")):
        value = entry.get("value") or None
        out.update(on_stage_change(previous, value, entry["timestamp"]))
        previous = value
    return out


def fill_object(obj: dict) -> None:
    """Add the stage dates a loaded contact lacks (snapshot values win)."""
    props = obj["properties"]
    history = (obj.get("propertiesWithHistory") or {}).get("lifecyclestage")
    if not history:
        stage = props.get("lifecyclestage")
        history = [{"value": stage, "timestamp": obj["createdAt"]}] if stage else []
    for name, instant in from_history(history).items():
        props.setdefault(name, instant)
