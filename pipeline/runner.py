"""The whole job once (``handoff run`` / ``handoff demo``): sandbox if needed, every asset, the SLA sensor's job.

Runs in-process against the persistent Dagster instance in ``DAGSTER_HOME``, so every run shows up in the
Dagster UI's run history afterwards.
"""

from __future__ import annotations

import os
import shutil
import time
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
    from dagster._core.utils import make_new_run_id

    from pipeline.run_progress import QUIET_RUN_CONFIG, RunProgress, root_cause

    job = defs.resolve_implicit_global_asset_job_def()
    echo("materializing every asset (extract -> staging -> marts -> checks -> report) ...")
    run_id = make_new_run_id()
    with RunProgress(instance, run_id, echo):
        result = job.execute_in_process(
            instance=instance, raise_on_error=False, run_id=run_id, run_config=QUIET_RUN_CONFIG
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
    with sandbox_if_needed(snapshot, contacts, seed, echo, force=force_sandbox) as sandbox:
        from dagster import DagsterInstance

        with DagsterInstance.get() as instance:
            set_pool_limit(instance)
            run_id, count, checks = materialize_everything(instance, echo)
            echo(f"assets: {count} materialized, checks {checks['passed']} passed / {checks['failed']} failed")
            from pipeline.sla.runner import enforce_once

            echo("SLA sensor: evaluating once and running the enforcement it requests ...")
            # the sandbox demo runs live (PATCH + task in the sandbox); a real portal follows the policy's write_mode
            enforcement = enforce_once(instance, write_mode="live" if sandbox else None)
            for step in enforcement.get("runs", []):
                echo(f"  {step['status']:<9} {step['run_key']}: {step['reason']}")
            for failed in enforcement.get("failed_runs", []):
                echo(f"  FAILED    {failed['run_key']} (run {failed['run_id'][:8]}; see the Dagster UI)")
    return RunSummary(
        sandbox=sandbox, asset_run_id=run_id, assets_materialized=count, checks=checks,
        enforcement=enforcement if isinstance(enforcement, dict) else {"result": enforcement},
        duration_s=time.perf_counter() - started,
    )
