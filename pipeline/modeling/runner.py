"""Build the staging views and mart tables from ``sql/`` in dependency order, incrementally when possible.

Staging: one view per raw table (typed over ``hubspot.*``), plus ``staging.policy`` (policy values and
"now") and ``staging.business_calendar``. Marts: ``mql_episodes`` and ``speed_to_lead`` rebuild only
the contacts touched since their last build (``_dlt_load_id`` newer than the stored watermark, engagements
that became "past" since the last clock, owners whose team changed). Internal helpers keep the aggregates
cheap: ``staging._contact_links`` (the touches and deals that count per contact, integer-keyed, synced by
load id, with the contacts that lost one in ``staging._link_removals``), ``staging._contact_leads`` (leads per contact
for conversion_funnel, kept with mql_episodes) and
``staging._episode_changes`` (signed old/new versions of the episodes an incremental speed_to_lead changed),
by which rep_scorecard updates only the affected (period, owner) groups; the impact table is recomputed. Anything that could make a partial rebuild wrong (first
build, changed policy or SQL, clock moved back, an upstream full rebuild, a large change) rebuilds fully.
"""

from __future__ import annotations

import hashlib
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime

import duckdb

from pipeline.errors import HandoffError
from pipeline.modeling.link_keys import FAMILY_CODES, family_code_sql, id_sql, key_sql
from pipeline.modeling.policy_table import write_policy_table
from pipeline.modeling.raw_columns import (LOAD_ID, NEW_LOADS, RAW_COLUMNS, RAW_SCHEMA, existing_columns,
                                           raw_catalog)
from pipeline.modeling.sql_files import render, sql_fingerprint
from pipeline.modeling.team_rule import PRIMARY_TEAM_SQL
from pipeline.policy import Policy

STAGING_VIEWS = tuple(RAW_COLUMNS)  # one view per raw table
STAGING_TABLES = ("policy", "business_calendar")
INCREMENTAL_MARTS = ("mql_episodes", "speed_to_lead")
AGGREGATE_MARTS = ("conversion_funnel", "rep_scorecard", "speed_to_lead_impact")
MARTS = INCREMENTAL_MARTS + AGGREGATE_MARTS
MART_UPSTREAM = {"speed_to_lead": "mql_episodes"}
# above this share of contacts in scope, a full rebuild is cheaper than delete + insert
FULL_REBUILD_SHARE = 0.2
# the links that count (touches and live deals per contact, integer-keyed: sql/internal/contact_links.sql), and
# the contacts that lost one at a sync (the raw tables no longer name them), tagged with that sync's load id
LINKS = "staging._contact_links"
LINK_REMOVALS = "staging._link_removals"
# raw tables whose new rows can change an episode (notes, tasks, companies, account cannot)
_CHANGE_SOURCES = ("contacts", "contact_property_history", "associations", "deals", "calls", "emails",
                   "meetings", "communications", "owner_teams")


class ModelBuildError(HandoffError):
    """A model failed to build (names the model and the database error)."""


@dataclass
class BuildResult:
    model: str
    mode: str  # "view", "table", "kept" (still current, not rewritten), "full" or "incremental"
    rows: int
    seconds: float
    reason: str = ""
    scope_contacts: int | None = None
    details: dict = field(default_factory=dict)


def _session(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("SET TimeZone = 'UTC'")
    con.execute("SET enable_progress_bar = false")
    con.execute("CREATE SCHEMA IF NOT EXISTS staging")
    con.execute("CREATE SCHEMA IF NOT EXISTS marts")
    con.execute(
        "CREATE TABLE IF NOT EXISTS staging._build_state (model VARCHAR PRIMARY KEY, watermark VARCHAR, "
        "policy_hash VARCHAR, sql_hash VARCHAR, now_at TIMESTAMPTZ, generation BIGINT, upstream_generation BIGINT, "
        "mode VARCHAR, built_at TIMESTAMPTZ)"
    )
    # the link table's generation a mart last built against (a rebuilt link table forgets old removals)
    con.execute("ALTER TABLE staging._build_state ADD COLUMN IF NOT EXISTS links_generation BIGINT")
    con.execute(f"CREATE TABLE IF NOT EXISTS {LINK_REMOVALS} (contact_id VARCHAR, load_id VARCHAR)")


_IN_TRANSACTION: weakref.WeakSet = weakref.WeakSet()


@contextmanager
def _atomic(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """One transaction around the block, or part of the caller's when one is already open on ``con`` (a mart
    build is one transaction: all of it or none, and one WAL flush instead of one per statement)."""
    if con in _IN_TRANSACTION:
        yield
        return
    con.execute("BEGIN TRANSACTION")
    _IN_TRANSACTION.add(con)
    try:
        yield
        con.execute("COMMIT")
    except BaseException:
        _SCOPE_EPISODES.pop(con, None)  # their temp tables may be rolled back with the rest
        _SYNCED_RANGE.pop(con, None)
        try:
            con.execute("ROLLBACK")
        except duckdb.Error:
            pass  # a failed COMMIT has already rolled back: keep the error that got us here
        raise
    finally:
        _IN_TRANSACTION.discard(con)


def _run(con: duckdb.DuckDBPyConnection, model: str, sql: str, params=None) -> duckdb.DuckDBPyConnection:
    try:
        return con.execute(sql, params) if params is not None else con.execute(sql)
    except duckdb.Error as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ModelBuildError(f"model {model}: {first}") from None


def _count(con: duckdb.DuckDBPyConnection, relation: str) -> int:
    return con.execute(f"SELECT count(*) FROM {relation}").fetchone()[0]


@dataclass
class StagingCatalog:
    """What :func:`build_staging_view` needs to know, read in three catalog queries for all views at once:
    each raw table's columns, the SQL hash each staging view was created from, each raw table's row count."""

    columns: dict[str, dict[str, str]]
    view_hashes: dict[str, str]
    row_counts: dict[str, int]


def staging_catalog(con: duckdb.DuckDBPyConnection) -> StagingCatalog:
    """Set the session up once and read the catalog, for several :func:`build_staging_view` on ``con``."""
    _session(con)
    columns = raw_catalog(con)
    hashes = dict(con.execute("SELECT view_name, comment FROM duckdb_views() WHERE database_name = current_database() "
                              "AND schema_name = 'staging'").fetchall())
    present = [t for t in STAGING_VIEWS if t in columns]
    # the raw tables' row counts (a view count would scan it: too slow on every run), from table metadata
    counts = con.execute("SELECT " + ", ".join(f'(SELECT count(*) FROM {RAW_SCHEMA}."{t}")' for t in present)
                         ).fetchone() if present else ()
    return StagingCatalog(columns, hashes, dict(zip(present, counts)))


def build_staging_view(con: duckdb.DuckDBPyConnection, table: str, catalog: StagingCatalog | None = None
                       ) -> BuildResult:
    """(Re)create ``staging.<table>`` over the raw table as it is now (columns dlt added since are picked up);
    ``catalog``: :func:`staging_catalog`, when the caller builds several views on one connection."""
    started = time.perf_counter()
    if catalog is None:
        catalog = staging_catalog(con)
    present = catalog.columns.get(table)
    sql = render(con, "staging", table, raw={table: present})
    # the view is replaced only when its SQL changed (raw columns added by dlt, new model file): its
    # comment holds the hash of the SQL it was created from
    digest = hashlib.sha256(sql.encode()).hexdigest()[:16]
    if catalog.view_hashes.get(table) != digest:
        _run(con, f"staging.{table}", f"CREATE OR REPLACE VIEW staging.{table} AS {sql}")
        con.execute(f"COMMENT ON VIEW staging.{table} IS '{digest}'")
        catalog.view_hashes[table] = digest
    return BuildResult(f"staging.{table}", "view", catalog.row_counts.get(table, 0), time.perf_counter() - started)


def build_parameters(con: duckdb.DuckDBPyConnection, policy: Policy, now: datetime) -> list[BuildResult]:
    """``staging.policy`` (this run's policy values and clock) and ``staging.business_calendar``."""
    _session(con)
    return _build_parameters(con, policy, now)


CALENDAR = "staging.business_calendar"


def _calendar_covers(con: duckdb.DuckDBPyConnection, policy_digest: str, watermark: str | None) -> bool:
    """Whether ``staging.business_calendar``, built for this policy and SQL from the lifecycle history up to its
    recorded load, also covers the history loaded since and the clock: then rebuilding it would give the same
    days (any calendar covering every MQL and its SLA horizon gives the same business times)."""
    state = _state(con, CALENDAR)
    if (state is None or state["policy_hash"] != policy_digest or state["sql_hash"] != sql_fingerprint()
            or watermark is None or state["watermark"] is None or state["watermark"] > watermark
            or not _table_exists(con, "staging", "business_calendar")):
        return False
    need_first, need_last = _run(con, CALENDAR, render(con, "staging", "business_calendar", incremental=True,
                                                       bounds_only=True),
                                 load_range(con, state["watermark"], watermark)).fetchone()
    have_first, have_last = con.execute(f"SELECT min(local_day), max(local_day) FROM {CALENDAR}").fetchone()
    return have_first is not None and need_first >= have_first and need_last <= have_last


def _build_parameters(con: duckdb.DuckDBPyConnection, policy: Policy, now: datetime, *,
                      full_refresh: bool = False) -> list[BuildResult]:
    started = time.perf_counter()
    write_policy_table(con, policy, now)
    policy_result = BuildResult("staging.policy", "table", 1, time.perf_counter() - started)
    started = time.perf_counter()
    policy_digest = con.execute("SELECT policy_hash FROM staging.policy").fetchone()[0]
    watermark = current_watermark(con)
    mode = "kept"
    if full_refresh or not _calendar_covers(con, policy_digest, watermark):
        mode = "table"
        _run(con, CALENDAR, f"CREATE OR REPLACE TABLE {CALENDAR} AS {render(con, 'staging', 'business_calendar')}")
    con.execute("INSERT OR REPLACE INTO staging._build_state (model, watermark, policy_hash, sql_hash, now_at, mode, "
                "built_at) VALUES (?, ?, ?, ?, ?, ?, now())",
                [CALENDAR, watermark, policy_digest, sql_fingerprint(), now, mode])
    _forget_states(con)
    calendar = BuildResult(CALENDAR, mode, _count(con, CALENDAR), time.perf_counter() - started,
                           reason="covers the history and the clock" if mode == "kept" else "")
    return [policy_result, calendar]


# while a build runs on a connection: every row of staging._build_state, read once (None: not read yet);
# each write to the table forgets them (_forget_states)
_STATES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _state(con: duckdb.DuckDBPyConnection, model: str) -> dict | None:
    if con in _STATES:
        if _STATES[con] is None:
            cur = con.execute("SELECT * FROM staging._build_state")
            names = [d[0] for d in cur.description]
            _STATES[con] = {row[0]: dict(zip(names, row)) for row in cur.fetchall()}
        row = _STATES[con].get(model)
        return dict(row) if row else None
    cur = con.execute("SELECT * FROM staging._build_state WHERE model = ?", [model])
    row = cur.fetchone()
    return dict(zip([d[0] for d in cur.description], row)) if row else None


def _forget_states(con: duckdb.DuckDBPyConnection) -> None:
    if con in _STATES:
        _STATES[con] = None


# the tables of the database as a mart build started (one catalog query instead of one per check): every
# existence check of a build happens before that build creates or drops the table it asks about
_TABLES_AT_START: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _all_tables(con: duckdb.DuckDBPyConnection) -> set[tuple[str, str]]:
    """(schema, table) of the database's tables, and ("temp", table) of the connection's temp tables."""
    return set(con.execute("SELECT CASE WHEN database_name = 'temp' THEN 'temp' ELSE schema_name END, table_name "
                           "FROM duckdb_tables() WHERE database_name IN (current_database(), 'temp')").fetchall())


def _table_exists(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    known = _TABLES_AT_START.get(con)
    return (schema, table) in (known if known is not None else _all_tables(con))


# connection -> the raw watermark, while build_all runs on it (nothing writes the raw tables meanwhile: the
# build holds DuckDB's single writer)
_WATERMARKS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def current_watermark(con: duckdb.DuckDBPyConnection) -> str | None:
    """The newest dlt load id present in the raw tables (None when a change source has no load ids)."""
    if con in _WATERMARKS:
        return _WATERMARKS[con]
    return _current_watermark(con)


def _current_watermark(con: duckdb.DuckDBPyConnection) -> str | None:
    if _table_exists(con, RAW_SCHEMA, "_dlt_loads"):
        row = con.execute(f"SELECT max(load_id) FROM {RAW_SCHEMA}._dlt_loads WHERE status = 0").fetchone()
        if row[0] is not None:
            return row[0]
    newest = []
    for table in _CHANGE_SOURCES:
        columns = existing_columns(con, table)
        if columns is None:
            continue
        if LOAD_ID not in columns:
            return None
        newest.append(con.execute(f"SELECT max({LOAD_ID}) FROM {RAW_SCHEMA}.\"{table}\"").fetchone()[0])
    newest = [n for n in newest if n is not None]
    return max(newest) if newest else ""


def load_range(con: duckdb.DuckDBPyConnection, old: str, new: str) -> dict:
    """The query parameters of :data:`NEW_LOADS` for the loads in (``old``, ``new``]."""
    first = None
    if _table_exists(con, RAW_SCHEMA, "_dlt_loads"):
        first = con.execute(f"SELECT min(load_id) FROM {RAW_SCHEMA}._dlt_loads WHERE status = 0 AND load_id > ?",
                            [old]).fetchone()[0]
    return {"old": old, "new": new, "first": first if first is not None else old}


def parameters_in_force(con: duckdb.DuckDBPyConnection) -> tuple[datetime, str]:
    """The clock and policy hash in ``staging.policy`` (written by :func:`build_parameters` this run)."""
    if not _table_exists(con, "staging", "policy"):
        raise ModelBuildError("staging.policy is missing: materialize staging/policy before the marts")
    return con.execute("SELECT now_at, policy_hash FROM staging.policy").fetchone()


def _full_reason(con, model: str, state: dict | None, policy_digest: str, now: datetime, watermark: str | None,
                 full_refresh: bool) -> str:
    if full_refresh:
        return "full refresh requested"
    if state is None or not _table_exists(con, "marts", model):
        return "first build"
    if state["policy_hash"] != policy_digest:
        return "policy changed"
    if state["sql_hash"] != sql_fingerprint():
        return "model SQL changed"
    if watermark is None or state["watermark"] is None:
        return f"raw tables have no {LOAD_ID}"
    if now < state["now_at"]:
        return "clock moved back"
    upstream = MART_UPSTREAM.get(model)
    if upstream:
        up = _state(con, upstream)
        if up is None or up["generation"] != state["upstream_generation"]:
            return f"{upstream} was rebuilt fully"
    return ""


# families whose rows can change a contact's touches or conversion: (table, id column)
TOUCH_FAMILIES = (("calls", "engagement_id"), ("emails", "engagement_id"), ("meetings", "engagement_id"),
                  ("communications", "engagement_id"))
DEAL_FAMILY = (("deals", "deal_id"),)


def _union_by_family(families: tuple[tuple[str, str], ...], where: str) -> str:
    """``SELECT '<family>' AS family, <id> AS object_id FROM staging.<family> WHERE ...`` for each family, one
    branch per table (separate branches let zone maps skip old row groups)."""
    return "\n    UNION ALL\n    ".join(
        f"SELECT '{table}' AS family, {id_column} AS object_id FROM staging.{table} WHERE {where}"
        for table, id_column in families)


# the engagements and deals with a row of a load in ($old, $new] (family, object_id)
_NEW_LOAD_OBJECTS = _union_by_family(TOUCH_FAMILIES + DEAL_FAMILY, NEW_LOADS)


# owners whose (primary) team differs from the snapshot of the last build
_CHANGED_OWNER_TEAMS = f"""
    SELECT coalesce(now_team.owner_id, was.owner_id) AS owner_id
    FROM ({PRIMARY_TEAM_SQL}) AS now_team
    FULL OUTER JOIN staging._owner_team_snapshot AS was ON was.owner_id = now_team.owner_id
    WHERE now_team.team IS DISTINCT FROM was.team"""


_SCOPE_SQL = """
CREATE OR REPLACE TABLE staging._build_scope AS
WITH changed_links AS (
    -- rows of a newer load
    {new_load_rows}
),
changed_owner_teams AS ({changed_owner_teams}
)
SELECT DISTINCT contact_id FROM (
    SELECT contact_id FROM staging.contacts WHERE {new_loads}
    UNION ALL
    SELECT contact_id FROM staging.contact_property_history WHERE {new_loads}
    UNION ALL
    SELECT to_id FROM staging.associations WHERE to_type = 'contacts' AND {new_loads}
    UNION ALL
    -- the contacts a changed engagement or deal counts for now (the link table is synced to $new)
    {changed_object_contacts}
    UNION ALL
    -- the contacts that lost a counted link (removed, moved to another contact, the object no longer counts)
    -- at a sync since $old
    SELECT contact_id FROM {removals} WHERE load_id > $old AND load_id <= $new
    {clock_moved}
    {team_changes}
) AS changed
WHERE contact_id IS NOT NULL
""".replace("{changed_owner_teams}", _CHANGED_OWNER_TEAMS).replace(
    "{new_load_rows}", _NEW_LOAD_OBJECTS).replace("{removals}", LINK_REMOVALS).replace("{new_loads}", NEW_LOADS)


# connection -> the scope key for which its temp table _scope_episodes holds exactly marts.mql_episodes' rows of
# the contacts in staging._build_scope (written by mql_episodes' incremental build on that connection); the
# speed_to_lead build that follows reads its episodes from there instead of scanning the mart again
_SCOPE_EPISODES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


# the contacts a changed object counts for now: from the link table, or, when this build's sync covered the
# same loads, from the sync's temp table _changed_links (the new link rows of every changed object: the
# same contacts, plus those of objects whose associations alone changed, which their association rows
# already put in the scope)
_CHANGED_OBJECT_CONTACTS = f"""SELECT {id_sql("l.contact_key", "l.contact_id")} FROM {LINKS} AS l
    JOIN (SELECT DISTINCT {family_code_sql("family")} AS family, {key_sql("object_id")} AS object_key
          FROM changed_links) AS c
      ON c.family = l.family AND c.object_key = l.object_key"""
_SYNCED_OBJECT_CONTACTS = f"SELECT {id_sql('contact_key', 'contact_id')} FROM _changed_links"

# connection -> the (old, new) load range its temp tables _changed_objects / _changed_links were synced for
_SYNCED_RANGE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


_TEAM_CHANGES = """UNION ALL
    SELECT contact_id FROM marts.speed_to_lead WHERE owner_id IN (SELECT owner_id FROM changed_owner_teams)"""


_ADD_TEAM_CHANGES = f"""
INSERT INTO staging._build_scope
SELECT DISTINCT contact_id FROM marts.speed_to_lead
WHERE owner_id IN ({_CHANGED_OWNER_TEAMS})
  AND contact_id NOT IN (SELECT contact_id FROM staging._build_scope)"""


def _scope_key_matches(con: duckdb.DuckDBPyConnection, key: list) -> bool:
    """Whether ``staging._build_scope`` holds the episode-level changes for exactly these watermarks/clocks."""
    if not _table_exists(con, "staging", "_build_scope_key"):
        return False
    row = con.execute("SELECT old_watermark, new_watermark, old_now, new_now FROM staging._build_scope_key").fetchone()
    return row is not None and list(row) == key


def _save_scope_key(con: duckdb.DuckDBPyConnection, key: list) -> None:
    con.execute("CREATE OR REPLACE TABLE staging._build_scope_key AS SELECT CAST(? AS VARCHAR) AS old_watermark, "
                "CAST(? AS VARCHAR) AS new_watermark, CAST(? AS TIMESTAMPTZ) AS old_now, "
                "CAST(? AS TIMESTAMPTZ) AS new_now", key)


# contacts with a touch the clock passed since the last build (a scheduled meeting that has now happened)
_CLOCK_MOVED = f"""UNION ALL
    SELECT {id_sql("contact_key", "contact_id")} FROM {LINKS}
    WHERE family IN ({", ".join(str(FAMILY_CODES[t]) for t, _ in TOUCH_FAMILIES)})
      AND occurred_at > $old_now AND occurred_at <= $now"""


# the engagements and deals with a row of a newer load, and the objects whose links a newer load rewrote
# (has_new_row false: their own row is older, sql/internal/contact_links.sql looks it up by id)
_CHANGED_OBJECTS = """
CREATE OR REPLACE TEMP TABLE _changed_objects AS
SELECT family, object_id, bool_or(has_new_row) AS has_new_row FROM (
    SELECT family, object_id, true AS has_new_row FROM (
    {new_load_rows}
    )
    UNION ALL
    SELECT from_type, from_id, false FROM staging.associations
    WHERE to_type = 'contacts' AND from_type IN ({families}) AND {new_loads}
)
GROUP BY family, object_id""".replace("{new_load_rows}", _NEW_LOAD_OBJECTS).replace(
    "{families}", ", ".join(f"'{f}'" for f in FAMILY_CODES)).replace("{new_loads}", NEW_LOADS)

_CHANGED_KEYS = f"""
CREATE OR REPLACE TEMP TABLE _changed_keys AS
SELECT DISTINCT {family_code_sql("family")} AS family, {key_sql("object_id")} AS object_key FROM _changed_objects"""

_LOST_LINKS = f"""
INSERT INTO {LINK_REMOVALS}
SELECT DISTINCT {id_sql("l.contact_key", "l.contact_id")}, $new
FROM {LINKS} AS l
JOIN _changed_keys AS c ON c.family = l.family AND c.object_key = l.object_key
WHERE NOT EXISTS (SELECT 1 FROM _changed_links AS n
                  WHERE n.family = l.family AND n.object_key = l.object_key AND n.contact_key = l.contact_key)"""


def rebuild_links(con: duckdb.DuckDBPyConnection, watermark: str | None) -> None:
    """Write ``staging._contact_links`` from the raw tables (a new generation: removals recorded before are
    dropped, so the marts built against the old generation rebuild fully)."""
    previous = _state(con, LINKS)
    with _atomic(con):  # table, removals and state together: a half-done rebuild would lose removals
        _run(con, LINKS, f"CREATE OR REPLACE TABLE {LINKS} AS {render(con, 'internal', 'contact_links')}")
        con.execute(f"DELETE FROM {LINK_REMOVALS}")
        con.execute("DROP TABLE IF EXISTS staging._link_snapshot")  # its predecessor (text-keyed)
        con.execute("INSERT OR REPLACE INTO staging._build_state (model, watermark, generation, mode, built_at) "
                    "VALUES (?, ?, ?, 'full', now())",
                    [LINKS, watermark, (previous["generation"] if previous else 0) + 1])
        _forget_states(con)


def sync_links(con: duckdb.DuckDBPyConnection, watermark: str | None) -> str:
    """Bring ``staging._contact_links`` up to ``watermark``: the rows of every engagement or deal that a newer
    load rewrote (its own row or its association rows) are replaced by what the raw tables say now, and the
    contacts that lost a counted link are recorded in ``staging._link_removals`` under the new load id. Returns
    the mode: ``current`` (nothing newer), ``incremental`` or ``full`` (no table or state yet, no load ids, raw
    older)."""
    _SYNCED_RANGE.pop(con, None)
    state = _state(con, LINKS)
    if (state is None or state["watermark"] is None or watermark is None or state["watermark"] > watermark
            or not _table_exists(con, "staging", "_contact_links")):
        rebuild_links(con, watermark)
        return "full"
    if state["watermark"] == watermark:
        return "current"
    params = load_range(con, state["watermark"], watermark)
    _run(con, LINKS, _CHANGED_OBJECTS, params)
    _run(con, LINKS, _CHANGED_KEYS)
    # objects whose associations alone changed: their rows are looked up by id in these families only
    lookup = {row[0] for row in con.execute(
        "SELECT DISTINCT family FROM _changed_objects WHERE NOT has_new_row").fetchall()}
    _run(con, LINKS, "CREATE OR REPLACE TEMP TABLE _changed_links AS "
         + render(con, "internal", "contact_links", incremental=True, lookup=lookup), params)
    with _atomic(con):
        _run(con, LINK_REMOVALS, _LOST_LINKS, {"new": watermark})
        _run(con, LINKS, f"DELETE FROM {LINKS} AS l USING _changed_keys AS c "
             "WHERE c.family = l.family AND c.object_key = l.object_key")
        _run(con, LINKS, f"INSERT INTO {LINKS} SELECT * FROM _changed_links")
        con.execute("UPDATE staging._build_state SET watermark = ?, mode = 'incremental', built_at = now() "
                    "WHERE model = ?", [watermark, LINKS])
        _forget_states(con)
    _SYNCED_RANGE[con] = (state["watermark"], watermark)
    return "incremental"


def _purge_link_removals(con: duckdb.DuckDBPyConnection) -> None:
    """Drop removals both incremental marts have already taken into account."""
    con.execute(f"DELETE FROM {LINK_REMOVALS} WHERE load_id <= (SELECT min(watermark) FROM staging._build_state "
                f"WHERE model IN ({', '.join(repr(m) for m in INCREMENTAL_MARTS)}))")


def _ensure_owner_team_snapshot(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("CREATE TABLE IF NOT EXISTS staging._owner_team_snapshot (owner_id VARCHAR, team VARCHAR)")


def _snapshot_owner_teams(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(f"CREATE OR REPLACE TABLE staging._owner_team_snapshot AS {PRIMARY_TEAM_SQL}")


def _save_state(con, model: str, *, watermark, policy_digest: str, now: datetime, full: bool,
                links_generation: int | None) -> None:
    previous = _state(con, model)
    generation = (previous["generation"] if previous else 0) + (1 if full else 0)
    upstream = MART_UPSTREAM.get(model)
    upstream_generation = _state(con, upstream)["generation"] if upstream and _state(con, upstream) else None
    con.execute(
        "INSERT OR REPLACE INTO staging._build_state (model, watermark, policy_hash, sql_hash, now_at, generation, "
        "upstream_generation, mode, built_at, links_generation) VALUES (?, ?, ?, ?, ?, ?, ?, ?, now(), ?)",
        [model, watermark, policy_digest, sql_fingerprint(), now, generation, upstream_generation,
         "full" if full else "incremental", links_generation],
    )
    _forget_states(con)


CONTACT_LEADS = "staging._contact_leads"

# the scope's contacts and history rows, read once for mql_episodes and staging._contact_leads
_SCOPE_INPUTS = (
    """CREATE OR REPLACE TEMP TABLE _scope_contacts AS
    SELECT contact_id, owner_id, lead_source, excluded FROM staging.contacts
    WHERE contact_id IN (SELECT contact_id FROM staging._build_scope)""",
    """CREATE OR REPLACE TEMP TABLE _scope_history AS
    SELECT contact_id, property, value, changed_at, hubspot_position FROM staging.contact_property_history
    WHERE property IN ('lifecyclestage', 'hubspot_owner_id', 'recent_conversion_event_name', 'hs_lead_status')
      AND contact_id IN (SELECT contact_id FROM staging._build_scope)""",
)


def _read_scope_inputs(con: duckdb.DuckDBPyConnection) -> None:
    for sql in _SCOPE_INPUTS:
        _run(con, "marts.mql_episodes", sql)


# counts the aggregates read, kept with speed_to_lead in its transaction (sql/internal/*_cells.sql):
# conversion_funnel's MQL cohort per month x type x team x source, the impact table's type x bucket
FUNNEL_MQL_CELLS = "staging._funnel_mql_cells"
IMPACT_CELLS = "staging._impact_cells"
_CELLS = {  # table -> (keys, counts; the first count is the cell's size)
    FUNNEL_MQL_CELLS: (("month_start", "mql_type", "team", "lead_source"),
                       ("mqls", "sqls", "opportunities", "customers")),
    IMPACT_CELLS: (("mql_type", "response_bucket"), ("episodes", "conversions", "opportunities", "pending")),
}


def add_to_cells(con: duckdb.DuckDBPyConnection, table: str, delta_sql: str) -> None:
    """Merge a delta of signed counts (``delta_sql``: one row per cell key) into ``table``'s cells: counts
    add up; a cell whose size falls to 0 is deleted and a new cell inserted only with a size, so the cells
    equal what a full build's GROUP BY gives."""
    keys, counts = _CELLS[table]
    size = counts[0]
    _run(con, table, f"""
        MERGE INTO {table} AS c USING ({delta_sql}) AS d
        ON {" AND ".join(f"c.{k} IS NOT DISTINCT FROM d.{k}" for k in keys)}
        WHEN MATCHED AND c.{size} + d.{size} = 0 THEN DELETE
        WHEN MATCHED THEN UPDATE SET {", ".join(f"{c} = c.{c} + d.{c}" for c in counts)}
        WHEN NOT MATCHED AND d.{size} <> 0 THEN INSERT BY NAME""")


def _refresh_cells(con: duckdb.DuckDBPyConnection, table: str, *, incremental: bool) -> None:
    """Keep ``table``'s cells in step with ``marts.speed_to_lead``: merge the signed episode changes when
    incremental (and the table exists), else group them anew from the mart (like :func:`_refresh_contact_leads`)."""
    name = table.split("._", 1)[1]  # staging._impact_cells -> sql/internal/impact_cells.sql
    if incremental and _table_exists(con, "staging", f"_{name}"):
        add_to_cells(con, table, render(con, "internal", name, incremental=True))
    else:
        _run(con, table, f"CREATE OR REPLACE TABLE {table} AS {render(con, 'internal', name)}")


def _refresh_contact_leads(con: duckdb.DuckDBPyConnection, *, incremental: bool) -> None:
    """Keep ``staging._contact_leads`` (leads per contact, read by conversion_funnel) in step with
    ``marts.mql_episodes``: only the scope's contacts when incremental (and the table exists)."""
    if incremental and _table_exists(con, "staging", "_contact_leads"):
        _run(con, CONTACT_LEADS,
             f"DELETE FROM {CONTACT_LEADS} WHERE contact_id IN (SELECT contact_id FROM staging._build_scope)")
        _run(con, CONTACT_LEADS,
             f"INSERT INTO {CONTACT_LEADS} BY NAME {render(con, 'internal', 'contact_leads', incremental=True)}")
    else:
        _run(con, CONTACT_LEADS,
             f"CREATE OR REPLACE TABLE {CONTACT_LEADS} AS {render(con, 'internal', 'contact_leads')}")


# speed_to_lead columns the aggregates kept by delta read (rep_scorecard, the funnel's MQL cells): an episode
# whose values here changed is recorded in staging._episode_changes
EPISODE_CHANGE_COLUMNS = ("mql_id", "owner_id", "mql_at", "mql_type", "team", "lead_source", "first_touch_at",
                          "minutes_to_first_touch", "business_minutes_to_first_touch", "sla_status", "attempts",
                          "recycled_at", "recycled_below_minimum_attempts", "sql_at", "opportunity_at",
                          "customer_at")


def _replace_scope_rows(con: duckdb.DuckDBPyConnection, model: str, query: str, *, clock_moved: bool) -> None:
    """Delete the scope's rows of ``marts.<model>`` and insert their new versions; for speed_to_lead, also
    settle the untouched episodes whose status only the clock changed (when it moved since the last build:
    at the same clock every row outside the scope is already settled) and record the old (-1) and new (+1)
    version of every episode rebuilt or settled in ``staging._episode_changes``, for the aggregates. The old and new versions
    come from the statements' RETURNING rows, so the mart is not scanned again for them (mql_episodes: the
    episodes inserted, in the temp table ``_scope_episodes``)."""
    scope = "contact_id IN (SELECT contact_id FROM staging._build_scope)"
    if model == "mql_episodes":
        # the scope's episodes as inserted: staging._contact_leads' became_mql, and speed_to_lead's episodes
        # when it builds right after on this connection (see _SCOPE_EPISODES)
        _run(con, "marts.mql_episodes", f"DELETE FROM marts.mql_episodes WHERE {scope}")
        _run(con, "marts.mql_episodes", "CREATE OR REPLACE TEMP TABLE _scope_episodes AS WITH i AS ("
             f"INSERT INTO marts.mql_episodes BY NAME SELECT * FROM ({query}) RETURNING *) SELECT * FROM i")
        return
    cols = ", ".join(EPISODE_CHANGE_COLUMNS)
    mart = "marts.speed_to_lead"
    _run(con, mart, f"CREATE OR REPLACE TEMP TABLE _episodes_before AS "
                    f"WITH d AS (DELETE FROM {mart} WHERE {scope} RETURNING {cols}) SELECT * FROM d")
    _run(con, mart, f"CREATE OR REPLACE TEMP TABLE _episodes_after AS "
                    f"WITH i AS (INSERT INTO {mart} BY NAME SELECT * FROM ({query}) RETURNING {cols}) SELECT * FROM i")
    # untouched episodes outside the scope: only the clock changed their status (pending <-> overdue)
    clock_status = "CASE WHEN p.now_at > sla_due_at THEN 'overdue' ELSE 'pending' END"
    _run(con, mart, f"""
        CREATE OR REPLACE TEMP TABLE _episodes_clocked AS
        WITH u AS (UPDATE {mart} SET sla_status = {clock_status}, computed_at = p.now_at
                   FROM staging.policy AS p
                   WHERE first_touch_at IS NULL AND sla_status <> {clock_status}
                   RETURNING {cols})
        SELECT * FROM u""" if clock_moved else f"CREATE OR REPLACE TEMP TABLE _episodes_clocked AS "
                                                f"SELECT {cols} FROM _episodes_after WHERE false")
    was = ", ".join("CASE sla_status WHEN 'overdue' THEN 'pending' ELSE 'overdue' END AS sla_status"
                    if c == "sla_status" else c for c in EPISODE_CHANGE_COLUMNS)
    # every scope episode's old version (-1) and new one (+1): an unchanged episode cancels out in every sum
    # the aggregates take (counts, cells, the scorecard's net change of response times)
    _run(con, "staging._episode_changes", f"""
        CREATE OR REPLACE TABLE staging._episode_changes AS
        SELECT -1 AS sign, * FROM _episodes_before
        UNION ALL SELECT 1, * FROM _episodes_after
        UNION ALL SELECT -1, {was} FROM _episodes_clocked
        UNION ALL SELECT 1, {cols} FROM _episodes_clocked""")
    con.execute("DROP TABLE _episodes_before; DROP TABLE _episodes_after; DROP TABLE _episodes_clocked")
    for cells in _CELLS:
        _refresh_cells(con, cells, incremental=True)
    _new_episode_token(con, incremental=True)


def _new_episode_token(con: duckdb.DuckDBPyConnection, *, incremental: bool) -> None:
    """``staging._episode_changes_key``: (token of the speed_to_lead state the changes start from, new token);
    a full build has no start, so the aggregates that follow it rebuild fully."""
    previous = None
    if incremental and _table_exists(con, "staging", "_episode_changes_key"):
        previous = con.execute("SELECT to_token FROM staging._episode_changes_key").fetchone()
        previous = previous[0] if previous else None
    con.execute("CREATE OR REPLACE TABLE staging._episode_changes_key AS "
                "SELECT CAST(? AS VARCHAR) AS from_token, CAST(uuid() AS VARCHAR) AS to_token", [previous])


def _owners_version(con: duckdb.DuckDBPyConnection) -> str | None:
    """The newest load id in the raw owners table (None without load ids: then names are always re-read)."""
    columns = existing_columns(con, "owners")
    if not columns or LOAD_ID not in columns:
        return None
    return con.execute(f"SELECT max({LOAD_ID}) FROM {RAW_SCHEMA}.owners").fetchone()[0]


def _token(con: duckdb.DuckDBPyConnection, name: str) -> str | None:
    row = con.execute("SELECT token FROM staging._aggregate_tokens WHERE model = ?", [name]).fetchone()
    return row[0] if row else None


def _build_scorecard(con: duckdb.DuckDBPyConnection, full_refresh: bool) -> tuple[str, str]:
    """Rebuild ``marts.rep_scorecard``: when the last build saw the speed_to_lead state the recorded episode
    changes start from, only the groups holding a changed episode, by delta; returns (mode, reason)."""
    con.execute("CREATE TABLE IF NOT EXISTS staging._aggregate_tokens (model VARCHAR PRIMARY KEY, token VARCHAR)")
    owners = _owners_version(con)
    key = (con.execute("SELECT from_token, to_token FROM staging._episode_changes_key").fetchone()
           if _table_exists(con, "staging", "_episode_changes_key") else None)
    seen = con.execute("SELECT token FROM staging._aggregate_tokens WHERE model = 'rep_scorecard'").fetchone()
    seen = seen[0] if seen else None
    mode = "full"
    if full_refresh:
        reason = "full refresh requested"
    elif key is None or seen is None or not _table_exists(con, "marts", "rep_scorecard"):
        reason = "first build"
    elif seen == key[1]:
        mode, reason = "incremental", "speed_to_lead unchanged"
    elif seen == key[0]:
        mode, reason = "incremental", "changed groups only"
    else:
        reason = "speed_to_lead rebuilt fully or skipped a build"
    if mode == "full":
        _run(con, "marts.rep_scorecard",
             f"CREATE OR REPLACE TABLE marts.rep_scorecard AS {render(con, 'marts', 'rep_scorecard')}")
    else:
        with _atomic(con):
            if seen == key[0]:
                _run(con, "marts.rep_scorecard", "CREATE OR REPLACE TEMP TABLE _scorecard_delta AS "
                     + render(con, "internal", "scorecard_delta"))
                _run(con, "marts.rep_scorecard", """
                    DELETE FROM marts.rep_scorecard AS r USING _scorecard_delta AS g
                    WHERE g.period_type = r.period_type AND g.period_start = r.period_start
                      AND g.owner_id IS NOT DISTINCT FROM r.owner_id""")
                _run(con, "marts.rep_scorecard",
                     "INSERT INTO marts.rep_scorecard BY NAME SELECT * FROM _scorecard_delta WHERE mqls > 0")
                con.execute("DROP TABLE _scorecard_delta")
            # owner names are read live: a renamed owner changes every group of theirs (the changed groups
            # took the names in force above; the others need it only when the owners table has new rows)
            if owners is None or owners != _token(con, "rep_scorecard.owners"):
                _run(con, "marts.rep_scorecard", """
                    UPDATE marts.rep_scorecard AS r SET owner_name = n.owner_name
                    FROM (SELECT s.owner_id, (SELECT any_value(o.owner_name) FROM staging.owners AS o
                                              WHERE o.owner_id = s.owner_id) AS owner_name
                          FROM (SELECT DISTINCT owner_id FROM marts.rep_scorecard WHERE owner_id IS NOT NULL) AS s) AS n
                    WHERE n.owner_id = r.owner_id AND r.owner_name IS DISTINCT FROM n.owner_name""")
    con.execute("INSERT OR REPLACE INTO staging._aggregate_tokens VALUES ('rep_scorecard', ?), "
                "('rep_scorecard.owners', ?)", [key[1] if key else None, owners])
    return mode, reason


def build_mart(con: duckdb.DuckDBPyConnection, model: str, *, full_refresh: bool = False) -> BuildResult:
    """Build ``marts.<model>`` with the clock and policy in ``staging.policy`` (see :func:`build_all`), in one
    transaction: a failed build leaves the mart, its helpers and its state as they were."""
    if model not in MARTS:
        raise ModelBuildError(f"unknown mart {model!r}; known: {', '.join(MARTS)}")
    _session(con)
    return _build_mart_atomically(con, model, full_refresh)


def _build_mart_atomically(con: duckdb.DuckDBPyConnection, model: str, full_refresh: bool) -> BuildResult:
    started = time.perf_counter()
    with _atomic(con):
        _TABLES_AT_START[con] = _all_tables(con)
        _STATES[con] = None
        try:
            result = _build_mart(con, model, full_refresh)
        finally:
            _TABLES_AT_START.pop(con, None)
            _STATES.pop(con, None)
    result.seconds = time.perf_counter() - started
    return result


def _build_mart(con: duckdb.DuckDBPyConnection, model: str, full_refresh: bool) -> BuildResult:
    started = time.perf_counter()
    if model == "rep_scorecard":
        mode, reason = _build_scorecard(con, full_refresh)
        return BuildResult("marts.rep_scorecard", mode, _count(con, "marts.rep_scorecard"),
                           time.perf_counter() - started, reason=reason)
    if model in AGGREGATE_MARTS:
        if model == "conversion_funnel":  # a database built before its helpers existed
            if not _table_exists(con, "staging", "_contact_leads"):
                _refresh_contact_leads(con, incremental=False)
            if not _table_exists(con, "staging", "_funnel_mql_cells"):
                _refresh_cells(con, FUNNEL_MQL_CELLS, incremental=False)
        if model == "speed_to_lead_impact" and not _table_exists(con, "staging", "_impact_cells"):
            _refresh_cells(con, IMPACT_CELLS, incremental=False)
        _run(con, f"marts.{model}", f"CREATE OR REPLACE TABLE marts.{model} AS {render(con, 'marts', model)}")
        return BuildResult(f"marts.{model}", "full", _count(con, f"marts.{model}"), time.perf_counter() - started)

    _ensure_owner_team_snapshot(con)
    now, policy_digest = parameters_in_force(con)
    raw_watermark = watermark = current_watermark(con)
    if model in MART_UPSTREAM:
        # episodes come from the upstream mart: a build may only claim the loads the upstream has seen (built
        # alone after a sync, it would otherwise skip those loads' changes for good once the upstream catches up)
        up = _state(con, MART_UPSTREAM[model])
        if up and up["watermark"] is not None and watermark is not None and up["watermark"] < watermark:
            watermark = up["watermark"]
    state = _state(con, model)
    reason = _full_reason(con, model, state, policy_digest, now, watermark, full_refresh)
    # the link table: rewritten with every full mql_episodes build (which makes speed_to_lead full too),
    # otherwise synced to the newest load (a no-op for speed_to_lead right after mql_episodes)
    if model == "mql_episodes" and reason:
        rebuild_links(con, raw_watermark)
    else:
        sync_links(con, raw_watermark)
    links_generation = _state(con, LINKS)["generation"]
    if not reason and state.get("links_generation") != links_generation:
        reason = "link table rebuilt since the last build"
    scope = None
    details: dict = {}
    episodes_from = None
    if model == "mql_episodes":
        _SCOPE_EPISODES.pop(con, None)
    if not reason:
        scope_started = time.perf_counter()
        key = [state["watermark"], watermark, state["now_at"], now]
        if _scope_key_matches(con, key):
            # mql_episodes computed the same changes a moment ago: add only the team moves
            if model == "speed_to_lead":
                moved = _run(con, "staging._build_scope", _ADD_TEAM_CHANGES).fetchone()[0]
                if not moved and _SCOPE_EPISODES.get(con) == key and ("temp", "_scope_episodes") in (
                        _TABLES_AT_START.get(con) or ()):
                    episodes_from = "_scope_episodes"
        else:
            team_changes = _TEAM_CHANGES if model == "speed_to_lead" else ""
            clock_moved = _CLOCK_MOVED if now != state["now_at"] else ""
            params = load_range(con, state["watermark"], watermark)
            if clock_moved:
                params.update(old_now=state["now_at"], now=now)
            synced = _SYNCED_RANGE.get(con) == (state["watermark"], watermark)
            sql = _SCOPE_SQL.replace("{team_changes}", team_changes).replace("{clock_moved}", clock_moved).replace(
                "{changed_object_contacts}", _SYNCED_OBJECT_CONTACTS if synced else _CHANGED_OBJECT_CONTACTS)
            _run(con, "staging._build_scope", sql, params)
            if model == "mql_episodes":
                _save_scope_key(con, key)
        scope = _count(con, "staging._build_scope")
        details["scope_seconds"] = round(time.perf_counter() - scope_started, 3)
        total = _count(con, f'{RAW_SCHEMA}."contacts"')
        if total and scope > FULL_REBUILD_SHARE * total:
            reason = f"large change ({scope} of {total} contacts)"
    if reason:
        con.execute("DROP TABLE IF EXISTS staging._build_scope_key")
        _run(con, f"marts.{model}", f"CREATE OR REPLACE TABLE marts.{model} AS {render(con, 'marts', model)}")
        if model == "mql_episodes":
            _refresh_contact_leads(con, incremental=False)
        else:
            for cells in _CELLS:
                _refresh_cells(con, cells, incremental=False)
            _new_episode_token(con, incremental=False)
    else:
        if model == "mql_episodes":
            _read_scope_inputs(con)
        _replace_scope_rows(con, model, render(con, "marts", model, incremental=True, episodes_from=episodes_from),
                            clock_moved=now != state["now_at"])
        if model == "mql_episodes":
            _SCOPE_EPISODES[con] = key
            _refresh_contact_leads(con, incremental=True)
    if model == "speed_to_lead":
        _snapshot_owner_teams(con)
    _save_state(con, model, watermark=watermark, policy_digest=policy_digest, now=now, full=bool(reason),
                links_generation=links_generation)
    _purge_link_removals(con)
    return BuildResult(f"marts.{model}", "full" if reason else "incremental", _count(con, f"marts.{model}"),
                       time.perf_counter() - started, reason=reason or "changed contacts only",
                       scope_contacts=scope, details=details)


def build_staging(con: duckdb.DuckDBPyConnection, policy: Policy, now: datetime, *,
                  full_refresh: bool = False) -> list[BuildResult]:
    catalog = staging_catalog(con)  # sets the session up
    results = [build_staging_view(con, table, catalog) for table in STAGING_VIEWS]
    return results + _build_parameters(con, policy, now, full_refresh=full_refresh)


def build_all(con: duckdb.DuckDBPyConnection, policy: Policy, now: datetime, *,
              full_refresh: bool = False) -> list[BuildResult]:
    """Every staging view/table, then every mart, in dependency order, in one transaction: the marts change
    together or not at all (a failed run leaves the last good set)."""
    with _atomic(con):
        _WATERMARKS[con] = _current_watermark(con)
        try:
            results = build_staging(con, policy, now, full_refresh=full_refresh)
            for model in MARTS:
                results.append(_build_mart_atomically(con, model, full_refresh))
        finally:
            _WATERMARKS.pop(con, None)
    return results
