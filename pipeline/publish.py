"""Publish the read-only copy analysts and the SLA sensor query (``settings.published_db_path``).

The whole database (raw, staging, marts, ops) is copied, with the live lane's ``ops.*`` merged in from its
own file (``pipeline.sla.lane_db.merge_into_published``), into a temporary file next to the target with
``COPY FROM DATABASE`` (a consistent snapshot of the writer's connection), then renamed over the target
with ``os.replace``: readers see the old file or the new one, never a half-written one, and a reader
holding the old file open keeps its snapshot and never blocks the pipeline.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

import duckdb

from pipeline.errors import HandoffError


class PublishError(HandoffError):
    """The read-only copy could not be written (names the path and the reason)."""


@dataclass
class PublishResult:
    path: Path
    bytes: int
    seconds: float
    tables: int


def publish(con: duckdb.DuckDBPyConnection, target: Path) -> PublishResult:
    """Copy the database behind ``con`` to ``target`` atomically."""
    started = time.perf_counter()
    target = Path(target)
    temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    source = con.execute("SELECT current_database()").fetchone()[0]
    alias = "handoff_publish_tmp"
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        for leftover in (temporary, temporary.with_name(temporary.name + ".wal")):
            leftover.unlink(missing_ok=True)
        con.execute(f"ATTACH '{_quote(temporary)}' AS {alias}")
        try:
            con.execute(f'COPY FROM DATABASE "{source}" TO {alias}')
            _merge_lane(con, alias, source)  # the live lane's ops tables (its own DuckDB file)
            tables = con.execute(
                "SELECT count(*) FROM duckdb_tables() WHERE database_name = ?", [alias]
            ).fetchone()[0]
        finally:
            con.execute(f"DETACH {alias}")
        os.replace(temporary, target)
    except (duckdb.Error, OSError) as err:
        if temporary.parent.is_dir():
            temporary.unlink(missing_ok=True)
        message = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise PublishError(f"cannot publish the analysts' copy to {target}: {message}") from None
    return PublishResult(target, target.stat().st_size, time.perf_counter() - started, tables)


def _merge_lane(con, alias: str, source: str) -> None:
    from pipeline.sla.lane_db import merge_into_published

    path = con.execute("SELECT path FROM duckdb_databases() WHERE database_name = ?", [source]).fetchall()
    if path and path[0][0]:
        merge_into_published(con, alias, source, Path(path[0][0]))


def _quote(path: Path) -> str:
    return str(path).replace("'", "''")
