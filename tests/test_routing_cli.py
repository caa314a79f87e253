"""``handoff routing backtest`` on the fixture world's published copy and ``handoff routing test`` on its
snapshot; expected routes worked out by hand from the default policy (see comments)."""

from __future__ import annotations

import json

import pytest

from pipeline.cli import main
from tests.fixtures.enforcement import build_snapshot


def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    try:
        main(list(args))
        code = 0
    except SystemExit as exit_:
        code = exit_.code or 0
    out, err = capsys.readouterr()
    return code, out, err


def test_backtest_replays_history_and_reports_load_and_difference(world, capsys):
    code, out, _ = run_cli(capsys, "routing", "backtest", "--json")
    assert code == 0
    result = json.loads(out)
    assert result["episodes"] == 11
    # each MQL routed at its own mql_at as a new lead, open until its real first touch (ties: fewer new leads
    # today, then longest since the last lead, then owner id):
    # 6 -> 101 (inbound, all free); 2 -> 201 (EMEA); 8 -> 202 (201 holds 2); 9 -> 301 (Lend Bank's owner is
    # archived: Fintech); at 12:00, 1 -> 103 (Acme's owner), 10 -> 102 (never had one), 4 -> 101, 5 -> 101,
    # 7 -> 102; 11 (12:30) -> 103 (4 was touched at 12:20; 103 had fewer today); 3 (14:30) -> 101
    assert {r["rule"]: r["leads"] for r in result["by_rule"]} == {
        "inbound": 7, "emea_territory": 2, "fintech_vertical": 1, "account_owner": 1}
    assert {r["owner_id"]: (r["backtest"], r["actual"], r["difference"]) for r in result["by_rep"]} == {
        "101": (4, 5, -1), "102": (2, 4, -2), "103": (2, 0, 2), "201": (1, 1, 0), "202": (1, 1, 0),
        "301": (1, 0, 1)}
    assert result["would_change_owner"] == 6  # contacts 1, 3, 5, 9, 10, 11
    assert result["no_owner_available"] == 0


def test_backtest_prints_tables(world, capsys):
    code, out, _ = run_cli(capsys, "routing", "backtest", "--since", "2026-11-02T00:00:00Z")
    assert code == 0
    assert "Replayed 9 MQL episodes (2026-11-02 .. 2026-11-02)" in out
    assert "Rule fired" in out and "Load per rep" in out
    assert "would have gone to a different owner" in out


def test_backtest_without_a_database_is_one_line(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("HANDOFF_DB", str(tmp_path / "none.duckdb"))
    code, _, err = run_cli(capsys, "routing", "backtest")
    assert code == 1
    assert err.strip() == (f"error: no database at {tmp_path / 'none.published.duckdb'}: run `handoff run` first "
                           "(or point HANDOFF_DB at your database)")


@pytest.fixture
def snapshot_file(tmp_path):
    path = tmp_path / "sample.json"
    path.write_text(json.dumps(build_snapshot()))
    return path


def test_routing_test_runs_sample_leads_through_the_rules(snapshot_file, capsys):
    code, out, _ = run_cli(capsys, "routing", "test", "--snapshot", str(snapshot_file), "--json")
    assert code == 0
    rows = {r["contact_id"]: r for r in json.loads(out)}
    assert len(rows) == 12
    assert (rows["1"]["owner_id"], rows["1"]["rule"]) == ("103", "account_owner")
    assert (rows["9"]["owner_id"], rows["9"]["rule"]) == ("301", "fintech_vertical")
    assert rows["9"]["owner_email"] == "finn@sandbox.example"
    # leads are routed in id order ("2" after "12"): the two German leads are spread over EMEA
    assert (rows["2"]["rule"], rows["2"]["owner_id"]) == ("emea_territory", "201")
    assert (rows["8"]["rule"], rows["8"]["owner_id"]) == ("emea_territory", "202")
    inactive = [c for c in rows["9"]["candidates"] if c["rule"] == "account_owner"]
    assert inactive[0]["why_not"] == "inactive in HubSpot"


def test_routing_test_as_reassignment_excludes_the_current_owner(snapshot_file, capsys):
    code, out, _ = run_cli(capsys, "routing", "test", "--snapshot", str(snapshot_file), "--json",
                           "--exclude-current-owner")
    rows = {r["contact_id"]: r for r in json.loads(out)}
    assert rows["2"]["owner_id"] == "202" and rows["8"]["owner_id"] == "201"  # each one's owner missed it
    code, out, _ = run_cli(capsys, "routing", "test", "--snapshot", str(snapshot_file))
    assert "Routing 12 sample leads" in out and "account_owner" in out


def test_routing_test_bad_inputs_are_one_line(tmp_path, capsys, snapshot_file):
    code, _, err = run_cli(capsys, "routing", "test", "--snapshot", str(tmp_path / "nope.json"))
    assert code == 1 and err.startswith("error: snapshot") and "no such file" in err
    bad = tmp_path / "bad.yaml"
    bad.write_text("routing: {rules: [{name: x, type: territory, team: EMEA}]}")
    code, _, err = run_cli(capsys, "routing", "test", "--snapshot", str(snapshot_file), "--policy", str(bad))
    assert code == 1
    assert err.strip() == f"error: policy {bad}: routing.rules.0: territory rule 'x' needs a list of countries (or regions)"
