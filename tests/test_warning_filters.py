"""The suite's warning filters: a thread that dies with an exception fails the test that started it.

(Until 2026-12 ``ignore::UserWarning`` hid pytest's unhandled-thread-exception warning in the whole suite: a
progress ticker, sandbox server or Slack capture thread could crash and every test still passed.)
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

CRASHING = textwrap.dedent("""
    import threading

    def test_a_thread_crashes():
        def boom():
            raise RuntimeError("thread crashed")
        t = threading.Thread(target=boom, name="doomed")
        t.start()
        t.join()

    def test_a_user_warning_is_shown_not_hidden():
        import warnings
        warnings.warn("our own UserWarning", UserWarning)
""")


def test_an_unhandled_thread_exception_fails_its_test_under_the_projects_config(tmp_path):
    (tmp_path / "test_crash.py").write_text(CRASHING)
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist",
                           "-c", str(REPO / "pyproject.toml"), "--rootdir", str(tmp_path), "-rfEw",
                           str(tmp_path / "test_crash.py")], capture_output=True, text=True, timeout=120,
                          cwd=tmp_path)
    out = done.stdout + done.stderr
    assert done.returncode == 1, out
    assert "FAILED test_crash.py::test_a_thread_crashes" in out
    assert "PytestUnhandledThreadExceptionWarning" in out and "thread crashed" in out
    assert "our own UserWarning" in out  # listed in the warnings summary, not filtered away
    assert "1 failed, 1 passed" in out
