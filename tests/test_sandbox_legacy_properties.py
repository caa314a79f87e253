"""The sandbox's legacy Properties API v2 (what Airbyte's source-hubspot reads its schemas from), held to HubSpot's
legacy spec and to the v3/date-based Properties API: both answer from one set of definitions (issue #12 "Must
show"). Unknown legacy paths answer HubSpot's error envelope; the request counter names every 4xx it served.

Field set: specs/legacy/v2/crm-properties-v2.json, GET /properties/v2/{object_type}/properties (HubSpot's legacy
docs, developers.hubspot.com/docs/api-reference/legacy/crm/properties/v2/get-properties-v2-objecttype-properties).
"""

from __future__ import annotations

from datetime import datetime

import httpx
import pytest

from hubspot_sandbox.portal import Portal
from hubspot_sandbox.ratelimit import RateLimits
from hubspot_sandbox.server import run_in_thread
from tests.fixtures.sandbox import small_portal_snapshot

AUTH = {"Authorization": "Bearer sandbox-token"}
# every key of the v2 Property in the legacy spec's 200 answer
V2_KEYS = {"name", "label", "description", "groupName", "type", "fieldType", "options", "displayOrder", "formField",
           "readOnlyValue", "readOnlyDefinition", "hidden", "mutableDefinitionNotDeletable", "favorited",
           "favoritedOrder", "calculated", "externalOptions", "displayMode", "showCurrencySymbol",
           "currencyPropertyName", "textDisplayHint", "numberDisplayHint", "optionsAreMutable", "referencedObjectType",
           "isCustomizedDefault", "searchableInGlobalSearch", "hasUniqueValue", "hubspotDefined", "deleted",
           "createdAt", "updatedAt", "createdUserId", "updatedUserId"}
V2_OPTION_KEYS = {"description", "label", "value", "displayOrder", "hidden", "readOnly", "doubleData"}
# 2019-08-06T02:41:52.000Z, the instant the sandbox gives HubSpot-defined properties, in epoch ms
DEFINED_AT_MS = 1_565_059_312_000


def _portal_with_custom_stage() -> Portal:
    data = small_portal_snapshot()
    data["properties"] = {"contacts": [
        {"name": "lifecyclestage", "options": [
            {"label": "Lead", "value": "lead", "displayOrder": 0, "hidden": False},
            {"label": "Engaged", "value": "1234567", "displayOrder": 1, "hidden": False}]},
        {"name": "hs_lead_status", "archived": True},
        {"name": "lead_grade", "label": "Lead grade", "type": "string", "fieldType": "text", "hubspotDefined": False},
    ]}
    return Portal.from_snapshot(data)


@pytest.fixture(scope="module")
def custom_sandbox():
    with run_in_thread(_portal_with_custom_stage(), limits=RateLimits.unlimited()) as sandbox:
        yield sandbox


def test_v2_lifecyclestage_is_hubspots_legacy_shape(custom_sandbox):
    answer = httpx.get(f"{custom_sandbox.base_url}/properties/v2/contacts/properties", headers=AUTH)
    assert answer.status_code == 200
    body = answer.json()
    assert isinstance(body, list)  # a bare array, not v3's {"results": [...]}
    by_name = {p["name"]: p for p in body}
    assert by_name["lifecyclestage"] == {
        "name": "lifecyclestage", "label": "Lifecycle Stage", "description": "", "groupName": "contactinformation",
        "type": "enumeration", "fieldType": "radio",
        "options": [
            {"description": "", "label": "Lead", "value": "lead", "displayOrder": 0, "hidden": False,
             "readOnly": False, "doubleData": 0.0},
            {"description": "", "label": "Engaged", "value": "1234567", "displayOrder": 1, "hidden": False,
             "readOnly": False, "doubleData": 0.0},
        ],
        "displayOrder": -1, "formField": True, "readOnlyValue": False, "readOnlyDefinition": True, "hidden": False,
        "mutableDefinitionNotDeletable": False, "favorited": False, "favoritedOrder": -1, "calculated": False,
        "externalOptions": False, "displayMode": "current_value", "showCurrencySymbol": False,
        "currencyPropertyName": None, "textDisplayHint": None, "numberDisplayHint": None, "optionsAreMutable": False,
        "referencedObjectType": None, "isCustomizedDefault": False, "searchableInGlobalSearch": False,
        "hasUniqueValue": False, "hubspotDefined": True, "deleted": False,
        "createdAt": DEFINED_AT_MS, "updatedAt": DEFINED_AT_MS, "createdUserId": None, "updatedUserId": None,
    }
    assert by_name["hs_object_id"]["readOnlyValue"] is True and by_name["hs_object_id"]["hasUniqueValue"] is True
    assert by_name["hubspot_owner_id"]["referencedObjectType"] == "OWNER"
    assert by_name["lead_grade"]["hubspotDefined"] is False
    assert "hs_lead_status" not in by_name  # archived in the snapshot: v2 lists live properties, as v3 does
    for definition in body:
        assert set(definition) == V2_KEYS, definition["name"]
        assert all(set(o) == V2_OPTION_KEYS for o in definition["options"]), definition["name"]


@pytest.mark.parametrize("v3_path", ["/crm/v3/properties/contacts", "/crm/properties/2026-09/contacts"])
@pytest.mark.parametrize("v2_type", ["contacts", "contact", "0-1"])
def test_v2_agrees_with_the_v3_properties_api_for_every_property(custom_sandbox, v3_path, v2_type):
    with httpx.Client(base_url=custom_sandbox.base_url, headers=AUTH) as http:
        v3 = {p["name"]: p for p in http.get(v3_path).json()["results"]}
        v2 = {p["name"]: p for p in http.get(f"/properties/v2/{v2_type}/properties").json()}
    assert set(v2) == set(v3) and "lifecyclestage" in v2
    for name, new in v3.items():
        old = v2[name]
        for key in ("label", "description", "groupName", "type", "fieldType", "displayOrder", "formField", "hidden",
                    "calculated", "externalOptions", "hasUniqueValue", "hubspotDefined"):
            assert old[key] == new[key], (name, key)
        assert old["readOnlyValue"] == new["modificationMetadata"]["readOnlyValue"], name
        assert old["readOnlyDefinition"] == new["modificationMetadata"]["readOnlyDefinition"], name
        assert old["deleted"] == new["archived"], name
        assert old["referencedObjectType"] == new.get("referencedObjectType"), name
        assert [(o["label"], o["value"], o["displayOrder"], o["hidden"]) for o in old["options"]] == \
            [(o["label"], o["value"], o["displayOrder"], o["hidden"]) for o in new["options"]], name
        created = datetime.fromisoformat(new["createdAt"].replace("Z", "+00:00"))
        assert old["createdAt"] == int(created.timestamp() * 1000), name


def test_v2_named_property_and_its_404(custom_sandbox):
    with httpx.Client(base_url=custom_sandbox.base_url, headers=AUTH) as http:
        one = http.get("/properties/v2/contacts/properties/named/lifecyclestage")
        listed = {p["name"]: p for p in http.get("/properties/v2/contacts/properties").json()}
        assert (one.status_code, one.json()) == (200, listed["lifecyclestage"])
        deal_stage = http.get("/properties/v2/deal/properties/named/dealstage").json()
        v3_stage = http.get("/crm/v3/properties/deals/dealstage").json()
        assert [o["value"] for o in deal_stage["options"]] == [o["value"] for o in v3_stage["options"]]
        for path in ("/properties/v2/contacts/properties/named/no_such_property",
                     "/properties/v2/contacts/properties/named/hs_lead_status"):  # archived
            missing = http.get(path)
            assert missing.status_code == 404, path
            body = missing.json()
            assert body["status"] == "error" and body["category"] == "OBJECT_NOT_FOUND" and body["correlationId"]


def test_v2_types_the_sandbox_does_not_model_answer_their_default_properties(custom_sandbox):
    """Airbyte's discover asks for v2 properties of every stream's type (deal splits, forms, products, line items,
    goal targets, tickets): a portal without such records still has the types' default properties."""
    with httpx.Client(base_url=custom_sandbox.base_url, headers=AUTH) as http:
        for object_type in ("deal_split", "form", "product", "line_item", "goal_targets", "tickets"):
            answer = http.get(f"/properties/v2/{object_type}/properties")
            assert answer.status_code == 200, object_type
            names = [p["name"] for p in answer.json()]
            assert {"createdate", "hs_lastmodifieddate", "hs_object_id"} <= set(names), object_type
        for family in ("/crm/v3/objects", "/crm/objects/2026-09"):
            assert http.get(f"{family}/deal_splits").json() == {"results": []}
        refused = http.get("/properties/v2/widgets/properties")
        assert refused.status_code == 400 and refused.json()["category"] == "VALIDATION_ERROR"


@pytest.mark.parametrize("path", ["/properties/v2/contacts/groups", "/properties/v1/contacts/nothing",
                                  "/engagements/v1/engagements/unknown", "/properties/v2/contacts/properties/x/y"])
def test_unknown_legacy_paths_answer_hubspots_error_envelope_and_are_counted(path):
    with run_in_thread(Portal.from_snapshot(small_portal_snapshot()), limits=RateLimits.unlimited()) as sandbox:
        answer = httpx.get(f"{sandbox.base_url}{path}", params={"limit": "5"}, headers=AUTH)
        assert answer.status_code == 404
        body = answer.json()
        assert "detail" not in body
        assert set(body) == {"status", "message", "correlationId", "category"}
        assert body["status"] == "error" and body["category"] == "OBJECT_NOT_FOUND" and path in body["message"]
        httpx.get(f"{sandbox.base_url}/properties/v2/contacts/properties", headers=AUTH)
        httpx.get(f"{sandbox.base_url}/properties/v2/contacts/properties", headers={"Authorization": "Bearer no"})
        stats = sandbox.stats.snapshot()
    assert stats["client_errors"] == {f"404 GET {path}": 1, "401 GET /properties/v2/contacts/properties": 1}
    assert stats["statuses"] == {"200": 1, "401": 1, "404": 1}


def test_v2_properties_need_the_types_read_or_schema_scope():
    granted = {"crm.objects.contacts.read", "crm.schemas.deals.read"}
    with run_in_thread(Portal.from_snapshot(small_portal_snapshot()), limits=RateLimits.unlimited(),
                       scopes=granted) as sandbox:
        with httpx.Client(base_url=sandbox.base_url, headers=AUTH) as http:
            assert http.get("/properties/v2/contacts/properties").status_code == 200
            assert http.get("/properties/v2/deal/properties").status_code == 200
            refused = http.get("/properties/v2/companies/properties")
            assert refused.status_code == 403
            assert refused.json()["errors"][0]["context"]["requiredGranularScopes"] == ["crm.objects.companies.read"]
            forms = http.get("/properties/v2/form/properties")
            assert forms.status_code == 403
            assert forms.json()["errors"][0]["context"]["requiredGranularScopes"] == ["forms"]
