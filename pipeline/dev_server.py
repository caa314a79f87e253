"""``handoff dev``'s process supervision: run ``dagster dev`` and stop it, and everything it started, on demand.

``dagster dev`` starts the webserver, the daemon and code servers as child processes. Left to itself, a Ctrl-C
(SIGINT to the terminal's process group) or a SIGTERM could leave them running (the daemon logs "Daemon
threads shut down" and the processes stay). So ``dagster dev`` runs in its own process group and this module
owns the shutdown: on the first SIGINT or SIGTERM it snapshots every descendant, asks them to stop (SIGINT,
then SIGTERM), and after a grace period kills whatever is left (SIGKILL); a second Ctrl-C kills at once.
The caller's ``with`` blocks (the in-process sandbox) then unwind and the process exits.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable, Sequence

import psutil

# seconds after the first signal before each escalation: SIGINT at once, SIGTERM, then SIGKILL for the rest
TERM_AFTER_S = 2.0
KILL_AFTER_S = 5.0


class _Stop(Exception):
    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def _descendants(pid: int) -> list[psutil.Process]:
    try:
        return [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def _signal_all(processes: Sequence[psutil.Process], pgid: int, signum: int) -> None:
    try:
        os.killpg(pgid, signum)
    except (ProcessLookupError, PermissionError):
        pass
    for process in processes:  # descendants that left the group (their own session) get it too
        try:
            process.send_signal(signum)
        except psutil.Error:
            pass


def stop_tree(proc: subprocess.Popen, echo: Callable[[str], None], *, force: bool = False,
              term_after_s: float = TERM_AFTER_S, kill_after_s: float = KILL_AFTER_S) -> None:
    """Stop ``proc`` (a process-group leader) and every descendant it has now; SIGKILL after ``kill_after_s``."""
    tree = _descendants(proc.pid)
    pgid = proc.pid
    started = time.monotonic()
    steps = [(0.0, signal.SIGKILL)] if force else [
        (0.0, signal.SIGINT), (term_after_s, signal.SIGTERM), (kill_after_s, signal.SIGKILL)]
    for at, signum in steps:
        while time.monotonic() - started < at:
            if not any(_alive(p) for p in tree):
                break
            time.sleep(0.1)
        alive = [p for p in tree if _alive(p)]
        if not alive:
            break
        if signum == signal.SIGKILL:
            echo(f"killing {len(alive)} process(es) that did not stop within {at:g} s")
        _signal_all(alive, pgid, signum)
    psutil.wait_procs(tree, timeout=5)
    proc.poll()


def _alive(process: psutil.Process) -> bool:
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _say(echo: Callable[[str], None], message: str) -> None:
    try:  # the terminal may be gone (a closed pipe): stopping the processes matters more than saying so
        echo(message)
    except (OSError, ValueError):
        pass


def run_supervised(command: list[str], env: dict[str, str], echo: Callable[[str], None]) -> int:
    """Run ``command`` in its own process group until it exits or this process gets SIGINT/SIGTERM.

    Returns the command's exit code, or 128 + the signal number when it was stopped by a signal. Whatever
    happens here (a signal, an error), the command and its descendants do not outlive this call.
    """
    def on_signal(signum, _frame):
        raise _Stop(signum)

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    proc: subprocess.Popen | None = None
    stopped = False
    try:
        proc = subprocess.Popen(command, env=env, start_new_session=True)
        return proc.wait()
    except _Stop as stop:
        if proc is None:
            return 128 + stop.signum
        # a second Ctrl-C / SIGTERM during the shutdown kills at once
        for signum in previous:
            signal.signal(signum, lambda *_: stop_tree(proc, lambda _m: None, force=True))
        _say(echo, f"{stop}: stopping dagster dev (webserver, daemon, code servers) ...")
        stop_tree(proc, lambda message: _say(echo, message))
        stopped = True
        _say(echo, "stopped")
        return 128 + stop.signum
    finally:
        if proc is not None and not stopped and (proc.poll() is None or len(_descendants(proc.pid)) > 1):
            stop_tree(proc, lambda _m: None, force=proc.poll() is not None)
        for signum, handler in previous.items():
            signal.signal(signum, handler)
