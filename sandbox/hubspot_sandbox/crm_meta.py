"""The sandbox's CRM metadata: property definitions (Properties API), deal pipelines (Pipelines API), and the
object types HubSpot has that the sandbox does not model (served empty).

Shapes follow HubSpot's published specs: ``Property`` / ``Option`` in
PublicApiSpecs/CRM/Properties/Rollouts/145899/{v3,2026-09}/properties.json, ``Pipeline`` / ``PipelineStage`` in
the Pipelines spec; see docs/sandbox.md for each behaviour's source.
"""

from __future__ import annotations

from hubspot_sandbox.crm_model import DATETIME_PROPERTIES, NUMBER_PROPERTIES, iso_ms
from pipeline.policy import STANDARD_LIFECYCLE_STAGES as STANDARD_STAGE_VALUES

DEFINITIONS_CREATED_AT = "2019-08-06T02:41:52.000Z"  # a fixed instant for HubSpot-defined properties

# HubSpot's standard lifecycle stages (internal value, label), in display order (DOMAIN.md "HubSpot facts"): the
# values are the pipeline's one list (pipeline/policy.py), the labels HubSpot's defaults for them, in that order.
_STANDARD_STAGE_LABELS = ("Subscriber", "Lead", "Marketing Qualified Lead", "Sales Qualified Lead", "Opportunity",
                          "Customer", "Evangelist", "Other")
STANDARD_LIFECYCLE_STAGES: tuple[tuple[str, str], ...] = tuple(
    zip(STANDARD_STAGE_VALUES, _STANDARD_STAGE_LABELS, strict=True))

# HubSpot's default sales pipeline ("default"): stage id, label, win probability (the generator's stages).
DEFAULT_DEAL_STAGES: tuple[tuple[str, str, str], ...] = (
    ("appointmentscheduled", "Appointment Scheduled", "0.2"), ("qualifiedtobuy", "Qualified To Buy", "0.4"),
    ("presentationscheduled", "Presentation Scheduled", "0.6"),
    ("decisionmakerboughtin", "Decision Maker Bought-In", "0.8"), ("contractsent", "Contract Sent", "0.9"),
    ("closedwon", "Closed Won", "1.0"), ("closedlost", "Closed Lost", "0.0"),
)

_ENUMERATIONS: dict[str, tuple[str, ...]] = {
    "hs_lead_status": ("NEW", "OPEN", "IN_PROGRESS", "OPEN_DEAL", "UNQUALIFIED", "ATTEMPTED_TO_CONTACT", "CONNECTED",
                       "BAD_TIMING"),
    "hs_call_direction": ("INBOUND", "OUTBOUND"),
    "hs_email_direction": ("EMAIL", "INCOMING_EMAIL", "FORWARDED_EMAIL"),
    "hs_email_status": ("BOUNCED", "FAILED", "SCHEDULED", "SENDING", "SENT"),
    "hs_meeting_outcome": ("SCHEDULED", "COMPLETED", "RESCHEDULED", "NO_SHOW", "CANCELED"),
    "hs_task_status": ("NOT_STARTED", "IN_PROGRESS", "WAITING", "COMPLETED", "DEFERRED"),
    "hs_task_type": ("TODO", "CALL", "EMAIL", "LINKED_IN", "MEETING"),
    "hs_task_priority": ("NONE", "LOW", "MEDIUM", "HIGH"),
    "hs_communication_channel_type": ("SMS", "WHATS_APP", "LINKEDIN_MESSAGE", "PHYSICAL_MAIL", "CUSTOM_CHANNEL_CONVERSATION"),
    "dealtype": ("newbusiness", "existingbusiness"),
}
_LABELS = {
    "lifecyclestage": "Lifecycle Stage", "hubspot_owner_id": "Contact owner", "hs_lead_status": "Lead Status",
    "email": "Email", "firstname": "First Name", "lastname": "Last Name", "createdate": "Create Date",
    "lastmodifieddate": "Last Modified Date", "hs_lastmodifieddate": "Last Modified Date", "hs_object_id": "Record ID",
    "hubspotscore": "HubSpot Score", "dealstage": "Deal Stage", "pipeline": "Pipeline", "hs_timestamp": "Activity date",
}
_GROUPS = {"contacts": "contactinformation", "companies": "companyinformation", "deals": "dealinformation"}
_READ_ONLY = {"hs_object_id", "createdate", "hs_createdate", "lastmodifieddate", "hs_lastmodifieddate",
              "hs_merged_object_ids"}

def standard_definition(object_type: str, name: str, *, deal_stages: list[tuple[str, str]] | None = None) -> dict:
    """HubSpot's ``Property`` JSON for a property the portal has (a HubSpot-defined one, or one the sandbox saw)."""
    options: list[dict] = []
    kind, field_type = "string", "text"
    external = False
    if name == "lifecyclestage":
        kind, field_type = "enumeration", "radio"
        options = [option(label, value, order) for order, (value, label) in enumerate(STANDARD_LIFECYCLE_STAGES)]
    elif name == "hubspot_owner_id":
        kind, field_type, external = "enumeration", "select", True
    elif name == "dealstage":
        kind, field_type = "enumeration", "radio"
        stages = deal_stages or [(s, label) for (s, label, _) in DEFAULT_DEAL_STAGES]
        options = [option(label, value, order) for order, (value, label) in enumerate(stages)]
    elif name in _ENUMERATIONS:
        kind, field_type = "enumeration", "select"
        options = [option(value.replace("_", " ").title(), value, order)
                   for order, value in enumerate(_ENUMERATIONS[name])]
    elif name in DATETIME_PROPERTIES or name.endswith("_date") or name.startswith(("hs_v2_date_", "hs_date_")):
        kind, field_type = "datetime", "date"
    elif name in NUMBER_PROPERTIES:
        kind, field_type = "number", "number"
    definition = {
        "name": name,
        "label": _LABELS.get(name) or name.replace("hs_", "", 1).replace("_", " ").title(),
        "type": kind,
        "fieldType": field_type,
        "description": "",
        "groupName": _GROUPS.get(object_type, f"{object_type[:-1]}information"),
        "options": options,
        "displayOrder": -1,
        "calculated": False,
        "externalOptions": external,
        "hasUniqueValue": name == "hs_object_id",
        "hidden": False,
        "hubspotDefined": True,
        "formField": object_type == "contacts" and name not in _READ_ONLY,
        "modificationMetadata": {"archivable": False, "readOnlyDefinition": True,
                                 "readOnlyValue": name in _READ_ONLY},
        "createdAt": DEFINITIONS_CREATED_AT,
        "updatedAt": DEFINITIONS_CREATED_AT,
        "archived": False,
    }
    if external:
        definition["referencedObjectType"] = "OWNER"
    return definition


def option(label: str, value: str, display_order: int, hidden: bool = False) -> dict:
    """HubSpot's ``Option``: label, internal value, displayOrder, hidden (and an empty description)."""
    return {"label": label, "value": value, "displayOrder": display_order, "hidden": hidden, "description": ""}


def merge_definition(standard: dict, override: dict) -> dict:
    """A snapshot's definition over HubSpot's standard one: given keys win; options normalised to the full shape."""
    merged = {**standard, **override}
    if "options" in override:
        merged["options"] = [
            {"description": "", "hidden": False, "displayOrder": index, **dict(o)}
            for index, o in enumerate(override.get("options") or [])
        ]
    return merged


def legacy_v2_definition(definition: dict) -> dict:
    """The legacy Properties API v2 JSON (``GET /properties/v2/{object_type}/properties``) of a v3 ``Property``.

    Field set: the v2 response schema in HubSpot's legacy spec (specs/legacy/v2/crm-properties-v2.json, GET
    /properties/v2/{object_type}/properties, 200 items). Every value comes from the v3 definition, so both APIs
    answer from one definition: ``modificationMetadata``'s flags become top-level ``readOnlyValue`` /
    ``readOnlyDefinition``, ``archived`` becomes ``deleted``, and instants are epoch milliseconds (the spec types
    ``createdAt`` / ``updatedAt`` as integers). Options gain ``readOnly`` and ``doubleData``; the spec does not
    say what these hold for a HubSpot-defined option (the sandbox sends false and 0.0).
    """
    meta = definition.get("modificationMetadata") or {}
    read_only_definition = bool(meta.get("readOnlyDefinition"))
    return {
        "name": definition["name"],
        "label": definition["label"],
        "description": definition.get("description") or "",
        "groupName": definition["groupName"],
        "type": definition["type"],
        "fieldType": definition["fieldType"],
        "options": [{"description": o.get("description") or "", "label": o["label"], "value": o["value"],
                     "displayOrder": o.get("displayOrder", -1), "hidden": bool(o.get("hidden")),
                     "readOnly": False, "doubleData": 0.0} for o in definition.get("options") or []],
        "displayOrder": definition.get("displayOrder", -1),
        "formField": bool(definition.get("formField")),
        "readOnlyValue": bool(meta.get("readOnlyValue")),
        "readOnlyDefinition": read_only_definition,
        "hidden": bool(definition.get("hidden")),
        # a definition that can be edited but not archived (the v3 flags' combination; v2 names it)
        "mutableDefinitionNotDeletable": not read_only_definition and not meta.get("archivable", True),
        "favorited": False,
        "favoritedOrder": -1,
        "calculated": bool(definition.get("calculated")),
        "externalOptions": bool(definition.get("externalOptions")),
        "displayMode": "current_value",
        "showCurrencySymbol": bool(definition.get("showCurrencySymbol")),
        "currencyPropertyName": definition.get("currencyPropertyName"),
        "textDisplayHint": None,
        "numberDisplayHint": None,
        "optionsAreMutable": not bool(meta.get("readOnlyOptions", read_only_definition)),
        "referencedObjectType": definition.get("referencedObjectType"),
        "isCustomizedDefault": False,
        "searchableInGlobalSearch": False,
        "hasUniqueValue": bool(definition.get("hasUniqueValue")),
        "hubspotDefined": bool(definition.get("hubspotDefined")),
        "deleted": bool(definition.get("archived")),
        "createdAt": iso_ms(definition.get("createdAt")),
        "updatedAt": iso_ms(definition.get("updatedAt")),
        "createdUserId": _user_id(definition.get("createdUserId")),
        "updatedUserId": _user_id(definition.get("updatedUserId")),
    }


def _user_id(value: object) -> int | None:
    """v3 sends user ids as strings, v2 as integers."""
    return int(str(value)) if value is not None and str(value).isdigit() else None


def pipelines_body(object_type: str, stages_seen: list[str]) -> dict:
    """``GET /crm/v3/pipelines/{type}``: deals have HubSpot's default sales pipeline (plus any stage the portal's
    deals use that it lacks); other types have none in the sandbox."""
    if object_type != "deals":
        return {"results": []}
    known = [s for (s, _, _) in DEFAULT_DEAL_STAGES]
    stages = list(DEFAULT_DEAL_STAGES) + [(s, s, "0.5") for s in stages_seen if s not in known]
    return {"results": [{
        "id": "default", "label": "Sales Pipeline", "displayOrder": 0, "archived": False,
        "createdAt": DEFINITIONS_CREATED_AT, "updatedAt": DEFINITIONS_CREATED_AT,
        "stages": [{
            "id": stage, "label": label, "displayOrder": order, "archived": False,
            "metadata": {"isClosed": "true" if stage in ("closedwon", "closedlost") else "false",
                         "probability": probability},
            "createdAt": DEFINITIONS_CREATED_AT, "updatedAt": DEFINITIONS_CREATED_AT,
            "writePermissions": "CRM_PERMISSIONS_ENFORCEMENT",
        } for order, (stage, label, probability) in enumerate(stages)],
    }]}
