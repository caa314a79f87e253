"""The skeleton: definitions load, the CLI answers, the policy validates with one-line errors."""

from __future__ import annotations

import subprocess
import sys

from datetime import datetime, timedelta, timezone

import dagster as dg

import pytest

from pipeline.errors import ConfigError
from pipeline.policy import load_policy, parse_policy
from pipeline.settings import load_settings, now, parse_instant, published_db_path


def test_definitions_validate_loadable():
    from pipeline.definitions import defs

    dg.Definitions.validate_loadable(defs)


def test_default_policy_loads_with_documented_defaults():
    policy = load_policy()
    assert policy.sla.minutes.demo_request == 60
    assert policy.sla.minutes.other == 1440
    assert policy.minimum_attempts == 3
    assert [s.step for s in policy.escalation] == ["handoff", "manager_escalation", "reassignment"]
    assert [s.at_sla_multiple for s in policy.escalation] == [0.0, 1.0, 2.0]
    assert policy.write_mode == "dry_run"
    assert policy.demo_recognition.is_demo("Request a DEMO")
    assert policy.demo_recognition.is_demo("Talk to Sales")
    assert not policy.demo_recognition.is_demo("Ebook download")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("sla: {minutes: {demo_request: 0}}", "sla.minutes.demo_request: Input should be greater than 0"),
        ("business_hours: {timezone: Mars/Base}", "business_hours.timezone: unknown time zone 'Mars/Base'"),
        ("routing: {rules: [{name: x, type: industry, team: A}]}", "industry rule 'x' needs a list of industries"),
        ("write_mode: yolo", "write_mode: Input should be 'dry_run' or 'live'"),
        ("sla: [", "is not valid YAML"),
        ("escalation: [{step: reassignment, at_sla_multiple: 1}, {step: reassignment, at_sla_multiple: 2}]",
         "each escalation step may appear once"),
    ],
)
def test_policy_errors_name_key_and_problem(text, expected):
    with pytest.raises(ConfigError) as err:
        parse_policy(text, "p.yaml")
    message = str(err.value)
    assert expected in message
    assert message.startswith("policy p.yaml")
    assert "\n" not in message


def test_handoff_now_pins_the_clock(monkeypatch):
    monkeypatch.setenv("HANDOFF_NOW", "2026-03-02T10:15:30.250Z")
    assert now().isoformat() == "2026-03-02T10:15:30.250000+00:00"
    monkeypatch.setenv("HANDOFF_NOW", "yesterday")
    with pytest.raises(ConfigError, match="HANDOFF_NOW='yesterday' is not an ISO-8601 timestamp"):
        now()


def test_settings_defaults_and_published_copy(tmp_path):
    settings = load_settings({})
    assert settings.uses_sandbox
    assert settings.api_base == "https://api.hubapi.com"
    assert str(settings.db_path) == "data/handoff.duckdb"
    assert str(published_db_path(settings.db_path)) == "data/handoff.published.duckdb"
    with pytest.raises(ConfigError, match="HANDOFF_POLICY='/nope.yaml': no such file"):
        load_settings({"HANDOFF_POLICY": "/nope.yaml"})
    # an instant without an offset is read as UTC
    assert parse_instant("2026-01-01T00:00:00") == datetime(2026, 1, 1, tzinfo=timezone.utc)
    assert parse_instant("2026-01-01T00:00:00").utcoffset() == timedelta(0)


def test_cli_help_lists_pinned_commands():
    out = subprocess.run([sys.executable, "-m", "pipeline.cli", "--help"], capture_output=True, text=True, check=True)
    commands = out.stdout.split("\nCommands:\n", 1)[1]
    listed = [line.split()[0] for line in commands.splitlines() if line.startswith("  ") and not line.startswith("   ")]
    assert listed == ["demo", "dev", "explain", "report", "routing", "run", "sandbox", "sql", "status"]  # exactly these
    assert "Usage: handoff [OPTIONS] COMMAND [ARGS]..." in out.stdout
    assert "  -h, --help  Show this message and exit." in out.stdout


def test_rate_limit_tier_from_environment(monkeypatch):
    from pipeline.resources import build_resources

    assert build_resources()["hubspot"].limit_per_10s == 190
    monkeypatch.setenv("HUBSPOT_RATE_LIMIT_PER_10S", "100")
    assert build_resources()["hubspot"].limit_per_10s == 100
    monkeypatch.setenv("HUBSPOT_RATE_LIMIT_PER_10S", "lots")
    with pytest.raises(ConfigError, match="HUBSPOT_RATE_LIMIT_PER_10S='lots' must be a whole number"):
        build_resources()


def test_temporary_env_sets_unsets_and_restores(monkeypatch):
    import os

    from pipeline.settings import temporary_env

    monkeypatch.setenv("HANDOFF_NOW", "2026-01-01T00:00:00Z")
    monkeypatch.delenv("HUBSPOT_API_BASE", raising=False)
    with temporary_env({"HANDOFF_NOW": None, "HUBSPOT_API_BASE": "http://127.0.0.1:1"}):
        assert "HANDOFF_NOW" not in os.environ
        assert os.environ["HUBSPOT_API_BASE"] == "http://127.0.0.1:1"
    assert os.environ["HANDOFF_NOW"] == "2026-01-01T00:00:00Z"
    assert "HUBSPOT_API_BASE" not in os.environ


def test_every_asset_has_a_group_an_owner_and_a_description():
    from pipeline.definitions import defs

    nodes = defs.resolve_asset_graph().asset_nodes
    groups = {node.group_name for node in nodes}
    assert {"hubspot_raw", "staging", "marts", "ops"} <= groups
    missing = [node.key.to_user_string() for node in nodes if not node.owners or not node.description]
    assert missing == []


def test_warehouse_connection_is_closed_when_the_step_fails(tmp_path):
    import duckdb

    from pipeline.resources import WarehouseResource

    db = tmp_path / "w.duckdb"
    resource = WarehouseResource(database=str(db))
    with pytest.raises(RuntimeError):
        with resource.get_connection() as con:
            con.execute("CREATE TABLE t AS SELECT 1 AS x")
            raise RuntimeError("step failed")
    reader = duckdb.connect(str(db), read_only=True)  # would fail while a read-write connection stayed open
    assert reader.execute("SELECT x FROM t").fetchone() == (1,)
    reader.close()


def test_resources_parse_their_values_like_load_settings(tmp_path):
    """Values reach the resources through EnvVar unparsed: they strip and validate them the same way."""
    from pipeline.resources import HubSpotResource, PolicyResource, SlackResource

    client = HubSpotResource(access_token="  pat-na1-abc\n", api_base=" http://127.0.0.1:9/ ").get_client()
    assert load_settings({"HUBSPOT_API_BASE": " http://127.0.0.1:9/ "}).api_base == "http://127.0.0.1:9"
    assert client.api_base == "http://127.0.0.1:9"
    with pytest.raises(ConfigError, match="HUBSPOT_API_BASE='ftp://x' must be an http"):
        HubSpotResource(access_token="pat", api_base="ftp://x").get_client()
    with pytest.raises(ConfigError, match="HUBSPOT_ACCESS_TOKEN is not set"):
        HubSpotResource(access_token="  ").get_client()
    with pytest.raises(ConfigError, match="HANDOFF_POLICY='/nope.yaml': no such file"):
        PolicyResource(path=" /nope.yaml ").load()
    assert PolicyResource(path="  ").load().sla.minutes.other == 1440  # blank = the packaged default
    assert SlackResource(webhook_url=" \n").url() is None
    assert SlackResource(webhook_url=" http://127.0.0.1:9/hook\n").url() == "http://127.0.0.1:9/hook"
