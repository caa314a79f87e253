"""Sample leads from a portal snapshot (DOMAIN.md format) for ``handoff routing test``: the contacts as
leads, the owners as the roster. Pure: dict in, polars frames out."""

from __future__ import annotations

import polars as pl

from pipeline.contact_company import contact_company_id, snapshot_company_links
from pipeline.routing.engine import LEAD_SCHEMA, ROSTER_SCHEMA


def roster_from_snapshot(snapshot: dict) -> pl.DataFrame:
    rows = []
    for owner in snapshot.get("owners") or []:
        name = " ".join(x for x in (owner.get("firstName"), owner.get("lastName")) if x)
        teams = sorted(owner.get("teams") or [], key=lambda t: (not t.get("primary"), t.get("name") or ""))
        rows.append({"owner_id": str(owner["id"]), "email": owner.get("email"), "name": name or None,
                     "active": not owner.get("archived", False), "teams": [t["name"] for t in teams if t.get("name")],
                     "type": owner.get("type") or "PERSON"})
    return pl.DataFrame(rows, schema=ROSTER_SCHEMA)


def leads_from_snapshot(snapshot: dict, *, exclude_current_owner: bool = False) -> pl.DataFrame:
    """One lead per non-archived contact; its company (the primary one, else the lowest id: contract 6) gives
    account, industry and country."""
    companies = {str(c["id"]): c.get("properties") or {} for c in snapshot.get("companies") or []
                 if not c.get("archived")}
    rows = []
    for contact in snapshot.get("contacts") or []:
        if contact.get("archived"):
            continue
        props = contact.get("properties") or {}
        company = companies.get(contact_company_id(snapshot_company_links(contact)) or "", {})
        rows.append({
            "mql_id": str(contact["id"]), "contact_id": str(contact["id"]),
            "missed_owner_id": (props.get("hubspot_owner_id") or None) if exclude_current_owner else None,
            "country": props.get("country"), "region": props.get("state"),
            "company_country": company.get("country"), "company_region": company.get("state"),
            "industry": company.get("industry"), "company_owner_id": company.get("hubspot_owner_id") or None,
            "inbound": bool(props.get("recent_conversion_event_name") or props.get("first_conversion_event_name")),
        })
    return pl.DataFrame(rows, schema=LEAD_SCHEMA)


def contact_labels(snapshot: dict) -> dict[str, str]:
    out = {}
    for contact in snapshot.get("contacts") or []:
        props = contact.get("properties") or {}
        name = " ".join(x for x in (props.get("firstname"), props.get("lastname")) if x)
        out[str(contact["id"])] = name or props.get("email") or str(contact["id"])
    return out
