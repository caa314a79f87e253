"""Blocking data-quality checks on the marts: one ``@asset_check`` per suite entry in
``pipeline/quality/suites.py``, validated with Great Expectations on pandas. A failing check stops the
assets downstream of its mart and reports a sample of the offending ids in its metadata.
"""


import dagster as dg
from dagster_duckdb import DuckDBResource

from pipeline.quality.suites import CHECKS, CheckSpec
from pipeline.quality.validate import run_check


def _asset_check(spec: CheckSpec) -> dg.AssetChecksDefinition:
    @dg.asset_check(asset=dg.AssetKey(["marts", spec.mart]), name=spec.name, description=spec.description,
                    blocking=True, pool="duckdb_write")
    def _check(duckdb: DuckDBResource) -> dg.AssetCheckResult:
        with duckdb.get_connection() as con:
            outcome = run_check(con, spec)
        return dg.AssetCheckResult(
            passed=outcome.passed,
            severity=dg.AssetCheckSeverity.ERROR,
            description=outcome.summary,
            metadata={
                "rows_checked": dg.MetadataValue.int(outcome.rows),
                "unexpected_count": dg.MetadataValue.int(outcome.unexpected_count),
                "failed_expectations": dg.MetadataValue.json(outcome.failed_expectations),
                f"sample_offending_{spec.id_column}s": dg.MetadataValue.json(outcome.sample_ids),
            },
        )

    return _check


ASSET_CHECKS = [_asset_check(spec) for spec in CHECKS]

defs = dg.Definitions(asset_checks=ASSET_CHECKS)
