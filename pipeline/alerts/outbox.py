"""The alerts outbox (``ops.alerts``): one row per (mql_id, step), written before any delivery is tried.

Status life cycle: ``pending`` -> ``sending`` (attempts + 1, committed before the POST) -> ``delivered``,
or ``failed`` (a definite refusal; retried with back-off, a few times per delivery pass, by every later pass
until it is older than the retry horizon). A row still ``sending``
when a sweep starts belongs to a process that died mid-POST: Slack may or may not have it, so it becomes
``uncertain`` and is never re-sent (at most once; an operator can see it). ``not_sent``: no webhook is
configured; ``dry_run``: the alert of a write that was only simulated.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

DELIVERABLE = ("pending", "failed")


@dataclass(frozen=True)
class OutboxRow:
    alert_id: str
    mql_id: str
    step: str
    recipient: str | None
    status: str
    attempts: int
    brief: dict
    blocks: list


def alert_id(mql_id: str, step: str) -> str:
    return f"{mql_id}:{step}"


def enqueue(
    con, *, mql_id: str, step: str, contact_id: str, recipient: str | None, recipient_owner_id: str | None,
    brief: dict, blocks: list, now: datetime, status: str = "pending",
) -> bool:
    """Insert the alert unless (mql_id, step) already has one. True when this call inserted it."""
    before = con.execute("SELECT count(*) FROM lane.ops.alerts WHERE mql_id = ? AND step = ?", [mql_id, step]).fetchone()[0]
    if before:
        return False
    con.execute(
        """INSERT INTO lane.ops.alerts (alert_id, mql_id, step, contact_id, recipient, recipient_owner_id, brief, blocks,
                                   status, attempts, created_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?) ON CONFLICT DO NOTHING""",
        [alert_id(mql_id, step), mql_id, step, contact_id, recipient, recipient_owner_id,
         json.dumps(brief, sort_keys=True), json.dumps(blocks), status, now],
    )
    return True


def get(con, alert: str) -> OutboxRow | None:
    row = con.execute(
        "SELECT alert_id, mql_id, step, recipient, status, attempts, brief, blocks FROM lane.ops.alerts WHERE alert_id = ?",
        [alert],
    ).fetchone()
    if row is None:
        return None
    return OutboxRow(row[0], row[1], row[2], row[3], row[4], row[5], json.loads(row[6]), json.loads(row[7]))


def due_for_delivery(con, since: datetime, alert_ids: list[str] | None = None) -> list[str]:
    """Pending or failed alerts created at or after ``since`` (older failures are left for an operator)."""
    sql = "SELECT alert_id FROM lane.ops.alerts WHERE status IN ('pending', 'failed') AND created_at >= ?"
    params: list = [since]
    if alert_ids is not None:
        if not alert_ids:
            return []
        sql += f" AND alert_id IN ({', '.join('?' for _ in alert_ids)})"
        params += alert_ids
    return [r[0] for r in con.execute(sql + " ORDER BY created_at, alert_id", params).fetchall()]


def claim(con, alert: str) -> bool:
    """Move a deliverable row to ``sending`` and count the attempt. False when it is not deliverable."""
    rows = con.execute(
        """UPDATE lane.ops.alerts SET status = 'sending', attempts = attempts + 1
           WHERE alert_id = ? AND status IN ('pending', 'failed') RETURNING alert_id""",
        [alert],
    ).fetchall()
    return bool(rows)


def mark_delivered(con, alert: str, now: datetime) -> None:
    con.execute(
        "UPDATE lane.ops.alerts SET status = 'delivered', delivered_at = ?, last_error = NULL WHERE alert_id = ?",
        [now, alert],
    )


def mark_failed(con, alert: str, error: str, *, uncertain: bool = False) -> None:
    con.execute(
        "UPDATE lane.ops.alerts SET status = ?, last_error = ? WHERE alert_id = ?",
        ["uncertain" if uncertain else "failed", error[:500], alert],
    )


def mark_not_sent(con, alert: str, why: str) -> None:
    con.execute(
        "UPDATE lane.ops.alerts SET status = 'not_sent', last_error = ? WHERE alert_id = ? AND status = 'pending'",
        [why, alert],
    )


def expire_interrupted(con) -> int:
    """Rows left ``sending`` by a dead process become ``uncertain`` (never re-sent). Returns how many."""
    rows = con.execute(
        """UPDATE lane.ops.alerts SET status = 'uncertain',
                  last_error = 'process stopped during delivery: Slack may have it; not re-sent'
           WHERE status = 'sending' RETURNING alert_id"""
    ).fetchall()
    return len(rows)
