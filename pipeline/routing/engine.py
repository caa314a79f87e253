"""The routing engine: (leads, roster, policy, load) -> one decision per lead. Pure: no I/O, no clock.

Rules are ordered and the first rule that matches *and* has an available owner wins. Matching is
vectorised in polars; owners are then picked lead by lead so a batch is spread across the pool: the
available candidate with the lowest open-MQL load divided by its weight (then fewer new leads today,
then the owner id). Shares come from real load, never from a round-robin index, so adding or removing a
rep does not reset anyone's share. The rep who missed the SLA is never chosen.

Input frames (extra columns are ignored, missing optional ones are treated as null):
- leads: ``mql_id``, ``contact_id``, ``missed_owner_id``, ``country``, ``region``, ``company_country``,
  ``company_region``, ``industry``, ``company_owner_id``, ``inbound`` (bool), optional ``routed_at``
  (UTC datetime; default ``now``) and ``release_at`` (when the lead stops counting as open load, for replays).
- roster: ``owner_id``, ``email``, ``name``, ``active`` (bool), ``teams`` (list of team names), optional ``type``
  (HubSpot's owner type, ``PERSON`` or ``QUEUE``; null = ``PERSON``): a ``QUEUE`` owner is never a candidate.
- load: ``owner_id``, ``open_mqls``, ``assigned_today`` (new leads already routed to the rep on ``now``'s date),
  optional ``last_assigned_at`` (when the rep last received a routed lead).
"""

from __future__ import annotations

import heapq
import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import polars as pl

from pipeline.policy import BusinessHours, Policy, RoutingRule

NEVER = datetime.min.replace(tzinfo=timezone.utc)
LEAD_SCHEMA: dict[str, pl.DataType] = {
    "mql_id": pl.Utf8,
    "contact_id": pl.Utf8,
    "missed_owner_id": pl.Utf8,
    "country": pl.Utf8,
    "region": pl.Utf8,
    "company_country": pl.Utf8,
    "company_region": pl.Utf8,
    "industry": pl.Utf8,
    "company_owner_id": pl.Utf8,
    "inbound": pl.Boolean,
}
ROSTER_SCHEMA: dict[str, pl.DataType] = {
    "owner_id": pl.Utf8,
    "email": pl.Utf8,
    "name": pl.Utf8,
    "active": pl.Boolean,
    "teams": pl.List(pl.Utf8),
    "type": pl.Utf8,
}
DECISION_SCHEMA: dict[str, pl.DataType] = {
    "mql_id": pl.Utf8,
    "contact_id": pl.Utf8,
    "from_owner_id": pl.Utf8,
    "owner_id": pl.Utf8,
    "team": pl.Utf8,
    "rule": pl.Utf8,
    "rule_type": pl.Utf8,
    "reason": pl.Utf8,
    "candidates": pl.Utf8,
    "routed_at": pl.Datetime("us", "UTC"),
}


def _conform(frame: pl.DataFrame, schema: dict[str, pl.DataType]) -> pl.DataFrame:
    missing = [pl.lit(None, dtype=dtype).alias(name) for name, dtype in schema.items() if name not in frame.columns]
    if missing:
        frame = frame.with_columns(missing)
    return frame.with_columns([pl.col(name).cast(dtype) for name, dtype in schema.items()])


def _lower_in(column: str, values: list[str]) -> pl.Expr:
    wanted = [v.strip().lower() for v in values]
    return pl.col(column).str.strip_chars().str.to_lowercase().is_in(wanted).fill_null(False)


def rule_matches(rule: RoutingRule) -> pl.Expr:
    """Does the rule apply to the lead (before looking at owner availability)?"""
    if rule.type == "account_owner":
        return pl.col("company_owner_id").is_not_null() & (pl.col("company_owner_id") != "")
    if rule.type == "territory":
        expr = pl.lit(False)
        if rule.countries:
            expr = expr | _lower_in("country", rule.countries) | _lower_in("company_country", rule.countries)
        if rule.regions:
            expr = expr | _lower_in("region", rule.regions) | _lower_in("company_region", rule.regions)
        return expr
    if rule.type == "industry":
        return _lower_in("industry", rule.industries)
    if rule.type == "inbound":
        return pl.col("inbound").fill_null(False)
    if rule.type == "outbound":
        return ~pl.col("inbound").fill_null(False)
    return pl.lit(True)  # fallback


def in_working_hours(hours: BusinessHours, at: datetime) -> bool:
    local = at.astimezone(ZoneInfo(hours.timezone))
    return local.weekday() in hours.weekday_numbers and hours.start <= local.time() < hours.end


@dataclass
class _Rep:
    owner_id: str
    email: str | None
    name: str | None
    active: bool
    teams: list[str]
    queue: bool = False  # HubSpot owner type QUEUE: never receives a lead
    weight: float = 1.0
    daily_cap: int = 25
    away: bool = False
    working_hours: BusinessHours | None = None
    open_load: int = 0
    manager: bool = False
    last_assigned_at: datetime = NEVER
    assigned_by_day: dict[str, int] = field(default_factory=dict)


class _Roster:
    """Reps keyed by id, reachable by email; live load while a batch is routed."""

    def __init__(self, roster: pl.DataFrame, policy: Policy, load: pl.DataFrame | None, today: str):
        self.reps: dict[str, _Rep] = {}
        self.by_email: dict[str, str] = {}
        for row in _conform(roster, ROSTER_SCHEMA).iter_rows(named=True):
            rep = _Rep(
                owner_id=row["owner_id"], email=row["email"], name=row["name"],
                active=bool(row["active"]), teams=list(row["teams"] or []),
                queue=str(row.get("type") or "PERSON").upper() == "QUEUE",
                daily_cap=policy.routing.default_daily_cap,
            )
            self.reps[rep.owner_id] = rep
            if rep.email:
                self.by_email[rep.email.lower()] = rep.owner_id
        if not policy.routing.route_to_managers:
            managers = policy.managers.recipients()
            for rep in self.reps.values():
                rep.manager = rep.owner_id.lower() in managers or (rep.email or "").lower() in managers
        for key, settings in policy.routing.reps.items():
            rep = self.get(key)
            if rep is None:
                continue
            rep.weight = settings.weight
            rep.away = settings.away
            rep.working_hours = settings.working_hours
            if settings.daily_cap is not None:
                rep.daily_cap = settings.daily_cap
        if load is not None and load.height:
            for row in load.iter_rows(named=True):
                rep = self.reps.get(str(row.get("owner_id")))
                if rep is None:
                    continue
                rep.open_load = int(row.get("open_mqls") or 0)
                rep.assigned_by_day[today] = int(row.get("assigned_today") or 0)
                if row.get("last_assigned_at") is not None:
                    rep.last_assigned_at = row["last_assigned_at"]
        self.releases: list[tuple[datetime, str]] = []  # (release_at, owner_id) min-heap

    def get(self, key: str | None) -> _Rep | None:
        if not key:
            return None
        if key in self.reps:
            return self.reps[key]
        owner_id = self.by_email.get(key.lower())
        return self.reps.get(owner_id) if owner_id else None

    def team(self, name: str) -> list[_Rep]:
        return sorted((r for r in self.reps.values() if name in r.teams), key=lambda r: r.owner_id)

    def release_until(self, at: datetime) -> None:
        while self.releases and self.releases[0][0] <= at:
            _, owner_id = heapq.heappop(self.releases)
            self.reps[owner_id].open_load -= 1


def _day_key(at: datetime, policy: Policy) -> str:
    return at.astimezone(ZoneInfo(policy.business_hours.timezone)).date().isoformat()


def _why_not(rep: _Rep, missed: str | None, at: datetime, day: str, *, from_group: bool) -> str | None:
    if rep.queue:
        return "a queue (HubSpot owner type QUEUE), not a person"
    if not rep.active:
        return "inactive in HubSpot"
    if missed and rep.owner_id == missed:
        return "missed this SLA"
    if from_group and rep.manager:
        return "a manager (policy managers; set routing.route_to_managers to include)"
    if rep.away:
        return "marked away in the policy"
    if rep.working_hours is not None and not in_working_hours(rep.working_hours, at):
        return "outside working hours"
    if rep.assigned_by_day.get(day, 0) >= rep.daily_cap:
        return f"at daily cap ({rep.daily_cap})"
    return None


def _targets(rule: RoutingRule, lead: dict, roster: _Roster) -> tuple[list[_Rep], list[str], str | None]:
    """(candidate reps, keys that match no owner, team name)."""
    if rule.type == "account_owner":
        rep = roster.get(lead["company_owner_id"])
        return ([rep] if rep else []), ([] if rep else [lead["company_owner_id"]]), None
    if rule.team:
        return roster.team(rule.team), [], rule.team
    keys = [rule.owner] if rule.owner else list(rule.pool or [])
    reps, unknown = [], []
    for key in keys:
        rep = roster.get(key)
        (reps.append(rep) if rep else unknown.append(key))
    return reps, unknown, None


def _decide(lead: dict, rule_ids: list[int], policy: Policy, roster: _Roster, at: datetime) -> dict:
    missed = lead["missed_owner_id"]
    day = _day_key(at, policy)
    considered: list[dict] = []
    skipped: list[str] = []
    for index in rule_ids:
        rule = policy.routing.rules[index]
        reps, unknown, team = _targets(rule, lead, roster)
        best: tuple | None = None
        for rep in reps:
            why = _why_not(rep, missed, at, day, from_group=bool(rule.team or rule.pool))
            if rule.type == "account_owner" and why and why.startswith("at daily cap"):
                why = None  # the account's owner keeps the account whatever the day's count
            score = rep.open_load / rep.weight
            considered.append({
                "rule": rule.name, "owner_id": rep.owner_id, "email": rep.email, "open_mqls": rep.open_load,
                "assigned_today": rep.assigned_by_day.get(day, 0), "weight": rep.weight,
                "score": round(score, 6), "available": why is None, "why_not": why,
            })
            if why is None:
                key = (score, rep.assigned_by_day.get(day, 0), rep.last_assigned_at, rep.owner_id)
                if best is None or key < best[0]:
                    best = (key, rep)
        for key in unknown:
            considered.append({"rule": rule.name, "owner_id": None, "email": key, "available": False,
                               "why_not": "not a HubSpot owner"})
        if best is None:
            skipped.append(f"{rule.name}: no available owner")
            continue
        chosen = best[1]
        for entry in considered:
            entry["chosen"] = entry.get("owner_id") == chosen.owner_id and entry["rule"] == rule.name
        chosen.open_load += 1
        chosen.assigned_by_day[day] = chosen.assigned_by_day.get(day, 0) + 1
        chosen.last_assigned_at = at
        if lead.get("release_at") is not None:
            heapq.heappush(roster.releases, (lead["release_at"], chosen.owner_id))
        why = f"{rule.name} ({rule.type})" + (f" -> team {team}" if team else "")
        if skipped:
            why += "; skipped " + "; ".join(skipped)
        return {"owner_id": chosen.owner_id, "team": team, "rule": rule.name, "rule_type": rule.type,
                "reason": why, "candidates": considered}
    reason = "no rule matched" if not rule_ids else "no available owner: " + "; ".join(skipped)
    return {"owner_id": None, "team": None, "rule": "none", "rule_type": None, "reason": reason,
            "candidates": considered}


def route(
    leads: pl.DataFrame,
    roster: pl.DataFrame,
    policy: Policy,
    load: pl.DataFrame | None = None,
    *,
    now: datetime,
) -> pl.DataFrame:
    """One decision row per lead, in ``routed_at`` order (``DECISION_SCHEMA``)."""
    now = now.astimezone(timezone.utc)
    frame = _conform(leads, LEAD_SCHEMA)
    if "routed_at" not in leads.columns:
        frame = frame.with_columns(pl.lit(now).cast(pl.Datetime("us", "UTC")).alias("routed_at"))
    if "release_at" not in leads.columns:
        frame = frame.with_columns(pl.lit(None, dtype=pl.Datetime("us", "UTC")).alias("release_at"))
    rules = policy.routing.rules
    match_exprs = [pl.when(rule_matches(rule)).then(pl.lit(i)).otherwise(None) for i, rule in enumerate(rules)]
    frame = frame.with_columns(
        (pl.concat_list(match_exprs).list.drop_nulls() if match_exprs else pl.lit([], dtype=pl.List(pl.Int64)))
        .alias("_rules")
    ).sort(["routed_at", "mql_id"], nulls_last=True)
    state = _Roster(roster, policy, load, _day_key(now, policy))
    rows = []
    for lead in frame.iter_rows(named=True):
        at = lead["routed_at"] or now
        state.release_until(at)
        decision = _decide(lead, list(lead["_rules"] or []), policy, state, at)
        rows.append({
            "mql_id": lead["mql_id"], "contact_id": lead["contact_id"], "from_owner_id": lead["missed_owner_id"],
            "owner_id": decision["owner_id"], "team": decision["team"], "rule": decision["rule"],
            "rule_type": decision["rule_type"], "reason": decision["reason"],
            "candidates": json.dumps(decision["candidates"], sort_keys=True), "routed_at": at,
        })
    return pl.DataFrame(rows, schema=DECISION_SCHEMA)
