"""The ``sla_enforcement`` job: one op that runs one ladder step for one episode, then recovers leftovers.

Run config (what the sensor sends): ``ops.enforce_step.config = {mql_id, step}`` (``write_mode`` overrides the
policy's when set). The op is in no Dagster pool (not ``duckdb_write``): it writes the ops tables of the
lane's own DuckDB file, whose lock ``open_lane`` waits for (``pipeline/sla/lane_db.py``), and reads synced data from the published copy (``pipeline/sla/lane_db.py``), so an hourly
sync holding the main DB's writer never delays it.
"""


from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import dagster as dg
from dagster_duckdb import DuckDBResource

from pipeline.errors import ConfigError
from pipeline.resources import HubSpotResource, PolicyResource, SlackResource
from pipeline.settings import now as clock
from pipeline.settings import published_db_path
from pipeline.sla.lane_db import open_lane
from pipeline.sla.ops_tables import status_counts

if TYPE_CHECKING:  # the step's code (polars, routing, the HubSpot and Slack clients) loads when a step runs:
    from pipeline.sla.steps import Enforcer  # the lane's code location, and each run's process, load without it

JOB_NAME = "sla_enforcement"


class EnforceStepConfig(dg.Config):
    mql_id: str
    step: str
    write_mode: str = ""  # empty: the policy's write_mode


@contextmanager
def open_enforcer(
    duckdb: DuckDBResource, hubspot: HubSpotResource, policy: PolicyResource, slack: SlackResource, *,
    run_id: str | None = None, write_mode: str | None = None, delivery_backoff_s: float = 0.5,
) -> Iterator["Enforcer"]:
    """An :class:`Enforcer` on a lane connection (``pipeline/sla/lane_db.py``), live HubSpot and Slack."""
    from pipeline.alerts.slack import SlackWebhookSender
    from pipeline.sla.crm import LiveCrm
    from pipeline.sla.steps import Enforcer

    loaded = policy.load()
    mode = write_mode or loaded.write_mode
    if mode not in ("dry_run", "live"):
        raise ConfigError(f"write_mode={mode!r}: use dry_run or live")
    sender = SlackWebhookSender(slack.url()) if slack.url() else None
    crm = LiveCrm(hubspot.get_client("lane"))
    main = Path(duckdb.database)
    with open_lane(main, published_db_path(main)) as con:
        yield Enforcer(con=con, crm=crm, policy=loaded, sender=sender, now=clock, write_mode=mode,
                       run_id=run_id, delivery_backoff_s=delivery_backoff_s)


@dg.op(
    description="Re-check the episode live in HubSpot, then escalate to the manager or reassign by routing rules, "
                "record it in ops.*, and deliver the alert (once).",
)
def enforce_step(
    context: dg.OpExecutionContext, config: EnforceStepConfig, duckdb: DuckDBResource, hubspot: HubSpotResource,
    policy: PolicyResource, slack: SlackResource,
) -> dict:
    from pipeline.sla.steps import STEPS

    if config.step not in STEPS:
        raise ConfigError(f"step={config.step!r}: expected one of {', '.join(STEPS)}")
    with open_enforcer(duckdb, hubspot, policy, slack, run_id=context.run_id,
                       write_mode=config.write_mode or None) as enforcer:
        outcome = enforcer.run(config.mql_id, config.step)
        recovery = enforcer.recover()
        counts = status_counts(enforcer.con)
    for table, by_status in counts.items():
        context.log_event(dg.AssetMaterialization(
            asset_key=["ops", table], description=f"{config.mql_id} {config.step}: {outcome.status}",
            metadata={"rows": sum(by_status.values()), "by_status" if table != "routing_decisions" else "by_rule":
                      dg.MetadataValue.json(by_status)}))
    context.add_output_metadata({
        "mql_id": config.mql_id, "step": config.step, "status": outcome.status, "reason": outcome.reason,
        "alert_id": outcome.alert_id or "", "write_mode": enforcer.write_mode,
        "hubspot_writes": dg.MetadataValue.json(outcome.writes),
        "recovery": dg.MetadataValue.json(recovery),
    })
    context.log.info(f"{config.mql_id} {config.step}: {outcome.status} ({outcome.reason})")
    return {"outcome": outcome.as_dict(), "recovery": recovery}


@dg.job(name=JOB_NAME, description="One SLA ladder step for one MQL episode (requested by overdue_mql_sensor).",
        tags={"handoff/layer": "enforcement"}, executor_def=dg.in_process_executor)  # one op: no step process
def sla_enforcement_job() -> None:
    enforce_step()
