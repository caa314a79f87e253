"""The metrics layer as Dagster assets: the dbt project in ``sql/`` (dagster-dbt), one step for every model.

Asset keys: ``hubspot/<table>`` for the raw sources, ``staging/<model>`` (group ``staging``) for staging and
intermediate models and ``staging/policy``, ``marts/<model>`` (group ``marts``) for the marts. dbt's tests
(yml) are asset checks; the Great Expectations suites (``pipeline/quality``) are blocking checks on the same
assets, evaluated in the same step right after ``dbt build`` (where the data already is: no process per check).
The step first writes ``staging.policy`` (this run's policy and clock), so a mart materialized alone uses the
clock of its own run. The manifest is built at definitions load when missing or older than the project
(``dbt parse``), so a fresh clone works. This is ``@dbt_assets`` written out (``build_dbt_specs`` + ``multi_asset``)
with the policy asset and the GX and lifecycle checks in the same step, which ``@dbt_assets`` cannot take.
"""


import os
import time

import dagster as dg
from dagster_dbt.asset_utils import build_dbt_specs
from dagster_duckdb import DuckDBResource

from assets.lifecycle_check import LIFECYCLE_CHECK, lifecycle_check_result
from pipeline.modeling import dbt_run
from pipeline.modeling.policy_table import write_policy_table
from pipeline.modeling.project import PROJECT, TRANSLATOR, database_path, manifest, target_path
from pipeline.quality.suites import CHECKS
from pipeline.quality.validate import check_result, load_gx
from pipeline.resources import PolicyResource
from pipeline.settings import now as clock_now

MODEL_SPECS, DBT_CHECK_SPECS = build_dbt_specs(translator=TRANSLATOR, manifest=manifest(), select="fqn:*",
                                               exclude="", selector="", io_manager_key=None, project=PROJECT)


def _source_spec(source: str, table: str, key: list[str], group: str) -> dg.AssetSpec:
    """A dbt source that no other asset defines, described by its sources.yml entry."""
    props = manifest()["sources"][f"source.handoff.{source}.{table}"]
    return dg.AssetSpec(dg.AssetKey(key), group_name=group, description=props["description"])


# staging.policy is written by this step before dbt runs (so it is one of its assets); dlt's _dlt_loads by every
# hubspot_raw step (an external asset here: dagster-dlt names only the resources' tables)
POLICY_SPEC = _source_spec("parameters", "policy", ["staging", "policy"], "staging")
LOADS_SPEC = _source_spec("hubspot", "_dlt_loads", ["hubspot", "_dlt_loads"], "hubspot_raw")
GX_CHECK_SPECS = [dg.AssetCheckSpec(spec.name, asset=dg.AssetKey(["marts", spec.mart]), description=spec.description,
                                    blocking=True) for spec in CHECKS]
# (dagster-dbt puts each model's yml columns and their descriptions on its spec: dagster/column_schema, the UI's
# Columns section)
KEY_BY_UID = {spec.metadata["dagster_dbt/unique_id"]: spec.key for spec in MODEL_SPECS}
CHECK_BY_UID = {spec.metadata["dagster_dbt/unique_id"]: spec.key for spec in DBT_CHECK_SPECS}
ALL_MODEL_KEYS = set(KEY_BY_UID.values())
GX_BY_KEY = {dg.AssetCheckKey(dg.AssetKey(["marts", s.mart]), s.name): s for s in CHECKS}


class ModelBuildConfig(dg.Config):
    full_refresh: bool = False  # dbt build --full-refresh: the incremental marts are rebuilt from scratch


@dg.multi_asset(specs=[POLICY_SPEC, *MODEL_SPECS], check_specs=[LIFECYCLE_CHECK, *DBT_CHECK_SPECS, *GX_CHECK_SPECS], can_subset=True,
                name="handoff_models", pool="duckdb_write", allow_arbitrary_check_specs=True,
                op_tags={"dagster_dbt/select": "fqn:*"})
def handoff_models(context: dg.AssetExecutionContext, config: ModelBuildConfig, duckdb: DuckDBResource,
                   policy: PolicyResource):
    with duckdb.get_connection() as con:
        write_policy_table(con, policy.load(), clock_now())
        if POLICY_SPEC.key in context.selected_asset_keys:
            yield dg.MaterializeResult(asset_key=POLICY_SPEC.key, metadata={"dagster/table_name": "staging.policy"})
        if LIFECYCLE_CHECK.key in context.selected_asset_check_keys:
            yield lifecycle_check_result(con, policy)  # before dbt: a stage the portal lacks stops every model
    selected = context.selected_asset_keys & ALL_MODEL_KEYS
    if not selected:
        return
    os.environ["HANDOFF_DB"] = database_path(duckdb.database)  # the profile's database (sql/profiles.yml)
    select = None if selected == ALL_MODEL_KEYS else sorted(k.path[-1] for k in selected)
    ok, results, timing = dbt_run.build(duckdb.database, target_path(duckdb.database), select, config.full_refresh)
    context.log.info(timing.line(sum(r.seconds for r in results if r.unique_id in KEY_BY_UID)))
    checks = context.selected_asset_check_keys
    with duckdb.get_connection() as con:
        for r in results:
            if r.unique_id in KEY_BY_UID and r.status == "success":
                key = KEY_BY_UID[r.unique_id]
                context.log.info(f"dbt: {'/'.join(key.path)} built in {r.seconds:.2f}s")
                yield dg.MaterializeResult(asset_key=key, metadata={
                    "Execution Duration": dg.MetadataValue.float(r.seconds),
                    "dagster/table_name": ".".join(key.path),
                    **_table_metadata(con, key)})
            elif r.unique_id in CHECK_BY_UID and CHECK_BY_UID[r.unique_id] in checks:
                check = CHECK_BY_UID[r.unique_id]
                yield dg.AssetCheckResult(asset_key=check.asset_key, check_name=check.name,
                                          passed=r.status == "pass", severity=dg.AssetCheckSeverity.ERROR,
                                          metadata={"failing_rows": dg.MetadataValue.int(int(r.failures or 0))},
                                          description=r.message if r.status != "pass" else None)
            elif r.status in ("error", "fail"):
                context.log.error(f"dbt: {r.unique_id} {r.status}: {r.message}")
        incremental = _incrementally_built(con)
        gx_checks = [GX_BY_KEY[k] for k in checks if k in GX_BY_KEY and _built(con, k.asset_key)]
        if gx_checks:
            gx_load_s, started = load_gx(), time.perf_counter()
            for spec in gx_checks:
                yield check_result(con, spec, rebuilt_only=spec.mart in incremental)
            context.log.info(f"great expectations: {len(gx_checks)} checks in {time.perf_counter() - started:.2f}s "
                             f"(GX's import and context before them {gx_load_s:.2f}s)")
    if not ok:
        failed = [f"{r.unique_id.split('.')[-1]}: {r.message}" for r in results if r.status in ("error", "fail")]
        raise dg.Failure(f"dbt build failed: {'; '.join(failed) or 'see the run log'}")


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
        from pipeline.report.story import speed_to_lead_story  # altair: only when speed_to_lead is built

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


defs = dg.Definitions(assets=[handoff_models, LOADS_SPEC])


def materialize_models(database: str, *, full_refresh: bool = False, select: str | None = None,
                       policy_path: str = "", instance: dg.DagsterInstance | None = None) -> dg.ExecuteInProcessResult:
    """Materialize the models the way the schedules do (this multi-asset, its dbt tests and GX checks, the real
    resources) on ``database``, in process; tests and the benchmark use it (the clock: HANDOFF_NOW; ``instance``:
    where the run's events and log lines go, else an ephemeral one)."""
    from pipeline.resources import WarehouseResource

    return dg.materialize(
        [handoff_models], selection=select, instance=instance,
        resources={"duckdb": WarehouseResource(database=database), "policy": PolicyResource(path=policy_path)},
        run_config={"ops": {"handoff_models": {"config": {"full_refresh": full_refresh}}}},
        raise_on_error=False,
    )
