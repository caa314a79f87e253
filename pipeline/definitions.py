"""The one Dagster ``Definitions`` of hubspot-lead-handoff (loaded by workspace.yaml / ``dagster dev``).

Each layer module exposes its own ``defs`` (assets, checks, jobs, sensors, schedules) without resources;
this module merges them and attaches the resources built from the environment.
"""

from __future__ import annotations

import dagster as dg

from assets import checks, hubspot_raw, marts, ops, reports, staging
from pipeline import schedules
from pipeline.resources import build_resources
from pipeline.sla import definitions as sla_definitions

LAYERS = (hubspot_raw, staging, marts, checks, ops, reports, sla_definitions, schedules)


def build_definitions() -> dg.Definitions:
    merged = dg.Definitions.merge(*(layer.defs for layer in LAYERS))
    return dg.Definitions.merge(merged, dg.Definitions(resources=build_resources()))


defs = build_definitions()
