"""``new_mql_sensor``: one HubSpot search per tick for contacts that just entered an MQL-role stage; one
``mql_handoff`` run per new episode (run key ``<mql_id>:handoff``).

The search filters on HubSpot's stage-entered date (``hs_v2_date_entered_<stage>`` for each stage of the policy's
``mql`` role) >= cursor - overlap, sorted ascending, pages within the tick's budget. Search results lag writes by a
few seconds, so each tick looks back ``OVERLAP`` before the newest instant already seen and drops episodes it
requested before (cursor ``seen``, by ``mql_id``); Dagster's run-key dedupe is the second guard. Idle cost: one
search call per tick (2 a minute at the default 30 s). The cursor is JSON; a malformed one is reset to now with
a logged warning (at worst an MQL inside the overlap is requested again and its run key stops it).
"""


import json
import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import dagster as dg

from pipeline.errors import HandoffError
from pipeline.policy import Policy
from pipeline.resources import HubSpotResource, PolicyResource
from pipeline.settings import mql_poll_seconds, sensors_running
from pipeline.settings import now as clock
from pipeline.sla.crm import search_entered
from pipeline.sla.handoff_job import mql_handoff_job
from pipeline.sla.recheck import parse_ts

SENSOR_NAME = "new_mql_sensor"
OVERLAP = timedelta(minutes=2)
PAGE_SIZE = 100
MAX_PAGES_PER_TICK = 10  # 1,000 new MQLs a tick; the rest next tick (the cursor only moves past what was read)
TICK_BUDGET_S = 20.0
log = logging.getLogger(__name__)


@dataclass
class Cursor:
    since_ms: int  # the newest stage-entered instant read so far
    seen: dict[str, int] = field(default_factory=dict)  # mql_id -> its ms, kept for OVERLAP behind since_ms

    def dump(self) -> str:
        horizon = self.since_ms - int(OVERLAP.total_seconds() * 1000) * 2
        kept = {k: v for k, v in sorted(self.seen.items()) if v >= horizon}
        return json.dumps({"v": 1, "since_ms": self.since_ms, "seen": kept}, separators=(",", ":"))


def load_cursor(raw: str | None, now: datetime) -> tuple[Cursor, str | None]:
    """(cursor, warning). No cursor: start at now (MQLs from before the sensor was switched on are the batch
    lane's: the overdue sensor escalates them). A malformed one is reset to now, with the warning."""
    start = int(now.timestamp() * 1000)
    if not raw:
        return Cursor(start), None
    try:
        data = json.loads(raw)
        cursor = Cursor(int(data["since_ms"]), {str(k): int(v) for k, v in (data.get("seen") or {}).items()})
        if cursor.since_ms <= 0:
            raise ValueError("since_ms must be positive")
        return cursor, None
    except (ValueError, TypeError, KeyError, AttributeError) as err:
        return Cursor(start), f"{SENSOR_NAME}: cursor {raw[:80]!r} is malformed ({err}); reset to {now.isoformat()}"


def run_request(mql_id: str, contact_id: str, stage: str, mql_at: datetime) -> dg.RunRequest:
    return dg.RunRequest(
        run_key=f"{mql_id}:handoff",
        run_config={"ops": {"handoff": {"config": {"mql_id": mql_id}}}},
        # a run that failed to launch (or died) is retried when the instance enables run_retries: the step is
        # idempotent, and the run key is spent, so a retry is the only way a lost launch still hands off
        tags={"handoff/mql_id": mql_id, "handoff/step": "handoff", "handoff/contact_id": contact_id,
              "handoff/stage": stage, "handoff/mql_at": mql_at.isoformat(), "dagster/max_retries": "2"},
    )


@dataclass
class Poll:
    requests: list[dg.RunRequest]
    cursor: Cursor
    calls: int
    found: int


def poll(client, policy: Policy, cursor: Cursor, *, budget_s: float = TICK_BUDGET_S) -> Poll:
    """The tick's search (paged within the budget) -> run requests for episodes not requested before."""
    from pipeline.sla.handoff import mql_id_of  # the step's module (polars): imported by the code server, not by runs

    stages = policy.mql_stages()
    since = cursor.since_ms - int(OVERLAP.total_seconds() * 1000)
    started = time.monotonic()
    after, calls, found = None, 0, 0
    newest = cursor.since_ms
    requests: list[dg.RunRequest] = []
    while True:
        results, after = search_entered(client, stages, since, after=after, limit=PAGE_SIZE)
        calls += 1
        for contact in results:
            props = contact.get("properties") or {}
            stage = props.get("lifecyclestage") or ""
            if stage not in stages:
                continue  # already moved on: no handoff to make (the marts measure the episode)
            entered = parse_ts(props.get(f"hs_v2_date_entered_{stage}"))
            if entered is None:
                continue
            ms = int(round(entered.timestamp() * 1000))
            if ms < since:
                continue
            found += 1
            newest = max(newest, ms)
            mql_id = mql_id_of(str(contact["id"]), entered)
            if mql_id in cursor.seen:
                continue
            cursor.seen[mql_id] = ms
            requests.append(run_request(mql_id, str(contact["id"]), stage, entered))
        if not after or calls >= MAX_PAGES_PER_TICK or time.monotonic() - started > budget_s:
            break
    cursor.since_ms = newest
    return Poll(requests, cursor, calls, found)


def evaluate(raw_cursor: str | None, client, policy: Policy, now: datetime,
             warn=log.warning) -> dg.SensorResult:
    cursor, warning = load_cursor(raw_cursor, now)
    if warning:
        warn(warning)
    result = poll(client, policy, cursor)
    if not result.requests:
        return dg.SensorResult(cursor=result.cursor.dump(), skip_reason=(
            f"no new MQLs since {datetime.fromtimestamp(result.cursor.since_ms / 1000, tz=timezone.utc).isoformat()} "
            f"({result.calls} HubSpot call{'s' if result.calls != 1 else ''})"))
    return dg.SensorResult(run_requests=result.requests, cursor=result.cursor.dump())


def _default_status() -> dg.DefaultSensorStatus:
    try:
        running = sensors_running()
    except HandoffError:
        running = False  # the sensor's own tick reports the configuration problem
    return dg.DefaultSensorStatus.RUNNING if running else dg.DefaultSensorStatus.STOPPED


def _interval() -> int:
    try:
        return mql_poll_seconds()
    except HandoffError:
        return 30


@dg.sensor(
    name=SENSOR_NAME,
    job=mql_handoff_job,
    minimum_interval_seconds=_interval(),
    default_status=_default_status(),
    description="Every HANDOFF_MQL_POLL_SECONDS: one HubSpot search for contacts that just entered an MQL stage; "
                "requests one mql_handoff run per new episode (route if unowned, task, brief to the owner).",
)
def new_mql_sensor(context: dg.SensorEvaluationContext, hubspot: HubSpotResource, policy: PolicyResource):
    try:
        mql_poll_seconds()
        loaded = policy.load()
        client = hubspot.get_client("lane")
        now = clock().astimezone(timezone.utc)
    except HandoffError as err:
        return dg.SkipReason(f"configuration problem: {err}")
    try:
        from pipeline.sla.moved_cursor import carried_cursor

        return evaluate(carried_cursor(context, SENSOR_NAME), client, loaded, now, warn=context.log.warning)
    except HandoffError as err:  # HubSpot down or refusing: skip this tick, keep the cursor
        return dg.SkipReason(f"HubSpot search failed, retrying next tick: {str(err)[:300]}")
