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


# raw types dlt may give a column of each pinned kind, and three values of each (the last one NULL)
RAW_VALUES = {
    "VARCHAR": {"ts": ["2024-03-05T14:00:00.123Z", "1709647200123", None], "bool": ["true", "FALSE", None],
                "text": ["a", "b", None], "bigint": ["12", "x", None], "double": ["1.5", "y", None]},
    "BIGINT": {"ts": [1709647200123, 0, None], "bool": [1, 0, None], "text": [12, 7, None], "bigint": [12, 7, None],
               "double": [12, 7, None]},
    "DOUBLE": {"ts": [1709647200123.0, 0.0, None], "text": [12.0, 7.0, None], "bigint": [12.0, 7.5, None],
               "double": [1.5, 2.0, None], "bool": [1.0, 0.0, None]},
    "TIMESTAMP": {"ts": ["2024-03-05 14:00:00.123", "2024-03-05 09:00:00", None]},
    "TIMESTAMP WITH TIME ZONE": {"ts": ["2024-03-05 14:00:00.123+00", "2024-03-05 09:00:00-05", None]},
    "BOOLEAN": {"bool": [True, False, None]},
}


def _raw_type_rounds(kind: str) -> list[str]:
    return [t for t, by_kind in RAW_VALUES.items() if kind in by_kind]


@pytest.mark.parametrize("round_", range(5))
def test_the_python_readers_type_raw_columns_as_the_staging_macro_does(tmp_path, monkeypatch, round_):
    """The missing-column and raw-type rule is spelled twice, in SQL (macro typed_source, for the models) and in
    Python (raw_relation, for the lane's live reads): on a contacts table whose columns have every raw type dlt
    may give them (and some not created at all), both read the same rows, the same types."""
    import duckdb
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager
    from dbt.cli.main import dbtRunner

    from pipeline.modeling.project import dbt_args
    from pipeline.modeling.raw_columns import RAW_COLUMNS, raw_relation

    db = tmp_path / "raw.duckdb"
    columns = [(name, kind, _raw_type_rounds(kind)[(round_ + i) % len(_raw_type_rounds(kind))])
               for i, (name, kind) in enumerate(RAW_COLUMNS["contacts"]) if (i + round_) % 6]  # every 6th: missing
    with duckdb.connect(str(db)) as con:
        con.execute("CREATE SCHEMA hubspot")
        con.execute("CREATE TABLE hubspot.contacts (" + ", ".join(f'"{n}" {t}' for n, _, t in columns)
                    + ", _dlt_load_id VARCHAR)")
        for row in range(3):
            con.execute("INSERT INTO hubspot.contacts VALUES (" + ", ".join("?" for _ in columns) + ", '1')",
                        [RAW_VALUES[t][k][row] for _, k, t in columns])
    monkeypatch.setenv("HANDOFF_DB", str(db))
    compiled = dbtRunner().invoke([*dbt_args("compile", tmp_path / "dbt"),
                                   "--inline", "SELECT * FROM {{ typed_source('contacts') }}"])
    DuckDBConnectionManager.close_all_connections()
    assert compiled.success, compiled.exception
    macro_sql = compiled.result.results[0].node.compiled_code
    with duckdb.connect(str(db)) as con:
        con.execute("SET TimeZone = 'UTC'")
        python_sql = f"SELECT * FROM {raw_relation(con, 'contacts')}"
        assert con.execute(f"DESCRIBE {macro_sql}").fetchall() == con.execute(f"DESCRIBE {python_sql}").fetchall()
        for a, b in ((macro_sql, python_sql), (python_sql, macro_sql)):
            assert con.execute(f"SELECT count(*) FROM ({a} EXCEPT ALL {b})").fetchone()[0] == 0
        assert con.execute(f"SELECT count(*) FROM ({macro_sql})").fetchone()[0] == 3
