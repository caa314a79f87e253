"""``handoff``: the command line of hubspot-lead-handoff.

Sub-commands are imported lazily (``handoff --help`` stays fast; Dagster is only imported by commands
that run it). Every failure a user can act on is a ``HandoffError`` and prints one line:
``error: <what went wrong and what to do>``; no traceback reaches the terminal.
"""

from __future__ import annotations

import importlib
import os
import sys
import warnings

import click

from pipeline.errors import HandoffError
from pipeline.settings import redact

# command name -> ("module:attribute", one-line help shown by `handoff --help` without importing it)
LAZY_COMMANDS: dict[str, tuple[str, str]] = {
    "sandbox": ("hubspot_sandbox.cli:sandbox", "Serve or generate an offline HubSpot portal (the sandbox)."),
    "run": ("pipeline.runner_cli:run", "Run the whole job once: materialize every asset, then the SLA sensor's job."),
    "demo": ("pipeline.runner_cli:demo", "What `make demo` runs: `run` on the sandbox, then a summary."),
    "dev": ("pipeline.runner_cli:dev", "Open the Dagster UI (on the sandbox when no token is set)."),
    "routing": ("pipeline.routing.cli:routing", "Backtest or test the routing rules of a policy."),
    "report": ("pipeline.report.cli:report", "Write the offline HTML report."),
    "status": ("pipeline.report.cli:status", "Overdue and at-risk MQLs now, by rep, with time left."),
    "explain": ("pipeline.report.cli:explain", "Why an MQL episode has its SLA status: its touches, and the ones ignored."),
    "sql": ("pipeline.sql_cli:sql", "SQL on the analysts' read-only copy: one query (--csv/--json) or a session."),
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(LAZY_COMMANDS)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, help_text) for name, (_, help_text) in sorted(LAZY_COMMANDS.items())]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        entry = LAZY_COMMANDS.get(cmd_name)
        if entry is None:
            return None
        module_name, attr = entry[0].split(":")
        if module_name.startswith("hubspot_sandbox."):
            from pipeline.sandbox_import import sandbox_module

            module = sandbox_module(module_name.removeprefix("hubspot_sandbox."))
        else:
            module = importlib.import_module(module_name)
        return getattr(module, attr)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="hubspot-lead-handoff", prog_name="handoff")
def cli() -> None:
    """Measure and enforce the HubSpot lead handoff: speed-to-lead, SLA breaches, escalation, routing.

    Configuration comes from the environment: HUBSPOT_ACCESS_TOKEN (absent: the embedded sandbox),
    HUBSPOT_API_BASE, HANDOFF_DB, HANDOFF_NOW, HANDOFF_POLICY, SLACK_WEBHOOK_URL, DAGSTER_HOME.
    """


def main(argv: list[str] | None = None) -> None:
    # dagster's notices about its own beta/preview APIs are for us (the versions are pinned), not for users
    warnings.filterwarnings("ignore", message=r".* is currently in (beta|preview)")
    try:
        cli.main(args=argv, prog_name="handoff", standalone_mode=False)
    except HandoffError as err:
        click.echo(f"error: {redact(str(err))}", err=True)
        sys.exit(1)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
    except click.ClickException as err:
        err.show()
        sys.exit(err.exit_code)
    except click.exceptions.Exit as err:
        sys.exit(err.exit_code)
    except Exception as err:  # a bug, not a user error: still one line unless asked for the traceback
        if os.environ.get("HANDOFF_DEBUG"):
            raise
        first = (str(err).strip().splitlines() or [""])[0]
        click.echo(f"error: unexpected {type(err).__name__}: {redact(first)} "
                   "(rerun with HANDOFF_DEBUG=1 for the traceback, and please report it)", err=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
