"""The generator's construction-time truth against an independent reading of its own snapshot.

The oracle below applies docs/contracts.md "Touch rules" and "Episode rules" literally to the snapshot JSON
(no generator code): if the generator's bookkeeping of what it placed ever disagrees with what the snapshot
actually says, these tests fail. Business minutes are checked separately by a minute-by-minute walk.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from pipeline.policy import load_policy
from hubspot_sandbox.generator import generate_portal

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
TOUCH_ORDER = {"call": 0, "email": 1, "meeting": 2, "communication": 3}
SECTIONS = {"calls": "call", "emails": "email", "meetings": "meeting", "communications": "communication"}


def ms(text: str) -> int:
    return (datetime.fromisoformat(text.replace("Z", "+00:00")) - EPOCH) // timedelta(milliseconds=1)


STANDARD = {"subscriber", "lead", "marketingqualifiedlead", "salesqualifiedlead", "opportunity", "customer",
            "evangelist", "other"}


def is_touch_kind(section: str, props: dict, excluded_outcomes: list[str]) -> bool:
    if section == "calls":
        return props.get("hs_call_direction") == "OUTBOUND"
    if section == "emails":
        return (props.get("hs_email_direction") in ("EMAIL", "FORWARDED_EMAIL")
                and (props.get("hs_email_status") or "SENT") not in ("BOUNCED", "FAILED", "SCHEDULED"))
    if section == "meetings":
        return (props.get("hs_meeting_outcome") or "").upper() not in excluded_outcomes
    if section == "communications":
        return (props.get("hs_communication_channel_type") in ("SMS", "WHATS_APP", "LINKEDIN_MESSAGE")
                and (props.get("hs_communication_logged_from") or "CRM") == "CRM")
    return False


def ascending(obj: dict, prop: str) -> list[tuple[int, str]]:
    entries = obj.get("propertiesWithHistory", {}).get(prop, [])
    return sorted(((ms(e["timestamp"]), e["value"] or "") for e in reversed(entries)), key=lambda e: e[0])


def in_force(entries: list[tuple[int, str]], at: int) -> str:
    value = ""
    for ts, v in entries:
        if ts <= at:
            value = v
    return value


def derive(snapshot: dict) -> dict:
    """Episodes, funnel inputs and enforcement steps read from the snapshot by the contract's rules."""
    policy = load_policy(None)
    now = ms(snapshot["portal"]["now"])
    skew = int(policy.demo_recognition.logging_skew_minutes * 60000)
    teams = {}
    for owner in snapshot["owners"]:
        primary = [t["name"] for t in owner["teams"] if t["primary"]]
        teams[owner["id"]] = (primary or [t["name"] for t in owner["teams"]] or [None])[0]
    merged = {loser for c in snapshot["contacts"]
              for loser in (c["properties"].get("hs_merged_object_ids") or "").split(";") if loser}
    roles = policy.lifecycle_stages
    mql_stages, sql_up = set(roles.mql), set(roles.sql + roles.opportunity + roles.customer)
    opp_up, customer = set(roles.opportunity + roles.customer), set(roles.customer)
    in_roles = mql_stages | sql_up

    def skipped(value: str) -> bool:  # a portal custom stage in no role neither ends nor opens an episode
        return value != "" and value not in STANDARD and value not in in_roles

    excluded = [o.upper() for o in policy.touches.meeting_outcomes_excluded]
    candidates = defaultdict(list)  # contact id -> [(ts, kind, id, owner)] of touch-kind live engagements
    for section, kind in SECTIONS.items():
        for e in snapshot[section]:
            if e["archived"] or not is_touch_kind(section, e["properties"], excluded):
                continue
            for cid in e["associations"].get("contacts", []):
                p = e["properties"]
                at = ms(p["hs_timestamp"])
                if section == "meetings" and p.get("hs_createdate"):
                    at = min(at, ms(p["hs_createdate"]))  # booked or logged, if earlier than when it takes place
                candidates[cid].append((at, kind, e["id"], p.get("hubspot_owner_id")))
    deals = defaultdict(list)
    for d in snapshot["deals"]:
        if not d["archived"]:
            for cid in d["associations"].get("contacts", []):
                deals[cid].append(ms(d["properties"]["createdate"]))
    episodes, enforcement, leads, touch_ids = {}, [], defaultdict(int), set()
    for contact in snapshot["contacts"]:
        cid = contact["id"]
        if contact["archived"] or cid in merged:
            continue
        stages = ascending(contact, "lifecyclestage")
        owners = ascending(contact, "hubspot_owner_id")
        events = ascending(contact, "recent_conversion_event_name")
        lead_entries = [ts for ts, v in stages if v == "lead"]
        if lead_entries:
            leads[datetime.fromtimestamp(lead_entries[0] / 1000, timezone.utc).strftime("%Y-%m")] += 1
        kept = [(ts, v) for ts, v in stages if not skipped(v)]
        opens = [ts for i, (ts, v) in enumerate(kept) if v in mql_stages and (i == 0 or kept[i - 1][1] not in mql_stages)]
        for i, mql in enumerate(opens):
            nxt = opens[i + 1] if i + 1 < len(opens) else None

            def inside(ts: int) -> bool:
                return mql <= ts and (nxt is None or ts < nxt)

            owner = in_force(owners, mql) or None
            later = [ts for ts, v in owners if v and ts > mql and inside(ts)]
            assigned = mql if owner else (later[0] if later else None)
            mql_type = "demo_request" if policy.demo_recognition.is_demo(in_force(events, mql + skew)) else "other"
            sla = policy.sla_minutes(mql_type)
            due = mql + sla * 60000
            touches = sorted((t for t in candidates[cid] if inside(t[0]) and t[0] <= now),
                             key=lambda t: (t[0], TOUCH_ORDER[t[1]], int(t[2])))
            touch_ids.update(t[2] for t in touches)
            first = touches[0] if touches else None

            def first_entry(values: set[str]) -> int | None:
                hits = [ts for ts, v in stages if v in values and inside(ts)]
                return hits[0] if hits else None

            opp_candidates = [x for x in [first_entry(opp_up),
                                          *sorted(t for t in deals[cid] if inside(t))] if x is not None]
            status = ("met" if first[0] <= due else "breached") if first else ("overdue" if now > due else "pending")
            mql_id = f"{cid}:{mql}"
            episodes[mql_id] = {
                "contact_id": cid, "mql_at": mql, "mql_type": mql_type, "owner_id": owner,
                "team": teams.get(owner) if owner else None, "sla_minutes": sla, "sla_due_at": due,
                "first_touch_at": first[0] if first else None, "first_touch_type": first[1] if first else None,
                "first_touch_owner_id": first[3] if first else None, "first_touch_id": first[2] if first else None,
                "sla_status": status, "attempts": len(touches),
                "sql_at": first_entry(sql_up),
                "opportunity_at": min(opp_candidates) if opp_candidates else None,
                "customer_at": first_entry(customer), "assigned_at": assigned,
            }
            still_mql = contact["properties"].get("lifecyclestage") in mql_stages
            if first is None and still_mql and now - mql <= policy.enforcement_lookback_days * 86400000:
                for step in policy.overdue_steps():
                    if now >= mql + step.at_sla_multiple * sla * 60000:
                        enforcement.append({"mql_id": mql_id, "step": step.step})
    companies = {}  # contract 6: the primary company link, else the lowest associated id (numerically)
    for contact in snapshot["contacts"]:
        if contact["archived"] or contact["id"] in merged:
            continue
        links = contact["associations"].get("companies", [])
        primary = [i for i in links if i == contact.get("primaryCompany")]
        if links:
            companies[contact["id"]] = (primary or sorted(links, key=int))[0]
    return {"episodes": episodes, "enforcement": enforcement, "leads": dict(leads), "touch_ids": touch_ids,
            "now": now, "companies": companies}


def _truth_as_ms(row: dict) -> dict:
    out = {k: row[k] for k in ("contact_id", "mql_type", "owner_id", "team", "sla_minutes", "first_touch_type",
                               "first_touch_owner_id", "first_touch_id", "sla_status", "attempts")}
    for k in ("mql_at", "sla_due_at", "first_touch_at", "sql_at", "opportunity_at", "customer_at", "assigned_at"):
        out[k] = ms(row[k]) if row[k] is not None else None
    return out


@pytest.fixture(scope="module", params=[(400, 1, False), (1500, 2, False), (900, 33, False), (900, 4, True)],
                ids=lambda p: f"{p[0]}c-seed{p[1]}" + ("-custom-stages" if p[2] else ""))
def portal(request):
    contacts, seed, custom = request.param
    snapshot, truth = generate_portal(contacts, seed, custom_stages=custom)
    return snapshot, truth, derive(snapshot)


def test_every_episode_matches_the_contract_reading_of_the_snapshot(portal):
    snapshot, truth, derived = portal
    rows = {row["mql_id"]: _truth_as_ms(row) for row in truth["episodes"]}
    assert set(rows) == set(derived["episodes"])
    mismatched = [(mid, field, rows[mid][field], derived["episodes"][mid][field])
                  for mid in rows for field in derived["episodes"][mid]
                  if rows[mid][field] != derived["episodes"][mid][field]]
    assert mismatched == []
    assert len(rows) > 50


def test_minutes_are_the_contract_arithmetic_of_the_instants(portal):
    _, truth, _ = portal
    for row in truth["episodes"]:
        mql = ms(row["mql_at"])
        if row["first_touch_at"] is None:
            assert row["minutes_to_first_touch"] is None and row["business_minutes_to_first_touch"] is None
            assert row["rep_minutes"] is None
        else:
            assert row["minutes_to_first_touch"] == (ms(row["first_touch_at"]) - mql) / 60000.0
        if row["assigned_at"] is None:
            assert row["routing_minutes"] is None and row["rep_minutes"] is None
        else:
            assert row["routing_minutes"] == (ms(row["assigned_at"]) - mql) / 60000.0
            if row["first_touch_at"] is not None:
                assert row["rep_minutes"] == (ms(row["first_touch_at"]) - ms(row["assigned_at"])) / 60000.0


def test_enforcement_steps_match_the_contract_reading(portal):
    _, truth, derived = portal
    key = lambda s: (s["mql_id"], s["step"])  # noqa: E731
    assert sorted(truth["enforcement"], key=key) == sorted(derived["enforcement"], key=key)


def test_distractors_are_exactly_the_engagements_that_touch_nothing(portal):
    snapshot, truth, derived = portal
    touch_ids = derived["touch_ids"]
    distractor_ids = {eid for section in SECTIONS for eid in truth["distractors"][section]}
    distractor_ids |= set(truth["distractors"]["notes"]) | set(truth["distractors"]["tasks"])
    all_ids = {e["id"] for section in (*SECTIONS, "notes", "tasks") for e in snapshot[section]}
    assert touch_ids.isdisjoint(distractor_ids)
    assert touch_ids | distractor_ids == all_ids  # every engagement is either a touch or a stated distractor
    assert truth["counts"]["touches"] == len(touch_ids)


def test_first_touch_is_an_engagement_on_that_contact_at_that_instant(portal):
    snapshot, truth, _ = portal
    by_id = {e["id"]: (section, e) for section in SECTIONS for e in snapshot[section]}
    for row in truth["episodes"]:
        if row["first_touch_id"] is None:
            continue
        section, engagement = by_id[row["first_touch_id"]]
        assert SECTIONS[section] == row["first_touch_type"]
        assert row["contact_id"] in engagement["associations"]["contacts"]
        props = engagement["properties"]
        counted = ms(props["hs_timestamp"])
        if section == "meetings":
            counted = min(counted, ms(props["hs_createdate"]))
        assert counted == ms(row["first_touch_at"])
        assert engagement["properties"].get("hubspot_owner_id") == row["first_touch_owner_id"]


def test_funnel_and_impact_aggregate_the_episodes(portal):
    _, truth, derived = portal
    by_month = defaultdict(lambda: {"leads": 0, "mqls": 0, "sql": 0, "opportunity": 0, "customer": 0})
    for month, count in derived["leads"].items():
        by_month[month]["leads"] = count
    for ep in derived["episodes"].values():
        month = datetime.fromtimestamp(ep["mql_at"] / 1000, timezone.utc).strftime("%Y-%m")
        by_month[month]["mqls"] += 1
        for stage in ("sql", "opportunity", "customer"):
            by_month[month][stage] += ep[f"{stage}_at"] is not None
    assert truth["funnel"] == [{"month": m, **by_month[m]} for m in sorted(by_month)]

    def bucket(ep: dict) -> str:
        if ep["first_touch_at"] is None:
            return "never"
        minutes = (ep["first_touch_at"] - ep["mql_at"]) / 60000
        for edge, name in ((5, "<5 min"), (60, "5-60 min"), (240, "1-4 h"), (1440, "4-24 h")):
            if minutes < edge:
                return name
        return ">24 h"

    expected = {b: {"bucket": b, "episodes": 0, "sql": 0, "opportunity": 0}
                for b in ("<5 min", "5-60 min", "1-4 h", "4-24 h", ">24 h", "never")}
    for ep in derived["episodes"].values():
        row = expected[bucket(ep)]
        row["episodes"] += 1
        row["sql"] += ep["sql_at"] is not None
        row["opportunity"] += ep["opportunity_at"] is not None
    assert truth["impact"] == list(expected.values())


def _walk_business_minutes(start_ms: int, end_ms: int) -> float:
    """Minute-by-minute walk in New York local time (Mon-Fri 09:00-17:00); partial end minutes pro rata."""
    zone = ZoneInfo("America/New_York")
    total = 0.0
    t = start_ms
    while t < end_ms:
        step_end = min(end_ms, (t // 60000 + 1) * 60000)  # to the next whole UTC minute
        local = datetime.fromtimestamp(t / 1000, zone)
        if local.weekday() < 5 and 9 <= local.hour < 17:
            total += (step_end - t) / 60000
        t = step_end
    return total


def test_business_minutes_match_a_minute_by_minute_walk():
    _, truth = generate_portal(700, 5)
    sample = [r for r in truth["episodes"] if r["first_touch_at"] and r["minutes_to_first_touch"] < 6 * 1440][:120]
    assert len(sample) >= 60
    assert any(r["business_minutes_to_first_touch"] < r["minutes_to_first_touch"] - 60 for r in sample)
    for row in sample:
        walked = _walk_business_minutes(ms(row["mql_at"]), ms(row["first_touch_at"]))
        assert row["business_minutes_to_first_touch"] == pytest.approx(walked, abs=1e-6), row["mql_id"]


def test_the_contact_company_is_the_primary_link_else_the_lowest_id(portal):
    snapshot, truth, derived = portal
    assert truth["contact_company"] == derived["companies"]
    by_id = {c["id"]: c for c in snapshot["contacts"]}
    several = [cid for cid in truth["contact_company"] if len(by_id[cid]["associations"]["companies"]) > 1]
    assert several, "some contacts have two or more companies"
    # where it matters: a labelled primary that is not the lowest id, and an unlabelled set
    assert any(by_id[c].get("primaryCompany") and truth["contact_company"][c] != min(
        by_id[c]["associations"]["companies"], key=int) for c in several)
    assert any(not by_id[c].get("primaryCompany") for c in several)
