"""A lane sensor's cursor from before the lane had its own code location.

Dagster keys a sensor's state (its cursor) by code location, repository and sensor name. The lane's sensors
used to be in the main location (``hubspot_lead_handoff``; ``pipeline.definitions`` under ``handoff dev``).
On an instance that ran them there, a sensor's first tick in ``handoff_lane`` starts from the newest cursor the
same-named sensor left in another location, instead of from none: the move neither skips the MQLs that arrived
while the daemon was down for the upgrade nor requests again what was requested before it.
"""

from __future__ import annotations

import dagster as dg

from pipeline.workspace import LANE_LOCATION


def carried_cursor(context: dg.SensorEvaluationContext, sensor_name: str) -> str | None:
    """``context.cursor``; when there is none, the newest cursor of ``sensor_name`` in another location."""
    if context.cursor:
        return context.cursor
    try:
        instance = context.instance
    except dg.DagsterInvariantViolationError:  # a context built without an instance (unit tests): nothing to carry
        return None
    if instance.schedule_storage is None:  # an ephemeral instance keeps no sensor state
        return None
    found: list[tuple[float, str]] = []
    # Only public names: the instance's states, read by attribute (a schedule's state has no cursor).
    for state in instance.all_instigator_state():
        data = state.instigator_data
        origin = state.origin
        cursor = getattr(data, "cursor", None)
        if (str(state.instigator_type.value) == "SENSOR" and origin.instigator_name == sensor_name and cursor
                and origin.repository_origin.code_location_origin.location_name != LANE_LOCATION):
            found.append((getattr(data, "last_tick_timestamp", None) or 0.0, cursor))
    return max(found)[1] if found else None
