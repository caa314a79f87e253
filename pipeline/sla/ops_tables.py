"""The ``ops.*`` tables: what the product did. Created on first use in the main DuckDB (``HANDOFF_DB``).

Each table carries the unique key that makes enforcement idempotent:
- ``ops.enforcement_log``  one row per (mql_id, step): started / done / dry_run / cancelled / failed, and why.
- ``ops.routing_decisions`` one row per (mql_id, step): the owner chosen, the rule that fired, the candidates,
  and the state of each HubSpot write (intent recorded before the write, result after).
- ``ops.alerts``           the outbox, one row per (mql_id, step): recipient, brief JSON, Slack blocks,
  delivery status, attempts and last error.
"""

from __future__ import annotations

from pipeline.sla.lane_db import OPS

OPS_DDL = """
CREATE SCHEMA IF NOT EXISTS {ops};

CREATE TABLE IF NOT EXISTS {ops}.enforcement_log (
    mql_id       VARCHAR NOT NULL,
    step         VARCHAR NOT NULL,
    contact_id   VARCHAR NOT NULL,
    owner_id     VARCHAR,            -- the rep who missed the SLA (owner at MQL)
    status       VARCHAR NOT NULL,   -- started | done | dry_run | cancelled | failed
    reason       VARCHAR,            -- why (cancellations, failures) or what was done
    details      JSON,
    write_mode   VARCHAR NOT NULL,
    run_id       VARCHAR,
    due_at       TIMESTAMPTZ,
    started_at   TIMESTAMPTZ NOT NULL,
    finished_at  TIMESTAMPTZ,
    PRIMARY KEY (mql_id, step)
);

CREATE TABLE IF NOT EXISTS {ops}.routing_decisions (
    mql_id          VARCHAR NOT NULL,
    step            VARCHAR NOT NULL,
    contact_id      VARCHAR NOT NULL,
    from_owner_id   VARCHAR,
    to_owner_id     VARCHAR,          -- null: no available owner (the decision says why)
    team            VARCHAR,
    rule            VARCHAR NOT NULL, -- name of the rule that fired, or 'none'
    rule_type       VARCHAR,
    candidates      JSON NOT NULL,    -- every owner considered, with load and why not chosen
    reason          VARCHAR,
    write_mode      VARCHAR NOT NULL,
    owner_write     VARCHAR NOT NULL, -- intended | done | dry_run | skipped
    task_write      VARCHAR NOT NULL, -- intended | done | dry_run | skipped
    task_id         VARCHAR,
    task_due_at     TIMESTAMPTZ,
    decided_at      TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (mql_id, step)
);

CREATE TABLE IF NOT EXISTS {ops}.alerts (
    alert_id            VARCHAR NOT NULL,  -- '<mql_id>:<step>'
    mql_id              VARCHAR NOT NULL,
    step                VARCHAR NOT NULL,
    contact_id          VARCHAR NOT NULL,
    recipient           VARCHAR,           -- e-mail of the manager / new rep
    recipient_owner_id  VARCHAR,
    brief               JSON NOT NULL,
    blocks              JSON NOT NULL,
    status              VARCHAR NOT NULL,  -- pending | sending | delivered | failed | uncertain | not_sent | dry_run
    attempts            INTEGER NOT NULL DEFAULT 0,
    last_error          VARCHAR,
    created_at          TIMESTAMPTZ NOT NULL,
    delivered_at        TIMESTAMPTZ,
    PRIMARY KEY (alert_id),
    UNIQUE (mql_id, step)
);

CREATE TABLE IF NOT EXISTS {ops}.lane_episodes (
    mql_id          VARCHAR NOT NULL,  -- '<contact_id>:<epoch ms of mql_at>' (the marts' id)
    contact_id      VARCHAR NOT NULL,
    mql_at          TIMESTAMPTZ NOT NULL,
    stage           VARCHAR,           -- the mql-role stage entered
    mql_type        VARCHAR,           -- demo_request | other (decided live at the handoff)
    sla_minutes     INTEGER,
    sla_due_at      TIMESTAMPTZ,
    owner_id        VARCHAR,           -- the owner after the handoff (routed when it had none)
    owner_at_mql    VARCHAR,
    team            VARCHAR,
    contact         JSON,              -- the live contact properties read at the handoff (brief fallback)
    company         JSON,              -- its primary company (contract 6) as read then (routing fallback)
    detected_at     TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (mql_id)
);
"""


def ensure_ops_tables(con) -> None:
    """Create the ops schema and tables when missing (idempotent)."""
    con.execute(OPS_DDL.format(ops=OPS))


def table_exists(con, schema: str, table: str) -> bool:
    row = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = ? AND table_name = ?",
        [schema, table],
    ).fetchone()
    return bool(row and row[0])


def status_counts(con) -> dict[str, dict[str, int]]:
    """Rows by status of each ops table (for run metadata)."""
    out = {}
    for table in ("alerts", "enforcement_log"):
        rows = con.execute(f"SELECT status, count(*) FROM {OPS}.{table} GROUP BY 1 ORDER BY 1").fetchall()
        out[table] = {status: n for status, n in rows}
    rows = con.execute(f"SELECT coalesce(rule, 'none'), count(*) FROM {OPS}.routing_decisions GROUP BY 1 ORDER BY 1")
    out["routing_decisions"] = {rule: n for rule, n in rows.fetchall()}
    return out
