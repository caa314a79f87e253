"""Policy ``lifecycle_stages`` / ``touches`` (contract 4) and the check of the policy's stages against the
portal's ``lifecyclestage`` options (docs/policy.md). Expected values are stated by hand."""

from __future__ import annotations

import duckdb
import pytest

from pipeline.errors import ConfigError
from pipeline.lifecycle import check_portal_stages, describe_stages, missing_stages_message, options_from_property
from pipeline.policy import load_policy, parse_policy

# the Properties API's lifecyclestage options of a portal that renamed MQL into a custom stage
PORTAL_OPTIONS = [
    {"label": "Subscriber", "value": "subscriber", "displayOrder": 0, "hidden": False},
    {"label": "Lead", "value": "lead", "displayOrder": 1, "hidden": False},
    {"label": "Marketing Qualified", "value": "1029384", "displayOrder": 2, "hidden": False},
    {"label": "Sales Qualified Lead", "value": "salesqualifiedlead", "displayOrder": 3, "hidden": False},
    {"label": "Opportunity", "value": "opportunity", "displayOrder": 4, "hidden": False},
    {"label": "Customer", "value": "customer", "displayOrder": 5, "hidden": False},
    {"label": "Evangelist", "value": "evangelist", "displayOrder": 6, "hidden": True},
]
LISTING = ("Subscriber -> subscriber, Lead -> lead, Marketing Qualified -> 1029384, "
           "Sales Qualified Lead -> salesqualifiedlead, Opportunity -> opportunity, Customer -> customer, "
           "Evangelist -> evangelist (hidden)")


def test_defaults_are_hubspots_standard_stages_and_canceled_meetings():
    policy = load_policy()
    stages = policy.lifecycle_stages
    assert (stages.mql, stages.sql, stages.opportunity, stages.customer) == (
        ["marketingqualifiedlead"], ["salesqualifiedlead"], ["opportunity"], ["customer", "evangelist"])
    assert policy.touches.meeting_outcomes_excluded == ["CANCELED"]
    assert stages.role_of("evangelist") == "customer" and stages.role_of("lead") is None
    assert stages.is_custom_unroled("1029384") and not stages.is_custom_unroled("lead")
    assert not stages.is_custom_unroled("") and not stages.is_custom_unroled("marketingqualifiedlead")


@pytest.mark.parametrize(("text", "expected"), [
    ("lifecycle_stages: {mql: []}",
     "policy p.yaml: lifecycle_stages.mql: needs at least one lifecycle stage (an internal value such as "
     "marketingqualifiedlead)"),
    ("lifecycle_stages: {sql: [marketingqualifiedlead]}",
     "policy p.yaml: lifecycle_stages: stage 'marketingqualifiedlead' is listed under both mql and sql; "
     "a stage plays one role"),
    ("lifecycle_stages: {customer: ['']}",
     "policy p.yaml: lifecycle_stages.customer: a lifecycle stage may not be empty (the empty value means the "
     "stage was cleared)"),
    ("lifecycle_stages: {lead: [lead]}", "policy p.yaml: lifecycle_stages.lead: Extra inputs are not permitted"),
    ("touches: {meeting_outcomes_excluded: ['']}",
     "policy p.yaml: touches.meeting_outcomes_excluded: an excluded meeting outcome may not be empty"),
])
def test_bad_stage_settings_are_one_line_errors(text, expected):
    with pytest.raises(ConfigError) as info:
        parse_policy(text, "p.yaml")
    assert str(info.value) == expected


def test_custom_stages_and_outcomes_parse():
    policy = parse_policy("lifecycle_stages: {mql: ['1029384', marketingqualifiedlead]}\n"
                          "touches: {meeting_outcomes_excluded: [canceled, No_Show]}\n")
    assert policy.lifecycle_stages.mql == ["1029384", "marketingqualifiedlead"]
    assert policy.lifecycle_stages.sql == ["salesqualifiedlead"]  # other roles keep their defaults
    assert policy.touches.meeting_outcomes_excluded == ["CANCELED", "NO_SHOW"]
    assert policy.lifecycle_stages.role_of("1029384") == "mql"


def test_a_missing_stage_is_one_line_with_the_key_and_the_portals_stages():
    message = missing_stages_message(load_policy().lifecycle_stages, PORTAL_OPTIONS, "policy p.yaml")
    assert message == (
        "policy p.yaml: lifecycle_stages.mql: the portal has no lifecycle stage 'marketingqualifiedlead'; set "
        "lifecycle_stages.mql to the portal's internal values (label -> internal value): " + LISTING)
    assert "\n" not in message


def test_several_missing_stages_name_each_key():
    policy = parse_policy("lifecycle_stages: {sql: ['555'], opportunity: ['777']}")
    options = [o for o in PORTAL_OPTIONS if o["value"] != "1029384"] + [
        {"label": "Marketing Qualified Lead", "value": "marketingqualifiedlead", "displayOrder": 2}]
    message = missing_stages_message(policy.lifecycle_stages, options, "policy p.yaml")
    assert message.startswith("policy p.yaml: lifecycle_stages.sql: the portal has no lifecycle stages "
                              "'555' (lifecycle_stages.sql), '777' (lifecycle_stages.opportunity); set "
                              "lifecycle_stages.sql and lifecycle_stages.opportunity to the portal's internal values")


def test_a_policy_naming_the_custom_stage_passes():
    policy = parse_policy("lifecycle_stages: {mql: ['1029384']}")
    assert missing_stages_message(policy.lifecycle_stages, PORTAL_OPTIONS) is None
    # hidden options are still stages of the portal
    assert missing_stages_message(parse_policy("lifecycle_stages: {mql: ['1029384'], customer: [evangelist]}")
                                  .lifecycle_stages, PORTAL_OPTIONS) is None


def test_options_come_straight_from_a_properties_api_definition():
    definition = {"name": "lifecyclestage", "label": "Lifecycle Stage", "type": "enumeration",
                  "options": list(reversed(PORTAL_OPTIONS))}
    assert describe_stages(options_from_property(definition)) == LISTING  # display order, not file order


def _options_db(rows: list[tuple]) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("CREATE SCHEMA hubspot")
    con.execute("CREATE TABLE hubspot.property_options (object_type VARCHAR, property_name VARCHAR, value VARCHAR, "
                "label VARCHAR, display_order BIGINT, hidden BOOLEAN)")
    con.executemany("INSERT INTO hubspot.property_options VALUES (?, ?, ?, ?, ?, ?)", rows)
    return con


def test_the_check_reads_the_raw_property_options_table():
    rows = [("contacts", "lifecyclestage", o["value"], o["label"], o["displayOrder"], o["hidden"])
            for o in PORTAL_OPTIONS]
    rows.append(("deals", "dealstage", "marketingqualifiedlead", "not a contact stage", 0, False))
    con = _options_db(rows)
    with pytest.raises(ConfigError) as info:
        check_portal_stages(con, load_policy(), "policy p.yaml")
    assert str(info.value).startswith("policy p.yaml: lifecycle_stages.mql: the portal has no lifecycle stage "
                                      "'marketingqualifiedlead'")
    assert str(info.value).endswith(LISTING)
    ok = check_portal_stages(con, parse_policy("lifecycle_stages: {mql: ['1029384']}"), "policy p.yaml")
    assert ok == {"checked": True, "stages": 7, "portal_stages": LISTING}


def test_before_the_options_are_synced_the_check_does_not_block():
    con = duckdb.connect()
    assert check_portal_stages(con, load_policy()) == {"checked": False, "stages": 0, "portal_stages": ""}


def _portal_options(db, options) -> None:
    with duckdb.connect(str(db)) as con:
        con.execute("CREATE SCHEMA IF NOT EXISTS hubspot")
        con.execute("CREATE TABLE hubspot.property_options (object_type VARCHAR, property_name VARCHAR, "
                    "value VARCHAR, label VARCHAR, display_order BIGINT, hidden BOOLEAN)")
        con.executemany("INSERT INTO hubspot.property_options VALUES ('contacts', 'lifecyclestage', ?, ?, ?, ?)",
                        options)


def test_the_dagster_check_blocks_the_marts_and_speaks_one_line(tmp_path):
    import dagster as dg

    from assets.lifecycle_check import LIFECYCLE_CHECK, lifecycle_check_result
    from pipeline.definitions import defs
    from pipeline.resources import PolicyResource

    graph = defs.resolve_asset_graph()
    key = dg.AssetCheckKey(dg.AssetKey(["staging", "policy"]), "lifecycle_stages_exist_in_portal")
    assert key in graph.asset_check_keys and graph.get_check_spec(key).blocking is True
    assert dg.AssetKey(["hubspot", "contacts"]) in {d.asset_key for d in LIFECYCLE_CHECK.additional_deps}

    db = tmp_path / "h.duckdb"
    _portal_options(db, [(o["value"], o["label"], o["displayOrder"], o["hidden"]) for o in PORTAL_OPTIONS])
    with duckdb.connect(str(db)) as con:
        with pytest.raises(ConfigError, match=r"lifecycle_stages\.mql: the portal has no lifecycle stage"):
            lifecycle_check_result(con, PolicyResource(path=""))
        custom = tmp_path / "custom.yaml"
        custom.write_text("lifecycle_stages: {mql: ['1029384']}\n")
        result = lifecycle_check_result(con, PolicyResource(path=str(custom)))
    assert result.passed and result.metadata["portal_stages"].value == LISTING


def test_a_failing_stage_check_stops_the_run_before_any_model(raw_portal):
    """Executed: the models' real step on a portal whose only stage is Lead: staging.policy is written and
    materialized, then the check fails with one line and dbt never runs (no staging view, no mart)."""
    from assets.models import materialize_models
    from pipeline.run_progress import root_cause

    raw_portal.contact("c1", lifecycle=[("2024-03-01T00:00:00Z", "lead")])
    raw_portal.write("property_options", object_type="contacts", property_name="lifecyclestage", value="lead",
                     label="Lead", display_order=1, hidden=False)
    raw_portal.complete_load()
    db = raw_portal.con.path
    raw_portal.con.release()
    result = materialize_models(db)
    assert not result.success
    done = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    assert done == {"staging/policy"}
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    message = root_cause(failure.step_failure_data.error)
    assert message.startswith("policy ") and "\n" not in message
    assert ("default_policy.yaml: lifecycle_stages.mql: the portal has no lifecycle stages 'marketingqualifiedlead' "
            "(lifecycle_stages.mql), 'salesqualifiedlead' (lifecycle_stages.sql)") in message
    assert message.endswith("to the portal's internal values (label -> internal value): Lead -> lead")
    con = duckdb.connect(db, read_only=True)
    built = {tuple(r) for r in con.execute("SELECT schema_name, table_name FROM duckdb_tables() UNION "
                                           "SELECT schema_name, view_name FROM duckdb_views() WHERE NOT internal").fetchall()}
    con.close()
    assert {(schema, name) for schema, name in built if schema != "hubspot"} == {("staging", "policy")}


# HubSpot's standard lifecycle stages, internal value and default label, in its default display order (DOMAIN.md
# "HubSpot facts"; HubSpot's knowledge base "Use lifecycle stages"): stated by hand, the truth the one list is held to
HUBSPOT_STANDARD_STAGES = [
    ("subscriber", "Subscriber"), ("lead", "Lead"), ("marketingqualifiedlead", "Marketing Qualified Lead"),
    ("salesqualifiedlead", "Sales Qualified Lead"), ("opportunity", "Opportunity"), ("customer", "Customer"),
    ("evangelist", "Evangelist"), ("other", "Other"),
]


def test_one_list_of_standard_stages_is_what_the_sandbox_serves(hubspot_client):
    """pipeline/policy.py spells the standard stages once; the sandbox's Properties API, the generator's portals
    and the stage-date properties are built from it."""
    from hubspot_sandbox import gen_stages, stage_dates

    from pipeline.policy import STANDARD_LIFECYCLE_STAGES

    assert list(STANDARD_LIFECYCLE_STAGES) == [value for value, _ in HUBSPOT_STANDARD_STAGES]
    assert stage_dates.STANDARD_STAGES is STANDARD_LIFECYCLE_STAGES
    served = hubspot_client.crm.properties.core_api.get_by_name("contacts", "lifecyclestage")
    assert [(o.value, o.label, o.display_order) for o in served.options] == [
        (value, label, order) for order, (value, label) in enumerate(HUBSPOT_STANDARD_STAGES)]
    standard = gen_stages.lifecyclestage_definition(custom=False)["options"]
    assert [(o["value"], o["label"]) for o in standard] == HUBSPOT_STANDARD_STAGES
    # a custom-stage portal keeps the standard stages in HubSpot's order, its three custom ones placed among them
    custom = [(o["value"], o["label"]) for o in gen_stages.lifecyclestage_definition(custom=True)["options"]]
    assert [entry for entry in custom if entry[0] in STANDARD_LIFECYCLE_STAGES] == HUBSPOT_STANDARD_STAGES
    assert custom[2:6] == [(gen_stages.NURTURING, "Nurturing"), (gen_stages.ENGAGED, "Engaged"),
                           ("marketingqualifiedlead", "Marketing Qualified Lead"), (gen_stages.WORKING, "Working")]
