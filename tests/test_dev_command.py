"""`handoff dev` (what `make dev` runs): the Dagster UI comes up on the sandbox with our definitions."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psutil
import pytest

pytestmark = pytest.mark.xdist_group("dagster_ui")

QUERY = """{ repositoriesOrError { ... on RepositoryConnection { nodes { location { name }
  sensors { name sensorState { status } } schedules { name scheduleState { status } } } } } }"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _graphql(port: int) -> dict:
    request = urllib.request.Request(f"http://127.0.0.1:{port}/graphql", data=json.dumps({"query": QUERY}).encode(),
                                     headers={"content-type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


STOP_WITHIN_S = 15  # the supervisor escalates to SIGKILL 5 s after the signal


def _start_dev(tmp_path):
    """`handoff dev` on a 60-contact sandbox portal; returns (process, port, first GraphQL answer)."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HUBSPOT_", "SLACK_"))}
    env["DAGSTER_HOME"] = str(tmp_path / "home")
    handoff = Path(sys.executable).with_name("handoff")
    # output to a file: dagster's children log a lot, and an unread pipe would fill and block them
    log = (tmp_path / "dev.log").open("w")
    proc = subprocess.Popen([str(handoff), "dev", "--port", str(port), "--contacts", "60"], env=env, cwd=tmp_path,
                            stdout=log, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    proc.log_path = tmp_path / "dev.log"
    deadline = time.monotonic() + 300  # the shared 2-core machine can be slow to start four processes
    answer = None
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            answer = _graphql(port)
            nodes = answer.get("data", {}).get("repositoriesOrError", {}).get("nodes") or []
            if len(nodes) == 2:  # both code locations (pipeline/workspace.py) loaded
                break
        except OSError:
            pass
        time.sleep(2)
    return proc, port, answer


def _stop_and_assert_all_gone(proc, send) -> tuple[str, float]:
    """Send the signal, then assert `handoff dev` and every descendant are gone within STOP_WITHIN_S."""
    tree = [psutil.Process(proc.pid), *psutil.Process(proc.pid).children(recursive=True)]
    names = " ".join(" ".join(p.cmdline()[:4]) for p in tree)
    # what `dagster dev` starts: the webserver, the daemon and at least one code server
    assert "-m dagster_webserver" in names and "-m dagster._daemon" in names and "code-server" in names, names
    started = time.monotonic()
    send()
    proc.wait(timeout=STOP_WITHIN_S)
    _gone, alive = psutil.wait_procs(tree, timeout=max(0.1, STOP_WITHIN_S - (time.monotonic() - started)))
    elapsed = time.monotonic() - started
    alive = [p for p in alive if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    for process in alive:  # never leave them behind, then fail
        process.kill()
    assert alive == [], f"still running {elapsed:.1f} s after the signal: {alive}"
    assert elapsed < STOP_WITHIN_S
    return proc.log_path.read_text(), elapsed


def test_dev_serves_the_ui_on_the_sandbox_and_stops_on_ctrl_c(tmp_path):
    proc, port, answer = _start_dev(tmp_path)
    try:
        assert proc.poll() is None, proc.log_path.read_text()[-2000:]
        nodes = {n["location"]["name"]: n for n in answer["data"]["repositoriesOrError"]["nodes"]}
        sensors = {loc: {s["name"]: s["sensorState"]["status"] for s in n["sensors"]} for loc, n in nodes.items()}
        # the live lane's sensors in its own light location, the crash sensor with the assets
        assert sensors == {"hubspot_lead_handoff": {"stale_run_sensor": "RUNNING"},
                           "handoff_lane": {"new_mql_sensor": "STOPPED", "overdue_mql_sensor": "STOPPED"}}
        # on the sandbox (a loopback API base) the schedules start stopped: nothing runs until the user says so
        assert {s["name"]: s["scheduleState"]["status"] for s in nodes["hubspot_lead_handoff"]["schedules"]} == {
            "hourly_sync_schedule": "STOPPED", "nightly_reconcile_schedule": "STOPPED"}
        assert (tmp_path / "home" / "workspace.yaml").read_text().count("location_name:") == 2
        assert (tmp_path / "home" / "dagster.yaml").exists()
        # Ctrl-C in a terminal: SIGINT to the whole foreground process group
        output, _elapsed = _stop_and_assert_all_gone(proc, lambda: os.killpg(proc.pid, signal.SIGINT))
    finally:
        _kill_leftovers(proc)
    assert "sandbox: serving generated 60 contacts" in output
    assert f"Dagster UI on http://127.0.0.1:{port}" in output
    assert "SIGINT: stopping dagster dev" in output
    with pytest.raises(OSError):  # the webserver no longer answers
        _graphql(port)


def test_dev_stops_everything_on_sigterm_to_the_parent(tmp_path):
    proc, port, answer = _start_dev(tmp_path)
    try:
        assert proc.poll() is None and answer and answer["data"]["repositoriesOrError"]["nodes"], \
            proc.log_path.read_text()[-2000:] if proc.poll() is not None else answer
        output, _elapsed = _stop_and_assert_all_gone(proc, lambda: proc.send_signal(signal.SIGTERM))
    finally:
        _kill_leftovers(proc)
    assert "SIGTERM: stopping dagster dev" in output
    # the in-process sandbox went with it: its port no longer answers
    base = next(line.split(" at ", 1)[1].strip() for line in output.splitlines() if "sandbox: serving" in line)
    with pytest.raises(OSError):
        urllib.request.urlopen(base + "/crm/v3/owners", timeout=5)


def _kill_leftovers(proc) -> None:
    """After a failed assertion: kill `handoff dev` and everything it started (dagster dev has its own group)."""
    if proc.poll() is None:
        try:
            tree = [psutil.Process(proc.pid), *psutil.Process(proc.pid).children(recursive=True)]
        except psutil.NoSuchProcess:
            tree = []
        for process in tree:
            try:
                process.kill()
            except psutil.Error:
                pass
        proc.wait()
