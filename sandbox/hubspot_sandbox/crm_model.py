"""What the sandbox knows about HubSpot's CRM model: object types, default properties, association types.

Also the instant helpers: HubSpot answers ISO-8601 UTC with milliseconds and accepts epoch-ms strings.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

OBJECT_TYPES: tuple[str, ...] = (
    "contacts", "companies", "deals", "calls", "emails", "meetings", "notes", "tasks", "communications",
)
ENGAGEMENT_TYPES: frozenset[str] = frozenset({"calls", "emails", "meetings", "notes", "tasks", "communications"})

# HubSpot object types the sandbox does not model: served empty (no records), as a portal without any would.
UNMODELLED_TYPES: tuple[str, ...] = (
    "tickets", "line_items", "products", "quotes", "leads", "invoices", "orders", "carts", "feedback_submissions",
    "goal_targets", "subscriptions", "marketing_events", "appointments", "courses", "listings", "services",
    "commerce_payments", "postal_mail", "users", "partner_clients", "discounts", "fees", "taxes", "deal_splits",
    "forms",
)
UNMODELLED_ALIASES: dict[str, str] = {
    **{t: t for t in UNMODELLED_TYPES},
    "ticket": "tickets", "line_item": "line_items", "product": "products", "quote": "quotes", "lead": "leads",
    "invoice": "invoices", "order": "orders", "cart": "carts", "feedback_submission": "feedback_submissions",
    "deal_split": "deal_splits", "form": "forms",
    "0-5": "tickets", "0-8": "line_items", "0-7": "products", "0-14": "quotes", "0-136": "leads",
    "0-53": "invoices", "0-123": "orders", "0-142": "carts", "0-19": "feedback_submissions", "0-115": "users",
    "0-54": "marketing_events", "0-69": "subscriptions", "0-101": "commerce_payments",
}


SERVED_TYPES: tuple[str, ...] = OBJECT_TYPES + UNMODELLED_TYPES

# URL aliases HubSpot accepts for an object type: singular names and objectTypeIds.
TYPE_ALIASES: dict[str, str] = {
    **{t: t for t in OBJECT_TYPES},
    "contact": "contacts", "company": "companies", "deal": "deals", "call": "calls", "email": "emails",
    "meeting": "meetings", "note": "notes", "task": "tasks", "communication": "communications",
    "0-1": "contacts", "0-2": "companies", "0-3": "deals", "0-48": "calls", "0-49": "emails",
    "0-47": "meetings", "0-46": "notes", "0-27": "tasks", "0-18": "communications",
}

SINGULAR: dict[str, str] = {
    "contacts": "contact", "companies": "company", "deals": "deal", "calls": "call", "emails": "email",
    "meetings": "meeting_event", "notes": "note", "tasks": "task", "communications": "communication",
    **{t: t[:-1] for t in UNMODELLED_TYPES},
}


def modified_property(object_type: str) -> str:
    """The property holding the last-modified instant (contacts differ from every other object)."""
    return "lastmodifieddate" if object_type == "contacts" else "hs_lastmodifieddate"


def created_property(object_type: str) -> str:
    return "hs_createdate" if object_type in ENGAGEMENT_TYPES else "createdate"


# Properties HubSpot returns when the request names none.
DEFAULT_PROPERTIES: dict[str, tuple[str, ...]] = {
    "contacts": ("createdate", "email", "firstname", "hs_object_id", "lastmodifieddate", "lastname"),
    "companies": ("createdate", "domain", "hs_lastmodifieddate", "hs_object_id", "name"),
    "deals": ("amount", "closedate", "createdate", "dealname", "dealstage", "hs_lastmodifieddate",
              "hs_object_id", "pipeline"),
    **{t: ("hs_createdate", "hs_lastmodifieddate", "hs_object_id") for t in ENGAGEMENT_TYPES},
    **{t: ("createdate", "hs_lastmodifieddate", "hs_object_id") for t in UNMODELLED_TYPES},
}


def always_properties(object_type: str) -> tuple[str, ...]:
    """Properties HubSpot adds to every answer even when the request names others."""
    return (created_property(object_type), modified_property(object_type), "hs_object_id")


# The property schema the sandbox starts from (a real portal has hundreds; these are the ones this
# product and its tests use). Snapshot objects and in-process writes add more.
_COMMON = ("hs_object_id", "hubspot_owner_id", "hs_createdate", "hs_lastmodifieddate", "hs_merged_object_ids")
_ENGAGEMENT_COMMON = _COMMON + ("hs_timestamp", "hubspot_team_id", "hs_body_preview", "hs_activity_type",
                                "hs_attachment_ids", "hs_unique_id")
BUILTIN_PROPERTIES: dict[str, frozenset[str]] = {
    "contacts": frozenset(_COMMON + (
        "email", "firstname", "lastname", "jobtitle", "company", "phone", "mobilephone", "website", "country",
        "state", "city", "zip", "address", "industry", "lifecyclestage", "hs_lead_status", "createdate",
        "lastmodifieddate", "recent_conversion_event_name", "recent_conversion_date", "first_conversion_event_name",
        "first_conversion_date", "hubspotscore", "hs_analytics_source", "hs_analytics_source_data_1",
        "hs_latest_source", "num_conversion_events", "num_associated_deals", "associatedcompanyid",
        "hs_lifecyclestage_lead_date", "hs_lifecyclestage_marketingqualifiedlead_date",
        "hs_lifecyclestage_salesqualifiedlead_date", "hs_lifecyclestage_opportunity_date",
        "hs_lifecyclestage_customer_date", "notes_last_contacted", "notes_last_updated", "hs_sa_first_engagement_date",
        "hubspot_owner_assigneddate", "hs_email_domain", "hs_persona", "hs_timezone",
        # web analytics and marketing-email engagement (HubSpot standard contact properties; the handoff brief)
        "hs_analytics_source_data_2", "hs_analytics_first_url", "hs_analytics_last_url", "hs_analytics_first_referrer",
        "hs_analytics_last_referrer", "hs_analytics_num_page_views", "hs_analytics_num_visits",
        "hs_analytics_first_visit_timestamp", "hs_analytics_last_visit_timestamp", "hs_email_last_open_date",
        "hs_email_last_click_date", "hs_email_last_email_name", "hs_email_open", "hs_email_click",
    )),
    "companies": frozenset(_COMMON + (
        "name", "domain", "industry", "country", "state", "city", "zip", "numberofemployees", "annualrevenue",
        "createdate", "lifecyclestage", "type", "description", "phone", "website", "hs_num_child_companies",
        "num_associated_contacts", "num_associated_deals",
    )),
    "deals": frozenset(_COMMON + (
        "dealname", "dealstage", "pipeline", "amount", "createdate", "closedate", "dealtype", "description",
        "hs_deal_stage_probability", "hs_is_closed", "hs_is_closed_won", "num_associated_contacts",
    )),
    "calls": frozenset(_ENGAGEMENT_COMMON + (
        "hs_call_direction", "hs_call_status", "hs_call_disposition", "hs_call_title", "hs_call_duration",
        "hs_call_body", "hs_call_from_number", "hs_call_to_number", "hs_call_recording_url",
    )),
    "emails": frozenset(_ENGAGEMENT_COMMON + (
        "hs_email_direction", "hs_email_status", "hs_email_subject", "hs_email_text", "hs_email_html",
        "hs_email_headers", "hs_email_sender_email", "hs_email_to_email",
    )),
    "meetings": frozenset(_ENGAGEMENT_COMMON + (
        "hs_meeting_outcome", "hs_meeting_title", "hs_meeting_start_time", "hs_meeting_end_time",
        "hs_meeting_body", "hs_meeting_location", "hs_internal_meeting_notes", "hs_meeting_external_url",
    )),
    "notes": frozenset(_ENGAGEMENT_COMMON + ("hs_note_body",)),
    "tasks": frozenset(_ENGAGEMENT_COMMON + (
        "hs_task_subject", "hs_task_body", "hs_task_status", "hs_task_type", "hs_task_priority",
        "hs_task_reminders", "hs_task_completion_date", "hs_queue_membership_ids", "hs_task_is_all_day",
    )),
    "communications": frozenset(_ENGAGEMENT_COMMON + (
        "hs_communication_channel_type", "hs_communication_logged_from", "hs_communication_body",
    )),
    **{t: frozenset(_COMMON + ("createdate",)) for t in UNMODELLED_TYPES},
}

DATETIME_PROPERTIES: frozenset[str] = frozenset({
    "createdate", "lastmodifieddate", "hs_lastmodifieddate", "hs_createdate", "hs_timestamp", "closedate",
    "recent_conversion_date", "first_conversion_date", "hs_meeting_start_time", "hs_meeting_end_time",
    "hs_task_completion_date", "notes_last_contacted", "notes_last_updated", "hs_sa_first_engagement_date",
    "hubspot_owner_assigneddate", "hs_lifecyclestage_lead_date", "hs_lifecyclestage_marketingqualifiedlead_date",
    "hs_lifecyclestage_salesqualifiedlead_date", "hs_lifecyclestage_opportunity_date",
    "hs_lifecyclestage_customer_date", "hs_analytics_first_visit_timestamp", "hs_analytics_last_visit_timestamp",
    "hs_email_last_open_date", "hs_email_last_click_date",
})
NUMBER_PROPERTIES: frozenset[str] = frozenset({
    "hs_object_id", "hubspotscore", "amount", "numberofemployees", "annualrevenue", "hs_call_duration",
    "num_conversion_events", "num_associated_deals", "num_associated_contacts", "hs_deal_stage_probability",
    "hs_num_child_companies", "hs_task_reminders",
})

# HUBSPOT_DEFINED association type ids (unlabeled / default), by direction.
ASSOCIATION_TYPE_IDS: dict[tuple[str, str], int] = {
    ("contacts", "companies"): 279, ("companies", "contacts"): 280,
    ("deals", "contacts"): 3, ("contacts", "deals"): 4,
    ("deals", "companies"): 341, ("companies", "deals"): 342,
    ("contacts", "calls"): 193, ("calls", "contacts"): 194,
    ("contacts", "emails"): 197, ("emails", "contacts"): 198,
    ("contacts", "meetings"): 199, ("meetings", "contacts"): 200,
    ("contacts", "notes"): 201, ("notes", "contacts"): 202,
    ("contacts", "tasks"): 203, ("tasks", "contacts"): 204,
    ("contacts", "communications"): 81, ("communications", "contacts"): 82,
    ("companies", "calls"): 181, ("calls", "companies"): 182,
    ("companies", "emails"): 185, ("emails", "companies"): 186,
    ("companies", "meetings"): 187, ("meetings", "companies"): 188,
    ("companies", "notes"): 189, ("notes", "companies"): 190,
    ("companies", "tasks"): 191, ("tasks", "companies"): 192,
    ("companies", "communications"): 87, ("communications", "companies"): 88,
    ("deals", "calls"): 205, ("calls", "deals"): 206,
    ("deals", "emails"): 209, ("emails", "deals"): 210,
    ("deals", "meetings"): 211, ("meetings", "deals"): 212,
    ("deals", "notes"): 213, ("notes", "deals"): 214,
    ("deals", "tasks"): 215, ("tasks", "deals"): 216,
    ("deals", "communications"): 85, ("communications", "deals"): 86,
}
INLINE_ASSOCIATIONS_MAX = 100  # v3 inline associations= entries per object and type before a per-object cursor
# Primary-company labels (contact/deal -> company) that HubSpot also accepts on create.
PRIMARY_ASSOCIATION_TYPE_IDS: dict[tuple[str, str], int] = {
    ("contacts", "companies"): 1, ("companies", "contacts"): 2, ("deals", "companies"): 5, ("companies", "deals"): 6,
}
ASSOCIATION_TYPE_BY_ID: dict[int, tuple[str, str]] = {
    **{v: k for k, v in ASSOCIATION_TYPE_IDS.items()},
    **{v: k for k, v in PRIMARY_ASSOCIATION_TYPE_IDS.items()},
}


def association_type_name(from_type: str, to_type: str) -> str:
    """The v3 ``type`` label, e.g. ``contact_to_company``."""
    return f"{SINGULAR[from_type]}_to_{SINGULAR[to_type]}"


# --- instants -----------------------------------------------------------------------------------------


def parse_instant_ms(value: object) -> int | None:
    """Epoch ms from an ISO-8601 string, a date, or an epoch-ms string/number; None when unparseable."""
    if value is None:
        return None
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return int(value)
    if isinstance(value, datetime):
        return to_ms(value)
    text = str(value).strip()
    if not text:
        return None
    if text.lstrip("-").isdigit():
        return int(text)
    if len(text) < 10 or text[4] != "-":
        return None
    try:
        parsed = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text)
    except ValueError:
        return None
    return to_ms(parsed)


_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_MS = timedelta(milliseconds=1)


def iso_ms(text: str | None) -> int:
    """Epoch ms of a stored instant (the fast path for HubSpot's own ISO format); 0 when absent or unparseable."""
    try:
        return (datetime.fromisoformat(text) - _EPOCH) // _MS
    except (TypeError, ValueError):
        parsed = parse_instant_ms(text)
        return parsed if parsed is not None else 0


def to_ms(moment: datetime) -> int:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return (moment - _EPOCH) // _MS


def iso_from_ms(ms: int) -> str:
    """HubSpot's instant format: ``2026-11-24T15:00:00.123Z``."""
    moment = _EPOCH + timedelta(milliseconds=ms)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def iso_instant(value: datetime | str | None, clock) -> str:
    """Normalise a write's instant (datetime, ISO string or None = the injected clock) to HubSpot's format."""
    if value is None:
        value = clock()
    ms = parse_instant_ms(value)
    if ms is None:
        raise ValueError(f"{value!r} is not an instant")
    return iso_from_ms(ms)
