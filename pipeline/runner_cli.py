"""``handoff run``, ``handoff demo`` and ``handoff dev``."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from pipeline.runner import DEFAULT_DEMO_CONTACTS, DEFAULT_DEMO_SEED


def _echo(message: str) -> None:
    click.echo(f"[handoff] {message}", err=True)


_snapshot_option = click.option(
    "--snapshot", type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Serve this portal snapshot from the embedded sandbox (default: a generated portal when no token is set).",
)
_contacts_option = click.option("--contacts", default=DEFAULT_DEMO_CONTACTS, show_default=True,
                                help="Size of the generated sandbox portal.")
_seed_option = click.option("--seed", default=DEFAULT_DEMO_SEED, show_default=True,
                            help="Seed of the generated sandbox portal.")


@click.command()
@_snapshot_option
@_contacts_option
@_seed_option
def run(snapshot: Path | None, contacts: int, seed: int) -> None:
    """Run the whole job once: materialize every asset, evaluate the SLA sensor and run what it requests.

    Without HUBSPOT_ACCESS_TOKEN (or with --snapshot) the embedded sandbox starts in-process first.
    HANDOFF_NOW pins the clock; runs land in the Dagster instance at DAGSTER_HOME.
    """
    from pipeline.config_check import validate_config
    from pipeline.runner import run_once
    from pipeline.summary import print_summary

    validate_config()  # before the sandbox starts or any asset runs
    summary = run_once(snapshot=snapshot, contacts=contacts, seed=seed, echo=_echo)
    print_summary(summary)


@click.command()
@_snapshot_option
@_contacts_option
@_seed_option
def demo(snapshot: Path | None, contacts: int, seed: int) -> None:
    """What `make demo` runs: the whole job on the sandbox (or your portal when a token is set), then a summary."""
    from pipeline.config_check import validate_config
    from pipeline.runner import run_once
    from pipeline.summary import print_summary

    validate_config()  # before the sandbox starts or any asset runs
    summary = run_once(snapshot=snapshot, contacts=contacts, seed=seed, echo=_echo)
    print_summary(summary, demo=True)


@click.command()
@_snapshot_option
@_contacts_option
@_seed_option
@click.option("--port", default=3000, show_default=True, help="Port of the Dagster UI.")
def dev(snapshot: Path | None, contacts: int, seed: int, port: int) -> None:
    """Open the Dagster UI (`dagster dev`) on this project; on the sandbox when no token is set."""
    from pipeline.dev_server import run_supervised
    from pipeline.config_check import validate_config
    from pipeline.runner import ensure_dagster_home, sandbox_if_needed

    validate_config()  # before the sandbox and the UI start
    ensure_dagster_home()
    with sandbox_if_needed(snapshot, contacts, seed, _echo):
        from pipeline.workspace import write_workspace

        dagster = Path(sys.executable).with_name("dagster")
        # both code locations (pipeline/workspace.py), run from here as `dagster dev -m` did (relative HANDOFF_DB)
        workspace = write_workspace(Path(os.environ["DAGSTER_HOME"]) / "workspace.yaml", Path.cwd())
        command = [str(dagster), "dev", "-w", str(workspace), "-p", str(port)]
        _echo(f"Dagster UI on http://127.0.0.1:{port} (Ctrl-C stops it and the sandbox)")
        # dagster dev and its children run in their own process group; a Ctrl-C or SIGTERM here stops them all
        run_supervised(command, dict(os.environ), _echo)
