"""The client and the sandbox held to HubSpot's published behaviour (issue #12 items 1, 2, 7, 8, 9, 12, 13).

Schema shapes below are excerpts of HubSpot's published OpenAPI specs (repository
HubSpot/HubSpot-public-api-spec-collection); each SCHEMAS entry names the spec file and component it encodes.
Where HubSpot's own answers send ``null`` although the component says ``string`` (unset property values, an
unlabelled association type's ``label``), the table allows null and says so.
"""

from __future__ import annotations

import httpx
import jsonschema
import pytest

from pipeline.errors import ConfigError, HubSpotApiError
from pipeline.hubspot.client import (
    REQUIRED_READ_SCOPES,
    HubSpotClient,
    HubSpotValidationError,
)
from hubspot_sandbox.portal import Portal
from hubspot_sandbox.ratelimit import RateLimits
from hubspot_sandbox.server import run_in_thread
from pipeline.settings import load_settings, parse_api_version
from tests.fixtures.sandbox import small_portal_snapshot

AUTH = {"Authorization": "Bearer sandbox-token"}
FAMILIES = {"legacy": "/crm/v3/objects", "2026-09": "/crm/objects/2026-09"}

# ---------------------------------------------------------------------------------------- schema excerpts
_NULLABLE_STRING = {"type": ["string", "null"]}
SCHEMAS: dict[str, dict] = {
    # PublicApiSpecs/CRM/Associations/Rollouts/130902/2026-09/associations.json components.schemas.Error
    # (the same component in every CRM spec)
    "Error": {"type": "object", "required": ["category", "correlationId", "message"], "properties": {
        "category": {"type": "string"}, "correlationId": {"type": "string"}, "message": {"type": "string"},
        "subCategory": {"type": "string"}, "errors": {"type": "array", "items": {"$ref": "#/$defs/ErrorDetail"}},
        "context": {"type": "object", "additionalProperties": {"type": "array", "items": {"type": "string"}}},
        "links": {"type": "object", "additionalProperties": {"type": "string"}}}},
    "ErrorDetail": {"type": "object", "required": ["message"], "properties": {
        "message": {"type": "string"}, "code": {"type": "string"}, "in": {"type": "string"},
        "context": {"type": "object", "additionalProperties": {"type": "array", "items": {"type": "string"}}}}},
    # PublicApiSpecs/CRM/Contacts/Rollouts/424/{v3,2026-09}/contacts.json: SimplePublicObject(WithAssociations);
    # properties' values are {"type": "string"} there, but HubSpot answers null for a requested, unset property
    "SimplePublicObject": {"type": "object", "required": ["archived", "createdAt", "id", "properties", "updatedAt"],
                           "properties": {
        "id": {"type": "string"}, "archived": {"type": "boolean"}, "archivedAt": {"type": "string"},
        "createdAt": {"type": "string", "format": "date-time"}, "updatedAt": {"type": "string", "format": "date-time"},
        "properties": {"type": "object", "additionalProperties": _NULLABLE_STRING},
        "propertiesWithHistory": {"type": "object", "additionalProperties": {
            "type": "array", "items": {"$ref": "#/$defs/ValueWithTimestamp"}}},
        "associations": {"type": "object", "additionalProperties": {"$ref": "#/$defs/CollectionResponseAssociatedId"}}}},
    # contacts.json ValueWithTimestamp
    "ValueWithTimestamp": {"type": "object", "required": ["sourceType", "timestamp", "value"], "properties": {
        "value": {"type": "string"}, "timestamp": {"type": "string"}, "sourceType": {"type": "string"},
        "sourceId": {"type": "string"}, "sourceLabel": {"type": "string"}, "updatedByUserId": {"type": "integer"}}},
    # contacts.json CollectionResponseAssociatedId / AssociatedId (id and type are strings)
    "CollectionResponseAssociatedId": {"type": "object", "required": ["results"], "properties": {
        "results": {"type": "array", "items": {"type": "object", "required": ["id", "type"], "properties": {
            "id": {"type": "string"}, "type": {"type": "string"}}}}}},
    # contacts.json ForwardPaging / NextPage: after required, link optional, both strings
    "ForwardPaging": {"type": "object", "properties": {"next": {"type": "object", "required": ["after"], "properties": {
        "after": {"type": "string"}, "link": {"type": "string"}}}}},
    # contacts.json CollectionResponseSimplePublicObjectWithAssociationsForwardPaging (list)
    "ListPage": {"type": "object", "required": ["results"], "properties": {
        "results": {"type": "array", "items": {"$ref": "#/$defs/SimplePublicObject"}},
        "paging": {"$ref": "#/$defs/ForwardPaging"}}},
    # contacts.json CollectionResponseWithTotalSimplePublicObjectForwardPaging (search): total is an integer
    "SearchPage": {"type": "object", "required": ["results", "total"], "properties": {
        "total": {"type": "integer"}, "results": {"type": "array", "items": {"$ref": "#/$defs/SimplePublicObject"}},
        "paging": {"$ref": "#/$defs/ForwardPaging"}}},
    # contacts.json BatchResponseSimplePublicObject (and ...WithErrors for 207)
    "BatchRead": {"type": "object", "required": ["completedAt", "results", "startedAt", "status"], "properties": {
        "status": {"enum": ["CANCELED", "COMPLETE", "PENDING", "PROCESSING"]}, "startedAt": {"type": "string"},
        "completedAt": {"type": "string"}, "numErrors": {"type": "integer"},
        "results": {"type": "array", "items": {"$ref": "#/$defs/SimplePublicObject"}}}},
    # PublicApiSpecs/CRM/Associations/Rollouts/130902/2026-09/associations.json
    # BatchResponsePublicAssociationMultiWithLabel > PublicAssociationMultiWithLabel > MultiAssociatedObjectWithLabel:
    # toObjectId {"type": "string"}; AssociationSpecWithLabel typeId integer, category enum, label string
    # (HubSpot's answers send label null for unlabelled types)
    "AssociationBatch": {"type": "object", "required": ["completedAt", "results", "startedAt", "status"],
                         "properties": {
        "status": {"enum": ["CANCELED", "COMPLETE", "PENDING", "PROCESSING"]},
        "results": {"type": "array", "items": {"type": "object", "required": ["from", "to"], "properties": {
            "from": {"type": "object", "required": ["id"], "properties": {"id": {"type": "string"}}},
            "paging": {"$ref": "#/$defs/ForwardPaging"},
            "to": {"type": "array", "items": {"type": "object", "required": ["associationTypes", "toObjectId"],
                                              "properties": {
                "toObjectId": {"type": "string"},
                "associationTypes": {"type": "array", "items": {"type": "object", "required": ["category", "typeId"],
                                                                 "properties": {
                    "category": {"enum": ["HUBSPOT_DEFINED", "INTEGRATOR_DEFINED", "USER_DEFINED", "WORK"]},
                    "typeId": {"type": "integer"}, "label": _NULLABLE_STRING}}}}}}}}}}},
    # associations.json (v4 and 2026-09) CollectionResponseMultiAssociatedObjectWithLabelForwardPaging: one object's
    # associations of a type (GET .../objects/{from}/{id}/associations/{to}), items as in the batch read
    "AssociationList": {"type": "object", "required": ["results"], "properties": {
        "paging": {"$ref": "#/$defs/ForwardPaging"},
        "results": {"type": "array", "items": {"type": "object", "required": ["associationTypes", "toObjectId"],
                                               "properties": {"toObjectId": {"type": "string"},
                                                              "associationTypes": {"type": "array"}}}}}},
    # PublicApiSpecs/CRM/Owners (v3 owners spec) PublicOwner / PublicTeam
    "OwnersPage": {"type": "object", "required": ["results"], "properties": {
        "paging": {"$ref": "#/$defs/ForwardPaging"},
        "results": {"type": "array", "items": {"type": "object",
                                               "required": ["archived", "createdAt", "id", "type", "updatedAt"],
                                               "properties": {
            "id": {"type": "string"}, "email": {"type": "string"}, "firstName": {"type": "string"},
            "lastName": {"type": "string"}, "userId": {"type": "integer"}, "type": {"enum": ["PERSON", "QUEUE"]},
            "archived": {"type": "boolean"},
            "teams": {"type": "array", "items": {"type": "object", "required": ["id", "name", "primary"],
                                                 "properties": {"id": {"type": "string"}, "name": {"type": "string"},
                                                                "primary": {"type": "boolean"}}}}}}}}},
    # PublicApiSpecs/CRM/Properties/Rollouts/145899/{v3,2026-09}/properties.json Property / Option
    "Property": {"type": "object",
                 "required": ["description", "fieldType", "groupName", "label", "name", "options", "type"],
                 "properties": {
        "name": {"type": "string"}, "label": {"type": "string"}, "type": {"type": "string"},
        "fieldType": {"type": "string"}, "groupName": {"type": "string"}, "description": {"type": "string"},
        "displayOrder": {"type": "integer"}, "hidden": {"type": "boolean"}, "hubspotDefined": {"type": "boolean"},
        "archived": {"type": "boolean"}, "calculated": {"type": "boolean"}, "externalOptions": {"type": "boolean"},
        "options": {"type": "array", "items": {"type": "object", "required": ["hidden", "label", "value"],
                                               "properties": {"label": {"type": "string"}, "value": {"type": "string"},
                                                              "displayOrder": {"type": "integer"},
                                                              "hidden": {"type": "boolean"},
                                                              "description": {"type": "string"}}}}}},
    "PropertiesPage": {"type": "object", "required": ["results"], "properties": {
        "results": {"type": "array", "items": {"$ref": "#/$defs/Property"}}}},
    # the Pipelines spec: CollectionResponsePipelineNoPaging > Pipeline > PipelineStage
    "Pipelines": {"type": "object", "required": ["results"], "properties": {"results": {"type": "array", "items": {
        "type": "object", "required": ["archived", "createdAt", "displayOrder", "id", "label", "stages", "updatedAt"],
        "properties": {"id": {"type": "string"}, "label": {"type": "string"}, "displayOrder": {"type": "integer"},
                       "stages": {"type": "array", "items": {"type": "object", "required": [
                           "archived", "createdAt", "displayOrder", "id", "label", "metadata", "updatedAt"],
                           "properties": {"id": {"type": "string"}, "displayOrder": {"type": "integer"},
                                          "metadata": {"type": "object",
                                                       "additionalProperties": {"type": "string"}}}}}}}}}},
    # the Schemas spec: CollectionResponseObjectSchemaNoPaging
    "Schemas": {"type": "object", "required": ["results"], "properties": {"results": {"type": "array"}}},
}


def check(name: str, body: dict) -> None:
    schema = {"$defs": SCHEMAS, "$ref": f"#/$defs/{name}"}
    jsonschema.validate(body, schema, format_checker=None)


def client_for(sandbox, **kwargs) -> HubSpotClient:
    return HubSpotClient(sandbox.token, sandbox.base_url, **kwargs)


def bulk_contacts(portal: Portal, count: int) -> list[str]:
    return [portal.create("contacts", {"email": f"bulk{i}@example.com", "lifecyclestage": "lead"})
            for i in range(count)]


# ------------------------------------------------------------------------ item 1: batch and list limits
@pytest.mark.parametrize("family", FAMILIES.values())
def test_history_batch_read_over_50_is_hubspots_400(sandbox, family):
    ids = bulk_contacts(sandbox.portal, 60)
    body = {"inputs": [{"id": i} for i in ids[:51]], "properties": ["email"],
            "propertiesWithHistory": ["lifecyclestage"]}
    answer = httpx.post(f"{sandbox.base_url}{family}/contacts/batch/read", json=body, headers=AUTH)
    assert answer.status_code == 400
    check("Error", answer.json())
    assert answer.json()["category"] == "VALIDATION_ERROR"
    assert answer.json()["message"] == \
        "The maximum number of inputs supported in a batch request for property histories is 50"
    body["inputs"] = body["inputs"][:50]
    assert httpx.post(f"{sandbox.base_url}{family}/contacts/batch/read", json=body, headers=AUTH).status_code == 200
    del body["propertiesWithHistory"]
    body["inputs"] = [{"id": str(i)} for i in range(1, 102)]
    too_many = httpx.post(f"{sandbox.base_url}{family}/contacts/batch/read", json=body, headers=AUTH)
    assert too_many.status_code == 400 and too_many.json()["category"] == "VALIDATION_ERROR"


def test_association_batch_over_1000_is_refused(sandbox):
    body = {"inputs": [{"id": str(i)} for i in range(1001)]}
    for path in ("/crm/v4/associations/contacts/companies/batch/read",
                 "/crm/associations/2026-09/contacts/companies/batch/read"):
        answer = httpx.post(f"{sandbox.base_url}{path}", json=body, headers=AUTH)
        assert answer.status_code == 400 and answer.json()["category"] == "VALIDATION_ERROR"


@pytest.mark.parametrize("version", ["2026-09", "legacy"])
def test_client_splits_history_batch_reads_into_50s(sandbox, version):
    ids = bulk_contacts(sandbox.portal, 120)
    client = client_for(sandbox, api_version=version)
    got = client.batch_read("contacts", ids, ["email"], ["lifecyclestage"])
    assert sorted(o["id"] for o in got) == sorted(ids)
    assert all(o["propertiesWithHistory"]["lifecyclestage"][0]["value"] == "lead" for o in got)
    assert sandbox.stats.snapshot()["requests"]["contacts.batch_read"] == 3  # 50 + 50 + 20
    without = client.batch_read("contacts", ids, ["email"])
    assert len(without) == 120 and sandbox.stats.snapshot()["requests"]["contacts.batch_read"] == 5  # 100 + 20


def test_client_never_asks_for_more_than_a_page_allows(sandbox):
    bulk_contacts(sandbox.portal, 60)
    client = client_for(sandbox)
    page, after = client.list_page("contacts", ["email"], properties_with_history=["lifecyclestage"], limit=100)
    assert len(page) == 50 and after  # asked for 100: the client sends HubSpot's maximum, 50


# ---------------------------------------------------------------------- item 2: date-based API versions
def test_api_version_setting_is_validated_in_one_place():
    assert load_settings({}).api_version == "2026-09"
    assert load_settings({"HUBSPOT_API_VERSION": " legacy "}).api_version == "legacy"
    assert parse_api_version("2026-03") == "2026-03"
    for bad in ("v3", "2026-10", "2025-09", "latest"):
        with pytest.raises(ConfigError) as err:
            load_settings({"HUBSPOT_API_VERSION": bad})
        assert "\n" not in str(err.value) and "HUBSPOT_API_VERSION" in str(err.value) and "legacy" in str(err.value)


EXPECTED_PATHS = {
    "2026-09": {"GET /crm/objects/2026-09/contacts", "GET /crm/objects/2026-09/contacts/{id}",
                "POST /crm/objects/2026-09/contacts/batch/read", "POST /crm/objects/2026-09/contacts/search",
                "PATCH /crm/objects/2026-09/contacts/{id}", "POST /crm/objects/2026-09/tasks",
                "POST /crm/associations/2026-09/contacts/companies/batch/read", "GET /crm/owners/2026-09",
                "GET /crm/properties/2026-09/contacts", "GET /account-info/2026-09/details"},
    "legacy": {"GET /crm/v3/objects/contacts", "GET /crm/v3/objects/contacts/{id}",
               "POST /crm/v3/objects/contacts/batch/read", "POST /crm/v3/objects/contacts/search",
               "PATCH /crm/v3/objects/contacts/{id}", "POST /crm/v3/objects/tasks",
               "POST /crm/v4/associations/contacts/companies/batch/read", "GET /crm/v3/owners",
               "GET /crm/v3/properties/contacts", "GET /account-info/v3/details"},
}


@pytest.mark.parametrize("version", ["2026-09", "legacy"])
def test_every_call_uses_the_configured_version_with_one_behaviour(sandbox, version):
    client = client_for(sandbox, api_version=version)
    page, _ = client.list_page("contacts", ["email"])
    assert sorted(o["id"] for o in page) == ["1", "2", "3", "5", "6"]
    assert client.get_object("contacts", "5", ["email"])["properties"]["email"] == "erin@acme.io"
    assert sorted(o["id"] for o in client.batch_read("contacts", ["1", "2"], ["email"])) == ["1", "2"]
    results, _, total = client.search_page("contacts", filter_groups=[], sorts=[], properties=["email"])
    assert total == 5
    assert client.update_object("contacts", "1", {"hs_lead_status": "OPEN"})["properties"]["hs_lead_status"] == "OPEN"
    task = client.create_task({"hs_task_subject": "Call", "hs_timestamp": "2026-03-08T09:00:00.000Z"}, "1")
    assert sandbox.portal.associated_ids("tasks", task["id"], "contacts") == ["1"]
    assert client.associated_ids("contacts", ["1", "3"], "companies") == {"1": ["9001"], "3": []}
    owners, _ = client.owners_page()
    assert [o["id"] for o in owners] == ["101", "102"]
    assert "lifecyclestage" in {p["name"] for p in client.properties("contacts")}
    assert client.account_details()["portalId"] == 4242
    assert set(client.stats.as_dict()["calls_by_endpoint"]) == EXPECTED_PATHS[version]


def test_client_accepts_to_object_id_as_a_number_or_a_string(sandbox, monkeypatch):
    client = client_for(sandbox)
    numeric = {"results": [{"from": {"id": "1"}, "to": [{"toObjectId": 9001, "associationTypes": []},
                                                       {"toObjectId": "9002", "associationTypes": []}]}]}
    monkeypatch.setattr(client, "_request", lambda *a, **k: numeric)
    assert client.associated_ids("contacts", ["1"], "companies") == {"1": ["9001", "9002"]}


@pytest.mark.parametrize("family", ["legacy", "2026-09"])
def test_sandbox_answers_validate_against_hubspots_schemas(sandbox, family):
    objects = FAMILIES[family]
    assoc = "/crm/v4/associations" if family == "legacy" else "/crm/associations/2026-09"
    owners = "/crm/v3/owners" if family == "legacy" else "/crm/owners/2026-09"
    props = "/crm/v3/properties" if family == "legacy" else "/crm/properties/2026-09"
    pipes = "/crm/v3/pipelines" if family == "legacy" else "/crm/pipelines/2026-09"
    schemas = "/crm/v3/schemas" if family == "legacy" else "/crm-object-schemas/2026-09/schemas"
    base = sandbox.base_url
    with httpx.Client(base_url=base, headers=AUTH) as http:
        check("ListPage", http.get(f"{objects}/contacts", params={
            "limit": 2, "properties": "email,jobtitle", "propertiesWithHistory": "lifecyclestage",
            "associations": "companies"}).json())
        check("SimplePublicObject", http.get(f"{objects}/contacts/1", params={"associations": "calls"}).json())
        check("SearchPage", http.post(f"{objects}/contacts/search", json={"limit": 2}).json())
        batch = http.post(f"{objects}/contacts/batch/read", json={"inputs": [{"id": "1"}, {"id": "999"}]})
        assert batch.status_code == 207
        check("BatchRead", batch.json())
        check("AssociationBatch", http.post(f"{assoc}/contacts/companies/batch/read",
                                            json={"inputs": [{"id": "1"}, {"id": "5"}]}).json())
        check("OwnersPage", http.get(owners, params={"limit": 1}).json())
        check("PropertiesPage", http.get(f"{props}/contacts").json())
        check("Property", http.get(f"{props}/contacts/lifecyclestage").json())
        check("Pipelines", http.get(f"{pipes}/deals").json())
        check("Schemas", http.get(schemas).json())
        check("Error", http.get(f"{objects}/contacts/424242").json())


@pytest.mark.parametrize("path", ["/crm/v3/nothing", "/crm/objects/2026-09/contacts/1/unknown/deeper",
                                  "/totally/unknown", "/crm/properties/2026-09"])
def test_unknown_paths_answer_hubspots_error_envelope(sandbox, path):
    answer = httpx.get(f"{sandbox.base_url}{path}", headers=AUTH)
    assert answer.status_code == 404
    body = answer.json()
    assert "detail" not in body
    assert body["status"] == "error" and body["correlationId"] and body["category"] and path in body["message"]
    check("Error", body)
    wrong_method = httpx.delete(f"{sandbox.base_url}/crm/v3/owners", headers=AUTH)
    assert wrong_method.status_code == 405 and wrong_method.json()["status"] == "error"


# --------------------------------------------------------------------------------------- item 7: scopes
def test_email_reads_need_sales_email_read_and_the_error_names_it():
    granted = {"crm.objects.contacts.read", "crm.objects.owners.read"}
    with run_in_thread(Portal.from_snapshot(small_portal_snapshot()), limits=RateLimits.unlimited(),
                       scopes=granted) as sandbox:
        client = client_for(sandbox)
        for engagement in ("calls", "meetings", "notes", "tasks", "communications"):
            client.list_page(engagement, ["hs_timestamp"])  # the contact scope suffices
        with pytest.raises(HubSpotApiError) as err:
            client.list_page("emails", ["hs_timestamp"])
        message = str(err.value)
        assert "403" in message and "sales-email-read" in message and "Service Key" in message
        with pytest.raises(HubSpotApiError, match="crm.objects.companies.read"):
            client.associated_ids("contacts", ["1"], "companies")
        with pytest.raises(HubSpotApiError, match="crm.objects.contacts.write"):
            client.create_task({"hs_timestamp": "2026-03-08T09:00:00.000Z"}, "1")
    assert set(REQUIRED_READ_SCOPES) == {"crm.objects.contacts.read", "crm.objects.companies.read",
                                         "crm.objects.deals.read", "crm.objects.owners.read", "sales-email-read"}


# ----------------------------------------------------------------------------- item 9: Properties API
def test_properties_api_serves_standard_definitions_and_the_snapshots_overrides():
    data = small_portal_snapshot()
    data["properties"] = {"contacts": [
        {"name": "lifecyclestage", "options": [
            {"label": "Lead", "value": "lead", "displayOrder": 0, "hidden": False},
            {"label": "Engaged", "value": "1234567", "displayOrder": 1, "hidden": False},
            {"label": "MQL", "value": "marketingqualifiedlead", "displayOrder": 2, "hidden": False},
            {"label": "Customer", "value": "customer", "displayOrder": 3, "hidden": False}]},
        {"name": "hs_lead_status", "archived": True},
        {"name": "lead_grade", "label": "Lead grade", "type": "string", "fieldType": "text", "hubspotDefined": False},
    ]}
    with run_in_thread(Portal.from_snapshot(data), limits=RateLimits.unlimited()) as sandbox:
        client = client_for(sandbox)
        by_name = {p["name"]: p for p in client.properties("contacts")}
        assert [(o["value"], o["label"], o["displayOrder"], o["hidden"]) for o in by_name["lifecyclestage"]["options"]] \
            == [("lead", "Lead", 0, False), ("1234567", "Engaged", 1, False),
                ("marketingqualifiedlead", "MQL", 2, False), ("customer", "Customer", 3, False)]
        assert "hs_lead_status" not in by_name and by_name["lead_grade"]["hubspotDefined"] is False
        assert client.missing_properties("contacts", ["email", "hs_lead_status", "lead_grade"]) == ["hs_lead_status"]
        companies = {p["name"]: p for p in client.properties("companies")}
        assert [o["value"] for o in companies["lifecyclestage"]["options"]] == [
            "subscriber", "lead", "marketingqualifiedlead", "salesqualifiedlead", "opportunity", "customer",
            "evangelist", "other"]  # HubSpot's standard stages where the snapshot says nothing
        archived = httpx.get(f"{sandbox.base_url}/crm/v3/properties/contacts", params={"archived": "true"},
                             headers=AUTH).json()["results"]
        assert [p["name"] for p in archived] == ["hs_lead_status"]
        one = httpx.get(f"{sandbox.base_url}/crm/properties/2026-09/contacts/hs_lead_status", headers=AUTH)
        assert one.status_code == 404 and one.json()["category"] == "OBJECT_NOT_FOUND"


def test_property_check_names_the_missing_property_and_its_type_in_one_call_per_type():
    from pipeline.hubspot.source import check_properties

    data = small_portal_snapshot()
    data["properties"] = {"contacts": [{"name": "hs_lead_status", "archived": True}]}
    with run_in_thread(Portal.from_snapshot(data), limits=RateLimits.unlimited()) as sandbox:
        client = client_for(sandbox)
        check_properties(client, "companies")
        with pytest.raises(HubSpotApiError) as err:
            check_properties(client, "contacts")
        stats = sandbox.stats.snapshot()["requests"]
    message = str(err.value)
    assert "\n" not in message and "'hs_lead_status'" in message and "contacts" in message
    assert stats == {"companies.properties": 1, "contacts.properties": 1}  # no search quota used


def test_snapshot_properties_map_is_validated():
    from pipeline.errors import SnapshotError
    from hubspot_sandbox.snapshot import validate_snapshot

    data = small_portal_snapshot()
    data["properties"] = {"contacts": [{"name": "lifecyclestage", "options": [{"label": "Lead", "value": 5}]}]}
    with pytest.raises(SnapshotError, match=r"properties.contacts\[0\] \(\"lifecyclestage\"\).options\[0\].value"):
        validate_snapshot(data)


# -------------------------------------------------------------------------- item 12: write validation
def test_write_refused_by_portal_validation_fails_once_naming_the_property():
    data = small_portal_snapshot()
    data["validationRules"] = {"tasks": {"requiredOnCreate": ["hs_queue_membership_ids"]},
                               "contacts": {"requiredOnUpdate": ["jobtitle"]}}
    with run_in_thread(Portal.from_snapshot(data), limits=RateLimits.unlimited()) as sandbox:
        client = client_for(sandbox)
        with pytest.raises(HubSpotValidationError) as err:
            client.create_task({"hs_task_subject": "Call", "hs_timestamp": "2026-03-08T09:00:00.000Z"}, "1")
        assert err.value.properties == ["hs_queue_membership_ids"]
        assert err.value.codes == ["MISSING_REQUIRED_PROPERTY"]
        assert "hs_queue_membership_ids" in str(err.value) and "not retried" in str(err.value)
        with pytest.raises(HubSpotValidationError, match="jobtitle"):
            client.update_object("contacts", "1", {"hubspot_owner_id": "102"})
        requests = sandbox.stats.snapshot()["requests"]
        assert requests == {"tasks.create": 1, "contacts.update": 1}  # each sent once, never retried
        assert sandbox.portal.counts()["tasks"] == 1 and \
            sandbox.portal.get("contacts", "1")["properties"]["hubspot_owner_id"] == "101"
        # legacy (v3) writes predate the enforcement (HubSpot: from the 2026-09 version on)
        legacy = client_for(sandbox, api_version="legacy")
        assert legacy.update_object("contacts", "1", {"hubspot_owner_id": "102"})["properties"][
            "hubspot_owner_id"] == "102"


# ------------------------------------------------------------------------- item 8: rate-limit headers
def test_rate_limit_headers_tiers_and_none_on_search():
    assert RateLimits.parse("tier=starter") == RateLimits(per_ten_seconds=100, daily=250_000)
    assert RateLimits.parse("tier=enterprise").daily == 1_000_000
    assert RateLimits.parse("190,secondly=19").secondly == 19
    with pytest.raises(ConfigError):
        RateLimits.parse("tier=gold")
    with run_in_thread(Portal.from_snapshot(small_portal_snapshot()),
                       limits=RateLimits.parse("tier=starter,secondly=3")) as sandbox:
        listed = httpx.get(f"{sandbox.base_url}/crm/objects/2026-09/contacts", headers=AUTH)
        assert {k: listed.headers[k] for k in (
            "x-hubspot-ratelimit-max", "x-hubspot-ratelimit-secondly", "x-hubspot-ratelimit-daily",
            "x-hubspot-ratelimit-interval-milliseconds")} == {
            "x-hubspot-ratelimit-max": "100", "x-hubspot-ratelimit-secondly": "3",
            "x-hubspot-ratelimit-daily": "250000", "x-hubspot-ratelimit-interval-milliseconds": "10000"}
        assert listed.headers["x-hubspot-ratelimit-daily-remaining"] == "249999"
        searched = httpx.post(f"{sandbox.base_url}/crm/objects/2026-09/contacts/search", json={}, headers=AUTH)
        assert not [h for h in searched.headers if h.lower().startswith("x-hubspot-ratelimit")]
    from hubspot_sandbox.ratelimit import RateLimiter

    now = [0.0]
    limiter = RateLimiter(RateLimits.parse("tier=starter,secondly=3"), clock=lambda: now[0])
    assert [limiter.check(is_search=False).allowed for _ in range(4)] == [True, True, True, False]
    assert limiter.check(is_search=False).policy == "SECONDLY"
    assert limiter.check(is_search=True).allowed  # searches have their own window
    now[0] = 1.01
    assert limiter.check(is_search=False).allowed


# ------------------------------------------------------------------- item 13: what real clients call
def test_schemas_pipelines_and_unmodelled_types_answer_like_hubspot(sandbox):
    with httpx.Client(base_url=sandbox.base_url, headers=AUTH) as http:
        for path in ("/crm/v3/schemas", "/crm-object-schemas/v3/schemas", "/crm-object-schemas/2026-09/schemas"):
            answer = http.get(path)
            assert (answer.status_code, answer.json()) == (200, {"results": []}), path
        pipeline = http.get("/crm/v3/pipelines/deals").json()["results"]
        assert [p["id"] for p in pipeline] == ["default"]
        from hubspot_sandbox.gen_catalog import DEAL_STAGES_OPEN

        stage_ids = [s["id"] for s in pipeline[0]["stages"]]
        assert set(DEAL_STAGES_OPEN) <= set(stage_ids) and {"closedwon", "closedlost"} <= set(stage_ids)
        assert http.get("/crm/pipelines/2026-09/deals/default/stages").json()["results"] == pipeline[0]["stages"]
        for object_type in ("tickets", "line_items", "products", "quotes", "0-5"):
            for family in FAMILIES.values():
                listed = http.get(f"{family}/{object_type}")
                assert (listed.status_code, listed.json()) == (200, {"results": []}), (family, object_type)
                searched = http.post(f"{family}/{object_type}/search", json={})
                assert (searched.status_code, searched.json()["total"]) == (200, 0)
                assert http.get(f"{family}/{object_type}/1").status_code == 404
        assert http.get("/crm/v3/objects/widgets").status_code == 400  # not a HubSpot type at all


@pytest.mark.parametrize("family", FAMILIES.values())
def test_paging_next_link_keeps_every_query_parameter(sandbox, family):
    bulk_contacts(sandbox.portal, 12)
    params = {"limit": "5", "properties": "email,lifecyclestage", "propertiesWithHistory": "lifecyclestage",
              "archived": "false"}
    seen: list[str] = []
    with httpx.Client(headers=AUTH) as http:
        page = http.get(f"{sandbox.base_url}{family}/contacts", params=params).json()
        while True:
            assert len(page["results"]) <= 5
            assert all(set(r["properties"]) >= {"email", "lifecyclestage"} for r in page["results"])
            assert all("propertiesWithHistory" in r for r in page["results"])
            seen += [r["id"] for r in page["results"]]
            link = (page.get("paging") or {}).get("next", {}).get("link")
            if not link:
                break
            assert link.startswith(f"{sandbox.base_url}{family}/contacts?")
            page = http.get(link).json()
    assert len(seen) == 17 and len(set(seen)) == 17  # 5 listed contacts + 12 new, each once


def test_the_documented_read_scopes_are_the_ones_the_client_requires():
    import re
    from pathlib import Path

    text = Path(__file__).resolve().parents[1].joinpath("docs", "connecting-a-real-portal.md").read_text()
    section = text.split("## 1. Read-only", 1)[1].split("These are the scopes", 1)[0]
    documented = re.findall(r"^\| `([^`]+)` \|", section, flags=re.M)
    assert sorted(documented) == sorted(REQUIRED_READ_SCOPES)
    readme = Path(__file__).resolve().parents[1].joinpath("README.md").read_text()
    assert all(f"`{scope}`" in readme for scope in REQUIRED_READ_SCOPES)


# ------------------------------------------- association types: primary and unlabelled (contract 1)
def test_primary_and_unlabelled_company_links_as_hubspot_lists_them(sandbox):
    portal = sandbox.portal
    second = portal.create("companies", {"name": "Second Co"})
    portal.associate("contacts", "1", "companies", second)
    portal.update("contacts", "1", {"associatedcompanyid": second})  # HubSpot's primary-company property
    deal = portal.create("deals", {"dealname": "D"}, {"companies": ["9001", second]})
    portal.set_primary("deals", deal, "companies", "9001")  # a deal's primary company is an explicit label
    client = client_for(sandbox)
    primary = {"category": "HUBSPOT_DEFINED", "typeId": 1, "label": "Primary"}
    unlabelled = {"category": "HUBSPOT_DEFINED", "typeId": 279, "label": None}
    assert client.associations("contacts", ["1", "3"], "companies") == {
        "1": [{"toObjectId": "9001", "associationTypes": [unlabelled]},
              {"toObjectId": second, "associationTypes": [primary, unlabelled]}],
        "3": []}
    assert client.associations("deals", [deal], "companies")[deal] == [
        {"toObjectId": "9001", "associationTypes": [{"category": "HUBSPOT_DEFINED", "typeId": 5, "label": "Primary"},
                                                    {"category": "HUBSPOT_DEFINED", "typeId": 341, "label": None}]},
        {"toObjectId": second, "associationTypes": [{"category": "HUBSPOT_DEFINED", "typeId": 341, "label": None}]}]
    reverse = client.associations("companies", [second], "contacts")[second]
    assert reverse == [{"toObjectId": "1", "associationTypes": [
        {"category": "HUBSPOT_DEFINED", "typeId": 2, "label": "Primary"},
        {"category": "HUBSPOT_DEFINED", "typeId": 280, "label": None}]}]
    assert client.associated_ids("contacts", ["1"], "companies") == {"1": ["9001", second]}
    inline = client.get_object("contacts", "1", ["email"], associations=["companies"])["associations"]["companies"]
    assert inline["results"] == [{"id": "9001", "type": "contact_to_company_unlabeled"},
                                 {"id": second, "type": "contact_to_company"},
                                 {"id": second, "type": "contact_to_company_unlabeled"}]


@pytest.mark.parametrize("family", FAMILIES.values())
def test_the_inline_association_cursor_leads_to_the_objects_remaining_links(sandbox, family):
    """Inline ``associations=`` stop at 100 entries per object and type; the per-object ``paging.next.link`` is
    HubSpot's list of one record's associations (associate-records guide: ``GET /crm/objects/2026-09/{fromObjectType}
    /{objectId}/associations/{toObjectType}``; legacy ``/crm/v4/objects/...``), which pages on from there."""
    portal = sandbox.portal
    contact = portal.create("contacts", {"email": "crowded@example.com"})
    companies = [portal.create("companies", {"name": f"Co {i}"}) for i in range(130)]
    for company in companies:
        portal.associate("contacts", contact, "companies", company)
    with httpx.Client(headers=AUTH) as http:
        inline = http.get(f"{sandbox.base_url}{family}/contacts/{contact}",
                          params={"associations": "companies"}).json()["associations"]["companies"]
        assert len(inline["results"]) == 100
        assert [r["id"] for r in inline["results"]] == companies[:100]
        link = inline["paging"]["next"]["link"]
        pages = []
        while link:
            answer = http.get(link if pages else f"{link}&limit=20")
            assert answer.status_code == 200, answer.text
            check("AssociationList", answer.json())
            pages.append([r["toObjectId"] for r in answer.json()["results"]])
            link = (answer.json().get("paging") or {}).get("next", {}).get("link")
        assert pages == [companies[100:120], companies[120:]]  # the 30 not listed inline, 20 a page
        date_based = http.get(f"{sandbox.base_url}/crm/objects/2026-09/contacts/{contact}/associations/companies")
        check("AssociationList", date_based.json())
        assert [r["toObjectId"] for r in date_based.json()["results"]] == companies  # the default limit is 500
        assert date_based.json()["results"][0]["associationTypes"] == [
            {"category": "HUBSPOT_DEFINED", "typeId": 279, "label": None}]
        missing = http.get(f"{sandbox.base_url}/crm/v4/objects/contacts/999999/associations/companies")
        assert missing.status_code == 404
        check("Error", missing.json())
        assert http.get(f"{sandbox.base_url}/crm/v4/objects/contacts/{contact}/associations/companies",
                        params={"limit": "501"}).status_code == 400
