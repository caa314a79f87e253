"""``handoff explain MQL_ID``: one episode's SLA status, the engagements that counted as touches and the
ones ignored, each with the rule that excluded it (docs/contracts.md "Touch rules", mirrored here in words)."""

from __future__ import annotations

from datetime import datetime

import duckdb

from pipeline.errors import HandoffError
from pipeline.policy import Policy
from pipeline.report import queries
from pipeline.report.connection import column_or_null, columns, table_exists
from pipeline.touch_rules import ENGAGEMENTS, TYPE_ORDER, id_order, touch_time, type_reasons


def time_reasons(ts: datetime | None, mql_at: datetime, next_mql_at: datetime | None, next_mql_id: str | None,
                 now: datetime) -> list[str]:
    """Why an engagement's time puts it outside this episode's window (``mql_at <= ts < next_mql_at``, ``<= now``);
    ``ts`` is the instant it counts at (``pipeline.touch_rules.touch_time``)."""
    if ts is None:
        return ["no hs_timestamp"]
    if ts < mql_at:
        return ["before the MQL (activity before mql_at never counts)"]
    if next_mql_at is not None and ts >= next_mql_at:
        return [f"after the next MQL episode opened (counts for {next_mql_id})"]
    if ts > now:
        return ["after now (in the future)"]
    return []


def _engagement_rows(con: duckdb.DuckDBPyConnection, contact_id: str) -> list[dict]:
    if not table_exists(con, "hubspot", "associations"):
        return []
    selects = []
    for table, (family, first, second, title) in ENGAGEMENTS.items():
        if not table_exists(con, "hubspot", table):
            continue
        have = columns(con, "hubspot", table)
        archived = "coalesce(CAST(archived AS BOOLEAN), false)" if "archived" in have else "false"
        selects.append(
            f"""SELECT '{family}' AS type, CAST(id AS VARCHAR) AS id,
                   {column_or_null(have, 'hs_timestamp', 'ts', 'TIMESTAMPTZ')},
                   {column_or_null(have, 'hs_createdate' if family == 'meeting' else '', 'created', 'TIMESTAMPTZ')},
                   {column_or_null(have, 'hubspot_owner_id', 'owner_id')}, {archived} AS archived,
                   {column_or_null(have, first or '', 'first')}, {column_or_null(have, second or '', 'second')},
                   {column_or_null(have, title or '', 'title')}
                FROM hubspot.{table}
                WHERE CAST(id AS VARCHAR) IN (
                    SELECT CAST(from_id AS VARCHAR) FROM hubspot.associations
                    WHERE from_type = '{table}' AND to_type = 'contacts' AND CAST(to_id AS VARCHAR) = $contact)"""
        )
    if not selects:
        return []
    cursor = con.execute(" UNION ALL ".join(selects), {"contact": contact_id})
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row)) for row in cursor.fetchall()]


def _episode(con: duckdb.DuckDBPyConnection, mql_id: str) -> dict:
    cursor = con.execute(f"SELECT * FROM {queries.MART} WHERE mql_id = ?", [mql_id])
    names = [d[0] for d in cursor.description]
    row = cursor.fetchone()
    if row is None:
        raise HandoffError(
            f"no MQL episode {mql_id!r} in {queries.MART}: ids look like '<contact id>:<epoch ms of mql_at>' "
            "(see `handoff status --json` or the report's breaches list)"
        )
    return dict(zip(names, row))


def _status_sentence(ep: dict, now: datetime) -> str:
    sla = ep["sla_minutes"]
    status = ep["sla_status"]
    if status in ("met", "breached"):
        minutes = ep["minutes_to_first_touch"]
        if status == "met":
            return (f"met: first touch ({ep['first_touch_type']}) {minutes:.1f} min after the MQL, "
                    f"within the {sla} min SLA")
        return (f"breached: first touch ({ep['first_touch_type']}) {minutes:.1f} min after the MQL, "
                f"{minutes - sla:.1f} min past the {sla} min SLA")
    late = (now - ep["sla_due_at"]).total_seconds() / 60
    if status == "overdue":
        return f"overdue: no touch counted, the {sla} min SLA ran out {late:.1f} min ago"
    if late > 0:
        return f"pending at the last build, past due now by {late:.1f} min: no touch counted (rebuild to update)"
    return f"pending: no touch counted yet, {-late:.1f} min left of the {sla} min SLA"


def explain_episode(con: duckdb.DuckDBPyConnection, mql_id: str, now: datetime, policy: Policy) -> dict:
    """The episode, its counted touches (first one flagged) and its ignored engagements with reasons."""
    ep = _episode(con, mql_id)
    nxt = con.execute(
        f"SELECT mql_id, mql_at FROM {queries.MART} WHERE contact_id = ? AND mql_at > ? ORDER BY mql_at LIMIT 1",
        [ep["contact_id"], ep["mql_at"]],
    ).fetchone()
    next_id, next_at = (nxt[0], nxt[1]) if nxt else (None, None)
    names = queries.owner_names(con)
    # touches are judged at the clock the mart was built with (a meeting booked for later is not yet a
    # touch), so the list agrees with the status; `now` only words how late a pending episode is today
    built_at = ep.get("computed_at") or now
    touches, ignored = [], []
    excluded = policy.touches.meeting_outcomes_excluded
    for row in _engagement_rows(con, ep["contact_id"]):
        reasons = type_reasons(row["type"], row["first"], row["second"], meeting_outcomes_excluded=excluded)
        if row["archived"]:
            reasons.insert(0, "archived (deleted) in HubSpot")
        at = touch_time(row["type"], row["ts"], row["created"])
        reasons += time_reasons(at, ep["mql_at"], next_at, next_id, built_at)
        item = {
            "type": row["type"],
            "id": row["id"],
            "at": at.isoformat() if at else None,
            "owner_id": row["owner_id"],
            "owner": names.get(row["owner_id"], row["owner_id"]) if row["owner_id"] else None,
            "detail": " / ".join(v for v in (row["first"], row["second"]) if v) or None,
            "title": (row["title"] or "")[:80] or None,
            "_sort": (at or ep["mql_at"], TYPE_ORDER[row["type"]], id_order(row["id"])),
        }
        if row["type"] == "meeting" and row["created"] is not None and at != row["ts"]:
            # booked before it takes place: counted when booked (docs/contracts.md "Touch rules")
            item["booked_at"] = row["created"].isoformat()
            item["meeting_at"] = row["ts"].isoformat() if row["ts"] else None
        if reasons:
            item["reason"] = "; ".join(reasons)
            ignored.append(item)
        else:
            touches.append(item)
    touches.sort(key=lambda i: i["_sort"])
    ignored.sort(key=lambda i: i["_sort"])
    for i, item in enumerate(touches):
        item["first_touch"] = i == 0
    for item in touches + ignored:
        del item["_sort"]
    iso = lambda v: v.isoformat() if v is not None else None  # noqa: E731
    episode = {
        key: iso(ep.get(key)) if isinstance(ep.get(key), datetime) else ep.get(key)
        for key in ("mql_id", "contact_id", "mql_type", "owner_id", "team", "sla_minutes", "mql_at", "sla_due_at",
                    "sla_status", "first_touch_at", "first_touch_type", "first_touch_owner_id",
                    "minutes_to_first_touch", "business_minutes_to_first_touch", "attempts", "computed_at")
    }
    episode["owner"] = names.get(ep["owner_id"], ep["owner_id"]) if ep["owner_id"] else None
    episode["next_mql_id"] = next_id
    episode["ladder"] = queries.ladder_steps(con).get(mql_id)
    episode["url"] = policy.hubspot.contact_url(ep["contact_id"], queries.portal_id(con))
    return {"now": now.isoformat(), "episode": episode, "explanation": _status_sentence(ep, now),
            "touches": touches, "ignored": ignored}

