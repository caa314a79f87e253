"""DuckDB's file lock, in the product's words: who holds ``data/handoff.duckdb``, what to do, how long we wait.

DuckDB allows one process to open a database file read-write. When another process holds it (an analyst's
notebook opened read-write, a stray ``duckdb`` shell), ``duckdb.connect`` raises ``IOException: Could not set
lock on file ... Conflicting lock is held in <program> (PID n)``. dagster-duckdb retries that silently for
about 100 s and then re-raises the raw exception. Instead, :func:`connect_writable` says at once which file,
which process and what to do, then waits up to ``HANDOFF_DB_LOCK_WAIT_SECONDS`` (default 60; 0 = do not
wait), polling twice a second, and raises :class:`DatabaseLockedError` (one line) when the time is up.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable
from pathlib import Path

import duckdb
import psutil

from pipeline.errors import ConfigError, DatabaseLockedError

WAIT_ENV = "HANDOFF_DB_LOCK_WAIT_SECONDS"
DEFAULT_WAIT_S = 60.0
MAX_WAIT_S = 24 * 3600.0
POLL_S = 0.5
_PID = re.compile(r"\(PID (\d+)\)")
_PROGRAM = re.compile(r"Conflicting lock is held in (.+?) \(PID")


def lock_wait_seconds(env: dict[str, str] | None = None) -> float:
    """``HANDOFF_DB_LOCK_WAIT_SECONDS``, validated: a number of seconds from 0 to 86400."""
    env = os.environ if env is None else env
    raw = (env.get(WAIT_ENV) or "").strip()
    if not raw:
        return DEFAULT_WAIT_S
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{WAIT_ENV}={raw!r} is not a number of seconds (e.g. 60; 0 fails at once)") from None
    if not (0 <= value <= MAX_WAIT_S) or value != value:
        raise ConfigError(f"{WAIT_ENV}={raw!r}: use 0 to {MAX_WAIT_S:.0f} seconds (0 fails at once)")
    return value


def is_lock_conflict(err: BaseException) -> bool:
    text = str(err)
    return isinstance(err, duckdb.IOException) and ("lock" in text.lower())


def lock_holder(err: BaseException) -> str:
    """``PID 4242 (jupyter-lab --port 8888)`` from DuckDB's message and the process table; what is known."""
    text = str(err)
    match = _PID.search(text)
    if not match:
        return "another process"
    pid = int(match.group(1))
    try:
        proc = psutil.Process(pid)
        cmdline = " ".join(proc.cmdline()) or proc.name()
    except (psutil.Error, OSError):
        program = _PROGRAM.search(text)
        cmdline = program.group(1) if program else ""
    cmdline = cmdline if len(cmdline) <= 80 else cmdline[:77] + "..."
    return f"PID {pid}" + (f" ({cmdline})" if cmdline else "")


def _published_hint(path: Path) -> str:
    published = path.with_name(path.stem + ".published" + path.suffix)
    return f"analysts use the published copy: handoff sql (reads {published})"


def locked_message(path: Path, err: BaseException) -> str:
    return (f"{path} is open read-write in another process, {lock_holder(err)}: close it "
            f"(or reopen it read-only; {_published_hint(path)})")


def connect_writable(
    database: str | Path, *, config: dict | None = None, wait_s: float | None = None,
    echo: Callable[[str], None] | None = None, sleep: Callable[[float], None] = time.sleep,
) -> duckdb.DuckDBPyConnection:
    """``duckdb.connect(database)`` read-write; on a lock held elsewhere: say so once, wait a bounded time, or fail."""
    path = Path(str(database))
    wait_s = lock_wait_seconds() if wait_s is None else wait_s
    deadline = time.monotonic() + wait_s
    told = False
    while True:
        try:
            return duckdb.connect(str(database), read_only=False, config=config or {})
        except duckdb.IOException as err:
            if not is_lock_conflict(err):
                raise
            left = deadline - time.monotonic()
            if left <= 0:
                waited = f" after waiting {wait_s:,.0f} s ({WAIT_ENV})" if wait_s else f" ({WAIT_ENV}=0: no wait)"
                raise DatabaseLockedError(f"{locked_message(path, err)}; gave up{waited}") from None
            if not told and echo is not None:
                echo(f"{locked_message(path, err)}; waiting up to {wait_s:,.0f} s ({WAIT_ENV}) ...")
            told = True
            sleep(min(POLL_S, max(left, 0.0)))


def probe(database: str | Path, *, echo: Callable[[str], None] | None = None, wait_s: float | None = None) -> float:
    """Before a run: wait until the file can be opened read-write (then close it). Returns seconds waited."""
    path = Path(str(database))
    if not path.exists():
        return 0.0
    started = time.monotonic()
    connect_writable(path, echo=echo, wait_s=wait_s).close()
    waited = time.monotonic() - started
    if waited > 1 and echo is not None:
        echo(f"{path} is free now (waited {waited:,.0f} s); starting")
    return waited
