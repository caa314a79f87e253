"""After a sync that changes a few contacts, the incremental build rebuilds only those contacts and every
mart equals a full rebuild of the same raw data."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from pipeline.policy import load_policy, parse_policy
from hubspot_sandbox.generator import generate_portal
from pipeline.settings import parse_instant
from tests.fixtures.raw_tables import RawPortal, assert_incremental_equals_full_refresh, build_marts, rows, connect
from tests.fixtures.snapshot_loader import load_snapshot

# each build materializes the models as the schedules do (dbt: every model and its tests, then the GX checks):
# several builds per test take longer than the suite's default timeout on a loaded machine
pytestmark = pytest.mark.timeout(1800)


MARTS = ("mql_episodes", "speed_to_lead", "conversion_funnel", "rep_scorecard", "speed_to_lead_impact")
ORDER = {"mql_episodes": "mql_id", "speed_to_lead": "mql_id", "speed_to_lead_impact": "mql_type, bucket_order",
         "conversion_funnel": "period_type, period_start, mql_type, team, lead_source",
         "rep_scorecard": "period_type, period_start, owner_id"}


def table(con, mart, exclude=()):
    cols = [r[0] for r in con.execute(f"DESCRIBE marts.{mart}").fetchall() if r[0] not in exclude]
    return rows(con, f"SELECT {', '.join(cols)} FROM marts.{mart} ORDER BY {ORDER[mart]}")


@pytest.fixture
def portal(tmp_path):
    """A generated portal's raw tables as dlt writes them (``_dlt_loads`` records each complete load)."""
    snapshot, truth = generate_portal(500, 11)
    con = connect(tmp_path / "handoff.duckdb")
    raw = RawPortal(con)
    load_snapshot(raw, snapshot)
    yield raw, truth["now"]
    con.close()


def pick(con, where, last=False):
    return rows(con, f"SELECT contact_id, mql_at, owner_id FROM marts.speed_to_lead WHERE {where} "
                     f"ORDER BY mql_id {'DESC' if last else ''} LIMIT 1")[0]


def make_changes(raw: RawPortal, now: str) -> tuple[set[str], set[str]]:
    """A second sync touching a handful of contacts; returns (contacts whose raw rows changed, contacts whose
    owner changed team)."""
    con = raw.con
    overdue = pick(con, "sla_status = 'overdue'")
    pending = pick(con, "sla_status = 'pending'")
    touched = pick(con, "sla_status = 'met' AND opportunity_at IS NULL")
    archived = pick(con, "sla_status = 'breached'")
    raw.next_load()
    # a rep finally calls the overdue lead, and a new deal lands on a met one
    raw.call("99000001", overdue["contact_id"], now, owner=overdue["owner_id"])
    raw.deal("99000002", touched["contact_id"], now)
    # a contact is deleted in HubSpot (the reconcile marks it archived)
    c = rows(con, "SELECT * FROM hubspot.contacts WHERE id = ?", [archived["contact_id"]])[0]
    c.update(archived=True, _dlt_load_id=None, _dlt_id=None)
    raw.write("contacts", **{k: v for k, v in c.items() if not k.startswith("_dlt")})
    # the pending lead re-enters MQL after being recycled
    raw.history(pending["contact_id"], "lifecyclestage", "2026-11-02T14:50:00Z", "lead")
    raw.history(pending["contact_id"], "lifecyclestage", "2026-11-02T14:55:00Z", "")
    raw.history(pending["contact_id"], "lifecyclestage", "2026-11-02T14:55:00.001Z", "marketingqualifiedlead")
    # an owner moves to another team: every episode of theirs changes team
    owner = rows(con, "SELECT owner_id FROM marts.speed_to_lead WHERE owner_id IS NOT NULL GROUP BY owner_id "
                      "ORDER BY count(*) LIMIT 1")[0]["owner_id"]
    con.execute("UPDATE hubspot.owner_teams SET is_primary = false WHERE owner_id = ?", [owner])
    raw.team(owner, "Strategic", primary=True)
    moved = {r["contact_id"] for r in rows(con, "SELECT contact_id FROM marts.speed_to_lead WHERE owner_id = ?", [owner])}
    return {overdue["contact_id"], pending["contact_id"], touched["contact_id"], archived["contact_id"]}, moved


def test_incremental_build_equals_full_rebuild_at_the_same_clock(portal):
    raw, now = portal
    first = {r.model: r for r in build_marts(raw, now)}
    assert first["marts.speed_to_lead"].mode == "full" and first["marts.speed_to_lead"].reason == "first build"
    changed, moved = make_changes(raw, now)
    assert moved and not moved & changed
    second = {r.model: r for r in build_marts(raw, now)}
    assert second["marts.mql_episodes"].mode == second["marts.speed_to_lead"].mode == "incremental"
    # the scope at the same clock: the changed contacts only (no SLA ran out); team moves are applied to every row
    # after the build, so they need no scope
    scope = {r["contact_id"] for r in rows(raw.con, "SELECT contact_id FROM staging.episode_scope "
                                                     "WHERE contact_id IS NOT NULL")}
    assert scope == changed and second["marts.speed_to_lead"].scope_contacts == len(changed)
    incremental = {m: table(raw.con, m) for m in MARTS}
    assert_incremental_equals_full_refresh(raw, now)
    for mart in MARTS:
        assert incremental[mart] == table(raw.con, mart), mart
    statuses = {r["contact_id"]: r for r in rows(raw.con, "SELECT contact_id, sla_status, team FROM marts.speed_to_lead")}
    assert "Strategic" in {r["team"] for r in statuses.values()}


def test_incremental_after_the_clock_moves_equals_full_rebuild(portal):
    raw, now = portal
    build_marts(raw, now)
    later = (parse_instant(now) + timedelta(hours=30)).isoformat()
    # a meeting booked for 2 hours after the first build becomes a touch once the clock passes it
    pending = pick(raw.con, "sla_status = 'pending'", last=True)  # not the one make_changes re-MQLs
    raw.next_load()  # a sync: every dlt load writes under a new load id
    raw.meeting("99000010", pending["contact_id"], (parse_instant(now) + timedelta(hours=2)).isoformat(),
                outcome="SCHEDULED")
    build_marts(raw, now)  # same clock: the future meeting is not a touch yet
    assert rows(raw.con, "SELECT attempts FROM marts.speed_to_lead WHERE contact_id = ? AND mql_at = ?",
                [pending["contact_id"], pending["mql_at"]]) == [{"attempts": 0}]
    assert pending["contact_id"] not in make_changes(raw, now)[0]
    results = {r.model: r for r in build_marts(raw, later)}
    assert results["marts.speed_to_lead"].mode == "incremental"
    incremental = {m: table(raw.con, m, exclude=("computed_at",)) for m in MARTS}
    build_marts(raw, later, full_refresh=True)
    for mart in MARTS:
        assert incremental[mart] == table(raw.con, mart, exclude=("computed_at",)), mart
    assert rows(raw.con, "SELECT attempts FROM marts.speed_to_lead WHERE contact_id = ? AND mql_at = ?",
                [pending["contact_id"], pending["mql_at"]]) == [{"attempts": 1}]
    assert rows(raw.con, "SELECT count(*) AS n FROM marts.speed_to_lead WHERE sla_status = 'pending'") == [{"n": 0}]


def test_policy_change_clock_moving_back_and_no_change_decide_the_mode(portal):
    raw, now = portal
    build_marts(raw, now)
    quiet = {r.model: r for r in build_marts(raw, now)}
    assert rows(raw.con, "SELECT count(*) AS n FROM marts.speed_to_lead WHERE sla_status = 'pending'")[0]["n"] > 0
    assert (quiet["marts.speed_to_lead"].mode, quiet["marts.speed_to_lead"].scope_contacts) == (
        "incremental", 0)  # nothing changed, the clock stood still: no episode to look at again, pending ones too
    stricter = parse_policy("sla: {minutes: {demo_request: 5}}")
    changed = {r.model: r for r in build_marts(raw, now, stricter)}
    assert (changed["marts.mql_episodes"].reason, changed["marts.speed_to_lead"].reason) == (
        "policy or models changed", "policy or models changed")
    earlier = (parse_instant(now) - timedelta(days=1)).isoformat()
    back = {r.model: r for r in build_marts(raw, earlier, stricter)}
    assert back["marts.speed_to_lead"].reason == "clock moved back"
    assert {r.model: r for r in build_marts(raw, now, load_policy())}["marts.speed_to_lead"].mode == "full"


def test_the_models_hash_follows_the_project_files_and_not_dbt_artifacts(tmp_path):
    import shutil

    from pipeline.modeling.policy_table import models_hash
    from pipeline.modeling.raw_columns import project_dir

    copy = tmp_path / "sql"
    shutil.copytree(project_dir(), copy, ignore=shutil.ignore_patterns("target", "logs"))
    original = models_hash(copy)
    assert models_hash(copy) == original and models_hash(copy) == models_hash(project_dir())
    (copy / "target").mkdir(exist_ok=True)
    (copy / "target" / "compiled.sql").write_text("SELECT 1")  # dbt's artifacts are not the project
    assert models_hash(copy) == original
    model = copy / "models" / "marts" / "speed_to_lead.sql"
    model.write_text(model.read_text() + "\n-- an analyst's edit\n")
    assert models_hash(copy) != original


def test_an_edited_or_upgraded_model_rebuilds_the_incremental_models_fully(tmp_path, monkeypatch):
    """Rows an incremental model kept were computed by the SQL of its last build: after a change to the project
    (an upgrade, an analyst's edit) every incremental model rebuilds fully once, then incrementally again."""
    from pipeline.modeling import policy_table

    con = connect(tmp_path / "handoff.duckdb")
    raw = RawPortal(con)
    raw.owner("101", team="EMEA")
    raw.contact("1", lifecycle=[("2024-03-01T00:00:00Z", "lead"), ("2024-03-05T14:00:00Z", "marketingqualifiedlead")])
    raw.call("500", "1", "2024-03-05T14:30:00Z", owner="101")
    now = "2024-03-20T00:00:00Z"
    build_marts(raw, now)
    assert {r.model: r.mode for r in build_marts(raw, now)}["marts.speed_to_lead"] == "incremental"
    monkeypatch.setattr(policy_table, "models_hash", lambda root=None: "the next release's models")
    edited = {r.model: r for r in build_marts(raw, now)}
    assert [(edited[m].mode, edited[m].reason) for m in ("marts.mql_episodes", "marts.speed_to_lead")] == [
        ("full", "policy or models changed")] * 2
    assert rows(con, "SELECT model, build_mode FROM staging.build_marks ORDER BY model") == [
        {"model": "contact_links", "build_mode": "policy or models changed"},
        {"model": "mql_episodes", "build_mode": "policy or models changed"},
        {"model": "speed_to_lead", "build_mode": "policy or models changed"}]
    assert {r.model: r.mode for r in build_marts(raw, now)}["marts.speed_to_lead"] == "incremental"
    con.close()


def test_an_engagement_moved_to_another_contact_is_taken_off_the_first(tmp_path):
    """Call 500 is logged on contact 1, then re-associated to contact 2 (the sync replaces its links):
    the incremental build must rebuild contact 1 too, exactly as a full rebuild does."""
    con = connect(tmp_path / "handoff.duckdb")
    raw = RawPortal(con)
    raw.owner("101", team="EMEA")
    for contact in ("1", "2"):
        raw.contact(contact, lifecycle=[("2024-03-01T00:00:00Z", "lead"),
                                        ("2024-03-05T14:00:00Z", "marketingqualifiedlead")],
                    owners=[("2024-03-01T00:00:00Z", "101")])
    for other in range(3, 30):  # bystanders, so two changed contacts stay under the full-rebuild share
        raw.contact(str(other), lifecycle=[("2024-03-01T00:00:00Z", "lead")])
    raw.call("500", "1", "2024-03-05T14:30:00Z", owner="101")
    build_marts(raw, "2024-03-20T00:00:00Z")
    assert rows(con, "SELECT contact_id, attempts, sla_status FROM marts.speed_to_lead ORDER BY contact_id") == [
        {"contact_id": "1", "attempts": 1, "sla_status": "met"},
        {"contact_id": "2", "attempts": 0, "sla_status": "overdue"}]

    raw.next_load()
    con.execute("DELETE FROM hubspot.associations WHERE from_type = 'calls' AND from_id = '500'")
    raw.call("500", "2", "2024-03-05T14:30:00Z", owner="101")  # the call's row and its one link, new load
    results = {r.model: r for r in build_marts(raw, "2024-03-20T00:00:00Z")}
    assert results["marts.speed_to_lead"].mode == "incremental"
    expected = [{"contact_id": "1", "attempts": 0, "sla_status": "overdue"},
                {"contact_id": "2", "attempts": 1, "sla_status": "met"}]
    assert rows(con, "SELECT contact_id, attempts, sla_status FROM marts.speed_to_lead ORDER BY contact_id") == expected
    build_marts(raw, "2024-03-20T00:00:00Z", full_refresh=True)
    assert rows(con, "SELECT contact_id, attempts, sla_status FROM marts.speed_to_lead ORDER BY contact_id") == expected
    con.close()


def test_raw_tables_without_a_recorded_dlt_load_are_rebuilt_in_full(tmp_path):
    """Raw tables dlt did not write (no ``_dlt_loads``): no load can be trusted as complete, so every build is
    full, says why, and still gives the right rows."""
    raw = rep_101_portal(tmp_path, {"1": "2024-03-05T14:00:00Z", "2": "2024-03-05T15:00:00Z"}, dlt_loads=False)
    raw.call("500", "1", "2024-03-05T14:30:00Z", owner="101")
    first = {r.model: r for r in build_marts(raw, "2024-03-20T00:00:00Z")}
    assert (first["marts.speed_to_lead"].mode, first["marts.speed_to_lead"].reason) == ("full", "first build")
    raw.next_load()
    raw.call("501", "2", "2024-03-05T15:20:00Z", owner="101")
    second = {r.model: r for r in build_marts(raw, "2024-03-20T00:00:00Z")}
    for mart in ("marts.mql_episodes", "marts.speed_to_lead"):
        assert (second[mart].mode, second[mart].reason) == ("full", "no complete dlt load recorded"), mart
    assert rows(raw.con, "SELECT contact_id, attempts, sla_status FROM marts.speed_to_lead ORDER BY contact_id") == [
        {"contact_id": "1", "attempts": 1, "sla_status": "met"},
        {"contact_id": "2", "attempts": 1, "sla_status": "met"}]
    raw.con.close()


def test_changes_of_every_load_since_the_last_build_are_read(portal):
    """Two syncs between builds: the first new load's rows count as much as the newest's."""
    raw, now = portal
    build_marts(raw, now)
    overdue = pick(raw.con, "sla_status = 'overdue'")
    pending = pick(raw.con, "sla_status = 'pending'", last=True)
    # in scope: the two touched contacts, each from its own load (the clock stood still: no SLA ran out)
    scope = {overdue["contact_id"], pending["contact_id"]}
    raw.next_load()
    raw.call("99000021", overdue["contact_id"], now, owner=overdue["owner_id"])
    raw.next_load()
    raw.call("99000022", pending["contact_id"], now, owner=pending["owner_id"])
    results = {r.model: r for r in build_marts(raw, now)}
    assert (results["marts.speed_to_lead"].mode, results["marts.speed_to_lead"].scope_contacts) == (
        "incremental", len(scope))
    assert rows(raw.con, "SELECT contact_id, first_touch_at IS NOT NULL AS touched FROM marts.speed_to_lead "
                         "WHERE (contact_id, mql_at) IN ((?, ?), (?, ?)) ORDER BY contact_id",
                [overdue["contact_id"], overdue["mql_at"], pending["contact_id"], pending["mql_at"]]) == sorted(
        [{"contact_id": overdue["contact_id"], "touched": True}, {"contact_id": pending["contact_id"], "touched": True}],
        key=lambda r: r["contact_id"])
    incremental = {m: table(raw.con, m) for m in MARTS}
    build_marts(raw, now, full_refresh=True)
    for mart in MARTS:
        assert incremental[mart] == table(raw.con, mart), mart


def rep_101_portal(tmp_path, mqls: dict[str, str], *, dlt_loads: bool = True) -> RawPortal:
    """Rep 101 (EMEA) owns one lead per entry of ``mqls`` (contact -> MQL instant), plus 27 bystander leads, so
    one changed contact stays under the full-rebuild share."""
    raw = RawPortal(connect(tmp_path / "handoff.duckdb"), dlt_loads=dlt_loads)
    raw.owner("101", team="EMEA")
    for contact, mql_at in mqls.items():
        raw.contact(contact, lifecycle=[("2024-03-01T00:00:00Z", "lead"), (mql_at, "marketingqualifiedlead")],
                    owners=[("2024-03-01T00:00:00Z", "101")])
    for other in range(3, 30):
        raw.contact(str(other), lifecycle=[("2024-03-01T00:00:00Z", "lead")])
    return raw


def test_scorecard_groups_are_requantiled_to_their_last_day(tmp_path):
    """rep_scorecard's incremental quantiles take every day of each changed week, month and quarter: lead B's
    MQL is on Sunday 2024-03-31, the last day of its week, of March and of Q1."""
    raw = rep_101_portal(tmp_path, {"1": "2024-03-25T10:00:00Z", "2": "2024-03-31T10:00:00Z"})
    con = raw.con
    raw.call("500", "1", "2024-03-25T10:10:00Z", owner="101")
    now = "2024-04-02T00:00:00Z"
    build_marts(raw, now)
    raw.next_load()
    raw.call("501", "2", "2024-03-31T10:30:00Z", owner="101")
    results = {r.model: r for r in build_marts(raw, now)}
    assert results["marts.speed_to_lead"].mode == "incremental"  # (the scorecard: rebuilt in full)
    expected = [
        {"period_type": "month", "period_start": date(2024, 3, 1), "mqls": 2, "touched": 2,
         "median_minutes_to_first_touch": 20.0, "p90_minutes_to_first_touch": 28.0},
        {"period_type": "quarter", "period_start": date(2024, 1, 1), "mqls": 2, "touched": 2,
         "median_minutes_to_first_touch": 20.0, "p90_minutes_to_first_touch": 28.0},
        {"period_type": "week", "period_start": date(2024, 3, 25), "mqls": 2, "touched": 2,
         "median_minutes_to_first_touch": 20.0, "p90_minutes_to_first_touch": 28.0},
    ]
    query = ("SELECT period_type, period_start, mqls, touched, median_minutes_to_first_touch, "
             "p90_minutes_to_first_touch FROM marts.rep_scorecard WHERE owner_id = '101' ORDER BY period_type")
    assert rows(con, query) == expected
    build_marts(raw, now, full_refresh=True)
    assert rows(con, query) == expected
    con.close()


def test_the_clock_alone_turns_pending_episodes_overdue(portal):
    """No sync at all, the clock 30 h on: untouched episodes outside any scope flip pending -> overdue."""
    raw, now = portal
    build_marts(raw, now)
    pending = rows(raw.con, "SELECT mql_id FROM marts.speed_to_lead WHERE sla_status = 'pending' ORDER BY mql_id")
    assert pending
    later = (parse_instant(now) + timedelta(hours=30)).isoformat()
    results = {r.model: r for r in build_marts(raw, later)}
    assert results["marts.speed_to_lead"].mode == "incremental"
    assert rows(raw.con, "SELECT mql_id, sla_status FROM marts.speed_to_lead WHERE mql_id IN "
                         f"({', '.join(repr(p['mql_id']) for p in pending)}) ORDER BY mql_id") == [
        {"mql_id": p["mql_id"], "sla_status": "overdue"} for p in pending]
    incremental = {m: table(raw.con, m, exclude=("computed_at",)) for m in MARTS}
    build_marts(raw, later, full_refresh=True)
    for mart in MARTS:
        assert incremental[mart] == table(raw.con, mart, exclude=("computed_at",)), mart


def test_scorecard_owner_names_follow_a_rename_and_new_groups_get_theirs(portal):
    raw, now = portal
    raw.owner("990", team="EMEA", name="New Hire")  # no MQL yet: no scorecard group
    build_marts(raw, now)
    owner = rows(raw.con, "SELECT owner_id FROM marts.rep_scorecard WHERE owner_id IS NOT NULL "
                          "GROUP BY owner_id ORDER BY count(*) DESC LIMIT 1")[0]["owner_id"]
    raw.next_load()
    raw.write("owners", id=owner, email=f"rep{owner}@example.com", first_name="Renamed", last_name="Rep",
              archived=False)
    results = {r.model: r for r in build_marts(raw, now)}
    assert results["marts.speed_to_lead"].mode == "incremental"  # (the scorecard: rebuilt in full)
    assert rows(raw.con, "SELECT DISTINCT owner_name FROM marts.rep_scorecard WHERE owner_id = ?", [owner]) == [
        {"owner_name": "Renamed Rep"}]
    # the new rep's first MQL opens new groups: they carry the rep's name (the owners table did not change)
    raw.next_load()
    contact = rows(raw.con, "SELECT contact_id FROM marts.speed_to_lead WHERE sla_status = 'overdue' "
                            "ORDER BY mql_id LIMIT 1")[0]["contact_id"]
    raw.history(contact, "lifecyclestage", "2026-11-02T14:50:00Z", "lead")
    raw.history(contact, "lifecyclestage", "2026-11-02T14:55:00Z", "")
    raw.history(contact, "hubspot_owner_id", "2026-11-02T14:55:00Z", "990")
    raw.history(contact, "lifecyclestage", "2026-11-02T14:55:00.001Z", "marketingqualifiedlead")
    build_marts(raw, now)
    assert rows(raw.con, "SELECT DISTINCT owner_name FROM marts.rep_scorecard WHERE owner_id = '990'") == [
        {"owner_name": "New Hire"}]
    incremental = table(raw.con, "rep_scorecard")
    build_marts(raw, now, full_refresh=True)
    assert table(raw.con, "rep_scorecard") == incremental


def test_scorecard_median_goes_null_when_a_group_loses_its_last_touch(tmp_path):
    raw = rep_101_portal(tmp_path, {"1": "2024-03-25T10:00:00Z"})
    con = raw.con
    raw.call("500", "1", "2024-03-25T10:10:00Z", owner="101")
    now = "2024-04-02T00:00:00Z"
    build_marts(raw, now)
    query = ("SELECT period_type, touched, median_minutes_to_first_touch AS median FROM marts.rep_scorecard "
             "WHERE owner_id = '101' ORDER BY period_type")
    assert rows(con, query) == [{"period_type": p, "touched": 1, "median": 10.0} for p in ("month", "quarter", "week")]
    raw.next_load()
    raw.call("500", "1", "2024-03-25T10:10:00Z", owner="101", archived=True)  # the call was logged in error
    assert {r.model: r for r in build_marts(raw, now)}["marts.speed_to_lead"].mode == "incremental"
    expected = [{"period_type": p, "touched": 0, "median": None} for p in ("month", "quarter", "week")]
    assert rows(con, query) == expected
    build_marts(raw, now, full_refresh=True)
    assert rows(con, query) == expected
    con.close()


def test_a_load_that_never_completed_is_dropped_before_the_next_one(tmp_path):
    """A sync dies after writing one raw table (its dlt package goes with the run's temporary directory, so it is
    never recorded in _dlt_loads); the next sync completes. The extractor first drops the rows of the load that
    never completed (dlt re-extracts those records: it restores cursors only from completed loads), so the
    incremental build and a full rebuild read the same rows."""
    from pipeline.hubspot.post_load import drop_incomplete_loads

    snapshot, truth = generate_portal(300, 7)
    con = connect(tmp_path / "handoff.duckdb")
    raw = RawPortal(con)
    load_snapshot(raw, snapshot)
    now = truth["now"]
    build_marts(raw, now)
    overdue = pick(con, "sla_status = 'overdue'")
    pending = pick(con, "sla_status = 'pending'")
    raw.complete_load()
    raw.load_number += 1  # load 2 writes a call, then dies before dlt records it
    raw.call("99000001", overdue["contact_id"], now, owner=overdue["owner_id"])
    orphan = raw.load_id
    raw.load_number += 1  # load 3, the next sync: the extractor drops load 2's rows, then loads and completes
    assert drop_incomplete_loads(con) == {"calls": 1, "associations": 1}
    raw.call("99000002", pending["contact_id"], now, owner=pending["owner_id"])
    assert rows(con, "SELECT count(*) AS n FROM hubspot.calls WHERE _dlt_load_id = ?", [orphan]) == [{"n": 0}]
    results = {r.model: r for r in build_marts(raw, now)}
    assert results["marts.speed_to_lead"].mode == "incremental"
    incremental = {m: table(con, m) for m in MARTS}
    build_marts(raw, now, full_refresh=True)
    for mart in MARTS:
        assert incremental[mart] == table(con, mart), mart
    con.close()


