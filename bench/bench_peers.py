"""Peers benchmark: Airbyte's HubSpot connector against the sandbox, its API calls beside ours.

``python -m bench peers`` (part of ``make bench``). In one run:

1. ``pip index versions airbyte-source-hubspot`` (the newest on the registry), a throwaway virtualenv under a
   temp dir (``uv venv`` + ``uv pip install airbyte-source-hubspot``), its ``Requires-Python`` read from the
   installed metadata;
2. a generated 2,000-contact portal served by the sandbox (limits off, like the extraction benchmark);
3. the connector's base URL pointed at the sandbox: the connector hard-codes ``https://api.hubapi.com`` in its
   manifest (``url_base``) and Python streams and has no override in its spec, so the copy in the throwaway
   environment is patched (only that string; the portal is read unchanged);
4. ``check``, ``discover``, a full ``read`` of the streams holding the data we extract, then 1% of contacts
   change stage (plus as many new calls) and an incremental ``read`` from the connector's own state;
5. our extractor on an identical portal (same generator seed), full then the same 1% change.

Every number comes from the sandbox's request counter (independent of both clients). Any 4xx the connector
receives (check, discover or either read) fails the "no 4xx" target and is listed by status, method and path
(the sandbox's ``client_errors``); when the connector stops, the result says at which command and which 4xx
the sandbox answered. The records the full read emits per stream are held to the portal's own counts (live
objects per type, active and archived owners, one history entry per contact, property and version): the
independent check that the connector read the generated portal unchanged.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.results import Result

CONNECTOR = "airbyte-source-hubspot"
MODULE = "source_hubspot"
PORTAL_CONTACTS = 2_000
PORTAL_SEED = 1
HUBSPOT_URL = "https://api.hubapi.com"
# the connector's streams holding what our extractor loads (those this version offers are selected)
# (our extractor: contacts with lifecycle/owner history, companies, deals, owners active and archived, the five
# engagement types through their v3 object APIs; Airbyte's ``engagements`` stream reads the v1 engagements API
# and would read the same calls/emails/... again, so the per-type ``engagements_*`` streams stand for ours)
WANTED_STREAMS = ("contacts", "companies", "deals", "owners", "owners_archived", "engagements_calls",
                  "engagements_emails", "engagements_meetings", "engagements_notes", "engagements_tasks",
                  "contacts_property_history")
COMMAND_TIMEOUT_S = 1_800
PYTHON_CANDIDATES = ("3.11", "3.12", "3.10")


class ConnectorStopped(Exception):
    """The connector could not run a command: ``where`` says which and why, in one line."""

    def __init__(self, where: str) -> None:
        super().__init__(where)
        self.where = where


def _run(args: list[str], *, timeout: float = COMMAND_TIMEOUT_S, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout, cwd=cwd)


def newest_version() -> str:
    """The newest release on the package registry, via pip's ordinary client."""
    out = _run([sys.executable, "-m", "pip", "index", "versions", CONNECTOR], timeout=180)
    if out.returncode != 0:  # the project's venv may lack pip: try the system's
        out = _run(["pip", "index", "versions", CONNECTOR], timeout=180)
    match = re.search(rf"{re.escape(CONNECTOR)} \(([^)]+)\)", out.stdout)
    if not match:
        raise ConnectorStopped(f"pip index versions {CONNECTOR} found no release ({(out.stderr or out.stdout)[-200:]})")
    return match.group(1)


def install(scratch: Path, version: str) -> tuple[Path, str]:
    """A throwaway virtualenv with the connector; returns (its python, the package's Requires-Python)."""
    uv = shutil.which("uv")
    if uv is None:
        raise ConnectorStopped("uv is not on PATH (needed to create the throwaway environment)")
    errors = []
    for python in PYTHON_CANDIDATES:
        venv = scratch / f"venv-{python}"
        made = _run([uv, "venv", "-q", "--python", python, str(venv)], timeout=300)
        if made.returncode != 0:
            errors.append(f"python {python}: {made.stderr.strip()[-160:]}")
            continue
        # copies, not uv's default hardlinks into its cache: the files are patched below (point_at)
        got = _run([uv, "pip", "install", "-q", "--link-mode", "copy", "--python", str(venv / "bin" / "python"),
                    f"{CONNECTOR}=={version}"], timeout=1_200)
        if got.returncode == 0:
            return venv / "bin" / "python", _requires_python(venv)
        errors.append(f"python {python}: {got.stderr.strip().splitlines()[-1] if got.stderr.strip() else 'failed'}")
    raise ConnectorStopped(f"{CONNECTOR} {version} cannot be installed here: " + "; ".join(errors))


def _requires_python(venv: Path) -> str:
    for metadata in venv.glob("lib/python*/site-packages/airbyte_source_hubspot-*.dist-info/METADATA"):
        for line in metadata.read_text().splitlines():
            if line.startswith("Requires-Python:"):
                return line.split(":", 1)[1].strip()
    return "unknown"


def point_at(python: Path, base_url: str) -> int:
    """Replace the connector's hard-coded HubSpot URL by the sandbox's in its installed files; returns files changed."""
    site = next(python.parent.parent.glob("lib/python*/site-packages"))
    changed = 0
    for path in (site / MODULE).rglob("*"):
        if path.suffix not in (".py", ".yaml") or not path.is_file():
            continue
        text = path.read_text()
        patched = text.replace(HUBSPOT_URL, base_url)
        if patched != text:
            path.write_text(patched)
            changed += 1
    if not changed:
        raise ConnectorStopped(f"found no {HUBSPOT_URL} in {MODULE} to point at the sandbox")
    return changed


def _messages(stdout: str) -> list[dict]:
    out = []
    for line in stdout.splitlines():
        line = line.strip()
        if line.startswith("{"):
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return out


def _stop_reason(command: str, proc: subprocess.CompletedProcess) -> str:
    text = proc.stdout + proc.stderr
    urls = re.findall(r"(\d{3}) Client Error: [^\n]*? for url: (\S+?)['\")\\]", text)
    if urls:
        status, url = urls[-1]
        path = re.sub(r"^https?://[^/]+", "", url)
        return f"{command}: HTTP {status} on {path} (the sandbox lacks or refuses this endpoint)"
    errors = [m["trace"]["error"]["message"] for m in _messages(proc.stdout)
              if m.get("type") == "TRACE" and (m.get("trace") or {}).get("error")]
    tail = (errors[-1] if errors else text.strip().splitlines()[-1] if text.strip() else "no output")[:240]
    return f"{command}: exit {proc.returncode}: {tail}"


def connector(python: Path, work: Path, command: str, *extra: str) -> list[dict]:
    args = [str(python.parent / "source-hubspot"), command, "--config", str(work / "config.json"), *extra]
    proc = _run(args, cwd=work)
    (work / f"{command}.log").write_text(proc.stdout + proc.stderr)  # kept for a stopped run's diagnosis
    messages = _messages(proc.stdout)
    failed = proc.returncode != 0 or any(m.get("type") == "TRACE" and (m.get("trace") or {}).get("type") == "ERROR"
                                         for m in messages)
    if command == "check":
        status = next((m["connectionStatus"] for m in messages if m.get("type") == "CONNECTION_STATUS"), {})
        failed = failed or status.get("status") != "SUCCEEDED"
    if failed:
        raise ConnectorStopped(_stop_reason(command, proc))
    return messages


def configured_catalog(messages: list[dict]) -> tuple[dict, list[str]]:
    catalog = next(m["catalog"] for m in messages if m.get("type") == "CATALOG")
    streams = []
    for stream in catalog["streams"]:
        if stream["name"] not in WANTED_STREAMS:
            continue
        incremental = "incremental" in stream.get("supported_sync_modes", [])
        streams.append({"stream": stream, "sync_mode": "incremental" if incremental else "full_refresh",
                        "destination_sync_mode": "append",
                        "cursor_field": stream.get("default_cursor_field") or []})
    return {"streams": streams}, [s["stream"]["name"] for s in streams]


def final_state(messages: list[dict]) -> list[dict]:
    """The last state message per stream (per-stream state), as the connector's ``--state`` file expects."""
    latest: dict[str, dict] = {}
    for message in messages:
        if message.get("type") != "STATE":
            continue
        state = message["state"]
        key = json.dumps((state.get("stream") or {}).get("stream_descriptor") or state.get("type"), sort_keys=True)
        latest[key] = state
    return list(latest.values())


def _records(messages: list[dict]) -> int:
    return sum(1 for m in messages if m.get("type") == "RECORD")


def records_by_stream(messages: list[dict]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for message in messages:
        if message.get("type") == "RECORD":
            stream = message["record"]["stream"]
            counts[stream] = counts.get(stream, 0) + 1
    return dict(sorted(counts.items()))


# the connector's stream -> the portal's object type it reads
STREAM_TYPES = {"contacts": "contacts", "companies": "companies", "deals": "deals", "engagements_calls": "calls",
                "engagements_emails": "emails", "engagements_meetings": "meetings", "engagements_notes": "notes",
                "engagements_tasks": "tasks"}


def _versions(portal) -> dict[str, dict[str, str]]:
    """Each live contact's and call's ``updatedAt`` (what the 1% change moves)."""
    with portal.lock:
        return {t: {o["id"]: o["updatedAt"] for o in portal.stores[t].by_id.values() if not o["archived"]}
                for t in ("contacts", "calls")}


def _moved(portal, before: dict[str, dict[str, str]]) -> dict[str, set[str]]:
    """The connector's stream -> ids the change created or modified (a stage set to the value it had is no change)."""
    after = _versions(portal)
    streams = {"contacts": "contacts", "calls": "engagements_calls"}
    return {streams[t]: {i for i, at in after[t].items() if before[t].get(i) != at} for t in after}


def _record_ids(messages: list[dict]) -> dict[str, set[str]]:
    ids: dict[str, set[str]] = {}
    for message in messages:
        if message.get("type") == "RECORD":
            record = message["record"]
            ids.setdefault(record["stream"], set()).add(str(record["data"].get("id")))
    return ids


def portal_counts(portal, streams: list[str]) -> dict[str, int]:
    """What each selected stream must emit when it reads the portal unchanged, counted from the portal itself:
    live objects per type, active owners, and one history entry per (live contact, property, version) for
    every contact property (the connector asks for all of them with history)."""
    expected: dict[str, int] = {}
    with portal.lock:
        for stream in streams:
            if stream in STREAM_TYPES:
                expected[stream] = sum(1 for o in portal.stores[STREAM_TYPES[stream]].by_id.values()
                                       if not o["archived"])
            elif stream in ("owners", "owners_archived"):
                expected[stream] = sum(1 for o in portal.owners.values() if o["archived"] == (stream != "owners"))
            elif stream == "contacts_property_history":
                names = sorted(portal.known_properties("contacts"))
                expected[stream] = sum(len(portal.history(o, name))
                                       for o in portal.stores["contacts"].by_id.values() if not o["archived"]
                                       for name in names)
    return dict(sorted(expected.items()))


def _with_client_errors(stopped: ConnectorStopped, stats: dict) -> ConnectorStopped:
    """The stop reason with the 4xx answers the sandbox counted (status, method and path as called)."""
    errors = stats.get("client_errors") or {}
    if not errors:
        return stopped
    listed = "; ".join(f"{request} x{n}" for request, n in list(errors.items())[:8])
    return ConnectorStopped(f"{stopped.where}; the sandbox answered 4xx to: {listed}")


def _client_errors(stats: dict) -> int:
    return sum(n for code, n in stats["statuses"].items() if code.startswith("4"))


def run_airbyte(snapshot: dict, scratch: Path) -> dict:
    """Install, point, check, discover, full read, 1% change, incremental read; the sandbox's counts of each."""
    from bench.bench_extraction import _mutate_one_percent
    from hubspot_sandbox.portal import Portal
    from hubspot_sandbox.ratelimit import RateLimits
    from hubspot_sandbox.server import run_in_thread

    result: dict = {"version": newest_version()}
    python, result["requires_python"] = install(scratch, result["version"])
    result["python"] = _run([str(python), "--version"]).stdout.strip()
    live_contacts = [o["id"] for o in snapshot["contacts"] if not o.get("archived")]
    portal = Portal.from_snapshot(snapshot, validate=False)
    work = scratch / "airbyte"
    work.mkdir()
    with run_in_thread(portal, limits=RateLimits.unlimited()) as sandbox:
        point_at(python, sandbox.base_url)
        (work / "config.json").write_text(json.dumps({
            "credentials": {"credentials_title": "Private App Credentials", "access_token": sandbox.token},
            "start_date": "2000-01-01T00:00:00Z"}))
        for step in ("check", "discover"):
            sandbox.stats.reset()
            try:
                messages = connector(python, work, step)
            except ConnectorStopped as stopped:
                raise _with_client_errors(stopped, sandbox.stats.snapshot()) from None
            result[f"{step}_calls"] = sandbox.stats.snapshot()["total_requests"]
            result[f"{step}_client_errors"] = sandbox.stats.snapshot()["client_errors"]
        catalog, result["streams"] = configured_catalog(messages)
        (work / "catalog.json").write_text(json.dumps(catalog))
        result["expected_records"] = portal_counts(portal, result["streams"])
        sandbox.stats.reset()
        started = time.perf_counter()
        try:
            messages = connector(python, work, "read", "--catalog", str(work / "catalog.json"))
        except ConnectorStopped as stopped:
            raise _with_client_errors(stopped, sandbox.stats.snapshot()) from None
        seen = sandbox.stats.snapshot()
        result.update(full_calls=seen["total_requests"], full_4xx=_client_errors(seen), full_records=_records(messages),
                      full_seconds=time.perf_counter() - started, full_requests=seen["requests"],
                      full_client_errors=seen["client_errors"], full_by_stream=records_by_stream(messages))
        (work / "state.json").write_text(json.dumps(final_state(messages)))
        before = _versions(portal)
        result["changed"] = _mutate_one_percent(portal, live_contacts)
        result["moved"] = _moved(portal, before)
        sandbox.stats.reset()
        try:
            messages = connector(python, work, "read", "--catalog", str(work / "catalog.json"),
                                 "--state", str(work / "state.json"))
        except ConnectorStopped as stopped:
            raise _with_client_errors(stopped, sandbox.stats.snapshot()) from None
        seen = sandbox.stats.snapshot()
        emitted = _record_ids(messages)
        result["missed"] = {stream: sorted(ids - emitted.get(stream, set()))
                            for stream, ids in result["moved"].items() if ids - emitted.get(stream, set())}
        result.update(incremental_calls=seen["total_requests"], incremental_4xx=_client_errors(seen),
                      incremental_records=_records(messages), incremental_requests=seen["requests"],
                      incremental_client_errors=seen["client_errors"],
                      incremental_by_stream=records_by_stream(messages))
    return result


def run_ours(snapshot: dict, scratch: Path) -> dict:
    from bench.bench_extraction import _mutate_one_percent, _sync
    from hubspot_sandbox.portal import Portal
    from hubspot_sandbox.ratelimit import RateLimits
    from hubspot_sandbox.server import run_in_thread

    live_contacts = [o["id"] for o in snapshot["contacts"] if not o.get("archived")]
    portal = Portal.from_snapshot(snapshot, validate=False)
    db = scratch / "ours.duckdb"
    with run_in_thread(portal, limits=RateLimits.unlimited()) as sandbox:
        _sync(sandbox, db)
        full = sandbox.stats.snapshot()
        sandbox.stats.reset()
        changed = _mutate_one_percent(portal, live_contacts)
        _sync(sandbox, db)
        incremental = sandbox.stats.snapshot()
    return {"full_calls": full["total_requests"], "full_4xx": _client_errors(full), "changed": changed,
            "incremental_calls": incremental["total_requests"], "full_requests": full["requests"],
            "incremental_requests": incremental["requests"]}


def main(quick: bool) -> list[Result]:
    from hubspot_sandbox.generator import generate_portal

    snapshot, _truth = generate_portal(PORTAL_CONTACTS, seed=PORTAL_SEED)
    with tempfile.TemporaryDirectory(prefix="bench-peers-") as scratch_dir:
        scratch = Path(scratch_dir)
        ours = run_ours(snapshot, scratch)
        results = [Result("peers", f"ours: full sync API calls ({PORTAL_CONTACTS:,} contacts)", float(ours["full_calls"]),
                          "info", None, f"4xx: {ours['full_4xx']}; by endpoint: {_endpoints(ours['full_requests'])}; "
                                        f"1% changed ({ours['changed']} contacts + as many calls): "
                                        f"{ours['incremental_calls']} calls ({_endpoints(ours['incremental_requests'])})")]
        try:
            theirs = run_airbyte(snapshot, scratch)
        except ConnectorStopped as stopped:
            return results + [Result("peers", f"{CONNECTOR}: runs against the sandbox", 0.0, "runs", False,
                                     f"stopped at {stopped.where}")]
        except subprocess.TimeoutExpired as expired:
            return results + [Result("peers", f"{CONNECTOR}: runs against the sandbox", 0.0, "runs", False,
                                     f"timed out after {expired.timeout:.0f}s: {' '.join(map(str, expired.cmd))[-200:]}")]
    about = (f"{CONNECTOR} {theirs['version']} (Requires-Python {theirs['requires_python']}, ran on "
             f"{theirs['python']}); streams {', '.join(theirs['streams'])}")
    client_errors = {**theirs["check_client_errors"], **theirs["discover_client_errors"],
                     **theirs["full_client_errors"], **theirs["incremental_client_errors"]}
    four_xx = (theirs["full_4xx"] + theirs["incremental_4xx"] + sum(theirs["check_client_errors"].values())
               + sum(theirs["discover_client_errors"].values()))
    mismatched = {stream: (theirs["full_by_stream"].get(stream, 0), n)
                  for stream, n in theirs["expected_records"].items() if theirs["full_by_stream"].get(stream, 0) != n}
    return results + [
        Result("peers", f"{CONNECTOR}: full sync API calls / ours", theirs["full_calls"] / ours["full_calls"], "info",
               None, f"{theirs['full_calls']} vs our {ours['full_calls']} ({theirs['full_records']:,} records, "
                     f"{theirs['full_seconds']:.0f}s; check {theirs['check_calls']}, discover {theirs['discover_calls']} "
                     f"more); {about}; by endpoint: {_endpoints(theirs['full_requests'])}"),
        Result("peers", f"{CONNECTOR}: 1%-changed sync API calls / ours",
               theirs["incremental_calls"] / max(ours["incremental_calls"], 1), "info", None,
               f"{theirs['incremental_calls']} vs our {ours['incremental_calls']} for {theirs['changed']} changed "
               f"contacts + as many calls, from the full sync's state ({theirs['incremental_records']:,} records: "
               f"{_endpoints(theirs['incremental_by_stream'])}); by endpoint: "
               f"{_endpoints(theirs['incremental_requests'])}"),
        Result("peers", f"{CONNECTOR}: full-sync records per stream == the portal's", float(len(mismatched)),
               "== 0 off", not mismatched,
               "read " + _endpoints(theirs["full_by_stream"]) + (
                   "" if not mismatched else "; differing (read, portal): "
                   + ", ".join(f"{k} {v}" for k, v in mismatched.items()))),
        Result("peers", f"{CONNECTOR}: 1%-changed sync misses no change", float(sum(map(len, theirs["missed"].values()))),
               "== 0 missed", not theirs["missed"],
               f"{len(theirs['moved']['contacts'])} of the {theirs['changed']} contacts drawn changed (a contact "
               f"drawn the stage it had is no change), {len(theirs['moved']['engagements_calls'])} calls created"
               + ("; every one emitted" if not theirs["missed"] else "; not emitted: " + "; ".join(
                      f"{stream} {', '.join(ids[:10])}" for stream, ids in theirs["missed"].items()))),
        Result("peers", f"{CONNECTOR}: 4xx answers (check, discover, full + 1% sync)", float(four_xx), "== 0",
               four_xx == 0, "none: the connector read the generated portal unchanged" if not four_xx
               else "; ".join(f"{request} x{n}" for request, n in client_errors.items())),
    ]


def _endpoints(counts: dict[str, int]) -> str:
    return ", ".join(f"{name} {n:,}" for name, n in counts.items())


if __name__ == "__main__":
    for result in main(quick="--quick" in sys.argv):
        print(result)
