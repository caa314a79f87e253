"""The Dagster code locations of hubspot-lead-handoff, stated once (``workspace.yaml`` is held to this by a test).

- ``hubspot_lead_handoff`` (``pipeline/definitions.py``): the batch lane: assets (dlt extraction, the dbt
  project, checks, the report), the hourly and nightly jobs and their schedules, ``stale_run_sensor``.
- ``handoff_lane`` (``pipeline/lane_definitions.py``): the live lane: ``new_mql_sensor`` -> ``mql_handoff``,
  ``overdue_mql_sensor`` -> ``sla_enforcement``. It imports no dlt, dbt, polars, altair or Great Expectations,
  so each of its runs' processes starts in a few seconds (docs/enforcement.md "Measured").

Everything that loads the code (``make dev`` / ``handoff dev``, ``dagster dev`` in the checkout, the daemon,
the webserver, the tests' and benchmarks' daemons) loads both, from :func:`workspace_yaml`.
"""

from __future__ import annotations

from pathlib import Path

MAIN_LOCATION = "hubspot_lead_handoff"
LANE_LOCATION = "handoff_lane"
LOCATIONS = ((MAIN_LOCATION, "pipeline.definitions"), (LANE_LOCATION, "pipeline.lane_definitions"))


def workspace_yaml(working_directory: Path | str | None = None) -> str:
    """The workspace file loading both locations (``working_directory``: where the modules import from)."""
    lines = ["load_from:"]
    for name, module in LOCATIONS:
        lines += ["  - python_module:", f"      module_name: {module}", f"      location_name: {name}"]
        if working_directory is not None:
            lines.append(f"      working_directory: {working_directory}")
    return "\n".join(lines) + "\n"


def write_workspace(path: Path, working_directory: Path | str | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(workspace_yaml(working_directory))
    return path
