"""HubSpot's rate limits for a Service Key or private app: a rolling 10-second window, a per-second allowance,
search per second (exempt from the 10-second window), and a daily quota shared by the portal, by tier.

Tiers (https://developers.hubspot.com/docs/developer-tooling/platform/usage-guidelines): Free/Starter 100 per
10 s and 250,000 a day; Professional 190 and 625,000; Enterprise 190 and 1,000,000.
``RateLimits.unlimited()`` turns them off for fast tests; the headers are still sent.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass

# tier -> (requests per rolling 10 s, daily quota), HubSpot's published defaults
TIERS: dict[str, tuple[int, int]] = {
    "starter": (100, 250_000), "free": (100, 250_000), "professional": (190, 625_000), "enterprise": (190, 1_000_000),
}


@dataclass(frozen=True)
class RateLimits:
    per_ten_seconds: int = 190
    search_per_second: int = 5
    daily: int = 625_000  # Professional (the tier of 190 per 10 s); see TIERS
    per_second: int | None = None  # X-HubSpot-RateLimit-Secondly; None = the 10-second budget (no extra limit)
    enabled: bool = True

    @property
    def secondly(self) -> int:
        return self.per_second if self.per_second is not None else self.per_ten_seconds

    @classmethod
    def unlimited(cls) -> RateLimits:
        return cls(enabled=False)

    @classmethod
    def for_tier(cls, tier: str) -> RateLimits:
        per_ten_seconds, daily = TIERS[tier]
        return cls(per_ten_seconds=per_ten_seconds, daily=daily)

    @classmethod
    def parse(cls, text: str) -> RateLimits:
        """``"190"``, ``"tier=starter"``, ``"190,search=5,daily=500000,secondly=19"``, or ``"off"`` (a CLI option)."""
        from pipeline.errors import ConfigError

        text = text.strip()
        if text.lower() in ("off", "0", "none"):
            return cls.unlimited()
        values: dict = {"per_ten_seconds": 190, "search_per_second": 5, "daily": TIERS["professional"][1]}
        usage = "expected e.g. '190', 'tier=starter', '190,search=5,daily=500000,secondly=19' or 'off'"
        for part in (p.strip() for p in text.split(",") if p.strip()):
            key, _, value = part.rpartition("=")
            if key.strip() == "tier":
                if value.strip().lower() not in TIERS:
                    raise ConfigError(f"--rate-limit {text!r}: tier must be one of {', '.join(TIERS)}")
                values["per_ten_seconds"], values["daily"] = TIERS[value.strip().lower()]
                continue
            key = {"": "per_ten_seconds", "10s": "per_ten_seconds", "search": "search_per_second",
                   "daily": "daily", "secondly": "per_second"}.get(key.strip())
            if key is None or not value.strip().isdigit() or int(value) <= 0:
                raise ConfigError(f"--rate-limit {text!r}: {usage}")
            values[key] = int(value)
        return cls(**values)


@dataclass(frozen=True)
class Decision:
    allowed: bool
    policy: str | None  # TEN_SECONDLY_ROLLING / SECONDLY / DAILY when refused
    remaining: int
    daily_remaining: int
    secondly_remaining: int = 0


class RateLimiter:
    """Counts accepted requests; refuses those beyond a limit (refused ones do not count)."""

    def __init__(self, limits: RateLimits, clock=time.monotonic):
        self.limits = limits
        self._clock = clock
        self._lock = threading.Lock()
        self._window: deque[float] = deque()
        self._search: deque[float] = deque()
        self._second: deque[float] = deque()
        self._daily_used = 0

    def check(self, *, is_search: bool) -> Decision:
        limits = self.limits
        with self._lock:
            now = self._clock()
            while self._window and self._window[0] <= now - 10.0:
                self._window.popleft()
            while self._search and self._search[0] <= now - 1.0:
                self._search.popleft()
            while self._second and self._second[0] <= now - 1.0:
                self._second.popleft()
            refused = None
            if limits.enabled:
                if self._daily_used >= limits.daily:
                    refused = "DAILY"
                elif is_search and len(self._search) >= limits.search_per_second:
                    refused = "SECONDLY"
                elif not is_search and len(self._window) >= limits.per_ten_seconds:
                    refused = "TEN_SECONDLY_ROLLING"
                elif not is_search and len(self._second) >= limits.secondly:
                    refused = "SECONDLY"
            if refused is None:
                if is_search:
                    self._search.append(now)
                else:
                    self._window.append(now)
                    self._second.append(now)
                self._daily_used += 1
            return Decision(
                allowed=refused is None,
                policy=refused,
                remaining=max(0, limits.per_ten_seconds - len(self._window)),
                daily_remaining=max(0, limits.daily - self._daily_used),
                secondly_remaining=max(0, limits.secondly - len(self._second)),
            )

    def use_daily(self, count: int) -> None:
        """Count ``count`` requests against today's quota (tests: a portal whose other integrations used it)."""
        with self._lock:
            self._daily_used += count

    def headers(self, decision: Decision) -> list[tuple[bytes, bytes]]:
        """The X-HubSpot-RateLimit-* headers HubSpot sends on non-search responses."""
        limits = self.limits
        return [
            (b"x-hubspot-ratelimit-max", str(limits.per_ten_seconds).encode()),
            (b"x-hubspot-ratelimit-remaining", str(decision.remaining).encode()),
            (b"x-hubspot-ratelimit-interval-milliseconds", b"10000"),
            (b"x-hubspot-ratelimit-secondly", str(limits.secondly).encode()),
            (b"x-hubspot-ratelimit-secondly-remaining", str(decision.secondly_remaining).encode()),
            (b"x-hubspot-ratelimit-daily", str(limits.daily).encode()),
            (b"x-hubspot-ratelimit-daily-remaining", str(decision.daily_remaining).encode()),
        ]


RATE_LIMIT_MESSAGES = {
    "TEN_SECONDLY_ROLLING": "You have reached your ten_secondly_rolling limit.",
    "SECONDLY": "You have reached your secondly limit.",
    "DAILY": "You have reached your daily limit.",
}


def rate_limit_body(policy: str, correlation: str) -> dict:
    """HubSpot's 429 JSON (usage guidelines, "Error responses": status, message, errorType, correlationId,
    policyName, requestId)."""
    return {
        "status": "error",
        "message": RATE_LIMIT_MESSAGES[policy],
        "errorType": "RATE_LIMIT",
        "correlationId": correlation,
        "policyName": policy,
        "requestId": str(uuid.uuid4()),
    }
