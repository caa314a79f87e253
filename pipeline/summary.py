"""The closing summary of ``handoff run`` / ``handoff demo``: what ran, the headline numbers, where things are."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import duckdb
from rich.console import Console
from rich.table import Table

from pipeline.runner import RunSummary
from pipeline.settings import load_settings


def headline_numbers(db: Path) -> dict:
    """SLA outcome counts and median response from the published copy (read-only, closed at once)."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        rows = con.execute(
            "select sla_status, count(*) from marts.speed_to_lead group by 1"
        ).fetchall()
        median = con.execute(
            "select median(minutes_to_first_touch), "
            "median(minutes_to_first_touch) filter (where mql_type = 'demo_request') "
            "from marts.speed_to_lead"
        ).fetchone()
    finally:
        con.close()
    by_status = {status: count for status, count in rows}
    return {"by_status": by_status, "episodes": sum(by_status.values()), "median_minutes": median[0],
            "median_demo_minutes": median[1]}


def alert_counts(db: Path) -> dict[str, int]:
    """Alerts by delivery status from the live lane's database beside ``db`` (``ops.*`` live there:
    pipeline/sla/lane_db.py); the run is over, so no writer holds it."""
    from pipeline.sla.lane_db import lane_db_path

    db = lane_db_path(db)
    if not db.exists():
        return {}
    con = duckdb.connect(str(db), read_only=True)
    try:
        if not _has_table(con, "ops", "alerts"):
            return {}
        return dict(con.execute("select status, count(*) from ops.alerts group by 1 order by 1").fetchall())
    finally:
        con.close()


def _has_table(con, schema: str, table: str) -> bool:
    return con.execute(
        "select count(*) from information_schema.tables where table_schema = ? and table_name = ?", [schema, table]
    ).fetchone()[0] > 0


def _minutes(value) -> str:
    if value is None:
        return "-"
    return f"{value:,.0f} min" if value < 120 else f"{value / 60:,.1f} h"


def add_recovered_row(table: Table, summary: RunSummary) -> None:
    """Crashed runs this run found (process gone), marked failed, and resumed (pipeline.recovery)."""
    if not summary.recovered:
        return
    from pipeline.report.crash_status import describe

    texts = [describe({**item, "resumed": summary.resumed or None}) for item in summary.recovered]
    table.add_row("recovered", "\n".join(texts))


def print_summary(summary: RunSummary, *, demo: bool = False) -> None:
    console = Console() if sys.stdout.isatty() else Console(width=120)
    settings = load_settings()
    table = Table(title=f"hubspot-lead-handoff: run complete in {summary.duration_s:,.1f} s",
                  show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column()
    if summary.sandbox:
        table.add_row("HubSpot", f"embedded sandbox ({summary.sandbox.source}), stopped after the run")
    else:
        table.add_row("HubSpot", settings.api_base)
    table.add_row("clock", os.environ.get("HANDOFF_NOW") or (summary.sandbox.portal_now if summary.sandbox and
                                                             summary.sandbox.portal_now else "real time"))
    table.add_row("assets", f"{summary.assets_materialized} materialized in run {summary.asset_run_id[:8]}; "
                            f"checks {summary.checks['passed']} passed, {summary.checks['failed']} failed")
    published = settings.published_db_path
    if published.exists():
        numbers = headline_numbers(published)
        total = max(numbers["episodes"], 1)
        parts = ", ".join(
            f"{status} {numbers['by_status'].get(status, 0):,} ({100 * numbers['by_status'].get(status, 0) / total:.1f}%)"
            for status in ("met", "breached", "overdue", "pending")
        )
        table.add_row("MQL episodes", f"{numbers['episodes']:,}: {parts}")
        table.add_row("median response", f"{_minutes(numbers['median_minutes'])} "
                                         f"(demo requests {_minutes(numbers['median_demo_minutes'])})")
    enforcement = summary.enforcement or {}
    if enforcement:
        outcomes = ", ".join(f"{status} {count}" for status, count in sorted(enforcement.get("outcomes", {}).items()))
        text = f"{enforcement.get('requested', 0)} ladder steps run ({outcomes or 'nothing due'})"
        if enforcement.get("skipped_existing"):
            text += f"; {enforcement['skipped_existing']} already done earlier"
        if enforcement.get("failed_runs"):
            text += f"; {len(enforcement['failed_runs'])} FAILED (see the Dagster UI)"
        if enforcement.get("skip_reason") and not enforcement.get("requested"):
            text += f"; sensor: {enforcement['skip_reason']}"
        table.add_row("SLA enforcement", text)
    add_recovered_row(table, summary)
    alerts = alert_counts(settings.db_path)
    if alerts:
        by_status = ", ".join(f"{status} {count}" for status, count in alerts.items())
        slack = "delivered to SLACK_WEBHOOK_URL" if settings.slack_webhook_url else "Slack not configured"
        table.add_row("alerts", f"{sum(alerts.values()):,} in ops.alerts ({by_status}; {slack})")
    table.add_row("database", f"{settings.db_path} (pipeline writes here)")
    table.add_row("analysts", f"handoff sql  (read-only SQL on {published}; any DuckDB 2.x client can open it)")
    from assets.reports import ReportConfig

    report = Path(ReportConfig.model_fields["out"].default)
    if report.exists():
        table.add_row("report", f"{report}  (offline HTML; also `handoff report --out FILE`)")
    table.add_row("Dagster UI", "make dev  (run history and sensor cursors in DAGSTER_HOME="
                                f"{os.environ.get('DAGSTER_HOME', '.dagster')})")
    console.print(table)
    if demo:
        pinned = ""
        if summary.sandbox and summary.sandbox.portal_now:
            # the sandbox portal is "as of" its own now: ask about it at that instant, not today
            pinned = f"HANDOFF_NOW={summary.sandbox.portal_now} "
        console.print(f"next: `make dev` for the Dagster UI; `{pinned}.venv/bin/handoff status` for the MQLs waiting "
                      f"now; `{pinned}.venv/bin/handoff explain MQL_ID` for why one has its status; "
                      f"`{pinned}.venv/bin/handoff report` to rewrite the HTML report.")
