"""The touch rules of docs/contracts.md in Python: the one copy that `handoff explain` and the SLA job's live
re-check share. The marts apply the same rules in SQL (sql/models/intermediate/contact_links.sql over the staging views,
which upper-case the enum values); tests hold the two to the same cases.

A meeting counts at the earlier of ``hs_createdate`` (when it was booked or logged) and ``hs_timestamp`` (when it
takes place), unless its upper-cased outcome is in the policy's ``touches.meeting_outcomes_excluded``.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

# engagement table -> (family, first detail column, second detail column, title column)
ENGAGEMENTS: dict[str, tuple[str, str | None, str | None, str | None]] = {
    "calls": ("call", "hs_call_direction", "hs_call_status", "hs_call_title"),
    "emails": ("email", "hs_email_direction", "hs_email_status", "hs_email_subject"),
    "meetings": ("meeting", "hs_meeting_outcome", None, "hs_meeting_title"),
    "communications": ("communication", "hs_communication_channel_type", "hs_communication_logged_from",
                       "hs_communication_body"),
    "notes": ("note", None, None, "hs_note_body"),
    "tasks": ("task", "hs_task_status", "hs_task_type", "hs_task_subject"),
}
TYPE_ORDER = {"call": 0, "email": 1, "meeting": 2, "communication": 3, "note": 4, "task": 5}
REP_CHANNELS = ("SMS", "WHATS_APP", "LINKEDIN_MESSAGE")
DEFAULT_MEETING_OUTCOMES_EXCLUDED = ("CANCELED",)  # the policy default (touches.meeting_outcomes_excluded)


def touch_time(family: str, timestamp: datetime | None, created: datetime | None) -> datetime | None:
    """The instant an engagement counts at: ``hs_timestamp``; for a meeting the earlier of ``hs_createdate`` (booked
    or logged) and ``hs_timestamp`` (when it takes place), either one alone when the other is missing."""
    if family != "meeting" or created is None:
        return timestamp
    if timestamp is None:
        return created
    return min(timestamp, created)


def type_reasons(family: str, first: str | None, second: str | None, *,
                 meeting_outcomes_excluded: Iterable[str] = DEFAULT_MEETING_OUTCOMES_EXCLUDED) -> list[str]:
    """Why an engagement of this kind is not an outreach attempt, whatever its time (empty: it can count).

    ``first``/``second`` are the family's detail properties (ENGAGEMENTS); compared upper-cased, as staging does.
    ``meeting_outcomes_excluded``: the policy's ``touches.meeting_outcomes_excluded`` (upper-cased).
    """
    first = first.upper() if first else None  # staging: upper(col); '' behaves as missing in every rule
    second = second.upper() if second else None
    if family in ("note", "task"):
        return [f"{family}s never count as outreach"]
    if family == "call" and first != "OUTBOUND":
        return ["inbound call" if first == "INBOUND" else f"call direction {first or 'missing'} (only OUTBOUND counts)"]
    reasons = []
    if family == "email":
        if first not in ("EMAIL", "FORWARDED_EMAIL"):
            reasons.append("incoming email" if first == "INCOMING_EMAIL" else f"email direction {first or 'missing'}")
        if (second or "SENT") in ("BOUNCED", "FAILED", "SCHEDULED"):
            reasons.append(f"email {(second or '').lower()}")
    if family == "meeting" and first and first in {o.upper() for o in meeting_outcomes_excluded}:
        reasons.append("meeting canceled" if first == "CANCELED"
                       else f"meeting outcome {first} (in touches.meeting_outcomes_excluded)")
    if family == "communication":
        if first not in REP_CHANNELS:
            reasons.append(f"channel {first or 'missing'} is not a rep message (SMS, WhatsApp, LinkedIn)")
        if (second or "CRM") != "CRM":
            reasons.append(f"logged from {second}, not by a rep in the CRM")
    return reasons


def is_touch(object_type: str, props: dict, *,
             meeting_outcomes_excluded: Iterable[str] = DEFAULT_MEETING_OUTCOMES_EXCLUDED) -> bool:
    """Does an engagement of this table (``calls``, ``emails``...) with these properties count (time aside)?"""
    spec = ENGAGEMENTS.get(object_type)
    if spec is None:
        return False
    family, first, second, _title = spec
    return not type_reasons(family, props.get(first) if first else None, props.get(second) if second else None,
                            meeting_outcomes_excluded=meeting_outcomes_excluded)


def id_order(engagement_id: str) -> tuple[int, int | str]:
    """Tie-break order of engagement ids: numerically when numeric (as the SQL does), else as text after them."""
    text = str(engagement_id)
    return (0, int(text)) if text.isdigit() else (1, text)
