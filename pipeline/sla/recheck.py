"""The live re-check before a ladder step: is the step still warranted? Pure, given the live rows.

A step is cancelled when HubSpot shows, since the last sync: a touch of the episode (docs/contracts.md
"Touch rules", applied to the live engagements), an owner changed by hand, a stage that moved on, or
the contact gone (deleted or merged).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone

from pipeline.policy import Policy
from pipeline.touch_rules import DEFAULT_MEETING_OUTCOMES_EXCLUDED, ENGAGEMENTS, id_order, is_touch, touch_time

MQL_STAGE = "marketingqualifiedlead"


@dataclass(frozen=True)
class Recheck:
    proceed: bool
    reason: str  # why it was cancelled, or "still overdue"
    details: dict = field(default_factory=dict)


def parse_ts(value) -> datetime | None:
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    text = str(value)
    if text.isdigit():
        return datetime.fromtimestamp(int(text) / 1000, tz=timezone.utc)
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def touches_since(engagements: list[dict], mql_at: datetime, now: datetime,
                  meeting_outcomes_excluded=DEFAULT_MEETING_OUTCOMES_EXCLUDED) -> list[dict]:
    """Live engagements that are touches of the episode opened at ``mql_at`` (``mql_at <= at <= now``; ``at`` is
    ``hs_timestamp``, for a meeting the earlier of ``hs_createdate`` and ``hs_timestamp``)."""
    found = []
    for e in engagements:
        props = e["properties"]
        family = ENGAGEMENTS[e["type"]][0] if e["type"] in ENGAGEMENTS else e["type"]
        at = touch_time(family, parse_ts(props.get("hs_timestamp")), parse_ts(props.get("hs_createdate")))
        if at is not None and mql_at <= at <= now and is_touch(
                e["type"], props, meeting_outcomes_excluded=meeting_outcomes_excluded):
            found.append({"type": e["type"], "id": e["id"], "at": at.isoformat(),
                          "owner_id": e["properties"].get("hubspot_owner_id")})
    return sorted(found, key=lambda t: (t["at"], id_order(t["id"])))


def recheck(
    *, mql_at: datetime, live_contact: dict | None, engagements: list[dict], expected_owners: set[str | None],
    now: datetime, policy: Policy | None = None,
) -> Recheck:
    """Proceed, or cancel with the first reason found (every reason is kept in ``details``). ``policy`` gives the
    touch settings and the MQL stages (``touches``, ``lifecycle_stages.mql``; default: the packaged defaults)."""
    if live_contact is None:
        return Recheck(False, "contact no longer exists in HubSpot (deleted or merged)")
    reasons: list[str] = []
    details: dict = {}
    excluded = policy.touches.meeting_outcomes_excluded if policy else DEFAULT_MEETING_OUTCOMES_EXCLUDED
    mql_stages = policy.lifecycle_stages.mql if policy else [MQL_STAGE]
    touches = touches_since(engagements, mql_at, now, excluded)
    if touches:
        first = touches[0]
        reasons.append(f"touch logged since the last sync: {first['type'][:-1]} {first['id']} at {first['at']}")
        details["touches"] = touches
    stage = live_contact.get("lifecyclestage") or ""
    if stage not in mql_stages:
        reasons.append(f"lifecycle stage moved on to {stage or '(cleared)'}")
        details["lifecyclestage"] = stage
    owner = live_contact.get("hubspot_owner_id") or None
    if owner not in expected_owners:
        expected = sorted(o or "(none)" for o in expected_owners)
        reasons.append(f"owner changed by hand to {owner or '(none)'} (expected {' or '.join(expected)})")
        details["owner_id"] = owner
    if reasons:
        details["reasons"] = reasons
        return Recheck(False, reasons[0], details)
    return Recheck(True, "still overdue", {"live_owner_id": owner})
