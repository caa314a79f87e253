"""dbt in this process, through dbt's own Python API (``dbtRunner``), with the project parsed once per process.

A dbt subprocess per build costs its interpreter and adapter start-up plus a parse (a full one whenever the
database path changes, since the path is part of dbt's profile); in process, dbt is imported once and the parsed
manifest is reused for every database whose catalog name (the file's stem, which dbt-duckdb writes into every
node) is the same. Node results come back as Python objects; :mod:`assets.models` turns them into Dagster
materializations and check results through the unique ids dagster-dbt put on the specs.
"""

from __future__ import annotations

from dataclasses import dataclass
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


def build(database: str, target: Path, select: list[str] | None, full_refresh: bool) -> tuple[bool, list[NodeResult]]:
    """``dbt build`` (of ``select``'s model names, else everything) on ``database`` (HANDOFF_DB must name it)."""
    from dbt.cli.main import dbtRunner

    key = (Path(database).stem, project_mtime())
    if key not in _MANIFESTS:
        _MANIFESTS.clear()
        _MANIFESTS[key] = parse(target)
    args = [*dbt_args("build", target), *(["--full-refresh"] if full_refresh else []),
            *(["--select", *select] if select else [])]
    try:
        outcome = dbtRunner(manifest=_MANIFESTS[key]).invoke(args)
    finally:
        # dbt-duckdb keeps its DuckDB instance open (with its own settings) after the invocation; the step's own
        # connections to the same file need it gone
        from dbt.adapters.duckdb.connections import DuckDBConnectionManager

        DuckDBConnectionManager.close_all_connections()
    results = [NodeResult(r.node.unique_id, str(getattr(r.status, "value", r.status)), float(r.execution_time or 0.0), r.message,
                          getattr(r, "failures", None))
               for r in (getattr(outcome.result, "results", None) or [])]
    if outcome.exception is not None and not results:
        raise RuntimeError(f"dbt build failed: {outcome.exception}")
    return bool(outcome.success), results
