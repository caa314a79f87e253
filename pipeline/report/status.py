"""``handoff status`` data: untouched MQL episodes now, overdue or at risk, grouped by rep with time left."""

from __future__ import annotations

from datetime import datetime

import duckdb

from pipeline.policy import Policy
from pipeline.report import queries


def classify(minutes_left: float, sla_minutes: float, at_risk_fraction: float) -> str:
    """``overdue`` past due, ``at_risk`` when at most ``at_risk_fraction`` of the SLA is left, else ``on_track``."""
    if minutes_left < 0:
        return "overdue"
    if minutes_left <= at_risk_fraction * sla_minutes:
        return "at_risk"
    return "on_track"


def status_snapshot(
    con: duckdb.DuckDBPyConnection,
    now: datetime,
    policy: Policy,
    *,
    at_risk_fraction: float = 0.5,
    include_on_track: bool = False,
) -> dict:
    """Everything ``handoff status`` shows, as plain data (the ``--json`` output)."""
    rows, older = queries.open_episodes(con, now, policy.enforcement_lookback_days, policy.mql_stages())
    names = queries.owner_names(con)
    pid = queries.portal_id(con)
    ladder = queries.ladder_steps(con)
    reps: dict[str | None, dict] = {}
    totals = {"overdue": 0, "at_risk": 0, "on_track": 0}
    for row in rows:
        state = classify(row["minutes_left"], row["sla_minutes"], at_risk_fraction)
        totals[state] += 1
        if state == "on_track" and not include_on_track:
            continue
        owner_id = row["owner_id"]
        rep = reps.setdefault(
            owner_id,
            {
                "owner_id": owner_id,
                "owner": names.get(owner_id, owner_id) if owner_id else "(unassigned)",
                "team": row["team"],
                "overdue": 0,
                "at_risk": 0,
                "on_track": 0,
                "episodes": [],
            },
        )
        rep[state] += 1
        rep["episodes"].append(
            {
                "mql_id": row["mql_id"],
                "contact_id": row["contact_id"],
                "mql_type": row["mql_type"],
                "state": state,
                "mql_at": row["mql_at"].isoformat(),
                "sla_due_at": row["sla_due_at"].isoformat(),
                "minutes_left": float(row["minutes_left"]),
                "ladder": ladder.get(row["mql_id"]),
                "url": policy.hubspot.contact_url(row["contact_id"], pid),
            }
        )
    ordered = sorted(reps.values(), key=lambda r: (-r["overdue"], -r["at_risk"], r["owner"]))
    built = queries.computed_at(con)
    return {
        "now": now.isoformat(),
        "data_as_of": built.isoformat() if built else None,
        "lookback_days": policy.enforcement_lookback_days,
        "at_risk_fraction": at_risk_fraction,
        "totals": totals,
        "older_untouched_not_shown": older,
        "reps": ordered,
    }


def format_minutes(minutes: float) -> str:
    """``95.5`` -> ``1h 35m left``; negative -> ``overdue 1h 35m``."""
    whole = int(round(abs(minutes)))
    days, rest = divmod(whole, 1440)
    hours, mins = divmod(rest, 60)
    parts = ([f"{days}d"] if days else []) + ([f"{hours}h"] if hours or days else []) + [f"{mins}m"]
    text = " ".join(parts)
    return f"overdue {text}" if minutes < 0 else f"{text} left"
