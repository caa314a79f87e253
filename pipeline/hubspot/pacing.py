"""Client-side pacing below HubSpot's limits: a rolling 10-second window for ordinary requests and a separate
per-second window for searches (HubSpot exempts search from the 10-second limit, ``x-hubspot-rate-limit-exemptions:
ten-secondly``, and limits it to about 5 requests per second per account), plus the general per-second allowance
once HubSpot announces one (``X-HubSpot-RateLimit-Secondly``).

A request occupies a slot from the moment it is sent until ``window`` seconds after its response
arrived, so however the network reorders arrivals, the server can never see more than ``limit``
requests inside any window of that length. 429s and ``X-HubSpot-RateLimit-*`` headers pause or slow
the pacer further. Thread-safe; the clock and sleep are injectable for tests.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field


@dataclass
class RollingWindow:
    """At most ``limit`` requests in any ``seconds``-long window (counted send-to-response + window)."""

    limit: int
    seconds: float
    _done: deque = field(default_factory=deque)  # response times of finished requests
    in_flight: int = 0

    def prune(self, now: float) -> None:
        while self._done and self._done[0] <= now - self.seconds:
            self._done.popleft()

    def wait_time(self, now: float) -> float:
        """Seconds until one more request may be sent (0 when allowed now)."""
        self.prune(now)
        used = len(self._done) + self.in_flight
        if used < self.limit:
            return 0.0
        if not self._done:  # every slot is in flight: wait for a response
            return 0.01
        # the (used - limit + 1)-th oldest finished slot must expire
        index = used - self.limit
        if index >= len(self._done):
            return 0.01
        return max(0.0, self._done[index] + self.seconds - now) + 0.001

    def finish(self, now: float) -> None:
        self.in_flight = max(0, self.in_flight - 1)  # a window created while the request was in flight
        self._done.append(now)


class Pacer:
    """Blocks before each request until its window allows it: searches their own, everything else the general
    10-second window (and the per-second one HubSpot announced)."""

    def __init__(
        self,
        limit_per_10s: int = 190,
        search_per_s: int = 5,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if limit_per_10s < 1 or search_per_s < 1:
            raise ValueError("rate limits must be at least 1 request per window")
        self.general = RollingWindow(limit_per_10s, 10.0)
        self.search = RollingWindow(search_per_s, 1.0)
        self.secondly: RollingWindow | None = None  # X-HubSpot-RateLimit-Secondly, once seen
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._paused_until = 0.0
        self.waited_s = 0.0

    def acquire(self, is_search: bool = False) -> None:
        """Wait for a free slot and take it; pair with :meth:`release` after the response."""
        while True:
            with self._lock:
                now = self._clock()
                windows = self._windows(is_search)
                wait = max([self._paused_until - now, *(w.wait_time(now) for w in windows)])
                if wait <= 0:
                    for window in windows:
                        window.in_flight += 1
                    return
            self.waited_s += wait
            self._sleep(wait)

    def release(self, is_search: bool = False) -> None:
        with self._lock:
            now = self._clock()
            for window in self._windows(is_search):
                window.finish(now)

    def _windows(self, is_search: bool) -> list[RollingWindow]:
        if is_search:
            return [self.search]
        return [self.general] if self.secondly is None else [self.general, self.secondly]

    def pause(self, seconds: float) -> None:
        """Send nothing for ``seconds`` (a 429's Retry-After, or the server's window running out)."""
        with self._lock:
            self._paused_until = max(self._paused_until, self._clock() + max(0.0, seconds))

    def observe_headers(self, headers: Mapping[str, str]) -> None:
        """Adopt a lower ``X-HubSpot-RateLimit-Max`` (10-second) and the ``-Secondly`` general per-second allowance
        (it is not the search limit: search answers carry no rate-limit headers); when the server says nothing is
        left but our own window still has room (another client shares the budget), hold back briefly."""
        lowered = {k.lower(): v for k, v in headers.items()}
        server_max = _int(lowered.get("x-hubspot-ratelimit-max"))
        secondly_max = _int(lowered.get("x-hubspot-ratelimit-secondly"))
        remaining = _int(lowered.get("x-hubspot-ratelimit-remaining"))
        interval_ms = _int(lowered.get("x-hubspot-ratelimit-interval-milliseconds")) or 10_000
        with self._lock:
            if server_max and server_max < self.general.limit:
                self.general.limit = server_max
            if secondly_max and secondly_max > 0:
                if self.secondly is None:
                    self.secondly = RollingWindow(secondly_max, 1.0)
                elif secondly_max < self.secondly.limit:
                    self.secondly.limit = secondly_max
            now = self._clock()
            self.general.prune(now)
            ours_left = self.general.limit - len(self.general._done) - self.general.in_flight
            if remaining is not None and remaining <= 0 and ours_left > 0:
                hold = interval_ms / 1000.0 / max(1, self.general.limit) * 10
                self._paused_until = max(self._paused_until, now + hold)


def retry_after_seconds(headers: Mapping[str, str], default: float) -> float:
    """Seconds a 429 asks us to wait: ``Retry-After`` when present, else ``default``.

    ``X-HubSpot-RateLimit-Interval-Milliseconds`` is the window's length, not a wait: pausing a whole
    window per 429 would halve throughput, and the pacer already keeps us under the window's budget.
    """
    lowered = {k.lower(): v for k, v in headers.items()}
    value = lowered.get("retry-after")
    if value is not None:
        try:
            return max(0.0, float(value))
        except ValueError:
            pass
    return default


def _int(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return int(str(value).strip())
    except ValueError:
        return None
