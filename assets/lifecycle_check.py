"""Blocking check on ``staging/policy``: every lifecycle stage the policy names (``lifecycle_stages``) is one of
the portal's ``lifecyclestage`` options (``hubspot.property_options``, written by the extraction step). The models'
step evaluates it right after writing ``staging.policy`` and before dbt runs, so a portal lacking one stops the
run before any model is built, with one line listing the portal's stages (label -> internal value) and the key to
set. The rule is ``pipeline.lifecycle`` (pure); this is its wiring.
"""


import dagster as dg
import duckdb

from pipeline.lifecycle import check_portal_stages
from pipeline.policy import DEFAULT_POLICY_PATH
from pipeline.resources import PolicyResource

LIFECYCLE_CHECK = dg.AssetCheckSpec(
    "lifecycle_stages_exist_in_portal",
    asset=dg.AssetKey(["staging", "policy"]),
    description="The policy's lifecycle_stages (mql / sql / opportunity / customer) are stages of the portal "
                "(its lifecyclestage options, read from the Properties API at each sync).",
    blocking=True,
    additional_deps=[dg.AssetKey(["hubspot", "contacts"])],  # the raw step that writes hubspot.property_options
)


def lifecycle_check_result(con: duckdb.DuckDBPyConnection, policy: PolicyResource) -> dg.AssetCheckResult:
    """The check's result; a configured stage the portal lacks raises ConfigError (one line) and stops the run."""
    summary = check_portal_stages(con, policy.load(), f"policy {policy.path or DEFAULT_POLICY_PATH}")
    return dg.AssetCheckResult(
        asset_key=LIFECYCLE_CHECK.asset_key, check_name=LIFECYCLE_CHECK.name, passed=True,
        description=("every configured stage is a portal stage" if summary["checked"]
                     else "not checked: no lifecyclestage options synced yet (hubspot.property_options)"),
        metadata={"checked": summary["checked"], "portal_stages": summary["portal_stages"]},
    )
