"""The routing rules, one test each: account ownership, territory, industry, inbound/outbound, fallback pool,
inactive owners skipped, load balance and spreading, the missed rep excluded, availability (away, cap,
working hours), and explainability (rule fired + candidates)."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import polars as pl
import pytest

from pipeline.policy import parse_policy
from pipeline.routing.engine import route

NOW = datetime(2026, 11, 2, 15, 0, tzinfo=timezone.utc)  # Monday 10:00 in New York

POLICY = """
routing:
  rules:
    - {name: account_owner, type: account_owner}
    - {name: fintech, type: industry, industries: [FINANCIAL_SERVICES, banking], team: Fintech}
    - {name: emea, type: territory, countries: [Germany, United Kingdom], regions: [Bavaria], team: EMEA}
    - {name: inbound, type: inbound, team: North America}
    - {name: outbound, type: outbound, pool: [sdr1@x.example, "52"]}
    - {name: fallback, type: fallback, owner: "90"}
"""

ROSTER = pl.DataFrame([
    {"owner_id": "11", "email": "ana@x.example", "name": "Ana", "active": True, "teams": ["North America"]},
    {"owner_id": "12", "email": "ben@x.example", "name": "Ben", "active": True, "teams": ["North America"]},
    {"owner_id": "13", "email": "cleo@x.example", "name": "Cleo", "active": True, "teams": ["North America"]},
    {"owner_id": "21", "email": "emil@x.example", "name": "Emil", "active": True, "teams": ["EMEA"]},
    {"owner_id": "22", "email": "eva@x.example", "name": "Eva", "active": True, "teams": ["EMEA"]},
    {"owner_id": "31", "email": "finn@x.example", "name": "Finn", "active": True, "teams": ["Fintech"]},
    {"owner_id": "41", "email": "olga@x.example", "name": "Olga", "active": False, "teams": ["North America"]},
    {"owner_id": "51", "email": "sdr1@x.example", "name": "Sid", "active": True, "teams": []},
    {"owner_id": "52", "email": "sdr2@x.example", "name": "Sue", "active": True, "teams": []},
    {"owner_id": "90", "email": "desk@x.example", "name": "Desk", "active": True, "teams": []},
])


def lead(mql_id: str, **fields) -> dict:
    base = {"mql_id": mql_id, "contact_id": mql_id.split(":")[0], "missed_owner_id": None, "country": None,
            "region": None, "company_country": None, "company_region": None, "industry": None,
            "company_owner_id": None, "inbound": True}
    return {**base, **fields}


def decide(leads: list[dict], policy_text: str = POLICY, load: pl.DataFrame | None = None, now=NOW,
           roster: pl.DataFrame = ROSTER) -> list[dict]:
    return route(pl.DataFrame(leads), roster, parse_policy(policy_text), load, now=now).to_dicts()


def test_account_owner_wins_when_active_and_not_the_missed_rep():
    [d] = decide([lead("1:1", company_owner_id="13", country="Germany", industry="FINANCIAL_SERVICES")])
    assert (d["owner_id"], d["rule"], d["rule_type"]) == ("13", "account_owner", "account_owner")


def test_inactive_account_owner_is_skipped_and_the_next_rule_fires():
    [d] = decide([lead("1:1", company_owner_id="41", industry="FINANCIAL_SERVICES")])
    assert (d["owner_id"], d["rule"]) == ("31", "fintech")
    skipped = [c for c in json.loads(d["candidates"]) if c["rule"] == "account_owner"]
    assert skipped == [{"rule": "account_owner", "owner_id": "41", "email": "olga@x.example", "open_mqls": 0,
                        "assigned_today": 0, "weight": 1.0, "score": 0.0, "available": False,
                        "why_not": "inactive in HubSpot", "chosen": False}]
    assert "skipped account_owner: no available owner" in d["reason"]


def test_account_owner_who_missed_the_sla_is_not_chosen():
    [d] = decide([lead("1:1", company_owner_id="13", missed_owner_id="13")])
    # Ana and Ben tie (no load, none assigned today): the deterministic tie-break is the lower owner id
    assert (d["rule"], d["owner_id"]) == ("inbound", "11")
    assert decide([lead("1:1", company_owner_id="13", missed_owner_id="13")]) == [d]  # and again, the same


def test_industry_matches_case_insensitively():
    [d] = decide([lead("1:1", industry="Banking")])
    assert (d["owner_id"], d["team"], d["rule"]) == ("31", "Fintech", "fintech")


@pytest.mark.parametrize("fields", [{"country": "germany"}, {"company_country": "United Kingdom"},
                                    {"company_region": "Bavaria"}])
def test_territory_by_contact_or_company_country_or_region(fields):
    [d] = decide([lead("1:1", **fields)])
    assert (d["rule"], d["team"]) == ("emea", "EMEA")
    assert d["owner_id"] == "21"  # equal load: the lower id


def test_inbound_and_outbound_go_to_their_own_targets():
    inbound, outbound = decide([lead("1:1", inbound=True), lead("2:1", inbound=False)])
    assert (inbound["rule"], inbound["team"]) == ("inbound", "North America")
    assert (outbound["rule"], outbound["owner_id"]) == ("outbound", "51")  # pool named by email and by id


def test_fallback_owner_when_no_team_has_anyone_available():
    policy = POLICY + """
  reps:
    "21": {away: true}
    eva@x.example: {away: true}
"""
    no_outbound = policy.replace("    - {name: outbound, type: outbound, pool: [sdr1@x.example, \"52\"]}\n", "")
    [d] = decide([lead("1:1", country="Germany", inbound=False)], no_outbound)
    assert (d["owner_id"], d["rule"]) == ("90", "fallback")
    emea = [c for c in json.loads(d["candidates"]) if c["rule"] == "emea"]
    assert [(c["owner_id"], c["why_not"]) for c in emea] == [("21", "marked away in the policy"),
                                                             ("22", "marked away in the policy")]


def test_nothing_available_anywhere_is_a_decision_without_owner_and_says_why():
    policy = """
routing:
  rules:
    - {name: only, type: fallback, team: EMEA}
"""
    [d] = decide([lead("1:1", missed_owner_id="21")], policy,
                 roster=ROSTER.filter(pl.col("owner_id") != "22"))
    assert d["owner_id"] is None and d["rule"] == "none"
    assert d["reason"] == "no available owner: only: no available owner"


def test_the_rep_who_missed_the_sla_is_never_chosen_even_with_the_lowest_load():
    load = pl.DataFrame({"owner_id": ["11", "12", "13"], "open_mqls": [0, 5, 7], "assigned_today": [0, 0, 0]})
    [d] = decide([lead("1:1", missed_owner_id="11")], load=load)
    assert d["owner_id"] == "12"
    why = {c["owner_id"]: c["why_not"] for c in json.loads(d["candidates"])}
    assert why == {"11": "missed this SLA", "12": None, "13": None, "41": "inactive in HubSpot"}


def test_lowest_open_load_wins_and_weights_scale_it():
    load = pl.DataFrame({"owner_id": ["11", "12", "13"], "open_mqls": [4, 2, 3], "assigned_today": [0, 0, 0]})
    assert decide([lead("1:1")], load=load)[0]["owner_id"] == "12"
    weighted = POLICY + """
  reps:
    cleo@x.example: {weight: 2.0}
"""
    assert decide([lead("1:1")], weighted, load=load)[0]["owner_id"] == "13"  # 3 / 2 = 1.5 < 2


def test_a_batch_is_spread_across_the_pool_not_piled_on_one_rep():
    decisions = decide([lead(f"{i}:1") for i in range(1, 7)])
    owners = [d["owner_id"] for d in decisions]
    assert owners == ["11", "12", "13", "11", "12", "13"]


def test_adding_a_rep_does_not_reset_anyone_s_share():
    load = pl.DataFrame({"owner_id": ["11", "12"], "open_mqls": [3, 3], "assigned_today": [0, 0]})
    new_rep = ROSTER.filter(pl.col("owner_id") != "13")  # Cleo not hired yet
    before = [d["owner_id"] for d in decide([lead(f"{i}:1") for i in range(1, 5)], load=load, roster=new_rep)]
    assert before == ["11", "12", "11", "12"]
    # Cleo joins with no load: she takes leads until she catches up; Ana and Ben keep their counts
    after = [d["owner_id"] for d in decide([lead(f"{i}:1") for i in range(1, 5)], load=load)]
    assert after == ["13", "13", "13", "11"]


def test_daily_cap_and_working_hours_make_a_rep_unavailable():
    policy = POLICY + """
  reps:
    "11": {daily_cap: 2}
    "12": {working_hours: {timezone: Europe/Berlin, start: "08:00", end: "15:00"}}
"""
    load = pl.DataFrame({"owner_id": ["11", "12", "13"], "open_mqls": [0, 0, 9], "assigned_today": [2, 0, 0]})
    [d] = decide([lead("1:1")], policy, load=load)  # 16:00 in Berlin: Ben is off; Ana is at her cap
    assert d["owner_id"] == "13"
    why = {c["owner_id"]: c["why_not"] for c in json.loads(d["candidates"])}
    assert why["11"] == "at daily cap (2)" and why["12"] == "outside working hours"


def test_release_times_free_load_during_a_replay():
    policy = """
routing:
  rules:
    - {name: pool, type: fallback, pool: ["11", "12"]}
"""
    load = pl.DataFrame({"owner_id": ["12"], "open_mqls": [1], "assigned_today": [0]})
    at = lambda h, m=0: datetime(2026, 11, 2, h, m, tzinfo=timezone.utc)  # noqa: E731
    released = [lead("1:1", routed_at=at(14), release_at=at(14, 30)), lead("2:1", routed_at=at(15))]
    kept = [lead("1:1", routed_at=at(14)), lead("2:1", routed_at=at(15))]
    # Ana touched her first lead at 14:30, so at 15:00 her open load is 0 again and she is still the lightest
    assert [d["owner_id"] for d in decide(released, policy, load=load)] == ["11", "11"]
    assert [d["owner_id"] for d in decide(kept, policy, load=load)] == ["11", "12"]


def test_managers_are_not_routed_leads_from_their_team_unless_the_policy_says_so():
    with_manager = POLICY + """
managers:
  teams: {"North America": BEN@x.example}
"""
    owners = [d["owner_id"] for d in decide([lead(f"{i}:1") for i in range(1, 5)], with_manager)]
    assert owners == ["11", "13", "11", "13"]
    [d] = decide([lead("9:1")], with_manager)
    why = {c["owner_id"]: c["why_not"] for c in json.loads(d["candidates"])}
    assert why["12"] == "a manager (policy managers; set routing.route_to_managers to include)"
    opted_in = with_manager.replace("routing:\n", "routing:\n  route_to_managers: true\n")
    assert [d["owner_id"] for d in decide([lead(f"{i}:1") for i in range(1, 4)], opted_in)] == ["11", "12", "13"]
    # an account the manager owns stays with the manager
    assert decide([lead("1:1", company_owner_id="12")], with_manager)[0]["owner_id"] == "12"


def test_a_queue_owner_never_receives_a_lead():
    """HubSpot owners of type QUEUE are work queues, not people: not as account owner, not from a team or pool,
    not as the fallback owner; a roster without the column treats everyone as a PERSON."""
    roster = ROSTER.with_columns(
        pl.when(pl.col("owner_id").is_in(["13", "12", "90"])).then(pl.lit("QUEUE")).otherwise(pl.lit("PERSON"))
        .alias("type"))
    leads = [lead(f"{i}:1", company_owner_id="13") for i in range(1, 5)]
    decisions = decide(leads, roster=roster)
    # account owner 13 is a queue: the inbound team's only person left is 11 (12 and 13 are queues)
    assert [(d["owner_id"], d["rule"]) for d in decisions] == [("11", "inbound")] * 4
    why = {c["owner_id"]: c["why_not"] for c in json.loads(decisions[0]["candidates"])}
    assert why["13"] == why["12"] == "a queue (HubSpot owner type QUEUE), not a person"
    # the fallback owner 90 is a queue: a lead that only the fallback matches is left unrouted
    only_fallback = "routing:\n  rules:\n    - {name: fallback, type: fallback, owner: \"90\"}\n"
    [d] = decide([lead("9:1")], policy_text=only_fallback, roster=roster)
    assert d["owner_id"] is None
    [d] = decide([lead("9:1")], policy_text=only_fallback)  # no type column: 90 is a person
    assert d["owner_id"] == "90"
