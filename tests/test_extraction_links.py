"""Extraction of association types (contract 1), lifecycle-stage options (contract 2), owner type and history
sources (contract 3), and the 50-id limit of history batch reads: real sandbox, real dlt pipeline through Dagster.

The truth is what each test wrote into the sandbox portal (primary links it set, definitions it gave, owners and
history entries of the snapshot), stated literally here.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request

from hubspot_sandbox.portal import Portal
from hubspot_sandbox.ratelimit import RateLimits
from hubspot_sandbox.server import run_in_thread
from tests.fixtures.extraction import (
    build_portal,
    duplicates,
    extraction_resources,
    materialize_raw,
    mismatches,
    query,
)

PRIMARY_CONTACT_COMPANY = ('[{"category":"HUBSPOT_DEFINED","typeId":1,"label":"Primary"},'
                           '{"category":"HUBSPOT_DEFINED","typeId":279,"label":null}]')
UNLABELLED_CONTACT_COMPANY = '[{"category":"HUBSPOT_DEFINED","typeId":279,"label":null}]'
PRIMARY_DEAL_COMPANY = ('[{"category":"HUBSPOT_DEFINED","typeId":5,"label":"Primary"},'
                        '{"category":"HUBSPOT_DEFINED","typeId":341,"label":null}]')
DEAL_CONTACT = '[{"category":"HUBSPOT_DEFINED","typeId":3,"label":null}]'
CALL_CONTACT = '[{"category":"HUBSPOT_DEFINED","typeId":194,"label":null}]'


def _requests(sandbox) -> dict[str, int]:
    return dict(sandbox.stats.snapshot()["requests"])


def _delta(after: dict[str, int], before: dict[str, int]) -> dict[str, int]:
    return {k: v - before.get(k, 0) for k, v in after.items() if v - before.get(k, 0)}


def _links(db, where: str) -> dict[tuple, tuple]:
    rows = query(db, "SELECT from_type, from_id, to_type, to_id, association_types, is_primary, _dlt_load_id "
                     f"FROM hubspot.associations WHERE {where}")
    return {r[:4]: r[4:] for r in rows}


def _linked_portal() -> tuple[Portal, dict]:
    """30 contacts; contacts 1-10 and deal 1 have a primary company; contact 5 one more (unlabelled) company;
    contact 2 has 121 companies and deal 1 has 101 contacts (over HubSpot's 100 inline entries)."""
    portal = Portal.from_snapshot(build_portal(contacts=30))
    company_of = {str(i): portal.associated_ids("contacts", str(i), "companies")[0] for i in range(1, 11)}
    for contact_id, company_id in company_of.items():
        portal.set_primary("contacts", contact_id, "companies", company_id)
    extra_company = "2" if company_of["5"] != "2" else "3"
    portal.associate("contacts", "5", "companies", extra_company)
    many_companies = [portal.create("companies", {"name": f"Extra {i}"}) for i in range(120)]
    for company_id in many_companies:
        portal.associate("contacts", "2", "companies", company_id)
    deal_company = portal.associated_ids("deals", "1", "companies")[0]
    portal.set_primary("deals", "1", "companies", deal_company)
    many_contacts = [portal.create("contacts", {"email": f"crowd{i}@x.example"}) for i in range(101)]
    for contact_id in many_contacts:
        portal.associate("deals", "1", "contacts", contact_id)
    return portal, {"company_of": company_of, "extra_company": extra_company, "many_companies": many_companies,
                    "deal_company": deal_company, "many_contacts": many_contacts}


def test_full_sync_reads_links_inline_with_types_and_batch_reads_only_the_overflow(tmp_path):
    portal, made = _linked_portal()
    with run_in_thread(portal, limits=RateLimits.unlimited()) as sandbox:
        db = tmp_path / "raw.duckdb"
        resources = extraction_resources(sandbox.base_url, sandbox.token, db)
        assert materialize_raw(resources).success
        cost = _requests(sandbox)
        assert mismatches(db, portal) == []
        assert set(duplicates(db).values()) == {0}
        # the listings asked for associations inline; only contact 2 (121 companies + its primary entry) and
        # deal 1 (101 contacts) came back with a per-object cursor: one v4 batch read each
        assert cost["associations.batch_read"] == 2

        links = _links(db, "true")
        company_of = made["company_of"]
        for contact_id, company_id in company_of.items():
            assert links[("contacts", contact_id, "companies", company_id)][:2] == (PRIMARY_CONTACT_COMPANY, True)
        assert links[("contacts", "5", "companies", made["extra_company"])][:2] == (UNLABELLED_CONTACT_COMPANY, False)
        for company_id in made["many_companies"]:  # read by the overflow batch
            assert links[("contacts", "2", "companies", company_id)][:2] == (UNLABELLED_CONTACT_COMPANY, False)
        assert links[("deals", "1", "companies", made["deal_company"])][:2] == (PRIMARY_DEAL_COMPANY, True)
        for contact_id in made["many_contacts"]:
            assert links[("deals", "1", "contacts", contact_id)][:2] == (DEAL_CONTACT, False)
        calls = {k: v for k, v in links.items() if k[0] == "calls" and k[3]}
        assert calls and {v[:2] for v in calls.values()} == {(CALL_CONTACT, False)}
        # exactly the links the test labelled primary are primary
        primary = {k for k, v in links.items() if v[1]}
        assert primary == ({("contacts", c, "companies", company_of[c]) for c in company_of}
                           | {("deals", "1", "companies", made["deal_company"])})
        unlabelled_contacts = [k for k, v in links.items() if k[0] == "contacts" and k[3] and not v[1]]
        assert all(links[k][0] == UNLABELLED_CONTACT_COMPANY for k in unlabelled_contacts)

        # the incremental path (v4 batch reads of changed objects) stores the very same rows
        watched = ("(from_type = 'contacts' AND from_id IN ('1', '2', '5', '7')) "
                   "OR (from_type = 'deals' AND from_id = '1')")
        before = _links(db, watched)
        for contact_id in ("1", "2", "5", "7"):
            portal.update("contacts", contact_id, {"hs_lead_status": "IN_PROGRESS"})
        portal.update("deals", "1", {"amount": "4242"})
        seen = _requests(sandbox)
        assert materialize_raw(resources).success
        cost = _delta(_requests(sandbox), seen)
        assert "contacts.list" not in cost and "deals.list" not in cost and cost["associations.batch_read"] >= 3
        after = _links(db, watched)
        assert {k: v[:2] for k, v in after.items()} == {k: v[:2] for k, v in before.items()}
        assert {v[2] for v in after.values()}.isdisjoint({v[2] for v in before.values()})  # rewritten, not kept
        assert mismatches(db, portal) == []


def test_more_than_50_changed_contacts_are_batch_read_50_at_a_time(tmp_path):
    portal = Portal.from_snapshot(build_portal(contacts=120))
    with run_in_thread(portal, limits=RateLimits.unlimited()) as sandbox:
        # the sandbox refuses what HubSpot refuses: 51 ids with history
        body = json.dumps({"inputs": [{"id": str(i)} for i in range(1, 52)], "properties": ["email"],
                           "propertiesWithHistory": ["lifecyclestage"]}).encode()
        request = urllib.request.Request(f"{sandbox.base_url}/crm/v3/objects/contacts/batch/read", data=body,
                                         method="POST", headers={"Authorization": f"Bearer {sandbox.token}",
                                                                 "Content-Type": "application/json"})
        try:
            urllib.request.urlopen(request)
            raise AssertionError("51 ids with history were accepted")
        except urllib.error.HTTPError as err:
            answer = json.loads(err.read())
            assert err.code == 400 and answer["category"] == "VALIDATION_ERROR"
            assert "maximum number of inputs supported in a batch request for property histories is 50" in answer["message"]
        sandbox.stats.reset()

        db = tmp_path / "raw.duckdb"
        resources = extraction_resources(sandbox.base_url, sandbox.token, db)
        assert materialize_raw(resources).success
        for i in range(1, 61):  # 60 changed contacts: more than one history batch
            portal.update("contacts", str(i), {"lifecyclestage": "opportunity"})
        seen = _requests(sandbox)
        assert materialize_raw(resources).success
        cost = _delta(_requests(sandbox), seen)
        assert cost["contacts.batch_read"] == 2  # 50 + 10
        assert "400" not in sandbox.stats.snapshot()["statuses"]
        assert mismatches(db, portal) == []


STANDARD_OPTIONS = [
    ("contacts", "lifecyclestage", "subscriber", "Subscriber", 0, False),
    ("contacts", "lifecyclestage", "lead", "Lead", 1, False),
    ("contacts", "lifecyclestage", "marketingqualifiedlead", "Marketing Qualified Lead", 2, False),
    ("contacts", "lifecyclestage", "salesqualifiedlead", "Sales Qualified Lead", 3, False),
    ("contacts", "lifecyclestage", "opportunity", "Opportunity", 4, False),
    ("contacts", "lifecyclestage", "customer", "Customer", 5, False),
    ("contacts", "lifecyclestage", "evangelist", "Evangelist", 6, False),
    ("contacts", "lifecyclestage", "other", "Other", 7, False),
]


def _options(db) -> list[tuple]:
    return query(db, "SELECT object_type, property_name, value, label, display_order, hidden "
                     "FROM hubspot.property_options ORDER BY display_order")


def test_property_options_come_from_the_properties_api_and_are_replaced_each_sync(tmp_path):
    portal = Portal.from_snapshot(build_portal(contacts=20))
    with run_in_thread(portal, limits=RateLimits.unlimited()) as sandbox:
        db = tmp_path / "raw.duckdb"
        resources = extraction_resources(sandbox.base_url, sandbox.token, db)
        assert materialize_raw(resources).success
        assert _options(db) == STANDARD_OPTIONS  # a portal that never touched its stages
        # the portal renames MQL, adds a custom stage (numeric internal value) and hides "other"
        portal.property_overrides = {"contacts": {"lifecyclestage": {
            "name": "lifecyclestage", "label": "Lifecycle Stage", "type": "enumeration", "fieldType": "radio",
            "options": [
                {"label": "Lead", "value": "lead", "displayOrder": 0, "hidden": False},
                {"label": "Marketing Qualified", "value": "marketingqualifiedlead", "displayOrder": 1, "hidden": False},
                {"label": "Nurture", "value": "1234567", "displayOrder": 2, "hidden": False},
                {"label": "Sales Qualified Lead", "value": "salesqualifiedlead", "displayOrder": 3, "hidden": False},
                {"label": "Customer", "value": "customer", "displayOrder": 4, "hidden": False},
                {"label": "Other", "value": "other", "displayOrder": 5, "hidden": True},
            ]}}}
        seen = _requests(sandbox)
        assert materialize_raw(resources).success  # an incremental sync: still one Properties API read
        assert _delta(_requests(sandbox), seen)["contacts.property"] == 1
        assert _options(db) == [
            ("contacts", "lifecyclestage", "lead", "Lead", 0, False),
            ("contacts", "lifecyclestage", "marketingqualifiedlead", "Marketing Qualified", 1, False),
            ("contacts", "lifecyclestage", "1234567", "Nurture", 2, False),
            ("contacts", "lifecyclestage", "salesqualifiedlead", "Sales Qualified Lead", 3, False),
            ("contacts", "lifecyclestage", "customer", "Customer", 4, False),
            ("contacts", "lifecyclestage", "other", "Other", 5, True),
        ]


def test_owner_type_and_who_set_each_history_value(tmp_path):
    snapshot = build_portal(contacts=20)
    snapshot["owners"][3]["type"] = "QUEUE"  # owner 103
    contact = snapshot["contacts"][0]  # id 1
    contact["propertiesWithHistory"]["hubspot_owner_id"] = [
        {"value": "103", "timestamp": "2026-08-01T10:00:00.000Z", "sourceType": "WORKFLOW", "sourceId": "82451021"},
        {"value": "101", "timestamp": "2026-07-01T10:00:00.000Z", "sourceType": "CRM_UI", "sourceId": "userId:9101",
         "updatedByUserId": 9101},
    ]
    contact["properties"]["hubspot_owner_id"] = "103"
    portal = Portal.from_snapshot(snapshot)
    with run_in_thread(portal, limits=RateLimits.unlimited()) as sandbox:
        db = tmp_path / "raw.duckdb"
        assert materialize_raw(extraction_resources(sandbox.base_url, sandbox.token, db)).success
        assert query(db, "SELECT id, type FROM hubspot.owners ORDER BY id") == [
            ("100", "PERSON"), ("101", "PERSON"), ("102", "PERSON"), ("103", "QUEUE"), ("104", "PERSON")]
        assert query(db, "SELECT value, source_type, source_id, updated_by_user_id, position "
                         "FROM hubspot.contact_property_history WHERE contact_id = '1' "
                         "AND property = 'hubspot_owner_id' ORDER BY position") == [
            ("103", "WORKFLOW", "82451021", None, 0), ("101", "CRM_UI", "userId:9101", 9101, 1)]
        # meetings carry hs_createdate (when booked or logged)
        rows = query(db, "SELECT count(*), count(hs_createdate), count(*) FILTER (WHERE hs_createdate = created_at) "
                         "FROM hubspot.meetings")
        assert rows[0][0] > 0 and rows[0][0] == rows[0][1] == rows[0][2]
