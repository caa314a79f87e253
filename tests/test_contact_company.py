"""The contact's company (contract 6): the primary link, else the lowest associated id. Literal cases, held for
the Python and the SQL spelling alike, then the readers that use it (routing inputs, the brief, sample leads)."""

from __future__ import annotations

import duckdb
import pytest

from pipeline.contact_company import contact_company_id, contact_company_sql, snapshot_company_links

# (links as (company id, is_primary), expected company) -- stated by hand
CASES = [
    ([("9", True)], "9"),
    ([("3", False), ("9", True)], "9"),  # primary beats a lower id
    ([("12", False), ("9", False)], "9"),  # no primary: the lowest id, numerically (text would say "12")
    ([("100", False), ("20", False), ("3", False)], "3"),
    ([("7", None), ("5", None)], "5"),  # is_primary unknown (older raw rows): unlabelled
    ([("", False), ("8", False)], "8"),  # the empty to_id marker row is no company
    ([("", False)], None),
    ([], None),
    ([("40", True), ("30", True)], "30"),  # two primaries (HubSpot allows one): the lower
]


@pytest.mark.parametrize(("links", "expected"), CASES)
def test_python_rule(links, expected):
    assert contact_company_id(links) == expected


def test_sql_rule_agrees_on_every_case():
    con = duckdb.connect()
    con.execute("CREATE TABLE a (from_type VARCHAR, from_id VARCHAR, to_type VARCHAR, to_id VARCHAR, "
                "is_primary BOOLEAN)")
    for n, (links, _expected) in enumerate(CASES):
        for company_id, primary in links:
            con.execute("INSERT INTO a VALUES ('contacts', ?, 'companies', ?, ?)", [str(n), company_id, primary])
        con.execute("INSERT INTO a VALUES ('deals', ?, 'companies', '1', true)", [str(n)])  # other directions
    got = dict(con.execute(f"SELECT contact_id, company_id FROM {contact_company_sql('a')}").fetchall())
    assert got == {str(n): expected for n, (_links, expected) in enumerate(CASES) if expected is not None}


def test_snapshot_links_label_the_primary_company():
    assert snapshot_company_links({"associations": {"companies": ["3", "9"]}, "primaryCompany": "9"}) == [
        ("3", False), ("9", True)]
    assert snapshot_company_links({"associations": {"companies": ["12", "9"]}}) == [("12", False), ("9", False)]
    assert snapshot_company_links({"associations": {}}) == []


def _portal_with_two_companies(raw_portal):
    raw_portal.owner("101", team="EMEA")
    raw_portal.owner("102", team="EMEA")
    raw_portal.owner("103", team="EMEA")
    raw_portal.write("companies", id="3", created_at="2024-01-01T00:00:00Z", archived=False, name="Lower Id Ltd",
                     industry="RETAIL", country="France", hubspot_owner_id="102")
    raw_portal.write("companies", id="9", created_at="2024-01-01T00:00:00Z", archived=False, name="Primary GmbH",
                     industry="FINANCIAL_SERVICES", country="Germany", hubspot_owner_id="103")
    raw_portal.contact("1", lifecycle=[("2024-03-01T00:00:00Z", "lead"),
                                       ("2024-03-05T14:00:00Z", "marketingqualifiedlead")],
                       owners=[("2024-03-01T00:00:00Z", "101")])
    raw_portal.write("associations", from_type="contacts", from_id="1", to_type="companies", to_id="3",
                     is_primary=False)
    raw_portal.write("associations", from_type="contacts", from_id="1", to_type="companies", to_id="9",
                     is_primary=True)
    # contact 2: two unlabelled links, the lowest id (numerically) is its company
    raw_portal.contact("2", lifecycle=[("2024-03-01T00:00:00Z", "lead"),
                                       ("2024-03-05T15:00:00Z", "marketingqualifiedlead")],
                       owners=[("2024-03-01T00:00:00Z", "101")])
    raw_portal.write("companies", id="10", created_at="2024-01-01T00:00:00Z", archived=False, name="Ten Inc",
                     country="Spain")
    raw_portal.write("associations", from_type="contacts", from_id="2", to_type="companies", to_id="10",
                     is_primary=False)
    raw_portal.write("associations", from_type="contacts", from_id="2", to_type="companies", to_id="9",
                     is_primary=False)


def test_routing_inputs_and_the_brief_use_the_primary_company(raw_portal):
    from pipeline.policy import load_policy
    from pipeline.sla import facts
    from tests.fixtures.raw_tables import build_marts, ts

    _portal_with_two_companies(raw_portal)
    build_marts(raw_portal, "2024-03-20T00:00:00Z")
    con = raw_portal.con
    assert facts.company_of(con, "1")["name"] == "Primary GmbH"
    assert facts.company_of(con, "2")["name"] == "Primary GmbH"  # 9 < 10 numerically
    leads = {r["contact_id"]: r for r in facts.leads(con).to_dicts()}
    assert (leads["1"]["company_owner_id"], leads["1"]["industry"], leads["1"]["company_country"]) == (
        "103", "FINANCIAL_SERVICES", "Germany")
    assert leads["2"]["company_owner_id"] == "103"
    ep = facts.episode(con, f"1:{int(ts('2024-03-05T14:00:00Z').timestamp() * 1000)}")
    from pipeline.brief import build_brief

    brief_facts = facts.brief_facts(con, ep, "manager_escalation", recipient=None, new_owner_id=None,
                                    routing_reason=None, policy=load_policy(), now=ts("2024-03-20T00:00:00Z"))
    brief = build_brief(brief_facts, load_policy(), ts("2024-03-20T00:00:00Z"))
    assert brief["company"]["id"] == "9" and brief["company"]["industry"] == "FINANCIAL_SERVICES"
    assert brief["contact"]["company"] == "Primary GmbH"


def test_sample_leads_from_a_snapshot_use_the_primary_company():
    from pipeline.routing.samples import leads_from_snapshot

    def company(cid, owner, industry):
        return {"id": cid, "createdAt": "2024-01-01T00:00:00.000Z", "archived": False,
                "properties": {"industry": industry, "hubspot_owner_id": owner, "country": "Germany"}}

    snapshot = {"companies": [company("3", "102", "RETAIL"), company("9", "103", "BANKING")], "contacts": [
        {"id": "1", "properties": {}, "associations": {"companies": ["3", "9"]}, "primaryCompany": "9"},
        {"id": "2", "properties": {}, "associations": {"companies": ["9", "3"]}},
    ]}
    leads = {r["contact_id"]: r for r in leads_from_snapshot(snapshot).to_dicts()}
    assert (leads["1"]["company_owner_id"], leads["1"]["industry"]) == ("103", "BANKING")
    assert (leads["2"]["company_owner_id"], leads["2"]["industry"]) == ("102", "RETAIL")
