"""The ``handoff`` ladder step (step 0, at the MQL moment): read the lead live, route it when it has no owner,
create the owner's HubSpot task due at the SLA due time, and send the owner the handoff brief. Once.

Exactly once by the same construction as the other steps (``pipeline/sla/steps.py``), in the lane's ops tables:
``lane.ops.enforcement_log`` (mql_id, 'handoff') says whether it finished; ``lane.ops.routing_decisions`` holds
the owner decision (rule ``kept_owner`` when the lead keeps its owner) and the intent of each HubSpot write
before it is made; the task carries the marker ``[handoff:<mql_id>:handoff]`` so a resumed run finds it;
``lane.ops.alerts`` has the one message. ``lane.ops.lane_episodes`` records the episode (type, SLA due time,
owner after the handoff) so the escalation steps fire on time before any batch sync has seen the MQL.

Everything comes from HubSpot live (``pipeline.sla.crm.handoff_view``): the batch lane's DuckDB is never read
or waited for.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import polars as pl

from pipeline.brief import BriefFacts, build_brief, iso, slack_blocks, value_at
from pipeline.routing.engine import route
from pipeline.sla import crm as live
from pipeline.sla import facts
from pipeline.sla.ladder import step_due_at
from pipeline.sla.recheck import touches_since
from pipeline.sla.steps import TERMINAL, Enforcer, StepOutcome

STEP = "handoff"


def mql_id_of(contact_id: str, mql_at: datetime) -> str:
    """The marts' episode id: ``<contact_id>:<epoch ms of mql_at>``."""
    return f"{contact_id}:{int(round(mql_at.timestamp() * 1000))}"


def mql_at_of(mql_id: str) -> datetime:
    return datetime.fromtimestamp(int(mql_id.rsplit(":", 1)[1]) / 1000, tz=timezone.utc)


OPENING_TOLERANCE = timedelta(minutes=5)  # how far the stage-entered date may be from its history entry


def episode_openings(lifecycle: list[dict], policy) -> list[datetime]:
    """The instants of the ``lifecyclestage`` history entries that open an episode, by the marts' episode rule
    (``sql/marts/mql_episodes.sql`` ``openings``; docs/contracts.md "Episode rules"): an entry into a stage of
    the ``mql`` role whose previous stage (skipping the portal's custom stages that play no role) is not one.
    ``lifecycle`` is HubSpot's history, newest first (``[{value, at}]``); entries in the same millisecond keep
    HubSpot's order (the later in the list is the older)."""
    from pipeline.sla.recheck import parse_ts

    stages = policy.lifecycle_stages
    mql = set(policy.mql_stages())
    dated = [(parse_ts(e.get("at")), -i, e.get("value") or "") for i, e in enumerate(lifecycle) if e.get("at")]
    previous: str | None = None
    out: list[datetime] = []
    for at, _, value in sorted(x for x in dated if x[0] is not None):
        if stages.is_custom_unroled(value):
            continue
        if value in mql and previous not in mql:
            out.append(at)
        previous = value
    return out


def resolve_mql_id(contact_id: str, entered_at: datetime, lifecycle: list[dict], policy) -> str:
    """The marts' id of the episode a stage-entered date (``hs_v2_date_entered_<stage>``, what the sensor sees)
    belongs to: the opening history entry nearest to it, within :data:`OPENING_TOLERANCE`. HubSpot does not
    document that the date property and the history entry carry the same millisecond, so the lane takes the
    history's, as the marts do; without a history entry near it (no history read) the date property's instant."""
    near = [at for at in episode_openings(lifecycle, policy) if abs(at - entered_at) <= OPENING_TOLERANCE]
    best = min(near, key=lambda at: (abs(at - entered_at), at), default=entered_at)
    return mql_id_of(contact_id, best)


def mql_type(view_histories: dict, contact: dict, mql_at: datetime, policy) -> tuple[str, str | None]:
    """(demo_request | other, the conversion event in force at mql_at + the logging skew)."""
    skew_at = mql_at + timedelta(minutes=policy.demo_recognition.logging_skew_minutes)
    events = view_histories.get("recent_conversion_event_name") or []
    event = value_at(events, skew_at) if events else contact.get("recent_conversion_event_name")
    return ("demo_request" if policy.demo_recognition.is_demo(event) else "other"), event


def lead_frame(mql_id: str, contact_id: str, contact: dict, company: dict | None, missed: str | None) -> pl.DataFrame:
    """The routing engine's lead row, from live data (the same columns ``facts.leads`` reads from the marts)."""
    company = company or {}
    return pl.DataFrame([{
        "mql_id": mql_id, "contact_id": contact_id, "missed_owner_id": missed,
        "country": contact.get("country"), "region": contact.get("state"),
        "company_country": company.get("country"), "company_region": company.get("state"),
        "industry": company.get("industry"), "company_owner_id": company.get("hubspot_owner_id") or None,
        "inbound": bool(contact.get("recent_conversion_event_name") or contact.get("first_conversion_event_name")),
    }])


class Handoff:
    """Runs the handoff step with an :class:`Enforcer`'s connection, CRM, policy, Slack and clock."""

    def __init__(self, enforcer: Enforcer):
        self.e = enforcer

    def run(self, mql_id: str) -> StepOutcome:
        e = self.e
        previous = e._log(mql_id, STEP)
        if previous and previous["status"] in TERMINAL:
            e._deliver([f"{mql_id}:{STEP}"])
            return StepOutcome(mql_id, STEP, previous["status"], previous["reason"] or "", resumed=True,
                               alert_id=e._alert_if_any(mql_id, STEP))
        contact_id = mql_id.rsplit(":", 1)[0]
        client = e.crm.client
        view = live.handoff_view(client, contact_id)
        if view is not None:  # the sensor's id is the stage-entered date's; the episode's is the history entry's
            resolved = resolve_mql_id(contact_id, mql_at_of(mql_id), view.histories.get("lifecyclestage") or [],
                                      e.policy)
            if resolved != mql_id:
                mql_id = resolved
                previous = e._log(mql_id, STEP)
                if previous and previous["status"] in TERMINAL:
                    e._deliver([f"{mql_id}:{STEP}"])
                    return StepOutcome(mql_id, STEP, previous["status"], previous["reason"] or "", resumed=True,
                                       alert_id=e._alert_if_any(mql_id, STEP))
        mql_at = mql_at_of(mql_id)
        if view is None:
            e._finish(mql_id, STEP, "cancelled", "contact no longer exists in HubSpot (deleted or merged)",
                      contact_id=contact_id)
            return StepOutcome(mql_id, STEP, "cancelled", "contact no longer exists in HubSpot (deleted or merged)")
        contact = view.contact
        kind, event = mql_type(view.histories, contact, mql_at, e.policy)
        sla_minutes = e.policy.sla_minutes(kind)
        sla_due = step_due_at(mql_at, float(sla_minutes), 1.0, e.policy)
        multiple = e.policy.step_multiple(STEP) or 0.0
        step_due = step_due_at(mql_at, float(sla_minutes), multiple, e.policy) if multiple else mql_at
        owner_at_mql = value_at(view.histories.get("hubspot_owner_id") or [], mql_at) \
            if view.histories.get("hubspot_owner_id") else None
        ep = {"mql_id": mql_id, "contact_id": contact_id, "mql_at": mql_at, "mql_type": kind,
              "sla_minutes": sla_minutes, "sla_due_at": sla_due, "owner_id": contact.get("hubspot_owner_id") or None,
              "team": None}
        e._start(ep, STEP, step_due)
        self._record_episode(ep, contact, view.company, owner_at_mql)
        reason = self._still_warranted(view, mql_at)
        if reason:
            e._finish(mql_id, STEP, "cancelled", reason, {"lifecyclestage": contact.get("lifecyclestage")}, contact_id)
            return StepOutcome(mql_id, STEP, "cancelled", reason)
        roster = live.live_roster(client)
        owners = {r["owner_id"]: r for r in roster}
        decision = e._decision(mql_id, STEP) or self._decide(ep, contact, view.company, roster, owners)
        to_owner = decision["to_owner_id"]
        if not to_owner:
            recipient, source = e.policy.managers.recipient_for(None, None, None)
            alert = self._alert(ep, view, event, owners, recipient, None, decision, "pending")
            why = f"no owner available ({decision['reason']}); manager {recipient} alerted"
            e._finish(mql_id, STEP, "failed", why, {"recipient": recipient, "by": source}, contact_id)
            e._deliver([alert])
            return StepOutcome(mql_id, STEP, "failed", why, alert_id=alert)
        writes: dict = {}
        is_live = decision["write_mode"] == "live"
        if is_live:
            e.write_owner_and_task(mql_id, STEP, contact_id, contact, decision,
                                   lambda marker: self._task(ep, contact, event, decision, marker), writes)
        if is_live:  # in dry run HubSpot keeps its owner: the ladder's re-check must expect that one
            e.con.execute("UPDATE lane.ops.lane_episodes SET owner_id = ? WHERE mql_id = ?", [to_owner, mql_id])
        recipient = (owners.get(to_owner) or {}).get("email") or to_owner
        alert = self._alert(ep, view, event, owners, recipient, to_owner, decision,
                            "pending" if is_live else "dry_run")
        status = "done" if is_live else "dry_run"
        routed = decision["rule"] != "kept_owner"
        why = (f"routed to {to_owner} by rule {decision['rule']}" if routed else f"kept owner {to_owner}") + \
            f"; task due {iso(sla_due)}" + ("" if is_live else " (dry run: HubSpot not changed)")
        e._finish(mql_id, STEP, status, why, {"to_owner_id": to_owner, "rule": decision["rule"], "mql_type": kind,
                                              "sla_due_at": iso(sla_due), "task_id": self._task_id(mql_id)},
                  contact_id)
        if is_live:
            e._deliver([alert])
        return StepOutcome(mql_id, STEP, status, why, alert_id=alert, writes=writes)

    # ---------------------------------------------------------------------------------------------------
    def _task_id(self, mql_id: str) -> str | None:
        row = self.e.con.execute("SELECT task_id FROM lane.ops.routing_decisions WHERE mql_id = ? AND step = ?",
                                 [mql_id, STEP]).fetchone()
        return row[0] if row else None

    def _still_warranted(self, view, mql_at: datetime) -> str | None:
        stage = view.contact.get("lifecyclestage") or ""
        if stage not in self.e.policy.mql_stages():
            return f"lifecycle stage moved on to {stage or '(cleared)'} before the handoff"
        touches = touches_since(view.engagements, mql_at, self.e.now())
        if touches:
            first = touches[0]
            return f"already touched: {first['type'][:-1]} {first['id']} at {first['at']}"
        return None

    def _record_episode(self, ep: dict, contact: dict, company: dict | None, owner_at_mql: str | None) -> None:
        self.e.con.execute(
            """INSERT INTO lane.ops.lane_episodes (mql_id, contact_id, mql_at, stage, mql_type, sla_minutes, sla_due_at,
                   owner_id, owner_at_mql, team, contact, company, detected_at)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING""",
            [ep["mql_id"], ep["contact_id"], ep["mql_at"], contact.get("lifecyclestage"), ep["mql_type"],
             ep["sla_minutes"], ep["sla_due_at"], ep["owner_id"], owner_at_mql, None,
             json.dumps(contact, default=str), json.dumps(company, default=str), self.e.now()])

    def _decide(self, ep: dict, contact: dict, company: dict | None, roster: list[dict], owners: dict) -> dict:
        e = self.e
        now = e.now()
        owner = contact.get("hubspot_owner_id") or None
        live_mode = e.write_mode == "live"
        if owner and not e.policy.handoff.reroute_owned:
            row = {"owner_id": owner, "from_owner_id": owner, "team": None, "rule": "kept_owner",
                   "rule_type": "kept_owner", "reason": "the lead already has an owner (handoff.reroute_owned: false)",
                   "candidates": json.dumps([{"owner_id": owner, "email": (owners.get(owner) or {}).get("email"),
                                              "chosen": True}])}
            owner_write = "skipped"
        else:
            frame = pl.DataFrame(roster, schema={"owner_id": pl.Utf8, "email": pl.Utf8, "first_name": pl.Utf8,
                                                 "last_name": pl.Utf8, "name": pl.Utf8, "active": pl.Boolean,
                                                 "teams": pl.List(pl.Utf8)})
            row = route(lead_frame(ep["mql_id"], ep["contact_id"], contact, company, None), frame, e.policy,
                        facts.load(e.con, e.policy, now), now=now).row(0, named=True)
            row["from_owner_id"] = owner
            owner_write = ("intended" if live_mode else "dry_run") if row["owner_id"] else "skipped"
        chosen = row["owner_id"]
        task_write = ("intended" if live_mode else "dry_run") if chosen else "skipped"
        e.con.execute(
            """INSERT INTO lane.ops.routing_decisions (mql_id, step, contact_id, from_owner_id, to_owner_id, team, rule,
                   rule_type, candidates, reason, write_mode, owner_write, task_write, task_due_at, decided_at)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING""",
            [ep["mql_id"], STEP, ep["contact_id"], row["from_owner_id"], chosen, row["team"], row["rule"],
             row["rule_type"], row["candidates"], row["reason"], e.write_mode, owner_write, task_write,
             ep["sla_due_at"], now])
        return e._decision(ep["mql_id"], STEP)

    def _task(self, ep: dict, contact: dict, event: str | None, decision: dict, marker: str) -> dict:
        name = " ".join(x for x in (contact.get("firstname"), contact.get("lastname")) if x) \
            or contact.get("email") or f"contact {ep['contact_id']}"
        kind = "demo request" if ep["mql_type"] == "demo_request" else "MQL"
        return {
            "hs_task_subject": f"Call {name}: new {kind}, first outreach due by {iso(ep['sla_due_at'])}",
            "hs_task_body": (f"New MQL at {iso(ep['mql_at'])} ({event or 'no conversion event'}); SLA "
                             f"{ep['sla_minutes']} minutes. Owner: {decision['reason']}. The handoff brief is in "
                             f"Slack and in ops.alerts. {marker}"),
            "hs_timestamp": iso(ep["sla_due_at"]),
            "hs_task_status": "NOT_STARTED",
            "hs_task_priority": "HIGH" if ep["mql_type"] == "demo_request" else "MEDIUM",
            "hs_task_type": "CALL",
            "hubspot_owner_id": decision["to_owner_id"],
        }

    def _alert(self, ep: dict, view, event: str | None, owners: dict, recipient: str | None,
               owner_id: str | None, decision: dict, status: str) -> str:
        from pipeline.alerts import outbox

        e = self.e
        now = e.now()
        owner = owners.get(owner_id or "") or {}
        episode = dict(ep, owner_id=owner_id)
        brief_facts = BriefFacts(
            episode=episode, step=STEP, contact={"id": ep["contact_id"], **view.contact}, company=view.company,
            activities=view.activities, conversions=view.histories.get("recent_conversion_event_name") or [],
            score_history=view.histories.get("hubspotscore") or [], other_contacts=view.other_contacts,
            open_deals=view.open_deals, owners=owners, recipient=recipient,
            new_owner_id=owner_id if decision["rule"] != "kept_owner" else None,
            routing_reason=decision["reason"], portal_id=e.policy.hubspot.portal_id or self._portal_id(),
            mention=e.policy.handoff.member_for(owner_id, owner.get("email")),
            task_id=self._task_id(ep["mql_id"]))
        brief = build_brief(brief_facts, e.policy, now)
        outbox.enqueue(e.con, mql_id=ep["mql_id"], step=STEP, contact_id=ep["contact_id"], recipient=recipient,
                       recipient_owner_id=owner_id, brief=brief, blocks=slack_blocks(brief), now=now, status=status)
        return outbox.alert_id(ep["mql_id"], STEP)

    def _portal_id(self) -> int | None:
        try:
            return int(self.e.crm.client.account_details().get("portalId") or 0) or None
        except Exception:  # the link then lacks the portal id (HubSpot redirects); never fail a handoff on it
            return None
