"""The ``mql_handoff`` job: one op, ``handoff``, running ladder step 0 for one new MQL episode.

Run config (what ``new_mql_sensor`` sends): ``ops.handoff.config = {mql_id}`` (``write_mode`` overrides the
policy's). No Dagster pool (never ``duckdb_write``): the lane's own DuckDB file serialises the lane's writers by
its lock, which ``open_lane`` waits for, so a sync holding the main DB does not delay a handoff, and handoff runs
start their processes side by side instead of one after another (``pipeline/sla/lane_db.py``). The run's output metadata shows the decision, the task and the message.
"""


import json

import dagster as dg
from dagster_duckdb import DuckDBResource

from pipeline.resources import HubSpotResource, PolicyResource, SlackResource
from pipeline.sla.ops_tables import status_counts

JOB_NAME = "mql_handoff"


class HandoffConfig(dg.Config):
    mql_id: str
    write_mode: str = ""  # empty: the policy's write_mode


def handoff_details(con, mql_id: str) -> dict:
    """What the UI shows for one handoff: decision, task, message (from the lane's ops tables)."""
    decision = con.execute(
        """SELECT to_owner_id, from_owner_id, rule, reason, owner_write, task_write, task_id, task_due_at
           FROM lane.ops.routing_decisions WHERE mql_id = ? AND step = 'handoff'""", [mql_id]).fetchall()
    alert = con.execute("SELECT recipient, status, attempts, last_error, brief FROM lane.ops.alerts "
                        "WHERE mql_id = ? AND step = 'handoff'", [mql_id]).fetchall()
    out: dict = {"decision": None, "task": None, "message": None}
    if decision:
        to, frm, rule, reason, ow, tw, task_id, due = decision[0]
        out["decision"] = {"owner_id": to, "previous_owner_id": frm, "rule": rule, "reason": reason,
                           "owner_write": ow}
        out["task"] = {"task_id": task_id, "write": tw, "due_at": due.isoformat() if due else None}
    if alert:
        recipient, status, attempts, error, brief = alert[0]
        brief = json.loads(brief)
        out["message"] = {"recipient": recipient, "status": status, "attempts": attempts, "last_error": error,
                          "title": brief.get("title"), "mql_type": (brief.get("qualified") or {}).get("mql_type"),
                          "sla_due_at": (brief.get("sla") or {}).get("due_at"), "link": brief.get("link")}
    return out


@dg.op(
    description="Read the new MQL live in HubSpot, route it when unowned, create the owner's task due at the SLA "
                "due time and send the owner the handoff brief (each write once).",
)
def handoff(context: dg.OpExecutionContext, config: HandoffConfig, duckdb: DuckDBResource, hubspot: HubSpotResource,
            policy: PolicyResource, slack: SlackResource) -> dict:
    from pipeline.sla.handoff import Handoff  # the step's code (polars, routing) loads when the step runs
    from pipeline.sla.job import open_enforcer

    with open_enforcer(duckdb, hubspot, policy, slack, run_id=context.run_id,
                       write_mode=config.write_mode or None) as enforcer:
        outcome = Handoff(enforcer).run(config.mql_id)
        recovery = enforcer.recover()
        details = handoff_details(enforcer.con, outcome.mql_id)  # the episode's id (history entry's instant)
        counts = status_counts(enforcer.con)
    for table, by_status in counts.items():
        context.log_event(dg.AssetMaterialization(
            asset_key=["ops", table], description=f"{outcome.mql_id} handoff: {outcome.status}",
            metadata={"rows": sum(by_status.values()), "by_status" if table != "routing_decisions" else "by_rule":
                      dg.MetadataValue.json(by_status)}))
    decision, task, message = details["decision"] or {}, details["task"] or {}, details["message"] or {}
    context.add_output_metadata({
        "mql_id": outcome.mql_id, "requested_mql_id": config.mql_id, "status": outcome.status, "reason": outcome.reason,
        "owner": decision.get("owner_id") or "", "rule": decision.get("rule") or "",
        "task_id": task.get("task_id") or "", "task_due_at": task.get("due_at") or "",
        "message_status": message.get("status") or "", "recipient": message.get("recipient") or "",
        "decision": dg.MetadataValue.json(decision), "task": dg.MetadataValue.json(task),
        "message": dg.MetadataValue.json(message), "hubspot_writes": dg.MetadataValue.json(outcome.writes),
        "write_mode": enforcer.write_mode, "recovery": dg.MetadataValue.json(recovery),
    })
    context.log.info(f"{outcome.mql_id} handoff: {outcome.status} ({outcome.reason})")
    return {"outcome": outcome.as_dict(), "details": details, "recovery": recovery}


# one op: run it in the run's own process (no second process per step: a handoff is latency-bound)
@dg.job(name=JOB_NAME, description="The handoff of one new MQL (requested by new_mql_sensor).",
        tags={"handoff/layer": "enforcement"}, executor_def=dg.in_process_executor)
def mql_handoff_job() -> None:
    handoff()
