"""``handoff status`` data: untouched MQL episodes now, overdue or at risk, grouped by rep with time left."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

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
        "include_on_track": include_on_track,
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


# ------------------------------------------------------------------ terminal layout
# `handoff status` prints one section after another; each section is a function (console, data) -> None in
# STATUS_SECTIONS (other parts of the product append theirs). `--json` prints the data with every detail.

STATE_STYLES = {"overdue": "bold red", "at_risk": "yellow", "on_track": "green"}
WIDE = 140  # from this width every column is shown


def _short(iso: str | None) -> str:
    return iso[:16].replace("T", " ") if iso else ""


# the episode table's columns: (name, priority, wraps, cell); lower priority = kept on narrower terminals.
# At 80 columns: rep, state, time left, type and mql_id (what `handoff explain` takes); wider adds the
# escalation, due time, team and contact.
EPISODE_COLUMNS: list[tuple[str, int, bool, Callable[[dict, dict], str]]] = [
    ("rep", 0, True, lambda rep, ep: rep["owner"]),
    ("team", 4, True, lambda rep, ep: rep["team"] or ""),
    ("state", 0, False, lambda rep, ep: f"[{STATE_STYLES[ep['state']]}]{ep['state'].replace('_', ' ')}[/]"),
    ("time left", 0, False, lambda rep, ep: format_minutes(ep["minutes_left"])),
    ("type", 1, False, lambda rep, ep: "demo" if ep["mql_type"] == "demo_request" else ep["mql_type"]),
    ("due (UTC)", 3, False, lambda rep, ep: _short(ep["sla_due_at"])),
    ("mql_id", 0, False, lambda rep, ep: ep["mql_id"]),
    ("contact", 5, False, lambda rep, ep: f"[link={ep['url']}]{ep['contact_id']}[/link]"),
    ("escalation", 2, True, lambda rep, ep: ep["ladder"] or ""),
]
MIN_WRAPPED = 10  # a wrapping column never gets narrower than this


def _plain_width(text: str) -> int:
    from rich.text import Text

    return Text.from_markup(text).cell_len


def choose_columns(data: dict, width: int) -> list[str]:
    """The episode columns that fit ``width`` (all of them from ``WIDE`` on), in display order."""
    episodes = [(rep, ep) for rep in data["reps"] for ep in rep["episodes"]]
    with_ladder = any(ep["ladder"] for _, ep in episodes)
    candidates = [c for c in EPISODE_COLUMNS if c[0] != "escalation" or with_ladder]
    if width >= WIDE:
        return [c[0] for c in candidates]

    def needed(column) -> int:
        name, _, wraps, cell = column
        widest = max([len(name), *(_plain_width(cell(rep, ep)) for rep, ep in episodes)])
        return min(widest, max(MIN_WRAPPED, len(name))) if wraps else widest

    chosen: list = []
    for level in sorted({c[1] for c in candidates}):
        trial = [c for c in candidates if c[1] <= level]
        # rich's default box: one border column plus two padding columns per cell, and a final border
        if level > 0 and sum(needed(c) for c in trial) + 3 * len(trial) + 1 > width:
            break
        chosen = trial
    return [c[0] for c in chosen]


def episodes_section(console, data: dict) -> None:
    """The table of waiting episodes by rep, with the columns that fit the terminal."""
    from rich.table import Table

    if not data["reps"]:
        return
    names = choose_columns(data, console.width)
    columns = [c for c in EPISODE_COLUMNS if c[0] in names]
    title = f"MQLs waiting for a first touch at {_short(data['now'])} UTC (data as of {_short(data['data_as_of'])})"
    table = Table(title=title, title_justify="left")
    for name, _, wraps, _cell in columns:
        table.add_column(name, no_wrap=not wraps, min_width=MIN_WRAPPED if wraps else None,
                         overflow="fold" if wraps else "ellipsis")
    for rep in data["reps"]:
        for i, ep in enumerate(rep["episodes"]):
            cells = [cell(rep, ep) for _, _, _, cell in columns]
            if i:  # the rep and team once per group
                cells = ["" if name in ("rep", "team") else text for (name, *_), text in zip(columns, cells)]
            table.add_row(*cells, end_section=i == len(rep["episodes"]) - 1)
    console.print(table)
    hidden = [name for name, *_ in EPISODE_COLUMNS if name not in names
              and (name != "escalation" or any(ep["ladder"] for r in data["reps"] for ep in r["episodes"]))]
    sample = data["reps"][0]["episodes"][0]
    links = f"contact records: {sample['url'].rsplit('/', 1)[0]}/<contact>"
    console.print(f"{links}; not shown at this width: {', '.join(hidden)} (--json has everything)" if hidden
                  else f"{links} (links in --json)")


def totals_section(console, data: dict) -> None:
    """How many episodes are overdue / at risk / on track, and how many older ones are not listed."""
    totals = data["totals"]
    hidden = "" if data.get("include_on_track") else " (--all lists them)"
    console.print(f"{totals['overdue']} overdue, {totals['at_risk']} at risk, {totals['on_track']} on track{hidden}; "
                  f"MQLs of the last {data['lookback_days']:g} days with no touch yet")
    if data["older_untouched_not_shown"]:
        console.print(f"{data['older_untouched_not_shown']} older untouched MQLs are not listed "
                      "(beyond enforcement_lookback_days; see the report's breaches list)")


def handoffs_section(console, data: dict) -> None:
    """The live lane: handoffs done and pending (pipeline/report/handoffs.py)."""
    from pipeline.report.handoffs import handoff_lines

    if "handoffs" in data:
        for line in handoff_lines(data["handoffs"]):
            console.print(line)


def crashes_section(console, data: dict) -> None:
    """Runs killed mid-way in the last days and what resumed them (pipeline/report/crash_status.py)."""
    from pipeline.report.crash_status import crash_lines

    if "recovered_crashes" in data:
        for line in crash_lines(data["recovered_crashes"]):
            console.print(line, soft_wrap=True, markup=False)


STATUS_SECTIONS: list[Callable[[Any, dict], None]] = [episodes_section, totals_section, handoffs_section,
                                                      crashes_section]


def print_status(console, data: dict) -> None:
    """``handoff status`` for a terminal: every section of ``STATUS_SECTIONS`` in order."""
    for section in STATUS_SECTIONS:
        section(console, data)
