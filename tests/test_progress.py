"""Progress output on long work: the ticker logs periodically, and `handoff run` echoes those lines."""

from __future__ import annotations

import time

from pipeline.progress_ticker import ProgressTicker


def test_ticker_logs_progress_lines_until_stopped():
    lines: list[str] = []
    counter = iter(range(1000))
    with ProgressTicker(lambda: f"{next(counter)} calls", lines.append, interval_s=0.05):
        time.sleep(0.3)
    stopped_at = len(lines)
    time.sleep(0.15)
    assert len(lines) == stopped_at >= 3
    assert lines[0].startswith("progress: 0 calls (")
    assert lines[1].startswith("progress: 1 calls (")


def test_ticker_survives_a_failing_description():
    lines: list[str] = []

    def broken() -> str:
        raise RuntimeError("boom")

    with ProgressTicker(broken, lines.append, interval_s=0.02):
        time.sleep(0.1)
    assert lines == []


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
