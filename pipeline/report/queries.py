"""SQL over ``marts.speed_to_lead`` (pinned columns) and the raw owners/account tables, for the report,
the story metadata and ``handoff status``. Every function takes an open DuckDB connection; ``now`` is
passed in (``pipeline.settings.now()`` at the edge)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

import duckdb

from pipeline.report.connection import columns, table_exists

MART = "marts.speed_to_lead"
DECIDED = "('met', 'breached', 'overdue')"


def _dicts(cursor: duckdb.DuckDBPyConnection) -> list[dict]:
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row)) for row in cursor.fetchall()]


def owner_names(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """owner id -> "First Last" (else email, else the id); empty when the owners table is not there."""
    if not table_exists(con, "hubspot", "owners"):
        return {}
    have = columns(con, "hubspot", "owners")
    first = "first_name" if "first_name" in have else "NULL"
    last = "last_name" if "last_name" in have else "NULL"
    email = "email" if "email" in have else "NULL"
    rows = con.execute(
        f"SELECT CAST(id AS VARCHAR), trim(coalesce({first}, '') || ' ' || coalesce({last}, '')), {email} "
        "FROM hubspot.owners"
    ).fetchall()
    return {oid: (name or mail or oid) for oid, name, mail in rows}


def portal_id(con: duckdb.DuckDBPyConnection) -> int | None:
    """The portal id from ``hubspot.account`` (for record links), when extracted."""
    if not table_exists(con, "hubspot", "account") or "portal_id" not in columns(con, "hubspot", "account"):
        return None
    row = con.execute("SELECT max(portal_id) FROM hubspot.account").fetchone()
    return int(row[0]) if row and row[0] is not None else None


def computed_at(con: duckdb.DuckDBPyConnection) -> datetime | None:
    return con.execute(f"SELECT max(computed_at) FROM {MART}").fetchone()[0]


def kpis(con: duckdb.DuckDBPyConnection, now: datetime) -> dict:
    """Headline figures. SLA met % = met / (met + breached + overdue); pending episodes are not yet decided."""
    row = _dicts(
        con.execute(
            f"""
            SELECT count(*) AS episodes,
                   count(*) FILTER (sla_status = 'met') AS met,
                   count(*) FILTER (sla_status = 'breached') AS breached,
                   count(*) FILTER (sla_status = 'overdue') AS overdue,
                   count(*) FILTER (sla_status = 'pending') AS pending,
                   round(100.0 * count(*) FILTER (sla_status = 'met')
                         / nullif(count(*) FILTER (sla_status IN {DECIDED}), 0), 1) AS sla_met_pct,
                   round(median(minutes_to_first_touch), 1) AS median_minutes,
                   round(median(minutes_to_first_touch) FILTER (mql_at >= ?::TIMESTAMPTZ - INTERVAL 7 DAY
                                                                AND mql_at <= ?::TIMESTAMPTZ), 1)
                       AS median_minutes_last_7_days,
                   count(*) FILTER (mql_at >= ?::TIMESTAMPTZ - INTERVAL 7 DAY AND mql_at <= ?::TIMESTAMPTZ)
                       AS episodes_last_7_days,
                   max(computed_at) AS computed_at
            FROM {MART}
            """,
            [now, now, now, now],
        )
    )[0]
    return row


def breaches_by_team(con: duckdb.DuckDBPyConnection) -> list[dict]:
    """Per team: episodes decided, met, breached, overdue and SLA met %, worst first."""
    return _dicts(
        con.execute(
            f"""
            SELECT coalesce(team, '(no team)') AS team,
                   count(*) FILTER (sla_status IN {DECIDED}) AS decided,
                   count(*) FILTER (sla_status = 'met') AS met,
                   count(*) FILTER (sla_status = 'breached') AS breached,
                   count(*) FILTER (sla_status = 'overdue') AS overdue,
                   round(100.0 * count(*) FILTER (sla_status = 'met')
                         / nullif(count(*) FILTER (sla_status IN {DECIDED}), 0), 1) AS sla_met_pct
            FROM {MART}
            GROUP BY 1
            ORDER BY breached + overdue DESC, team
            """
        )
    )


def sla_trend_by_week(con: duckdb.DuckDBPyConnection) -> list[dict]:
    """SLA met % per ISO week (Monday, UTC) of ``mql_at`` and team, over decided episodes."""
    return _dicts(
        con.execute(
            f"""
            SELECT CAST(date_trunc('week', mql_at) AS DATE) AS week,
                   coalesce(team, '(no team)') AS team,
                   count(*) AS decided,
                   count(*) FILTER (sla_status = 'met') AS met,
                   round(100.0 * count(*) FILTER (sla_status = 'met') / count(*), 1) AS sla_met_pct
            FROM {MART}
            WHERE sla_status IN {DECIDED}
            GROUP BY 1, 2
            ORDER BY 1, 2
            """
        )
    )


def response_by_rep(con: duckdb.DuckDBPyConnection) -> list[dict]:
    """Distribution of minutes to first touch per owner at MQL (touched episodes only)."""
    rows = _dicts(
        con.execute(
            f"""
            SELECT owner_id,
                   count(*) AS touched,
                   round(min(minutes_to_first_touch), 2) AS min_minutes,
                   round(quantile_cont(minutes_to_first_touch, 0.25), 2) AS p25_minutes,
                   round(median(minutes_to_first_touch), 2) AS median_minutes,
                   round(quantile_cont(minutes_to_first_touch, 0.75), 2) AS p75_minutes,
                   round(quantile_cont(minutes_to_first_touch, 0.90), 2) AS p90_minutes,
                   round(max(minutes_to_first_touch), 2) AS max_minutes
            FROM {MART}
            WHERE minutes_to_first_touch IS NOT NULL
            GROUP BY owner_id
            ORDER BY median_minutes, owner_id
            """
        )
    )
    names = owner_names(con)
    for row in rows:
        row["owner"] = names.get(row["owner_id"], row["owner_id"]) if row["owner_id"] else "(unassigned)"
    return rows


def response_histogram(con: duckdb.DuckDBPyConnection) -> list[dict]:
    """Touched episodes per response bucket (the impact buckets), for the story chart."""
    return _dicts(
        con.execute(
            f"""
            SELECT bucket, order_key, count(*) AS episodes FROM (
                SELECT CASE WHEN minutes_to_first_touch < 5 THEN '<5 min'
                            WHEN minutes_to_first_touch < 60 THEN '5-60 min'
                            WHEN minutes_to_first_touch < 240 THEN '1-4 h'
                            WHEN minutes_to_first_touch < 1440 THEN '4-24 h'
                            WHEN minutes_to_first_touch IS NOT NULL THEN '>24 h'
                            ELSE 'never' END AS bucket,
                       CASE WHEN minutes_to_first_touch < 5 THEN 1 WHEN minutes_to_first_touch < 60 THEN 2
                            WHEN minutes_to_first_touch < 240 THEN 3 WHEN minutes_to_first_touch < 1440 THEN 4
                            WHEN minutes_to_first_touch IS NOT NULL THEN 5 ELSE 6 END AS order_key
                FROM {MART} WHERE sla_status <> 'pending')
            GROUP BY 1, 2 ORDER BY 2
            """
        )
    )


def breaches(con: duckdb.DuckDBPyConnection, now: datetime, limit: int = 200) -> tuple[list[dict], int]:
    """Breached and overdue episodes, most recent MQL first, with minutes past due; and the total count."""
    total = con.execute(f"SELECT count(*) FROM {MART} WHERE sla_status IN ('breached', 'overdue')").fetchone()[0]
    rows = _dicts(
        con.execute(
            f"""
            SELECT mql_id, contact_id, mql_type, owner_id, coalesce(team, '(no team)') AS team, mql_at, sla_due_at,
                   first_touch_at, first_touch_type, sla_status,
                   round((epoch_ms(coalesce(first_touch_at, ?::TIMESTAMPTZ)) - epoch_ms(sla_due_at)) / 60000.0, 1)
                       AS minutes_past_due
            FROM {MART}
            WHERE sla_status IN ('breached', 'overdue')
            ORDER BY mql_at DESC, mql_id
            LIMIT ?
            """,
            [now, limit],
        )
    )
    names = owner_names(con)
    for row in rows:
        row["owner"] = names.get(row["owner_id"], row["owner_id"]) if row["owner_id"] else "(unassigned)"
    return rows, int(total)


def open_episodes(con: duckdb.DuckDBPyConnection, now: datetime, lookback_days: float,
                  mql_stages: Sequence[str] = ("marketingqualifiedlead",)) -> tuple[list[dict], int]:
    """Untouched episodes still waiting for outreach now: the contact's latest episode, no conversion, MQL within
    the lookback window. Returns them with ``minutes_left`` (negative = overdue) and the count of older
    untouched episodes left out."""
    still_mql = ""
    if table_exists(con, "hubspot", "contacts") and "lifecyclestage" in columns(con, "hubspot", "contacts"):
        still_mql = (
            "AND contact_id IN (SELECT CAST(id AS VARCHAR) FROM hubspot.contacts "
            "WHERE lifecyclestage IN (" + ", ".join("'" + v.replace("'", "''") + "'" for v in mql_stages) + "))"
        )
    since = now - timedelta(days=lookback_days)
    base = f"""
        WITH latest AS (
            SELECT *, row_number() OVER (PARTITION BY contact_id ORDER BY mql_at DESC) AS newest
            FROM {MART} WHERE mql_at <= ?::TIMESTAMPTZ
        )
        SELECT * FROM latest
        WHERE newest = 1 AND first_touch_at IS NULL
          AND sql_at IS NULL AND opportunity_at IS NULL AND customer_at IS NULL {still_mql}
    """
    rows = _dicts(
        con.execute(
            f"""
            SELECT mql_id, contact_id, mql_type, owner_id, team, mql_at, sla_minutes, sla_due_at,
                   round((epoch_ms(sla_due_at) - epoch_ms(?::TIMESTAMPTZ)) / 60000.0, 1) AS minutes_left
            FROM ({base}) WHERE mql_at >= ?::TIMESTAMPTZ
            ORDER BY minutes_left, mql_id
            """,
            [now, now, since],
        )
    )
    older = con.execute(f"SELECT count(*) FROM ({base}) WHERE mql_at < ?::TIMESTAMPTZ", [now, since]).fetchone()[0]
    return rows, int(older)


def ladder_steps(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """mql_id -> the escalation ladder so far, e.g. ``manager_escalation: done``, from ``ops.enforcement_log``
    (as of the copy being read; empty when enforcement has not run)."""
    if not table_exists(con, "ops", "enforcement_log"):
        return {}
    rows = con.execute(
        """SELECT mql_id, string_agg(step || ': ' || status, ', ' ORDER BY started_at, step)
           FROM ops.enforcement_log GROUP BY mql_id"""
    ).fetchall()
    return dict(rows)
