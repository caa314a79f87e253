"""The expectations each mart must meet: what to load (SQL), which GX expectations, which id to report.

Pure data; :mod:`pipeline.quality.validate` runs them. Great Expectations is imported lazily (it is slow to
import), so each spec builds its expectations from the ``gx`` module it is handed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

RATE_COLUMNS = {
    "conversion_funnel": ["lead_to_mql_rate", "mql_to_sql_rate", "mql_to_opportunity_rate",
                          "opportunity_to_customer_rate"],
    "rep_scorecard": ["sla_met_rate", "mql_to_sql_rate", "mql_to_opportunity_rate"],
    "speed_to_lead_impact": ["conversion_rate", "conversion_rate_low", "conversion_rate_high", "opportunity_rate"],
}
# what dbt's generic tests say (unique, not_null, accepted_values, relationships) is in the marts' yml
# (sql/models/marts/_marts.yml), once; the suites here hold what those tests cannot express
DURATIONS = ["minutes_to_first_touch", "business_minutes_to_first_touch", "routing_minutes", "attempts"]

# per contact: episodes the lifecycle history implies (entries into an mql-role stage whose previous entry, custom
# stages in no role skipped, was not one; counted with lag over the history and staging.lifecycle_stages) next to
# the episodes the mart holds; any difference is a broken row
RECONCILE_SQL = """
WITH ordered AS (
    SELECT h.contact_id, st.role,
        lag(st.role) OVER (PARTITION BY h.contact_id ORDER BY h.changed_at, h.hubspot_position DESC NULLS LAST,
            CASE WHEN h.value = '' THEN -1 ELSE coalesce(st.stage_order, 1000000) END, h.value) AS previous
    FROM staging.contact_property_history AS h
    JOIN staging.contacts AS c ON c.contact_id = h.contact_id AND NOT c.excluded
    LEFT JOIN staging.lifecycle_stages AS st ON st.value = h.value
    WHERE h.property = 'lifecyclestage' AND NOT coalesce(st.skipped, h.value <> '') {and_scope}
),
expected AS (
    SELECT contact_id, count(*) AS history_episodes FROM ordered
    WHERE role = 'mql' AND previous IS DISTINCT FROM 'mql'
    GROUP BY contact_id
),
actual AS (SELECT contact_id, count(*) AS mart_episodes FROM marts.{mart} {where_scope} GROUP BY contact_id)
SELECT coalesce(e.contact_id, a.contact_id) AS contact_id,
       coalesce(e.history_episodes, 0) AS history_episodes, coalesce(a.mart_episodes, 0) AS mart_episodes
FROM expected AS e FULL OUTER JOIN actual AS a ON a.contact_id = e.contact_id
"""


# the contacts an incremental build rebuilt (models/intermediate/episode_scope.sql)
SCOPE = "contact_id IN (SELECT contact_id FROM staging.episode_scope WHERE contact_id IS NOT NULL)"


@dataclass(frozen=True)
class CheckSpec:
    name: str  # the Dagster check name
    mart: str  # the mart (marts.<mart>) it is attached to
    description: str
    sql: str  # what to load into pandas; {where_scope} / {and_scope}: where the rows may be narrowed to the scope
    id_column: str  # reported for the rows that broke it
    expectations: Callable  # gx module -> list of expectations

    def query(self, rebuilt_only: bool) -> str:
        """The rows to validate: every row, or (``rebuilt_only``, after an incremental build of an episode mart)
        those of the contacts the build rebuilt; the others were validated when they were built and have not
        changed, and dbt's tests still cover the whole table."""
        return self.sql.format(where_scope=f"WHERE {SCOPE}" if rebuilt_only else "",
                               and_scope=f"AND h.{SCOPE}" if rebuilt_only else "")


def _spec(mart: str, name: str, description: str, columns: list[str], expectations: Callable) -> CheckSpec:
    """A check on ``columns`` of ``marts.<mart>`` (``mql_id`` first: the id it reports)."""
    sql = f"SELECT {', '.join(dict.fromkeys(['mql_id', *columns]))} FROM marts.{mart} {{where_scope}}"
    return CheckSpec(f"{mart}_{name}", mart, description, sql, "mql_id", expectations)


def _reconcile(mart: str) -> CheckSpec:
    return CheckSpec(f"{mart}_episodes_reconcile_with_history", mart,
                     "episodes per contact equal the entries into MQL in the lifecycle history",
                     RECONCILE_SQL.replace("{mart}", mart), "contact_id",
                     lambda gx: [gx.expectations.ExpectColumnPairValuesToBeEqual(
                         column_A="history_episodes", column_B="mart_episodes")])


CHECKS: list[CheckSpec] = [
    _reconcile("mql_episodes"),
    _reconcile("speed_to_lead"),
    _spec("speed_to_lead", "first_touch_after_mql", "first_touch_at >= mql_at", ["first_touch_at", "mql_at"],
          lambda gx: [gx.expectations.ExpectColumnPairValuesAToBeGreaterThanB(
              column_A="first_touch_at", column_B="mql_at", or_equal=True, ignore_row_if="either_value_is_missing")]),
    _spec("speed_to_lead", "durations_non_negative", f"durations are never negative: {', '.join(DURATIONS)}",
          DURATIONS,
          lambda gx: [gx.expectations.ExpectColumnValuesToBeBetween(column=c, min_value=0) for c in DURATIONS]),
    *[
        CheckSpec(f"{mart}_rates_within_0_1", mart, f"rates are within [0, 1]: {', '.join(cols)}",
                  f"SELECT row_number() OVER () AS row_number, {', '.join(cols)} FROM marts.{mart}", "row_number",
                  lambda gx, cols=cols: [gx.expectations.ExpectColumnValuesToBeBetween(
                      column=c, min_value=0, max_value=1) for c in cols])
        for mart, cols in RATE_COLUMNS.items()
    ],
]
