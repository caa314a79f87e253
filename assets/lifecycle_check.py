"""Blocking check on ``staging/policy``: every lifecycle stage the policy names (``lifecycle_stages``) is one of
the portal's ``lifecyclestage`` options (``hubspot.property_options``, written by the extraction step it waits
for). A portal lacking one stops the run before any mart is built, with one line listing the portal's stages
(label -> internal value) and the key to set. The rule is ``pipeline.lifecycle`` (pure); this is its wiring.
"""


import dagster as dg
from dagster_duckdb import DuckDBResource

from pipeline.lifecycle import check_portal_stages
from pipeline.policy import DEFAULT_POLICY_PATH
from pipeline.resources import PolicyResource


@dg.asset_check(
    asset=dg.AssetKey(["staging", "policy"]),
    name="lifecycle_stages_exist_in_portal",
    description="The policy's lifecycle_stages (mql / sql / opportunity / customer) are stages of the portal "
                "(its lifecyclestage options, read from the Properties API at each sync).",
    blocking=True,
    additional_deps=[dg.AssetKey(["hubspot", "contacts"])],  # the raw step that writes hubspot.property_options
)
def lifecycle_stages_exist_in_portal(duckdb: DuckDBResource, policy: PolicyResource) -> dg.AssetCheckResult:
    source = f"policy {policy.path or DEFAULT_POLICY_PATH}"
    with duckdb.get_connection() as con:
        summary = check_portal_stages(con, policy.load(), source)  # ConfigError (one line) stops the run
    return dg.AssetCheckResult(
        passed=True,
        description=("every configured stage is a portal stage" if summary["checked"]
                     else "not checked: no lifecyclestage options synced yet (hubspot.property_options)"),
        metadata={"checked": summary["checked"], "portal_stages": summary["portal_stages"]},
    )


defs = dg.Definitions(asset_checks=[lifecycle_stages_exist_in_portal])
