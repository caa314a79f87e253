"""staging.contact_links (the engagement/deal -> contact links the marts read) and the incremental marts'
scope across dlt's loads: links removed, moved, re-read, archived. Each sync case states the expected mart rows literally, checks that the build was
incremental, and that a full rebuild of the same raw data gives the same rows."""

from __future__ import annotations

import pytest

from tests.fixtures.raw_tables import ModelBuildFailed, RawPortal, build_marts, connect, rows, ts

# each build materializes the models as the schedules do (dbt: every model and its tests, then the GX checks):
# several builds per test take longer than the suite's default timeout on a loaded machine
pytestmark = pytest.mark.timeout(1800)


NOW = "2024-03-20T00:00:00Z"
MQL = "2024-03-05T14:00:00Z"


@pytest.fixture
def raw(tmp_path):
    con = connect(tmp_path / "handoff.duckdb")
    portal = RawPortal(con)
    portal.owner("101", team="EMEA")
    for contact in ("1", "2"):
        portal.contact(contact, lifecycle=[("2024-03-01T00:00:00Z", "lead"), (MQL, "marketingqualifiedlead")],
                       owners=[("2024-03-01T00:00:00Z", "101")])
    for other in range(3, 30):  # bystanders, so two changed contacts stay under the full-rebuild share
        portal.contact(str(other), lifecycle=[("2024-03-01T00:00:00Z", "lead")])
    yield portal
    con.close()


def outcome(con) -> list[dict]:
    return rows(con, "SELECT contact_id, attempts, sla_status, opportunity_at FROM marts.speed_to_lead "
                     "ORDER BY contact_id")


def build_incrementally_then_fully(raw: RawPortal) -> list[dict]:
    results = {r.model: r for r in build_marts(raw, NOW)}
    assert results["marts.mql_episodes"].mode == "incremental"
    assert results["marts.speed_to_lead"].mode == "incremental"
    incremental = outcome(raw.con)
    build_marts(raw, NOW, full_refresh=True)
    assert outcome(raw.con) == incremental
    return incremental


def met(contact, attempts=1, opportunity=None):
    return {"contact_id": contact, "attempts": attempts, "sla_status": "met", "opportunity_at": opportunity}


def overdue(contact, opportunity=None):
    return {"contact_id": contact, "attempts": 0, "sla_status": "overdue", "opportunity_at": opportunity}


def clear_links(raw: RawPortal, from_type: str, from_id: str) -> None:
    """What a sync writes for an object with no contact left: its rows replaced by one marker row."""
    raw.con.execute("DELETE FROM hubspot.associations WHERE from_type = ? AND from_id = ? AND to_type = 'contacts'",
                    [from_type, from_id])
    raw.link(from_type, from_id, "contacts", "")


def test_a_call_whose_links_were_all_cleared_stops_counting(raw):
    raw.call("500", "1", "2024-03-05T14:30:00Z", owner="101")
    build_marts(raw, NOW)
    assert outcome(raw.con) == [met("1"), overdue("2")]
    raw.next_load()
    # the sync re-reads the call: no association left
    clear_links(raw, "calls", "500")
    raw.con.execute("DELETE FROM hubspot.calls WHERE id = '500'")
    raw.call("500", None, "2024-03-05T14:30:00Z", owner="101")
    assert build_incrementally_then_fully(raw) == [overdue("1"), overdue("2")]


@pytest.mark.parametrize("family", ["calls", "emails", "meetings", "communications", "deals"])
def test_links_cleared_by_association_rows_alone_are_taken_off(raw, family):
    """Only the associations were re-read (a merge follow-up, a run that loaded associations alone): the marker
    row is the only trace of the cleared link."""
    if family == "deals":
        raw.deal("500", "1", "2024-03-06T09:00:00Z")
    else:
        getattr(raw, {"calls": "call", "emails": "email", "meetings": "meeting",
                      "communications": "communication"}[family])("500", "1", "2024-03-05T14:30:00Z", owner="101")
    build_marts(raw, NOW)
    raw.next_load()
    clear_links(raw, family, "500")
    raw.contact("99", lifecycle=[("2024-03-01T00:00:00Z", "lead")])  # something else in the load
    assert build_incrementally_then_fully(raw) == [overdue("1"), overdue("2")]


def test_a_deal_moved_to_another_contact_moves_the_opportunity(raw):
    raw.deal("900", "1", "2024-03-06T09:00:00Z")
    build_marts(raw, NOW)
    assert outcome(raw.con) == [overdue("1", ts("2024-03-06T09:00:00Z")), overdue("2")]
    raw.next_load()
    raw.con.execute("DELETE FROM hubspot.associations WHERE from_id = '900'")
    raw.link("deals", "900", "contacts", "2")  # only the association rows are new (a merge follow-up re-read)
    assert build_incrementally_then_fully(raw) == [overdue("1"), overdue("2", ts("2024-03-06T09:00:00Z"))]


def test_a_call_reloaded_without_its_associations_keeps_its_link(raw):
    raw.call("500", "1", "2024-03-05T14:30:00Z", owner="101")
    build_marts(raw, NOW)
    raw.next_load()
    # only the calls table was re-synced (its associations not selected in that run): the link stays
    raw.con.execute("DELETE FROM hubspot.calls WHERE id = '500'")
    raw.call("500", None, "2024-03-05T14:20:00Z", owner="101")
    assert build_incrementally_then_fully(raw) == [met("1"), overdue("2")]
    assert rows(raw.con, "SELECT first_touch_at FROM marts.speed_to_lead WHERE contact_id = '1'") == [
        {"first_touch_at": ts("2024-03-05T14:20:00Z")}]


def test_a_second_contact_linked_to_a_call_gets_the_touch_too(raw):
    raw.call("500", "1", "2024-03-05T14:30:00Z", owner="101")
    build_marts(raw, NOW)
    raw.next_load()
    raw.link("calls", "500", "contacts", "2")  # the sync adds a second association
    assert build_incrementally_then_fully(raw) == [met("1"), met("2")]


def test_a_contact_that_becomes_an_mql_later_gets_the_links_loaded_before(raw):
    """Only a contact that entered an MQL stage has links in staging.contact_links; a lead's call and deal,
    loaded while it was one, count once a later sync brings its MQL entry."""
    raw.call("700", "3", "2024-03-12T10:30:00Z", owner="101")
    raw.deal("701", "3", "2024-03-13T09:00:00Z")
    build_marts(raw, NOW)
    assert rows(raw.con, "SELECT count(*) AS links FROM staging.contact_links WHERE contact_id = '3'") == [
        {"links": 0}]
    raw.next_load()
    raw.contact("3", lifecycle=[("2024-03-01T00:00:00Z", "lead"), ("2024-03-12T10:00:00Z", "marketingqualifiedlead")])
    assert build_incrementally_then_fully(raw) == [overdue("1"), overdue("2"), met("3", opportunity=ts("2024-03-13T09:00:00Z"))]
    assert rows(raw.con, "SELECT family, object_id FROM staging.contact_links WHERE contact_id = '3' ORDER BY family"
                ) == [{"family": 1, "object_id": "700"}, {"family": 5, "object_id": "701"}]


def test_ids_that_are_not_canonical_integers_keep_apart(tmp_path):
    """'7' and '007' are different HubSpot-style ids; text ids (test fixtures) work like numeric ones."""
    con = connect(tmp_path / "handoff.duckdb")
    raw = RawPortal(con)
    raw.owner("101", team="EMEA")
    for contact in ("7", "007", "lead-a"):
        raw.contact(contact, lifecycle=[("2024-03-01T00:00:00Z", "lead"), (MQL, "marketingqualifiedlead")],
                    owners=[("2024-03-01T00:00:00Z", "101")])
    raw.call("7", "007", "2024-03-05T14:10:00Z", owner="101")
    raw.email("007", "7", "2024-03-05T14:20:00Z", owner="101")
    raw.meeting("call-x", "lead-a", "2024-03-05T16:00:00Z", owner="101")
    build_marts(raw, NOW)
    assert rows(con, "SELECT contact_id, first_touch_type, first_touch_at FROM marts.speed_to_lead "
                     "ORDER BY contact_id") == [
        {"contact_id": "007", "first_touch_type": "call", "first_touch_at": ts("2024-03-05T14:10:00Z")},
        {"contact_id": "7", "first_touch_type": "email", "first_touch_at": ts("2024-03-05T14:20:00Z")},
        {"contact_id": "lead-a", "first_touch_type": "meeting", "first_touch_at": ts("2024-03-05T16:00:00Z")}]
    links = rows(con, "SELECT family, object_id, contact_id FROM staging.contact_links ORDER BY ALL")
    assert [(r["family"], r["object_id"], r["contact_id"]) for r in links] == [
        (1, "7", "007"), (2, "007", "7"), (3, "call-x", "lead-a")]
    con.close()


def test_a_missing_link_table_is_rebuilt_and_the_marts_rebuild_fully(raw):
    raw.call("500", "1", "2024-03-05T14:30:00Z", owner="101")
    build_marts(raw, NOW)
    raw.con.execute("DROP TABLE staging.contact_links")
    results = {r.model: r for r in build_marts(raw, NOW)}
    assert results["marts.mql_episodes"].mode == "full"
    assert results["marts.mql_episodes"].reason == "first build"  # no previous links: the scope cannot be known
    assert results["marts.speed_to_lead"].mode == "full"
    assert outcome(raw.con) == [met("1"), overdue("2")]


def test_a_call_that_stops_counting_is_taken_off(raw):
    raw.call("500", "1", "2024-03-05T14:30:00Z", owner="101")
    raw.call("501", "2", "2024-03-05T14:40:00Z", owner="101")
    build_marts(raw, NOW)
    raw.next_load()
    # the rep fixes the logging: call 500 was inbound; call 501 is archived (both rows re-read, links unchanged)
    raw.con.execute("DELETE FROM hubspot.calls WHERE id IN ('500', '501')")
    raw.call("500", None, "2024-03-05T14:30:00Z", owner="101", direction="INBOUND")
    raw.call("501", None, "2024-03-05T14:40:00Z", owner="101", archived=True)
    assert build_incrementally_then_fully(raw) == [overdue("1"), overdue("2")]


def test_a_call_and_a_deal_that_start_counting_are_taken_on(raw):
    """Objects re-read without their links that count now and did not before: the link table kept their links
    (occurred_at NULL), so the scope finds their contacts."""
    raw.call("500", "1", "2024-03-05T14:30:00Z", owner="101", direction="INBOUND")
    raw.call("501", "2", "2024-03-05T14:40:00Z", owner="101", archived=True)
    raw.deal("900", "2", "2024-03-06T09:00:00Z", archived=True)
    build_marts(raw, NOW)
    assert outcome(raw.con) == [overdue("1"), overdue("2")]
    assert rows(raw.con, "SELECT family, object_id, contact_id, occurred_at FROM staging.contact_links ORDER BY ALL"
                ) == [{"family": 1, "object_id": "500", "contact_id": "1", "occurred_at": None},
                      {"family": 1, "object_id": "501", "contact_id": "2", "occurred_at": None},
                      {"family": 5, "object_id": "900", "contact_id": "2", "occurred_at": None}]
    raw.next_load()
    # the rep fixes the logging: call 500 was outbound; call 501 and deal 900 are restored (rows re-read, links not)
    raw.con.execute("DELETE FROM hubspot.calls WHERE id IN ('500', '501')")
    raw.con.execute("DELETE FROM hubspot.deals WHERE id = '900'")
    raw.call("500", None, "2024-03-05T14:30:00Z", owner="101")
    raw.call("501", None, "2024-03-05T14:40:00Z", owner="101")
    raw.write("deals", id="900", created_at="2024-03-06T09:00:00Z", updated_at="2024-03-06T09:00:00Z",
              createdate="2024-03-06T09:00:00Z", archived=False, dealname="deal 900")
    assert build_incrementally_then_fully(raw) == [met("1"), met("2", opportunity=ts("2024-03-06T09:00:00Z"))]


def test_an_archived_deal_no_longer_opens_the_opportunity(raw):
    raw.deal("900", "1", "2024-03-06T09:00:00Z")
    build_marts(raw, NOW)
    raw.next_load()
    raw.con.execute("DELETE FROM hubspot.deals WHERE id = '900'")
    raw.con.execute("DELETE FROM hubspot.associations WHERE from_id = '900'")
    raw.deal("900", "1", "2024-03-06T09:00:00Z", archived=True)
    assert build_incrementally_then_fully(raw) == [overdue("1"), overdue("2")]


def test_speed_to_lead_built_alone_after_a_sync_catches_up_with_its_upstream(raw):
    """speed_to_lead materialized on its own after a sync must not claim loads mql_episodes has not read."""
    raw.call("500", "1", "2024-03-05T14:30:00Z", owner="101")
    build_marts(raw, NOW)
    raw.next_load()
    raw.history("2", "lifecyclestage", "2024-03-10T10:00:00Z", "lead")  # contact 2 recycled...
    raw.history("2", "lifecyclestage", "2024-03-10T10:00:00.001Z", "")
    raw.history("2", "lifecyclestage", "2024-03-12T09:00:00Z", "marketingqualifiedlead")  # ...and MQL again
    raw.call("501", "2", "2024-03-12T09:10:00Z", owner="101")
    # alone, while mql_episodes has not read the new load: the blocking reconcile check (episodes against the raw
    # history) stops it instead of publishing a mart one episode short
    with pytest.raises(ModelBuildFailed, match="speed_to_lead_episodes_reconcile_with_history"):
        build_marts(raw, NOW, select="marts/speed_to_lead")
    build_marts(raw, NOW, select="marts/mql_episodes")
    build_marts(raw, NOW, select="marts/speed_to_lead")  # (the link table, not selected, has not read the call)
    build_marts(raw, NOW)  # the next scheduled build catches every model up
    incremental = rows(raw.con, "SELECT mql_id, attempts, sla_status FROM marts.speed_to_lead ORDER BY mql_id")
    build_marts(raw, NOW, full_refresh=True)
    assert rows(raw.con, "SELECT mql_id, attempts, sla_status FROM marts.speed_to_lead ORDER BY mql_id") == incremental
    assert [r["sla_status"] for r in incremental] == ["met", "overdue", "met"]


def test_the_same_instant_tie_break_is_numeric_for_non_canonical_numeric_ids(raw):
    """docs/contracts.md: ties break by type, then by id numerically when numeric: '007' (7) before '10'."""
    raw.owner("102", team="EMEA")
    raw.call("10", "1", "2024-03-05T14:30:00Z", owner="101")
    raw.call("007", "1", "2024-03-05T14:30:00Z", owner="102")
    raw.call("c-9", "1", "2024-03-05T14:30:00Z", owner="101")  # text ids sort after numeric ones
    build_marts(raw, NOW)
    assert rows(raw.con, "SELECT first_touch_owner_id, attempts FROM marts.speed_to_lead WHERE contact_id = '1'") == [
        {"first_touch_owner_id": "102", "attempts": 3}]


def test_a_deal_re_read_with_a_new_create_date_moves_the_opportunity(raw):
    """Only the deal's own row is new (its association rows are untouched): the contact it counts for is
    rebuilt, since deals make its episodes' opportunity_at."""
    raw.deal("900", "1", "2024-03-06T09:00:00Z")
    build_marts(raw, NOW)
    assert outcome(raw.con)[0] == overdue("1", opportunity=ts("2024-03-06T09:00:00Z"))
    raw.next_load()
    raw.write("deals", id="900", created_at="2024-03-07T09:00:00Z", updated_at=NOW, createdate="2024-03-07T09:00:00Z",
              archived=False, dealname="deal 900")
    results = {r.model: r for r in build_marts(raw, NOW)}
    assert (results["marts.mql_episodes"].mode, results["marts.mql_episodes"].scope_contacts) == ("incremental", 1)
    expected = [overdue("1", opportunity=ts("2024-03-07T09:00:00Z")), overdue("2")]
    assert outcome(raw.con) == expected
    build_marts(raw, NOW, full_refresh=True)
    assert outcome(raw.con) == expected

