"""Thread-safe request statistics: counts by endpoint and status, 429s by cause, faults, and peak rates."""

from __future__ import annotations

import threading
import time
from collections import Counter, deque


class SandboxStats:
    """What the sandbox served; ``snapshot()`` is a plain dict (also ``GET /_sandbox/stats``)."""

    def __init__(self, clock=time.monotonic):
        self._clock = clock
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self._requests: Counter[str] = Counter()
            self._statuses: Counter[int] = Counter()
            self._client_errors: Counter[str] = Counter()
            self._faults: Counter[str] = Counter()
            self._limited: Counter[str] = Counter()
            self._window: deque[float] = deque()
            self._search_window: deque[float] = deque()
            self._max_10s = 0
            self._max_search_1s = 0
            self._total = 0

    def request(self, endpoint: str, *, is_search: bool) -> None:
        """Count an arriving API request and update the peak rolling-window counts."""
        with self._lock:
            now = self._clock()
            self._total += 1
            self._requests[endpoint] += 1
            if not is_search:  # search has its own limit; it is not part of the 10-second window
                window = self._window
                window.append(now)
                while window[0] <= now - 10.0:
                    window.popleft()
                self._max_10s = max(self._max_10s, len(window))
            else:
                search = self._search_window
                search.append(now)
                while search[0] <= now - 1.0:
                    search.popleft()
                self._max_search_1s = max(self._max_search_1s, len(search))

    def status(self, code: int, request: str = "") -> None:
        """Count an answer's status; a 4xx also by ``request`` ("METHOD /path" as the client called it)."""
        with self._lock:
            self._statuses[code] += 1
            if 400 <= code < 500 and request:
                self._client_errors[f"{code} {request}"] += 1

    def rate_limited(self, cause: str) -> None:
        """cause: ``limit`` (a real limit) or ``fault`` (injected)."""
        with self._lock:
            self._limited[cause] += 1

    def fault(self, kind: str) -> None:
        with self._lock:
            self._faults[kind] += 1

    def snapshot(self) -> dict:
        with self._lock:
            return {
                "total_requests": self._total,
                "requests": dict(sorted(self._requests.items())),
                "statuses": {str(k): v for k, v in sorted(self._statuses.items())},
                "client_errors": dict(sorted(self._client_errors.items())),
                "rate_limited": {"limit": self._limited["limit"], "fault": self._limited["fault"]},
                "faults": dict(sorted(self._faults.items())),
                "max_requests_10s": self._max_10s,
                "max_search_requests_1s": self._max_search_1s,
            }
