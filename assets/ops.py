"""Ops layer: what the product did, as ``ops/<table>`` assets (group ``ops``) written by the ``sla_enforcement``
job (not materializable on their own: each enforcement run reports a materialization of the tables it wrote).
"""

import dagster as dg

SPEED_TO_LEAD = dg.AssetKey(["marts", "speed_to_lead"])


def _schema(*columns: tuple[str, str, str]) -> dg.TableSchema:
    return dg.TableSchema(columns=[dg.TableColumn(name, type_, description=desc) for name, type_, desc in columns])


ALERTS = dg.AssetSpec(
    key=["ops", "alerts"], group_name="ops", kinds={"duckdb"}, deps=[SPEED_TO_LEAD],
    description="The alerts outbox: one row per (mql_id, step) with the handoff brief (JSON), the Slack blocks, "
                "the recipient and the delivery status / attempts / last error. Written by sla_enforcement.",
    metadata={"dagster/column_schema": _schema(
        ("alert_id", "varchar", "'<mql_id>:<step>' (primary key)"), ("mql_id", "varchar", "the MQL episode"),
        ("step", "varchar", "manager_escalation | reassignment"), ("contact_id", "varchar", "HubSpot contact"),
        ("recipient", "varchar", "manager or new rep e-mail"), ("recipient_owner_id", "varchar", "new owner id"),
        ("brief", "json", "the handoff brief"), ("blocks", "json", "Slack Block Kit"),
        ("status", "varchar", "pending | sending | delivered | failed | uncertain | not_sent | dry_run"),
        ("attempts", "integer", "delivery attempts"), ("last_error", "varchar", "last delivery error"),
        ("created_at", "timestamptz", ""), ("delivered_at", "timestamptz", ""))},
)
ROUTING_DECISIONS = dg.AssetSpec(
    key=["ops", "routing_decisions"], group_name="ops", kinds={"duckdb"}, deps=[SPEED_TO_LEAD],
    description="Every reassignment decision: the owner chosen, the rule that fired, every candidate considered "
                "and why not, and the state of the HubSpot writes (intent recorded before each write).",
    metadata={"dagster/column_schema": _schema(
        ("mql_id", "varchar", ""), ("step", "varchar", ""), ("contact_id", "varchar", ""),
        ("from_owner_id", "varchar", "the rep who missed the SLA"), ("to_owner_id", "varchar", "null: nobody"),
        ("team", "varchar", ""), ("rule", "varchar", "rule name or 'none'"), ("rule_type", "varchar", ""),
        ("candidates", "json", "owners considered with load, availability, why not"), ("reason", "varchar", ""),
        ("write_mode", "varchar", "dry_run | live"), ("owner_write", "varchar", "intended | done | dry_run"),
        ("task_write", "varchar", "intended | done | dry_run"), ("task_id", "varchar", "HubSpot task"),
        ("task_due_at", "timestamptz", ""), ("decided_at", "timestamptz", ""))},
)
ENFORCEMENT_LOG = dg.AssetSpec(
    key=["ops", "enforcement_log"], group_name="ops", kinds={"duckdb"}, deps=[SPEED_TO_LEAD],
    description="Every ladder step taken or cancelled, and why (one row per (mql_id, step)).",
    metadata={"dagster/column_schema": _schema(
        ("mql_id", "varchar", ""), ("step", "varchar", ""), ("contact_id", "varchar", ""),
        ("owner_id", "varchar", "rep who missed it"),
        ("status", "varchar", "started | done | dry_run | cancelled | failed"), ("reason", "varchar", "why"),
        ("details", "json", ""), ("write_mode", "varchar", ""), ("run_id", "varchar", "Dagster run"),
        ("due_at", "timestamptz", ""), ("started_at", "timestamptz", ""), ("finished_at", "timestamptz", ""))},
)
OPS_TABLES = (ALERTS, ROUTING_DECISIONS, ENFORCEMENT_LOG)

defs = dg.Definitions(assets=list(OPS_TABLES))
