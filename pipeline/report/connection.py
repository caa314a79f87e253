"""Read-only DuckDB access for the report and the daily CLI, with one-line errors and column introspection."""

from __future__ import annotations

import re
from pathlib import Path

import duckdb

from pipeline.errors import DatabaseLockedError, HandoffError


def open_readonly(path: Path) -> duckdb.DuckDBPyConnection:
    """Open ``path`` read-only in UTC; a missing or locked file is a one-line ``HandoffError``."""
    path = Path(path)
    if not path.is_file():
        raise HandoffError(f"no database at {path}: run `handoff run` first (or point HANDOFF_DB at your database)")
    try:
        con = duckdb.connect(str(path), read_only=True)
    except duckdb.Error as err:  # locked, corrupt, or written by a newer DuckDB
        text = str(err) or type(err).__name__
        if "lock" in text.lower():
            pid = re.search(r"PID (\d+)", text)
            holder = f"process {pid.group(1)}" if pid else "another process"
            raise DatabaseLockedError(
                f"{path} is locked by {holder}, which opened it read-write: close that session (analysts: "
                "`handoff sql` opens the read-only copy), or retry when it has finished"
            ) from None
        raise HandoffError(f"cannot open {path}: {text.splitlines()[0]}") from None
    con.execute("SET TimeZone = 'UTC'")
    return con


def table_exists(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    row = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = ? AND table_name = ?", [schema, table]
    ).fetchone()
    return bool(row and row[0])


def columns(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> set[str]:
    rows = con.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = ? AND table_name = ?", [schema, table]
    ).fetchall()
    return {r[0] for r in rows}


def require_table(con: duckdb.DuckDBPyConnection, schema: str, table: str, where: Path | str) -> None:
    if not table_exists(con, schema, table):
        raise HandoffError(f"{schema}.{table} is missing from {where}: run `handoff run` first to build the marts")


def column_or_null(present: set[str], name: str, alias: str | None = None, cast: str = "VARCHAR") -> str:
    """``name`` when the table has that column, else a typed NULL (dlt creates no column for all-null fields)."""
    alias = alias or name
    expr = f'"{name}"' if name in present else "NULL"
    return f"CAST({expr} AS {cast}) AS {alias}"
