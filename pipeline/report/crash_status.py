"""``handoff status``'s "recovered crashes" section and the run summary's "recovered" row.

Read from the Dagster instance in ``DAGSTER_HOME`` (never created here): the runs ``pipeline.recovery`` marked
failed after their process died, when, what they were doing, and what the next run resumed. Kept apart
from the status table's layout so that layout can change without touching this.
"""

from __future__ import annotations

import os
import textwrap
import time
from pathlib import Path

DEFAULT_DAYS = 7.0
WIDTH = 80


def dagster_home() -> Path | None:
    home = Path(os.environ.get("DAGSTER_HOME", "").strip() or ".dagster")
    return home if (home / "dagster.yaml").exists() else None


def recovered_crashes_section(days: float = DEFAULT_DAYS, limit: int = 5) -> list[dict]:
    """Crashes recovered in the last ``days`` (wall clock: this is about the machine, not the portal's clock)."""
    home = dagster_home()
    if home is None:
        return []
    import dagster as dg

    from pipeline.recovery import recovered_crashes

    os.environ.setdefault("DAGSTER_HOME", str(home.resolve()))
    with dg.DagsterInstance.from_config(str(home)) as instance:
        return recovered_crashes(instance, limit=limit, since=time.time() - days * 86400)


def _short(iso: str | None) -> str:
    return (iso or "?").replace("T", " ")[:16] + (" UTC" if iso else "")


def describe(item: dict) -> str:
    """One crash in a sentence: which run, when, doing what, who recovered it, what the next run resumed."""
    during = f" during {', '.join(item['steps_in_flight'])}" if item.get("steps_in_flight") else ""
    from pipeline.recovery import job_label

    job = job_label(item["job_name"])
    text = (f"run {item['run_id'][:8]} ({job}, started {_short(item['started_at'])}) crashed{during}: "
            f"{item['reason']}; marked failed {_short(item['recovered_at'])} by {item['recovered_by']}")
    resumed = item.get("resumed")
    if not resumed:
        return text + "; not resumed yet (the next `handoff run` or scheduled run resumes it)"
    parts = []
    if resumed.get("steps_rerun"):
        parts.append("re-ran " + ", ".join(resumed["steps_rerun"]))
    if resumed.get("incomplete_loads_removed"):
        parts.append("removed rows of an unfinished load (" + resumed["incomplete_loads_removed"] + ")")
    if resumed.get("enforcement_steps_resumed"):
        parts.append("finished ladder steps " + ", ".join(resumed["enforcement_steps_resumed"]))
    if resumed.get("interrupted_deliveries"):
        parts.append(f"{resumed['interrupted_deliveries']} interrupted alert deliveries flagged")
    done = "; ".join(parts) or "nothing was left half-done"
    return text + f"; resumed by run {str(resumed.get('by_run', '?'))[:8]} ({_short(resumed.get('completed_at'))}): {done}"


def crash_lines(items: list[dict], *, days: float = DEFAULT_DAYS, width: int = WIDTH) -> list[str]:
    """The status section as lines of at most ``width`` columns (empty when there was no crash)."""
    if not items:
        return []
    lines = [f"Recovered crashes (last {days:g} days, newest first):"]
    for item in items:
        lines.extend(textwrap.wrap(describe(item), width=width, initial_indent="- ", subsequent_indent="  ",
                                   break_on_hyphens=False))
    return lines
