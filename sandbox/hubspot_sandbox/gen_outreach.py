"""The outreach of an MQL episode: who answers and when (rep habits), the sequence that follows, and the
distractors placed around it (engagements that look like outreach but are not touches).

A mixin of ``gen_contact._Contact``: it reads the contact's rng, builder, spec, ids and histories.
"""

from __future__ import annotations

from hubspot_sandbox.gen_activity import Touch
from hubspot_sandbox.gen_clock import MS_DAY, MS_HOUR, MS_MINUTE, MS_SECOND
from hubspot_sandbox.gen_boundaries import first_touch_instant
from hubspot_sandbox.gen_records import EpisodeRecord
from hubspot_sandbox.gen_roster import Owner


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
        kind = spec.extra.get("first_kind", kind)
        if spec.tie:
            ep.touches.append(self._touch("email", ts, responder.id))
            kind = "call"
        if kind == "meeting":
            # the rep books a meeting at ts for a day or more later: it counts when booked (contract 5)
            days = spec.extra.get("held_after_days") or b.extra.randint(1, 8)
            held = ts + int(days * MS_DAY) + b.extra.randint(0, 4 * MS_HOUR)
            touch = self._touch("meeting", held, responder.id, created_at=ts)
        else:
            touch = self._touch(kind, ts, responder.id)
        ep.touches.append(touch)
        if ts + 1 < stop:
            self.h.add("hs_lead_status", min(ts + rng.randint(1, 5 * MS_MINUTE), stop - 1), "ATTEMPTED_TO_CONTACT",
                       "CRM_UI")
        return touch

    def _touch(self, kind: str, ts: int, owner: str | None, reason: str | None = None, **kw) -> Touch:
        return self.b.activity.touch(self.rng, kind, ts, owner, self.id, self.company_id, self.label,
                                     reason=reason, **kw)

    def _booked(self, kind: str, after: int, held: int) -> dict:
        """Half the follow-up meetings are booked ahead: ``created_at`` (hs_createdate) strictly between the touch
        before it and when it takes place, so the episode's first touch never changes."""
        extra = self.b.extra
        if kind != "meeting" or held - after < 2 * MS_SECOND or extra.random() >= 0.5:
            return {}
        return {"created_at": extra.randint(after + MS_SECOND, held - 1)}

    def _more_touches(self, mql: int, stop: int, first: Touch | None, ep: EpisodeRecord) -> None:
        if first is None:
            return
        rng = self.rng
        t = previous = first.ts
        for _ in range(rng.choice((0, 1, 2, 3, 4, 4, 5, 5, 6, 7, 8, 10))):  # a sales sequence
            t += rng.randint(20 * MS_MINUTE, 3 * MS_DAY)
            if t >= stop:
                break
            owner = first.owner_id if rng.random() < 0.85 else rng.choice(self.b.roster.active_reps).id
            kind = rng.choices(("call", "email", "meeting", "communication"), (40, 40, 8, 12))[0]
            ep.touches.append(self._touch(kind, t, owner, **self._booked(kind, previous, t)))
            previous = t

    def _distractors(self, k: int, mql: int, stop: int, first: Touch | None, owner: str | None,
                     ep: EpisodeRecord | None = None) -> None:
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
                at = when()
                if reason == "canceled_meeting":  # booked in the window for days later, then canceled
                    a.non_touch(rng, reason, at + self.b.extra.randint(MS_DAY, 8 * MS_DAY), owner, cid, co, label,
                                created_at=min(at, self.now))
                else:
                    a.non_touch(rng, reason, at, owner, cid, co, label)
        if rng.random() < 0.05:  # would have been the first touch, but was deleted
            self._touch("call", before_first(), owner, reason="archived", archived=True)
        if co and rng.random() < 0.04:  # logged on the company only
            self._touch("call", before_first(), owner, reason="not_associated_to_contact", on_contact=False)
        if k == 0 and rng.random() < 0.4 and mql - self.created > 2 * MS_MINUTE:
            for _ in range(rng.choice((1, 1, 2))):  # prospecting before the MQL never counts
                ts = self.created + rng.randint(0, mql - self.created - MS_MINUTE)
                self._touch(rng.choice(("call", "email", "communication")), ts, self.home.id, reason="before_mql")
        # (the deliberate never-touched cases get nothing set for later: replayed at a later clock they stay
        # untouched, e.g. a pending episode turns overdue, not breached)
        if (stop > self.now and self.now - mql < 10 * MS_DAY and rng.random() < 0.6
                and not self.spec.never_touched):
            ts = self.now + rng.randint(MS_HOUR, 3 * MS_DAY)  # set for later
            booked = mql + rng.randint(0, self.now - mql)
            kind = rng.choice(("meeting", "email"))
            extra = self.b.extra
            if kind == "email":  # an email scheduled for later: not an attempt yet
                self._touch("email", ts, owner, reason="after_now", created_at=booked)
            elif first is not None and first.ts + MS_SECOND < self.now and ep is not None:
                # a meeting booked after the first touch for after now: a touch when booked (contract 5)
                ep.touches.append(self._touch("meeting", ts, owner,
                                              created_at=extra.randint(first.ts + MS_SECOND, self.now)))
            elif k == 0 and mql - self.created > 2 * MS_MINUTE:
                # booked before the MQL for after now: counts when booked, i.e. before the MQL: never a touch
                self._touch("meeting", ts, owner, reason="before_mql",
                            created_at=extra.randint(self.created, mql - MS_MINUTE))
            else:
                self._touch("email", ts, owner, reason="after_now", created_at=booked)


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
