"""``enforce_once``: evaluate ``overdue_mql_sensor`` once and execute every run it requests, in-process.

What ``handoff run`` calls after the asset job. Runs land in the given Dagster instance with the same run
keys and tags the daemon would give them, so a step already run (by the daemon or an earlier call) is not
requested again; afterwards a recovery pass finishes steps a crash left half-done and delivers pending alerts.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from datetime import timezone

import dagster as dg

from pipeline.recovery import RECOVERED_TAG, process_tags  # pid/host: a crashed enforcement run is recognised and freed
from pipeline.run_progress import QUIET_RUN_CONFIG
from pipeline.settings import load_settings
from pipeline.settings import now as clock
from pipeline.sla.job import open_enforcer, sla_enforcement_job
from pipeline.sla.ops_tables import status_counts
from pipeline.sla.sensor import SENSOR_NAME, evaluate

RUN_KEY_TAG = "dagster/run_key"
SENSOR_TAG = "dagster/sensor_name"
JOB_RESOURCES = ("duckdb", "hubspot", "policy", "slack")


def _already_run(instance: dg.DagsterInstance, key: str) -> bool:
    runs = instance.get_runs(filters=dg.RunsFilter(tags={RUN_KEY_TAG: key, SENSOR_TAG: SENSOR_NAME}), limit=5)
    # a run killed before it recorded the step (marked failed by pipeline.recovery) did not run it
    return any(run.tags.get(RECOVERED_TAG) != "true" for run in runs)


@contextmanager
def resolved(resources: Mapping[str, object]) -> Iterator[dict]:
    """The resources with their ``EnvVar`` fields resolved, for use outside a run (policy load, recovery)."""
    with ExitStack() as stack:
        yield {key: stack.enter_context(value.process_config_and_initialize_cm())
               if isinstance(value, dg.ConfigurableResource) else value for key, value in resources.items()}


def enforce_once(
    instance: dg.DagsterInstance, resources: Mapping[str, object] | None = None, *, write_mode: str | None = None,
    cursor: str | None = None,
) -> dict:
    """One sensor evaluation plus its runs. Returns a summary dict (requested, outcomes by status, runs, ...)."""
    if resources is None:
        from pipeline.resources import build_resources

        resources = build_resources()
    job_resources = {k: resources[k] for k in JOB_RESOURCES}
    with resolved(job_resources) as ready:
        return _enforce_once(instance, job_resources, ready, write_mode=write_mode, cursor=cursor)


def _enforce_once(instance, job_resources: dict, ready: dict, *, write_mode: str | None, cursor: str | None) -> dict:
    policy = ready["policy"].load()
    now = clock().astimezone(timezone.utc)
    published = load_settings().published_db_path
    # finish what a crashed run left half-done first, in the order it was begun: a later step decided before it
    # (e.g. a reassignment ahead of the interrupted manager escalation) would change what its re-check sees
    with open_enforcer(ready["duckdb"], ready["hubspot"], ready["policy"], ready["slack"], run_id=None,
                       write_mode=write_mode) as enforcer:
        first = enforcer.recover()
    tick = evaluate(cursor, policy, now, published)
    summary: dict = {"now": now.isoformat(), "published_db": str(published), "requested": 0, "skipped_existing": 0,
                     "outcomes": {}, "runs": [], "failed_runs": [], "skip_reason": None, "cursor": None}
    if isinstance(tick, dg.SkipReason):
        summary["skip_reason"] = tick.skip_message
        requests = []
    else:
        requests = list(tick.run_requests or [])
        summary["cursor"] = tick.cursor
        summary["skip_reason"] = tick.skip_reason.skip_message if tick.skip_reason else None
    run_config_extra = {"write_mode": write_mode} if write_mode else {}
    for request in requests:
        if _already_run(instance, request.run_key):
            summary["skipped_existing"] += 1
            continue
        summary["requested"] += 1
        config = request.run_config["ops"]["enforce_step"]["config"]
        result = sla_enforcement_job.execute_in_process(
            run_config={"ops": {"enforce_step": {"config": {**config, **run_config_extra}}}, **QUIET_RUN_CONFIG},
            instance=instance, resources=job_resources, raise_on_error=False,
            tags={**request.tags, RUN_KEY_TAG: request.run_key, SENSOR_TAG: SENSOR_NAME, **process_tags()},
        )
        if not result.success:
            summary["failed_runs"].append({"run_key": request.run_key, "run_id": result.run_id})
            continue
        outcome = result.output_for_node("enforce_step")["outcome"]
        summary["outcomes"][outcome["status"]] = summary["outcomes"].get(outcome["status"], 0) + 1
        summary["runs"].append({"run_key": request.run_key, "run_id": result.run_id, "status": outcome["status"],
                                "reason": outcome["reason"]})
    with open_enforcer(ready["duckdb"], ready["hubspot"], ready["policy"], ready["slack"], run_id=None,
                       write_mode=write_mode) as enforcer:
        summary["recovery"] = enforcer.recover()
        for key in ("resumed_steps", "interrupted_deliveries"):  # both passes' work in one report
            summary["recovery"][key] = first[key] + summary["recovery"][key]
        summary["ops"] = status_counts(enforcer.con)  # rows by status in the main DB (the published copy lags)
    return summary
