"""The escalation ladder: when each step of an episode falls due, and which steps are due now.

Step ``k`` with ``at_sla_multiple = m`` is due ``m x sla_minutes`` after ``mql_at`` on the policy's clock
(wall clock, or business minutes inside the business-hours window).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from pipeline.policy import BusinessHours, Policy

if TYPE_CHECKING:  # polars is imported where it is used: the lane's code location loads without it
    import polars as pl


def add_business_minutes(start: datetime, minutes: float, hours: BusinessHours) -> datetime:
    """The instant ``minutes`` of business time after ``start`` (time outside the window does not count).

    Business time is real elapsed time inside each day's local window, so on a daylight-saving day the window
    is an hour shorter or longer (arithmetic in UTC, as staging.business_calendar; tests/test_business_clocks.py)."""
    tz = ZoneInfo(hours.timezone)
    at = start.astimezone(timezone.utc)
    day = at.astimezone(tz).date()
    remaining = timedelta(minutes=minutes)
    days = set(hours.weekday_numbers)
    for _ in range(3660):  # ten years of days: more than any SLA
        opens = datetime.combine(day, hours.start, tz).astimezone(timezone.utc)
        closes = datetime.combine(day, hours.end, tz).astimezone(timezone.utc)
        if day.weekday() in days and at < closes:
            begin = max(at, opens)
            if begin + remaining <= closes:
                return begin + remaining
            remaining -= closes - begin
        day += timedelta(days=1)
    raise ValueError("business-hours window never opens")  # unreachable: the policy requires a weekday


def step_due_at(mql_at: datetime, sla_minutes: float, multiple: float, policy: Policy) -> datetime:
    minutes = sla_minutes * multiple
    if policy.sla.clock == "business":
        return add_business_minutes(mql_at, minutes, policy.business_hours)
    return mql_at + timedelta(minutes=minutes)


def due_steps(candidates: pl.DataFrame, policy: Policy, now: datetime) -> pl.DataFrame:
    """Untouched episodes (``mql_id``, ``contact_id``, ``mql_at``, ``sla_minutes``) -> the steps due at ``now``.

    Returns ``mql_id``, ``contact_id``, ``step``, ``due_at``, ``mql_at``, one row per due step.
    """
    import polars as pl

    schema = {"mql_id": pl.Utf8, "contact_id": pl.Utf8, "step": pl.Utf8,
              "due_at": pl.Datetime("us", "UTC"), "mql_at": pl.Datetime("us", "UTC")}
    if candidates.height == 0:
        return pl.DataFrame(schema=schema)
    frames = []
    base = candidates.select(
        pl.col("mql_id").cast(pl.Utf8), pl.col("contact_id").cast(pl.Utf8),
        pl.col("mql_at").dt.convert_time_zone("UTC").cast(pl.Datetime("us", "UTC")),
        pl.col("sla_minutes").cast(pl.Float64),
    )
    for step in policy.overdue_steps():  # the handoff (step 0) is requested by new_mql_sensor
        if policy.sla.clock == "business":
            due = base.with_columns(pl.struct("mql_at", "sla_minutes").map_elements(
                lambda r, m=step.at_sla_multiple: step_due_at(r["mql_at"], r["sla_minutes"], m, policy),
                return_dtype=pl.Datetime("us", "UTC")).alias("due_at"))
        else:
            due = base.with_columns(
                (pl.col("mql_at") + pl.duration(microseconds=(pl.col("sla_minutes") * step.at_sla_multiple
                                                               * 60_000_000).cast(pl.Int64))).alias("due_at"))
        frames.append(due.with_columns(pl.lit(step.step).alias("step")))
    out = pl.concat(frames).filter(pl.col("due_at") <= pl.lit(now.astimezone(timezone.utc)))
    return out.select(list(schema)).sort(["due_at", "mql_id", "step"])
