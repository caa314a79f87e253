"""Conversion of an MQL episode: SQL, opportunity (lifecycle and/or deal), customer, with the probability
falling as the first response gets slower, so the speed-to-lead analysis has signal.

A mixin of ``gen_contact._Contact``.
"""

from __future__ import annotations

from hubspot_sandbox.gen_activity import Touch
from hubspot_sandbox.gen_catalog import DEAL_STAGES_OPEN
from hubspot_sandbox.gen_clock import MS_DAY, MS_HOUR, MS_MINUTE, MS_SECOND, iso
from hubspot_sandbox.gen_records import EpisodeRecord, response_bucket

# P(opportunity) by response bucket: fast answers convert ~8x as often as answers after a day
P_OPPORTUNITY = {"<5 min": 0.62, "5-60 min": 0.43, "1-4 h": 0.28, "4-24 h": 0.16, ">24 h": 0.075, "never": 0.03}


class ConversionMixin:
    """Lifecycle conversions and deals of one episode, by its response bucket."""

    def _convert(self, mql: int, stop: int, first: Touch | None, ep: EpisodeRecord, owner: str,
                 last: bool) -> None:
        rng, h, spec = self.rng, self.h, self.spec
        target = spec.convert
        if target is None:
            if spec.stay:
                return
            minutes = (first.ts - mql) / 60000.0 if first else None
            p_opp = P_OPPORTUNITY[response_bucket(minutes)] * (1.15 if ep.demo else 0.9)
            p_sql = min(0.9, p_opp * 1.7 + 0.04)
            roll = rng.random()
            target = "none"
            if roll < p_opp:
                target = "customer" if rng.random() < 0.35 else "opportunity"
            elif roll < p_sql:
                target = "sql"
            if not last and target != "none":
                target = "sql"  # re-MQL'd contacts were recycled after at most a sales conversation
        if target == "none":
            return
        anchor = first.ts if first else mql + rng.randint(MS_DAY, 10 * MS_DAY)
        sql = anchor + max(10 * MS_MINUTE, int(self.b.lognormal_minutes(1.5 * 1440, 1.0) * MS_MINUTE))
        if sql >= stop:
            if spec.convert is None:
                return
            sql = mql + int((stop - mql) * rng.uniform(0.3, 0.6))
        skip_sql = target != "sql" and rng.random() < 0.1
        deal_only = target == "opportunity" and not skip_sql and rng.random() < 0.15
        if not skip_sql:
            h.add("lifecyclestage", sql, "salesqualifiedlead", "CRM_UI")
            ep.sql_ms = sql
            h.add("hs_lead_status", sql + 7, "CONNECTED", "CRM_UI")
        conversations = 0 if first is None else rng.randint(1, 3) if target == "sql" else rng.randint(3, 9)
        for _ in range(conversations):  # sales conversations after qualification are touches too
            # (an episode converted with no logged touch stays untouched: the rep never logged the call)
            t = sql + rng.randint(MS_HOUR, 10 * MS_DAY)
            if t < stop:
                kind = rng.choice(("meeting", "email", "call"))
                ep.touches.append(self._touch(kind, t, owner, **self._booked(kind, max(sql, first.ts), t)))
        if target == "sql":
            return
        opp = sql if skip_sql else sql + rng.randint(MS_DAY, 20 * MS_DAY)
        if opp >= stop:
            if spec.convert is None:
                return
            opp = sql + (stop - sql) // 3
        deal_at = None
        if deal_only:
            deal_at = opp
        else:
            h.add("lifecyclestage", opp, "opportunity", "AUTOMATION_PLATFORM")
            if skip_sql:
                ep.sql_ms = opp
            earlier = rng.random() < 0.45 and not skip_sql
            deal_at = max(sql + MS_SECOND, opp - rng.randint(MS_MINUTE, 2 * MS_HOUR)) if earlier else \
                opp + rng.randint(MS_MINUTE, 3 * MS_DAY)
            if deal_at >= stop:
                deal_at = None
        ep.opportunity_ms = opp if deal_at is None else min(opp, deal_at)
        customer = opp + rng.randint(10 * MS_DAY, 90 * MS_DAY) if target == "customer" else None
        if customer is not None and customer >= stop:
            customer = (opp + (stop - opp) // 2) if spec.convert == "customer" else None
        if customer is not None:
            h.add("lifecyclestage", customer, "customer", "AUTOMATION_PLATFORM")
            ep.customer_ms = customer
            ev = customer + rng.randint(30 * MS_DAY, 120 * MS_DAY)
            if rng.random() < 0.1 and ev < stop:
                h.add("lifecyclestage", ev, "evangelist", "CRM_UI")
        if deal_at is not None:
            h.add("hs_lead_status", deal_at + 9, "OPEN_DEAL", "AUTOMATION_PLATFORM")
            self._deal(deal_at, owner, customer)
        if rng.random() < 0.01 and opp + MS_HOUR < stop:  # a deleted deal does not count
            self._deal(opp + rng.randint(MS_MINUTE, MS_HOUR), owner, None, archived=True)

    def _deal(self, created: int, owner: str, won_at: int | None, archived: bool = False,
              reason: str | None = None) -> None:
        rng, b = self.rng, self.b
        did = b.new_deal_id()
        amount = rng.randint(5, 120) * 1000
        if won_at is not None:
            stage, close = "closedwon", won_at
        elif created < self.now - 120 * MS_DAY and rng.random() < 0.6:
            stage, close = "closedlost", created + rng.randint(20 * MS_DAY, 110 * MS_DAY)
        else:
            stage, close = rng.choice(DEAL_STAGES_OPEN), created + rng.randint(30 * MS_DAY, 90 * MS_DAY)
        modified = min(max(created, close if close <= self.now else created) + rng.randint(0, MS_HOUR), self.now)
        props = {
            "hs_object_id": did, "dealname": f"{self.company.name if self.company else self.label} - new business",
            "dealstage": stage, "pipeline": "default", "amount": str(amount), "createdate": iso(created),
            "closedate": iso(close), "hubspot_owner_id": owner, "dealtype": "newbusiness",
            "hs_lastmodifieddate": iso(modified),
        }
        assoc = {"contacts": [self.id]}
        if self.company_id:
            assoc["companies"] = [self.company_id]
        obj = {"id": did, "properties": props, "createdAt": iso(created), "updatedAt": iso(modified),
               "archived": archived}
        if archived:
            obj["archivedAt"] = iso(min(modified + MS_DAY, self.now))
            reason = "archived"
        obj["associations"] = assoc
        if self.company_id:
            obj["primaryCompany"] = self.company_id  # deal -> company primary (HubSpot type 5)
        b.emit_deal(obj)
        b.deals += 1
        if reason:
            b.deal_distractors[did] = reason

