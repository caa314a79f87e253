"""`make test` runs the suite with ``-n 2 --dist loadgroup``: tests marked with one ``xdist_group`` share a worker.

The suite relies on it (the ``end_to_end`` group keeps the heavy sandbox runs off each other's core), so the
grouping is proven on a small suite run the same way, in a child pytest.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SUITE = '''
import os
import pytest

@pytest.mark.xdist_group("one")
@pytest.mark.parametrize("n", range(6))
def test_grouped(n):
    with open(os.environ["WORKERS_FILE"], "a") as out:
        out.write(f"{os.environ['PYTEST_XDIST_WORKER']}\\n")

@pytest.mark.parametrize("n", range(6))
def test_free(n):
    pass
'''


def test_a_group_runs_on_one_worker(tmp_path: Path):
    (tmp_path / "test_grouped.py").write_text(SUITE)
    workers_file = tmp_path / "workers.txt"
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-n", "2", "--dist", "loadgroup", "-q", "-p", "no:cacheprovider",
         "test_grouped.py"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
        env={**os.environ, "WORKERS_FILE": str(workers_file)})
    assert done.returncode == 0, done.stdout + done.stderr
    assert "12 passed" in done.stdout
    workers = workers_file.read_text().split()
    assert len(workers) == 6
    assert len(set(workers)) == 1, workers
