"""The whole job once (``handoff run`` / ``handoff demo``): sandbox if needed, every asset, the SLA sensor's job.

Runs in-process against the persistent Dagster instance in ``DAGSTER_HOME``, so every run shows up in the
Dagster UI's run history afterwards.
"""

from __future__ import annotations

import os
import shutil
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.errors import HandoffError
from pipeline.sandbox_import import sandbox_module
from pipeline.settings import load_settings, redact, temporary_env

REPO_DAGSTER_YAML = Path(__file__).resolve().parents[1] / "dagster.yaml"
DEFAULT_DEMO_CONTACTS = 2000
DEFAULT_DEMO_SEED = 7
SANDBOX_TOKEN = "sandbox-token"

Echo = Callable[[str], None]


@dataclass
class SandboxInfo:
    base_url: str
    source: str  # "snapshot <path>" or "generated <n> contacts, seed <s>"
    portal_now: str | None


@dataclass
class RunSummary:
    sandbox: SandboxInfo | None
    asset_run_id: str
    assets_materialized: int
    checks: dict[str, int]
    enforcement: dict = field(default_factory=dict)
    duration_s: float = 0.0
    recovered: list[dict] = field(default_factory=list)  # crashed runs this run marked failed (pipeline.recovery)
    resumed: dict = field(default_factory=dict)  # what this run resumed after them


def ensure_dagster_home() -> Path:
    """Create ``DAGSTER_HOME`` (default ``.dagster/``) with the project's dagster.yaml when it has none."""
    home = Path(os.environ.get("DAGSTER_HOME", "").strip() or ".dagster").resolve()
    home.mkdir(parents=True, exist_ok=True)
    os.environ["DAGSTER_HOME"] = str(home)
    target = home / "dagster.yaml"
    if not target.exists() and REPO_DAGSTER_YAML.exists():
        shutil.copyfile(REPO_DAGSTER_YAML, target)
    return home


def set_pool_limit(instance, pool: str = "duckdb_write", limit: int = 1) -> None:
    """One DuckDB writer at a time, across runs (dagster.yaml's default_limit says the same)."""
    try:
        instance.event_log_storage.set_concurrency_slots(pool, limit)
    except Exception:  # storages without op concurrency support keep dagster.yaml's default
        pass


@contextmanager
def sandbox_if_needed(
    snapshot: Path | None, contacts: int, seed: int, echo: Echo, *, force: bool = False
) -> Iterator[SandboxInfo | None]:
    """Start the embedded sandbox when there is no token (or a snapshot is given); point the env at it."""
    settings = load_settings()
    if not (force or snapshot or settings.uses_sandbox):
        echo(f"HubSpot: {settings.api_base} (token from HUBSPOT_ACCESS_TOKEN)")
        yield None
        return
    Portal = sandbox_module("portal").Portal
    run_in_thread = sandbox_module("server").run_in_thread

    if snapshot:
        echo(f"sandbox: loading snapshot {snapshot} ...")
        data = sandbox_module("snapshot").load_snapshot(snapshot)
        source = f"snapshot {snapshot}"
    else:
        echo(f"sandbox: generating a portal of {contacts:,} contacts (seed {seed}) ...")
        data, _truth = sandbox_module("generator").generate_portal(contacts=contacts, seed=seed)
        source = f"generated {contacts:,} contacts, seed {seed}"
    portal_now = (data.get("portal") or {}).get("now")
    # load_snapshot validated the file and the generator's output is valid by construction: no second pass,
    # and the portal takes the objects over instead of copying them (half the memory on big portals)
    portal = Portal.from_snapshot(data, validate=False, owned=True)
    with run_in_thread(portal, port=0, token=SANDBOX_TOKEN) as handle:
        overrides = {"HUBSPOT_API_BASE": handle.base_url, "HUBSPOT_ACCESS_TOKEN": handle.token}
        if portal_now and not os.environ.get("HANDOFF_NOW"):
            # a sandbox portal is a picture "as of" its own now: pin the clock to it unless the user did
            overrides["HANDOFF_NOW"] = portal_now
            echo(f"sandbox: clock pinned to the portal's time, HANDOFF_NOW={portal_now}")
        echo(f"sandbox: serving {source} at {handle.base_url}")
        with temporary_env(overrides):
            yield SandboxInfo(base_url=handle.base_url, source=source, portal_now=portal_now)


def materialize_everything(instance, echo: Echo) -> tuple[str, int, dict[str, int]]:
    """Execute the implicit all-assets job (assets + asset checks) in-process. Returns run id, count, checks."""
    import dagster as dg

    from pipeline.definitions import build_definitions

    defs = build_definitions()
    from pipeline.recovery import process_tags
    from pipeline.run_progress import QUIET_RUN_CONFIG, RunProgress, root_cause

    job = defs.resolve_implicit_global_asset_job_def()
    echo("materializing every asset (extract -> staging -> marts -> checks -> report) ...")
    run_id = str(uuid.uuid4())  # what Dagster's own run ids are; known before the run so progress can follow it
    with RunProgress(instance, run_id, echo):
        result = job.execute_in_process(
            instance=instance, raise_on_error=False, run_id=run_id, run_config=QUIET_RUN_CONFIG,
            tags=process_tags(),  # pid/host/start time: a later run can tell if this process is gone
        )
    materialized = [
        e for e in result.all_events if e.event_type_value == dg.DagsterEventType.ASSET_MATERIALIZATION.value
    ]
    checks = {"passed": 0, "failed": 0}
    for event in result.all_events:
        if event.event_type_value == dg.DagsterEventType.ASSET_CHECK_EVALUATION.value:
            passed = event.event_specific_data.passed
            checks["passed" if passed else "failed"] += 1
    if not result.success:
        failed = [e for e in result.all_events if e.event_type_value == dg.DagsterEventType.STEP_FAILURE.value]
        first = failed[0] if failed else None
        why = root_cause(first.step_failure_data.error) if first is not None and first.step_failure_data else ""
        step = first.step_key if first is not None else "?"
        raise HandoffError(
            f"asset run {result.run_id[:8]} failed at step {step}: {redact(why) or 'see the run in the Dagster UI'} "
            f"(full logs: `handoff dev`, Runs tab)"
        )
    return result.run_id, len(materialized), checks


def run_once(
    *, snapshot: Path | None = None, contacts: int = DEFAULT_DEMO_CONTACTS, seed: int = DEFAULT_DEMO_SEED,
    echo: Echo = print, force_sandbox: bool = False,
) -> RunSummary:
    """Materialize every asset, then evaluate the SLA sensor once and run what it requests."""
    started = time.perf_counter()
    ensure_dagster_home()
    from pipeline import dblock

    dblock.probe(load_settings().db_path, echo=echo)  # a file held by another process: say so before anything else
    with sandbox_if_needed(snapshot, contacts, seed, echo, force=force_sandbox) as sandbox:
        from dagster import DagsterInstance

        with DagsterInstance.get() as instance:
            from pipeline.recovery import Heartbeat, recover_stale_runs, wait_for_pool

            who = f"handoff run (pid {os.getpid()})"
            # before any work waits on them: runs whose process is gone are failed and their slots freed
            recovered = recover_stale_runs(instance, recovered_by=who, echo=echo)
            set_pool_limit(instance)
            db_path = load_settings().db_path
            with Heartbeat(instance):
                wait_for_pool(instance, echo, recovered_by=who, recovered=recovered)
                dblock.probe(db_path, echo=echo)
                run_id, count, checks = materialize_everything(instance, echo)
                echo(f"assets: {count} materialized, checks {checks['passed']} passed / {checks['failed']} failed")
                from pipeline.sla.runner import enforce_once

                echo("SLA sensor: evaluating once and running the enforcement it requests ...")
                wait_for_pool(instance, echo, recovered_by=who, recovered=recovered)
                dblock.probe(db_path, echo=echo)
                # the sandbox demo runs live (PATCH + task in the sandbox); a real portal follows the policy's write_mode
                enforcement = enforce_once(instance, write_mode="live" if sandbox else None)
            for step in enforcement.get("runs", []):
                echo(f"  {step['status']:<9} {step['run_key']}: {step['reason']}")
            for failed in enforcement.get("failed_runs", []):
                echo(f"  FAILED    {failed['run_key']} (run {failed['run_id'][:8]}; see the Dagster UI)")
            resumed = resumed_after_crash(instance, run_id, recovered, enforcement) if recovered else {}
    return RunSummary(
        sandbox=sandbox, asset_run_id=run_id, assets_materialized=count, checks=checks,
        enforcement=enforcement if isinstance(enforcement, dict) else {"result": enforcement},
        duration_s=time.perf_counter() - started,
        recovered=[item.as_dict() for item in recovered], resumed=resumed,
    )


# what the extraction logs when it removes the rows of a load dlt never completed (assets/hubspot_raw.py)
DROPPED_LOAD_MESSAGE = "removed the rows of a load that never completed"


def resumed_after_crash(instance, run_id: str, recovered: list, enforcement: dict) -> dict:
    """What this run did for the crashed ones: steps re-run, raw rows of unfinished loads removed, ladder
    steps finished; written onto each crashed run (tag ``handoff/resumed``) for ``handoff status``."""
    from pipeline.recovery import record_resumed

    dropped: list[str] = []
    for entry in instance.all_logs(run_id):
        message = entry.user_message or ""
        if entry.dagster_event is None and message.startswith(DROPPED_LOAD_MESSAGE):
            dropped.append(message.split(": ", 1)[-1])
    recovery = (enforcement or {}).get("recovery") or {}
    resumed = {
        "by_run": run_id,
        "completed_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "steps_rerun": sorted({step for item in recovered for step in item.steps_in_flight}),
        "incomplete_loads_removed": "; ".join(dropped),
        "enforcement_steps_resumed": [f"{r['mql_id']}:{r['step']} -> {r['status']}"
                                      for r in recovery.get("resumed_steps", [])],
        "interrupted_deliveries": recovery.get("interrupted_deliveries", 0),
    }
    record_resumed(instance, recovered, resumed)
    return resumed
