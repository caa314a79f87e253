"""What the SLA job reads and writes live in HubSpot, over ``pipeline.hubspot.client.HubSpotClient``.

Plain dicts out. Reads: the contact (stage, owner), its touch-type engagements, its tasks. Writes (live
mode only; the caller decides): the owner PATCH and the follow-up task.
"""

from __future__ import annotations

from pipeline.hubspot.client import HubSpotClient, HubSpotNotFoundError

CONTACT_PROPERTIES = ["lifecyclestage", "hubspot_owner_id", "hs_lead_status", "lastmodifieddate"]
TOUCH_PROPERTIES: dict[str, list[str]] = {
    "calls": ["hs_timestamp", "hubspot_owner_id", "hs_call_direction", "hs_call_status", "hs_call_title"],
    "emails": ["hs_timestamp", "hubspot_owner_id", "hs_email_direction", "hs_email_status", "hs_email_subject"],
    # a meeting counts at the earlier of hs_createdate (booked/logged) and hs_timestamp (when it takes place)
    "meetings": ["hs_timestamp", "hs_createdate", "hubspot_owner_id", "hs_meeting_outcome", "hs_meeting_title"],
    "communications": [
        "hs_timestamp", "hubspot_owner_id", "hs_communication_channel_type", "hs_communication_logged_from",
    ],
}
TASK_PROPERTIES = ["hs_task_subject", "hs_task_body", "hubspot_owner_id", "hs_timestamp", "hs_task_status"]


class LiveCrm:
    """The SLA job's view of HubSpot (live re-check, owner PATCH, task)."""

    def __init__(self, client: HubSpotClient):
        self.client = client

    def contact(self, contact_id: str) -> dict | None:
        """The contact's current properties; None when HubSpot no longer has it (deleted or merged away)."""
        try:
            body = self.client.get_object("contacts", contact_id, CONTACT_PROPERTIES)
        except HubSpotNotFoundError:
            return None
        if body.get("archived") or str(body.get("id", contact_id)) != str(contact_id):
            return None  # archived, or a merged-away id that HubSpot resolved to the survivor
        return body.get("properties") or {}

    def engagements(self, contact_id: str) -> list[dict]:
        """Every call, email, meeting and communication associated with the contact: {type, id, properties}."""
        out: list[dict] = []
        for object_type, properties in TOUCH_PROPERTIES.items():
            ids = self.client.associated_ids("contacts", [contact_id], object_type).get(str(contact_id), [])
            if not ids:
                continue
            for obj in self.client.batch_read(object_type, ids, properties):
                if not obj.get("archived"):
                    out.append({"type": object_type, "id": str(obj["id"]), "properties": obj.get("properties") or {}})
        return out

    def set_owner(self, contact_id: str, owner_id: str) -> None:
        self.client.update_object("contacts", contact_id, {"hubspot_owner_id": owner_id})

    def find_task(self, contact_id: str, marker: str) -> str | None:
        """The id of a task on the contact whose body or subject carries ``marker`` (our own earlier write)."""
        ids = self.client.associated_ids("contacts", [contact_id], "tasks").get(str(contact_id), [])
        if not ids:
            return None
        for task in self.client.batch_read("tasks", ids, TASK_PROPERTIES):
            props = task.get("properties") or {}
            if marker in (props.get("hs_task_body") or "") or marker in (props.get("hs_task_subject") or ""):
                return str(task["id"])
        return None

    def create_task(self, properties: dict, contact_id: str) -> str:
        return str(self.client.create_task(properties, contact_id)["id"])


# ---------------------------------------------------------------------------------------------- the handoff
# what the handoff reads of the contact: firmographics, routing inputs, the brief's web / email / score facts
HANDOFF_CONTACT_PROPERTIES = [
    "firstname", "lastname", "email", "jobtitle", "company", "country", "state", "phone", "lifecyclestage",
    "hubspot_owner_id", "hs_lead_status", "recent_conversion_event_name", "recent_conversion_date",
    "first_conversion_event_name", "num_conversion_events", "hubspotscore",
    "hs_analytics_source", "hs_analytics_source_data_1", "hs_analytics_source_data_2", "hs_analytics_first_url",
    "hs_analytics_last_url", "hs_analytics_first_referrer", "hs_analytics_last_referrer",
    "hs_analytics_num_page_views", "hs_analytics_num_visits", "hs_analytics_last_visit_timestamp",
    "hs_analytics_first_visit_timestamp", "hs_email_last_open_date", "hs_email_last_click_date",
    "hs_email_last_email_name", "hs_email_open", "hs_email_click",
]
HANDOFF_HISTORY = ["lifecyclestage", "hubspot_owner_id", "recent_conversion_event_name", "hubspotscore"]
ACTIVITY_PROPERTIES: dict[str, tuple[list[str], str, str | None]] = {  # type -> (properties, title, detail)
    "calls": (TOUCH_PROPERTIES["calls"], "hs_call_title", "hs_call_direction"),
    "emails": (TOUCH_PROPERTIES["emails"], "hs_email_subject", "hs_email_direction"),
    "meetings": (TOUCH_PROPERTIES["meetings"] + ["hs_createdate"], "hs_meeting_title", "hs_meeting_outcome"),
    "notes": (["hs_timestamp", "hubspot_owner_id", "hs_note_body"], "hs_note_body", None),
    "tasks": (["hs_timestamp", "hubspot_owner_id", "hs_task_subject", "hs_task_status", "hs_task_body"],
              "hs_task_subject", "hs_task_status"),
    "communications": (TOUCH_PROPERTIES["communications"] + ["hs_communication_body"], "hs_communication_body",
                       "hs_communication_channel_type"),
}
COMPANY_PROPERTIES = ["name", "domain", "industry", "numberofemployees", "annualrevenue", "country", "state",
                      "hubspot_owner_id"]
DEAL_PROPERTIES = ["dealname", "dealstage", "amount", "closedate"]
CLOSED_DEAL_STAGES = ("closedwon", "closedlost")
PRIMARY_COMPANY_LABELS = ("contact_to_company",)  # v3 labels the primary link so; others are ..._unlabeled


def _assoc_ids(body: dict, target: str) -> list[dict]:
    return list(((body.get("associations") or {}).get(target) or {}).get("results") or [])


def primary_company_id(links: list[dict]) -> str | None:
    """Contract 6: the primary company, else the lowest associated company id (numeric when numeric)."""
    def order(i: str):
        return (0, int(i), i) if i.isdigit() else (1, 0, i)
    primary = sorted({str(x["id"]) for x in links if x.get("type") in PRIMARY_COMPANY_LABELS}, key=order)
    every = sorted({str(x["id"]) for x in links}, key=order)
    return (primary or every or [None])[0]


def search_entered(client: HubSpotClient, stages: list[str], since_ms: int, *, after: str | None = None,
                   limit: int = 100) -> tuple[list[dict], str | None]:
    """One search page: contacts whose stage-entered date of any of ``stages`` is >= ``since_ms``, ascending."""
    groups = [{"filters": [{"propertyName": f"hs_v2_date_entered_{s}", "operator": "GTE", "value": str(since_ms)}]}
              for s in stages[:5]]  # HubSpot: at most 5 filter groups
    properties = ["lifecyclestage", "hubspot_owner_id"] + [f"hs_v2_date_entered_{s}" for s in stages]
    results, next_after, _ = client.search_page(
        "contacts", filter_groups=groups, sorts=[{"propertyName": f"hs_v2_date_entered_{stages[0]}",
                                                  "direction": "ASCENDING"}],
        properties=properties, after=after, limit=limit)
    return results, next_after


def live_roster(client: HubSpotClient) -> list[dict]:
    """Every active owner now: owner_id, email, name, active, teams (primary first). Queues never get leads."""
    out, after = [], None
    while True:
        page, after = client.owners_page(after=after)
        for o in page:
            teams = sorted(o.get("teams") or [], key=lambda t: (not t.get("primary"), t.get("name") or ""))
            out.append({"owner_id": str(o["id"]), "email": o.get("email"),
                        "first_name": o.get("firstName"), "last_name": o.get("lastName"),
                        "name": " ".join(x for x in (o.get("firstName"), o.get("lastName")) if x),
                        "active": not o.get("archived") and (o.get("type") or "PERSON") != "QUEUE",
                        "teams": [t["name"] for t in teams if t.get("name")]})
        if not after:
            return out


class HandoffView:
    """Everything the handoff reads live about one contact (plain dicts)."""

    def __init__(self, contact: dict, histories: dict[str, list[dict]], company: dict | None,
                 activities: list[dict], engagements: list[dict], other_contacts: list[dict], open_deals: list[dict]):
        self.contact = contact
        self.histories = histories
        self.company = company
        self.activities = activities
        self.engagements = engagements
        self.other_contacts = other_contacts
        self.open_deals = open_deals


def _ts(value):
    from pipeline.sla.recheck import parse_ts

    try:
        return parse_ts(value)
    except ValueError:
        return None


def handoff_view(client: HubSpotClient, contact_id: str) -> HandoffView | None:
    """The contact with its histories and associations (one GET), its activities, company, colleagues, deals."""
    targets = ["companies", "deals", *ACTIVITY_PROPERTIES]
    try:
        body = client.get_object("contacts", contact_id, HANDOFF_CONTACT_PROPERTIES, HANDOFF_HISTORY, targets)
    except HubSpotNotFoundError:
        return None
    if body.get("archived") or str(body.get("id", contact_id)) != str(contact_id):
        return None
    props = body.get("properties") or {}
    histories = {name: [{"value": e.get("value"), "at": e.get("timestamp"), "source_type": e.get("sourceType")}
                        for e in entries]
                 for name, entries in (body.get("propertiesWithHistory") or {}).items()}
    activities, engagements = [], []
    for object_type, (properties, title, detail) in ACTIVITY_PROPERTIES.items():
        ids = [str(x["id"]) for x in _assoc_ids(body, object_type)]
        if not ids:
            continue
        for obj in client.batch_read(object_type, ids[-100:], properties):
            if obj.get("archived"):
                continue
            p = obj.get("properties") or {}
            engagements.append({"type": object_type, "id": str(obj["id"]), "properties": p})
            text = p.get(title)
            activities.append({"type": object_type[:-1], "id": str(obj["id"]), "at": _ts(p.get("hs_timestamp")),
                               "title": (text[:137] + "...") if text and len(text) > 140 else text,
                               "detail": p.get(detail) if detail else None, "owner_id": p.get("hubspot_owner_id")})
    company, colleagues, deals = None, [], []
    company_id = primary_company_id(_assoc_ids(body, "companies"))
    deal_ids = {str(x["id"]) for x in _assoc_ids(body, "deals")}
    if company_id:
        try:
            cbody = client.get_object("companies", company_id, COMPANY_PROPERTIES, None, ["contacts", "deals"])
            company = {"id": company_id, **(cbody.get("properties") or {})}
            others = [str(x["id"]) for x in _assoc_ids(cbody, "contacts") if str(x["id"]) != str(contact_id)][:10]
            deal_ids |= {str(x["id"]) for x in _assoc_ids(cbody, "deals")}
            for c in client.batch_read("contacts", others, ["firstname", "lastname", "jobtitle", "lifecyclestage",
                                                            "notes_last_updated"]) if others else []:
                p = c.get("properties") or {}
                colleagues.append({"id": str(c["id"]), "name": " ".join(x for x in (p.get("firstname"),
                                   p.get("lastname")) if x), "jobtitle": p.get("jobtitle"),
                                   "lifecyclestage": p.get("lifecyclestage"),
                                   "last_activity_at": p.get("notes_last_updated")})
        except HubSpotNotFoundError:
            company = None
    for d in client.batch_read("deals", sorted(deal_ids), DEAL_PROPERTIES) if deal_ids else []:
        p = d.get("properties") or {}
        if str(p.get("dealstage") or "").lower() in CLOSED_DEAL_STAGES or d.get("archived"):
            continue
        amount = p.get("amount")
        deals.append({"id": str(d["id"]), "dealname": p.get("dealname"), "dealstage": p.get("dealstage"),
                      "amount": float(amount) if amount not in (None, "") else None, "closedate": p.get("closedate")})
    return HandoffView(props, histories, company, activities, engagements, colleagues, deals)
