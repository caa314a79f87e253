"""The raw ``hubspot.*`` columns the models read (pinned in docs/contracts.md) and how each is typed.

dlt only creates a column once it has seen a value, and timestamps may land as TIMESTAMPTZ, naive
TIMESTAMP, text or epoch numbers; :func:`raw_relation` renders a subquery that always yields every
pinned column with its pinned type (missing columns and tables become typed NULLs / no rows).
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import yaml


TEXT, TS, BOOL, BIGINT, DOUBLE = "text", "ts", "bool", "bigint", "double"
SQL_TYPE = {TEXT: "VARCHAR", TS: "TIMESTAMPTZ", BOOL: "BOOLEAN", BIGINT: "BIGINT", DOUBLE: "DOUBLE"}

def project_dir() -> Path:
    """The dbt project: ``sql/`` in a checkout; ``pipeline/_sql`` in an installed wheel."""
    checkout = Path(__file__).resolve().parents[2] / "sql"
    return checkout if checkout.is_dir() else Path(__file__).resolve().parents[1] / "_sql"


def project_files(root: Path | None = None) -> list[Path]:
    """The dbt project's own files (models, macros, yml), sorted; not dbt's artifacts (``target/``, ``logs/``)."""
    root = root or project_dir()
    return sorted(p for p in root.rglob("*") if p.suffix in (".sql", ".yml")
                  and not {"target", "logs"} & set(p.relative_to(root).parts))


def _pinned_columns() -> dict[str, list[tuple[str, str]]]:
    """The raw columns and types stated once, in the dbt project's ``models/sources.yml`` (``meta.columns``)."""
    sources = yaml.safe_load((project_dir() / "models" / "sources.yml").read_text(encoding="utf-8"))["sources"]
    tables = next(s for s in sources if s["name"] == "hubspot")["tables"]
    return {t["name"]: [(name, kind) for name, kind in (c.split() for c in t["config"]["meta"]["columns"].split(","))]
            for t in tables if not t["name"].startswith("_dlt")}


RAW_COLUMNS: dict[str, list[tuple[str, str]]] = _pinned_columns()
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
