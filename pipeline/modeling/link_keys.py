"""Integer keys for HubSpot ids, used by ``staging._contact_links`` (the engagement/deal -> contact links).

HubSpot ids are canonical decimal integers held as text; joining and looking them up as ``BIGINT`` is what
makes the link table cheap (a lookup of 10,000 contacts' links: ~0.015 s on integers against ~0.27 s on the
raw text columns). The key of an id is the integer itself when the text is exactly that integer's decimal
form, otherwise (test fixtures, ``007``-style strings) a negative 63-bit hash, and the link table then also
stores the text, so :func:`id_sql` always gives the id back exactly. Distinct numeric ids never share a key
and never meet a hashed one; two non-numeric ids could only share a key by a 63-bit hash collision.
"""

from __future__ import annotations

# the families the link table holds, by code (codes keep the join keys integer); a touch family's code is
# also its touch type's rank in the same-instant tie-break (call < email < meeting < communication)
FAMILY_CODES = {"calls": 1, "emails": 2, "meetings": 3, "communications": 4, "deals": 5}
TOUCH_TYPES = {"calls": "call", "emails": "email", "meetings": "meeting", "communications": "communication"}


def key_sql(column: str) -> str:
    """SQL for the BIGINT key of the text id in ``column``."""
    number = f"TRY_CAST({column} AS BIGINT)"
    hashed = f"-1 - CAST(hash({column}) >> 1 AS BIGINT)"
    return f"(CASE WHEN CAST({number} AS VARCHAR) = {column} THEN {number} ELSE {hashed} END)"


def id_sql(key_column: str, text_column: str) -> str:
    """SQL giving the text id back from a key column and its text column (NULL for numeric ids)."""
    return f"coalesce({text_column}, CAST({key_column} AS VARCHAR))"


def family_code_sql(column: str) -> str:
    """SQL for the family code of a HubSpot object type name (NULL for types the link table does not hold)."""
    cases = " ".join(f"WHEN '{family}' THEN {code}" for family, code in FAMILY_CODES.items())
    return f"CAST(CASE {column} {cases} END AS UTINYINT)"


def touch_type_sql(rank_column: str) -> str:
    """SQL for the touch type (``call``, ...) of a touch family code."""
    names = ", ".join(f"'{TOUCH_TYPES[family]}'" for family in sorted(TOUCH_TYPES, key=FAMILY_CODES.get))
    return f"([{names}])[{rank_column}]"


# touch_type_sql indexes a list by the code: the touch families must be coded 1..n
assert sorted(FAMILY_CODES[f] for f in TOUCH_TYPES) == list(range(1, len(TOUCH_TYPES) + 1))
