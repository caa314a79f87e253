"""Raw layer: HubSpot -> DuckDB ``hubspot.*`` with dlt, one Dagster asset per table (``hubspot/<table>``).

Wiring only: the reads live in ``pipeline.hubspot.source``, the post-load SQL in ``pipeline.hubspot.post_load``.
``mode`` (run config): ``sync`` (default: full load first, then incremental), ``full`` (re-list everything),
``reconcile`` (sync plus the archived listings: deletions and merges; the nightly job), ``reconcile_only``
(the archived listings alone, cursors untouched).
"""


import atexit
import re
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

import dagster as dg
import dlt as dlt_lib
from dagster_dlt import DagsterDltResource, DagsterDltTranslator, dlt_assets
from dagster_dlt.translator import DltResourceTranslatorData
from dagster_duckdb import DuckDBResource

from pipeline.errors import HandoffError
from pipeline.hubspot.post_load import create_missing_tables, drop_incomplete_loads, set_merged_into, table_counts
from pipeline.hubspot.properties import ASSOCIATIONS, OBJECT_TYPES
from pipeline.hubspot.source import DEFAULT_LAG_S, RunReport, hubspot_source
from pipeline.progress_ticker import ProgressTicker
from pipeline.resources import HubSpotResource

PIPELINE_NAME = "hubspot_handoff"
DATASET = "hubspot"
GROUP = "hubspot_raw"


class HubSpotTranslator(DagsterDltTranslator):
    """Keys ``hubspot/<table>``, group ``hubspot_raw``, and no upstream source assets."""

    def get_asset_spec(self, data: DltResourceTranslatorData) -> dg.AssetSpec:
        spec = super().get_asset_spec(data)
        return spec.replace_attributes(
            key=dg.AssetKey([DATASET, data.resource.name]),
            deps=[],
            group_name=GROUP,
            description=f"HubSpot raw table hubspot.{data.resource.name} (dlt, merged on its key).",
        )


class HubSpotExtractConfig(dg.Config):
    mode: Literal["sync", "full", "reconcile", "reconcile_only"] = "sync"
    lag_seconds: float = DEFAULT_LAG_S  # overlap for search results that lag writes


def definitions_pipelines_dir() -> Path:
    """Where the definition-time pipeline lives (never run: it only names the assets for Dagster); a
    private temp dir removed when the process exits."""
    path = Path(tempfile.mkdtemp(prefix="hubspot_handoff_dlt_definitions-"))
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    return path


def build_pipeline(database: str, work_dir: str) -> dlt_lib.Pipeline:
    """The run's pipeline: the ``duckdb`` resource's file, and a private scratch dir per run. The state that
    matters (cursors) is restored from DuckDB each run, and concurrent runs (tests, other databases) must
    never share load packages; writers of one database are serialised by the ``duckdb_write`` pool."""
    return dlt_lib.pipeline(
        pipeline_name=PIPELINE_NAME,
        destination=dlt_lib.destinations.duckdb(database),
        dataset_name=DATASET,
        pipelines_dir=work_dir,
    )


def _types_for(tables: set[str]) -> list[str]:
    """Object types whose API reads feed the selected tables."""
    wanted = {t for t in OBJECT_TYPES if t in tables}
    if "contact_property_history" in tables:
        wanted.add("contacts")
    if "associations" in tables:
        wanted.update(ASSOCIATIONS)
    return [t for t in OBJECT_TYPES if t in wanted]


def _endpoint_filter(table: str):
    if table in OBJECT_TYPES or table == "contact_property_history":
        object_type = "contacts" if table == "contact_property_history" else table
        # /crm/v3/objects/{type}, /crm/objects/2026-09/{type} and the type's Properties API listing
        pattern = re.compile(rf"/(?:objects|properties)/(?:v3/|\d{{4}}-\d{{2}}/)?{re.escape(object_type)}(?:/|$)")
        return lambda endpoint: (bool(pattern.search(endpoint)) and "/associations/" not in endpoint
                                 and not endpoint.endswith("/{name}"))
    if table == "property_options":
        return lambda endpoint: "/properties/" in endpoint and endpoint.endswith("/{name}")
    if table == "associations":
        return lambda endpoint: "/associations/" in endpoint
    if table in ("owners", "owner_teams"):
        return lambda endpoint: "/owners" in endpoint
    return lambda endpoint: "/account-info/" in endpoint


@dlt_assets(
    dlt_source=hubspot_source(None),
    dlt_pipeline=dlt_lib.pipeline(
        pipeline_name=PIPELINE_NAME, destination="duckdb", dataset_name=DATASET, pipelines_dir=str(definitions_pipelines_dir()),
    ),
    name="hubspot_raw",
    dagster_dlt_translator=HubSpotTranslator(),
    pool="duckdb_write",
)
def hubspot_raw_assets(
    context: dg.AssetExecutionContext,
    config: HubSpotExtractConfig,
    dlt: DagsterDltResource,
    hubspot: HubSpotResource,
    duckdb: DuckDBResource,
) -> Iterator[dg.MaterializeResult]:
    started = time.monotonic()
    client = hubspot.get_client()
    tables = {key.path[-1] for key in context.selected_asset_keys}
    report = RunReport()
    source = hubspot_source(client, object_types=_types_for(tables), mode=config.mode, tables=sorted(tables),
                            lag_s=config.lag_seconds, report=report)
    with duckdb.get_connection() as con:
        dropped = drop_incomplete_loads(con)
        before = table_counts(con)
    if dropped:
        context.log.warning("removed the rows of a load that never completed (a run that died while loading; this "
                            "run extracts those records again): " + ", ".join(f"{t} {n:,}" for t, n in dropped.items()))
    with tempfile.TemporaryDirectory(prefix="hubspot_handoff_dlt_") as work_dir:
        pipeline = build_pipeline(duckdb.database, work_dir)
        try:
            with ProgressTicker(lambda: _progress_text(client, report), context.log.info):
                results = list(dlt.run(context=context, dlt_source=source, dlt_pipeline=pipeline,
                                       loader_file_format="parquet"))
        except Exception as err:  # dlt wraps a failing resource: surface the one-line HandoffError
            user_error = _handoff_error(err)
            if user_error is None:
                raise
            raise user_error from None
    with duckdb.get_connection() as con:
        created = create_missing_tables(con)
        merged = set_merged_into(con)
        after = table_counts(con)
    stats = client.stats.as_dict()
    seconds = round(time.monotonic() - started, 3)
    context.log.info(
        f"hubspot extraction ({config.mode}): {stats['total_calls']} API calls, {stats['throttled_429']} 429s, "
        f"{seconds}s"
    )
    emitted = set()
    for result in results:
        table = result.asset_key.path[-1]
        emitted.add(table)
        yield dg.MaterializeResult(asset_key=result.asset_key, metadata={**(result.metadata or {}), **_metadata(table, report, stats, before, after,
                                                                                seconds, merged, config.mode)})
    for key in context.selected_asset_keys:  # tables dlt reported nothing for (no rows this run)
        table = key.path[-1]
        if table not in emitted:
            yield dg.MaterializeResult(
                asset_key=key,
                metadata={**_metadata(table, report, stats, before, after, seconds, merged, config.mode),
                          "created_empty": table in created},
            )


def _progress_text(client, report: RunReport) -> str:
    stats = client.stats.as_dict()
    read = ", ".join(f"{t} {r.objects:,}" for t, r in report.types.items() if r.objects)
    return (f"{stats['total_calls']:,} HubSpot API calls, {stats['throttled_429']} 429s; records read: "
            f"{read or 'none yet'}")


def _handoff_error(err: BaseException) -> HandoffError | None:
    seen: set[int] = set()
    while err is not None and id(err) not in seen:
        if isinstance(err, HandoffError):
            return err
        seen.add(id(err))
        err = getattr(err, "exception", None) or err.__cause__ or err.__context__
    return None


def _metadata(table, report: RunReport, stats: dict, before: dict, after: dict, seconds: float, merged: int,
              mode: str) -> dict:
    in_table = _endpoint_filter(table)
    calls = {endpoint: n for endpoint, n in stats["calls_by_endpoint"].items() if in_table(endpoint)}
    inserted = after.get(table, 0) - before.get(table, 0)
    metadata: dict = {
        "mode": mode,
        "rows_in_table": after.get(table, 0),
        "rows_inserted": max(inserted, 0),
        "api_calls_by_endpoint": dg.MetadataValue.json(calls),
        "api_calls": sum(calls.values()),
        "api_calls_run_total": stats["total_calls"],
        "http_429_seen_run": stats["throttled_429"],
        "retried_5xx_or_dropped_run": stats["server_errors"] + stats["connection_errors"],
        "run_duration_s": seconds,
    }
    object_type = "contacts" if table == "contact_property_history" else table
    type_report = report.types.get(object_type)
    if type_report is not None:
        metadata.update({
            "extract_method": type_report.method,
            "objects_read": type_report.objects,
            "archived_read": type_report.archived,
            "unchanged_skipped": type_report.unchanged_skipped,
            "cursor_before": type_report.cursor_before or "",
            "cursor_value": type_report.cursor_after or "",
            "extract_duration_s": type_report.seconds,
        })
        if table == object_type:
            metadata["rows_updated"] = max(type_report.objects + type_report.archived - max(inserted, 0), 0)
    if table == "contacts":
        metadata["merged_into_id_set"] = merged
    return metadata


hubspot_reconcile_job = dg.define_asset_job(
    "hubspot_reconcile",
    selection=dg.AssetSelection.groups(GROUP),
    config={"ops": {"hubspot_raw": {"config": {"mode": "reconcile"}}}},
    description="Nightly: incremental sync plus the archived listings (marks deleted and merged records).",
)

defs = dg.Definitions(assets=[hubspot_raw_assets], jobs=[hubspot_reconcile_job])
