"""Staging views type the raw tables whatever dlt inferred: text or epoch timestamps, missing columns/tables."""

from __future__ import annotations

import pytest

from tests.fixtures.raw_tables import RawPortal, build_marts, rows, ts, connect


@pytest.fixture
def text_portal(tmp_path):
    con = connect(tmp_path / "raw.duckdb")
    yield RawPortal(con, types={"hs_timestamp": "VARCHAR", "changed_at": "VARCHAR", "archived": "VARCHAR",
                                "created_at": "TIMESTAMP", "user_id": "DOUBLE"})
    con.close()


def test_text_epoch_and_naive_timestamps_become_utc_instants(text_portal):
    text_portal.write("calls", id="1", hs_timestamp="2024-03-05T14:00:00.123Z", archived="false",
                      created_at="2024-03-05 14:00:00")
    text_portal.write("calls", id="2", hs_timestamp="1709647200123", archived="TRUE")
    text_portal.write("calls", id="3", hs_timestamp="2024-03-05T09:00:00.123-05:00", archived=None)
    build_marts(text_portal, "2024-03-10T00:00:00Z", select="staging/calls")
    got = rows(text_portal.con, "SELECT engagement_id, occurred_at, archived FROM staging.calls ORDER BY 1")
    instant = ts("2024-03-05T14:00:00.123Z")
    assert got == [{"engagement_id": "1", "occurred_at": instant, "archived": False},
                   {"engagement_id": "2", "occurred_at": instant, "archived": True},
                   {"engagement_id": "3", "occurred_at": instant, "archived": False}]
    [created] = rows(text_portal.con, "SELECT typeof(occurred_at) AS t FROM staging.calls LIMIT 1")
    assert created == {"t": "TIMESTAMP WITH TIME ZONE"}


def test_numeric_ids_become_text_without_decimals(text_portal):
    text_portal.write("owners", id="101", user_id=9101.0)
    build_marts(text_portal, "2024-03-10T00:00:00Z", select="staging/owners")
    assert rows(text_portal.con, "SELECT owner_id, user_id FROM staging.owners") == [{"owner_id": "101", "user_id": 9101}]


def test_columns_and_tables_dlt_never_created_read_as_null_and_empty(raw_portal):
    con = raw_portal.con
    con.execute("ALTER TABLE hubspot.contacts DROP COLUMN merged_into_id")
    con.execute("ALTER TABLE hubspot.communications DROP COLUMN hs_communication_logged_from")
    con.execute("DROP TABLE hubspot.deals")
    raw_portal.contact("1", lifecycle=[("2024-03-05T14:00:00Z", "marketingqualifiedlead")])
    raw_portal.communication("s1", "1", "2024-03-05T14:03:00Z", channel="SMS", logged_from=None)
    build_marts(raw_portal, "2024-03-10T00:00:00Z")
    assert rows(con, "SELECT count(*) AS n FROM staging.deals") == [{"n": 0}]
    assert rows(con, "SELECT merged_into_id, excluded FROM staging.contacts") == [
        {"merged_into_id": None, "excluded": False}]
    # a communication with no logged_from counts (CRM is the default)
    assert rows(con, "SELECT first_touch_type, attempts FROM marts.speed_to_lead") == [
        {"first_touch_type": "communication", "attempts": 1}]
