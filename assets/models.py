"""The metrics layer as Dagster assets: the dbt project in ``sql/`` (dagster-dbt), one step for every model.

Asset keys: ``hubspot/<table>`` for the raw sources, ``staging/<model>`` (group ``staging``) for staging and
intermediate models and ``staging/policy``, ``marts/<model>`` (group ``marts``) for the marts. dbt's tests
(yml) are asset checks; the Great Expectations suites (``pipeline/quality``) are blocking checks on the same
assets, evaluated in the same step right after ``dbt build`` (where the data already is: no process per check).
The step first writes ``staging.policy`` (this run's policy and clock), so a mart materialized alone uses the
clock of its own run. The manifest is built at definitions load when missing or older than the project
(``dbt parse``), so a fresh clone works.
"""


import importlib
import os
import threading

import dagster as dg
from dagster_dbt import DbtCliResource
from dagster_dbt.asset_utils import build_dbt_specs
from dagster_duckdb import DuckDBResource

from pipeline.modeling.policy_table import write_policy_table
from pipeline.modeling.project import PROJECT, TRANSLATOR, database_path, manifest, target_path
from pipeline.quality.suites import CHECKS
from pipeline.quality.validate import check_result
from pipeline.report.story import speed_to_lead_story
from pipeline.resources import PolicyResource
from pipeline.settings import now as clock_now

MODEL_SPECS, DBT_CHECK_SPECS = build_dbt_specs(translator=TRANSLATOR, manifest=manifest(), select="fqn:*",
                                               exclude="", selector="", io_manager_key=None, project=PROJECT)
GX_CHECK_SPECS = [dg.AssetCheckSpec(spec.name, asset=dg.AssetKey(["marts", spec.mart]), description=spec.description,
                                    blocking=True) for spec in CHECKS]
GX_BY_KEY = {dg.AssetCheckKey(dg.AssetKey(["marts", s.mart]), s.name): s for s in CHECKS}


class ModelBuildConfig(dg.Config):
    full_refresh: bool = False  # dbt build --full-refresh: the incremental marts are rebuilt from scratch


@dg.multi_asset(specs=MODEL_SPECS, check_specs=[*DBT_CHECK_SPECS, *GX_CHECK_SPECS], can_subset=True,
                name="handoff_models", pool="duckdb_write", allow_arbitrary_check_specs=True,
                op_tags={"dagster_dbt/select": "fqn:*"})
def handoff_models(context: dg.AssetExecutionContext, config: ModelBuildConfig, dbt: DbtCliResource,
                   duckdb: DuckDBResource, policy: PolicyResource):
    gx_import = threading.Thread(target=importlib.import_module, args=("great_expectations",), daemon=True)
    gx_import.start()  # the checks' library loads (seconds) while dbt runs in its own process
    with duckdb.get_connection() as con:
        write_policy_table(con, policy.load(), clock_now())
    os.environ["HANDOFF_DB"] = database_path(duckdb.database)  # the profile's database (sql/profiles.yml)
    invocation = dbt.cli(["build", *(["--full-refresh"] if config.full_refresh else [])], context=context,
                         manifest=manifest(), dagster_dbt_translator=TRANSLATOR, raise_on_error=False,
                         target_path=target_path(duckdb.database))
    events = list(invocation.stream())  # dbt holds DuckDB's writer until it exits: read afterwards
    gx_import.join()
    with duckdb.get_connection() as con:
        for event in events:
            if isinstance(event, dg.Output):
                event = event.with_metadata({**event.metadata, **_table_metadata(con, dg.AssetKey(event.output_name.split("__")))})
            yield event
        incremental = _incrementally_built(con)
        for check_key in context.selected_asset_check_keys:
            if check_key in GX_BY_KEY and _built(con, check_key.asset_key):
                spec = GX_BY_KEY[check_key]
                yield check_result(con, spec, rebuilt_only=spec.mart in incremental)
    if not invocation.is_successful():
        raise dg.Failure(f"dbt build failed: {invocation.get_error()}")


def _table_metadata(con, key: dg.AssetKey) -> dict:
    """Row count of a built table (views are not counted: that would scan them) and the report's story on
    speed_to_lead (rows, SLA met %, breaches by team, the response-time chart)."""
    if not _built(con, key):
        return {}
    metadata = {"dagster/row_count": dg.MetadataValue.int(con.execute(f"SELECT count(*) FROM {'.'.join(key.path)}"
                                                                       ).fetchone()[0])}
    mark = con.execute("SELECT build_mode, contacts_rebuilt FROM staging.build_marks WHERE model = ?",
                       [key.path[-1]]).fetchone() if _built(con, dg.AssetKey(["staging", "build_marks"])) else None
    if mark and key.path[0] == "marts":  # the incremental marts (macros/incremental.sql)
        metadata["build_mode"] = dg.MetadataValue.text("incremental" if mark[0] == "incremental" else "full")
        metadata["build_reason"] = dg.MetadataValue.text(mark[0] if mark[0] != "incremental" else "changed contacts only")
        if mark[1] is not None:
            metadata["contacts_rebuilt"] = dg.MetadataValue.int(mark[1])
    if key == dg.AssetKey(["marts", "speed_to_lead"]):
        metadata.update(speed_to_lead_story(con))
    return metadata


def _incrementally_built(con) -> set[str]:
    """The marts this run built incrementally (their build mark says so), whose GX suites validate the rebuilt
    contacts' rows."""
    if not _built(con, dg.AssetKey(["staging", "build_marks"])):
        return set()
    return {m for (m,) in con.execute("SELECT model FROM staging.build_marks WHERE build_mode = 'incremental'"
                                      ).fetchall()}


def _built(con, key: dg.AssetKey) -> bool:
    return bool(con.execute("SELECT count(*) FROM duckdb_tables() WHERE schema_name = ? AND table_name = ?",
                            key.path).fetchone()[0])


defs = dg.Definitions(assets=[handoff_models])


def materialize_models(database: str, *, full_refresh: bool = False, select: str | None = None,
                       policy_path: str = "") -> dg.ExecuteInProcessResult:
    """Materialize the models the way the schedules do (this multi-asset, its dbt tests and GX checks, the real
    resources) on ``database``, in process; tests and the benchmark use it (the clock: HANDOFF_NOW)."""
    from pipeline.modeling.project import dbt_resource
    from pipeline.resources import WarehouseResource

    return dg.materialize(
        [handoff_models], selection=select,
        resources={"duckdb": WarehouseResource(database=database), "dbt": dbt_resource(),
                   "policy": PolicyResource(path=policy_path)},
        run_config={"ops": {"handoff_models": {"config": {"full_refresh": full_refresh}}}},
        raise_on_error=False,
    )
