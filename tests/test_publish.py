"""The analysts' read-only copy: replaced atomically after each build; a reader holding it open (in another
process, as `duckdb -readonly` would) neither blocks the pipeline nor sees a half-written file."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import duckdb
import pytest

from pipeline.publish import PublishError, publish
from pipeline.settings import published_db_path
from tests.fixtures.raw_tables import RawPortal, build_marts, connect

MQL = "marketingqualifiedlead"
ANALYST = textwrap.dedent("""
    import sys, duckdb
    con = duckdb.connect(sys.argv[1], read_only=True)
    query = "SELECT count(*) FROM marts.speed_to_lead"
    print(con.execute(query).fetchone()[0], flush=True)
    sys.stdin.readline()  # hold the connection open until the pipeline has run again
    print(con.execute(query).fetchone()[0], flush=True)
""")


@pytest.fixture
def pipeline_db(tmp_path):
    db = tmp_path / "handoff.duckdb"
    con = connect(db)
    portal = RawPortal(con)
    portal.contact("1", lifecycle=[("2024-03-05T14:00:00Z", MQL)])
    build_marts(portal, "2024-03-10T00:00:00Z")
    yield portal, db
    con.close()


def test_open_analyst_connection_does_not_block_the_next_build_and_publish(pipeline_db):
    portal, db = pipeline_db
    target = published_db_path(db)
    publish(portal.con, target)
    analyst = subprocess.Popen([sys.executable, "-c", ANALYST, str(target)], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, text=True)
    try:
        assert analyst.stdout.readline().strip() == "1"
        portal.next_load()
        portal.contact("2", lifecycle=[("2024-03-06T14:00:00Z", MQL)])
        build_marts(portal, "2024-03-10T00:00:00Z")
        result = publish(portal.con, target)  # must not wait for, or fail because of, the open reader
        assert result.tables > 10 and result.path == target
        with duckdb.connect(str(target), read_only=True) as fresh:
            assert fresh.execute("SELECT count(*) FROM marts.speed_to_lead").fetchone()[0] == 2
            # staging views resolve inside the copy too
            assert fresh.execute("SELECT count(*) FROM staging.contacts").fetchone()[0] == 2
        analyst.stdin.write("\n")
        analyst.stdin.flush()
        assert analyst.stdout.readline().strip() == "1"  # the reader keeps its consistent snapshot
    finally:
        analyst.stdin.close()
        analyst.wait(timeout=30)
    assert analyst.returncode == 0
    assert sorted(p.name for p in target.parent.iterdir() if ".tmp" in p.name) == []


def test_publish_error_is_one_line_and_leaves_no_partial_file(pipeline_db, tmp_path):
    portal, _ = pipeline_db
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the directory should be")
    with pytest.raises(PublishError) as err:
        publish(portal.con, blocker / "handoff.published.duckdb")
    assert str(err.value).startswith(f"cannot publish the analysts' copy to {blocker}/handoff.published.duckdb")
    assert "\n" not in str(err.value)
