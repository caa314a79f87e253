"""``handoff status``'s live-lane section: handoffs done and pending, from the lane's own DuckDB file.

Read-only and short (the lane file is opened for one query and closed). "Pending": an MQL whose handoff run
started and has not finished (a run in flight, or one a crash left ``started``: the next lane run resumes it).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from pipeline.sla.lane_db import LaneBusyError, read_lane

SQL = """
SELECT l.mql_id, l.status, l.reason, l.started_at, l.finished_at, d.to_owner_id, d.rule, d.task_id, a.status AS message
FROM ops.enforcement_log l
LEFT JOIN ops.routing_decisions d ON d.mql_id = l.mql_id AND d.step = 'handoff'
LEFT JOIN ops.alerts a ON a.mql_id = l.mql_id AND a.step = 'handoff'
WHERE l.step = 'handoff' AND l.started_at >= ?
ORDER BY l.started_at DESC, l.mql_id
"""


def handoff_summary(db_path: Path, now: datetime, *, days: float = 1.0, limit: int = 10) -> dict:
    """Counts by status over the last ``days`` and the newest handoffs (pending first)."""
    db_path = Path(db_path)
    if ".published" in db_path.name:
        db_path = db_path.with_name(db_path.name.replace(".published", "", 1))
    try:
        with read_lane(db_path) as con:
            if con is None:
                return {"available": False, "note": "the live lane has not run yet (no handoffs)"}
            cursor = con.execute(SQL, [now - timedelta(days=days)])
            names = [d[0] for d in cursor.description]
            rows = [dict(zip(names, r)) for r in cursor.fetchall()]
    except LaneBusyError as err:
        return {"available": False, "note": str(err)}
    counts: dict[str, int] = {}
    for row in rows:
        counts[row["status"]] = counts.get(row["status"], 0) + 1
        for key in ("started_at", "finished_at"):
            row[key] = row[key].isoformat() if row[key] else None
    pending = [r for r in rows if r["status"] == "started"]
    return {"available": True, "days": days, "counts": counts, "pending": pending,
            "recent": (pending + [r for r in rows if r["status"] != "started"])[:limit]}


def handoff_lines(summary: dict) -> list[str]:
    """Plain lines (<= 80 columns) for the terminal."""
    if not summary.get("available"):
        return [f"handoffs: {summary.get('note')}"]
    counts = summary["counts"]
    done = counts.get("done", 0) + counts.get("dry_run", 0)
    lines = [f"handoffs (last {summary['days']:g} day): {done} done, {len(summary['pending'])} pending, "
             f"{counts.get('cancelled', 0)} cancelled, {counts.get('failed', 0)} failed"]
    for row in summary["recent"]:
        owner = f"-> {row['to_owner_id']}" if row["to_owner_id"] else ""
        lines.append(f"  {row['mql_id'][:24]:<24} {row['status']:<9} {owner:<8} "
                     f"task {row['task_id'] or '-':<8} msg {row['message'] or '-'}"[:80])
    return lines
