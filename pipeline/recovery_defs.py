"""``stale_run_sensor``: the Dagster daemon's half of crash recovery (``make dev``, deployments).

Dagster's run monitoring (enabled in ``dagster.yaml``) fails runs stuck STARTING and frees the slots of
finished runs, but with the default run launcher it cannot tell that a STARTED run's process died. This
sensor does, every :data:`INTERVAL_SECONDS`, with the same rule as ``handoff run`` (``pipeline.recovery``):
a run whose recorded process is gone on this host, or whose heartbeat stopped, is marked failed with the
reason and its pool slots are freed, so the queued schedule run behind it starts. It launches nothing.
"""

from __future__ import annotations

import dagster as dg

from pipeline.recovery import recover_stale_runs

SENSOR_NAME = "stale_run_sensor"
INTERVAL_SECONDS = 30


@dg.sensor(
    name=SENSOR_NAME,
    minimum_interval_seconds=INTERVAL_SECONDS,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Marks runs whose process is gone (killed, OOM, reboot) as failed and frees their duckdb_write "
                "slot, so the next scheduled run is not blocked. Never touches a live run; launches nothing.",
)
def stale_run_sensor(context: dg.SensorEvaluationContext) -> dg.SkipReason:
    recovered = recover_stale_runs(context.instance, recovered_by=SENSOR_NAME, echo=context.log.warning)
    if not recovered:
        return dg.SkipReason("no crashed runs (every in-progress run's process is alive)")
    return dg.SkipReason("marked failed and freed: " + ", ".join(
        f"{item.run_id[:8]} ({item.job_name}: {item.reason})" for item in recovered))


defs = dg.Definitions(sensors=[stale_run_sensor])
