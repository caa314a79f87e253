"""Engagement objects (calls, emails, meetings, notes, tasks, communications) and why each one is or isn't a touch.

``ActivityLog`` builds every engagement in HubSpot's v3 shape, hands it to a sink (a list or a file section)
and records, at construction time, the reason each non-touch is not a touch (the distractors of truth.json).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from hubspot_sandbox.gen_catalog import CALL_OUTCOMES, CHANNELS, EMAIL_SUBJECTS, MEETING_TITLES
from hubspot_sandbox.gen_clock import MS_DAY, MS_HOUR, MS_MINUTE, iso

ENGAGEMENT_TYPES = ("calls", "emails", "meetings", "notes", "tasks", "communications")
# touch family (singular, as in first_touch_type) -> snapshot section
TOUCH_SECTIONS = {"call": "calls", "email": "emails", "meeting": "meetings", "communication": "communications"}
TOUCH_KINDS = ("call", "email", "meeting", "communication")
TOUCH_ORDER = {kind: rank for rank, kind in enumerate(TOUCH_KINDS)}
ENGAGEMENT_ID_BASE = 50_000_000
CUSTOM_MEETING_OUTCOME = "Demo held"  # a portal's own meeting outcome (HubSpot lets portals add them)

# reasons a generated engagement is not a touch (the keys of truth["distractors"][type][id])
NOT_TOUCH_BY_KIND = ("note", "task", "inbound_call", "incoming_email", "bounced_email", "failed_email",
                     "scheduled_email", "canceled_meeting")
NOT_TOUCH_BY_CONTEXT = ("before_mql", "after_now", "archived", "not_associated_to_contact", "no_episode",
                        "excluded_contact")

Sink = Callable[[str, dict], None]


@dataclass(frozen=True)
class Touch:
    ts: int
    kind: str  # call / email / meeting / communication
    id: str
    owner_id: str | None

    @property
    def sort_key(self) -> tuple[int, int, int]:
        return (self.ts, TOUCH_ORDER[self.kind], int(self.id))


class ActivityLog:
    """Creates engagements with sequential ids; remembers each distractor's reason."""

    def __init__(self, sink: Sink, now_ms: int, extra_rng: random.Random | None = None):
        self.sink = sink
        self.now_ms = now_ms
        self.next_id = ENGAGEMENT_ID_BASE
        self.distractors: dict[str, dict[str, str]] = {t: {} for t in ENGAGEMENT_TYPES}
        self.counts: dict[str, int] = {t: 0 for t in ENGAGEMENT_TYPES}
        self.touches = 0
        self.override_reason: str | None = None  # set while building an excluded (archived) contact
        self.last_created = 0  # hs_createdate (ms) of the engagement made last
        self.extra = extra_rng or random.Random(0)  # draws of later features (own stream: see ContactBuilder)

    # -- the one place objects are made ------------------------------------------------------------------------
    def _emit(self, rng: random.Random, section: str, ts: int, owner_id: str | None, props: dict,
              contact_id: str, company_id: str | None, *, reason: str | None, archived: bool = False,
              on_contact: bool = True, created_at: int | None = None) -> str:
        self.next_id += 1
        eid = str(self.next_id)
        if created_at is not None:
            created = created_at
        elif ts <= self.now_ms:
            created = min(ts + rng.randint(0, 90_000), self.now_ms)
        else:
            created = self.now_ms - rng.randint(MS_HOUR, 3 * MS_DAY)
        self.last_created = created
        stamp = iso(created)
        properties = {"hs_object_id": eid, "hs_timestamp": iso(ts)}
        if owner_id:
            properties["hubspot_owner_id"] = owner_id
        properties.update(props)
        properties["hs_createdate"] = stamp
        properties["hs_lastmodifieddate"] = stamp
        associations: dict[str, list[str]] = {}
        if on_contact:
            associations["contacts"] = [contact_id]
        if company_id:
            associations["companies"] = [company_id]
        obj = {"id": eid, "properties": properties, "createdAt": stamp, "updatedAt": stamp, "archived": archived}
        if archived:
            obj["archivedAt"] = iso(min(created + rng.randint(MS_MINUTE, 2 * MS_DAY), self.now_ms))
        obj["associations"] = associations
        self.sink(section, obj)
        self.counts[section] += 1
        reason = self.override_reason or reason
        if reason is None:
            self.touches += 1
        else:
            self.distractors[section][eid] = reason
        return eid

    # -- touches ------------------------------------------------------------------------------------------------
    def touch(self, rng: random.Random, kind: str, ts: int, owner_id: str | None, contact_id: str,
              company_id: str | None, label: str, *, reason: str | None = None, archived: bool = False,
              on_contact: bool = True, created_at: int | None = None) -> Touch:
        """An engagement that qualifies as an outreach attempt by its kind; ``reason`` says why it still
        isn't one for any episode (before the MQL, after now, archived, not on the contact, no episode).

        ``ts`` is ``hs_timestamp``; for a meeting, when it takes place. The returned Touch carries the instant it
        counts at (contract 5): ``hs_timestamp``, for a meeting the earlier of ``hs_createdate`` and it."""
        if kind == "call":
            status, disposition = rng.choice(CALL_OUTCOMES)
            props = {"hs_call_direction": "OUTBOUND", "hs_call_status": status, "hs_call_disposition": disposition,
                     "hs_call_title": f"Call with {label}",
                     "hs_call_duration": str(rng.randint(20, 1800) * 1000 if status == "COMPLETED" else 0)}
        elif kind == "email":
            props = {"hs_email_direction": "FORWARDED_EMAIL" if rng.random() < 0.08 else "EMAIL",
                     "hs_email_subject": rng.choice(EMAIL_SUBJECTS).replace("{company}", label)}
            if rng.random() < 0.85:  # a missing status counts as SENT
                props["hs_email_status"] = "SENT"
        elif kind == "meeting":
            outcome = rng.choice(("COMPLETED", "COMPLETED", "SCHEDULED", "NO_SHOW", "RESCHEDULED", None))
            if outcome == "COMPLETED" and self.extra.random() < 0.2:
                outcome = CUSTOM_MEETING_OUTCOME  # a portal-defined outcome: not excluded, so it counts
            props = {"hs_meeting_title": f"{rng.choice(MEETING_TITLES)}: {label}",
                     "hs_meeting_start_time": iso(ts), "hs_meeting_end_time": iso(ts + 30 * MS_MINUTE)}
            if outcome:
                props["hs_meeting_outcome"] = outcome
        else:
            props = {"hs_communication_channel_type": rng.choice(CHANNELS),
                     "hs_communication_body": f"Hi {label.split(' ')[0]}, saw your request - got 5 minutes today?"}
            if rng.random() < 0.9:  # a missing logged_from counts as CRM
                props["hs_communication_logged_from"] = "CRM"
        section = TOUCH_SECTIONS[kind]
        eid = self._emit(rng, section, ts, owner_id, props, contact_id, company_id, reason=reason,
                         archived=archived, on_contact=on_contact, created_at=created_at)
        counted = min(ts, self.last_created) if kind == "meeting" else ts
        return Touch(counted, kind, eid, owner_id)

    # -- engagements that are never touches by their kind ---------------------------------------------------------
    def non_touch(self, rng: random.Random, reason: str, ts: int, owner_id: str | None, contact_id: str,
                  company_id: str | None, label: str, created_at: int | None = None) -> str:
        if reason == "note":
            return self._emit(rng, "notes", ts, owner_id, {"hs_note_body": rng.choice((
                f"{label} became an MQL - see the form submission.", "Left a note after the webinar.",
                "Researched the account on LinkedIn.", "Prospect asked for pricing by chat."))},
                contact_id, company_id, reason=reason)
        if reason == "task":
            return self._emit(rng, "tasks", ts, owner_id, {
                "hs_task_subject": f"Follow up with {label}",
                "hs_task_status": rng.choice(("NOT_STARTED", "COMPLETED", "IN_PROGRESS", "WAITING")),
                "hs_task_type": rng.choice(("CALL", "EMAIL", "TODO")), "hs_task_priority": "HIGH"},
                contact_id, company_id, reason=reason, created_at=created_at)
        if reason == "inbound_call":
            return self._emit(rng, "calls", ts, owner_id, {
                "hs_call_direction": "INBOUND", "hs_call_status": "COMPLETED",
                "hs_call_disposition": CALL_OUTCOMES[0][1], "hs_call_title": f"Inbound call from {label}",
                "hs_call_duration": str(rng.randint(30, 900) * 1000)}, contact_id, company_id, reason=reason)
        if reason == "incoming_email":
            return self._emit(rng, "emails", ts, owner_id, {
                "hs_email_direction": "INCOMING_EMAIL", "hs_email_status": "SENT",
                "hs_email_subject": "Re: your request"}, contact_id, company_id, reason=reason)
        if reason in ("bounced_email", "failed_email", "scheduled_email"):
            status = {"bounced_email": "BOUNCED", "failed_email": "FAILED", "scheduled_email": "SCHEDULED"}[reason]
            return self._emit(rng, "emails", ts, owner_id, {
                "hs_email_direction": "EMAIL", "hs_email_status": status,
                "hs_email_subject": rng.choice(EMAIL_SUBJECTS).replace("{company}", label)},
                contact_id, company_id, reason=reason)
        if reason == "canceled_meeting":
            return self._emit(rng, "meetings", ts, owner_id, {
                "hs_meeting_title": f"{rng.choice(MEETING_TITLES)}: {label}", "hs_meeting_outcome": "CANCELED",
                "hs_meeting_start_time": iso(ts), "hs_meeting_end_time": iso(ts + 30 * MS_MINUTE)},
                contact_id, company_id, reason=reason, created_at=created_at)
        raise ValueError(f"unknown non-touch reason {reason!r}")
