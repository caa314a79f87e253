"""Schedules: crons and time zone from the environment, default status, one-line errors, job selections."""

from __future__ import annotations

import dagster as dg
import pytest

from pipeline.errors import ConfigError
from pipeline.schedules import build_schedules, default_status, hourly_sync, nightly_reconcile


def by_name(env: dict[str, str]) -> dict[str, dg.ScheduleDefinition]:
    return {s.name: s for s in build_schedules(env)}


def test_defaults_hourly_and_nightly_utc_stopped_on_the_sandbox():
    s = by_name({})
    assert s["hourly_sync_schedule"].cron_schedule == "0 * * * *"
    assert s["nightly_reconcile_schedule"].cron_schedule == "30 2 * * *"
    assert {x.execution_timezone for x in s.values()} == {"UTC"}
    assert {x.default_status for x in s.values()} == {dg.DefaultScheduleStatus.STOPPED}
    assert s["hourly_sync_schedule"].job_name == "hourly_sync"
    assert s["nightly_reconcile_schedule"].job_name == "nightly_reconcile"


def test_env_overrides_cron_time_zone_and_status():
    s = by_name({"HANDOFF_SYNC_CRON": "*/15 * * * *", "HANDOFF_RECONCILE_CRON": "0 4 * * 1-5",
                 "HANDOFF_SCHEDULE_TZ": "Europe/Berlin", "HANDOFF_SCHEDULES": "running"})
    assert s["hourly_sync_schedule"].cron_schedule == "*/15 * * * *"
    assert s["nightly_reconcile_schedule"].cron_schedule == "0 4 * * 1-5"
    assert {x.execution_timezone for x in s.values()} == {"Europe/Berlin"}
    assert {x.default_status for x in s.values()} == {dg.DefaultScheduleStatus.RUNNING}


def test_default_status_follows_the_token_unless_set():
    assert default_status({"HUBSPOT_ACCESS_TOKEN": "pat-na1-x"}) == dg.DefaultScheduleStatus.RUNNING
    assert default_status({"HUBSPOT_ACCESS_TOKEN": "pat-na1-x", "HANDOFF_SCHEDULES": "stopped"}) == (
        dg.DefaultScheduleStatus.STOPPED)
    assert default_status({}) == dg.DefaultScheduleStatus.STOPPED
    # `handoff dev` on the sandbox sets a token and a loopback API base: still the sandbox
    sandbox = {"HUBSPOT_ACCESS_TOKEN": "sandbox-token", "HUBSPOT_API_BASE": "http://127.0.0.1:41234"}
    assert default_status(sandbox) == dg.DefaultScheduleStatus.STOPPED
    assert default_status({**sandbox, "HUBSPOT_API_BASE": "http://localhost:8080"}) == (
        dg.DefaultScheduleStatus.STOPPED)
    assert default_status({**sandbox, "HUBSPOT_API_BASE": "https://api.hubapi.com"}) == (
        dg.DefaultScheduleStatus.RUNNING)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"HANDOFF_SYNC_CRON": "every hour"},
         "HANDOFF_SYNC_CRON='every hour' is not a 5-field cron expression (e.g. '0 * * * *')"),
        ({"HANDOFF_RECONCILE_CRON": "61 2 * * *"},
         "HANDOFF_RECONCILE_CRON='61 2 * * *' is not a 5-field cron expression (e.g. '30 2 * * *')"),
        ({"HANDOFF_SCHEDULE_TZ": "Mars/Base"},
         "HANDOFF_SCHEDULE_TZ='Mars/Base' is not a time zone (use an IANA name like America/New_York)"),
        ({"HANDOFF_SCHEDULES": "sometimes"},
         "HANDOFF_SCHEDULES='sometimes': use running or stopped (or unset it for the default)"),
    ],
)
def test_bad_settings_are_one_line(env, message):
    with pytest.raises(ConfigError) as err:
        build_schedules(env)
    assert str(err.value) == message


def test_jobs_run_sync_models_and_report_in_one_run():
    """Both jobs select the raw, staging and marts groups and the report, whatever those groups hold now."""
    from pipeline.definitions import defs

    graph = defs.resolve_asset_graph()
    keys = {k for k in graph.get_all_asset_keys() if graph.get(k).is_materializable}
    expected = {k for k in keys if graph.get(k).group_name in ("hubspot_raw", "staging", "marts")}
    expected.add(dg.AssetKey(["reports", "handoff_report"]))
    for job in (hourly_sync, nightly_reconcile):
        resolved = defs.resolve_job_def(job.name)
        assert resolved.asset_layer.executable_asset_keys == expected
    # the nightly run lists archived records (deletions, merges); the hourly one uses the default sync mode
    reconcile = defs.resolve_job_def("nightly_reconcile")
    assert dg.validate_run_config(reconcile, nightly_reconcile.config)["ops"]["hubspot_raw"]["config"] == {
        **dg.validate_run_config(reconcile, {})["ops"]["hubspot_raw"]["config"], "mode": "reconcile"}
    assert nightly_reconcile.config == {"ops": {"hubspot_raw": {"config": {"mode": "reconcile"}}}}
    assert hourly_sync.config is None
