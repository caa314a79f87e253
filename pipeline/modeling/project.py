"""The dbt project in ``sql/`` as dagster-dbt sees it: where it is, how its nodes map to asset keys, where each
database's dbt artifacts live, and its manifest, parsed at load when missing or older than the project files (a
fresh clone needs no extra step)."""

from __future__ import annotations

import fcntl
import json
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, DbtProject

from pipeline.errors import ConfigError
from pipeline.modeling.raw_columns import project_dir, project_files

PROJECT = DbtProject(project_dir=project_dir(), profiles_dir=project_dir())


class HandoffTranslator(DagsterDbtTranslator):
    """Keys and groups by schema: ``hubspot/<raw table>``, ``staging/<model>``, ``marts/<model>``."""

    def get_asset_key(self, dbt_resource_props) -> dg.AssetKey:
        return dg.AssetKey([dbt_resource_props["schema"], dbt_resource_props["name"]])

    def get_group_name(self, dbt_resource_props) -> str | None:
        return dbt_resource_props["schema"]

    def get_asset_check_spec(self, asset_spec, manifest, unique_id, project) -> dg.AssetCheckSpec | None:
        """dbt's data tests as checks, described by what they test (dbt gives a test no description of its own)."""
        spec = super().get_asset_check_spec(asset_spec, manifest, unique_id, project)
        if spec is None or spec.description:
            return spec
        test = manifest["nodes"][unique_id]
        meta = test.get("test_metadata") or {}
        kwargs = {k: v for k, v in (meta.get("kwargs") or {}).items() if k not in ("model", "column_name")}
        args = kwargs.get("arguments", kwargs)
        shown = "; ".join(f"{k}: {', '.join(map(str, v)) if isinstance(v, list) else v}" for k, v in args.items())
        column = f" on {test['column_name']}" if test.get("column_name") else ""
        description = (f"dbt data test {meta.get('name', test['name'])}{column}" + (f" ({shown})" if shown else "")
                       + f" of {'.'.join(asset_spec.key.path)}.")
        return dg.AssetCheckSpec(spec.name, asset=spec.asset_key, description=description, blocking=spec.blocking,
                                 additional_deps=spec.additional_deps, metadata=spec.metadata)


TRANSLATOR = HandoffTranslator(settings=DagsterDbtTranslatorSettings(enable_asset_checks=True))


def database_path(database: str) -> str:
    """The one spelling of a database path dbt's profile receives (``HANDOFF_DB``, absolute): dbt re-parses the
    whole project whenever the profile's rendered path changes."""
    return str(Path(database).resolve())


def target_path(database: str) -> Path:
    """dbt's artifacts for one database, beside it (``data/handoff.duckdb.dbt/``): dbt's partial parse
    (``partial_parse.msgpack``) holds only for the profile it was parsed with, so each database keeps its own and
    every build after the first re-parses only changed files."""
    path = Path(database_path(database))
    return path.with_name(f"{path.name}.dbt")


def project_mtime() -> float:
    """When a project file (model, macro, yml) last changed: a newer file means a new parse."""
    return max(p.stat().st_mtime for p in project_files(PROJECT.project_dir))


def dbt_args(command: str, target: Path) -> list[str]:
    return [command, "--project-dir", str(PROJECT.project_dir), "--profiles-dir", str(PROJECT.profiles_dir),
            "--target-path", str(target), "--log-path", str(target), "--quiet"]


def parse(target: Path, *, write_json: bool = True):
    """``dbt parse`` in this process (dbt's Python API); the parsed manifest object. ``write_json=False``: no
    ``manifest.json`` (a build that follows writes its own; ~0.35 s of every fresh process's start-up), while
    ``partial_parse.msgpack`` is still written whenever the parse changed it."""
    from dbt.cli.main import dbtRunner

    parsed = dbtRunner().invoke([*dbt_args("parse", target), *([] if write_json else ["--no-write-json"])])
    if not parsed.success:
        raise ConfigError(f"the dbt project in {PROJECT.project_dir} does not parse: {parsed.exception} "
                          "(run `cd sql && ../.venv/bin/dbt parse --profiles-dir .` for dbt's own report)")
    return parsed.result


@contextmanager
def _exclusive(lock_path: Path):
    """An exclusive ``flock`` on ``lock_path`` for the block; none where the directory is read-only (an installed
    wheel whose manifest is shipped: no process there can rewrite it, so there is no race to guard)."""
    try:
        lock = open(lock_path, "w")
    except OSError:
        yield
        return
    with lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        yield


@lru_cache(maxsize=1)
def manifest() -> dict:
    """dbt's manifest (sql/target/manifest.json), re-parsed (a few seconds) when any project file is newer. Under
    an exclusive lock: processes that load the code location at once on a fresh clone or after an edit (the test
    workers; run workers a sensor launches together; ``handoff run`` beside ``handoff dev``'s code server) would otherwise parse together and read the file while
    another process is rewriting it."""
    path = PROJECT.manifest_path
    path.parent.mkdir(parents=True, exist_ok=True)
    with _exclusive(path.parent / ".manifest.lock"):
        if not path.exists() or project_mtime() > path.stat().st_mtime:
            parse(PROJECT.target_path)
        return json.loads(path.read_text(encoding="utf-8"))
