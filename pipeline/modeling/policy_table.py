"""``staging.policy``: the policy values and the clock ("now") the SQL models read, as one row of data."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime

import duckdb

from pipeline.policy import STANDARD_LIFECYCLE_STAGES, Policy


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
        # the portal's stages per role (docs/contracts.md "Episode rules"); HubSpot's standard internal values
        # tell a portal's own (custom) stages apart
        "mql_stages": list(policy.lifecycle_stages.mql),
        "sql_stages": list(policy.lifecycle_stages.sql),
        "opportunity_stages": list(policy.lifecycle_stages.opportunity),
        "customer_stages": list(policy.lifecycle_stages.customer),
        "standard_stages": list(STANDARD_LIFECYCLE_STAGES),
        "meeting_outcomes_excluded": list(policy.touches.meeting_outcomes_excluded),
    }


def policy_hash(policy: Policy) -> str:
    return hashlib.sha256(json.dumps(model_policy_values(policy), sort_keys=True).encode()).hexdigest()[:16]


def write_policy_table(con: duckdb.DuckDBPyConnection, policy: Policy, now: datetime) -> None:
    values = model_policy_values(policy)
    con.execute(
        """
        CREATE OR REPLACE TABLE staging.policy AS
        SELECT CAST($now AS TIMESTAMPTZ) AS now_at, $sla_clock AS sla_clock,
               CAST($sla_minutes_demo_request AS INTEGER) AS sla_minutes_demo_request,
               CAST($sla_minutes_other AS INTEGER) AS sla_minutes_other,
               CAST($demo_pattern AS VARCHAR) AS demo_pattern, CAST($demo_forms AS VARCHAR[]) AS demo_forms,
               CAST($logging_skew_minutes AS DOUBLE) AS logging_skew_minutes,
               CAST($business_timezone AS VARCHAR) AS business_timezone,
               CAST($business_weekdays AS INTEGER[]) AS business_weekdays,
               CAST($business_start_minute AS INTEGER) AS business_start_minute,
               CAST($business_end_minute AS INTEGER) AS business_end_minute,
               CAST($minimum_attempts AS INTEGER) AS minimum_attempts,
               CAST($mql_stages AS VARCHAR[]) AS mql_stages, CAST($sql_stages AS VARCHAR[]) AS sql_stages,
               CAST($opportunity_stages AS VARCHAR[]) AS opportunity_stages,
               CAST($customer_stages AS VARCHAR[]) AS customer_stages,
               CAST($standard_stages AS VARCHAR[]) AS standard_stages,
               CAST($meeting_outcomes_excluded AS VARCHAR[]) AS meeting_outcomes_excluded,
               CAST($policy_hash AS VARCHAR) AS policy_hash
        """,
        {**values, "now": now, "policy_hash": policy_hash(policy)},
    )
