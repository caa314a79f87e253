"""On tables written by the real extractor (sandbox -> dlt), the marts equal the ground truth, and a second
sync that brings one new call rebuilds exactly that contact, keyed on dlt's load ids."""

from __future__ import annotations


from hubspot_sandbox.generator import generate_portal
from hubspot_sandbox.portal import Portal
from hubspot_sandbox.ratelimit import RateLimits
from hubspot_sandbox.server import run_in_thread
from pipeline.settings import parse_instant
from tests.fixtures.extraction import extraction_resources, materialize_raw
from tests.fixtures.raw_tables import RawPortal, build_marts, connect, rows


def _sync(snapshot: dict, db) -> None:
    handle = run_in_thread(Portal.from_snapshot(snapshot), limits=RateLimits.unlimited())
    try:
        materialize_raw(extraction_resources(handle.base_url, handle.token, db))
    finally:
        handle.stop()


def _build(db, now: str) -> dict:
    con = connect(db)
    try:
        portal = RawPortal.__new__(RawPortal)  # reuse the build helper on dlt's own tables
        portal.con = con
        results = {r.model: r for r in build_marts(portal, now)}
        results["rows"] = {r["mql_id"]: r for r in rows(con, "SELECT * FROM marts.speed_to_lead")}
        return results
    finally:
        con.close()


def test_dlt_tables_match_the_truth_and_a_second_sync_rebuilds_only_the_changed_contact(tmp_path, monkeypatch):
    snapshot, truth = generate_portal(250, 3)
    monkeypatch.setenv("HANDOFF_NOW", truth["now"])
    db = tmp_path / "handoff.duckdb"
    _sync(snapshot, db)
    first = _build(db, truth["now"])
    assert sorted(first["rows"]) == sorted(e["mql_id"] for e in truth["episodes"])
    for episode in truth["episodes"]:
        row = first["rows"][episode["mql_id"]]
        assert (row["sla_status"], row["attempts"], row["minutes_to_first_touch"]) == (
            episode["sla_status"], episode["attempts"], episode["minutes_to_first_touch"])

    overdue = next(e for e in truth["episodes"] if e["sla_status"] == "overdue")
    call_at = parse_instant(overdue["sla_due_at"]).strftime("%Y-%m-%dT%H:%M:%S.000Z")  # within the SLA: met
    snapshot["calls"].append({
        "id": "98000001", "createdAt": truth["now"], "updatedAt": truth["now"], "archived": False,
        "properties": {"hs_timestamp": call_at, "hs_call_direction": "OUTBOUND", "hs_call_status": "NO_ANSWER",
                       "hubspot_owner_id": overdue["owner_id"], "hs_lastmodifieddate": truth["now"]},
        "associations": {"contacts": [overdue["contact_id"]]},
    })
    _sync(snapshot, db)
    second = _build(db, truth["now"])
    assert (second["marts.speed_to_lead"].mode, second["marts.speed_to_lead"].scope_contacts) == ("incremental", 1)
    row = second["rows"][overdue["mql_id"]]
    assert (row["sla_status"], row["first_touch_at"], row["attempts"]) == ("met", parse_instant(call_at), 1)
    unchanged = {k: v for k, v in second["rows"].items() if k != overdue["mql_id"]}
    assert unchanged == {k: v for k, v in first["rows"].items() if k != overdue["mql_id"]}
