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

import pytest

pytestmark = pytest.mark.xdist_group("dagster_ui")

QUERY = """{ repositoriesOrError { ... on RepositoryConnection { nodes {
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


def test_dev_serves_the_ui_on_the_sandbox(tmp_path):
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HUBSPOT_", "SLACK_"))}
    env["DAGSTER_HOME"] = str(tmp_path / "home")
    handoff = Path(sys.executable).with_name("handoff")
    proc = subprocess.Popen([str(handoff), "dev", "--port", str(port), "--contacts", "60"], env=env, cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 150
        answer = None
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                answer = _graphql(port)
                if answer.get("data", {}).get("repositoriesOrError", {}).get("nodes"):
                    break
            except OSError:
                pass
            time.sleep(2)
        assert proc.poll() is None, proc.stdout.read()[-2000:]
        node = answer["data"]["repositoriesOrError"]["nodes"][0]
        assert {s["name"]: s["sensorState"]["status"] for s in node["sensors"]} == {"overdue_mql_sensor": "STOPPED",
                                                                                 "stale_run_sensor": "RUNNING"}
        # on the sandbox (a loopback API base) the schedules start stopped: nothing runs until the user says so
        assert {s["name"]: s["scheduleState"]["status"] for s in node["schedules"]} == {
            "hourly_sync_schedule": "STOPPED", "nightly_reconcile_schedule": "STOPPED"}
        assert (tmp_path / "home" / "dagster.yaml").exists()
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            output, _ = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            output, _ = proc.communicate()
    assert "sandbox: serving generated 60 contacts" in output
    assert f"Dagster UI on http://127.0.0.1:{port}" in output
