"""Dagster materialization metadata for a built model: column schema, row count, how it was built."""

from __future__ import annotations

import dagster as dg
import duckdb

from pipeline.modeling.runner import BuildResult


def table_schema(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> dg.TableSchema:
    rows = con.execute(
        "SELECT column_name, data_type, is_nullable FROM information_schema.columns "
        "WHERE table_schema = ? AND table_name = ? ORDER BY ordinal_position", [schema, table]
    ).fetchall()
    return dg.TableSchema(columns=[
        dg.TableColumn(name, dtype.lower(), constraints=dg.TableColumnConstraints(nullable=nullable == "YES"))
        for name, dtype, nullable in rows
    ])


def build_metadata(con: duckdb.DuckDBPyConnection, result: BuildResult) -> dict[str, object]:
    schema, _, table = result.model.partition(".")
    metadata: dict[str, object] = {
        "dagster/column_schema": table_schema(con, schema, table),
        "dagster/row_count": dg.MetadataValue.int(result.rows),
        "dagster/table_name": dg.MetadataValue.text(result.model),
        "build_mode": dg.MetadataValue.text(result.mode),
        "build_seconds": dg.MetadataValue.float(round(result.seconds, 3)),
    }
    if result.reason:
        metadata["build_reason"] = dg.MetadataValue.text(result.reason)
    if result.scope_contacts is not None:
        metadata["contacts_rebuilt"] = dg.MetadataValue.int(result.scope_contacts)
    return metadata
