"""Reads from the main DuckDB for one episode: its row, the brief's facts, and the routing engine's inputs.

Raw tables are read through ``pipeline.modeling.raw_columns.raw_relation``: every pinned column typed as
docs/contracts.md says, whatever dlt inferred (a table or column dlt has not created yet reads as nulls).
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import polars as pl

from pipeline.brief import BriefFacts
from pipeline.contact_company import contact_company_sql
from pipeline.modeling.raw_columns import raw_relation
from pipeline.policy import Policy

ENGAGEMENTS = {  # table -> (singular type, title column, detail column)
    "calls": ("call", "hs_call_title", "hs_call_direction"),
    "emails": ("email", "hs_email_subject", "hs_email_direction"),
    "meetings": ("meeting", "hs_meeting_title", "hs_meeting_outcome"),
    "notes": ("note", "hs_note_body", None),
    "tasks": ("task", "hs_task_subject", "hs_task_status"),
    "communications": ("communication", "hs_communication_body", "hs_communication_channel_type"),
}
CLOSED_DEAL_STAGES = ("closedwon", "closedlost")


def dicts(con, sql: str, params: list | None = None) -> list[dict]:
    cursor = con.execute(sql, params or [])
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row)) for row in cursor.fetchall()]


def frame(con, sql: str, params: list | None = None) -> pl.DataFrame:
    return pl.from_arrow(con.sql(sql, params=params or None).to_arrow_table())


def table_exists(con, schema: str, table: str) -> bool:
    return bool(con.execute("SELECT count(*) FROM information_schema.tables WHERE table_schema = ? AND table_name = ?",
                            [schema, table]).fetchone()[0])


def has_marts(con) -> bool:
    return bool(con.execute("SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database() "
                            "AND schema_name = 'marts' AND table_name = 'speed_to_lead'").fetchall()[0][0])


def lane_episode(con, mql_id: str) -> dict | None:
    """The live lane's record of an episode (``lane.ops.lane_episodes``), shaped like a speed_to_lead row."""
    rows = dicts(con, "SELECT * FROM lane.ops.lane_episodes WHERE mql_id = ?", [mql_id])
    if not rows:
        return None
    row = rows[0]
    row["live_contact"] = json.loads(row.pop("contact") or "{}")
    row["live_company"] = json.loads(row.pop("company") or "null")
    return row


def episode(con, mql_id: str) -> dict | None:
    """The marts' row of the episode; for an MQL the last sync has not seen, the live lane's record."""
    if has_marts(con):
        rows = dicts(con, "SELECT * FROM marts.speed_to_lead WHERE mql_id = ?", [mql_id])
        if rows:
            return rows[0]
    return lane_episode(con, mql_id)


def contact(con, contact_id: str) -> dict:
    rows = dicts(con, f"SELECT * FROM {raw_relation(con, 'contacts')} WHERE id = ?", [contact_id])
    return rows[0] if rows else {"id": contact_id}


def owners(con) -> dict[str, dict]:
    return {str(r["id"]): r for r in dicts(
        con, f"SELECT id, email, first_name, last_name, archived FROM {raw_relation(con, 'owners')}")}


def company_of(con, contact_id: str) -> dict | None:
    """The contact's company (its primary one, else the lowest associated id: pipeline.contact_company)."""
    rows = dicts(con, f"""
        SELECT t.* FROM {raw_relation(con, 'companies')} t
        JOIN {contact_company_sql(raw_relation(con, 'associations'))} cc ON cc.company_id = t.id
        WHERE cc.contact_id = ? AND NOT coalesce(t.archived, false)""", [contact_id])
    return rows[0] if rows else None


def _engagement_union(con) -> str:
    parts = []
    assoc = raw_relation(con, "associations")
    for table, (kind, title, detail) in ENGAGEMENTS.items():
        parts.append(f"""SELECT '{kind}' AS type, t.id, t.hs_timestamp AS "at", t.{title} AS title,
                   {f't.{detail}' if detail else 'NULL'} AS detail, t.hubspot_owner_id AS owner_id, a.to_id AS contact_id
            FROM {raw_relation(con, table)} t JOIN {assoc} a
              ON a.from_type = '{table}' AND a.from_id = t.id AND a.to_type = 'contacts'
            WHERE NOT coalesce(t.archived, false)""")
    return " UNION ALL ".join(parts)


def activities(con, contact_ids: list[str]) -> list[dict]:
    if not contact_ids:
        return []
    marks = ", ".join("?" for _ in contact_ids)
    rows = dicts(con, f"SELECT * FROM ({_engagement_union(con)}) WHERE contact_id IN ({marks}) "
                      'ORDER BY "at" DESC NULLS LAST, id', list(contact_ids))
    for row in rows:
        if row["title"] and len(str(row["title"])) > 140:
            row["title"] = str(row["title"])[:137] + "..."
    return rows


def history(con, contact_id: str, prop: str) -> list[dict]:
    return dicts(con, f"""SELECT value, changed_at AS "at" FROM {raw_relation(con, 'contact_property_history')}
                          WHERE contact_id = ? AND property = ? ORDER BY changed_at""", [contact_id, prop])


def other_contacts(con, company_id: str, contact_id: str, now: datetime) -> list[dict]:
    rows = dicts(con, f"""
        SELECT t.id, trim(concat_ws(' ', t.firstname, t.lastname)) AS name, t.jobtitle, t.lifecyclestage
        FROM {raw_relation(con, 'contacts')} t JOIN {raw_relation(con, 'associations')} a
          ON a.from_type = 'contacts' AND a.to_type = 'companies' AND a.from_id = t.id
        WHERE a.to_id = ? AND t.id <> ? AND NOT coalesce(t.archived, false)
        ORDER BY t.id LIMIT 25""", [company_id, contact_id])
    last: dict[str, datetime] = {}
    for act in activities(con, [r["id"] for r in rows]):
        at = act["at"]
        if at is not None and at <= now and (act["contact_id"] not in last or at > last[act["contact_id"]]):
            last[act["contact_id"]] = at
    for row in rows:
        at = last.get(row["id"])
        row["last_activity_at"] = at.astimezone(timezone.utc).isoformat() if at else None
    return sorted(rows, key=lambda r: r["last_activity_at"] or "", reverse=True)


def open_deals(con, company_id: str | None, contact_id: str) -> list[dict]:
    targets = [("contacts", contact_id)] + ([("companies", company_id)] if company_id else [])
    where = " OR ".join("(a.to_type = ? AND a.to_id = ?)" for _ in targets)
    params = [v for pair in targets for v in pair]
    rows = dicts(con, f"""
        SELECT DISTINCT t.id, t.dealname, t.dealstage, t.amount, t.closedate
        FROM {raw_relation(con, 'deals')} t JOIN {raw_relation(con, 'associations')} a
          ON a.from_type = 'deals' AND a.from_id = t.id
        WHERE ({where}) AND NOT coalesce(t.archived, false) ORDER BY t.id""", params)
    out = []
    for row in rows:
        if str(row.get("dealstage") or "").lower() in CLOSED_DEAL_STAGES:
            continue
        if isinstance(row.get("closedate"), datetime):
            row["closedate"] = row["closedate"].astimezone(timezone.utc).isoformat()
        out.append(row)
    return out


def portal_id(con) -> int | None:
    row = con.execute(f"SELECT portal_id FROM {raw_relation(con, 'account')} LIMIT 1").fetchone()
    return int(row[0]) if row and row[0] is not None else None


def brief_facts(con, ep: dict, step: str, *, recipient: str | None, new_owner_id: str | None,
                routing_reason: str | None, policy: Policy, now: datetime) -> BriefFacts:
    contact_id = str(ep["contact_id"])
    company = company_of(con, contact_id)
    company_id = str(company["id"]) if company else None
    synced = contact(con, contact_id)
    if len(synced) == 1 and ep.get("live_contact"):  # an MQL the last sync has not seen: what the lane read live
        synced = {"id": contact_id, **ep["live_contact"]}
    return BriefFacts(
        episode=ep, step=step, contact=synced, company=company,
        activities=activities(con, [contact_id]),
        conversions=history(con, contact_id, "recent_conversion_event_name"),
        score_history=history(con, contact_id, "hubspotscore"),
        other_contacts=other_contacts(con, company_id, contact_id, now) if company_id else [],
        open_deals=open_deals(con, company_id, contact_id),
        owners=owners(con), recipient=recipient, new_owner_id=new_owner_id,
        routing_reason=routing_reason, portal_id=policy.hubspot.portal_id or portal_id(con),
    )


# ------------------------------------------------------------------------------------------ routing inputs
def roster(con) -> pl.DataFrame:
    """Every HubSpot owner: id, email, name, active (not archived), type (PERSON/QUEUE), team names (primary first)."""
    return frame(con, f"""
        SELECT o.id AS owner_id, o.email, trim(concat_ws(' ', o.first_name, o.last_name)) AS name,
               NOT coalesce(o.archived, false) AS active, coalesce(o.type, 'PERSON') AS type,
               coalesce((SELECT list(ot.team_name ORDER BY ot.is_primary DESC, ot.team_name)
                         FROM {raw_relation(con, 'owner_teams')} ot
                         WHERE ot.owner_id = o.id AND ot.team_name IS NOT NULL), []::VARCHAR[]) AS teams
        FROM {raw_relation(con, 'owners')} o ORDER BY o.id""")


def leads(con, mql_ids: list[str] | None = None) -> pl.DataFrame:
    """Routing inputs per episode (every episode when ``mql_ids`` is None: backtests)."""
    where, params = "", []
    if mql_ids is not None:
        where = f"WHERE s.mql_id IN ({', '.join('?' for _ in mql_ids)})" if mql_ids else "WHERE false"
        params = list(mql_ids)
    sql = f"""
        SELECT s.mql_id, s.contact_id, s.mql_at, s.first_touch_at, s.owner_id AS owner_at_mql,
               coalesce(nullif(c.hubspot_owner_id, ''), s.owner_id) AS missed_owner_id,
               c.country, c.state AS region,
               (coalesce(c.recent_conversion_event_name, '') <> ''
                OR coalesce(c.first_conversion_event_name, '') <> '') AS inbound,
               co.country AS company_country, co.state AS company_region, co.industry,
               nullif(co.hubspot_owner_id, '') AS company_owner_id
        FROM marts.speed_to_lead s
        LEFT JOIN {raw_relation(con, 'contacts')} c ON c.id = s.contact_id
        LEFT JOIN {contact_company_sql(raw_relation(con, 'associations'))} ac ON ac.contact_id = s.contact_id
        LEFT JOIN {raw_relation(con, 'companies')} co ON co.id = ac.company_id AND NOT coalesce(co.archived, false)
        {where} ORDER BY s.mql_at, s.mql_id"""
    return frame(con, sql, params)


def load(con, policy: Policy, now: datetime) -> pl.DataFrame:
    """Open-MQL load per owner (untouched episodes within the lookback whose contact is still an MQL, counted
    under the current owner or the new owner we routed them to), leads already routed to each owner today
    (policy time zone) and when each owner last received one."""
    since = now - timedelta(days=policy.enforcement_lookback_days)
    has_ops = table_exists(con, "ops", "routing_decisions")
    owner = "coalesce(nullif(c.hubspot_owner_id, ''), s.owner_id)"
    joins = f" LEFT JOIN {raw_relation(con, 'contacts')} c ON c.id = s.contact_id"
    if has_ops:
        joins += " LEFT JOIN lane.ops.routing_decisions d ON d.mql_id = s.mql_id AND d.to_owner_id IS NOT NULL"
        owner = f"coalesce(d.to_owner_id, {owner})"
    if has_marts(con):
        open_load = frame(con, f"""
            SELECT {owner} AS owner_id, count(*) AS open_mqls FROM marts.speed_to_lead s {joins}
            WHERE s.first_touch_at IS NULL AND s.mql_at >= ? AND s.mql_at <= ?
              AND list_contains(?, c.lifecyclestage) AND NOT coalesce(c.archived, false)
            GROUP BY 1""", [since, now, policy.mql_stages()])
    else:  # no build yet: only the lane's own handoffs are known load
        open_load = frame(con, """
            SELECT owner_id, count(*) AS open_mqls FROM lane.ops.lane_episodes
            WHERE owner_id IS NOT NULL AND mql_at >= ? AND mql_at <= ? GROUP BY 1""", [since, now])
    today = pl.DataFrame(schema={"owner_id": pl.Utf8, "assigned_today": pl.Int64,
                                 "last_assigned_at": pl.Datetime("us", "UTC")})
    if has_ops:
        tz = ZoneInfo(policy.business_hours.timezone)
        day_start = datetime.combine(now.astimezone(tz).date(), datetime.min.time(), tz)
        today = frame(con, """
            SELECT to_owner_id AS owner_id, count(*) FILTER (WHERE decided_at >= ?) AS assigned_today,
                   max(decided_at) AS last_assigned_at
            FROM lane.ops.routing_decisions
            WHERE to_owner_id IS NOT NULL AND decided_at <= ? GROUP BY 1""",
            [day_start, now])
    out = open_load.filter(pl.col("owner_id").is_not_null()).join(today, on="owner_id", how="full", coalesce=True)
    return out.with_columns(pl.col("open_mqls").fill_null(0).cast(pl.Int64),
                            pl.col("assigned_today").fill_null(0).cast(pl.Int64))
