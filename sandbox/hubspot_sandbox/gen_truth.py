"""The ground truth of a generated portal, written from what the generator placed (never from the metric SQL).

Each episode's first touch is the earliest of the touches the builder placed in its window; its status,
bucket and ladder steps follow from those instants and the default policy's numbers.
"""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, timedelta, timezone

from pipeline.policy import Policy
from hubspot_sandbox.gen_clock import MS_DAY, MS_MINUTE, BusinessCalendar, iso, minutes_between, month_of
from hubspot_sandbox.gen_records import ContactRecord, EpisodeRecord, response_bucket
from hubspot_sandbox.gen_roster import Roster

BUCKETS = ("<5 min", "5-60 min", "1-4 h", "4-24 h", ">24 h", "never")


def _iso_or_none(ms: int | None) -> str | None:
    return iso(ms) if ms is not None else None


class TruthBook:
    """Collects contact records as they are built; ``result()`` is the truth.json dict."""

    def __init__(self, now_ms: int, roster: Roster, policy: Policy):
        self.now = now_ms
        self.roster = roster
        self.policy = policy
        self.calendar = BusinessCalendar(policy.business_hours)
        self.episodes: list[dict] = []
        self.enforcement: list[dict] = []
        self.leads_by_month: Counter[str] = Counter()
        self.archived: list[str] = []
        self.merged: dict[str, str] = {}
        self.kinds: Counter[str] = Counter()
        self.features: Counter[str] = Counter()
        self.contact_company: dict[str, str] = {}

    def add(self, record: ContactRecord) -> None:
        self.kinds[record.kind] += 1
        if record.excluded == "archived":
            self.archived.append(record.contact_id)
            return
        if record.excluded == "merged":
            self.merged[record.contact_id] = record.merged_into
            return
        if record.company_id is not None:
            self.contact_company[record.contact_id] = record.company_id
        if record.lead_ms is not None:
            self.leads_by_month[month_of(record.lead_ms)] += 1
        if record.stage_skip:
            self.features["stage_skip_contacts"] += 1
        if len(record.episodes) > 1:
            self.features["re_mql_contacts"] += 1
        if record.stage_now in self.policy.lifecycle_stages.mql:
            self.features["contacts_still_mql"] += 1
        for episode in record.episodes:
            self._episode(record, episode)

    def _episode(self, record: ContactRecord, ep: EpisodeRecord) -> None:
        mql_type = "demo_request" if ep.demo else "other"
        sla = self.policy.sla_minutes(mql_type)
        due = ep.mql_ms + sla * MS_MINUTE
        first = min(ep.touches, key=lambda t: t.sort_key) if ep.touches else None
        if first is None:
            status = "overdue" if self.now > due else "pending"
        else:
            status = "met" if first.ts <= due else "breached"
        owner = self.roster.by_id.get(ep.owner_id) if ep.owner_id else None
        mql_id = f"{record.contact_id}:{ep.mql_ms}"
        row = {
            "mql_id": mql_id,
            "contact_id": record.contact_id,
            "mql_at": iso(ep.mql_ms),
            "mql_type": mql_type,
            "owner_id": ep.owner_id,
            "team": owner.team if owner else None,
            "sla_minutes": sla,
            "sla_due_at": iso(due),
            "first_touch_at": _iso_or_none(first.ts if first else None),
            "first_touch_type": first.kind if first else None,
            "first_touch_owner_id": first.owner_id if first else None,
            "first_touch_id": first.id if first else None,
            "minutes_to_first_touch": minutes_between(ep.mql_ms, first.ts) if first else None,
            "business_minutes_to_first_touch": self.calendar.business_minutes(ep.mql_ms, first.ts) if first else None,
            "sla_status": status,
            "attempts": len(ep.touches),
            "sql_at": _iso_or_none(ep.sql_ms),
            "opportunity_at": _iso_or_none(ep.opportunity_ms),
            "customer_at": _iso_or_none(ep.customer_ms),
            "assigned_at": _iso_or_none(ep.assigned_ms),
            "routing_minutes": minutes_between(ep.mql_ms, ep.assigned_ms) if ep.assigned_ms is not None else None,
            "rep_minutes": minutes_between(ep.assigned_ms, first.ts)
            if first is not None and ep.assigned_ms is not None else None,
        }
        self.episodes.append(row)
        still_mql = record.stage_now in self.policy.lifecycle_stages.mql
        if first is None and still_mql and self.now - ep.mql_ms <= self.policy.enforcement_lookback_days * MS_DAY:
            for step in self.policy.overdue_steps():  # the handoff (step 0) is the live lane's
                if self.now >= ep.mql_ms + step.at_sla_multiple * sla * MS_MINUTE:
                    self.enforcement.append({"mql_id": mql_id, "step": step.step})

    def funnel(self) -> list[dict]:
        rows: dict[str, dict] = {}

        def row(month: str) -> dict:
            return rows.setdefault(month, {"month": month, "leads": 0, "mqls": 0, "sql": 0, "opportunity": 0,
                                           "customer": 0})

        for month, count in self.leads_by_month.items():
            row(month)["leads"] = count
        for ep in self.episodes:
            r = row(ep["mql_at"][:7])
            r["mqls"] += 1
            r["sql"] += ep["sql_at"] is not None
            r["opportunity"] += ep["opportunity_at"] is not None
            r["customer"] += ep["customer_at"] is not None
        return [rows[m] for m in sorted(rows)]

    def impact(self) -> list[dict]:
        rows = {b: {"bucket": b, "episodes": 0, "sql": 0, "opportunity": 0} for b in BUCKETS}
        for ep in self.episodes:
            r = rows[response_bucket(ep["minutes_to_first_touch"])]
            r["episodes"] += 1
            r["sql"] += ep["sql_at"] is not None
            r["opportunity"] += ep["opportunity_at"] is not None
        return [rows[b] for b in BUCKETS]

    def reps(self) -> list[dict]:
        """Per owner at MQL (None = unassigned) and UTC week / month / quarter of ``mql_at``, as rep_scorecard's
        grain: volume, touched, median / p90 minutes to first touch (interpolated quantiles), SLA outcomes and
        the SLA-met rate over decided episodes (met + breached + overdue; pending ones have not had their chance)."""
        groups: dict[tuple[str, str, str | None], list[dict]] = {}
        for ep in self.episodes:
            for period in ("week", "month", "quarter"):
                key = (period, period_start(ep["mql_at"], period), ep["owner_id"])
                groups.setdefault(key, []).append(ep)
        out = []
        for (period, start, owner), eps in sorted(groups.items(), key=lambda kv: (kv[0][0], kv[0][1],
                                                                                   kv[0][2] is None, kv[0][2] or "")):
            minutes = sorted(e["minutes_to_first_touch"] for e in eps if e["minutes_to_first_touch"] is not None)
            status = Counter(e["sla_status"] for e in eps)
            decided = len(eps) - status["pending"]
            out.append({
                "period_type": period, "period_start": start, "owner_id": owner, "mqls": len(eps),
                "touched": len(minutes),
                "median_minutes_to_first_touch": quantile(minutes, 0.5),
                "p90_minutes_to_first_touch": quantile(minutes, 0.9),
                "sla_met": status["met"], "sla_breached": status["breached"], "sla_overdue": status["overdue"],
                "sla_pending": status["pending"],
                "sla_met_rate": status["met"] / decided if decided else None,
            })
        return out

    def result(self, counts: dict, distractors: dict) -> dict:
        statuses = Counter(ep["sla_status"] for ep in self.episodes)
        counts = dict(counts)
        counts.update({
            "episodes": len(self.episodes),
            "episodes_by_status": {s: statuses.get(s, 0) for s in ("met", "breached", "overdue", "pending")},
            "demo_request_episodes": sum(ep["mql_type"] == "demo_request" for ep in self.episodes),
            "never_touched_episodes": sum(ep["first_touch_at"] is None for ep in self.episodes),
            "touched_by_other_rep_episodes": sum(
                ep["owner_id"] is not None and ep["first_touch_at"] is not None
                and ep["first_touch_owner_id"] != ep["owner_id"]
                for ep in self.episodes),
            "archived_contacts": len(self.archived),
            "merged_contacts": len(self.merged),
            "enforcement_steps": len(self.enforcement),
            **{k: self.features.get(k, 0) for k in ("re_mql_contacts", "stage_skip_contacts", "contacts_still_mql")},
            "distractors": sum(len(v) for v in distractors.values()),
            "contacts_by_kind": dict(sorted(self.kinds.items())),
        })
        return {
            "now": iso(self.now),
            "policy": "default",
            "episodes": self.episodes,
            "funnel": self.funnel(),
            "impact": self.impact(),
            "enforcement": self.enforcement,
            "reps": self.reps(),
            "counts": counts,
            "excluded_contacts": {"archived": self.archived, "merged": self.merged},
            "distractors": distractors,
            "contact_company": self.contact_company,
        }


def period_start(instant: str, period: str) -> str:
    """The UTC week (ISO, from Monday), month or quarter an ISO instant falls in, as ``YYYY-MM-DD``."""
    day = datetime.fromisoformat(instant.replace("Z", "+00:00")).astimezone(timezone.utc).date()
    if period == "week":
        return (day - timedelta(days=day.weekday())).isoformat()
    if period == "month":
        return day.replace(day=1).isoformat()
    return date(day.year, 3 * ((day.month - 1) // 3) + 1, 1).isoformat()


def quantile(values: list[float], q: float) -> float | None:
    """The continuous (linearly interpolated) quantile of sorted ``values``; None when empty."""
    if not values:
        return None
    position = q * (len(values) - 1)
    lower = int(position)
    upper = min(lower + 1, len(values) - 1)
    return values[lower] + (values[upper] - values[lower]) * (position - lower)
