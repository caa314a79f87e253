"""``handoff report``, ``handoff status`` and ``handoff explain``: read the published copy read-only."""

from __future__ import annotations

import json
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from pipeline.policy import load_policy
from pipeline.report.connection import open_readonly, require_table
from pipeline.settings import load_settings, now as clock_now

DB_HELP = "DuckDB file to read (default: the published read-only copy beside HANDOFF_DB)"


def _open(db: str | None):
    settings = load_settings()
    path = Path(db) if db else settings.published_db_path
    con = open_readonly(path)
    require_table(con, "marts", "speed_to_lead", path)
    return con, settings


def _print_json(data: dict) -> None:
    click.echo(json.dumps(data, indent=2, default=str))


def _short(iso: str | None) -> str:
    return iso[:16].replace("T", " ") if iso else ""


@click.command()
@click.option("--out", "out", type=click.Path(dir_okay=False), default="out/handoff_report.html", show_default=True,
              help="HTML file to write")
@click.option("--db", type=click.Path(dir_okay=False), default=None, help=DB_HELP)
@click.option("--quiet", is_flag=True, help="no progress bar")
def report(out: str, db: str | None, quiet: bool) -> None:
    """Write the offline HTML report (one self-contained file, charts included)."""
    from pipeline.report.html import write_report

    con, settings = _open(db)
    policy = load_policy(settings.policy_path)
    result = write_report(con, Path(out), clock_now(), policy, progress=not quiet)
    click.echo(f"wrote {result.path} ({result.size_bytes / 1e6:.1f} MB, {len(result.sections)} sections, "
               f"{result.episodes} episodes)")


@click.command()
@click.option("--json", "as_json", is_flag=True, help="machine-readable output")
@click.option("--all", "show_all", is_flag=True, help="also list episodes still on track")
@click.option("--at-risk", "at_risk_fraction", type=click.FloatRange(0, 1), default=0.5, show_default=True,
              help="at risk when at most this fraction of the SLA is left")
@click.option("--db", type=click.Path(dir_okay=False), default=None, help=DB_HELP)
def status(as_json: bool, show_all: bool, at_risk_fraction: float, db: str | None) -> None:
    """Overdue and at-risk MQLs now, by rep, with time left."""
    from pipeline.report.status import print_status, status_snapshot

    con, settings = _open(db)
    policy = load_policy(settings.policy_path)
    data = status_snapshot(con, clock_now(), policy, at_risk_fraction=at_risk_fraction, include_on_track=show_all)
    from pipeline.report.crash_status import recovered_crashes_section
    from pipeline.report.handoffs import handoff_summary  # the live lane's section

    data["handoffs"] = handoff_summary(Path(db) if db else settings.db_path, clock_now())
    data["recovered_crashes"] = recovered_crashes_section()  # runs killed mid-way, and what resumed them
    if as_json:
        _print_json(data)
        return
    print_status(Console(highlight=False), data)


@click.command()
@click.argument("mql_id")
@click.option("--json", "as_json", is_flag=True, help="machine-readable output")
@click.option("--db", type=click.Path(dir_okay=False), default=None, help=DB_HELP)
def explain(mql_id: str, as_json: bool, db: str | None) -> None:
    """Why an MQL episode has its SLA status: its touches, and the engagements ignored and why."""
    from pipeline.report.explain import explain_episode

    con, settings = _open(db)
    data = explain_episode(con, mql_id, clock_now(), load_policy(settings.policy_path))
    if as_json:
        _print_json(data)
        return
    ep = data["episode"]
    console = Console(highlight=False)
    console.print(f"[bold]{ep['mql_id']}[/] contact {ep['contact_id']} ({ep['mql_type']}), owner "
                  f"{ep['owner'] or '(unassigned)'} / {ep['team'] or '(no team)'}")
    console.print(f"MQL at {_short(ep['mql_at'])} UTC, SLA {ep['sla_minutes']} min, due {_short(ep['sla_due_at'])} UTC; "
                  f"{ep['attempts']} attempts counted by the last build; {ep['url']}")
    console.print(f"[bold]{data['explanation']}[/]")
    if ep["ladder"]:
        console.print(f"escalation ladder (as of this copy): {ep['ladder']}")
    for title, rows, last in (("Touches (counted)", data["touches"], "first"),
                              ("Ignored engagements", data["ignored"], "reason")):
        table = Table(title=f"{title}: {len(rows)}", title_justify="left")
        for name in ("at (UTC)", "type", "id", "owner", "detail", last):
            table.add_column(name)
        for row in rows:
            tail = ("first touch" if row["first_touch"] else "") if last == "first" else row["reason"]
            table.add_row(_short(row["at"]), row["type"], row["id"], row["owner"] or "", row["detail"] or "", tail)
        console.print(table)
