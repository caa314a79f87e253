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
