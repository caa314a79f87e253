"""Client-side pacing below HubSpot's limits: a rolling 10-second window for ordinary requests and a separate
per-second window for searches (HubSpot exempts search from the 10-second limit, ``x-hubspot-rate-limit-exemptions:
ten-secondly``, and limits it to about 5 requests per second per account), plus the general per-second allowance
once HubSpot announces one (``X-HubSpot-RateLimit-Secondly``).

A request occupies a slot from the moment it is sent until ``window`` seconds after its response
arrived, so however the network reorders arrivals, the server can never see more than ``limit``
requests inside any window of that length. 429s and ``X-HubSpot-RateLimit-*`` headers pause or slow
the pacer further. Thread-safe; the clock and sleep are injectable for tests.

Across processes (the hourly sync and the live lane are separate processes with one portal budget: HubSpot counts
a private app's or Service Key's requests per portal, whoever sends them) a :class:`SharedLedger` file holds every
process's slots under an exclusive ``flock``. Each process takes a slot in it as well as in its own windows, under
the same send-to-response+window rule. Two shares keep either from starving the other: the ``sync`` share may fill
at most ``limit - lane reserve`` of a window and the ``lane`` share at most ``limit - sync reserve``
(docs/enforcement.md "Sharing HubSpot's rate limit").
"""

from __future__ import annotations

import fcntl
import json
import os
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path


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


SHARES = ("sync", "lane")
# the part of each window the *other* share can never take: the lane (a handoff is ~10-15 calls, the sensor one
# search a tick) is guaranteed a quarter of the 10-second window (47 of 190: 3 handoffs every 10 s) and one search
# a second, the sync half of the window and two searches a second; either takes the rest while the other is idle
RESERVE = {"lane": (0.25, 1), "sync": (0.50, 2)}  # share -> (fraction of the 10-second window, searches a second)
IN_FLIGHT_EXPIRY_S = 120.0  # a slot still "in flight" after this long belongs to a process that died mid-request


class SharedLedger:
    """The portal's request slots of every process on this host, in one JSON file under an exclusive lock.

    Entries: ``[id, kind ('g' general | 's' search), share, pid, sent, done-or-null]``. A slot counts from its
    send until ``window`` seconds after its response, as in :class:`RollingWindow`; one still in flight counts
    until its process is gone or :data:`IN_FLIGHT_EXPIRY_S` passed. ``paused_until`` is a 429's wait, for every
    process. Times are ``time.monotonic()``, one clock for all processes of a host (Linux ``CLOCK_MONOTONIC``)."""

    def __init__(self, path: Path | str, share: str = "sync", *, clock: Callable[[], float] = time.monotonic):
        if share not in SHARES:
            raise ValueError(f"rate-limit share must be one of {SHARES}, not {share!r}")
        self.path = Path(path)
        self.share = share
        self._clock = clock
        self.path.parent.mkdir(parents=True, exist_ok=True)

    def _locked(self, change: Callable[[dict, float], object]) -> object:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            with os.fdopen(os.dup(fd), "r+") as f:
                raw = f.read()
                try:
                    state = json.loads(raw) if raw.strip() else {}
                except ValueError:
                    state = {}  # a torn file (a process killed mid-write): start over, at worst one window early
                state.setdefault("slots", [])
                state.setdefault("paused_until", 0.0)
                now = self._clock()
                self._prune(state, now)
                result = change(state, now)
                f.seek(0)
                f.truncate()
                f.write(json.dumps(state, separators=(",", ":")))
            return result
        finally:
            os.close(fd)  # releases the lock

    @staticmethod
    def _prune(state: dict, now: float) -> None:
        kept = []
        for slot in state["slots"]:
            _, kind, _, pid, sent, done = slot
            window = 1.0 if kind == "s" else 10.0
            if done is not None:
                if done > now - window:
                    kept.append(slot)
            elif sent > now - IN_FLIGHT_EXPIRY_S and _alive(pid):
                kept.append(slot)
        state["slots"] = kept

    def try_acquire(self, is_search: bool, limit: int) -> tuple[str | None, float]:
        """(slot id, 0) when a slot was taken; (None, seconds to wait) when this share's part of the window is full."""
        kind = "s" if is_search else "g"
        other = "lane" if self.share == "sync" else "sync"
        fraction, searches = RESERVE[other]
        cap = max(1, limit - (searches if is_search else int(limit * fraction)))
        window = 1.0 if is_search else 10.0

        def change(state: dict, now: float):
            if state["paused_until"] > now:
                return None, state["paused_until"] - now
            slots = [s for s in state["slots"] if s[1] == kind]
            mine = [s for s in slots if s[2] == self.share]
            if len(slots) < limit and len(mine) < cap:
                slot_id = uuid.uuid4().hex[:12]
                state["slots"].append([slot_id, kind, self.share, os.getpid(), now, None])
                return slot_id, 0.0
            blocking = mine if len(mine) >= cap else slots
            ends = sorted(s[5] + window for s in blocking if s[5] is not None)
            return None, max(0.005, (ends[0] - now) if ends else 0.02)

        return self._locked(change)  # type: ignore[return-value]

    def release(self, slot_id: str) -> None:
        def change(state: dict, now: float):
            for slot in state["slots"]:
                if slot[0] == slot_id:
                    slot[5] = now
        self._locked(change)

    def pause(self, seconds: float) -> None:
        def change(state: dict, now: float):
            state["paused_until"] = max(state["paused_until"], now + max(0.0, seconds))
        self._locked(change)

    def usage(self) -> dict[str, int]:
        """Slots counted now per ``<share>.<kind>`` (for tests and status)."""
        def change(state: dict, now: float):
            out: dict[str, int] = {}
            for s in state["slots"]:
                key = f"{s[2]}.{'search' if s[1] == 's' else 'general'}"
                out[key] = out.get(key, 0) + 1
            return out
        return self._locked(change)  # type: ignore[return-value]


def _alive(pid: int) -> bool:
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


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
        shared: SharedLedger | None = None,
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
        self.shared = shared  # the other processes' slots (None: this process alone)
        self._slots = threading.local()  # this thread's shared slot ids, released in order

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
                    break
            self.waited_s += wait
            self._sleep(wait)
        if self.shared is None:
            return
        limit = self.search.limit if is_search else self.general.limit
        while True:  # our own window's slot is held meanwhile: another thread of ours waits its turn here too
            slot_id, wait = self.shared.try_acquire(is_search, limit)
            if slot_id is not None:
                self._held().append(slot_id)
                return
            self.waited_s += wait
            self._sleep(wait)

    def _held(self) -> list[str]:
        held = getattr(self._slots, "ids", None)
        if held is None:
            held = self._slots.ids = []
        return held

    def release(self, is_search: bool = False) -> None:
        if self.shared is not None and self._held():
            self.shared.release(self._held().pop())
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
        if self.shared is not None:  # HubSpot refused one of us: the whole portal budget is spent
            self.shared.pause(seconds)

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
            # (with a shared ledger the other processes here are in it: a spent window is ours, and the ledger
            # already holds each request until a slot frees; other hosts are met by their 429's Retry-After)
            if remaining is not None and remaining <= 0 and ours_left > 0 and self.shared is None:
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
