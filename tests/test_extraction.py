"""Extraction through Dagster against the sandbox: equality, incremental changes, cursors in the destination,
twice in one process, and bad input as one line."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone


from hubspot_sandbox.portal import Portal
from hubspot_sandbox.ratelimit import RateLimits
from hubspot_sandbox.server import run_in_thread
from tests.fixtures.extraction import (
    build_portal,
    duplicates,
    extraction_resources,
    materialize_raw,
    mismatches,
    query,
)

def _requests(sandbox) -> dict[str, int]:
    return dict(sandbox.stats.snapshot()["requests"])


def _delta(after: dict[str, int], before: dict[str, int]) -> dict[str, int]:
    return {k: v - before.get(k, 0) for k, v in after.items() if v - before.get(k, 0)}


def _materializations(result) -> dict[str, dict]:
    return {ev.asset_key.path[-1]: ev.materialization.metadata for ev in result.get_asset_materialization_events()}


def test_initial_sync_equals_portal_and_asset_metadata(extraction_sandbox, tmp_path):
    db = tmp_path / "raw.duckdb"
    result = materialize_raw(extraction_resources(extraction_sandbox.base_url, extraction_sandbox.token, db))
    assert result.success
    assert mismatches(db, extraction_sandbox.portal) == []
    assert set(duplicates(db).values()) == {0}

    metadata = _materializations(result)
    assert set(metadata) == {"owners", "owner_teams", "account", "contacts", "companies", "deals", "calls", "emails",
                             "meetings", "notes", "tasks", "communications", "contact_property_history",
                             "associations", "property_options"}
    contacts = metadata["contacts"]
    assert contacts["extract_method"].value == "full"
    assert contacts["rows_inserted"].value == 120 and contacts["rows_in_table"].value == 120
    # the cursor is the newest contact modified date in the portal (fixture: the shared instant 2026-09-21T12:00Z)
    assert contacts["cursor_value"].value == "2026-09-21T12:00:00.000Z"
    calls_by_endpoint = contacts["api_calls_by_endpoint"].value
    assert calls_by_endpoint["GET /crm/objects/2026-09/contacts"] == 3  # 120 contacts, 50 per page with history
    assert "http_429_seen_run" in contacts and "run_duration_s" in contacts
    # every object has fewer than 100 links: all of them came inline with the listings, no v4 batch read
    assert metadata["associations"]["api_calls"].value == 0
    assert calls_by_endpoint["GET /crm/properties/2026-09/contacts"] == 1  # the property check, one call per type
    # the token never reaches metadata
    assert extraction_sandbox.token not in repr(result.get_asset_materialization_events())


def _mutate(portal: Portal) -> dict[str, str]:
    """New contacts, stage and owner changes, new engagements, an archive and a merge; returns ids used."""
    new_ids = [portal.create("contacts", {"email": f"new{i}@c1.example", "lifecyclestage": "lead",
                                          "hubspot_owner_id": "101"}, {"companies": ["1"]}) for i in range(5)]
    portal.update("contacts", new_ids[0], {"lifecyclestage": "marketingqualifiedlead"})
    portal.update("contacts", "3", {"lifecyclestage": "salesqualifiedlead", "hs_lead_status": "OPEN"})
    portal.update("contacts", "10", {"hubspot_owner_id": "102"})
    portal.update("contacts", "11", {"hubspot_owner_id": "103"})
    call = portal.create("calls", {"hs_timestamp": "2026-11-20T10:00:00.000Z", "hs_call_direction": "OUTBOUND",
                                   "hs_call_status": "NO_ANSWER", "hubspot_owner_id": "101"},
                         {"contacts": [new_ids[0]]})
    email = portal.create("emails", {"hs_timestamp": "2026-11-20T11:00:00.000Z", "hs_email_direction": "EMAIL",
                                     "hs_email_status": "SENT", "hubspot_owner_id": "102"}, {"contacts": ["3"]})
    portal.update("deals", "2", {"dealstage": "closedwon", "amount": "9999"})
    portal.archive("contacts", "20")
    portal.archive("companies", "2")
    portal.merge_contacts("4", "6")  # 6's engagements, deals and company move to 4
    portal.owners["101"]["teams"] = [{"id": "8", "name": "AMER", "primary": True}]
    return {"new_contact": new_ids[0], "call": call, "email": email}


def test_mutations_then_incremental_sync_equals_portal_and_costs_do_not_grow_with_size(tmp_path):
    costs = {}
    for contacts in (60, 240):
        portal = Portal.from_snapshot(build_portal(contacts=contacts))
        with run_in_thread(portal, limits=RateLimits.unlimited()) as sandbox:
            db = tmp_path / f"raw{contacts}.duckdb"
            resources = extraction_resources(sandbox.base_url, sandbox.token, db)
            assert materialize_raw(resources).success
            first = _requests(sandbox)
            _mutate(portal)
            result = materialize_raw(resources)  # the second materialization in this process
            assert result.success
            costs[contacts] = _delta(_requests(sandbox), first)
            metadata = _materializations(result)
            assert metadata["contacts"]["extract_method"].value == "incremental"
            # reconcile marks the archived (and merged-away) records; then DuckDB equals the portal
            assert materialize_raw(resources, mode="reconcile").success
            assert mismatches(db, portal) == []
            assert set(duplicates(db).values()) == {0}
            merged = query(db, "SELECT merged_into_id, archived FROM hubspot.contacts WHERE id = '6'")
            assert merged == [("4", True)]
            assert query(db, "SELECT archived FROM hubspot.contacts WHERE id = '20'") == [(True,)]
    # the incremental run's API calls depend on the changes, not on the portal's size (association follow-ups of
    # the merge depend on which engagement types the merged contacts happen to have: at most one call apart)
    small, big = (dict(costs[n]) for n in (60, 240))
    assert abs(small.pop("associations.batch_read") - big.pop("associations.batch_read")) <= 2
    assert small == big
    total = sum(costs[60].values())
    assert total <= 45, costs[60]
    assert costs[60]["contacts.batch_read"] == 1  # 9 changed contacts: one batch read with history
    assert "contacts.list" not in costs[60]


def test_no_change_sync_costs_one_search_per_type(extraction_sandbox, tmp_path):
    db = tmp_path / "raw.duckdb"
    resources = extraction_resources(extraction_sandbox.base_url, extraction_sandbox.token, db)
    assert materialize_raw(resources).success
    before = _requests(extraction_sandbox)
    result = materialize_raw(resources)
    cost = _delta(_requests(extraction_sandbox), before)
    assert cost == {"account.details": 1, "owners.list": 2, "contacts.property": 1, "contacts.search": 1, "companies.search": 1,
                    "deals.search": 1, "calls.search": 1, "emails.search": 1, "meetings.search": 1,
                    "notes.search": 1, "tasks.search": 1, "communications.search": 1}
    assert _materializations(result)["contacts"]["unchanged_skipped"].value >= 1


def test_more_than_10000_changes_in_one_window(tmp_path):
    frozen = datetime(2026, 11, 1, 9, 30, tzinfo=timezone.utc)
    portal = Portal.from_snapshot(build_portal(contacts=40), clock=lambda: frozen)
    with run_in_thread(portal, limits=RateLimits.unlimited()) as sandbox:
        db = tmp_path / "raw.duckdb"
        resources = extraction_resources(sandbox.base_url, sandbox.token, db)
        assert materialize_raw(resources).success
        # 10,080 new contacts in one search window: 9,600 a millisecond apart, 450 sharing one instant (more
        # than a search page: walked by id), 30 more a millisecond after that instant
        for i in range(9_600):
            portal.create("contacts", {"email": f"bulk{i}@import.example", "lifecyclestage": "subscriber"},
                          created_at=frozen + timedelta(milliseconds=i))
        shared = frozen + timedelta(seconds=20)
        for i in range(450):
            portal.create("contacts", {"email": f"tie{i}@import.example"}, created_at=shared)
        for i in range(30):
            portal.create("contacts", {"email": f"late{i}@import.example"},
                          created_at=shared + timedelta(milliseconds=1))
        before = _requests(sandbox)
        assert materialize_raw(resources).success
        cost = _delta(_requests(sandbox), before)
        assert query(db, "SELECT count(*) FROM hubspot.contacts") == [(40 + 10_080,)]
        assert mismatches(db, portal) == []
        assert set(duplicates(db).values()) == {0}
    # 10,080 changes: ~51 search pages of 200, 202 batch reads of 50 (history), 11 association batches of 1000
    assert cost["contacts.batch_read"] == 202
    assert 51 <= cost["contacts.search"] <= 60
    assert cost["associations.batch_read"] <= 11 + 6


def test_a_subset_run_reads_only_what_it_loads_and_keeps_the_cursor(extraction_sandbox, tmp_path):
    import dagster as dg

    db = tmp_path / "raw.duckdb"
    resources = extraction_resources(extraction_sandbox.base_url, extraction_sandbox.token, db)
    result = materialize_raw(resources, selection=dg.AssetSelection.assets(dg.AssetKey(["hubspot", "contacts"])))
    assert result.success
    assert set(_materializations(result)) == {"contacts"}
    cost = _requests(extraction_sandbox)
    assert set(cost) == {"contacts.list", "contacts.properties"}  # the listing and its property check, nothing else
    assert query(db, "SELECT count(*) FROM hubspot.contacts") == [(120,)]
    # history and associations were not loaded, so the contacts cursor did not move: the full run lists again
    full = materialize_raw(resources)
    assert _materializations(full)["contacts"]["extract_method"].value == "full"
    assert mismatches(db, extraction_sandbox.portal) == []


def test_reconcile_only_marks_deletions_and_leaves_the_cursor(extraction_sandbox, tmp_path):
    db = tmp_path / "raw.duckdb"
    resources = extraction_resources(extraction_sandbox.base_url, extraction_sandbox.token, db)
    assert materialize_raw(resources).success
    portal = extraction_sandbox.portal
    portal.archive("contacts", "8")
    portal.archive("calls", "1")
    portal.update("contacts", "9", {"jobtitle": "CEO"})
    before = _requests(extraction_sandbox)
    result = materialize_raw(resources, mode="reconcile_only")
    assert result.success
    cost = _delta(_requests(extraction_sandbox), before)
    assert not any(name.endswith(".search") for name in cost), cost  # no incremental reads
    assert cost["contacts.list"] == 1 and cost["calls.list"] == 1  # one archived page each
    assert query(db, "SELECT id FROM hubspot.contacts WHERE archived ORDER BY id") == [("8",)]
    assert query(db, "SELECT id FROM hubspot.calls WHERE archived") == [("1",)]
    assert query(db, "SELECT jobtitle FROM hubspot.contacts WHERE id = '9'") != [("CEO",)]  # not synced
    # the next sync still finds the change: the cursor did not move
    assert materialize_raw(resources).success
    assert query(db, "SELECT jobtitle FROM hubspot.contacts WHERE id = '9'") == [("CEO",)]
    assert mismatches(db, portal) == []


def _failure_message(result) -> str:
    failures = result.get_step_failure_events()
    assert failures, "the run should have failed"
    error = failures[0].step_failure_data.error
    while error.cause is not None and "HubSpot" not in error.message:
        error = error.cause
    return error.message


def test_bad_input_through_dagster_is_one_line_each(tmp_path):
    snapshot = build_portal(contacts=20)
    # wrong token
    with run_in_thread(Portal.from_snapshot(snapshot), limits=RateLimits.unlimited()) as sandbox:
        resources = extraction_resources(sandbox.base_url, "pat-na1-not-the-token", tmp_path / "a.duckdb")
        result = materialize_raw(resources, raise_on_error=False)
        message = _failure_message(result)
        assert "401" in message and "HUBSPOT_ACCESS_TOKEN" in message
        assert "pat-na1-not-the-token" not in message
    # a property the portal does not have
    portal = Portal.from_snapshot(snapshot)
    portal.stores["contacts"].schema.discard("hs_lead_status")
    with run_in_thread(portal, limits=RateLimits.unlimited()) as sandbox:
        result = materialize_raw(extraction_resources(sandbox.base_url, sandbox.token, tmp_path / "b.duckdb"),
                                 raise_on_error=False)
        message = _failure_message(result)
        assert "no contacts property 'hs_lead_status'" in message
    # a missing scope
    scopes = {f"crm.objects.{t}.read" for t in ("contacts", "companies", "owners", "calls", "emails", "meetings",
                                                 "notes", "tasks", "communications")}
    with run_in_thread(Portal.from_snapshot(snapshot), limits=RateLimits.unlimited(), scopes=scopes) as sandbox:
        result = materialize_raw(extraction_resources(sandbox.base_url, sandbox.token, tmp_path / "c.duckdb"),
                                 raise_on_error=False)
        message = _failure_message(result)
        assert "403" in message and "crm.objects.deals.read" in message
    for text in (message,):
        first_line = text.strip().splitlines()[0]
        assert "HubSpot" in first_line


def test_reconcile_job_is_defined():
    from assets.hubspot_raw import defs, hubspot_raw_assets

    jobs = {job.name: job for job in defs.jobs}
    assert "hubspot_reconcile" in jobs
    specs = {spec.key.to_user_string(): spec for spec in hubspot_raw_assets.specs}
    assert "hubspot/contacts" in specs and specs["hubspot/contacts"].group_name == "hubspot_raw"
    assert all(not spec.deps for spec in specs.values())  # no phantom upstream source assets


def test_a_call_whose_contact_links_are_all_removed_leaves_a_marker_row(tmp_path):
    """The re-read call has no contact left: its old row is replaced by a marker (to_id '') under the new load,
    so incremental models see which load cleared the link (docs/contracts.md)."""
    portal = Portal.from_snapshot(build_portal(contacts=30))
    with run_in_thread(portal, limits=RateLimits.unlimited()) as sandbox:
        db = tmp_path / "raw.duckdb"
        resources = extraction_resources(sandbox.base_url, sandbox.token, db)
        assert materialize_raw(resources).success
        call, contact = query(db, """
            SELECT from_id, min(to_id) FROM hubspot.associations WHERE from_type = 'calls' AND to_type = 'contacts'
            GROUP BY from_id HAVING count(*) = 1 ORDER BY from_id LIMIT 1""")[0]
        with portal.lock:
            portal._unlink("calls", call, "contacts", contact)
        portal.update("calls", call, {"hs_call_title": "logged on the wrong contact"})  # edited: the sync re-reads it
        assert materialize_raw(resources).success
        newest = query(db, "SELECT max(load_id) FROM hubspot._dlt_loads")[0][0]
        assert query(db, "SELECT to_id, _dlt_load_id FROM hubspot.associations WHERE from_type = 'calls' "
                         "AND from_id = ? AND to_type = 'contacts'", [call]) == [("", newest)]
        assert mismatches(db, portal) == []


def test_a_merged_away_contact_is_stamped_with_the_load_that_revealed_the_merge(tmp_path):
    """set_merged_into changes a row loaded earlier: it takes the newest load id, so the incremental marts
    (which find changed contacts by load id) rebuild the merged-away contact too."""
    import duckdb

    from pipeline.hubspot.post_load import create_missing_tables, set_merged_into

    con = duckdb.connect(str(tmp_path / "raw.duckdb"))
    create_missing_tables(con)
    con.execute("CREATE TABLE hubspot._dlt_loads (load_id VARCHAR, schema_name VARCHAR, status BIGINT)")
    con.execute("INSERT INTO hubspot._dlt_loads VALUES ('1700001000.1', 'hubspot', 0), ('1700002000.1', 'hubspot', 0)")
    con.execute("INSERT INTO hubspot.contacts (id, archived, hs_merged_object_ids, _dlt_load_id, _dlt_id) VALUES "
                "('6', false, NULL, '1700001000.1', 'a'), ('7', false, NULL, '1700001000.1', 'b'), "
                "('4', false, '6', '1700002000.1', 'c')")
    assert set_merged_into(con) == 1
    assert query_rows(con) == [("4", None, "1700002000.1"), ("6", "4", "1700002000.1"), ("7", None, "1700001000.1")]
    assert set_merged_into(con) == 0  # already set: nothing changes, no load id moves
    con.close()


def query_rows(con):
    return con.execute("SELECT id, merged_into_id, _dlt_load_id FROM hubspot.contacts ORDER BY id").fetchall()


def test_rows_of_loads_that_never_completed_are_dropped(tmp_path):
    import duckdb

    from pipeline.hubspot.post_load import create_missing_tables, drop_incomplete_loads

    con = duckdb.connect(str(tmp_path / "raw.duckdb"))
    create_missing_tables(con)
    assert drop_incomplete_loads(con) == {}  # no load completed yet: dlt has no _dlt_loads table
    con.execute("CREATE TABLE hubspot._dlt_loads (load_id VARCHAR, schema_name VARCHAR, status BIGINT)")
    con.execute("INSERT INTO hubspot._dlt_loads VALUES ('1700001000.1', 'hubspot', 0), ('1700003000.1', 'hubspot', 0)")
    con.execute("INSERT INTO hubspot.contacts (id, _dlt_load_id, _dlt_id) VALUES ('1', '1700001000.1', 'a'), "
                "('2', '1700002000.1', 'b'), ('3', '1700003000.1', 'c'), ('4', '1700004000.1', 'd')")
    con.execute("INSERT INTO hubspot.calls (id, _dlt_load_id, _dlt_id) VALUES ('9', '1700002000.1', 'e')")
    assert drop_incomplete_loads(con) == {"contacts": 2, "calls": 1}
    assert con.execute("SELECT id FROM hubspot.contacts ORDER BY id").fetchall() == [("1",), ("3",)]
    con.close()
