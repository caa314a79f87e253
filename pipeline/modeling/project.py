"""The dbt project in ``sql/`` as dagster-dbt sees it: where it is, how its nodes map to asset keys, how dbt is
invoked, and its manifest, parsed at load when missing or older than the project files (a fresh clone needs no
extra step)."""

from __future__ import annotations

import importlib.metadata
import json
import sys
from functools import cached_property, lru_cache
from pathlib import Path

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, DbtCliResource, DbtProject
from packaging import version

from pipeline.modeling.raw_columns import project_dir

PROJECT = DbtProject(project_dir=project_dir(), profiles_dir=project_dir())


class HandoffTranslator(DagsterDbtTranslator):
    """Keys and groups by schema: ``hubspot/<raw table>``, ``staging/<model>``, ``marts/<model>``."""

    def get_asset_key(self, dbt_resource_props) -> dg.AssetKey:
        return dg.AssetKey([dbt_resource_props["schema"], dbt_resource_props["name"]])

    def get_group_name(self, dbt_resource_props) -> str | None:
        return dbt_resource_props["schema"]


TRANSLATOR = HandoffTranslator(settings=DagsterDbtTranslatorSettings(enable_asset_checks=True))


class HandoffDbtResource(DbtCliResource):
    """dagster-dbt's dbt CLI resource without two start-up costs this project never uses (measured ~7 s of CPU per
    run, docs/metrics.md "What a build costs"): the ``dbt --version`` subprocess it runs to learn the version (the
    installed dbt-core's package metadata says the same, without the PyPI request dbt makes), and the in-process
    dbt adapter it opens for row-count / column-metadata fetching (we read row counts ourselves, after dbt exits).
    Both override names are dagster-dbt internals; tests/test_dbt_project.py fails when an upgrade renames them."""

    @cached_property
    def _cli_version(self) -> version.Version:
        return version.parse(importlib.metadata.version("dbt-core"))

    def _initialize_dbt_core_adapter(self, args):  # noqa: ARG002 - dagster-dbt's signature
        return None


def dbt_resource() -> HandoffDbtResource:
    """dbt from this interpreter's environment (the venv's ``bin/dbt``), whether or not it is on PATH."""
    beside = Path(sys.executable).with_name("dbt")
    return HandoffDbtResource(project_dir=PROJECT, dbt_executable=str(beside) if beside.exists() else "dbt")


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


@lru_cache(maxsize=1)
def manifest() -> dict:
    """dbt's manifest, re-parsed (``dbt parse``, a few seconds) when any project file is newer."""
    path = PROJECT.manifest_path
    files = [p for p in PROJECT.project_dir.rglob("*")
             if p.suffix in (".sql", ".yml") and not {"target", "logs"} & set(p.parts)]
    if not path.exists() or max(p.stat().st_mtime for p in files) > path.stat().st_mtime:
        dbt_resource().cli(["parse", "--quiet"], target_path=PROJECT.target_path).wait()
    return json.loads(path.read_text(encoding="utf-8"))
