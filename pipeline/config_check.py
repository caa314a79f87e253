"""Validate the whole configuration (environment variables and the policy file) before any work starts.

One function, called at every entry point so a mistake is reported in the first second, not after the
extraction: ``handoff run`` / ``demo`` / ``dev`` before anything else, ``pipeline/definitions.py`` when the
definitions load (``make dev``, the daemon, every run process), and the first step of every run (the HubSpot
resource's setup, which the extraction step needs). Each problem is a one-line ``ConfigError`` naming the
variable or the policy key, e.g. ``policy p.yaml: sla.minutes.demo_request: Input should be a valid integer``.

Checks added here are enforced at every entry point at once: keep each parser where its value is used and
call it from :func:`validate_config`.
"""

from __future__ import annotations

from pipeline.policy import Policy, load_policy
from pipeline.settings import Settings, load_settings, mql_poll_seconds, sensors_running


def validate_config() -> tuple[Settings, Policy]:
    """Parse every setting and the policy file; raise the first problem as a one-line ``ConfigError``."""
    settings = load_settings()  # HANDOFF_POLICY exists, HUBSPOT_API_BASE/_VERSION/_DAILY_RESERVE, HANDOFF_NOW
    policy = load_policy(settings.policy_path)

    from pipeline.dblock import lock_wait_seconds
    from pipeline.resources import rate_limit_from_env
    from pipeline.schedules import build_schedules
    from pipeline.sla.sensor import interval_seconds

    rate_limit_from_env()  # HUBSPOT_RATE_LIMIT_PER_10S
    interval_seconds()  # HANDOFF_SENSOR_INTERVAL_SECONDS
    mql_poll_seconds()  # HANDOFF_MQL_POLL_SECONDS
    sensors_running()  # HANDOFF_SENSORS
    lock_wait_seconds()  # HANDOFF_DB_LOCK_WAIT_SECONDS
    build_schedules()  # HANDOFF_SYNC_CRON, HANDOFF_RECONCILE_CRON, HANDOFF_SCHEDULE_TZ, HANDOFF_SCHEDULES
    return settings, policy
