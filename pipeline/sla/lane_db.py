"""Where the live lane keeps what the product did: its own DuckDB file, never the batch lane's writer.

The batch sync holds the main DuckDB (``HANDOFF_DB``) for minutes at a time and DuckDB allows one writer
process per file, so the lane (``mql_handoff`` and ``sla_enforcement`` runs) writes the ``ops.*`` tables in
``<HANDOFF_DB stem>_lane.duckdb`` beside it, and reads the synced data (``hubspot.*``, ``marts.*``) from the
published read-only copy. A lane connection is an in-memory DuckDB with two attachments:

- ``lane``: the lane file, read-write (``ops.*``; SQL names it ``lane.ops.<table>``, see :data:`OPS`);
- the published copy, read-only, made the default catalog (``USE``) so ``hubspot.*`` and ``marts.*`` resolve
  to it unchanged. Missing (no build yet): the default catalog is empty and reads see no synced rows.

Lane runs are serialised by the file's lock alone: each opens the file with a sleeping retry while another
process holds it (another lane run's step, seconds; the publisher's short read; ``handoff status``). They are in
no Dagster pool: a pool with one slot makes the run coordinator start each queued run's process only after the
previous run ended, so every MQL in a burst waited for all earlier runs' process starts (15-30 s each on the
loaded 2-core machine: ``python -m bench handoff`` measured p95 265 s with the pool; docs/enforcement.md).
``merge_into_published`` (called by ``pipeline.publish``) copies the lane's ops tables into the analysts'
copy, together with any ops rows the main DB still holds from before the lane existed: one row per key,
the lane's version winning, so nothing is lost or doubled.

Never import the sandbox here; never hold a lane connection across a wait for the main DB.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from pipeline.errors import HandoffError

LANE = "lane"
OPS = f"{LANE}.ops"
# table -> its key (what "one row per key" means when merging)
KEYS = {
    "enforcement_log": ("mql_id", "step"),
    "routing_decisions": ("mql_id", "step"),
    "alerts": ("alert_id",),
    "lane_episodes": ("mql_id",),
}


class LaneBusyError(HandoffError):
    """The lane's DuckDB file stayed locked by another process for longer than the wait."""


def lane_db_path(db_path: Path) -> Path:
    """``data/handoff.duckdb`` -> ``data/handoff_lane.duckdb`` (an underscore: DuckDB names a catalog after the
    file's stem, and a stem with a dot or one named ``ops`` would clash)."""
    db_path = Path(db_path)
    return db_path.with_name(db_path.stem + "_lane" + db_path.suffix)


def _locked(err: duckdb.Error) -> bool:
    text = str(err).lower()
    return "lock" in text or "conflicting" in text or "resource temporarily unavailable" in text


def _attach(con, path: Path, alias: str, *, read_only: bool, wait_s: float) -> None:
    mode = " (READ_ONLY)" if read_only else ""
    quoted = str(path).replace("'", "''")
    deadline = time.monotonic() + wait_s
    delay = 0.05
    while True:
        try:
            con.execute(f"ATTACH '{quoted}' AS {alias}{mode}")
            return
        except duckdb.Error as err:
            if not _locked(err) or time.monotonic() >= deadline:
                if _locked(err):
                    raise LaneBusyError(f"{path} stayed locked by another process for {wait_s:.0f} s "
                                        "(a lane run or the publisher); retry") from None
                raise
            time.sleep(delay)
            delay = min(delay * 2, 1.0)


@contextmanager
def open_lane(db_path: Path, published: Path | None, *, wait_s: float = 120.0) -> Iterator[duckdb.DuckDBPyConnection]:
    """A lane connection (see the module docstring); the ops tables are created when missing."""
    from pipeline.sla.ops_tables import ensure_ops_tables

    path = lane_db_path(db_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(":memory:")
    try:
        con.execute("SET TimeZone = 'UTC'")
        _attach(con, path, LANE, read_only=False, wait_s=wait_s)
        ensure_ops_tables(con)
        if published is not None and Path(published).exists():
            _attach(con, Path(published), "published", read_only=True, wait_s=wait_s)
            con.execute("USE published")
        yield con
    finally:
        con.close()


@contextmanager
def read_lane(db_path: Path, *, wait_s: float = 5.0) -> Iterator[duckdb.DuckDBPyConnection | None]:
    """The lane file alone, read-only (``ops.*`` unqualified); None when the lane has never run."""
    path = lane_db_path(db_path)
    if not path.exists():
        yield None
        return
    deadline = time.monotonic() + wait_s
    delay = 0.05
    while True:
        try:
            con = duckdb.connect(str(path), read_only=True)
            break
        except duckdb.Error as err:
            if not _locked(err) or time.monotonic() >= deadline:
                raise LaneBusyError(f"{path} is locked by a lane run; retry") from None
            time.sleep(delay)
            delay = min(delay * 2, 0.5)
    try:
        yield con
    finally:
        con.close()


def _tables(con, catalog: str) -> dict[str, list[str]]:
    rows = con.execute("SELECT table_name, column_name FROM duckdb_columns() WHERE database_name = ? "
                       "AND schema_name = 'ops' ORDER BY table_name, column_index", [catalog]).fetchall()
    out: dict[str, list[str]] = {}
    for table, column in rows:
        out.setdefault(table, []).append(column)
    return out


def merge_into_published(con, target_alias: str, main_catalog: str, main_path: Path, *, wait_s: float = 120.0) -> int:
    """Replace ``<target_alias>.ops.*`` (just copied from the main DB) with the lane's rows plus the main DB's
    rows whose key the lane lacks. Returns the number of lane tables merged (0 when the lane never ran)."""
    path = lane_db_path(main_path)
    if not path.exists():
        return 0
    alias = "handoff_lane_src"
    _attach(con, path, alias, read_only=True, wait_s=wait_s)
    try:
        lane_tables = _tables(con, alias)
        main_tables = _tables(con, main_catalog)
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {target_alias}.ops")
        for table in lane_tables:
            key = KEYS.get(table)
            legacy = ""
            if table in main_tables and key:
                cond = " AND ".join(f"l.{k} = m.{k}" for k in key)
                legacy = (f" UNION ALL BY NAME SELECT m.* FROM {main_catalog}.ops.{table} m WHERE NOT EXISTS "
                          f"(SELECT 1 FROM {alias}.ops.{table} l WHERE {cond})")
            con.execute(f"DROP TABLE IF EXISTS {target_alias}.ops.{table}")
            con.execute(f"CREATE TABLE {target_alias}.ops.{table} AS "
                        f"SELECT * FROM {alias}.ops.{table}{legacy}")
        return len(lane_tables)
    finally:
        con.execute(f"DETACH {alias}")
