"""One contact at a time: lifecycle, owner and conversion-event histories and the contact object
(its outreach comes from gen_outreach.py, its conversions and deals from gen_conversion.py).

``ContactBuilder.build(spec)`` emits the contact object(s), deals and engagements through sinks and returns
``ContactRecord``s holding what was built (MQL instants, the touches placed per episode, conversions): the
construction-time facts the ground truth is written from.
"""

from __future__ import annotations

import math
import random

from pipeline.policy import BusinessHours, Policy
from hubspot_sandbox import gen_stages
from hubspot_sandbox.gen_activity import ActivityLog
from hubspot_sandbox.gen_boundaries import mql_instant
from hubspot_sandbox.gen_catalog import (
    ANALYTICS_SOURCES, COUNTRIES, DEMO_EVENTS, FIRST_NAMES, JOB_TITLES, LAST_NAMES, NURTURE_EVENTS,
    OTHER_MQL_EVENTS,
)
from hubspot_sandbox.gen_clock import MS_DAY, MS_HOUR, MS_MINUTE, MS_SECOND, BusinessCalendar, iso
from hubspot_sandbox.gen_companies import Company
from hubspot_sandbox.gen_conversion import ConversionMixin
from hubspot_sandbox.gen_outreach import OutreachMixin
from hubspot_sandbox.gen_records import ContactRecord, EpisodeRecord, Histories
from hubspot_sandbox.gen_roster import Owner, Roster
from hubspot_sandbox.gen_scenarios import Spec
from hubspot_sandbox.gen_web_activity import web_properties

DEAL_ID_BASE = 7_000_000
HISTORY_WINDOW_MS = 548 * MS_DAY  # ~6 quarters of MQLs before now
TEAM_ZONES = {"North America": "America/New_York", "EMEA": "Europe/London", "APAC": "Asia/Singapore",
              "Fintech": "America/New_York"}


class ContactBuilder:
    def __init__(self, rng: random.Random, now_ms: int, roster: Roster, companies: list[Company],
                 activity: ActivityLog, emit_contact, emit_deal, policy: Policy, *,
                 extra_rng: random.Random | None = None, custom_stages: bool = False):
        self.rng = rng
        # draws for the features added later (several companies, custom stages, booked meetings) come from their
        # own stream, so the rest of a portal is what the same seed always made
        self.extra = extra_rng or random.Random(0)
        self.custom_stages = custom_stages
        self.stage_features: dict[str, int] = {"custom_stage_entries": 0, "mql_entries_not_opening": 0}
        self.company_features: dict[str, int] = {"multi_company_contacts": 0, "unlabelled_multi_company_contacts": 0}
        self.now = now_ms
        self.roster = roster
        self.companies = companies
        self.activity = activity
        self.emit_contact = emit_contact
        self.emit_deal = emit_deal
        self.policy = policy
        self.next_contact = 0
        self.next_deal = DEAL_ID_BASE
        self.deal_distractors: dict[str, str] = {}
        self.deals = 0
        self.zones = {team: BusinessCalendar(_hours(zone)) for team, zone in TEAM_ZONES.items()}

    # -- entry point ------------------------------------------------------------------------------------------
    def build(self, spec: Spec) -> list[ContactRecord]:
        contact = _Contact(self, self._new_id(), spec)
        if spec.kind == "merged":
            return contact.build_merged()
        return [contact.build()]

    def _new_id(self) -> str:
        self.next_contact += 1
        return str(self.next_contact)

    def new_deal_id(self) -> str:
        self.next_deal += 1
        return str(self.next_deal)

    def lognormal_minutes(self, median: float, sigma: float) -> float:
        return median * math.exp(sigma * self.rng.gauss(0.0, 1.0))




def _hours(zone: str) -> BusinessHours:
    return BusinessHours(timezone=zone)


class _Contact(OutreachMixin, ConversionMixin):
    """The construction of one contact (and its merged-away duplicate)."""

    def __init__(self, b: ContactBuilder, contact_id: str, spec: Spec):
        self.b = b
        self.rng = b.rng
        self.now = b.now
        self.id = contact_id
        self.spec = spec
        rng = self.rng
        self.company: Company | None = rng.choice(b.companies) if rng.random() < 0.93 else None
        self.first = rng.choice(FIRST_NAMES)
        self.last = rng.choice(LAST_NAMES)
        self.label = f"{self.first} {self.last}"
        if self.company:
            self.country, self.city, self.state = self.company.country, self.company.city, self.company.state
            self.team = self.company.team
        else:
            row = rng.choices(COUNTRIES, [c[1] for c in COUNTRIES])[0]
            self.country, self.city, self.state, self.team = row[0], rng.choice(row[3]), None, row[2]
        reps = b.roster.reps_by_team[self.team]
        self.home: Owner = rng.choice(reps)
        if self.company and self.company.owner_id and rng.random() < 0.9:
            self.home = b.roster.by_id[self.company.owner_id]  # account ownership
        self.cutoff = self.now  # nothing is recorded after this instant (an archived contact's deletion time)
        self.h = Histories(self.cutoff)
        self.company_id = self.company.id if self.company else None
        self.company_ids, self.primary_company = self._company_links()

    def _company_links(self) -> tuple[list[str], str | None]:
        """The contact's company links and which one is labelled primary (contract 6). The contact's company is
        always ``self.company``: labelled primary while every other company linked has a LOWER id (so the
        lowest-id fallback would get it wrong), or, unlabelled, the lowest id of its links."""
        if self.company is None:
            return [], None
        extra, b = self.b.extra, self.b
        if extra.random() >= 0.08:
            return [self.company.id], self.company.id  # HubSpot labels a contact's (first) company primary
        mine = int(self.company.id)
        labelled = extra.random() < 0.75
        pool = [c.id for c in b.companies if (int(c.id) < mine if labelled else int(c.id) > mine)]
        if not pool:
            return [self.company.id], self.company.id
        others = extra.sample(pool, min(len(pool), extra.choice((1, 1, 2))))
        b.company_features["multi_company_contacts"] += 1
        if not labelled:
            b.company_features["unlabelled_multi_company_contacts"] += 1
        links = sorted([self.company.id, *others], key=lambda _: extra.random())  # listed in no particular order
        return links, (self.company.id if labelled else None)

    def _custom_stage(self, ts: int, value: str) -> None:
        self.h.add("lifecyclestage", ts, value, "CRM_UI")
        self.b.stage_features["custom_stage_entries"] += 1
    # -- the kinds --------------------------------------------------------------------------------------------
    def build(self) -> ContactRecord:
        kind = self.spec.kind
        excluded = None
        archived_at = None
        if kind == "archived":
            archived_at = self.now - self.rng.randint(2 * MS_DAY, 120 * MS_DAY)
            self.cutoff = archived_at
            self.h.limit = archived_at
            self.b.activity.override_reason = "excluded_contact"
            excluded = "archived"
        try:
            if kind in ("lead", "subscriber", "skip"):
                record = self._no_mql(kind)
            else:
                record = self._with_mql()
        finally:
            self.b.activity.override_reason = None
        record.excluded = excluded
        record.company_id = self.company_id
        self._emit(archived_at=archived_at)
        return record

    def build_merged(self) -> list[ContactRecord]:
        """A contact (lead or MQL) plus a duplicate created by a later form fill and merged into it."""
        self.spec = Spec("mql" if self.rng.random() < 0.5 else "lead")
        survivor = self._with_mql() if self.spec.kind == "mql" else self._no_mql("lead")
        survivor.company_id = self.company_id
        loser_id = self.b._new_id()
        rng = self.rng
        first_seen = self.h.ordered("lifecyclestage")[0][0]
        created = min(first_seen + rng.randint(MS_HOUR, 30 * MS_DAY), self.now - 2 * MS_DAY)
        mql = created + rng.randint(MS_MINUTE, 12 * MS_HOUR)
        merged_at = mql + rng.randint(MS_HOUR, 36 * MS_HOUR)
        loser = Histories(self.now)
        loser.add("lifecyclestage", created, "lead", "FORM")
        loser.add("lifecyclestage", mql, "marketingqualifiedlead", "AUTOMATION_PLATFORM")
        loser.add("recent_conversion_event_name", created, rng.choice(DEMO_EVENTS + OTHER_MQL_EVENTS), "FORM")
        loser.add("hs_lead_status", created, "NEW", "AUTOMATION_PLATFORM")
        props = {
            "hs_object_id": loser_id, "email": f"{self.first.lower()}.{self.last.lower()}.{loser_id}@gmail.example",
            "firstname": self.first, "lastname": self.last, "country": self.country,
            "lifecyclestage": "marketingqualifiedlead", "hs_lead_status": "NEW",
            "recent_conversion_event_name": loser.current("recent_conversion_event_name"),
            "recent_conversion_date": iso(created), "hs_analytics_source": "DIRECT_TRAFFIC",
            "createdate": iso(created), "lastmodifieddate": iso(merged_at),
        }
        self._emit(extra_props={"hs_merged_object_ids": loser_id}, touched_at=merged_at)
        self.b.emit_contact({
            "id": loser_id, "properties": props, "propertiesWithHistory": loser.as_v3(),
            "createdAt": iso(created), "updatedAt": iso(merged_at), "archived": True, "archivedAt": iso(merged_at),
            "associations": {},
        })
        loser_record = ContactRecord(loser_id, "merged", "merged", created, "marketingqualifiedlead",
                                     [EpisodeRecord(mql, None, False, None, None)], merged_into=self.id)
        return [survivor, loser_record]

    def _created_for_simple(self) -> int:
        span = HISTORY_WINDOW_MS + 60 * MS_DAY
        offset = int(span * self.rng.random() ** 1.25) + self.rng.randint(MS_HOUR, 2 * MS_DAY)
        return self.cutoff - offset

    def _no_mql(self, kind: str) -> ContactRecord:
        rng, h = self.rng, self.h
        created = self._created_for_simple()
        lead_ms = None
        if kind == "subscriber":
            h.add("lifecyclestage", created, "subscriber", "FORM")
        else:
            lead_ms = created
            h.add("lifecyclestage", created, "lead", rng.choice(("FORM", "IMPORT", "CRM_UI")))
        self._nurture(created, min(created + MS_DAY, self.cutoff - 1))
        owner = self.home.id if kind != "subscriber" and rng.random() < 0.7 else None
        if owner:
            h.add("hubspot_owner_id", created + rng.randint(0, min(2 * MS_HOUR, self.cutoff - created - 1)), owner,
                  "AUTOMATION_PLATFORM")
        h.add("hs_lead_status", created + 1, "NEW", "AUTOMATION_PLATFORM")
        h.add("hubspotscore", created + 2, str(rng.randint(0, 35)), "CALCULATED")
        stage = "subscriber" if kind == "subscriber" else "lead"
        skip = False
        if kind == "skip":
            skip = True
            sql = created + rng.randint(MS_DAY, 60 * MS_DAY)
            if sql < self.cutoff:
                h.add("lifecyclestage", sql, "salesqualifiedlead", "CRM_UI")
                stage = "salesqualifiedlead"
                opp = sql + rng.randint(2 * MS_DAY, 30 * MS_DAY)
                if rng.random() < 0.4 and opp < self.cutoff:
                    h.add("lifecyclestage", opp, "opportunity", "AUTOMATION_PLATFORM")
                    stage = "opportunity"
                    self._deal(opp - rng.randint(MS_MINUTE, MS_HOUR), owner or self.home.id, None)
        count = {"subscriber": rng.randint(0, 2), "lead": rng.randint(0, 24), "skip": rng.randint(4, 14)}[kind]
        self._loose_activity(count, created, self.cutoff, owner or self.home.id, prospecting=kind != "subscriber")
        return ContactRecord(self.id, kind, None, lead_ms, stage, [], stage_skip=skip)

    # -- MQL contacts -----------------------------------------------------------------------------------------
    def _mql_instants(self) -> list[int]:
        rng, spec = self.rng, self.spec
        if spec.mql_ago_ms:
            return [self.now - ago for ago in spec.mql_ago_ms]
        if spec.recent:
            return [self.cutoff - rng.randint(5 * MS_MINUTE, 10 * MS_DAY)]
        if spec.kind == "remql":
            first = self.cutoff - rng.randint(80 * MS_DAY, HISTORY_WINDOW_MS)
            out = [first]
            for _ in range(rng.choice((1, 1, 1, 2))):
                nxt = out[-1] + rng.randint(9 * MS_DAY, 140 * MS_DAY)
                if nxt > self.cutoff - 2 * MS_HOUR:
                    break
                out.append(nxt)
            return out
        return [self.cutoff - int(HISTORY_WINDOW_MS * rng.random() ** 1.3) - rng.randint(MS_HOUR, 12 * MS_HOUR)]

    def _with_mql(self) -> ContactRecord:
        rng, h, spec = self.rng, self.h, self.spec
        mqls = self._mql_instants()
        demos = spec.demo or [rng.random() < 0.35 for _ in mqls]
        mqls = [self._off_boundaries(m, d) for m, d in zip(mqls, demos)]
        direct = spec.direct_mql or (spec.demo is None and rng.random() < 0.04)
        if direct:
            created = mqls[0]
            lead_ms = None
        else:
            created = mqls[0] - max(10 * MS_MINUTE, int(self.b.lognormal_minutes(4 * 1440, 1.2) * MS_MINUTE))
            if rng.random() < 0.1:
                h.add("lifecyclestage", created, "subscriber", "FORM")
                lead_ms = created + (mqls[0] - created) // 2
            else:
                lead_ms = created
            h.add("lifecyclestage", lead_ms, "lead", rng.choice(("FORM", "FORM", "IMPORT", "CRM_UI")))
            self._nurture(created, mqls[0] - 10 * MS_MINUTE)
            if self.b.custom_stages and self.b.extra.random() < 0.3 and mqls[0] - lead_ms > 20 * MS_MINUTE:
                # lead -> Engaged (custom) -> MQL: the episode still opens at the MQL entry
                self._custom_stage(self.b.extra.randint(lead_ms + MS_MINUTE, mqls[0] - 5 * MS_MINUTE),
                                   gen_stages.ENGAGED)
        h.add("hs_lead_status", created + 1, "NEW", "AUTOMATION_PLATFORM")
        h.add("hubspotscore", created + 2, str(rng.randint(0, 30)), "CALCULATED")
        self.created = created
        owner_now = self._initial_owner(created, mqls[0])
        episodes: list[EpisodeRecord] = []
        for k, mql in enumerate(mqls):
            nxt = mqls[k + 1] if k + 1 < len(mqls) else None
            stop = nxt - rng.randint(MS_HOUR, 3 * MS_DAY) if nxt else self.cutoff + 1
            episode, owner_now = self._episode(k, mql, nxt, stop, demos[k], owner_now)
            episodes.append(episode)
            if nxt:
                owner_now = self._recycle(stop, nxt, owner_now)
        stage = h.current("lifecyclestage")
        if not spec.stay and stage == "marketingqualifiedlead":
            self._maybe_recycle_last(episodes[-1])
            stage = h.current("lifecyclestage")
        # the first entry into lead (a contact created straight into MQL may enter lead only when recycled)
        lead_ms = next((ts for ts, value, _ in h.ordered("lifecyclestage") if value == "lead"), None)
        return ContactRecord(self.id, spec.kind, None, lead_ms, stage or "", episodes)

    def _off_boundaries(self, mql: int, demo: bool) -> int:
        """now - mql_at kept > 2 s off each ladder step and the lookback edge, or exactly on one (gen_boundaries)."""
        return mql_instant(self.b.policy, self.now, self.id, mql, demo, latest=self.cutoff - MS_HOUR,
                           pinned=bool(self.spec.mql_ago_ms))

    def _initial_owner(self, created: int, mql: int) -> str | None:
        rng, h, spec = self.rng, self.h, self.spec
        mode = spec.owner_mode or rng.choices(
            ("preowned", "at_mql", "routed", "changed_after", "unassigned"), (55, 12, 20, 8, 5))[0]
        self.first_mode = mode
        if mode in ("preowned", "changed_after"):
            owner = self.home.id
            roll = rng.random()
            if spec.owner_mode is None and roll < 0.02:
                owner = "150"  # imported by RevOps, no team
            elif spec.owner_mode is None and roll < 0.035:
                owner = rng.choice(("160", "161"))  # a rep who has since left
            h.add("hubspot_owner_id", created + rng.randint(0, min(MS_HOUR, mql - created)), owner,
                  "IMPORT" if owner == "150" else "AUTOMATION_PLATFORM")
            if spec.owner_mode is None and mql - created > 4 * MS_HOUR and rng.random() < 0.1:
                # reassigned shortly before the MQL: the new owner is the one in force at mql_at
                team = self.b.roster.reps_by_team[self.team]
                owner = rng.choice(team).id
                h.add("hubspot_owner_id", mql - rng.randint(MS_MINUTE, 2 * MS_HOUR), owner, "CRM_UI")
            return owner
        return None

    def _episode(self, k: int, mql: int, nxt: int | None, stop: int, demo: bool, owner_now: str | None):
        rng, h, b = self.rng, self.h, self.b
        h.add("lifecyclestage", mql, "marketingqualifiedlead", "AUTOMATION_PLATFORM")
        self._mql_event(mql, stop, demo)
        h.add("hubspotscore", mql + 3, str(rng.randint(45, 98)), "CALCULATED")
        if k > 0:
            h.add("hs_lead_status", mql + 4, "NEW", "AUTOMATION_PLATFORM")
        mode = self.first_mode if k == 0 else ("preowned" if owner_now else "routed")
        if k > 0 and owner_now and rng.random() < 0.15:
            mode = "changed_after"
        owner_id = owner_now or None
        assigned = mql if owner_id else None
        in_charge = owner_id
        base = mql
        if mode == "at_mql":
            owner_id = self.home.id
            h.add("hubspot_owner_id", mql, owner_id, "AUTOMATION_PLATFORM")
            assigned = mql
            in_charge = owner_id
        elif mode == "routed":
            when = mql + max(30 * MS_SECOND, int(b.lognormal_minutes(25, 1.3) * MS_MINUTE))
            if when < stop:
                h.add("hubspot_owner_id", when, self.home.id, "AUTOMATION_PLATFORM")
                assigned = when
                in_charge = self.home.id
                base = when
        elif mode == "changed_after" and owner_id:
            when = mql + rng.randint(2 * MS_MINUTE, 90 * MS_MINUTE)
            if when < stop:
                team = b.roster.reps_by_team[self.team]
                new_owner = rng.choice([r for r in team if r.id != owner_id] or team)
                h.add("hubspot_owner_id", when, new_owner.id, "CRM_UI")
                in_charge = new_owner.id
                base = when
        owner_after = h.current("hubspot_owner_id") or None
        episode = EpisodeRecord(mql, nxt, demo, owner_id, assigned)
        first = self._first_touch(mql, stop, base, in_charge, episode)
        if first is not None and self.b.custom_stages:
            self._working(first.ts, stop)
        self._more_touches(mql, stop, first, episode)
        self._distractors(k, mql, stop, first, in_charge, episode)
        self._convert(mql, stop, first, episode, in_charge or self.home.id, last=nxt is None)
        return episode, owner_after


    def _working(self, first_ts: int, stop: int) -> None:
        """MQL -> Working (custom) right after the first touch, sometimes back to MQL minutes later: neither the
        custom entry nor the MQL entry after it opens an episode (conversions come >= 10 minutes after the touch)."""
        extra = self.b.extra
        if extra.random() >= 0.35:
            return
        working = first_ts + extra.randint(MS_SECOND, 4 * MS_MINUTE)
        if working + 5 * MS_MINUTE >= min(stop, self.cutoff):
            return
        self._custom_stage(working, gen_stages.WORKING)
        if extra.random() < 0.4:
            self.h.add("lifecyclestage", working + extra.randint(MS_SECOND, 4 * MS_MINUTE), "marketingqualifiedlead",
                       "CRM_UI")
            self.b.stage_features["mql_entries_not_opening"] += 1

    def _recycle(self, clear: int, nxt: int, owner_now: str | None) -> str | None:
        """Between episodes: the stage is cleared (value ""), sometimes set back to lead, then MQL again."""
        rng, h = self.rng, self.h
        h.add("lifecyclestage", clear, "", "AUTOMATION_PLATFORM")
        h.add("hs_lead_status", clear + 1, rng.choice(("BAD_TIMING", "UNQUALIFIED")), "CRM_UI")
        if rng.random() < 0.4:
            h.add("lifecyclestage", clear + rng.randint(MS_SECOND, (nxt - clear) // 2), "lead", "AUTOMATION_PLATFORM")
        if self.b.custom_stages and self.b.extra.random() < 0.5:
            # cleared -> (lead ->) Nurturing (custom) -> MQL: the next MQL still opens an episode
            self._custom_stage(nxt - self.b.extra.randint(MS_SECOND, (nxt - clear) // 3), gen_stages.NURTURING)
        if owner_now and rng.random() < 0.2:
            h.add("hubspot_owner_id", clear + 5, "", "AUTOMATION_PLATFORM")  # unassigned for re-routing
            return None
        return owner_now

    def _maybe_recycle_last(self, ep: EpisodeRecord) -> None:
        """Stale MQLs are sometimes recycled to lead (cleared, then lead) and marked unqualified."""
        rng = self.rng
        if rng.random() >= 0.25:
            return
        after = ep.touches[-1].ts if ep.touches else ep.mql_ms
        when = after + rng.randint(3 * MS_DAY, 30 * MS_DAY)
        if when + 10 * MS_SECOND >= self.cutoff:
            return
        self.h.add("lifecyclestage", when, "", "AUTOMATION_PLATFORM")
        self.h.add("lifecyclestage", when + rng.randint(MS_SECOND, 5 * MS_SECOND), "lead", "AUTOMATION_PLATFORM")
        self.h.add("hs_lead_status", when + 7, "UNQUALIFIED", "CRM_UI")

    # -- conversion events ------------------------------------------------------------------------------------
    def _nurture(self, start: int, end: int) -> None:
        rng = self.rng
        if rng.random() < 0.7:
            self.h.add("recent_conversion_event_name", start + rng.randint(0, 2000), rng.choice(NURTURE_EVENTS),
                       "FORM")
        if end - start > 2 * MS_HOUR and rng.random() < 0.3:
            self.h.add("recent_conversion_event_name", rng.randint(start + MS_HOUR, end), rng.choice(NURTURE_EVENTS),
                       "FORM")

    def _mql_event(self, mql: int, stop: int, demo: bool) -> None:
        """The form that made the MQL, logged just before or 1-2 minutes after mql_at (within the skew)."""
        rng, spec = self.rng, self.spec
        name = rng.choice(DEMO_EVENTS if demo else OTHER_MQL_EVENTS)
        if spec.direct_mql or mql == getattr(self, "created", None):
            ts = mql + rng.randint(200, 3000)
        elif spec.event_after_mql or rng.random() < 0.5:
            ts = mql + rng.randint(20 * MS_SECOND, 150 * MS_SECOND)
        else:
            ts = mql - rng.randint(100, 40 * MS_SECOND)
        self.h.add("recent_conversion_event_name", ts, name, "FORM")
        if rng.random() < 0.3:  # a later conversion: today's value, but not what made this MQL
            later = mql + rng.randint(7 * MS_MINUTE, 40 * MS_DAY)
            if later < stop:
                pool = DEMO_EVENTS if (not demo and rng.random() < 0.5) else NURTURE_EVENTS
                self.h.add("recent_conversion_event_name", later, rng.choice(pool), "FORM")

    # -- engagements on contacts without an episode ---------------------------------------------------------

    def _emit(self, archived_at: int | None = None, extra_props: dict | None = None,
              touched_at: int | None = None) -> None:
        rng, h = self.rng, self.h
        created = h.ordered("lifecyclestage")[0][0]
        modified = max(h.last_change(), touched_at or 0)
        modified = min(modified + rng.randint(0, MS_MINUTE), archived_at or self.now)
        events = h.ordered("recent_conversion_event_name")
        props = {
            "hs_object_id": self.id,
            "email": f"{self.first.lower()}.{self.last.lower()}{self.id}@"
                     f"{self.company.domain if self.company else 'mail.example'}",
            "firstname": self.first, "lastname": self.last, "jobtitle": rng.choice(JOB_TITLES),
            "company": self.company.name if self.company else None, "country": self.country,
            "state": self.state, "city": self.city,
            "lifecyclestage": h.current("lifecyclestage") or None,
            "hubspot_owner_id": h.current("hubspot_owner_id") or None,
            "hs_lead_status": h.current("hs_lead_status"),
            "recent_conversion_event_name": events[-1][1] if events else None,
            "recent_conversion_date": iso(events[-1][0]) if events else None,
            "first_conversion_event_name": events[0][1] if events else None,
            "hubspotscore": h.current("hubspotscore"),
            "hs_analytics_source": rng.choice(ANALYTICS_SOURCES),
            "createdate": iso(created), "lastmodifieddate": iso(modified),
        }
        props = {k: v for k, v in props.items() if v is not None}
        props.update(web_properties(self.id, created, modified, self.company.domain if self.company else "mail.example"))
        if extra_props:
            props.update(extra_props)
        obj = {"id": self.id, "properties": props, "propertiesWithHistory": h.as_v3(), "createdAt": iso(created),
               "updatedAt": iso(modified), "archived": archived_at is not None}
        if archived_at is not None:
            obj["archivedAt"] = iso(archived_at)
        obj["associations"] = {"companies": list(self.company_ids)} if self.company_ids else {}
        if self.primary_company:
            obj["primaryCompany"] = self.primary_company
        self.b.emit_contact(obj)
