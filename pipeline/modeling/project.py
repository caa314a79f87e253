"""The dbt project in ``sql/`` as dagster-dbt sees it: where it is, how its nodes map to asset keys, and its
manifest, parsed at load when missing or older than the project files (a fresh clone needs no extra step)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from functools import lru_cache

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, DbtCliResource, DbtProject

from pipeline.modeling.raw_columns import project_dir

PROJECT = DbtProject(project_dir=project_dir(), profiles_dir=project_dir())


class HandoffTranslator(DagsterDbtTranslator):
    """Keys and groups by schema: ``hubspot/<raw table>``, ``staging/<model>``, ``marts/<model>``."""

    def get_asset_key(self, dbt_resource_props) -> dg.AssetKey:
        return dg.AssetKey([dbt_resource_props["schema"], dbt_resource_props["name"]])

    def get_group_name(self, dbt_resource_props) -> str | None:
        return dbt_resource_props["schema"]


TRANSLATOR = HandoffTranslator(settings=DagsterDbtTranslatorSettings(enable_asset_checks=True))


def dbt_resource() -> DbtCliResource:
    """dbt from this interpreter's environment (the venv's ``bin/dbt``), whether or not it is on PATH."""
    beside = Path(sys.executable).with_name("dbt")
    return DbtCliResource(project_dir=PROJECT, dbt_executable=str(beside) if beside.exists() else "dbt")


@lru_cache(maxsize=1)
def manifest() -> dict:
    """dbt's manifest, re-parsed (``dbt parse``, a few seconds) when any project file is newer."""
    path = PROJECT.manifest_path
    files = [p for p in PROJECT.project_dir.rglob("*")
             if p.suffix in (".sql", ".yml") and not {"target", "logs"} & set(p.parts)]
    if not path.exists() or max(p.stat().st_mtime for p in files) > path.stat().st_mtime:
        dbt_resource().cli(["parse", "--quiet"], target_path=PROJECT.target_path).wait()
    return json.loads(path.read_text(encoding="utf-8"))
