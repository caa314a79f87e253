"""Every marts.speed_to_lead column equals the generator's construction-time ground truth, for several seeds
and sizes; the funnel and impact counts too. Snapshots are loaded by a test-only loader (not the extractor)."""

from __future__ import annotations

import pytest

from pipeline.sandbox.generator import generate_portal
from pipeline.settings import parse_instant
from tests.fixtures.raw_tables import build_marts, rows, connect
from tests.fixtures.snapshot_loader import load_snapshot

TIMESTAMP_COLUMNS = ("mql_at", "sla_due_at", "first_touch_at", "sql_at", "opportunity_at", "customer_at", "assigned_at")


@pytest.fixture(scope="module", params=[(400, 1), (1200, 7), (2500, 42)], ids=lambda p: f"{p[0]}contacts-seed{p[1]}")
def generated(request, tmp_path_factory):
    import duckdb

    from tests.fixtures.raw_tables import RawPortal

    contacts, seed = request.param
    snapshot, truth = generate_portal(contacts, seed)
    con = connect(tmp_path_factory.mktemp("truth") / "raw.duckdb")
    portal = RawPortal(con)
    load_snapshot(portal, snapshot)
    build_marts(portal, truth["now"])
    yield con, truth
    con.close()


def test_every_speed_to_lead_column_equals_the_truth(generated):
    con, truth = generated
    got = {r["mql_id"]: r for r in rows(con, "SELECT * FROM marts.speed_to_lead")}
    expected = {e["mql_id"]: e for e in truth["episodes"]}
    assert sorted(got) == sorted(expected)
    assert len(expected) > 50
    compared = 0
    for mql_id, episode in expected.items():
        row = got[mql_id]
        for column, value in episode.items():
            if column not in row:
                assert column == "first_touch_id"  # the truth's own bookkeeping
                continue
            if column in TIMESTAMP_COLUMNS and value is not None:
                value = parse_instant(value)
            assert row[column] == value, f"{mql_id}.{column}: mart {row[column]!r} != truth {value!r}"
            compared += 1
        assert row["computed_at"] == parse_instant(truth["now"])
    assert compared >= 20 * len(expected)


def test_status_mix_is_rich_enough_to_mean_something(generated):
    _, truth = generated
    by_status = truth["counts"]["episodes_by_status"]
    assert all(by_status[s] > 0 for s in ("met", "breached", "overdue")), by_status
    assert truth["counts"]["re_mql_contacts"] > 0 and truth["counts"]["touched_by_other_rep_episodes"] > 0


def test_funnel_months_equal_the_truth(generated):
    con, truth = generated
    got = {str(r["period_start"])[:7]: r for r in rows(
        con, "SELECT * FROM marts.conversion_funnel WHERE period_type = 'month' AND mql_type = 'all' "
             "AND team = 'all' AND lead_source = 'all'")}
    for month in truth["funnel"]:
        row = got.get(month["month"], {})
        assert {"month": month["month"], "leads": row.get("leads") or 0, "mqls": row.get("mqls", 0),
                "sql": row.get("sqls", 0), "opportunity": row.get("opportunities", 0),
                "customer": row.get("customers", 0)} == month


def test_impact_buckets_equal_the_truth(generated):
    con, truth = generated
    got = {r["response_bucket"]: r for r in rows(
        con, "SELECT * FROM marts.speed_to_lead_impact WHERE mql_type = 'all'")}
    assert [b["bucket"] for b in truth["impact"]] == sorted(got, key=lambda b: got[b]["bucket_order"])
    for bucket in truth["impact"]:
        row = got[bucket["bucket"]]
        assert (row["episodes"], row["conversions"], row["opportunities"]) == (
            bucket["episodes"], bucket["sql"], bucket["opportunity"])
