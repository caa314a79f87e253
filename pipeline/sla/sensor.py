"""``overdue_mql_sensor``: finds episodes due for a ladder step and requests one ``sla_enforcement`` run each.

It opens the *published* read-only copy of the DuckDB for one query (a missing or locked file is a skip
with the reason), keeps the latest untouched episode of each contact still in the MQL stage within
``policy.enforcement_lookback_days``, computes each ladder step's due time, and drops steps already
recorded in the copy's ``ops.enforcement_log`` or requested before (cursor). Run keys are
``<mql_id>:<step>``, so Dagster never launches the same step twice either. A step the copy shows still
``started`` 10 minutes on (its run crashed) gets one resume request (run key ``...:resume:<started ms>``).
"""


import json
import logging
import os
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from typing import TYPE_CHECKING

import dagster as dg
import duckdb

from pipeline.errors import ConfigError, HandoffError
from pipeline.modeling.raw_columns import raw_relation
from pipeline.policy import Policy
from pipeline.resources import PolicyResource
from pipeline.settings import load_settings, sensors_running
from pipeline.settings import now as clock
from pipeline.sla.job import sla_enforcement_job
from pipeline.sla.ladder import due_steps

if TYPE_CHECKING:  # polars is imported where it is used: the lane's code location loads without it
    import polars as pl

SENSOR_NAME = "overdue_mql_sensor"
_log = logging.getLogger(__name__)
DEFAULT_INTERVAL_S = 60
INTERVAL_ENV = "HANDOFF_SENSOR_INTERVAL_SECONDS"

CANDIDATES_SQL = """
WITH recent AS (
    SELECT mql_id, contact_id, mql_at, sla_minutes, first_touch_at, opportunity_at,
           row_number() OVER (PARTITION BY contact_id ORDER BY mql_at DESC) AS rn
    FROM marts.speed_to_lead
    WHERE mql_at >= ? AND mql_at <= ?
)
SELECT r.mql_id, r.contact_id, r.mql_at, r.sla_minutes
FROM recent r JOIN {contacts} c ON c.id = r.contact_id
WHERE r.rn = 1 AND r.first_touch_at IS NULL AND list_contains(?, c.lifecyclestage)  -- still in an mql-role stage
  -- a deal opened for the lead means sales has it (`handoff status` lists the same candidates)
  AND r.opportunity_at IS NULL
  AND NOT coalesce(c.archived, false) AND c.merged_into_id IS NULL
"""


def interval_seconds() -> int:
    raw = os.environ.get(INTERVAL_ENV, "").strip()
    if not raw:
        return DEFAULT_INTERVAL_S
    if not raw.isdigit() or int(raw) < 1:
        raise ConfigError(f"{INTERVAL_ENV}={raw!r} must be a whole number of seconds (default {DEFAULT_INTERVAL_S})")
    return int(raw)


STALE_AFTER = timedelta(minutes=10)


def _default_status() -> dg.DefaultSensorStatus:
    """``HANDOFF_SENSORS`` (``pipeline.settings.sensors_running``); a bad value leaves the sensor stopped."""
    try:
        running = sensors_running()
    except HandoffError:
        running = False
    return dg.DefaultSensorStatus.RUNNING if running else dg.DefaultSensorStatus.STOPPED


@dataclass
class Evaluation:
    due: "pl.DataFrame | None"  # mql_id, contact_id, step, due_at, mql_at: steps to request now
    skip: str | None = None
    considered: int = 0
    stale: list[dict] | None = None  # steps a crashed run left 'started' (published ops.enforcement_log)


def _columns(con, schema: str, table: str) -> set[str]:
    rows = con.execute("SELECT column_name FROM information_schema.columns WHERE table_schema = ? AND table_name = ?",
                       [schema, table]).fetchall()
    return {r[0] for r in rows}


def main_db_of(published: Path) -> Path:
    """The main DB a published copy was made from (``settings.published_db_path`` inverted)."""
    return published.with_name(published.name.replace(".published", "", 1))


LANE_EPISODES_SQL = """
SELECT mql_id, contact_id, mql_at, sla_minutes FROM ops.lane_episodes
WHERE mql_at >= ? AND mql_at <= ?
  AND mql_id IN (SELECT mql_id FROM ops.enforcement_log WHERE step = 'handoff' AND status IN ('done', 'dry_run'))
"""


def _lane_state(main_db: Path, since: datetime,
                until: datetime) -> "tuple[pl.DataFrame | None, pl.DataFrame, list[dict]]":
    """From the lane's own file: its episodes (handed off, in the lookback), the steps it has recorded, and steps
    a crashed run left ``started`` (fresher than the published copy, which has them only after a build)."""
    import polars as pl

    from pipeline.sla.lane_db import LaneBusyError, read_lane

    handled = pl.DataFrame(schema={"mql_id": pl.Utf8, "step": pl.Utf8})
    try:
        with read_lane(main_db) as con:
            if con is None:
                return None, handled, []
            episodes = pl.from_arrow(con.sql(LANE_EPISODES_SQL, params=[since, until]).to_arrow_table())
            handled = pl.from_arrow(con.sql("SELECT mql_id, step FROM ops.enforcement_log").to_arrow_table())
            handled = handled.select(pl.col("mql_id").cast(pl.Utf8), pl.col("step").cast(pl.Utf8))
            cursor = con.execute(
                """SELECT mql_id, step, contact_id, started_at FROM ops.enforcement_log
                   WHERE status = 'started' AND started_at >= ? AND started_at <= ? ORDER BY started_at, mql_id""",
                [since, until - STALE_AFTER])
            stale = [dict(zip(("mql_id", "step", "contact_id", "started_at"), row)) for row in cursor.fetchall()]
            return episodes, handled, stale
    except (LaneBusyError, duckdb.Error):
        return None, handled, []  # busy this tick: the published copy and the cursor still hold the rest


def find_due_steps(published: Path, policy: Policy, now: datetime, main_db: Path | None = None) -> Evaluation:
    """The ladder steps due at ``now`` according to the published copy and the lane's own episodes (minus steps
    either records as handled)."""
    since = now - timedelta(days=policy.enforcement_lookback_days)
    lane_episodes, lane_handled, lane_stale = _lane_state(main_db or main_db_of(published), since, now)
    if not published.exists():
        if lane_episodes is not None and lane_episodes.height:
            due = due_steps(lane_episodes, policy, now).join(lane_handled, on=["mql_id", "step"], how="anti")
            return Evaluation(due, None, lane_episodes.height, lane_stale)
        return Evaluation(None, f"no published database at {published} yet: the asset job has not built the marts")
    try:
        con = duckdb.connect(str(published), read_only=True)
    except duckdb.Error as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        return Evaluation(None, f"published database {published} cannot be opened right now ({first[:160]}); "
                                "will retry next tick")
    try:
        return _query(con, published, policy, now, lane_episodes, lane_handled, lane_stale)
    except duckdb.Error as err:
        first = (str(err).strip().splitlines() or [type(err).__name__])[0]
        return Evaluation(None, f"published database {published} could not be read ({first[:200]})")
    finally:
        con.close()


def _query(con, published: Path, policy: Policy, now: datetime, lane_episodes: "pl.DataFrame | None" = None,
           lane_handled: "pl.DataFrame | None" = None, lane_stale: list[dict] | None = None) -> Evaluation:
    """The one read: untouched recent episodes still in MQL, plus what the copy's ops log already holds; then
    the lane's episodes the marts have not seen (the live re-check of each step decides on fresh data)."""
    import polars as pl

    since = now - timedelta(days=policy.enforcement_lookback_days)
    if not _columns(con, "marts", "speed_to_lead"):
        if lane_episodes is not None and lane_episodes.height:
            due = due_steps(lane_episodes, policy, now).join(lane_handled, on=["mql_id", "step"], how="anti")
            return Evaluation(due, None, lane_episodes.height, lane_stale)
        return Evaluation(None, f"{published} has no marts.speed_to_lead yet: the marts have not been built")
    sql = CANDIDATES_SQL.format(contacts=raw_relation(con, "contacts"))
    candidates = pl.from_arrow(con.sql(sql, params=[since, now, policy.mql_stages()]).to_arrow_table())
    if lane_episodes is not None and lane_episodes.height:
        seen = pl.from_arrow(con.sql("SELECT mql_id FROM marts.speed_to_lead WHERE mql_at >= ?",
                                     params=[since]).to_arrow_table())
        unseen = lane_episodes.join(seen, on="mql_id", how="anti")
        if unseen.height:
            unseen = unseen.select(pl.col("mql_id").cast(pl.Utf8), pl.col("contact_id").cast(pl.Utf8),
                                   pl.col("mql_at").dt.convert_time_zone("UTC"),
                                   pl.col("sla_minutes").cast(pl.Int32))
            base = candidates.select(pl.col("mql_id").cast(pl.Utf8), pl.col("contact_id").cast(pl.Utf8),
                                     pl.col("mql_at").dt.convert_time_zone("UTC"),
                                     pl.col("sla_minutes").cast(pl.Int32))
            # an episode the marts have not seen is the contact's newest: it replaces an older mart candidate
            candidates = pl.concat([base.join(unseen.select("contact_id"), on="contact_id", how="anti"), unseen])
    handled = pl.DataFrame(schema={"mql_id": pl.Utf8, "step": pl.Utf8})
    stale: list[dict] = []
    if _columns(con, "ops", "enforcement_log"):
        if candidates.height:
            handled = pl.from_arrow(con.sql("SELECT mql_id, step FROM ops.enforcement_log").to_arrow_table())
            handled = handled.select(pl.col("mql_id").cast(pl.Utf8), pl.col("step").cast(pl.Utf8))
        cursor = con.execute(
            """SELECT mql_id, step, contact_id, started_at FROM ops.enforcement_log
               WHERE status = 'started' AND started_at >= ? AND started_at <= ? ORDER BY started_at, mql_id""",
            [since, now - STALE_AFTER])
        stale = [dict(zip(("mql_id", "step", "contact_id", "started_at"), row)) for row in cursor.fetchall()]
    due = due_steps(candidates, policy, now)
    if handled.height:
        due = due.join(handled, on=["mql_id", "step"], how="anti")
    if lane_handled is not None and lane_handled.height:
        due = due.join(lane_handled, on=["mql_id", "step"], how="anti")
    known = {(r["mql_id"], r["step"]) for r in stale}
    stale += [r for r in (lane_stale or []) if (r["mql_id"], r["step"]) not in known]
    return Evaluation(due, None, candidates.height, stale)


def run_key(mql_id: str, step: str) -> str:
    return f"{mql_id}:{step}"


def resume_request(row: dict) -> dg.RunRequest:
    """Finish a step a crashed run left half-done (its own run key: the original one is spent)."""
    started = int(row["started_at"].timestamp() * 1000)
    return dg.RunRequest(
        run_key=f"{run_key(row['mql_id'], row['step'])}:resume:{started}",
        run_config={"ops": {"enforce_step": {"config": {"mql_id": row["mql_id"], "step": row["step"]}}}},
        tags={"handoff/mql_id": row["mql_id"], "handoff/step": row["step"], "handoff/contact_id": row["contact_id"],
              "handoff/resume": "true"},
    )


def run_request(row: dict) -> dg.RunRequest:
    return dg.RunRequest(
        run_key=run_key(row["mql_id"], row["step"]),
        run_config={"ops": {"enforce_step": {"config": {"mql_id": row["mql_id"], "step": row["step"]}}}},
        tags={"handoff/mql_id": row["mql_id"], "handoff/step": row["step"], "handoff/contact_id": row["contact_id"],
              "handoff/due_at": row["due_at"].isoformat()},
    )


def load_cursor(raw: str | None, log: logging.Logger | None = None) -> dict[str, int]:
    """Run keys already requested -> the episode's mql_at (epoch ms), for pruning past the lookback.

    A cursor that is not this sensor's JSON (hand-edited, truncated, another version) is reset with a logged
    warning, never a crash: the due steps are requested again and their run keys (Dagster's, and
    ``enforce_once``'s check of the instance's runs) keep each step to one run."""
    if not raw:
        return {}
    try:
        data = json.loads(raw)
        return {str(k): int(v) for k, v in (data.get("requested") or {}).items()}
    except (ValueError, TypeError, AttributeError) as err:
        (log or _log).warning("%s: unreadable cursor reset (%s: %s); run keys keep each step to one run",
                              SENSOR_NAME, type(err).__name__, str(err)[:120])
        return {}


def dump_cursor(requested: dict[str, int], now: datetime, policy: Policy) -> str:
    horizon = (now - timedelta(days=policy.enforcement_lookback_days + 1)).timestamp() * 1000
    kept = {k: v for k, v in sorted(requested.items()) if v >= horizon}
    return json.dumps({"v": 1, "evaluated_at": now.isoformat(), "requested": kept}, separators=(",", ":"))


def evaluate(cursor: str | None, policy: Policy, now: datetime, published: Path,
             log: logging.Logger | None = None) -> dg.SensorResult | dg.SkipReason:
    """One tick, without the Dagster context (used by the sensor, ``enforce_once`` and the benchmark)."""
    evaluation = find_due_steps(published, policy, now)
    if evaluation.skip:
        return dg.SkipReason(evaluation.skip)
    requested = load_cursor(cursor, log)
    new = [r for r in evaluation.due.iter_rows(named=True) if run_key(r["mql_id"], r["step"]) not in requested]
    for row in new:
        requested[run_key(row["mql_id"], row["step"])] = int(row["mql_at"].timestamp() * 1000)
    requests = [run_request(r) for r in new]
    for row in evaluation.stale or []:
        request = resume_request(row)
        if request.run_key not in requested:
            requested[request.run_key] = int(row["started_at"].timestamp() * 1000)
            requests.append(request)
    if not requests:
        return dg.SensorResult(
            skip_reason=f"no new ladder steps due ({evaluation.considered} untouched episodes in the lookback)",
            cursor=dump_cursor(requested, now, policy))
    return dg.SensorResult(run_requests=requests, cursor=dump_cursor(requested, now, policy))


@dg.sensor(
    name=SENSOR_NAME,
    job=sla_enforcement_job,
    minimum_interval_seconds=interval_seconds(),
    default_status=_default_status(),
    description="Requests an sla_enforcement run for each MQL episode whose next ladder step is due "
                "(manager escalation at 1x SLA, reassignment at 2x) with no outreach yet.",
)
def overdue_mql_sensor(context: dg.SensorEvaluationContext, policy: PolicyResource):
    try:
        loaded = policy.load()
        published = load_settings().published_db_path
        now = clock().astimezone(timezone.utc)
    except HandoffError as err:
        return dg.SkipReason(f"configuration problem: {err}")
    from pipeline.sla.moved_cursor import carried_cursor

    return evaluate(carried_cursor(context, SENSOR_NAME), loaded, now, published, context.log)
