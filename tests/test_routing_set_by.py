"""docs/contracts.md "Who set a value": the routing-delay-by-who-set-the-owner query, run as written on marts
built from hand-written raw rows, gives the rows stated here (issue #12 item 11)."""

from __future__ import annotations

import re
from pathlib import Path

from tests.fixtures.raw_tables import RawPortal, build_marts, connect

CONTRACTS = Path(__file__).resolve().parents[1] / "docs" / "contracts.md"
MQL = "2026-03-02T10:00:00Z"  # a Monday, inside business hours


def contracts_query() -> str:
    section = CONTRACTS.read_text().split("**Who set a value**", 1)[1]
    return re.search(r"```sql\n(.*?)```", section, flags=re.S).group(1)


def test_routing_delay_by_who_set_the_owner(tmp_path):
    con = connect(tmp_path / "handoff.duckdb")
    portal = RawPortal(con)
    # columns the models do not read, which dlt adds once it sees values (docs/contracts.md)
    con.execute("ALTER TABLE hubspot.contact_property_history ADD COLUMN source_id VARCHAR")
    con.execute("ALTER TABLE hubspot.contact_property_history ADD COLUMN updated_by_user_id BIGINT")
    for owner in ("101", "102", "103"):
        portal.owner(owner, team="NA")
    lifecycle = [("2026-03-01T09:00:00Z", "lead"), (MQL, "marketingqualifiedlead")]
    # 1: a workflow routes it 6 minutes after the MQL; 2: a person assigns it by hand 30 minutes after;
    # 3: a workflow after 10 minutes; 4: owned before the MQL (no routing after it)
    for contact_id, owner, minutes, source, source_id, user in [
            ("1", "101", 6, "WORKFLOW", "82451021", None), ("2", "102", 30, "CRM_UI", "userId:9101", 9101),
            ("3", "103", 10, "WORKFLOW", "82451021", None)]:
        portal.contact(contact_id, owner=owner, lifecycle=lifecycle)
        portal.write("contact_property_history", contact_id=contact_id, property="hubspot_owner_id", value=owner,
                     changed_at=f"2026-03-02T10:{minutes:02d}:00Z", source_type=source, source_id=source_id,
                     updated_by_user_id=user)
    portal.contact("4", owner="101", lifecycle=lifecycle)
    portal.write("contact_property_history", contact_id="4", property="hubspot_owner_id", value="101",
                 changed_at="2026-03-01T09:00:00Z", source_type="IMPORT", source_id=None, updated_by_user_id=None)
    build_marts(portal, "2026-03-02T12:00:00Z")
    got = con.execute(contracts_query()).fetchall()
    con.release()
    assert got == [("WORKFLOW", 2, 8.0, 0), ("CRM_UI", 1, 30.0, 1), ("owner at MQL", 1, 0.0, 0)]  # ties by name; owned at the MQL: routed in 0 min
