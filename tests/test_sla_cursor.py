"""The sensor's cursor across a restart of a persistent Dagster instance, and a cursor it cannot read.

Ticks run through ``enforce_once`` (the path ``handoff run`` takes) on ``DagsterInstance.get()`` over the test's
own ``DAGSTER_HOME`` (sqlite storage on disk), closed and reopened between ticks as a restarted daemon would.
Decided behaviour for an unreadable cursor: reset with a logged warning, never a crash; the due steps are
requested again and the run keys the instance already holds keep each step to one run.
"""

from __future__ import annotations

import json
import logging

import dagster as dg
import pytest

from pipeline.policy import load_policy
from pipeline.sla.runner import RUN_KEY_TAG, enforce_once
from pipeline.sla.sensor import evaluate, load_cursor, overdue_mql_sensor
from tests.fixtures.enforcement import by_contact
from tests.test_sla_enforcement import EXPECTED_ALERTS, EXPECTED_CANCELLED

# the steps due at the world's NOW (stated literally in test_sla_enforcement)
FIRST_TICK = {f"{m}:{s}" for m, s in (*EXPECTED_ALERTS, *EXPECTED_CANCELLED)}


def _run_keys(instance: dg.DagsterInstance) -> list[str]:
    return sorted(r.tags[RUN_KEY_TAG] for r in instance.get_runs(filters=dg.RunsFilter(job_name="sla_enforcement")))


def test_cursor_and_runs_survive_reopening_a_persistent_instance_and_a_corrupt_cursor_repeats_nothing(
        world, monkeypatch, caplog):
    resources = world.resources()
    with dg.DagsterInstance.get() as instance:
        assert not instance.is_ephemeral
        first = enforce_once(instance, resources)
    assert first["requested"] == len(FIRST_TICK) and first["failed_runs"] == []
    assert set(json.loads(first["cursor"])["requested"]) == FIRST_TICK

    # restart: a new instance object over the same DAGSTER_HOME; half an hour on, contact 3's demo SLA (MQL at
    # 14:30) runs out this very instant (due 15:30 <= now): exactly one new step is due
    monkeypatch.setenv("HANDOFF_NOW", "2026-11-02T15:30:00.000Z")
    with dg.DagsterInstance.get() as instance:
        assert _run_keys(instance) == sorted(FIRST_TICK)
        second = enforce_once(instance, resources, cursor=first["cursor"])
        assert _run_keys(instance) == sorted(FIRST_TICK | {f"{by_contact('3')}:manager_escalation"})
    assert (second["requested"], second["skipped_existing"], second["failed_runs"]) == (1, 0, [])
    assert [r["run_key"] for r in second["runs"]] == [f"{by_contact('3')}:manager_escalation"]
    assert set(json.loads(second["cursor"])["requested"]) == FIRST_TICK | {f"{by_contact('3')}:manager_escalation"}

    # restart again with the cursor lost to corruption: reset with a warning, every due step asked for again,
    # none run twice (the reopened instance holds their runs)
    with caplog.at_level(logging.WARNING, logger="pipeline.sla.sensor"), dg.DagsterInstance.get() as instance:
        third = enforce_once(instance, resources, cursor='{"v":1,"requested":{"1:17')
        assert len(_run_keys(instance)) == len(FIRST_TICK) + 1
    # nothing is requested again: every step that ran is already in the lane's ops.enforcement_log, which the
    # sensor reads before it would even ask Dagster for a run key
    assert (third["requested"], third["skipped_existing"], third["runs"]) == (0, 0, [])
    assert json.loads(third["cursor"])["requested"] == {}  # the reset cursor: nothing new was requested
    [warning] = [r for r in caplog.records if "unreadable cursor" in r.getMessage()]
    assert warning.levelno == logging.WARNING
    assert warning.getMessage().startswith("overdue_mql_sensor: unreadable cursor reset (JSONDecodeError: ")


@pytest.mark.parametrize("raw", ["{not json", "[1, 2]", '"text"', "7", '{"requested": [1]}',
                                 '{"requested": {"1:1700000000000:reassignment": "soon"}}',
                                 '{"requested": {"1:1700000000000:reassignment": null}}'])
def test_an_unreadable_cursor_is_reset_with_a_warning(raw, caplog):
    with caplog.at_level(logging.WARNING, logger="pipeline.sla.sensor"):
        assert load_cursor(raw) == {}
    [record] = caplog.records
    assert record.levelno == logging.WARNING and "unreadable cursor reset" in record.getMessage()
    assert "\n" not in record.getMessage()


def test_a_readable_cursor_loads_without_a_warning(caplog):
    with caplog.at_level(logging.WARNING, logger="pipeline.sla.sensor"):
        assert load_cursor('{"v":1,"requested":{"1:5:reassignment":5}}') == {"1:5:reassignment": 5}
        assert load_cursor(None) == {} and load_cursor("") == {}
    assert caplog.records == []


def test_the_sensor_with_a_corrupt_cursor_requests_the_due_steps_and_writes_a_fresh_cursor(world):
    context = dg.build_sensor_context(cursor="\x00garbage", resources={"policy": world.resources()["policy"]})
    result = overdue_mql_sensor(context)
    assert sorted(r.run_key for r in result.run_requests) == sorted(FIRST_TICK)
    assert set(json.loads(result.cursor)["requested"]) == FIRST_TICK
    # evaluate() with the same tick's clean cursor: nothing new
    from pipeline.settings import now

    again = evaluate(result.cursor, load_policy(world.policy_path), now(), world.published)
    assert again.run_requests == [] and again.skip_reason.skip_message.startswith("no new ladder steps due")
