"""``staging.policy``: the policy values and the clock ("now") the dbt models read, as one row of data.

Written right before every dbt invocation (the Dagster model step; by hand: ``python -m
pipeline.modeling.policy_table``, which honours HANDOFF_DB, HANDOFF_POLICY and HANDOFF_NOW), read by the models
through the ``policy_row()`` macro (``sql/macros/policy.sql``): no policy value is written in SQL.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from pathlib import Path

import duckdb

from pipeline.modeling.raw_columns import project_dir, project_files
from pipeline.policy import STANDARD_LIFECYCLE_STAGES, Policy

_LISTS = {"demo_forms", "mql_stages", "sql_stages", "opportunity_stages", "customer_stages", "standard_stages",
          "meeting_outcomes_excluded"}
_TYPES = {"sla_minutes_demo_request": "INTEGER", "sla_minutes_other": "INTEGER", "logging_skew_minutes": "DOUBLE",
          "business_weekdays": "INTEGER[]", "business_start_minute": "INTEGER", "business_end_minute": "INTEGER",
          "minimum_attempts": "INTEGER", **{name: "VARCHAR[]" for name in _LISTS}}


def model_policy_values(policy: Policy) -> dict:
    """The policy settings the metrics depend on (routing, managers and write mode do not change them)."""
    hours = policy.business_hours
    return {
        "sla_clock": policy.sla.clock,
        "sla_minutes_demo_request": policy.sla.minutes.demo_request,
        "sla_minutes_other": policy.sla.minutes.other,
        "demo_pattern": policy.demo_recognition.pattern,
        "demo_forms": list(policy.demo_recognition.forms),
        "logging_skew_minutes": float(policy.demo_recognition.logging_skew_minutes),
        "business_timezone": hours.timezone,
        "business_weekdays": [n + 1 for n in hours.weekday_numbers],  # ISO day of week, Monday = 1
        "business_start_minute": hours.start.hour * 60 + hours.start.minute,
        "business_end_minute": hours.end.hour * 60 + hours.end.minute,
        "minimum_attempts": policy.minimum_attempts,
        # the portal's stages per role (docs/contracts.md "Episode rules"); HubSpot's standard internal values,
        # in their standard order, tell a portal's own (custom) stages apart
        "mql_stages": list(policy.lifecycle_stages.mql),
        "sql_stages": list(policy.lifecycle_stages.sql),
        "opportunity_stages": list(policy.lifecycle_stages.opportunity),
        "customer_stages": list(policy.lifecycle_stages.customer),
        "standard_stages": list(STANDARD_LIFECYCLE_STAGES),
        "meeting_outcomes_excluded": [v.upper() for v in policy.touches.meeting_outcomes_excluded],
    }


def models_hash(root: Path | None = None) -> str:
    """A hash of the dbt project's files (models, macros, yml): an upgraded or edited model changes it."""
    root = root or project_dir()
    digest = hashlib.sha256()
    for path in project_files(root):
        digest.update(f"{path.relative_to(root).as_posix()}\0".encode() + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def policy_hash(policy: Policy) -> str:
    """What the episode marts' rows depend on besides the raw data and the clock: the policy's values and the
    models' SQL. A change rebuilds the incremental models fully (rows computed by other rules or other SQL)."""
    state = {"policy": model_policy_values(policy), "models": models_hash()}
    return hashlib.sha256(json.dumps(state, sort_keys=True).encode()).hexdigest()[:16]


def write_policy_table(con: duckdb.DuckDBPyConnection, policy: Policy, now: datetime) -> None:
    values = model_policy_values(policy)
    columns = ", ".join(f"CAST(${name} AS {_TYPES.get(name, 'VARCHAR')}) AS {name}" for name in values)
    con.execute("CREATE SCHEMA IF NOT EXISTS staging")
    con.execute(f"CREATE OR REPLACE TABLE staging.policy AS SELECT CAST($now AS TIMESTAMPTZ) AS now_at, {columns}, "
                "CAST($policy_hash AS VARCHAR) AS policy_hash",
                {**values, "now": now, "policy_hash": policy_hash(policy)})


if __name__ == "__main__":
    import os

    from pipeline.policy import load_policy
    from pipeline.settings import now as clock_now
    from pipeline.settings import parse_db_path, parse_policy_path

    with duckdb.connect(str(parse_db_path(os.environ.get("HANDOFF_DB")))) as connection:
        write_policy_table(connection, load_policy(parse_policy_path(os.environ.get("HANDOFF_POLICY"))), clock_now())
