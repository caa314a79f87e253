"""What is extracted: the object types, their properties and association directions (docs/contracts.md "Raw layer")."""

from __future__ import annotations

ENGAGEMENT_TYPES: tuple[str, ...] = ("calls", "emails", "meetings", "notes", "tasks", "communications")
OBJECT_TYPES: tuple[str, ...] = ("contacts", "companies", "deals", *ENGAGEMENT_TYPES)

PROPERTIES: dict[str, tuple[str, ...]] = {
    "contacts": (
        "email", "firstname", "lastname", "jobtitle", "company", "country", "state", "city", "lifecyclestage",
        "hubspot_owner_id", "hs_lead_status", "recent_conversion_event_name", "recent_conversion_date",
        "first_conversion_event_name", "hubspotscore", "hs_analytics_source", "createdate", "lastmodifieddate",
        "hs_merged_object_ids",
        # the handoff brief's "what the lead did" (livelane): web analytics and marketing-email engagement
        "hs_analytics_source_data_1", "hs_analytics_first_url", "hs_analytics_last_url",
        "hs_analytics_first_referrer", "hs_analytics_last_referrer", "hs_analytics_num_page_views",
        "hs_analytics_num_visits", "hs_analytics_first_visit_timestamp", "hs_analytics_last_visit_timestamp",
        "hs_email_last_open_date", "hs_email_last_click_date", "hs_email_last_email_name",
    ),
    "companies": (
        "name", "domain", "industry", "country", "state", "city", "numberofemployees", "annualrevenue",
        "hubspot_owner_id", "hs_lastmodifieddate",
    ),
    "deals": (
        "dealname", "dealstage", "pipeline", "amount", "createdate", "closedate", "hubspot_owner_id", "dealtype",
        "hs_lastmodifieddate",
    ),
    "calls": (
        "hs_timestamp", "hubspot_owner_id", "hs_call_direction", "hs_call_status", "hs_call_disposition",
        "hs_call_title", "hs_call_duration", "hs_lastmodifieddate",
    ),
    "emails": (
        "hs_timestamp", "hubspot_owner_id", "hs_email_direction", "hs_email_status", "hs_email_subject",
        "hs_lastmodifieddate",
    ),
    "meetings": (
        "hs_timestamp", "hubspot_owner_id", "hs_meeting_outcome", "hs_meeting_title", "hs_meeting_start_time",
        "hs_createdate", "hs_lastmodifieddate",
    ),
    "notes": ("hs_timestamp", "hubspot_owner_id", "hs_note_body", "hs_lastmodifieddate"),
    "tasks": (
        "hs_timestamp", "hubspot_owner_id", "hs_task_subject", "hs_task_status", "hs_task_type",
        "hs_lastmodifieddate",
    ),
    "communications": (
        "hs_timestamp", "hubspot_owner_id", "hs_communication_channel_type", "hs_communication_logged_from",
        "hs_communication_body", "hs_lastmodifieddate",
    ),
}

# properties stored as TIMESTAMP WITH TIME ZONE (everything else stays HubSpot's text)
TIMESTAMP_PROPERTIES: frozenset[str] = frozenset({
    "createdate", "lastmodifieddate", "hs_lastmodifieddate", "hs_timestamp", "closedate", "recent_conversion_date",
    "hs_meeting_start_time", "hs_createdate",
})

HISTORY_PROPERTIES: tuple[str, ...] = (
    "lifecyclestage", "hubspot_owner_id", "recent_conversion_event_name", "hs_lead_status", "hubspotscore",
)

# from type -> the types its associations are read to (docs/contracts.md: the directions stored)
ASSOCIATIONS: dict[str, tuple[str, ...]] = {
    "contacts": ("companies",),
    "deals": ("contacts", "companies"),
    **{engagement: ("contacts",) for engagement in ENGAGEMENT_TYPES},
}


# HubSpot's HUBSPOT_DEFINED association types of the stored directions, and their v3 names in inline
# ``associations=`` listings. Directions with a primary label list a primary link twice (primary + unlabelled).
PRIMARY_TYPE_IDS: dict[tuple[str, str], int] = {("contacts", "companies"): 1, ("deals", "companies"): 5}
DEFAULT_TYPE_IDS: dict[tuple[str, str], int] = {
    ("contacts", "companies"): 279, ("deals", "contacts"): 3, ("deals", "companies"): 341,
    ("calls", "contacts"): 194, ("emails", "contacts"): 198, ("meetings", "contacts"): 200,
    ("notes", "contacts"): 202, ("tasks", "contacts"): 204, ("communications", "contacts"): 82,
}
V3_SINGULAR: dict[str, str] = {
    "contacts": "contact", "companies": "company", "deals": "deal", "calls": "call", "emails": "email",
    "meetings": "meeting_event", "notes": "note", "tasks": "task", "communications": "communication",
}
PRIMARY_LABEL = "Primary"

# the property whose options the policy's lifecycle roles are checked against (raw property_options)
OPTION_PROPERTIES: tuple[tuple[str, str], ...] = (("contacts", "lifecyclestage"),)


def inline_association_types(from_type: str, to_type: str) -> dict[str, dict]:
    """v3 inline type name -> the v4 type object it stands for, for one stored direction, e.g.
    ``contact_to_company`` -> typeId 1 "Primary", ``contact_to_company_unlabeled`` -> typeId 279."""
    name = f"{V3_SINGULAR[from_type]}_to_{V3_SINGULAR[to_type]}"
    default = {"category": "HUBSPOT_DEFINED", "typeId": DEFAULT_TYPE_IDS[(from_type, to_type)], "label": None}
    primary = PRIMARY_TYPE_IDS.get((from_type, to_type))
    if primary is None:
        return {name: default}
    return {name: {"category": "HUBSPOT_DEFINED", "typeId": primary, "label": PRIMARY_LABEL},
            f"{name}_unlabeled": default}


def modified_property(object_type: str) -> str:
    """The search cursor: ``lastmodifieddate`` for contacts, ``hs_lastmodifieddate`` for everything else."""
    return "lastmodifieddate" if object_type == "contacts" else "hs_lastmodifieddate"
