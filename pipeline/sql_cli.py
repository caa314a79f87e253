"""``handoff sql [QUERY]``: SQL on the analysts' published copy, read-only, never blocking the pipeline.

The copy (``settings.published_db_path``) is opened with ``read_only=True``. The pipeline never opens that
file for writing: it writes a new copy beside it and renames it over the old one, so an open session keeps
reading the snapshot it opened (the old file stays alive until the session closes) while the next build
publishes; reconnect to see the new build.

- ``handoff sql "SELECT ..."`` runs one query (or several separated by ``;``: the last one's rows are shown)
  and prints a table; ``--csv`` / ``--json`` print machine-readable rows instead. ``-`` (or piped input
  without a query) reads the SQL from standard input.
- ``handoff sql`` in a terminal opens Harlequin (a terminal SQL IDE: data catalog, query history, results
  grid, export) on the copy, read-only, in UTC.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import sys
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Any

import click
import duckdb

from pipeline.errors import HandoffError

# what every session runs first: timestamps are stored as UTC TIMESTAMPTZ, show them in UTC
INIT_SQL = Path(__file__).with_name("sql_init.sql")


def _published_path(db: str | None) -> Path:
    from pipeline.settings import load_settings

    return Path(db) if db else load_settings().published_db_path


def run_query(path: Path, sql: str) -> tuple[list[str], list[tuple]]:
    """Run ``sql`` on ``path`` read-only; return (column names, rows). A SQL error is one-line ``HandoffError``."""
    from pipeline.report.connection import open_readonly

    con = open_readonly(path)
    try:
        try:
            result = con.execute(sql)
        except duckdb.Error as err:
            first = (str(err).strip().splitlines() or [type(err).__name__])[0]
            raise HandoffError(f"SQL: {first}") from None
        if result.description is None:  # a statement without rows (SET, PRAGMA ...)
            return [], []
        return [column[0] for column in result.description], result.fetchall()
    finally:
        con.close()


def _plain(value: Any) -> Any:
    """JSON-ready value: timestamps and dates as ISO-8601, decimals as numbers, bytes as hex."""
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).hex()
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def write_csv(columns: list[str], rows: list[tuple], out) -> None:
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow(["" if v is None else _plain(v) for v in row])


def write_json(columns: list[str], rows: list[tuple], out) -> None:
    out.write(json.dumps([{c: _plain(v) for c, v in zip(columns, row)} for row in rows], indent=2))
    out.write("\n")


def print_table(columns: list[str], rows: list[tuple]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(highlight=False)
    if not columns:
        console.print("ok")
        return
    table = Table(show_lines=False)
    for name in columns:
        table.add_column(name, overflow="fold")
    for row in rows:
        table.add_row(*("NULL" if v is None else str(_plain(v)) for v in row))
    console.print(table)
    console.print(f"{len(rows):,} row{'s' if len(rows) != 1 else ''}")


def harlequin_command(path: Path) -> list[str]:
    """The Harlequin command line for an interactive read-only session on ``path``."""
    executable = Path(sys.executable).with_name("harlequin")
    found = str(executable) if executable.exists() else shutil.which("harlequin")
    if not found:
        raise HandoffError("the interactive session needs Harlequin (`pip install harlequin`); or pass a query: "
                           "`handoff sql \"SELECT ...\"`")
    return [found, "--adapter", "duckdb", "--read-only", "--init-path", str(INIT_SQL), str(path)]


@click.command()
@click.argument("query", required=False)
@click.option("--csv", "fmt", flag_value="csv", help="print the rows as CSV (header first)")
@click.option("--json", "fmt", flag_value="json", help="print the rows as a JSON array of objects")
@click.option("--db", type=click.Path(dir_okay=False), default=None,
              help="DuckDB file to read (default: the published read-only copy beside HANDOFF_DB)")
def sql(query: str | None, fmt: str | None, db: str | None) -> None:
    """SQL on the analysts' read-only copy: run QUERY, or open an interactive session when none is given.

    \b
    handoff sql "SELECT sla_status, count(*) FROM marts.speed_to_lead GROUP BY ALL"
    handoff sql --csv "SELECT * FROM marts.rep_scorecard" > scorecard.csv
    handoff sql            # interactive (Harlequin): catalog, history, results grid; Ctrl-Q quits

    Read-only, in UTC; the pipeline never waits for a session, and a session keeps the build it opened.
    """
    path = _published_path(db)
    if query is None and (fmt or not sys.stdin.isatty()):
        query = "-"
    if query == "-":
        query = sys.stdin.read()
    if query is not None:
        if not query.strip():
            raise HandoffError("no SQL given: pass a query, e.g. `handoff sql \"SELECT 1\"`")
        columns, rows = run_query(path, query)
        if fmt == "csv":
            write_csv(columns, rows, sys.stdout)
        elif fmt == "json":
            write_json(columns, rows, sys.stdout)
        else:
            print_table(columns, rows)
        return
    from pipeline.report.connection import open_readonly

    open_readonly(path).close()  # a missing, locked or unreadable file: one line here, not a TUI error screen
    command = harlequin_command(path)
    sys.stdout.flush()
    os.execv(command[0], command)
