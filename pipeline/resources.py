"""Dagster resources: the I/O edges (DuckDB, HubSpot, dlt, the policy, Slack), built from the environment.

Tests build their own with other values (a temp database, the sandbox URL) instead of patching. This module
imports neither dlt nor dbt: the lane's code location (``pipeline/lane_definitions.py``) uses its resources, and its
run processes must start without them; only :func:`build_resources` (the main location) loads dlt. dbt needs no
resource: the models' step runs it in process (``pipeline/modeling/dbt_run.py``).
"""

from __future__ import annotations

import os
from pathlib import Path
from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg
import duckdb
from dagster_duckdb import DuckDBResource

from pipeline.errors import ConfigError
from pipeline.policy import Policy, load_policy
from pipeline.settings import (
    DEFAULT_API_BASE,
    DEFAULT_API_VERSION,
    parse_api_base,
    parse_api_version,
    parse_daily_reserve,
    parse_db_path,
    parse_policy_path,
    parse_secret,
)


class WarehouseResource(DuckDBResource):
    """dagster-duckdb's resource, but the connection is closed even when the step fails.

    Upstream closes it only after a clean exit, so a failed step would keep DuckDB's write lock (and block a
    read-only open in the same process) until the process ends. A lock held by another process is reported
    in one line (``DatabaseLockedError``) after a bounded wait (``HANDOFF_DB_LOCK_WAIT_SECONDS``).
    """

    @contextmanager
    def get_connection(self) -> Iterator[duckdb.DuckDBPyConnection]:
        # a file held by another process: say so at once and wait a bounded time (pipeline/dblock.py), instead
        # of upstream's ~100 s of silent retries ending in DuckDB's raw IOException
        from pipeline.dblock import connect_writable
        from pipeline.progress_ticker import PROGRESS_PREFIX

        log = dg.get_dagster_logger()
        conn = connect_writable(self.database, config={"custom_user_agent": "dagster", **self.connection_config},
                                echo=lambda message: log.warning(f"{PROGRESS_PREFIX}{message}"))
        try:
            yield conn
        finally:
            conn.close()


class HubSpotResource(dg.ConfigurableResource):
    """A HubSpot connection (a Service Key, or an existing private app's token). The token comes from
    ``HUBSPOT_ACCESS_TOKEN`` via ``EnvVar``; ``api_version`` from ``HUBSPOT_API_VERSION``."""

    access_token: str
    api_base: str = DEFAULT_API_BASE
    api_version: str = DEFAULT_API_VERSION
    daily_reserve: str = ""  # HUBSPOT_DAILY_RESERVE; empty = the default
    limit_per_10s: int = 190  # the private app's limit (100 on Free/Starter, 190 on Pro/Enterprise)
    search_per_s: int = 5
    give_up_after_s: float = 300.0
    rate_ledger: str = ""  # the file the sync and the lane pace through together (empty: this process alone)

    def setup_for_execution(self, context) -> None:
        """The first step of every run (the extraction needs this resource) re-checks the configuration:
        a policy file edited since the definitions loaded fails here, before any API call."""
        from pipeline.config_check import validate_config

        validate_config()

    def get_client(self, share: str = "sync"):
        """The paced, retrying client (``pipeline.hubspot.client.HubSpotClient``); ``share`` is the rate-limit
        reserve it draws on when ``rate_ledger`` is set: ``sync`` (extraction) or ``lane`` (sensors, ladder)."""
        from pipeline.hubspot.client import HubSpotClient

        token = parse_secret(self.access_token)
        if not token:
            raise ConfigError(
                "HUBSPOT_ACCESS_TOKEN is not set: export a Service Key's token (HubSpot: Development > Keys > "
                "Service keys; an existing private app's token also works), or use `handoff run`/`handoff dev` "
                "which start the embedded sandbox"
            )
        return HubSpotClient(
            access_token=token,
            api_base=parse_api_base(self.api_base),
            api_version=parse_api_version(self.api_version),
            daily_reserve=parse_daily_reserve(self.daily_reserve),
            limit_per_10s=self.limit_per_10s,
            search_per_s=self.search_per_s,
            give_up_after_s=self.give_up_after_s,
            rate_ledger=self.rate_ledger or None,
            rate_share=share,
        )


class PolicyResource(dg.ConfigurableResource):
    """The SLA/routing policy file; empty path = the packaged default."""

    path: str = ""

    def load(self) -> Policy:
        return load_policy(parse_policy_path(self.path))


class SlackResource(dg.ConfigurableResource):
    """Slack incoming webhook for alert delivery; empty = deliver to the DuckDB outbox only."""

    webhook_url: str = ""

    def url(self) -> str | None:
        """The webhook URL, stripped; None when alerts go to the outbox only."""
        return parse_secret(self.webhook_url)


def _env_or(name: str, default: str):
    """EnvVar when the variable is set (shown as such in the UI, value never stored), else the default."""
    return dg.EnvVar(name) if os.environ.get(name, "").strip() else default


def rate_limit_from_env() -> int:
    """``HUBSPOT_RATE_LIMIT_PER_10S``: the private app's limit (190 Professional/Enterprise, 100 Free/Starter)."""
    raw = os.environ.get("HUBSPOT_RATE_LIMIT_PER_10S", "").strip()
    if not raw:
        return 190
    if not raw.isdigit() or not 1 <= int(raw) <= 10_000:
        raise ConfigError(
            f"HUBSPOT_RATE_LIMIT_PER_10S={raw!r} must be a whole number of requests per 10 s "
            "(100 on Free/Starter, 190 on Professional/Enterprise)"
        )
    return int(raw)


def rate_ledger_path(db: Path) -> Path:
    """``data/handoff.duckdb`` -> ``data/handoff_hubspot_rate.json``: every process of one installation (the
    sync's runs, the lane's sensors and runs) paces its HubSpot calls through it."""
    return Path(db).with_name(Path(db).stem + "_hubspot_rate.json")


def build_lane_resources() -> dict[str, object]:
    """The resources the live lane's sensors and jobs use (DuckDB, HubSpot, the policy, Slack)."""
    db = parse_db_path(os.environ.get("HANDOFF_DB"))
    db.parent.mkdir(parents=True, exist_ok=True)
    return {
        "duckdb": WarehouseResource(database=str(db)),
        "hubspot": HubSpotResource(
            access_token=_env_or("HUBSPOT_ACCESS_TOKEN", ""),
            api_base=_env_or("HUBSPOT_API_BASE", DEFAULT_API_BASE),
            api_version=_env_or("HUBSPOT_API_VERSION", DEFAULT_API_VERSION),
            daily_reserve=_env_or("HUBSPOT_DAILY_RESERVE", ""),
            limit_per_10s=rate_limit_from_env(),
            rate_ledger=str(rate_ledger_path(db)),
        ),
        "policy": PolicyResource(path=_env_or("HANDOFF_POLICY", "")),
        "slack": SlackResource(webhook_url=_env_or("SLACK_WEBHOOK_URL", "")),
    }


def build_resources() -> dict[str, object]:
    """Every resource of the main code location: the lane's plus dlt (imported here, not at the top)."""
    from dagster_dlt import DagsterDltResource

    return {**build_lane_resources(), "dlt": DagsterDltResource()}
