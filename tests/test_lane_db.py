"""The live lane's own DuckDB file: merged into the analysts' published copy with one row per key (lane wins,
main-DB rows from before the lane kept), and the sandbox's stage-entered dates the lane's search relies on."""

from __future__ import annotations

import duckdb

from pipeline.publish import publish
from hubspot_sandbox.portal import Portal
from hubspot_sandbox.search import execute_search
from pipeline.sla.lane_db import lane_db_path, open_lane
from pipeline.sla.ops_tables import OPS_DDL

LOG = ("INSERT INTO {t} (mql_id, step, contact_id, status, write_mode, started_at) VALUES "
       "(?, ?, ?, ?, 'live', TIMESTAMPTZ '2026-11-02 15:00:00+00')")


def test_publish_merges_the_lane_ops_tables_one_row_per_key(tmp_path):
    main = tmp_path / "handoff.duckdb"
    con = duckdb.connect(str(main))
    con.execute("CREATE SCHEMA marts; CREATE TABLE marts.x (a INT)")
    con.execute(OPS_DDL.format(ops="ops"))  # rows written before the lane existed
    for row in (("1:1", "manager_escalation", "1", "done"), ("2:2", "manager_escalation", "2", "started")):
        con.execute(LOG.format(t="ops.enforcement_log"), list(row))
    with open_lane(main, None) as lane:
        for row in (("2:2", "manager_escalation", "2", "cancelled"), ("3:3", "handoff", "3", "done")):
            lane.execute(LOG.format(t="lane.ops.enforcement_log"), list(row))
    assert lane_db_path(main) == tmp_path / "handoff_lane.duckdb"
    target = tmp_path / "handoff.published.duckdb"
    publish(con, target)
    con.close()
    copy = duckdb.connect(str(target), read_only=True)
    try:
        assert copy.execute("SELECT mql_id, step, status FROM ops.enforcement_log ORDER BY 1").fetchall() == [
            ("1:1", "manager_escalation", "done"), ("2:2", "manager_escalation", "cancelled"),
            ("3:3", "handoff", "done")]
        tables = {r[0] for r in copy.execute(
            "SELECT table_name FROM duckdb_tables() WHERE schema_name = 'ops'").fetchall()}
        assert tables == {"alerts", "enforcement_log", "routing_decisions", "lane_episodes"}
    finally:
        copy.close()


def test_a_lane_connection_reads_the_published_copy_and_writes_only_its_own_file(tmp_path):
    main = tmp_path / "handoff.duckdb"
    published = tmp_path / "handoff.published.duckdb"
    pub = duckdb.connect(str(published))
    pub.execute("CREATE SCHEMA marts; CREATE TABLE marts.speed_to_lead (mql_id VARCHAR); "
                "INSERT INTO marts.speed_to_lead VALUES ('9:9')")
    pub.close()
    writer = duckdb.connect(str(main))  # the sync holds the main DB's writer the whole time
    try:
        with open_lane(main, published, wait_s=1) as lane:
            assert lane.execute("SELECT mql_id FROM marts.speed_to_lead").fetchall() == [("9:9",)]
            lane.execute(LOG.format(t="lane.ops.enforcement_log"), ["9:9", "handoff", "9", "done"])
    finally:
        writer.close()
    check = duckdb.connect(str(lane_db_path(main)), read_only=True)
    assert check.execute("SELECT mql_id FROM ops.enforcement_log").fetchall() == [("9:9",)]
    check.close()


def test_the_sandbox_keeps_stage_entered_dates_on_every_lifecycle_change():
    portal = Portal.from_snapshot({"portal": {"id": 1}, "contacts": [
        {"id": "1", "createdAt": "2026-01-01T00:00:00.000Z", "updatedAt": "2026-01-02T00:00:00.000Z",
         "properties": {"lifecyclestage": "marketingqualifiedlead"},
         "propertiesWithHistory": {"lifecyclestage": [
             {"value": "marketingqualifiedlead", "timestamp": "2026-01-02T00:00:00.000Z", "sourceType": "FORM"},
             {"value": "lead", "timestamp": "2026-01-01T00:00:00.000Z", "sourceType": "IMPORT"}]}}]})
    props = portal.stores["contacts"].by_id["1"]["properties"]
    assert {k: v for k, v in props.items() if k.startswith("hs_v2_")} == {
        "hs_v2_date_entered_lead": "2026-01-01T00:00:00.000Z", "hs_v2_date_exited_lead": "2026-01-02T00:00:00.000Z",
        "hs_v2_date_entered_marketingqualifiedlead": "2026-01-02T00:00:00.000Z"}
    portal.update("contacts", "1", {"lifecyclestage": "salesqualifiedlead"}, at="2026-02-01T00:00:00.000Z")
    portal.update("contacts", "1", {"lifecyclestage": "marketingqualifiedlead"}, at="2026-03-01T00:00:00.000Z")
    assert props["hs_v2_date_entered_marketingqualifiedlead"] == "2026-03-01T00:00:00.000Z"  # the latest entry
    assert props["hs_v2_date_exited_salesqualifiedlead"] == "2026-03-01T00:00:00.000Z"
    new = portal.create("contacts", {"lifecyclestage": "marketingqualifiedlead"}, created_at="2026-04-01T00:00:00Z")
    body = {"filterGroups": [{"filters": [{"propertyName": "hs_v2_date_entered_marketingqualifiedlead",
                                           "operator": "GTE", "value": "1772323200000"}]}],  # 2026-03-01
            "sorts": [{"propertyName": "hs_v2_date_entered_marketingqualifiedlead", "direction": "ASCENDING"}],
            "properties": ["hs_v2_date_entered_marketingqualifiedlead"]}
    assert [r["id"] for r in execute_search(portal, "contacts", body)["results"]] == ["1", new]
    # a stage no contact has entered is still a property HubSpot knows (filtering on it is no 400)
    body["filterGroups"][0]["filters"][0]["propertyName"] = "hs_v2_date_entered_evangelist"
    body["sorts"] = []
    assert execute_search(portal, "contacts", body)["total"] == 0


def test_generated_web_and_email_properties_are_consistent_and_sometimes_absent():
    from hubspot_sandbox.gen_web_activity import web_properties

    created, last = 1_790_000_000_000, 1_790_000_000_000 + 20 * 86_400_000
    empty = 0
    for i in range(600):
        props = web_properties(str(i), created, last, "acme.example")
        assert props == web_properties(str(i), created, last, "acme.example")  # deterministic per contact
        if not props:
            empty += 1
            continue
        assert int(props["hs_analytics_num_page_views"]) >= int(props["hs_analytics_num_visits"]) >= 1
        assert props["hs_analytics_first_url"].startswith("https://acme.example/")
        assert props["hs_analytics_first_visit_timestamp"] <= props["hs_analytics_last_visit_timestamp"]
        assert props["hs_analytics_last_visit_timestamp"] <= "2026-10-11T14:13:20.000Z"  # never after its last change
        if "hs_email_last_click_date" in props:
            assert props["hs_email_last_open_date"] <= props["hs_email_last_click_date"]
            assert props["hs_email_last_email_name"]
    assert 60 <= empty <= 140  # about one contact in six has no tracking
