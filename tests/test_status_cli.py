"""`handoff status`: overdue and at-risk MQLs now, by rep, against the hand-made database (tests/fixtures/report_db.py)."""

from __future__ import annotations

import json
import os

import pytest
from click.testing import CliRunner

from pipeline.cli import cli, main
from pipeline.report.status import classify, format_minutes
from tests.fixtures.report_db import NOW, build_db


@pytest.fixture
def published(tmp_path, monkeypatch):
    monkeypatch.setenv("HANDOFF_NOW", NOW)
    monkeypatch.setenv("COLUMNS", "200")
    return build_db(tmp_path / "handoff.published.duckdb")


def run(*args: str):
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_status_json_lists_overdue_and_at_risk_by_rep(published):
    data = json.loads(run("status", "--json"))
    assert data["now"] == "2026-11-02T15:00:00+00:00"
    assert data["data_as_of"] == "2026-11-02T14:55:00+00:00"
    # contact 5 is on track (hidden); 6 is older than the 7-day lookback; 8 reached SQL; 9 left the MQL stage;
    # 1, 2 and 7 were touched
    assert data["totals"] == {"overdue": 1, "at_risk": 1, "on_track": 1}
    assert data["older_untouched_not_shown"] == 1
    assert data["reps"] == [
        {"owner_id": "101", "owner": "Ada Lovelace", "team": "EMEA", "overdue": 1, "at_risk": 0, "on_track": 0,
         "episodes": [{"mql_id": "4:1793624400000", "contact_id": "4", "mql_type": "demo_request",
                       "state": "overdue", "mql_at": "2026-11-02T13:00:00+00:00",
                       "sla_due_at": "2026-11-02T14:00:00+00:00", "minutes_left": -60.0,
                       "ladder": "manager_escalation: done",
                       "url": "https://app.hubspot.com/contacts/4242/record/0-1/4"}]},
        {"owner_id": "102", "owner": "Bob Stone", "team": "North America", "overdue": 0, "at_risk": 1,
         "on_track": 0,
         "episodes": [{"mql_id": "3:1793629800000", "contact_id": "3", "mql_type": "demo_request",
                       "state": "at_risk", "mql_at": "2026-11-02T14:30:00+00:00",
                       "sla_due_at": "2026-11-02T15:30:00+00:00", "minutes_left": 30.0, "ladder": None,
                       "url": "https://app.hubspot.com/contacts/4242/record/0-1/3"}]},
    ]


def test_status_all_includes_on_track_and_follows_the_clock(published, monkeypatch):
    data = json.loads(run("status", "--json", "--all"))
    assert [(r["owner"], [e["state"] for e in r["episodes"]]) for r in data["reps"]] == [
        ("Ada Lovelace", ["overdue"]), ("Bob Stone", ["at_risk"]), ("Cy Young", ["on_track"])]
    assert data["reps"][2]["episodes"][0]["minutes_left"] == 1260.0
    # 45 minutes later contact 3's demo request is overdue too
    monkeypatch.setenv("HANDOFF_NOW", "2026-11-02T15:45:00Z")
    later = json.loads(run("status", "--json"))
    assert later["totals"] == {"overdue": 2, "at_risk": 0, "on_track": 1}
    assert [(e["mql_id"], e["minutes_left"]) for r in later["reps"] for e in r["episodes"]] == [
        ("4:1793624400000", -105.0), ("3:1793629800000", -15.0)]


def test_status_table_for_a_terminal(published):
    out = run("status")
    assert "MQLs waiting for a first touch at 2026-11-02 15:00 UTC (data as of 2026-11-02 14:55)" in out
    lines = [line for line in out.splitlines() if "1793" in line]
    assert len(lines) == 2
    assert "Ada Lovelace" in lines[0] and "overdue 1h 0m" in lines[0] and "4:1793624400000" in lines[0]
    assert "manager_escalation: done" in lines[0]
    assert "Bob Stone" in lines[1] and "30m left" in lines[1] and "3:1793629800000" in lines[1]
    assert "1 overdue, 1 at risk, 1 on track (--all lists them)" in out
    assert "1 older untouched MQLs are not listed" in out


def _render(published, width: int, *args: str) -> list[str]:
    """`handoff status`'s terminal output on a terminal ``width`` columns wide (rich Console(width=...))."""
    from rich.console import Console

    from pipeline.report.status import print_status

    data = json.loads(run("status", "--json", *args))
    console = Console(width=width, record=True, highlight=False, file=open(os.devnull, "w"))
    print_status(console, data)
    return console.export_text().splitlines()


def _header(lines: list[str]) -> list[str]:
    return [cell.strip() for cell in next(line for line in lines if "rep" in line and "┃" in line).split("┃")[1:-1]]


def test_status_fits_80_columns(published):
    lines = _render(published, 80, "--all")
    assert max(len(line) for line in lines) <= 80
    # what matters to act: who, how urgent, and the id `handoff explain` takes; the rest is named as hidden
    assert _header(lines) == ["rep", "state", "time left", "type", "mql_id", "escalation"]
    rows = [[cell.strip() for cell in line.split("│")[1:-1]] for line in lines if "│" in line]
    assert rows == [
        ["Ada", "overdue", "overdue 1h 0m", "demo", "4:1793624400000", "manager_es"],
        ["Lovelace", "", "", "", "", "calation:"],
        ["", "", "", "", "", "done"],
        ["Bob Stone", "at risk", "30m left", "demo", "3:1793629800000", ""],
        ["Cy Young", "on track", "21h 0m left", "other", "5:1793620800000", ""],
    ]
    text = " ".join(lines)
    assert "not shown at this width: team, due (UTC), contact (--json has everything)" in text
    assert "1 overdue, 1 at risk, 1 on track; MQLs of the last 7 days with no touch yet" in text


def test_status_shows_every_column_at_160(published):
    lines = _render(published, 160, "--all")
    assert max(len(line) for line in lines) <= 160
    assert _header(lines) == ["rep", "team", "state", "time left", "type", "due (UTC)", "mql_id", "contact",
                              "escalation"]
    rows = [[cell.strip() for cell in line.split("│")[1:-1]] for line in lines if "│" in line]
    assert rows == [
        ["Ada Lovelace", "EMEA", "overdue", "overdue 1h 0m", "demo", "2026-11-02 14:00", "4:1793624400000", "4",
         "manager_escalation: done"],
        ["Bob Stone", "North America", "at risk", "30m left", "demo", "2026-11-02 15:30", "3:1793629800000", "3", ""],
        ["Cy Young", "North America", "on track", "21h 0m left", "other", "2026-11-03 12:00", "5:1793620800000",
         "5", ""],
    ]
    assert "contact records: https://app.hubspot.com/contacts/4242/record/0-1/<contact> (links in --json)" in lines
    assert "not shown" not in " ".join(lines)


def test_status_sections_are_separate_functions():
    # other parts of the product append a section (a function of console and data) to STATUS_SECTIONS
    from pipeline.report.status import STATUS_SECTIONS, episodes_section, totals_section

    assert STATUS_SECTIONS[:2] == [episodes_section, totals_section]


def test_status_without_a_database_is_one_line(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["status"])
    assert exit_info.value.code == 1
    err = capsys.readouterr().err
    assert err == f"error: no database at {tmp_path / 'handoff.published.duckdb'}: run `handoff run` first " \
                  "(or point HANDOFF_DB at your database)\n"


def test_status_on_a_database_without_marts_is_one_line(tmp_path, capsys):
    import duckdb

    duckdb.connect(str(tmp_path / "handoff.published.duckdb")).close()
    with pytest.raises(SystemExit):
        main(["status", "--json"])
    err = capsys.readouterr().err
    assert err.startswith("error: marts.speed_to_lead is missing from ") and err.endswith(
        "run `handoff run` first to build the marts\n")


@pytest.mark.parametrize(("left", "sla", "state"), [(-0.1, 60, "overdue"), (0, 60, "at_risk"), (30, 60, "at_risk"),
                                                    (30.1, 60, "on_track"), (719, 1440, "at_risk")])
def test_classify_boundaries(left, sla, state):
    assert classify(left, sla, 0.5) == state


def test_format_minutes():
    assert format_minutes(-60) == "overdue 1h 0m"
    assert format_minutes(30) == "30m left"
    assert format_minutes(1500.4) == "1d 1h 0m left"


def test_status_on_a_locked_database_names_the_holder(published, capsys):
    """Another process holding the file read-write (e.g. `duckdb` without -readonly): one line with its pid."""
    import subprocess
    import sys

    holder = subprocess.Popen(
        [sys.executable, "-c", f"import duckdb, sys, time; c = duckdb.connect({str(published)!r}); "
                               "print('ready', flush=True); time.sleep(60)"],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "ready"
        with pytest.raises(SystemExit):
            main(["status"])
        err = capsys.readouterr().err
        assert err == (f"error: {published} is locked by process {holder.pid}, which opened it read-write: close "
                       "that session (analysts: `handoff sql` opens the read-only copy), or retry when it has finished\n")
    finally:
        holder.kill()
        holder.wait()
