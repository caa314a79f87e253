"""Schedules: the hourly incremental sync + models + report, and the nightly reconcile of deletions.

Downstream models are updated by *jobs*, not declarative automation: one run per tick materializes the raw
HubSpot tables, then staging, marts (with their blocking checks), then the report, in dependency order. One
run holds DuckDB's single writer for its whole length instead of several automation runs queueing on the
``duckdb_write`` pool, and a failed check stops everything after it in the same run.

Environment (read when the definitions load; restart ``handoff dev`` after changing them):
  HANDOFF_SYNC_CRON       hourly sync cron            default ``0 * * * *``
  HANDOFF_RECONCILE_CRON  nightly reconcile cron      default ``30 2 * * *``
  HANDOFF_SCHEDULE_TZ     time zone of both crons     default ``UTC``
  HANDOFF_SCHEDULES       ``running`` | ``stopped``   default: running against a real portal, stopped on the sandbox
"""

from __future__ import annotations

import os
from urllib.parse import urlsplit

import dagster as dg

from pipeline.errors import ConfigError
from pipeline.settings import DEFAULT_API_BASE

DEFAULT_SYNC_CRON = "0 * * * *"
DEFAULT_RECONCILE_CRON = "30 2 * * *"
# run config of the extraction assets (assets/hubspot_raw.py): "reconcile" adds the archived listings
RECONCILE_CONFIG = {"ops": {"hubspot_raw": {"config": {"mode": "reconcile"}}}}

PIPELINE_SELECTION = dg.AssetSelection.groups("hubspot_raw", "staging", "marts") | dg.AssetSelection.assets(
    dg.AssetKey(["reports", "handoff_report"])
)

hourly_sync = dg.define_asset_job(
    "hourly_sync",
    selection=PIPELINE_SELECTION,
    executor_def=dg.in_process_executor,  # one DuckDB writer: steps in one process, no start-up per step
    description="Incremental HubSpot sync (changes since the last cursor), then staging, marts, checks and the report.",
)

nightly_reconcile = dg.define_asset_job(
    "nightly_reconcile",
    selection=PIPELINE_SELECTION,
    executor_def=dg.in_process_executor,
    description="Sync plus the deletion reconcile: archived and merged HubSpot records are marked so metrics "
    "exclude them; then the models and the report.",
    config=RECONCILE_CONFIG,
)


def default_status(env: dict[str, str] | None = None) -> dg.DefaultScheduleStatus:
    """``HANDOFF_SCHEDULES`` when set; otherwise RUNNING against a real portal and STOPPED on the sandbox
    (a sandbox portal is a fixed picture: hourly syncs would only repeat the first build)."""
    env = os.environ if env is None else env
    wanted = env.get("HANDOFF_SCHEDULES", "").strip().lower()
    if wanted in ("running", "on"):
        return dg.DefaultScheduleStatus.RUNNING
    if wanted in ("stopped", "off"):
        return dg.DefaultScheduleStatus.STOPPED
    if wanted:
        raise ConfigError(f"HANDOFF_SCHEDULES={wanted!r}: use running or stopped (or unset it for the default)")
    return dg.DefaultScheduleStatus.RUNNING if talks_to_real_portal(env) else dg.DefaultScheduleStatus.STOPPED


def talks_to_real_portal(env: dict[str, str]) -> bool:
    """A token is set and the API base is not on this machine (`handoff dev` points both at its sandbox)."""
    if not env.get("HUBSPOT_ACCESS_TOKEN", "").strip():
        return False
    host = urlsplit(env.get("HUBSPOT_API_BASE", "").strip() or DEFAULT_API_BASE).hostname or ""
    return not (host == "localhost" or host.startswith("127.") or host == "::1")


def build_schedules(env: dict[str, str] | None = None) -> list[dg.ScheduleDefinition]:
    """The two schedules from the environment; a bad cron or time zone is a one-line ConfigError naming the variable."""
    env = os.environ if env is None else env
    timezone = env.get("HANDOFF_SCHEDULE_TZ", "").strip() or "UTC"
    status = default_status(env)
    specs = (
        ("hourly_sync_schedule", hourly_sync, "HANDOFF_SYNC_CRON", DEFAULT_SYNC_CRON),
        ("nightly_reconcile_schedule", nightly_reconcile, "HANDOFF_RECONCILE_CRON", DEFAULT_RECONCILE_CRON),
    )
    schedules = []
    for name, job, variable, default in specs:
        cron = env.get(variable, "").strip() or default
        try:
            schedules.append(
                dg.ScheduleDefinition(
                    name=name, job=job, cron_schedule=cron, execution_timezone=timezone, default_status=status,
                    description=f"{job.description} Cron from {variable} (default `{default}`), time zone "
                    f"from HANDOFF_SCHEDULE_TZ.",
                )
            )
        except dg.DagsterInvalidDefinitionError as err:
            if "timezone" in str(err).lower():
                raise ConfigError(
                    f"HANDOFF_SCHEDULE_TZ={timezone!r} is not a time zone (use an IANA name like America/New_York)"
                ) from None
            raise ConfigError(f"{variable}={cron!r} is not a 5-field cron expression (e.g. {default!r})") from None
    return schedules


defs = dg.Definitions(schedules=build_schedules(), jobs=[hourly_sync, nightly_reconcile])
