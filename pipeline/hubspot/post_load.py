"""After each dlt load, in the same DuckDB: create tables that have no rows yet, derive ``merged_into_id``.

dlt only creates a table once a row reaches it; the metrics SQL needs every raw table of the contract,
so empty ones are created from the same column hints dlt uses. ``merged_into_id`` is not a HubSpot
property: a surviving contact lists the contacts merged into it in ``hs_merged_object_ids``.
"""

from __future__ import annotations

from pipeline.hubspot.properties import OBJECT_TYPES
from pipeline.hubspot.rows import (
    ACCOUNT_COLUMNS,
    ASSOCIATION_COLUMNS,
    HISTORY_COLUMNS,
    OWNER_COLUMNS,
    OWNER_TEAM_COLUMNS,
    PROPERTY_OPTION_COLUMNS,
    object_columns,
)

SCHEMA = "hubspot"
_DUCKDB_TYPES = {"text": "VARCHAR", "timestamp": "TIMESTAMP WITH TIME ZONE", "bool": "BOOLEAN", "bigint": "BIGINT"}


def table_columns() -> dict[str, dict]:
    """Every raw table and its columns (the dlt hints)."""
    tables = {t: object_columns(t) for t in OBJECT_TYPES}
    tables.update({
        "owners": OWNER_COLUMNS,
        "owner_teams": OWNER_TEAM_COLUMNS,
        "contact_property_history": HISTORY_COLUMNS,
        "associations": ASSOCIATION_COLUMNS,
        "account": ACCOUNT_COLUMNS,
        "property_options": PROPERTY_OPTION_COLUMNS,
    })
    return tables


def existing_tables(con) -> set[str]:
    rows = con.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = ?", [SCHEMA]
    ).fetchall()
    return {r[0] for r in rows}


def create_missing_tables(con) -> list[str]:
    """CREATE the raw tables no load has reached yet (dlt adopts them on its first load); returns their names."""
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
    present = existing_tables(con)
    created = []
    for table, columns in table_columns().items():
        if table in present:
            continue
        defs = [f'"{name}" {_DUCKDB_TYPES[hint["data_type"]]}' for name, hint in columns.items()]
        defs += ['"_dlt_load_id" VARCHAR NOT NULL', '"_dlt_id" VARCHAR NOT NULL']
        con.execute(f'CREATE TABLE {SCHEMA}."{table}" ({", ".join(defs)})')
        created.append(table)
    return created


def drop_incomplete_loads(con) -> dict[str, int]:
    """Delete the raw rows of loads dlt never recorded as complete in ``_dlt_loads`` (a run that died while
    loading: its package went with the run's temporary working directory); returns rows deleted per table.

    dlt's contract is that a load's rows count once it is recorded there, and it restores the extraction
    cursors only from completed loads, so the next run extracts those records again. Run before each load,
    this keeps every reader (a full rebuild, the incremental marts' load-id ranges) on the same rows."""
    present = existing_tables(con)
    if "_dlt_loads" not in present:
        return {}
    complete = f"SELECT load_id FROM {SCHEMA}._dlt_loads WHERE status = 0"
    dropped = {}
    for table in table_columns():
        if table not in present:
            continue
        row = con.execute(f'DELETE FROM {SCHEMA}."{table}" WHERE "_dlt_load_id" NOT IN ({complete})').fetchone()
        if row and row[0]:
            dropped[table] = int(row[0])
    return dropped


def set_merged_into(con) -> int:
    """``merged_into_id`` = the live contact whose ``hs_merged_object_ids`` lists this one; returns rows changed.

    A changed row takes the newest complete load's ``_dlt_load_id`` (the load that revealed the merge): the
    incremental marts find changed contacts by load id, and the merged-away row itself was loaded earlier."""
    survivors = f"""
        SELECT DISTINCT trim(merged.id) AS merged_id, c.id AS survivor_id
        FROM {SCHEMA}.contacts c, unnest(string_split(c.hs_merged_object_ids, ';')) AS merged(id)
        WHERE coalesce(c.hs_merged_object_ids, '') <> '' AND NOT coalesce(c.archived, false)
          AND trim(merged.id) <> '' AND trim(merged.id) <> c.id
    """
    newest = "t._dlt_load_id"
    if "_dlt_loads" in existing_tables(con):
        newest = f"coalesce((SELECT max(load_id) FROM {SCHEMA}._dlt_loads WHERE status = 0), t._dlt_load_id)"
    changed = con.execute(f"""
        UPDATE {SCHEMA}.contacts AS t SET merged_into_id = s.survivor_id, _dlt_load_id = {newest}
        FROM ({survivors}) AS s
        WHERE t.id = s.merged_id AND t.merged_into_id IS DISTINCT FROM s.survivor_id
    """).fetchone()
    return int(changed[0]) if changed else 0


def table_counts(con) -> dict[str, int]:
    present = existing_tables(con)
    return {
        table: con.execute(f'SELECT count(*) FROM {SCHEMA}."{table}"').fetchone()[0]
        for table in table_columns()
        if table in present
    }
