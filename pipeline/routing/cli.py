"""``handoff routing``: try a routing policy before switching it on.

    handoff routing backtest [--policy FILE] [--since DATE] [--json]
    handoff routing test --snapshot FILE [--policy FILE] [--exclude-current-owner] [--json]
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from pipeline.errors import ConfigError

_policy_option = click.option(
    "--policy", "policy_path", type=click.Path(dir_okay=False, path_type=Path),
    help="Policy file to try (default: HANDOFF_POLICY, else the packaged default).")
_json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON instead of tables.")


def _policy(path: Path | None):
    from pipeline.policy import load_policy
    from pipeline.settings import load_settings

    return load_policy(path or load_settings().policy_path)


def _console():
    from rich.console import Console

    return Console()


@click.group()
def routing() -> None:
    """Backtest or test the routing rules of a policy."""


@routing.command()
@_policy_option
@click.option("--since", help="Only MQLs at or after this ISO date/instant (default: all history).")
@_json_option
def backtest(policy_path: Path | None, since: str | None, as_json: bool) -> None:
    """Replay historical MQLs through the policy: where they would have gone, load per rep, and the
    difference from what actually happened (reads the published DuckDB copy)."""
    from rich.table import Table

    from pipeline.report.connection import open_readonly
    from pipeline.routing.backtest import run_backtest
    from pipeline.settings import load_settings, now, parse_instant

    policy = _policy(policy_path)
    settings = load_settings()
    start = parse_instant(since, name="--since") if since else None
    con = open_readonly(settings.published_db_path)
    try:
        result = run_backtest(con, policy, now(), since=start)
    finally:
        con.close()
    if as_json:
        click.echo(json.dumps(result.as_dict(), default=str, indent=2))
        return
    console = _console()
    n = result.episodes
    if not n:
        console.print("no MQL episodes to replay")
        return
    console.print(f"Replayed {n:,} MQL episodes ({result.first_mql_at:%Y-%m-%d} .. {result.last_mql_at:%Y-%m-%d}) "
                  f"through {policy_path or settings.policy_path or 'the default policy'}")
    rules = Table(title="Rule fired")
    for col in ("rule", "leads", "share"):
        rules.add_column(col, justify="left" if col == "rule" else "right")
    for row in result.by_rule.iter_rows(named=True):
        rules.add_row(row["rule"], f"{row['leads']:,}", f"{row['share']:.1%}")
    console.print(rules)
    reps = Table(title="Load per rep: backtest vs actual owner at MQL")
    for col in ("owner", "team", "backtest", "actual", "difference"):
        reps.add_column(col, justify="left" if col in ("owner", "team") else "right")
    for row in result.by_rep.iter_rows(named=True):
        reps.add_row(f"{row['name'] or ''} ({row['owner_id']})", row["teams"] or "", f"{row['backtest']:,}",
                     f"{row['actual']:,}", f"{row['difference']:+,}")
    console.print(reps)
    console.print(f"{result.changed:,} of {n:,} MQLs ({result.changed / n:.1%}) would have gone to a different owner; "
                  f"{result.unrouted:,} found no available owner.")


@routing.command(name="test")
@click.option("--snapshot", "snapshot_path", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Portal snapshot (DOMAIN.md format) whose contacts are the sample leads and owners the roster.")
@_policy_option
@click.option("--exclude-current-owner", is_flag=True,
              help="Route as a reassignment: each lead's current owner is excluded (it missed the SLA).")
@_json_option
def test_rules(snapshot_path: Path, policy_path: Path | None, exclude_current_owner: bool, as_json: bool) -> None:
    """Run sample leads through the rules before going live: owner, rule and candidates per lead."""
    from rich.table import Table

    from pipeline.routing.engine import route
    from pipeline.routing.samples import contact_labels, leads_from_snapshot, roster_from_snapshot
    from pipeline.sandbox_import import sandbox_module
    from pipeline.settings import now

    policy = _policy(policy_path)
    if not policy.routing.rules:
        raise ConfigError("policy has no routing.rules: add at least a fallback rule")
    snapshot = sandbox_module("snapshot").load_snapshot(snapshot_path)
    roster = roster_from_snapshot(snapshot)
    decisions = route(leads_from_snapshot(snapshot, exclude_current_owner=exclude_current_owner), roster,
                      policy, None, now=now())
    labels = contact_labels(snapshot)
    emails = dict(zip(roster["owner_id"], roster["email"]))
    if as_json:
        rows = [dict(d, candidates=json.loads(d["candidates"]), owner_email=emails.get(d["owner_id"]))
                for d in decisions.drop("routed_at").to_dicts()]
        click.echo(json.dumps(rows, indent=2))
        return
    table = Table(title=f"Routing {decisions.height} sample leads from {snapshot_path}")
    for col in ("contact", "owner", "rule", "why"):
        table.add_column(col)
    for d in decisions.iter_rows(named=True):
        owner = f"{emails.get(d['owner_id']) or ''} ({d['owner_id']})" if d["owner_id"] else "-"
        table.add_row(f"{labels.get(d['contact_id'], d['contact_id'])} ({d['contact_id']})", owner, d["rule"],
                      d["reason"])
    _console().print(table)
