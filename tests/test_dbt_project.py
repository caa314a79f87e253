"""The dbt project's SQL side of the portal contracts (docs/contracts.md 4-6), stated literally: booked meetings,
excluded meeting outcomes, custom lifecycle stages that neither end nor open an episode, the portal's stage
order, the primary company; and the project's own plumbing (raw columns stated once, dispatch macros)."""

from __future__ import annotations

import os
import re

from pipeline.modeling.raw_columns import RAW_COLUMNS, project_dir
from tests.fixtures.raw_tables import build_marts, rows, ts

NOW = "2024-03-06T14:00:00Z"
MQL = "2024-03-05T14:00:00Z"


def _mql_contact(portal, contact_id, *stages):
    portal.contact(contact_id, lifecycle=[("2024-03-01T00:00:00Z", "lead"), (MQL, "marketingqualifiedlead"), *stages],
                   owners=[("2024-03-01T00:00:00Z", "101")])


def test_portal_contracts_in_one_build(raw_portal):
    p = raw_portal
    p.owner("101", team="EMEA")
    # contract 5: booked 5 minutes after the MQL for next week -> a touch at booking; a canceled one never
    _mql_contact(p, "booked")
    p._engagement("meetings", "m1", "booked", "2024-03-12T15:00:00Z", "101", False,
                  hs_meeting_outcome="SCHEDULED", hs_createdate="2024-03-05T14:05:00Z")
    _mql_contact(p, "canceled")
    p._engagement("meetings", "m2", "canceled", "2024-03-05T15:00:00Z", "101", False,
                  hs_meeting_outcome="canceled", hs_createdate="2024-03-05T14:05:00Z")
    _mql_contact(p, "no-createdate")  # hs_createdate missing: hs_timestamp
    p._engagement("meetings", "m3", "no-createdate", "2024-03-05T16:00:00Z", "101", False, hs_meeting_outcome="COMPLETED")
    # contract 4: a custom stage (numeric internal value, in no role) between two MQL entries opens nothing new
    _mql_contact(p, "custom", ("2024-03-05T18:00:00Z", "1234567"), ("2024-03-05T19:00:00Z", "marketingqualifiedlead"),
                 ("2024-03-05T20:00:00Z", "salesqualifiedlead"))
    # ... while a cleared stage ('') counts as leaving: a second episode
    _mql_contact(p, "cleared", ("2024-03-05T18:00:00Z", ""), ("2024-03-05T19:00:00Z", "marketingqualifiedlead"))
    for order, (value, label) in enumerate([("lead", "Lead"), ("marketingqualifiedlead", "MQL"),
                                            ("1234567", "Nurture"), ("salesqualifiedlead", "SQL"),
                                            ("opportunity", "Opportunity"), ("customer", "Customer"),
                                            ("evangelist", "Evangelist")]):
        p.write("property_options", object_type="contacts", property_name="lifecyclestage", value=value, label=label,
                display_order=order, hidden=False)
    # contract 6: the primary company, else the lowest id numerically
    p.contact("with-primary")
    p.write("associations", from_type="contacts", from_id="with-primary", to_type="companies", to_id="20", is_primary=True)
    p.write("associations", from_type="contacts", from_id="with-primary", to_type="companies", to_id="3", is_primary=False)
    p.contact("no-primary")
    p.link("contacts", "no-primary", "companies", "10")
    p.link("contacts", "no-primary", "companies", "9")
    build_marts(raw_portal, NOW)
    con = p.con
    got = rows(con, "SELECT contact_id, mql_at, first_touch_at, first_touch_type, sla_status, attempts, sql_at "
                    "FROM marts.speed_to_lead ORDER BY contact_id, mql_at")
    at = ts(MQL)
    assert got == [
        {"contact_id": "booked", "mql_at": at, "first_touch_at": ts("2024-03-05T14:05:00Z"), "first_touch_type": "meeting",
         "sla_status": "met", "attempts": 1, "sql_at": None},
        {"contact_id": "canceled", "mql_at": at, "first_touch_at": None, "first_touch_type": None,
         "sla_status": "pending", "attempts": 0, "sql_at": None},
        {"contact_id": "cleared", "mql_at": at, "first_touch_at": None, "first_touch_type": None,
         "sla_status": "pending", "attempts": 0, "sql_at": None},
        {"contact_id": "cleared", "mql_at": ts("2024-03-05T19:00:00Z"), "first_touch_at": None, "first_touch_type": None,
         "sla_status": "pending", "attempts": 0, "sql_at": None},
        {"contact_id": "custom", "mql_at": at, "first_touch_at": None, "first_touch_type": None,
         "sla_status": "pending", "attempts": 0, "sql_at": ts("2024-03-05T20:00:00Z")},
        {"contact_id": "no-createdate", "mql_at": at, "first_touch_at": ts("2024-03-05T16:00:00Z"),
         "first_touch_type": "meeting", "sla_status": "met", "attempts": 1, "sql_at": None},
    ]
    assert rows(con, "SELECT value, stage_order, role, skipped FROM staging.lifecycle_stages ORDER BY stage_order NULLS LAST, value") == [
        {"value": "lead", "stage_order": 0, "role": None, "skipped": False},
        {"value": "marketingqualifiedlead", "stage_order": 1, "role": "mql", "skipped": False},
        {"value": "1234567", "stage_order": 2, "role": None, "skipped": True},
        {"value": "salesqualifiedlead", "stage_order": 3, "role": "sql", "skipped": False},
        {"value": "opportunity", "stage_order": 4, "role": "opportunity", "skipped": False},
        {"value": "customer", "stage_order": 5, "role": "customer", "skipped": False},
        {"value": "evangelist", "stage_order": 6, "role": "customer", "skipped": False},
    ]
    assert rows(con, "SELECT contact_id, company_id, has_primary FROM staging.contact_companies ORDER BY 1") == [
        {"contact_id": "no-primary", "company_id": "9", "has_primary": False},
        {"contact_id": "with-primary", "company_id": "20", "has_primary": True},
    ]


def test_raw_columns_are_stated_once_in_the_sources_yml():
    """pipeline/modeling/raw_columns.py reads models/sources.yml (the Python readers and the typed_source macro
    share one list); the columns added by the portal contracts are in it."""
    assert ("hs_createdate", "ts") in RAW_COLUMNS["meetings"]
    assert {("is_primary", "bool"), ("association_types", "text")} <= set(RAW_COLUMNS["associations"])
    assert [c for c, _ in RAW_COLUMNS["property_options"]] == ["object_type", "property_name", "value", "label",
                                                                "display_order", "hidden"]


def test_models_call_duckdb_only_functions_through_dispatch_macros():
    """A second adapter needs only macros: the models never name the DuckDB functions macros/cross_db.sql wraps."""
    macros = (project_dir() / "macros" / "cross_db.sql").read_text()
    wrapped = ["epoch_ms", "arg_min", "list_contains", "regexp_matches", "quantile_cont", "to_milliseconds",
               "to_minutes", "to_months", "make_timestamp", "generate_series", "timezone"]
    for name in wrapped:
        assert re.search(rf"macro duckdb__\w+\(.*?\)\s*%\}}[^%]*\b{name}\(", macros), name
    for model in (project_dir() / "models").rglob("*.sql"):
        sql = re.sub(r"\{\{.*?\}\}|--[^\n]*", "", model.read_text(), flags=re.S)
        for name in wrapped:
            assert not re.search(rf"\b{name}\(", sql), f"{model.name} calls {name}() directly"


def test_each_database_keeps_its_own_dbt_artifacts_beside_it(tmp_path):
    from pipeline.modeling.project import target_path

    assert target_path(str(tmp_path / "a.duckdb")) == tmp_path / "a.duckdb.dbt"
    assert target_path(str(tmp_path / "b.duckdb")) != target_path(str(tmp_path / "a.duckdb"))


def test_processes_loading_a_fresh_checkout_at_once_share_one_parse(tmp_path):
    """Processes that load the code location together (test workers, run workers a sensor launches at once,
    ``handoff run`` beside ``handoff dev``) each need the manifest: on a fresh clone (no sql/target) each parses. Four such processes all get the whole manifest (without
    the lock in pipeline.modeling.project, some read manifest.json while another was rewriting it: JSONDecodeError)."""
    import subprocess
    import sys

    root = project_dir().parent
    tracked = subprocess.run(["git", "ls-files", "pipeline", "assets", "sql"], cwd=root, capture_output=True,
                             text=True, check=True).stdout.split()
    for name in tracked:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes((root / name).read_bytes())
    assert not (tmp_path / "sql" / "target").exists()
    script = "from pipeline.modeling.project import manifest; print(len(manifest()['nodes']))"
    procs = [subprocess.Popen([sys.executable, "-c", script], cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(tmp_path)},
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(4)]
    outcomes = [(*p.communicate(timeout=300), p.returncode) for p in procs]
    assert [code for _, _, code in outcomes] == [0, 0, 0, 0], [err[-500:] for _, err, _ in outcomes]
    nodes = {out.strip() for out, _, _ in outcomes}
    assert len(nodes) == 1 and int(nodes.pop()) > 40


def test_the_manifest_is_read_without_a_lock_where_none_can_be_created(tmp_path):
    """An installed wheel in a read-only directory ships its manifest: no lock file can be made there, and the
    manifest is still read (nothing there can rewrite it)."""
    from pipeline.modeling.project import _exclusive

    entered = []
    with _exclusive(tmp_path / "read-only" / ".manifest.lock"):
        entered.append(True)
    assert entered == [True] and not (tmp_path / "read-only").exists()
