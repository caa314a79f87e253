"""The analysts' read-only copy: replaced atomically after each build; a reader holding it open (in another
process, as `handoff sql` or a notebook would) neither blocks the pipeline nor sees a half-written file."""

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


READER_LOOP = textwrap.dedent("""
    import sys, time, duckdb
    path, stop = sys.argv[1], sys.argv[2]
    import os
    while not os.path.exists(stop):
        started = time.time()
        try:
            con = duckdb.connect(path, read_only=True)
            try:
                seen = con.execute("SELECT count(*) FROM marts.speed_to_lead").fetchone()[0]
            finally:
                con.close()
            print(f"{started:.6f} {seen}", flush=True)
        except Exception as err:  # every open must succeed: report what went wrong
            print(f"{started:.6f} error {type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}",
                  flush=True)
""")


def test_a_reader_opening_the_copy_in_a_loop_during_a_publish_always_sees_the_old_or_the_new_data(pipeline_db,
                                                                                                   tmp_path):
    """Another process opens and counts the analysts' copy again and again while a larger database is published
    over it: every open succeeds and sees the old data (1 episode) or the new (2), never an error, a missing
    table or a half-written file."""
    import threading
    import time

    portal, db = pipeline_db
    target = published_db_path(db)
    publish(portal.con, target)
    stop = tmp_path / "stop-reading"
    reader = subprocess.Popen([sys.executable, "-c", READER_LOOP, str(target), str(stop)], stdout=subprocess.PIPE,
                              text=True)
    lines: list[str] = []
    first_read = threading.Event()

    def collect():
        for line in reader.stdout:
            lines.append(line.strip())
            first_read.set()

    collector = threading.Thread(target=collect, daemon=True)
    collector.start()
    try:
        assert first_read.wait(60)
        portal.next_load()
        portal.contact("2", lifecycle=[("2024-03-06T14:00:00Z", MQL)])
        build_marts(portal, "2024-03-10T00:00:00Z")
        # a much larger database: the copy takes long enough for many reads to start while it is written
        portal.con.execute("CREATE TABLE marts.ballast AS SELECT range AS i, md5(CAST(range AS VARCHAR)) AS s "
                           "FROM range(3000000)")
        began = time.time()
        publish(portal.con, target)
        ended = time.time()
        deadline = time.monotonic() + 60
        while not any(line.endswith(" 2") and float(line.split()[0]) > ended for line in list(lines)):
            assert time.monotonic() < deadline, "the reader never saw the new copy"
            time.sleep(0.05)
    finally:
        stop.touch()
        reader.wait(timeout=60)
        collector.join(timeout=10)
    assert reader.returncode == 0
    results = [line.split(" ", 1) for line in lines]
    errors = [line for line in lines if " error " in line]
    assert errors == []
    assert {seen for _, seen in results} == {"1", "2"}
    seen_in_order = [seen for _, seen in results]
    # old until the rename, new after it: never back to the old file once the new one was seen
    assert seen_in_order == sorted(seen_in_order)
    during = [seen for started, seen in results if began <= float(started) <= ended]
    assert during, "no read started while the publish ran (make the ballast larger)"
    assert sorted(p.name for p in target.parent.iterdir() if ".tmp" in p.name) == []
