"""The live lane's code location ``handoff_lane`` (``workspace.yaml``; ``pipeline/workspace.py``).

``new_mql_sensor`` -> ``mql_handoff`` and ``overdue_mql_sensor`` -> ``sla_enforcement`` (``pipeline/sla/``), with
the resources they use. Defined here only, not in the main location: the daemon starts a process for every
run, which imports its location's module, and this one imports no dlt, dbt, polars, altair or Great
Expectations (a test holds that), so a handoff run starts in ~2 s of imports instead of ~8 s
(docs/enforcement.md "Measured"). A step's own code (routing, the brief: polars) loads when the step runs.
"""

from __future__ import annotations

import dagster as dg

from pipeline.config_check import validate_config
from pipeline.resources import build_lane_resources
from pipeline.sla import definitions as sla_definitions


def build_lane_definitions() -> dg.Definitions:
    validate_config()  # a bad policy file or variable: one line when the location loads
    return dg.Definitions.merge(sla_definitions.defs, dg.Definitions(resources=build_lane_resources()))


defs = build_lane_definitions()
