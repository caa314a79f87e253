"""The live lane's own code location (``handoff_lane``, ``pipeline/lane_definitions.py``): light, complete, the
only home of the lane's sensors and jobs, listed in workspace.yaml beside the main one, and a sensor moved into
it starts from the cursor it left in the main location (``pipeline/sla/moved_cursor.py``)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import dagster as dg
import yaml
from dagster._core.remote_origin import RegisteredCodeLocationOrigin, RemoteInstigatorOrigin, RemoteRepositoryOrigin
from dagster._core.scheduler.instigation import (
    InstigatorState,
    InstigatorStatus,
    InstigatorType,
    SensorInstigatorData,
)

from pipeline.workspace import LANE_LOCATION, LOCATIONS, MAIN_LOCATION, workspace_yaml

REPO = Path(__file__).resolve().parents[1]
HEAVY = ("dlt", "dbt", "dagster_dbt", "dagster_dlt", "polars", "altair", "great_expectations")
# what only a step needs (the report's charts and HTML, the story's PNG, the GX checks and their frames): imported
# inside the functions that use them, so loading the main location (the UI, every run's process) skips them
STEP_ONLY = ("altair", "vl_convert", "great_expectations", "pandas", "scipy", "polars")
LANE_SENSORS = {"new_mql_sensor", "overdue_mql_sensor"}
LANE_JOBS = {"mql_handoff", "sla_enforcement"}

PROBE = """
import json, sys, importlib
module = importlib.import_module(sys.argv[1])
defs = module.defs
jobs = sorted(j.name for j in defs.jobs if not j.name.startswith("__"))
for name in jobs:
    defs.get_job_def(name)  # what a run's process resolves after importing the module
print(json.dumps({"jobs": jobs, "sensors": sorted(s.name for s in defs.sensors),
                  "heavy": sorted(m for m in sys.argv[2:] if m in sys.modules)}))
"""


def _probe(module: str, watched: tuple[str, ...] = HEAVY) -> dict:
    """Import a location's module in a fresh interpreter (as a run's process does) and report which of
    ``watched`` it loaded."""
    out = subprocess.run([sys.executable, "-c", PROBE, module, *watched], cwd=REPO, capture_output=True, text=True,
                         timeout=300, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_the_lane_location_imports_none_of_the_heavy_libraries_and_holds_the_lanes_sensors_and_jobs_once():
    lane, main = _probe("pipeline.lane_definitions"), _probe("pipeline.definitions")
    assert lane["heavy"] == []
    assert set(lane["sensors"]) == LANE_SENSORS and set(lane["jobs"]) == LANE_JOBS
    # the main location is what the light one avoids (the probe sees the libraries when they are loaded) ...
    assert {"dlt", "dbt", "dagster_dbt", "dagster_dlt"} <= set(main["heavy"])
    # ... and it defines none of the lane's sensors and jobs: each exists once
    assert not LANE_SENSORS & set(main["sensors"]) and not LANE_JOBS & set(main["jobs"])
    assert "stale_run_sensor" in main["sensors"] and "hourly_sync" in main["jobs"]


def test_the_main_location_loads_without_the_libraries_only_steps_use():
    main = _probe("pipeline.definitions", STEP_ONLY + ("dagster_dbt",))
    assert main["heavy"] == ["dagster_dbt"]  # none of them; the probe does see what the module loads


def test_workspace_yaml_lists_both_locations_as_pipeline_workspace_states_them():
    text = (REPO / "workspace.yaml").read_text()
    assert text == workspace_yaml()
    entries = [e["python_module"] for e in yaml.safe_load(text)["load_from"]]
    assert [(e["location_name"], e["module_name"]) for e in entries] == [
        (MAIN_LOCATION, "pipeline.definitions"), (LANE_LOCATION, "pipeline.lane_definitions")] == list(LOCATIONS)
    # with a working directory (the daemon of tests and benchmarks), every entry gets it
    assert all(e["python_module"]["working_directory"] == "/srv/app"
               for e in yaml.safe_load(workspace_yaml("/srv/app"))["load_from"])


def _state(location: str, sensor: str, cursor: str, ticked_at: float) -> InstigatorState:
    origin = RemoteInstigatorOrigin(RemoteRepositoryOrigin(RegisteredCodeLocationOrigin(location), "__repository__"),
                                    sensor)
    return InstigatorState(origin, InstigatorType.SENSOR, InstigatorStatus.RUNNING,
                           SensorInstigatorData(last_tick_timestamp=ticked_at, cursor=cursor))


def test_a_lane_sensor_starts_from_the_cursor_it_left_in_the_main_location(world, tmp_path):
    from pipeline.sla.moved_cursor import carried_cursor
    from pipeline.sla.sensor import SENSOR_NAME, overdue_mql_sensor

    resources = {"policy": world.resources()["policy"]}
    with dg.DagsterInstance.ephemeral() as instance:
        first = overdue_mql_sensor(dg.build_sensor_context(instance=instance, resources=resources))
    requested = set(json.loads(first.cursor)["requested"])
    assert len(first.run_requests) == len(requested) > 0

    (tmp_path / "home").mkdir()
    with dg.instance_for_test(temp_dir=str(tmp_path / "home")) as instance:
        # no state anywhere: the moved sensor starts from nothing and asks for every due step again
        fresh = overdue_mql_sensor(dg.build_sensor_context(instance=instance, resources=resources))
        assert {r.run_key for r in fresh.run_requests} == requested
        # the state the sensor left under the main location (an older one under the `handoff dev` name too)
        instance.add_instigator_state(_state(MAIN_LOCATION, SENSOR_NAME, first.cursor, 2_000.0))
        instance.add_instigator_state(_state("pipeline.definitions", SENSOR_NAME, '{"v":1,"requested":{}}', 1_000.0))
        instance.add_instigator_state(_state(MAIN_LOCATION, "new_mql_sensor", '{"v":1,"since_ms":1}', 3_000.0))
        moved = overdue_mql_sensor(dg.build_sensor_context(instance=instance, resources=resources))
        assert moved.run_requests == [] and set(json.loads(moved.cursor)["requested"]) == requested
        # a cursor of its own (every tick after the first) wins
        own = dg.build_sensor_context(instance=instance, cursor='{"v":1,"requested":{}}', resources=resources)
        assert carried_cursor(own, SENSOR_NAME) == '{"v":1,"requested":{}}'
        assert carried_cursor(dg.build_sensor_context(instance=instance), SENSOR_NAME) == first.cursor
        assert carried_cursor(dg.build_sensor_context(instance=instance), "new_mql_sensor") == '{"v":1,"since_ms":1}'
    assert carried_cursor(dg.build_sensor_context(), SENSOR_NAME) is None  # no instance: nothing to carry
