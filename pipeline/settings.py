"""Runtime settings from the environment (the pinned names in README's configuration table).

Read with :func:`load_settings` at the edge (CLI, Dagster resources); pass values inward.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from pipeline.errors import ConfigError

DEFAULT_API_BASE = "https://api.hubapi.com"
DEFAULT_DB = "data/handoff.duckdb"
DEFAULT_DAGSTER_HOME = ".dagster"
DEFAULT_API_VERSION = "2026-09"
LEGACY_API_VERSION = "legacy"
DEFAULT_DAILY_RESERVE = 5000
_DATE_VERSION = re.compile(r"^(20\d\d)-(03|09)$")


def parse_instant(value: str, *, name: str = "HANDOFF_NOW") -> datetime:
    """Parse an ISO-8601 instant; naive values are UTC. Raises ConfigError with the variable name."""
    text = value.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise ConfigError(
            f"{name}={value!r} is not an ISO-8601 timestamp (expected e.g. 2026-11-24T15:00:00Z)"
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(timezone.utc)


def now() -> datetime:
    """The pipeline's clock: ``HANDOFF_NOW`` when set (tests, replays, backfills), else real UTC time."""
    pinned = os.environ.get("HANDOFF_NOW", "").strip()
    if pinned:
        return parse_instant(pinned)
    return datetime.now(timezone.utc)


def redact(text: str, token: str | None = None) -> str:
    """Remove the HubSpot token from any text that might reach a log, an error or metadata."""
    token = token if token is not None else os.environ.get("HUBSPOT_ACCESS_TOKEN")
    if token:
        text = text.replace(token, "***")
    return text


@contextmanager
def temporary_env(values: dict[str, str | None]) -> Iterator[None]:
    """Set (or with None, unset) environment variables for the block; restore the previous values after."""
    saved = {key: os.environ.get(key) for key in values}
    try:
        for key, value in values.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@dataclass(frozen=True)
class Settings:
    access_token: str | None
    api_base: str
    db_path: Path
    policy_path: Path | None
    slack_webhook_url: str | None
    dagster_home: Path
    api_version: str = DEFAULT_API_VERSION
    daily_reserve: int = DEFAULT_DAILY_RESERVE

    @property
    def uses_sandbox(self) -> bool:
        return not self.access_token

    @property
    def published_db_path(self) -> Path:
        """The read-only copy for analysts and the SLA sensor, replaced atomically after each build."""
        return published_db_path(self.db_path)


def published_db_path(db_path: Path) -> Path:
    return db_path.with_name(db_path.stem + ".published" + db_path.suffix)


# One parser per value, shared by load_settings and the Dagster resources (which receive the same variables
# through EnvVar): both strip, validate and default them alike.

def parse_api_base(value: str | None) -> str:
    """``HUBSPOT_API_BASE``: stripped, defaulted, an http(s) URL without a trailing slash."""
    api_base = (value or "").strip() or DEFAULT_API_BASE
    if not api_base.startswith(("http://", "https://")):
        raise ConfigError(f"HUBSPOT_API_BASE={api_base!r} must be an http(s) URL, e.g. {DEFAULT_API_BASE}")
    return api_base.rstrip("/")


def parse_api_version(value: str | None) -> str:
    """``HUBSPOT_API_VERSION``: a date-based version (``2026-09``, the default; HubSpot releases ``YYYY-03`` and
    ``YYYY-09``, the first in 2026-03) or ``legacy`` for the v3/v4 paths (unsupported by HubSpot from 2027)."""
    version = (value or "").strip().lower() or DEFAULT_API_VERSION
    if version == LEGACY_API_VERSION:
        return version
    match = _DATE_VERSION.match(version)
    if not match or version < "2026-03":
        raise ConfigError(
            f"HUBSPOT_API_VERSION={value!r} is not a HubSpot API version: use a date-based version such as "
            f"{DEFAULT_API_VERSION} (the default), or 'legacy' for the /crm/v3 and /crm/v4 paths"
        )
    return version


def parse_daily_reserve(value: str | None) -> int:
    """``HUBSPOT_DAILY_RESERVE``: daily API calls left to the portal's other integrations (the pipeline stops
    cleanly when HubSpot reports fewer remaining)."""
    raw = (value or "").strip()
    if not raw:
        return DEFAULT_DAILY_RESERVE
    if not raw.isdigit():
        raise ConfigError(
            f"HUBSPOT_DAILY_RESERVE={raw!r} must be a whole number of API calls to leave unused each day "
            f"(default {DEFAULT_DAILY_RESERVE})"
        )
    return int(raw)


def parse_policy_path(value: str | None) -> Path | None:
    """``HANDOFF_POLICY``: None (the packaged default) when unset, else a file that exists."""
    policy = (value or "").strip()
    if policy and not Path(policy).is_file():
        raise ConfigError(f"HANDOFF_POLICY={policy!r}: no such file (unset it to use the packaged default policy)")
    return Path(policy) if policy else None


def parse_db_path(value: str | None) -> Path:
    """``HANDOFF_DB``: the DuckDB file the pipeline writes."""
    return Path((value or "").strip() or DEFAULT_DB)


def parse_secret(value: str | None) -> str | None:
    """A token or webhook URL: stripped (a pasted newline must not reach an HTTP header), None when empty."""
    return (value or "").strip() or None


def load_settings(env: dict[str, str] | None = None) -> Settings:
    env = dict(os.environ if env is None else env)
    policy_path = parse_policy_path(env.get("HANDOFF_POLICY"))
    api_base = parse_api_base(env.get("HUBSPOT_API_BASE"))
    api_version = parse_api_version(env.get("HUBSPOT_API_VERSION"))
    daily_reserve = parse_daily_reserve(env.get("HUBSPOT_DAILY_RESERVE"))
    if env.get("HANDOFF_NOW", "").strip():
        parse_instant(env["HANDOFF_NOW"])  # validate early, one line on error
    return Settings(
        access_token=parse_secret(env.get("HUBSPOT_ACCESS_TOKEN")),
        api_base=api_base,
        db_path=parse_db_path(env.get("HANDOFF_DB")),
        policy_path=policy_path,
        slack_webhook_url=parse_secret(env.get("SLACK_WEBHOOK_URL")),
        dagster_home=Path(env.get("DAGSTER_HOME", "").strip() or DEFAULT_DAGSTER_HOME),
        api_version=api_version,
        daily_reserve=daily_reserve,
    )


# --- the live lane (docs/enforcement.md) ---------------------------------------------------------------
MQL_POLL_ENV = "HANDOFF_MQL_POLL_SECONDS"
DEFAULT_MQL_POLL_S = 30
SENSORS_ENV = "HANDOFF_SENSORS"


def mql_poll_seconds(env: dict[str, str] | None = None) -> int:
    """``HANDOFF_MQL_POLL_SECONDS``: how often ``new_mql_sensor`` asks HubSpot for new MQLs (default 30)."""
    raw = (dict(os.environ if env is None else env).get(MQL_POLL_ENV) or "").strip()
    if not raw:
        return DEFAULT_MQL_POLL_S
    if not raw.isdigit() or not 1 <= int(raw) <= 3600:
        raise ConfigError(f"{MQL_POLL_ENV}={raw!r} must be a whole number of seconds from 1 to 3600 "
                          f"(default {DEFAULT_MQL_POLL_S})")
    return int(raw)


def sensors_running(env: dict[str, str] | None = None) -> bool:
    """``HANDOFF_SENSORS=running|stopped``: both SLA sensors' default status. Unset: stopped on the embedded
    sandbox (no ``HUBSPOT_ACCESS_TOKEN``), running on a real portal (the policy's write_mode still applies)."""
    values = dict(os.environ if env is None else env)
    raw = (values.get(SENSORS_ENV) or "").strip().lower()
    if not raw:
        token = parse_secret(values.get("HUBSPOT_ACCESS_TOKEN"))
        base = (values.get("HUBSPOT_API_BASE") or "").strip()
        on_sandbox = token in (None, "sandbox-token") or base.startswith(("http://127.0.0.1", "http://localhost"))
        return not on_sandbox
    if raw not in ("running", "stopped"):
        raise ConfigError(f"{SENSORS_ENV}={raw!r}: use running or stopped")
    return raw == "running"
