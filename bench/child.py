"""Run a benchmark step in a child process and watch its peak RSS (so each measurement has its own memory)."""

from __future__ import annotations

import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class ChildRun:
    seconds: float
    peak_rss: int  # bytes
    stdout: str


def run_python(code: str, *args: str, what: str = "benchmark child") -> ChildRun:
    """``python -c code args`` from the repo root; raises RuntimeError with the child's stderr tail on failure."""
    started = time.perf_counter()
    child = subprocess.Popen([sys.executable, "-c", code, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             cwd=ROOT)
    watched = psutil.Process(child.pid)
    peak = 0
    while child.poll() is None:
        try:
            peak = max(peak, watched.memory_info().rss)
        except psutil.Error:
            break
        time.sleep(0.05)
    out, err = child.communicate()
    elapsed = time.perf_counter() - started
    if child.returncode != 0:
        raise RuntimeError(f"{what} failed: {err.decode()[-800:]}")
    return ChildRun(seconds=elapsed, peak_rss=peak, stdout=out.decode())
