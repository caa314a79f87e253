"""`handoff sql`: SQL on the analysts' published copy, read-only, never blocking the pipeline.

One-query modes (table, --csv, --json, stdin) run against the hand-made database of tests/fixtures/report_db.py
with literal expected rows; the interactive session (Harlequin) is driven through tmux (a real terminal) while
the pipeline's publisher replaces the copy under it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from pipeline.cli import cli
from pipeline.publish import publish
from pipeline.settings import load_settings
from tests.fixtures.report_db import build_db

HANDOFF = Path(sys.executable).with_name("handoff")
FIRST_THREE = "SELECT mql_id, mql_at, sla_status, minutes_to_first_touch FROM marts.speed_to_lead ORDER BY mql_at LIMIT 3"


@pytest.fixture
def published(tmp_path) -> Path:
    """The fixture database at the published path the CLI resolves by default (HANDOFF_DB from conftest)."""
    path = load_settings().published_db_path
    assert path == tmp_path / "handoff.published.duckdb"
    return build_db(path)


def invoke(*args: str, stdin: str | None = None):
    return CliRunner().invoke(cli, ["sql", *args], input=stdin, catch_exceptions=False)


def test_csv_output_for_one_query(published):
    result = invoke("--csv", FIRST_THREE)
    assert result.exit_code == 0, result.output
    assert result.output == (
        "mql_id,mql_at,sla_status,minutes_to_first_touch\n"
        "6:1790812800000,2026-10-01T00:00:00+00:00,overdue,\n"
        "2:1793005200000,2026-10-26T09:00:00+00:00,breached,1620.0\n"
        "7:1793181600000,2026-10-28T10:00:00+00:00,met,30.0\n"
    )


def test_json_output_for_one_query(published):
    result = invoke("--json", FIRST_THREE)
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == [
        {"mql_id": "6:1790812800000", "mql_at": "2026-10-01T00:00:00+00:00", "sla_status": "overdue",
         "minutes_to_first_touch": None},
        {"mql_id": "2:1793005200000", "mql_at": "2026-10-26T09:00:00+00:00", "sla_status": "breached",
         "minutes_to_first_touch": 1620.0},
        {"mql_id": "7:1793181600000", "mql_at": "2026-10-28T10:00:00+00:00", "sla_status": "met",
         "minutes_to_first_touch": 30.0},
    ]


def test_table_output_and_row_count(published, monkeypatch):
    monkeypatch.setenv("COLUMNS", "120")
    result = invoke("SELECT sla_status, count(*) AS n FROM marts.speed_to_lead GROUP BY ALL ORDER BY n DESC, sla_status")
    assert result.exit_code == 0, result.output
    lines = [line.strip("│┃ ").split() for line in result.output.splitlines() if "│" in line or "┃" in line]
    assert lines[0] == ["sla_status", "┃", "n"]
    assert [line[::2] for line in lines[1:]] == [["overdue", "4"], ["breached", "2"], ["met", "2"], ["pending", "2"]]
    assert result.output.rstrip().endswith("4 rows")


def test_sql_from_stdin_and_several_statements(published):
    # piped input without a query reads the SQL from stdin; with several statements the last one's rows print
    result = invoke("--csv", stdin="SET TimeZone = 'America/New_York';\n"
                                   "SELECT mql_at FROM marts.speed_to_lead WHERE mql_id = '6:1790812800000';\n")
    assert result.exit_code == 0, result.output
    assert result.output == "mql_at\n2026-09-30T20:00:00-04:00\n"


def _error_line(*args: str, cwd: Path) -> str:
    run = subprocess.run([str(HANDOFF), "sql", *args], capture_output=True, text=True, cwd=cwd, timeout=120)
    assert run.returncode == 1, run
    assert run.stdout == ""
    assert len(run.stderr.splitlines()) == 1, run.stderr
    return run.stderr.strip()


def test_errors_are_one_line_and_the_copy_is_read_only(published, tmp_path):
    assert _error_line("SELEC 1", cwd=tmp_path) == 'error: SQL: Parser Error: syntax error at or near "SELEC"'
    assert _error_line("SELECT * FROM marts.nope", cwd=tmp_path).startswith(
        "error: SQL: Catalog Error: Table with name nope does not exist!")
    assert _error_line("DELETE FROM marts.speed_to_lead", cwd=tmp_path) == (
        'error: SQL: Invalid Input Error: Cannot execute statement of type "DELETE" on database "handoff" '
        "which is attached in read-only mode!")
    assert _error_line("--db", str(tmp_path / "missing.duckdb"), "SELECT 1", cwd=tmp_path) == (
        f"error: no database at {tmp_path / 'missing.duckdb'}: run `handoff run` first "
        "(or point HANDOFF_DB at your database)")
    con = duckdb.connect(str(published), read_only=True)
    assert con.execute("SELECT count(*) FROM marts.speed_to_lead").fetchone() == (10,)  # nothing was deleted
    con.close()


def test_a_query_does_not_hold_the_copy(published):
    # a finished query leaves nothing open: the publisher can replace the copy and the next query sees it
    assert invoke("--csv", "SELECT count(*) AS n FROM marts.speed_to_lead").output == "n\n10\n"
    _publish_with_an_extra_episode(published)
    assert invoke("--csv", "SELECT count(*) AS n FROM marts.speed_to_lead").output == "n\n11\n"


def _publish_with_an_extra_episode(published: Path) -> None:
    """What the pipeline does after a build: copy its database beside the published one and rename it over."""
    source = published.with_name("handoff.duckdb")
    shutil.copyfile(published, source)
    con = duckdb.connect(str(source))
    con.execute("INSERT INTO marts.speed_to_lead (mql_id, contact_id, sla_status) VALUES ('99:1', '99', 'pending')")
    started = time.monotonic()
    publish(con, published)
    assert time.monotonic() - started < 30
    con.close()


# ------------------------------------------------------------------------------------------ interactive session

class Tmux:
    """A private tmux server (own socket) running one command in a 160x45 terminal."""

    def __init__(self, socket: Path, command: list[str], env: dict[str, str], cwd: Path):
        config = socket.with_suffix(".conf")  # no client attaches: the window keeps this size
        config.write_text("set -g default-size 160x45\n")
        self.base = ["tmux", "-S", str(socket), "-f", str(config)]
        shell = " ".join(f"'{part}'" for part in command)
        env_args = [f"{k}={v}" for k, v in env.items()]
        subprocess.run([*self.base, "new-session", "-d", "-s", "sql", "-x", "160", "-y", "45",
                        "env", "-i", *env_args, "sh", "-c", f"{shell}; echo SESSION-ENDED $?; sleep 30"],
                       check=True, cwd=cwd)

    def screen(self) -> str:
        return subprocess.run([*self.base, "capture-pane", "-p", "-t", "sql"], capture_output=True, text=True,
                              check=True).stdout

    def wait_for(self, *texts: str, timeout: float = 90) -> str:
        """The screen once every one of ``texts`` is on it (Harlequin paints its panes one after another)."""
        deadline = time.monotonic() + timeout
        screen = ""
        while time.monotonic() < deadline:
            screen = self.screen()
            if all(text in screen for text in texts):
                return screen
            time.sleep(0.5)
        raise AssertionError(f"{texts!r} not on the screen within {timeout:.0f} s:\n{screen}")

    def keys(self, *keys: str, literal: bool = False) -> None:
        subprocess.run([*self.base, "send-keys", "-t", "sql", *(["-l"] if literal else []), *keys], check=True)

    def close(self) -> None:
        subprocess.run([*self.base, "kill-server"], capture_output=True)


@pytest.fixture
def tmux(tmp_path):
    if shutil.which("tmux") is None:
        pytest.fail("tmux is needed to drive the interactive session (Debian: `apt-get install -y tmux`; "
                    ".ci/run installs it)")
    sessions: list[Tmux] = []

    def start(command: list[str], cwd: Path) -> Tmux:
        home = tmp_path / "home"
        home.mkdir(exist_ok=True)
        env = {"HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config"), "XDG_DATA_HOME": str(home / ".data"),
               "XDG_CACHE_HOME": str(home / ".cache"), "TERM": "xterm-256color",
               "HANDOFF_DB": os.environ["HANDOFF_DB"], "PATH": os.environ.get("PATH", "")}
        session = Tmux(tmp_path / "tmux.sock", command, env, cwd)
        sessions.append(session)
        return session

    yield start
    for session in sessions:
        session.close()


def _run_in_editor(term: Tmux, sql: str) -> None:
    """Empty Harlequin's query editor, type ``sql`` and run it (keys one at a time, as a person types them)."""
    time.sleep(1.5)  # Harlequin moves the focus to the results grid just after it shows them
    for _ in range(10):
        # F2 focuses the query editor; C-a selects all of it and BSpace deletes it (retried until it is empty:
        # a key that arrives while the app is busy can be taken as part of the previous one)
        for key in ("F2", "C-a", "BSpace"):
            term.keys(key)
            time.sleep(0.4)
        if re.search(r"Query Editor[^\n]*\n[^\n]*││ 1 +│", term.screen()):
            break
    else:
        raise AssertionError(f"could not empty the query editor:\n{term.screen()}")
    term.keys(sql, literal=True)
    time.sleep(0.4)
    term.keys("C-j")  # run the query


def test_interactive_session_queries_read_only_and_keeps_its_snapshot(published, tmp_path, tmux):
    term = tmux([str(HANDOFF), "sql"], cwd=tmp_path)
    screen = term.wait_for("Database Connected.", "Data Catalog", "Query Editor")
    assert "Executed 1 command from" in screen  # the UTC init script

    _run_in_editor(term, "SELECT 1000 * count(*) + 7 AS marker, strftime(min(mql_at), '%H:%M %Z') AS first_mql "
                         "FROM marts.speed_to_lead")
    screen = term.wait_for("Query Results (1 Records)")
    assert "10007" in screen and "00:00 UTC" in screen

    # the pipeline publishes a new build while the session is open: not blocked, and the session keeps its copy
    _publish_with_an_extra_episode(published)
    _run_in_editor(term, "SELECT 1000 * count(*) + 8 AS marker FROM marts.speed_to_lead")
    screen = term.wait_for("10008")
    assert "11008" not in screen
    assert invoke("--csv", "SELECT count(*) AS n FROM marts.speed_to_lead").output == "n\n11\n"  # a new session

    _run_in_editor(term, "DELETE FROM marts.speed_to_lead")
    term.wait_for("read-only mode")  # DuckDB's refusal, in a dialog
    term.keys("Escape")
    term.keys("C-q")
    term.wait_for("SESSION-ENDED 0", timeout=30)


def test_interactive_session_on_a_missing_copy_is_one_line(tmp_path, tmux):
    term = tmux([str(HANDOFF), "sql"], cwd=tmp_path)
    screen = term.wait_for("SESSION-ENDED 1", timeout=60)
    assert f"error: no database at {tmp_path / 'handoff.published.duckdb'}: run `handoff run` first" in screen


def test_the_analyst_guides_python_snippet_runs_as_written(published, tmp_path, monkeypatch):
    # docs/analyst-guide.md's notebook snippet, run from a directory where data/ holds the published copy
    guide = (Path(__file__).resolve().parents[1] / "docs" / "analyst-guide.md").read_text()
    snippet = textwrap.dedent(re.search(r"```python\n(.*?)```", guide, re.S).group(1))
    (tmp_path / "data").mkdir()
    shutil.copyfile(published, tmp_path / "data" / "handoff.published.duckdb")
    monkeypatch.chdir(tmp_path)
    scope: dict = {}
    exec(snippet, scope)
    counts = dict(zip(scope["by_status"]["sla_status"], scope["by_status"]["episodes"]))
    assert counts == {"met": 2, "breached": 2, "overdue": 4, "pending": 2}


def test_docs_show_handoff_sql_not_the_1x_cli():
    root = Path(__file__).resolve().parents[1]
    for name in ("README.md", "docs/analyst-guide.md", "docs/troubleshooting.md", "pipeline/summary.py"):
        text = (root / name).read_text()
        assert "duckdb -readonly" not in text, name
        assert "handoff sql" in text, name
