"""HubSpot's rate limits for a private app: a rolling 10-second window, search per second, and a daily quota.

``RateLimits.unlimited()`` turns them off for fast tests; the headers are still sent.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass


@dataclass(frozen=True)
class RateLimits:
    per_ten_seconds: int = 190
    search_per_second: int = 5
    daily: int = 1_000_000
    enabled: bool = True

    @classmethod
    def unlimited(cls) -> RateLimits:
        return cls(enabled=False)

    @classmethod
    def parse(cls, text: str) -> RateLimits:
        """``"190"``, ``"190,search=5,daily=500000"``, or ``"off"`` (a CLI option)."""
        from pipeline.errors import ConfigError

        text = text.strip()
        if text.lower() in ("off", "0", "none"):
            return cls.unlimited()
        values = {"per_ten_seconds": 190, "search_per_second": 5, "daily": 1_000_000}
        for part in (p.strip() for p in text.split(",") if p.strip()):
            key, _, value = part.rpartition("=")
            key = {"": "per_ten_seconds", "10s": "per_ten_seconds", "search": "search_per_second",
                   "daily": "daily"}.get(key.strip())
            if key is None or not value.strip().isdigit() or int(value) <= 0:
                raise ConfigError(
                    f"--rate-limit {text!r}: expected e.g. '190', '190,search=5,daily=500000' or 'off'"
                )
            values[key] = int(value)
        return cls(**values)


@dataclass(frozen=True)
class Decision:
    allowed: bool
    policy: str | None  # TEN_SECONDLY_ROLLING / SECONDLY / DAILY when refused
    remaining: int
    daily_remaining: int


class RateLimiter:
    """Counts accepted requests; refuses those beyond a limit (refused ones do not count)."""

    def __init__(self, limits: RateLimits, clock=time.monotonic):
        self.limits = limits
        self._clock = clock
        self._lock = threading.Lock()
        self._window: deque[float] = deque()
        self._search: deque[float] = deque()
        self._daily_used = 0

    def check(self, *, is_search: bool) -> Decision:
        limits = self.limits
        with self._lock:
            now = self._clock()
            while self._window and self._window[0] <= now - 10.0:
                self._window.popleft()
            while self._search and self._search[0] <= now - 1.0:
                self._search.popleft()
            refused = None
            if limits.enabled:
                if self._daily_used >= limits.daily:
                    refused = "DAILY"
                elif is_search and len(self._search) >= limits.search_per_second:
                    refused = "SECONDLY"
                elif not is_search and len(self._window) >= limits.per_ten_seconds:
                    refused = "TEN_SECONDLY_ROLLING"
            if refused is None:
                if is_search:
                    self._search.append(now)
                else:
                    self._window.append(now)
                self._daily_used += 1
            return Decision(
                allowed=refused is None,
                policy=refused,
                remaining=max(0, limits.per_ten_seconds - len(self._window)),
                daily_remaining=max(0, limits.daily - self._daily_used),
            )

    def headers(self, decision: Decision) -> list[tuple[bytes, bytes]]:
        """The X-HubSpot-RateLimit-* headers HubSpot sends on non-search responses."""
        limits = self.limits
        return [
            (b"x-hubspot-ratelimit-max", str(limits.per_ten_seconds).encode()),
            (b"x-hubspot-ratelimit-remaining", str(decision.remaining).encode()),
            (b"x-hubspot-ratelimit-interval-milliseconds", b"10000"),
            (b"x-hubspot-ratelimit-daily", str(limits.daily).encode()),
            (b"x-hubspot-ratelimit-daily-remaining", str(decision.daily_remaining).encode()),
        ]


RATE_LIMIT_MESSAGES = {
    "TEN_SECONDLY_ROLLING": "You have reached your ten_secondly_rolling limit.",
    "SECONDLY": "You have reached your secondly limit.",
    "DAILY": "You have reached your daily limit.",
}


def rate_limit_body(policy: str, correlation: str) -> dict:
    """HubSpot's 429 JSON."""
    return {
        "status": "error",
        "message": RATE_LIMIT_MESSAGES[policy],
        "errorType": "RATE_LIMIT",
        "correlationId": correlation,
        "policyName": policy,
        "groupName": "publicapi-private-app",
    }
