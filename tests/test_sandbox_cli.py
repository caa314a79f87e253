"""``handoff sandbox serve`` / ``generate``: a real subprocess on a free port, and one-line errors."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import orjson
import pytest

from pipeline.cli import main
from hubspot_sandbox.snapshot import load_snapshot
from tests.fixtures.sandbox import small_portal_snapshot


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_serve(*args: str) -> tuple[subprocess.Popen, dict[str, str]]:
    """Start `handoff sandbox serve ...`; return the process and its printed `export` variables."""
    process = subprocess.Popen([sys.executable, "-m", "pipeline.cli", "sandbox", "serve", *args],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "PYTHONUNBUFFERED": "1"})
    deadline = time.monotonic() + 60
    lines = []
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line)
        if line.startswith("export "):
            pairs = dict(part.split("=", 1) for part in line.split()[1:])
            return process, pairs
    process.kill()
    raise AssertionError(f"serve printed no export line: {lines} {process.stderr.read()}")


def stop(process: subprocess.Popen) -> int:
    """Ctrl-C; the sandbox's own shutdown waits at most 10 s for its server thread. The margin is for a loaded
    CI machine (20 s was seen to run out with the suite's two workers and a build beside them)."""
    process.send_signal(signal.SIGINT)
    return process.wait(timeout=60)


def test_serve_snapshot_on_a_port_with_a_token(tmp_path):
    snapshot = tmp_path / "portal.json"
    snapshot.write_bytes(orjson.dumps(small_portal_snapshot()))
    port = free_port()
    process, env = start_serve("--snapshot", str(snapshot), "--port", str(port), "--token", "t0ken",
                               "--rate-limit", "50,search=5", "--scopes", "crm.objects.contacts.read")
    try:
        assert env == {"HUBSPOT_API_BASE": f"http://127.0.0.1:{port}", "HUBSPOT_ACCESS_TOKEN": "t0ken"}
        answer = httpx.get(f"{env['HUBSPOT_API_BASE']}/crm/v3/objects/contacts",
                           headers={"Authorization": "Bearer t0ken"}, params={"limit": 100})
        assert [c["id"] for c in answer.json()["results"]] == ["1", "2", "3", "5", "6"]
        assert answer.headers["X-HubSpot-RateLimit-Max"] == "50"
        refused = httpx.get(f"{env['HUBSPOT_API_BASE']}/crm/objects/2026-09/deals",
                            headers={"Authorization": "Bearer t0ken"})
        assert refused.status_code == 403 and refused.json()["category"] == "MISSING_SCOPES"
        stats = httpx.get(f"{env['HUBSPOT_API_BASE']}/_sandbox/stats").json()
        assert stats["requests"] == {"contacts.list": 1, "deals.list": 1}
    finally:
        code = stop(process)
    assert code == 0
    assert "sandbox: stopped" in process.stderr.read()


def test_serve_generated_portal(tmp_path):
    from hubspot_sandbox.generator import generate_portal

    snapshot, _truth = generate_portal(40, 5)
    live = sorted((c["id"] for c in snapshot["contacts"] if not c.get("archived")), key=int)
    process, env = start_serve("--contacts", "40", "--seed", "5", "--port", "0", "--rate-limit", "off")
    try:
        ids, after = [], None
        with httpx.Client(base_url=env["HUBSPOT_API_BASE"],
                          headers={"Authorization": f"Bearer {env['HUBSPOT_ACCESS_TOKEN']}"}) as client:
            while True:
                page = client.get("/crm/v3/objects/contacts", params={"limit": 7, **({"after": after} if after else {})})
                ids += [c["id"] for c in page.json()["results"]]
                after = page.json().get("paging", {}).get("next", {}).get("after")
                if not after:
                    break
        assert ids == live
    finally:
        assert stop(process) == 0


def test_generate_writes_a_loadable_snapshot_and_truth(tmp_path, capsys):
    out = tmp_path / "gen" / "portal.json"
    main(["sandbox", "generate", "--contacts", "25", "--seed", "11", "--out", str(out)])
    printed = capsys.readouterr().out
    assert f"wrote {out}" in printed
    assert (tmp_path / "gen" / "portal.truth.json").is_file()
    data = load_snapshot(out)  # the generator's output passes the sandbox's validation
    assert data["portal"]["now"]


def run_cli(args: list[str], capsys) -> tuple[int, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    return exit_info.value.code, capsys.readouterr().err.strip()


@pytest.mark.parametrize(("args", "expected"), [
    (["sandbox", "serve"], "error: nothing to serve: give --snapshot FILE, or --contacts N"),
    (["sandbox", "serve", "--snapshot", "x.json", "--contacts", "3"], "error: give either --snapshot FILE or"),
    (["sandbox", "serve", "--snapshot", "missing.json"], "error: snapshot missing.json: no such file"),
    (["sandbox", "serve", "--snapshot", "x.json", "--faults", "500=lots"], "error: fault spec '500=lots'"),
    (["sandbox", "serve", "--snapshot", "x.json", "--rate-limit", "many"], "error: --rate-limit 'many'"),
])
def test_serve_errors_are_one_line(args, expected, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("x.json").write_bytes(orjson.dumps(small_portal_snapshot()))
    code, err = run_cli(args, capsys)
    assert code == 1
    assert err.startswith(expected)
    assert "\n" not in err and "Traceback" not in err


def test_bad_snapshot_and_busy_port_are_one_line(capsys, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"portal": {"id": 1}, "contacts": [{"id": "1", "createdAt": "soon"}]}')
    code, err = run_cli(["sandbox", "serve", "--snapshot", str(bad)], capsys)
    assert (code, err) == (1, f'error: snapshot {bad}: contacts[0] (id "1"): createdAt: "soon" is not an ISO-8601 '
                              "timestamp (e.g. 2026-11-24T15:00:00.000Z)")
    good = tmp_path / "good.json"
    good.write_bytes(orjson.dumps(small_portal_snapshot()))
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        code, err = run_cli(["sandbox", "serve", "--snapshot", str(good), "--port", str(port)], capsys)
    assert code == 1 and err.startswith(f"error: sandbox: cannot listen on 127.0.0.1:{port}")
