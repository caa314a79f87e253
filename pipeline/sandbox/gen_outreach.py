"""The outreach of an MQL episode: who answers and when (rep habits), the sequence that follows, and the
distractors placed around it (engagements that look like outreach but are not touches).

A mixin of ``gen_contact._Contact``: it reads the contact's rng, builder, spec, ids and histories.
"""

from __future__ import annotations

from pipeline.sandbox.gen_activity import Touch
from pipeline.sandbox.gen_clock import MS_DAY, MS_HOUR, MS_MINUTE, MS_SECOND
from pipeline.sandbox.gen_boundaries import first_touch_instant
from pipeline.sandbox.gen_records import EpisodeRecord
from pipeline.sandbox.gen_roster import Owner


class OutreachMixin:
    """First touch, follow-up sequence and distractors of one episode (uses the contact's state)."""

    def _first_touch(self, mql: int, stop: int, base: int, in_charge: str | None, ep: EpisodeRecord):
        rng, b, spec = self.rng, self.b, self.spec
        responder: Owner | None = b.roster.by_id.get(in_charge) if in_charge else None
        if responder is None or responder.habit.name == "absent":
            picked = spec.response_minutes is not None or rng.random() < 0.5
            responder = rng.choice(b.roster.reps_by_team[self.team]) if picked else None
            base = mql
        elif spec.response_minutes is None and rng.random() < 0.08:
            responder = rng.choice(b.roster.active_reps)  # someone else got there first
        if spec.never_touched or responder is None:
            return None
        if spec.response_minutes is not None:
            ts = mql + int(spec.response_minutes * MS_MINUTE) + 311
        else:
            habit = responder.habit
            if rng.random() < habit.never:
                return None
            ts = base + int(b.lognormal_minutes(habit.median_minutes, habit.sigma) * MS_MINUTE) + rng.randint(0, 999)
            cal = b.zones[responder.team or "North America"]
            if not cal.is_working(ts) and rng.random() < habit.waits_for_morning:
                ts = cal.next_open(ts) + rng.randint(0, 90 * MS_MINUTE)
            ts = max(ts, mql + 15 * MS_SECOND)
            due = b.policy.sla_minutes("demo_request" if ep.demo else "other")
            ts = first_touch_instant(self.id, mql, ts, due)  # off every edge, or exactly on one (gen_boundaries)
        if ts >= stop:
            return None
        kind = rng.choices(("call", "email", "meeting", "communication"), (45, 36, 4, 15))[0]
        if spec.tie:
            ep.touches.append(self._touch("email", ts, responder.id))
            kind = "call"
        touch = self._touch(kind, ts, responder.id)
        ep.touches.append(touch)
        if ts + 1 < stop:
            self.h.add("hs_lead_status", min(ts + rng.randint(1, 5 * MS_MINUTE), stop - 1), "ATTEMPTED_TO_CONTACT",
                       "CRM_UI")
        return touch

    def _touch(self, kind: str, ts: int, owner: str | None, reason: str | None = None, **kw) -> Touch:
        return self.b.activity.touch(self.rng, kind, ts, owner, self.id, self.company_id, self.label,
                                     reason=reason, **kw)

    def _more_touches(self, mql: int, stop: int, first: Touch | None, ep: EpisodeRecord) -> None:
        if first is None:
            return
        rng = self.rng
        t = first.ts
        for _ in range(rng.choice((0, 1, 2, 3, 4, 4, 5, 5, 6, 7, 8, 10))):  # a sales sequence
            t += rng.randint(20 * MS_MINUTE, 3 * MS_DAY)
            if t >= stop:
                break
            owner = first.owner_id if rng.random() < 0.85 else rng.choice(self.b.roster.active_reps).id
            kind = rng.choices(("call", "email", "meeting", "communication"), (40, 40, 8, 12))[0]
            ep.touches.append(self._touch(kind, t, owner))

    def _distractors(self, k: int, mql: int, stop: int, first: Touch | None, owner: str | None) -> None:
        rng, a = self.rng, self.b.activity
        hi = first.ts if first else min(stop, mql + 3 * MS_DAY)

        def before_first() -> int:
            return mql + rng.randint(0, max(0, hi - mql - 1))

        def in_window() -> int:
            return mql + rng.randint(0, max(0, stop - mql - 1))

        label, cid, co = self.label, self.id, self.company_id
        if rng.random() < 0.5 and mql + 10 * MS_MINUTE < stop:
            a.non_touch(rng, "note", mql + rng.randint(MS_SECOND, 10 * MS_MINUTE), owner, cid, co, label)
        if rng.random() < 0.6:  # follow-up task made at the MQL, due later (tasks never count, even past due)
            made = min(mql + rng.randint(MS_SECOND, 5 * MS_MINUTE), self.cutoff)
            a.non_touch(rng, "task", mql + rng.randint(MS_HOUR, MS_DAY), owner, cid, co, label, created_at=made)
        for reason, p, when in (("inbound_call", 0.15, in_window), ("incoming_email", 0.35, in_window),
                                ("bounced_email", 0.05, before_first), ("failed_email", 0.03, before_first),
                                ("scheduled_email", 0.05, before_first), ("canceled_meeting", 0.07, in_window),
                                ("note", 0.3, in_window)):
            if rng.random() < p:
                a.non_touch(rng, reason, when(), owner, cid, co, label)
        if rng.random() < 0.05:  # would have been the first touch, but was deleted
            self._touch("call", before_first(), owner, reason="archived", archived=True)
        if co and rng.random() < 0.04:  # logged on the company only
            self._touch("call", before_first(), owner, reason="not_associated_to_contact", on_contact=False)
        if k == 0 and rng.random() < 0.4 and mql - self.created > 2 * MS_MINUTE:
            for _ in range(rng.choice((1, 1, 2))):  # prospecting before the MQL never counts
                ts = self.created + rng.randint(0, mql - self.created - MS_MINUTE)
                self._touch(rng.choice(("call", "email", "communication")), ts, self.home.id, reason="before_mql")
        if stop > self.now and self.now - mql < 10 * MS_DAY and rng.random() < 0.6:
            ts = self.now + rng.randint(MS_HOUR, 3 * MS_DAY)  # booked for later: not an attempt yet
            booked = mql + rng.randint(0, self.now - mql)
            self._touch(rng.choice(("meeting", "email")), ts, owner, reason="after_now", created_at=booked)


    def _loose_activity(self, count: int, start: int, end: int, owner: str, prospecting: bool) -> None:
        rng, a = self.rng, self.b.activity
        for _ in range(count):
            ts = start + rng.randint(0, max(1, end - start - 1))
            roll = rng.random()
            if prospecting and roll < 0.55:
                self._touch(rng.choice(("call", "email", "email", "communication", "meeting")), ts, owner,
                            reason="no_episode")
            else:
                reason = rng.choice(("note", "task", "incoming_email", "inbound_call", "bounced_email"))
                a.non_touch(rng, reason, ts, owner, self.id, self.company_id, self.label)

    # -- the contact object -------------------------------------------------------------------------------------
