"""The contact's company (docs/contracts.md, contract 6): its primary company (the contact->company link HubSpot
labels primary, association type 1: raw ``hubspot.associations.is_primary``), else the lowest associated company id
(numerically when numeric). Routing, the brief and firmographics use it.

Two spellings of the one rule, held to the same cases by tests/test_contact_company.py: ``contact_company_id``
(Python, over links) and ``contact_company_sql`` (a DuckDB relation over the raw associations).
"""

from __future__ import annotations

from collections.abc import Iterable


def _id_order(company_id: str) -> tuple[int, int, str]:
    text = str(company_id)
    return (0, int(text), "") if text.isdigit() else (1, 0, text)


def contact_company_id(links: Iterable[tuple[str, bool]]) -> str | None:
    """The company of a contact with these ``(company id, is primary)`` links; None without links. Several primary
    links (HubSpot allows one) resolve to the lowest of them."""
    kept = [(str(cid), bool(primary)) for cid, primary in links if cid not in (None, "")]
    if not kept:
        return None
    return min(kept, key=lambda link: (not link[1], _id_order(link[0])))[0]


def snapshot_company_links(obj: dict) -> list[tuple[str, bool]]:
    """A snapshot object's company links (docs/generator.md): ``associations.companies`` ids, the one named by
    ``primaryCompany`` labelled primary (no ``primaryCompany``: every link unlabelled)."""
    primary = obj.get("primaryCompany")
    ids = (obj.get("associations") or {}).get("companies") or []
    return [(str(i), primary is not None and str(i) == str(primary)) for i in ids]


def contact_company_sql(associations: str) -> str:
    """A subquery ``(contact_id, company_id)``: one row per contact with a company link, over ``associations`` (a
    relation with the raw columns from_type, from_id, to_type, to_id, is_primary; the empty-``to_id`` marker rows
    of docs/contracts.md are skipped)."""
    return f"""(SELECT from_id AS contact_id, to_id AS company_id FROM (
        SELECT from_id, to_id, row_number() OVER (
                   PARTITION BY from_id
                   ORDER BY coalesce(is_primary, false) DESC,
                            CASE WHEN regexp_full_match(to_id, '[0-9]+') THEN 0 ELSE 1 END,
                            TRY_CAST(CASE WHEN regexp_full_match(to_id, '[0-9]+') THEN to_id END AS HUGEINT), to_id
               ) AS rank
        FROM {associations}
        WHERE from_type = 'contacts' AND to_type = 'companies' AND coalesce(to_id, '') <> '')
      WHERE rank = 1)"""
