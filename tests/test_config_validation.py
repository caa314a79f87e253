"""Configuration (policy file, environment variables) is validated before any work starts, at every entry point,
with the same one-line error: `handoff run`, `handoff dev`, the definitions load (what `make dev`'s code server and
every run process import), and the first step of a scheduled run (before any HubSpot API call)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pytest

from pipeline.errors import ConfigError

HANDOFF = Path(sys.executable).with_name("handoff")
BAD_POLICY = "sla:\n  minutes:\n    demo_request: soon\n"


def _message(path: Path) -> str:
    return (f"policy {path}: sla.minutes.demo_request: Input should be a valid integer, "
            "unable to parse string as an integer")


@pytest.fixture
def bad_policy(tmp_path) -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text(BAD_POLICY)
    return path


def _handoff(args: list[str], tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    full = {k: v for k, v in os.environ.items() if not k.startswith(("HUBSPOT_", "SLACK_"))}
    full.update(env)
    started = time.monotonic()
    result = subprocess.run([str(HANDOFF), *args], capture_output=True, text=True, cwd=tmp_path, env=full, timeout=120)
    result.elapsed = time.monotonic() - started  # type: ignore[attr-defined]
    return result


@pytest.mark.parametrize("command", [["run", "--contacts", "60"], ["demo", "--contacts", "60"], ["dev", "--port", "0"]])
def test_cli_entry_points_stop_before_any_work(command, bad_policy, tmp_path):
    result = _handoff(command, tmp_path, HANDOFF_POLICY=str(bad_policy))
    assert result.returncode == 1
    assert result.stderr == f"error: {_message(bad_policy)}\n"  # one line, nothing before it: no sandbox started
    assert result.stdout == ""
    assert not Path(os.environ["HANDOFF_DB"]).exists()
    assert not any(Path(os.environ["DAGSTER_HOME"]).iterdir())  # no Dagster instance touched


@pytest.mark.parametrize(("variable", "value", "expected"), [
    ("HUBSPOT_RATE_LIMIT_PER_10S", "fast", "HUBSPOT_RATE_LIMIT_PER_10S='fast' must be a whole number of requests "
                                           "per 10 s (100 on Free/Starter, 190 on Professional/Enterprise)"),
    ("HANDOFF_SENSOR_INTERVAL_SECONDS", "0", "HANDOFF_SENSOR_INTERVAL_SECONDS='0' must be a whole number of seconds "
                                             "(default 60)"),
    ("HANDOFF_SYNC_CRON", "hourly", "HANDOFF_SYNC_CRON='hourly' is not a 5-field cron expression (e.g. '0 * * * *')"),
    ("HANDOFF_NOW", "yesterday", "HANDOFF_NOW='yesterday' is not an ISO-8601 timestamp "
                                 "(expected e.g. 2026-11-24T15:00:00Z)"),
])
def test_handoff_run_checks_environment_variables_first(variable, value, expected, tmp_path):
    result = _handoff(["run", "--contacts", "60"], tmp_path, **{variable: value})
    assert (result.returncode, result.stderr, result.stdout) == (1, f"error: {expected}\n", "")


def test_definitions_load_fails_with_the_same_line(bad_policy, monkeypatch):
    from pipeline.definitions import build_definitions

    monkeypatch.setenv("HANDOFF_POLICY", str(bad_policy))
    with pytest.raises(ConfigError) as err:
        build_definitions()
    assert str(err.value) == _message(bad_policy)


def test_definitions_module_import_fails_in_a_fresh_process(bad_policy, tmp_path):
    # what dagster's code server does when `make dev` (or the daemon, or a run worker) loads the code location
    env = {**os.environ, "HANDOFF_POLICY": str(bad_policy)}
    result = subprocess.run([sys.executable, "-c", "import pipeline.definitions"], capture_output=True, text=True,
                            env=env, cwd=Path(__file__).resolve().parents[1], timeout=120)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == f"pipeline.errors.ConfigError: {_message(bad_policy)}"


def test_a_scheduled_run_fails_in_its_first_step_before_any_api_call(tmp_path, monkeypatch):
    from pipeline.definitions import build_definitions

    policy = tmp_path / "policy.yaml"
    policy.write_text("write_mode: dry_run\n")
    monkeypatch.setenv("HANDOFF_POLICY", str(policy))
    # a token and an API base nobody listens on: had the step got past the check, it would fail connecting
    monkeypatch.setenv("HUBSPOT_ACCESS_TOKEN", "pat-na1-test")
    monkeypatch.setenv("HUBSPOT_API_BASE", "http://127.0.0.1:9")
    defs = build_definitions()  # the definitions loaded with a valid policy (the code server started earlier)
    policy.write_text(BAD_POLICY)  # ... then someone broke the file before the next tick
    job = defs.resolve_job_def("hourly_sync")
    with dg.DagsterInstance.ephemeral() as instance:
        result = job.execute_in_process(instance=instance, raise_on_error=False)
    assert not result.success
    kinds = [e.event_type_value for e in result.all_events]
    # the resources of the first step did not initialize, so no step started (and no request was made)
    assert "RESOURCE_INIT_FAILURE" in kinds and "STEP_START" not in kinds, kinds
    failure = next(e for e in result.all_events if e.event_type_value == "RESOURCE_INIT_FAILURE")
    assert failure.event_specific_data.error.message.strip() == f"pipeline.errors.ConfigError: {_message(policy)}"
