"""The raw ``hubspot.*`` columns the models read (pinned in docs/contracts.md) and how each is typed.

dlt only creates a column once it has seen a value, and timestamps may land as TIMESTAMPTZ, naive
TIMESTAMP, text or epoch numbers; :func:`raw_relation` renders a subquery that always yields every
pinned column with its pinned type (missing columns and tables become typed NULLs / no rows).
"""

from __future__ import annotations

import duckdb

# the rows of the loads in ($old, $new] of a staging view (``load_id``): $first is the oldest of those loads
# recorded as complete in ``_dlt_loads`` (dlt's contract: a load's rows count once it is recorded there), or
# $old when the raw tables have none. Redundant for the result, it lets DuckDB skip the old row groups: zone
# maps keep an 8-byte prefix of each string, so `load_id > $old` cannot rule out a row group holding just $old,
# while `load_id >= $first` can whenever the two ids differ in their first 8 characters (loads >= 100 s apart).
NEW_LOADS = "load_id > $old AND load_id >= $first AND load_id <= $new"

TEXT, TS, BOOL, BIGINT, DOUBLE = "text", "ts", "bool", "bigint", "double"
SQL_TYPE = {TEXT: "VARCHAR", TS: "TIMESTAMPTZ", BOOL: "BOOLEAN", BIGINT: "BIGINT", DOUBLE: "DOUBLE"}

_OBJECT = [("id", TEXT), ("created_at", TS), ("updated_at", TS), ("archived", BOOL)]
_ENGAGEMENT = _OBJECT + [("hs_timestamp", TS), ("hubspot_owner_id", TEXT), ("hs_lastmodifieddate", TS)]

RAW_COLUMNS: dict[str, list[tuple[str, str]]] = {
    "owners": [("id", TEXT), ("email", TEXT), ("first_name", TEXT), ("last_name", TEXT),
               ("user_id", BIGINT), ("archived", BOOL), ("created_at", TS), ("updated_at", TS), ("type", TEXT)],
    "owner_teams": [("owner_id", TEXT), ("team_id", TEXT), ("team_name", TEXT), ("is_primary", BOOL)],
    "contacts": _OBJECT + [
        ("email", TEXT), ("firstname", TEXT), ("lastname", TEXT), ("jobtitle", TEXT), ("company", TEXT),
        ("country", TEXT), ("state", TEXT), ("city", TEXT), ("lifecyclestage", TEXT), ("hubspot_owner_id", TEXT),
        ("hs_lead_status", TEXT), ("recent_conversion_event_name", TEXT), ("recent_conversion_date", TS),
        ("first_conversion_event_name", TEXT), ("hubspotscore", DOUBLE), ("hs_analytics_source", TEXT),
        ("createdate", TS), ("lastmodifieddate", TS), ("hs_merged_object_ids", TEXT), ("merged_into_id", TEXT),
    ],
    "contact_property_history": [("contact_id", TEXT), ("property", TEXT), ("value", TEXT),
                                 ("changed_at", TS), ("source_type", TEXT),
                                 ("position", BIGINT)],
    "companies": _OBJECT + [
        ("name", TEXT), ("domain", TEXT), ("industry", TEXT), ("country", TEXT), ("state", TEXT), ("city", TEXT),
        ("numberofemployees", DOUBLE), ("annualrevenue", DOUBLE), ("hubspot_owner_id", TEXT),
        ("hs_lastmodifieddate", TS),
    ],
    "deals": _OBJECT + [
        ("dealname", TEXT), ("dealstage", TEXT), ("pipeline", TEXT), ("amount", DOUBLE), ("createdate", TS),
        ("closedate", TS), ("hubspot_owner_id", TEXT), ("dealtype", TEXT), ("hs_lastmodifieddate", TS),
    ],
    "calls": _ENGAGEMENT + [("hs_call_direction", TEXT), ("hs_call_status", TEXT), ("hs_call_disposition", TEXT),
                            ("hs_call_title", TEXT), ("hs_call_duration", DOUBLE)],
    "emails": _ENGAGEMENT + [("hs_email_direction", TEXT), ("hs_email_status", TEXT), ("hs_email_subject", TEXT)],
    "meetings": _ENGAGEMENT + [("hs_meeting_outcome", TEXT), ("hs_meeting_title", TEXT),
                               ("hs_meeting_start_time", TS), ("hs_createdate", TS)],
    "notes": _ENGAGEMENT + [("hs_note_body", TEXT)],
    "tasks": _ENGAGEMENT + [("hs_task_subject", TEXT), ("hs_task_status", TEXT), ("hs_task_type", TEXT)],
    "communications": _ENGAGEMENT + [("hs_communication_channel_type", TEXT),
                                     ("hs_communication_logged_from", TEXT), ("hs_communication_body", TEXT)],
    "associations": [("from_type", TEXT), ("from_id", TEXT), ("to_type", TEXT), ("to_id", TEXT),
                     ("association_types", TEXT), ("is_primary", BOOL)],
    "account": [("portal_id", BIGINT), ("time_zone", TEXT), ("ui_domain", TEXT)],
}
LOAD_ID = "_dlt_load_id"
RAW_SCHEMA = "hubspot"


def existing_columns(con: duckdb.DuckDBPyConnection, table: str) -> dict[str, str] | None:
    """Column name -> DuckDB type of ``hubspot.<table>``; None when the table does not exist."""
    rows = con.execute(
        "SELECT column_name, data_type FROM duckdb_columns() "
        "WHERE database_name = current_database() AND schema_name = ? AND table_name = ? ORDER BY column_index",
        [RAW_SCHEMA, table],
    ).fetchall()
    return {name: dtype.upper() for name, dtype in rows} if rows else None


def raw_catalog(con: duckdb.DuckDBPyConnection) -> dict[str, dict[str, str]]:
    """Every ``hubspot.*`` table's columns (as :func:`existing_columns`), in one catalog query."""
    catalog: dict[str, dict[str, str]] = {}
    for table, name, dtype in con.execute(
        "SELECT table_name, column_name, data_type FROM duckdb_columns() "
        "WHERE database_name = current_database() AND schema_name = ? ORDER BY table_name, column_index",
        [RAW_SCHEMA],
    ).fetchall():
        catalog.setdefault(table, {})[name] = dtype.upper()
    return catalog


def _typed(column: str, kind: str, raw_type: str | None) -> str:
    col = f'"{column}"'
    if raw_type is None:
        return f"CAST(NULL AS {SQL_TYPE[kind]})"
    numeric = raw_type.startswith(("DOUBLE", "FLOAT", "REAL", "DECIMAL"))
    integer = raw_type in ("BIGINT", "INTEGER", "HUGEINT", "SMALLINT", "TINYINT", "UBIGINT", "UINTEGER")
    if kind == TEXT:
        if numeric:
            return f"CAST(CAST({col} AS HUGEINT) AS VARCHAR)"
        return col if raw_type == "VARCHAR" else f"CAST({col} AS VARCHAR)"
    if kind == TS:
        if raw_type == "TIMESTAMP WITH TIME ZONE":
            return col
        if raw_type.startswith("TIMESTAMP") or raw_type == "DATE":
            return f"timezone('UTC', CAST({col} AS TIMESTAMP))"  # naive values are UTC
        if integer or numeric:
            return f"timezone('UTC', make_timestamp(CAST({col} AS BIGINT) * 1000))"  # epoch milliseconds
        return (f"CASE WHEN regexp_full_match({col}, '-?[0-9]{{11,}}') "
                f"THEN timezone('UTC', make_timestamp(CAST({col} AS BIGINT) * 1000)) "
                f"ELSE try_cast({col} AS TIMESTAMPTZ) END")
    if kind == BOOL:
        if raw_type == "BOOLEAN":
            return col
        if raw_type == "VARCHAR":
            return f"lower({col}) IN ('true', 't', '1', 'yes')"
        return f"try_cast({col} AS BOOLEAN)"
    return f"try_cast({col} AS {SQL_TYPE[kind]})"


def raw_relation(con: duckdb.DuckDBPyConnection, table: str, present: dict[str, str] | None = None) -> str:
    """A parenthesised subquery over ``hubspot.<table>`` with every pinned column, typed, plus ``_dlt_load_id``
    (``present``: the table's columns when the caller already read them)."""
    spec = RAW_COLUMNS[table]
    present = present if present is not None else existing_columns(con, table)
    if present is None:
        cols = ", ".join(f"CAST(NULL AS {SQL_TYPE[k]}) AS \"{c}\"" for c, k in spec)
        return f"(SELECT {cols}, CAST(NULL AS VARCHAR) AS {LOAD_ID} WHERE false)"
    cols = ", ".join(f"{_typed(c, k, present.get(c))} AS \"{c}\"" for c, k in spec)
    load = LOAD_ID if LOAD_ID in present else f"CAST(NULL AS VARCHAR) AS {LOAD_ID}"
    return f"(SELECT {cols}, {load} FROM {RAW_SCHEMA}.\"{table}\")"
