"""Shared test setup: every test gets its own DuckDB file, Dagster home and a clean environment.

Shared fixtures live in ``tests/fixtures/<topic>.py`` and are registered in ``pytest_plugins`` below.
"""

from __future__ import annotations

import pytest

pytest_plugins: list[str] = ["tests.fixtures.raw_tables", "tests.fixtures.sandbox", "tests.fixtures.enforcement", "tests.fixtures.extraction"]

_ENV_TO_CLEAR = (
    "HUBSPOT_ACCESS_TOKEN",
    "HUBSPOT_API_BASE",
    "HANDOFF_NOW",
    "HANDOFF_POLICY",
    "SLACK_WEBHOOK_URL",
)


@pytest.fixture(autouse=True)
def isolated_env(tmp_path, monkeypatch):
    """No test reads the developer's token, database or Dagster instance."""
    for name in _ENV_TO_CLEAR:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HANDOFF_DB", str(tmp_path / "handoff.duckdb"))
    home = tmp_path / "dagster_home"
    home.mkdir()
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.setenv("DAGSTER_DISABLE_TELEMETRY", "1")
    yield
