"""The Great Expectations suites pass on correct marts, fail on broken rows naming them, and block the
downstream assets (and the analysts' copy) when run as Dagster asset checks; the marts' yml tests (dbt's
unique / not_null / accepted_values) catch the broken rows the suites leave to them."""

from __future__ import annotations

import dagster as dg
import duckdb
import pytest
from dagster_duckdb import DuckDBResource

from pipeline.quality.suites import CHECKS
from pipeline.quality.validate import run_check
from pipeline.resources import PolicyResource
from hubspot_sandbox.generator import generate_portal
from pipeline.settings import published_db_path
from tests.fixtures.raw_tables import RawPortal, build_marts, connect
from tests.fixtures.snapshot_loader import load_snapshot

SPECS = {spec.name: spec for spec in CHECKS}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    snapshot, truth = generate_portal(300, 5)
    path = tmp_path_factory.mktemp("checks") / "handoff.duckdb"
    con = connect(path)
    portal = RawPortal(con)
    load_snapshot(portal, snapshot)
    build_marts(portal, truth["now"])
    con.close()
    return path, truth["now"]


@pytest.fixture
def con(built, tmp_path):
    import shutil

    copy = tmp_path / "copy.duckdb"
    shutil.copy(built[0], copy)
    connection = duckdb.connect(str(copy))
    yield connection
    connection.close()


def test_every_check_passes_on_correct_marts(con):
    outcomes = {spec.name: run_check(con, spec) for spec in CHECKS}
    assert {name: o.summary for name, o in outcomes.items() if not o.passed} == {}
    assert all(o.rows > 0 for o in outcomes.values())
    assert len(CHECKS) == 7


def _dbt_test_failures(con, path, monkeypatch) -> dict[str, int]:
    """dbt's yml tests of speed_to_lead, run by dbt on the database as it is now: failing test -> failing rows."""
    from dbt.cli.main import dbtRunner

    from pipeline.modeling.project import database_path, dbt_args, target_path

    con.close()  # the file as the test left it, with nothing rebuilt (dbt test, not build)
    monkeypatch.setenv("HANDOFF_DB", database_path(str(path)))
    outcome = dbtRunner().invoke([*dbt_args("test", target_path(str(path))), "--select", "speed_to_lead"])
    return {r.node.name: int(r.failures) for r in outcome.result.results if r.failures}


def test_broken_rows_fail_the_marts_yml_tests(con, tmp_path, monkeypatch):
    ids = [r[0] for r in con.execute("SELECT mql_id FROM marts.speed_to_lead ORDER BY mql_id LIMIT 3").fetchall()]
    con.execute("INSERT INTO marts.speed_to_lead SELECT * FROM marts.speed_to_lead WHERE mql_id = ?", [ids[0]])
    con.execute("UPDATE marts.speed_to_lead SET sla_status = 'late' WHERE mql_id = ?", [ids[1]])
    con.execute("UPDATE marts.speed_to_lead SET contact_id = NULL, attempts = NULL WHERE mql_id = ?", [ids[2]])
    assert _dbt_test_failures(con, tmp_path / "copy.duckdb", monkeypatch) == {
        "unique_speed_to_lead_mql_id": 1,
        "accepted_values_speed_to_lead_sla_status__met__breached__overdue__pending": 1,
        "not_null_speed_to_lead_contact_id": 1,
        "not_null_speed_to_lead_attempts": 1,
    }


def test_broken_rows_fail_their_check_and_name_the_rows(con):
    ids = [r[0] for r in con.execute("SELECT mql_id FROM marts.speed_to_lead WHERE first_touch_at IS NOT NULL "
                                     "ORDER BY mql_id LIMIT 2").fetchall()]
    con.execute("UPDATE marts.speed_to_lead SET first_touch_at = mql_at - INTERVAL 1 MINUTE WHERE mql_id = ?", [ids[0]])
    con.execute("UPDATE marts.speed_to_lead SET minutes_to_first_touch = -3 WHERE mql_id = ?", [ids[1]])
    expected = {
        "speed_to_lead_first_touch_after_mql": [ids[0]],
        "speed_to_lead_durations_non_negative": [ids[1]],
    }
    for name, offenders in expected.items():
        outcome = run_check(con, SPECS[name])
        assert (outcome.passed, outcome.sample_ids) == (False, offenders), name


def test_a_suite_with_two_broken_expectations_names_both_and_their_rows(con):
    ids = [r[0] for r in con.execute("SELECT mql_id FROM marts.speed_to_lead ORDER BY mql_id LIMIT 2").fetchall()]
    con.execute("UPDATE marts.speed_to_lead SET routing_minutes = -1 WHERE mql_id = ?", [ids[0]])
    con.execute("UPDATE marts.speed_to_lead SET attempts = -2 WHERE mql_id = ?", [ids[1]])
    outcome = run_check(con, SPECS["speed_to_lead_durations_non_negative"])
    assert (outcome.passed, outcome.unexpected_count) == (False, 2)
    assert sorted(outcome.failed_expectations) == ["ExpectColumnValuesToBeBetween(attempts)",
                                                   "ExpectColumnValuesToBeBetween(routing_minutes)"]
    assert sorted(outcome.sample_ids) == sorted(ids)
    pair = con.execute("SELECT mql_id FROM marts.speed_to_lead WHERE first_touch_at IS NOT NULL "
                       "ORDER BY mql_id DESC LIMIT 1").fetchone()[0]
    con.execute("UPDATE marts.speed_to_lead SET first_touch_at = mql_at - INTERVAL 1 MINUTE WHERE mql_id = ?", [pair])
    assert run_check(con, SPECS["speed_to_lead_first_touch_after_mql"]).failed_expectations == [
        "ExpectColumnPairValuesAToBeGreaterThanB(first_touch_at/mql_at)"]


def test_episode_count_reconciles_with_lifecycle_history(con):
    [contact] = con.execute("SELECT contact_id FROM marts.mql_episodes ORDER BY mql_id LIMIT 1").fetchone()
    con.execute("DELETE FROM marts.mql_episodes WHERE contact_id = ?", [contact])
    outcome = run_check(con, SPECS["mql_episodes_episodes_reconcile_with_history"])
    assert (outcome.passed, outcome.sample_ids) == (False, [contact])
    assert run_check(con, SPECS["speed_to_lead_episodes_reconcile_with_history"]).passed


def test_rates_outside_0_1_fail(con):
    con.execute("UPDATE marts.rep_scorecard SET sla_met_rate = 1.5 WHERE rowid = (SELECT min(rowid) FROM marts.rep_scorecard)")
    outcome = run_check(con, SPECS["rep_scorecard_rates_within_0_1"])
    assert (outcome.passed, outcome.sample_ids) == (False, ["1"])
    assert run_check(con, SPECS["conversion_funnel_rates_within_0_1"]).passed


def _defs_assets():
    from assets import marts, models

    return [*models.defs.assets, *marts.defs.assets]


def test_dagster_run_builds_checks_and_publishes_then_a_failing_check_blocks_downstream(built, tmp_path, monkeypatch):
    import shutil

    db = tmp_path / "handoff.duckdb"
    shutil.copy(built[0], db)
    monkeypatch.setenv("HANDOFF_NOW", built[1])
    resources = {"duckdb": DuckDBResource(database=str(db)), "policy": PolicyResource()}
    result = dg.materialize(_defs_assets(), resources=resources, raise_on_error=False)
    assert result.success
    evaluations = result.get_asset_check_evaluations()
    from assets.models import DBT_CHECK_SPECS

    # every GX suite, every dbt test (as asset checks) and the policy's lifecycle-stage check, all passed
    assert len(evaluations) == len(CHECKS) + len(DBT_CHECK_SPECS) + 1 and all(e.passed for e in evaluations)
    assert "lifecycle_stages_exist_in_portal" in {e.check_name for e in evaluations}
    assert published_db_path(db).exists()
    materialized = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    assert {"staging/policy", "staging/contacts", "marts/speed_to_lead", "marts/published_copy"} <= materialized
    stl = next(e.event_specific_data.materialization for e in result.get_asset_materialization_events()
               if e.asset_key == dg.AssetKey(["marts", "speed_to_lead"]))
    assert {"build_mode", "sla_met_pct", "breaches_by_team"} <= set(stl.metadata)

    published_before = published_db_path(db).stat().st_mtime_ns
    with duckdb.connect(str(db)) as con:  # a corrupt upstream: a duplicated episode
        con.execute("INSERT INTO marts.mql_episodes SELECT * FROM marts.mql_episodes LIMIT 1")
    selection = ["marts/speed_to_lead", "marts/rep_scorecard", "marts/conversion_funnel",
                 "marts/speed_to_lead_impact", "marts/published_copy"]
    result = dg.materialize(
        _defs_assets(), resources=resources, raise_on_error=False, selection=selection,
        run_config={"ops": {"handoff_models": {"config": {"full_refresh": True}}}},
    )
    assert not result.success
    failed = [e for e in result.get_asset_check_evaluations() if not e.passed]
    assert "unique_speed_to_lead_mql_id" in {e.check_name for e in failed}
    assert next(e for e in failed if e.check_name == "unique_speed_to_lead_mql_id").metadata["failing_rows"].value == 1
    done = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    assert done == {"marts/speed_to_lead"}  # nothing downstream of the failed check ran
    assert published_db_path(db).stat().st_mtime_ns == published_before


def test_every_mart_column_has_its_yml_description_in_dagster():
    from assets.models import MODEL_SPECS

    marts = {spec.key.path[-1]: spec.metadata["dagster/column_schema"] for spec in MODEL_SPECS
             if spec.key.path[0] == "marts"}
    assert set(marts) == {"mql_episodes", "speed_to_lead", "conversion_funnel", "rep_scorecard", "speed_to_lead_impact"}
    assert all(column.description for schema in marts.values() for column in schema.columns)
    assert marts["speed_to_lead"].columns[0].name == "mql_id" and len(marts["speed_to_lead"].columns) == 31
