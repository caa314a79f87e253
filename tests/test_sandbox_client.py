"""Every sandbox endpoint through the real hubspot-api-client, deserialised into its models.

Expected values are the hand-written facts of tests/fixtures/sandbox.py.
"""

from __future__ import annotations

from datetime import datetime, timezone

import httpx
import pytest
from hubspot.crm.associations.v4 import BatchInputPublicFetchAssociationsBatchRequest, PublicFetchAssociationsBatchRequest
from hubspot.crm.contacts import (
    BatchReadInputSimplePublicObjectId,
    PublicObjectSearchRequest,
    SimplePublicObjectId,
    SimplePublicObjectInput,
)
from hubspot.crm.contacts.exceptions import ApiException as ContactsApiException
from hubspot.crm.objects.tasks import (
    AssociationSpec,
    PublicAssociationsForObject,
    PublicObjectId,
    SimplePublicObjectInputForCreate,
)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(timezone.utc)


def test_contacts_list_pages_with_cursor_and_default_properties(hubspot_client):
    api = hubspot_client.crm.contacts.basic_api
    first = api.get_page(limit=2)
    assert [c.id for c in first.results] == ["1", "2"]
    assert sorted(first.results[0].properties) == ["createdate", "email", "firstname", "hs_object_id",
                                                    "lastmodifieddate", "lastname"]
    assert first.results[0].properties["email"] == "ada@acme.io"
    assert first.results[0].created_at == utc("2026-03-01T09:00:00Z")
    assert first.results[0].updated_at == utc("2026-03-05T10:00:00Z")
    ids, after = [], None
    while True:
        page = api.get_page(limit=2, after=after)
        ids += [c.id for c in page.results]
        if page.paging is None:
            break
        after = page.paging.next.after
    assert ids == ["1", "2", "3", "5", "6"]  # 4 is archived


def test_contacts_list_properties_history_and_associations(hubspot_client):
    page = hubspot_client.crm.contacts.basic_api.get_page(
        limit=50, properties=["lifecyclestage", "hubspot_owner_id", "no_such_property"],
        properties_with_history=["lifecyclestage", "hubspot_owner_id"], associations=["companies"],
    )
    ada = page.results[0]
    assert ada.properties["lifecyclestage"] == "marketingqualifiedlead"
    assert "no_such_property" not in ada.properties  # unknown properties are ignored on reads
    history = ada.properties_with_history["lifecyclestage"]
    assert [(h.value, h.timestamp, h.source_type) for h in history] == [
        ("marketingqualifiedlead", utc("2026-03-02T10:00:00Z"), "FORM"),
        ("lead", utc("2026-03-01T09:00:00Z"), "FORM"),
    ]
    assert [a.id for a in ada.associations["companies"].results] == ["9001"]
    # the snapshot labels no company primary: HubSpot lists an unlabelled link as ..._unlabeled (a primary one
    # would come twice: contact_to_company, then contact_to_company_unlabeled)
    assert ada.associations["companies"].results[0].type == "contact_to_company_unlabeled"
    # contact 2 has no history in the file: one entry, its current value at createdAt
    bob = page.results[1]
    assert [(h.value, h.timestamp) for h in bob.properties_with_history["lifecyclestage"]] == [
        ("customer", utc("2026-02-01T09:00:00Z"))]
    carol = page.results[2]
    assert carol.properties["hubspot_owner_id"] is None
    assert carol.properties_with_history["hubspot_owner_id"] == []
    assert carol.associations is None


def test_list_limits_are_refused_not_capped(sandbox, hubspot_client):
    """HubSpot answers 400 above 100 a page, and above 50 with propertiesWithHistory (no silent cap)."""
    for i in range(60):
        sandbox.portal.create("contacts", {"email": f"bulk{i}@example.com"})
    api = hubspot_client.crm.contacts.basic_api
    assert len(api.get_page(limit=100).results) == 65
    with_history = api.get_page(limit=50, properties_with_history=["lifecyclestage"])
    assert len(with_history.results) == 50
    assert with_history.paging.next.after is not None
    auth = {"Authorization": f"Bearer {sandbox.token}"}
    for params in ({"limit": "51", "propertiesWithHistory": "lifecyclestage"}, {"limit": "101"}):
        for prefix in ("/crm/v3/objects", "/crm/objects/2026-09"):
            answer = httpx.get(f"{sandbox.base_url}{prefix}/contacts", params=params, headers=auth)
            assert answer.status_code == 400, (prefix, params)
            body = answer.json()
            assert body["category"] == "VALIDATION_ERROR" and body["status"] == "error" and body["correlationId"]
            assert params["limit"] in body["message"]
    rest = api.get_page(limit=50, properties_with_history=["lifecyclestage"], after=with_history.paging.next.after)
    assert len(rest.results) == 15 and rest.paging is None  # the cursor resumes exactly after the 50th
    assert {c.id for c in with_history.results}.isdisjoint(c.id for c in rest.results)


def test_archived_listing_and_get_by_id(hubspot_client):
    api = hubspot_client.crm.contacts.basic_api
    archived = api.get_page(archived=True)
    assert [(c.id, c.archived, c.archived_at) for c in archived.results] == [
        ("4", True, utc("2026-03-03T00:00:00Z"))]
    one = api.get_by_id("5", properties=["hubspotscore", "country"], associations=["companies", "communications"])
    assert one.properties["hubspotscore"] == "61"
    assert one.properties["country"] == "Germany"
    assert [a.id for a in one.associations["communications"].results] == ["7501"]
    with pytest.raises(ContactsApiException) as err:
        api.get_by_id("4")
    assert err.value.status == 404
    assert api.get_by_id("4", archived=True).archived is True


def test_batch_read_with_history_and_missing_ids(hubspot_client):
    api = hubspot_client.crm.contacts.batch_api
    answer = api.read(BatchReadInputSimplePublicObjectId(
        inputs=[SimplePublicObjectId(id="5"), SimplePublicObjectId(id="1")],
        properties=["email"], properties_with_history=["hubspot_owner_id"]))
    assert answer.status == "COMPLETE"
    assert {c.id: c.properties["email"] for c in answer.results} == {"5": "erin@acme.io", "1": "ada@acme.io"}
    owners = {c.id: [(h.value, h.timestamp) for h in c.properties_with_history["hubspot_owner_id"]]
              for c in answer.results}
    assert owners["1"] == [("101", utc("2026-03-02T10:05:00Z"))]
    assert owners["5"] == [("101", utc("2026-03-02T09:00:00Z"))]
    partial = api.read(BatchReadInputSimplePublicObjectId(
        inputs=[SimplePublicObjectId(id="2"), SimplePublicObjectId(id="999")], properties=["email"],
        properties_with_history=[]))
    assert [c.id for c in partial.results] == ["2"]
    assert partial.num_errors == 1
    assert partial.errors[0].category == "OBJECT_NOT_FOUND"
    assert partial.errors[0].context == {"ids": ["999"]}
    assert partial.errors[0].message.startswith("Could not get some CONTACT objects")


def test_batch_read_refuses_more_than_100_inputs(hubspot_client):
    with pytest.raises(ContactsApiException) as err:
        hubspot_client.crm.contacts.batch_api.read(BatchReadInputSimplePublicObjectId(
            inputs=[SimplePublicObjectId(id=str(i)) for i in range(101)], properties=[],
            properties_with_history=[]))
    assert err.value.status == 400
    assert "VALIDATION_ERROR" in err.value.body


def test_search_contacts_through_client(hubspot_client):
    answer = hubspot_client.crm.contacts.search_api.do_search(public_object_search_request=PublicObjectSearchRequest(
        filter_groups=[{"filters": [{"propertyName": "lastmodifieddate", "operator": "GTE",
                                     "value": "2026-03-05T10:00:00.000Z"}]}],
        sorts=[{"propertyName": "lastmodifieddate", "direction": "ASCENDING"}],
        properties=["email", "lastmodifieddate"], limit=2))
    assert answer.total == 4
    assert [c.id for c in answer.results] == ["1", "6"]
    assert answer.results[1].properties["email"] == "frank@umbrella.com"
    assert answer.paging.next.after == "2"


def test_patch_contact_owner_appends_history_and_moves_modified_date(sandbox, hubspot_client):
    before = datetime.now(timezone.utc).replace(microsecond=0)
    updated = hubspot_client.crm.contacts.basic_api.update(
        "1", simple_public_object_input=SimplePublicObjectInput(properties={"hubspot_owner_id": "102"}))
    assert updated.properties["hubspot_owner_id"] == "102"
    assert updated.updated_at >= before
    again = hubspot_client.crm.contacts.basic_api.get_by_id(
        "1", properties=["lastmodifieddate"], properties_with_history=["hubspot_owner_id"])
    history = again.properties_with_history["hubspot_owner_id"]
    assert [h.value for h in history] == ["102", "101"]
    assert history[0].source_type == "INTEGRATION"
    assert again.updated_at == updated.updated_at
    assert utc(again.properties["lastmodifieddate"]) == again.updated_at
    with pytest.raises(ContactsApiException) as err:
        hubspot_client.crm.contacts.basic_api.update(
            "1", simple_public_object_input=SimplePublicObjectInput(properties={"hubspot_owner_id": "999"}))
    assert err.value.status == 400 and "INVALID_OWNER_ID" in err.value.body


def test_companies_and_deals_list(hubspot_client):
    companies = hubspot_client.crm.companies.basic_api.get_page(properties=["name", "industry"], associations=["contacts"])
    assert [(c.id, c.properties["name"], c.properties["industry"]) for c in companies.results] == [
        ("9001", "Acme", "Software"), ("9002", "Globex", "Manufacturing")]
    assert [(a.id, a.type) for a in companies.results[0].associations["contacts"].results] == [
        ("1", "company_to_contact_unlabeled"), ("5", "company_to_contact_unlabeled")]  # no link labelled primary
    deals = hubspot_client.crm.deals.basic_api.get_page(associations=["contacts", "companies"])
    deal = deals.results[0]
    assert (deal.id, deal.properties["dealname"], deal.properties["amount"]) == ("501", "Acme expansion", "12000")
    assert [a.id for a in deal.associations["contacts"].results] == ["1"]
    assert deal.associations["companies"].results[0].type == "deal_to_company_unlabeled"  # none labelled primary


@pytest.mark.parametrize(("family", "expected"), [
    ("calls", [("7001", "hs_call_direction", "OUTBOUND", ["1"]), ("7002", "hs_call_direction", "INBOUND", ["2"])]),
    ("emails", [("7101", "hs_email_direction", "EMAIL", ["1"])]),
    ("meetings", [("7201", "hs_meeting_outcome", "CANCELED", ["5"])]),
    ("notes", [("7301", "hs_note_body", "Called", ["1"])]),
    ("tasks", [("7401", "hs_task_status", "NOT_STARTED", ["3"])]),
    ("communications", [("7501", "hs_communication_channel_type", "SMS", ["5"])]),
])
def test_engagement_lists(hubspot_client, family, expected):
    api = getattr(hubspot_client.crm.objects, family).basic_api
    prop = expected[0][1]
    page = api.get_page(properties=["hs_timestamp", prop], associations=["contacts"])
    got = [(e.id, prop, e.properties[prop], [a.id for a in e.associations["contacts"].results]) for e in page.results]
    assert got == expected
    assert sorted(page.results[0].properties) == sorted({"hs_createdate", "hs_lastmodifieddate", "hs_object_id",
                                                         "hs_timestamp", prop})


def test_engagement_search_by_modified_date(hubspot_client):
    answer = hubspot_client.crm.objects.calls.search_api.do_search(public_object_search_request=PublicObjectSearchRequest(
        filter_groups=[{"filters": [{"propertyName": "hs_lastmodifieddate", "operator": "GT",
                                     "value": str(int(utc("2026-03-02T10:30:00Z").timestamp() * 1000))}]}],
        sorts=[{"propertyName": "hs_lastmodifieddate", "direction": "ASCENDING"}], properties=["hs_call_direction"],
        limit=10))
    assert [(c.id, c.properties["hs_call_direction"]) for c in answer.results] == [("7002", "INBOUND")]


def test_create_task_associated_to_contact(sandbox, hubspot_client):
    created = hubspot_client.crm.objects.tasks.basic_api.create(SimplePublicObjectInputForCreate(
        properties={"hs_task_subject": "Call Ada now", "hs_timestamp": "2026-03-08T01:00:00.000Z",
                    "hs_task_status": "NOT_STARTED", "hubspot_owner_id": "102"},
        associations=[PublicAssociationsForObject(
            to=PublicObjectId(id="1"), types=[AssociationSpec(association_category="HUBSPOT_DEFINED",
                                                               association_type_id=204)])]))
    assert created.properties["hs_task_subject"] == "Call Ada now"
    assert int(created.id) > 7401
    tasks = hubspot_client.crm.contacts.basic_api.get_by_id("1", associations=["tasks"])
    assert [a.id for a in tasks.associations["tasks"].results] == [created.id]
    listed = hubspot_client.crm.objects.tasks.basic_api.get_page(properties=["hs_task_subject"])
    assert [t.properties["hs_task_subject"] for t in listed.results] == ["Follow up", "Call Ada now"]
    # engagements need hs_timestamp, and the association type must start from tasks
    from hubspot.crm.objects.tasks.exceptions import ApiException as TasksApiException

    with pytest.raises(TasksApiException) as err:
        hubspot_client.crm.objects.tasks.basic_api.create(SimplePublicObjectInputForCreate(
            properties={"hs_task_subject": "no time"}, associations=[]))
    assert err.value.status == 400 and "hs_timestamp" in err.value.body
    with pytest.raises(TasksApiException) as err:
        hubspot_client.crm.objects.tasks.basic_api.create(SimplePublicObjectInputForCreate(
            properties={"hs_task_subject": "x", "hs_timestamp": "2026-03-08T01:00:00Z"},
            associations=[PublicAssociationsForObject(to=PublicObjectId(id="1"), types=[
                AssociationSpec(association_category="HUBSPOT_DEFINED", association_type_id=194)])]))
    assert err.value.status == 400
    assert sandbox.portal.counts()["tasks"] == 2  # the refused creates wrote nothing


def test_v4_association_batch_read(hubspot_client):
    answer = hubspot_client.crm.associations.v4.batch_api.get_page(
        "calls", "contacts", BatchInputPublicFetchAssociationsBatchRequest(
            inputs=[PublicFetchAssociationsBatchRequest(id="7001"), PublicFetchAssociationsBatchRequest(id="7002")]))
    got = {r._from.id: [(t.to_object_id, [(a.category, a.type_id) for a in t.association_types]) for t in r.to]
           for r in answer.results}
    assert got == {"7001": [("1", [("HUBSPOT_DEFINED", 194)])], "7002": [("2", [("HUBSPOT_DEFINED", 194)])]}
    # the reverse direction, and an id without associations (HubSpot answers 207 with an error for it)
    reverse = hubspot_client.crm.associations.v4.batch_api.get_page(
        "contacts", "emails", BatchInputPublicFetchAssociationsBatchRequest(
            inputs=[PublicFetchAssociationsBatchRequest(id="1"), PublicFetchAssociationsBatchRequest(id="3")]))
    assert [(r._from.id, [t.to_object_id for t in r.to]) for r in reverse.results] == [("1", ["7101"])]
    assert reverse.num_errors == 1
    assert reverse.errors[0].context == {"fromObjectId": ["3"]}


def test_v4_to_object_id_is_a_string_as_in_hubspots_schema(sandbox):
    # PublicApiSpecs/CRM/Associations/Rollouts/130902/{v4,2026-09}/associations.json:
    # MultiAssociatedObjectWithLabel.toObjectId is {"type": "string"}
    sandbox.portal.set_primary("contacts", "1", "companies", "9001")
    for path in ("/crm/v4/associations/contacts/companies/batch/read",
                 "/crm/associations/2026-09/contacts/companies/batch/read"):
        answer = httpx.post(f"{sandbox.base_url}{path}",
                            headers={"Authorization": f"Bearer {sandbox.token}"}, json={"inputs": [{"id": "1"}]})
        assert answer.json()["results"][0]["to"] == [
            {"toObjectId": "9001", "associationTypes": [{"category": "HUBSPOT_DEFINED", "typeId": 1, "label": "Primary"},
                                                        {"category": "HUBSPOT_DEFINED", "typeId": 279, "label": None}]}]


def test_owners_pages_archived_and_by_id(hubspot_client):
    api = hubspot_client.crm.owners.owners_api
    first = api.get_page(limit=1)
    assert [(o.id, o.email, o.user_id, [(t.id, t.name, t.primary) for t in o.teams]) for o in first.results] == [
        ("101", "ada.rep@example.com", 9101, [("7", "EMEA", True)])]
    second = api.get_page(limit=1, after=first.paging.next.after)
    assert [o.id for o in second.results] == ["102"] and second.paging is None
    assert [o.id for o in api.get_page(archived=True).results] == ["103"]
    assert api.get_by_id(102).last_name == "Rep"
    assert api.get_by_id(9101, id_property="userId").id == "101"
    assert [o.id for o in api.get_page(email="grace.rep@example.com").results] == ["102"]


def test_account_details(sandbox):
    answer = httpx.get(f"{sandbox.base_url}/account-info/v3/details",
                       headers={"Authorization": f"Bearer {sandbox.token}"})
    body = answer.json()
    assert (body["portalId"], body["timeZone"], body["uiDomain"]) == (4242, "America/New_York", "app.hubspot.com")
    assert body["utcOffset"] in ("-05:00", "-04:00")


def test_unknown_object_type_is_a_validation_error(sandbox):
    answer = httpx.get(f"{sandbox.base_url}/crm/v3/objects/widgets", headers={"Authorization": f"Bearer {sandbox.token}"})
    assert answer.status_code == 400
    assert answer.json()["message"] == "Unable to infer object type from: widgets"


@pytest.mark.parametrize(("family", "object_id"), [
    ("companies", "9002"), ("deals", "501"), ("calls", "7002"), ("emails", "7101"), ("meetings", "7201"),
    ("notes", "7301"), ("tasks", "7401"), ("communications", "7501"),
])
def test_get_batch_read_and_search_for_every_object_type(hubspot_client, family, object_id):
    discovery = getattr(hubspot_client.crm, family, None) or getattr(hubspot_client.crm.objects, family)
    package = __import__(type(discovery.basic_api).__module__.rsplit(".api.", 1)[0], fromlist=["models"])
    one = discovery.basic_api.get_by_id(object_id, properties=["hubspot_owner_id"])
    assert one.id == object_id and one.archived is False
    batch = discovery.batch_api.read(package.BatchReadInputSimplePublicObjectId(
        inputs=[package.SimplePublicObjectId(id=object_id)], properties=["hs_object_id"], properties_with_history=[]))
    assert [r.id for r in batch.results] == [object_id]
    modified = "hs_lastmodifieddate"
    found = discovery.search_api.do_search(public_object_search_request=package.PublicObjectSearchRequest(
        filter_groups=[{"filters": [{"propertyName": "hs_object_id", "operator": "EQ", "value": object_id}]}],
        sorts=[{"propertyName": modified, "direction": "ASCENDING"}], properties=[modified], limit=5))
    assert found.total == 1 and found.results[0].id == object_id
    assert found.results[0].properties[modified] == one.properties[modified]
