"""Progress output on long work: the ticker logs periodically, and `handoff run` echoes those lines."""

from __future__ import annotations

import threading

from pipeline.progress_ticker import ProgressTicker


class FakeClock:
    """Advances 10 s each time the ticker reads it: the elapsed text of each line is exact."""

    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        current = self.now
        self.now += 10.0
        return current


def _ticker(describe, lines: list[str], ticks: int):
    """A ticker (fake clock, 1 ms interval) and an event set once ``describe`` has run ``ticks`` times."""
    reached = threading.Event()
    calls = []

    def counted() -> str:
        calls.append(1)
        if len(calls) >= ticks:
            reached.set()
        return describe(len(calls) - 1)

    return ProgressTicker(counted, lines.append, interval_s=0.001, clock=FakeClock()), reached, calls


def test_ticker_logs_progress_lines_until_stopped():
    lines: list[str] = []
    ticker, reached, _ = _ticker(lambda n: f"{n} calls", lines, ticks=3)
    with ticker:
        assert reached.wait(30)  # no wall-clock budget: the ticker runs until it has ticked three times
    assert not ticker._thread.is_alive()  # stopped and joined: no line can follow
    stopped_at = len(lines)
    assert stopped_at >= 3
    # the clock read 1000 at start, then +10 s per read: the n-th line says (10 * (n + 1))s
    assert lines[:3] == ["progress: 0 calls (10s)", "progress: 1 calls (20s)", "progress: 2 calls (30s)"]
    assert lines == [f"progress: {n} calls ({10 * (n + 1)}s)" for n in range(stopped_at)]


def test_ticker_survives_a_failing_description():
    lines: list[str] = []

    def broken(n: int) -> str:
        raise RuntimeError("boom")

    ticker, reached, calls = _ticker(broken, lines, ticks=3)
    with ticker:
        assert reached.wait(30)  # it kept ticking after the first failure
        assert ticker._thread.is_alive()
    assert lines == [] and len(calls) >= 3


def test_root_cause_is_the_innermost_message_without_its_class(monkeypatch):
    from dagster._utils.error import SerializableErrorInfo

    from pipeline.run_progress import root_cause

    import pipeline.publish  # noqa: F401  (defines PublishError, a HandoffError)

    inner = SerializableErrorInfo("pipeline.publish.PublishError: cannot replace data/x.duckdb: disk full\n", [],
                                  "PublishError")
    outer = SerializableErrorInfo("Error occurred while executing op \"marts__published_copy\":", [],
                                  "DagsterExecutionStepExecutionError", cause=inner)
    assert root_cause(outer) == "cannot replace data/x.duckdb: disk full"
    plain = SerializableErrorInfo("KeyError: 'contacts'\n", [], "KeyError")
    assert root_cause(plain) == "KeyError: 'contacts'"  # a bug keeps its class name
    assert root_cause(None) == "unknown error"


def test_demo_summary_tells_how_to_ask_about_the_sandbox_portal_at_its_own_time(capsys):
    from pipeline.runner import RunSummary, SandboxInfo
    from pipeline.summary import print_summary

    sandbox = SandboxInfo(base_url="http://127.0.0.1:1", source="generated 10 contacts, seed 1",
                          portal_now="2026-11-02T15:00:00.000Z")
    print_summary(RunSummary(sandbox=sandbox, asset_run_id="abcdef123456", assets_materialized=37,
                             checks={"passed": 14, "failed": 0}, duration_s=1.0), demo=True)
    out = " ".join(capsys.readouterr().out.split())
    assert "`HANDOFF_NOW=2026-11-02T15:00:00.000Z .venv/bin/handoff status`" in out
    assert "37 materialized in run abcdef12; checks 14 passed, 0 failed" in out
