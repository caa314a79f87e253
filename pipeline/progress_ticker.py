"""Periodic progress lines from long steps (extraction): a thread logs ``progress: ...`` every few seconds.

The lines go to the step's Dagster log (visible in the UI's run view); ``handoff run`` echoes them to the
terminal (``pipeline.run_progress``) so a long first sync never looks stuck.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

PROGRESS_PREFIX = "progress: "


class ProgressTicker:
    """Calls ``describe()`` every ``interval_s`` and hands ``progress: <text>`` to ``log``, until stopped."""

    def __init__(self, describe: Callable[[], str], log: Callable[[str], None], interval_s: float = 10.0,
                 clock: Callable[[], float] = time.monotonic):
        self._describe = describe
        self._log = log
        self._interval = interval_s
        self._clock = clock  # tests pass a fake clock: the elapsed seconds in each line are then exact
        self._stop = threading.Event()
        self._started = clock()
        self._thread = threading.Thread(target=self._loop, name="progress-ticker", daemon=True)

    def __enter__(self) -> "ProgressTicker":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _loop(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                elapsed = self._clock() - self._started
                self._log(f"{PROGRESS_PREFIX}{self._describe()} ({elapsed:,.0f}s)")
            except Exception:  # progress is cosmetic: never break the step over it
                pass
