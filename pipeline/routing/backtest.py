"""Replay history through a routing policy: where every past MQL would have gone, the load per rep, and the
difference from what actually happened. Reads the published (read-only) DuckDB copy.

Each episode is routed at its own ``mql_at`` (working hours and daily caps as of then) and counts as open
load for its replayed owner until its real first touch (or ``enforcement_lookback_days`` when never touched).
The roster is today's: owners archived since are treated as inactive for the whole replay.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import polars as pl

from pipeline.errors import HandoffError
from pipeline.policy import Policy
from pipeline.routing.engine import route
from pipeline.sla import facts


@dataclass
class Backtest:
    decisions: pl.DataFrame  # engine decisions + actual_owner_id + changed
    by_rule: pl.DataFrame  # rule, leads, share
    by_rep: pl.DataFrame  # owner_id, name, teams, backtest, actual, difference
    episodes: int
    changed: int
    unrouted: int
    first_mql_at: datetime | None
    last_mql_at: datetime | None

    def as_dict(self) -> dict:
        return {
            "episodes": self.episodes, "would_change_owner": self.changed, "no_owner_available": self.unrouted,
            "first_mql_at": self.first_mql_at.isoformat() if self.first_mql_at else None,
            "last_mql_at": self.last_mql_at.isoformat() if self.last_mql_at else None,
            "by_rule": self.by_rule.to_dicts(), "by_rep": self.by_rep.to_dicts(),
        }


def run_backtest(con, policy: Policy, now: datetime, *, since: datetime | None = None) -> Backtest:
    if not facts.table_exists(con, "marts", "speed_to_lead"):
        raise HandoffError("the database has no marts.speed_to_lead yet: run `handoff run` first")
    leads = facts.leads(con)
    if since is not None:
        leads = leads.filter(pl.col("mql_at") >= since)
    hold = timedelta(days=policy.enforcement_lookback_days)
    leads = leads.with_columns(
        pl.col("mql_at").dt.convert_time_zone("UTC").alias("routed_at"),
        pl.coalesce(pl.col("first_touch_at"), pl.col("mql_at") + hold).dt.convert_time_zone("UTC").alias("release_at"),
        pl.lit(None, dtype=pl.Utf8).alias("missed_owner_id"),  # replay as new leads: nobody has missed them yet
    )
    roster = facts.roster(con)
    decisions = route(leads, roster, policy, None, now=now).join(
        leads.select("mql_id", pl.col("owner_at_mql").alias("actual_owner_id")), on="mql_id", how="left")
    decisions = decisions.with_columns(
        (pl.col("owner_id").is_not_null() & (pl.col("owner_id") != pl.col("actual_owner_id").fill_null("")))
        .alias("changed"))
    n = decisions.height
    by_rule = (decisions.group_by("rule").agg(pl.len().cast(pl.Int64).alias("leads"))
               .with_columns((pl.col("leads") / max(n, 1)).round(4).alias("share"))
               .sort(["leads", "rule"], descending=[True, False]))
    replayed = decisions.group_by("owner_id").agg(pl.len().cast(pl.Int64).alias("backtest"))
    actual = decisions.group_by(pl.col("actual_owner_id").alias("owner_id")).agg(pl.len().cast(pl.Int64).alias("actual"))
    by_rep = (replayed.join(actual, on="owner_id", how="full", coalesce=True)
              .filter(pl.col("owner_id").is_not_null())
              .with_columns(pl.col("backtest").fill_null(0), pl.col("actual").fill_null(0))
              .with_columns((pl.col("backtest") - pl.col("actual")).alias("difference"))
              .join(roster.select("owner_id", "name", pl.col("teams").list.join(", ").alias("teams")),
                    on="owner_id", how="left")
              .select("owner_id", "name", "teams", "backtest", "actual", "difference")
              .sort(["backtest", "owner_id"], descending=[True, False]))
    return Backtest(
        decisions=decisions, by_rule=by_rule, by_rep=by_rep, episodes=n,
        changed=int(decisions["changed"].sum()) if n else 0,
        unrouted=int(decisions["owner_id"].is_null().sum()) if n else 0,
        first_mql_at=leads["mql_at"].min() if n else None, last_mql_at=leads["mql_at"].max() if n else None,
    )
