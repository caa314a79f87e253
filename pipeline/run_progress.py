"""Live progress lines for an in-process Dagster run: one line per finished step, read from the instance."""

from __future__ import annotations

import threading
from collections.abc import Callable

import dagster as dg

from pipeline.errors import HandoffError
from pipeline.progress_ticker import PROGRESS_PREFIX
from pipeline.settings import redact

# step failures are reported by the caller in one line; full logs stay in the run (Dagster UI)
QUIET_RUN_CONFIG = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}

_WATCHED = {
    dg.DagsterEventType.STEP_SUCCESS,
    dg.DagsterEventType.STEP_FAILURE,
    dg.DagsterEventType.ASSET_CHECK_EVALUATION,
}


class RunProgress:
    """Polls the run's event log in a thread and echoes each finished step and check evaluation."""

    def __init__(self, instance: dg.DagsterInstance, run_id: str, echo: Callable[[str], None], interval_s: float = 1.0):
        self._instance = instance
        self._run_id = run_id
        self._echo = echo
        self._interval = interval_s
        self._seen = 0
        self._check_steps: set[str] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="run-progress", daemon=True)

    def __enter__(self) -> "RunProgress":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._drain()

    def _loop(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self._drain()
            except Exception:  # progress is cosmetic; never break the run over it
                pass

    def _drain(self) -> None:
        records = self._instance.all_logs(self._run_id)
        for record in records[self._seen:]:
            event = record.dagster_event
            if event is None:
                message = record.user_message or ""
                if message.startswith(PROGRESS_PREFIX):
                    self._echo(f"  ...   {record.step_key}: {message.removeprefix(PROGRESS_PREFIX)}")
                continue
            if event.event_type not in _WATCHED:
                continue
            if event.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION:
                data = event.event_specific_data
                verdict = "passed" if data.passed else "FAILED"
                self._check_steps.add(event.step_key)
                self._echo(f"  check {data.asset_key.to_user_string()}: {data.check_name} {verdict}")
            elif event.event_type == dg.DagsterEventType.STEP_SUCCESS:
                if event.step_key in self._check_steps:
                    continue
                seconds = event.event_specific_data.duration_ms / 1000
                self._echo(f"  done  {event.step_key} ({seconds:.1f}s)")
            else:
                self._echo(f"  FAIL  {event.step_key}: {redact(root_cause(event.step_failure_data.error))}")
        self._seen = len(records)


def root_cause(error) -> str:
    """The innermost error's last line; for our own HandoffErrors without the ``pkg.mod.SomeError: `` prefix."""
    if error is None:
        return "unknown error"
    while getattr(error, "cause", None) is not None:
        error = error.cause
    lines = [line for line in (error.message or "").strip().splitlines() if line.strip()]
    text = lines[-1] if lines else error.cls_name or "unknown error"
    head, sep, rest = text.partition(": ")
    if sep and rest and head.rsplit(".", 1)[-1] in _user_error_names():
        return rest  # our one-line errors speak for themselves; other exceptions keep their class name
    return text


def _user_error_names() -> set[str]:
    names, pending = set(), [HandoffError]
    while pending:
        cls = pending.pop()
        names.add(cls.__name__)
        pending.extend(cls.__subclasses__())
    return names
