"""dbt in this process, through dbt's own Python API (``dbtRunner``), with the project parsed once per process.

A dbt subprocess per build costs its interpreter and adapter start-up plus a parse (a full one whenever the
database path changes, since the path is part of dbt's profile); in process, dbt is imported once and the parsed
manifest is reused for every database whose catalog name (the file's stem, which dbt-duckdb writes into every
node) is the same. Node results come back as Python objects; :mod:`assets.models` turns them into Dagster
materializations and check results through the unique ids dagster-dbt put on the specs.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from pipeline.modeling.project import dbt_args, parse, project_mtime

_MANIFESTS: dict[tuple[str, float], object] = {}


@dataclass(frozen=True)
class NodeResult:
    unique_id: str
    status: str  # dbt's: success / error / skipped (models), pass / fail / warn / error / skipped (tests)
    seconds: float
    message: str | None
    failures: int | None


@dataclass(frozen=True)
class BuildTiming:
    """Where one :func:`build` spent its time: dbt's own start-up (importing dbt, parsing the project, and the
    invocation up to its first node: profile, adapter, graph, connection) beside the nodes' own work."""

    import_s: float  # importing dbt (0 once this process has imported it)
    parse_s: float  # the project's parse (partial parse; 0 once this process parsed this database's catalog)
    invoke_s: float  # the invocation up to its first node starting
    nodes_s: float  # first node started -> last node completed (models and tests)
    total_s: float  # the whole call

    @property
    def startup_s(self) -> float:
        return self.import_s + self.parse_s + self.invoke_s

    def line(self, models_s: float) -> str:
        """The run log's line: dbt's start-up on its own, then the nodes, then the models' own build time."""
        return (f"dbt start-up {self.startup_s:.2f}s (import {self.import_s:.2f}s, parse {self.parse_s:.2f}s, "
                f"invocation to first node {self.invoke_s:.2f}s); nodes {self.nodes_s:.2f}s, of which the models' "
                f"own build {models_s:.2f}s; dbt call {self.total_s:.2f}s")


def _node_span(results) -> tuple[float, float] | None:
    """Epoch seconds of the first node's start and the last node's end (dbt's timing entries, naive UTC)."""
    stamps = [(t.started_at, t.completed_at) for r in results for t in (getattr(r, "timing", None) or [])
              if t.started_at and t.completed_at]
    if not stamps:
        return None
    def epoch(d: datetime) -> float:
        return d.replace(tzinfo=timezone.utc).timestamp()

    return min(epoch(a) for a, _ in stamps), max(epoch(b) for _, b in stamps)


def build(database: str, target: Path, select: list[str] | None,
          full_refresh: bool) -> tuple[bool, list[NodeResult], BuildTiming]:
    """``dbt build`` (of ``select``'s model names, else everything) on ``database`` (HANDOFF_DB must name it)."""
    started = time.perf_counter()
    imported = "dbt.cli.main" in sys.modules
    from dbt.cli.main import dbtRunner

    import_s = 0.0 if imported else time.perf_counter() - started
    key = (Path(database).stem, project_mtime())
    parse_started = time.perf_counter()
    if key not in _MANIFESTS:
        _MANIFESTS.clear()
        _MANIFESTS[key] = parse(target, write_json=False)  # the build below writes manifest.json
    parse_s = time.perf_counter() - parse_started
    args = [*dbt_args("build", target), *(["--full-refresh"] if full_refresh else []),
            *(["--select", *select] if select else [])]
    invoked_at, invoked = time.time(), time.perf_counter()
    try:
        outcome = dbtRunner(manifest=_MANIFESTS[key]).invoke(args)
    finally:
        # dbt-duckdb keeps its DuckDB instance open (with its own settings) after the invocation; the step's own
        # connections to the same file need it gone
        from dbt.adapters.duckdb.connections import DuckDBConnectionManager

        DuckDBConnectionManager.close_all_connections()
    invoke_total = time.perf_counter() - invoked
    raw = getattr(outcome.result, "results", None) or []
    results = [NodeResult(r.node.unique_id, str(getattr(r.status, "value", r.status)), float(r.execution_time or 0.0), r.message,
                          getattr(r, "failures", None))
               for r in raw]
    if outcome.exception is not None and not results:
        raise RuntimeError(f"dbt build failed: {outcome.exception}")
    span = _node_span(raw)
    to_first = min(max(span[0] - invoked_at, 0.0), invoke_total) if span else invoke_total
    timing = BuildTiming(import_s=import_s, parse_s=parse_s, invoke_s=to_first,
                         nodes_s=max(span[1] - span[0], 0.0) if span else 0.0, total_s=time.perf_counter() - started)
    return bool(outcome.success), results, timing
