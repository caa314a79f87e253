"""One ladder step for one episode, idempotently: re-check live, then escalate or reassign, then alert.

The state lives in the ops tables, keyed (mql_id, step), so running a step again (a repeated request, a
retried run, a resume after a crash) never repeats a write:
- ``ops.enforcement_log`` says whether the step finished (``done``/``dry_run``/``cancelled``/``failed``);
- ``ops.routing_decisions`` holds the decision and each HubSpot write's intent before the write is made,
  so a resume re-uses the decision, skips the owner PATCH when HubSpot already shows the new owner and
  finds the task it created (by a marker in its body) instead of creating a second one;
- ``ops.alerts`` has one row per (mql_id, step); delivery is ``pipeline.alerts.slack.deliver``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import polars as pl

from pipeline.alerts import outbox
from pipeline.alerts.slack import SlackWebhookSender, deliver
from pipeline.brief import build_brief, iso, slack_blocks
from pipeline.hubspot.client import HubSpotValidationError
from pipeline.policy import Policy
from pipeline.routing.engine import route
from pipeline.sla import facts
from pipeline.sla.crm import LiveCrm
from pipeline.sla.ladder import step_due_at
from pipeline.sla.recheck import recheck

TERMINAL = ("done", "dry_run", "cancelled", "failed")
STEPS = ("manager_escalation", "reassignment")


@dataclass
class StepOutcome:
    mql_id: str
    step: str
    status: str  # done | dry_run | cancelled | failed
    reason: str
    alert_id: str | None = None
    resumed: bool = False
    writes: dict = field(default_factory=dict)  # what this call did in HubSpot: owner_patch, task_created

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def _owner_written(decision: dict | None) -> bool:
    """A routing decision whose owner PATCH we made, or may have made before a crash (its intent is recorded)."""
    return bool(decision and decision["to_owner_id"] and decision["owner_write"] in ("intended", "done"))


@dataclass
class Enforcer:
    """Everything a step needs: the main DB, live HubSpot, the policy, Slack, a clock and the write mode."""

    con: object
    crm: LiveCrm
    policy: Policy
    sender: SlackWebhookSender | None
    now: Callable[[], datetime]
    write_mode: str = "dry_run"
    run_id: str | None = None
    delivery_backoff_s: float = 0.5
    delivery_attempts_per_pass: int = 5
    sleep: Callable[[float], None] | None = None

    # ------------------------------------------------------------------ ops.enforcement_log
    def _log(self, mql_id: str, step: str) -> dict | None:
        rows = facts.dicts(self.con, "SELECT * FROM lane.ops.enforcement_log WHERE mql_id = ? AND step = ?", [mql_id, step])
        return rows[0] if rows else None

    def _start(self, ep: dict, step: str, due_at: datetime | None) -> None:
        self.con.execute(
            """INSERT INTO lane.ops.enforcement_log (mql_id, step, contact_id, owner_id, status, write_mode, run_id,
                                                due_at, started_at)
               VALUES (?, ?, ?, ?, 'started', ?, ?, ?, ?)
               ON CONFLICT (mql_id, step) DO UPDATE SET run_id = excluded.run_id""",
            [ep["mql_id"], step, str(ep["contact_id"]), ep.get("owner_id"), self.write_mode, self.run_id, due_at,
             self.now()],
        )

    def _finish(self, mql_id: str, step: str, status: str, reason: str, details: dict | None = None,
                contact_id: str | None = None) -> None:
        self.con.execute(
            """INSERT INTO lane.ops.enforcement_log (mql_id, step, contact_id, status, reason, details, write_mode, run_id,
                                                started_at, finished_at)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
               ON CONFLICT (mql_id, step) DO UPDATE SET status = excluded.status, reason = excluded.reason,
                   details = excluded.details, finished_at = excluded.finished_at, run_id = excluded.run_id""",
            [mql_id, step, contact_id or mql_id.split(":")[0], status, reason,
             json.dumps(details or {}, default=str), self.write_mode, self.run_id, self.now(), self.now()],
        )

    # ------------------------------------------------------------------ lane.ops.routing_decisions
    def _decision(self, mql_id: str, step: str) -> dict | None:
        rows = facts.dicts(self.con, "SELECT * FROM lane.ops.routing_decisions WHERE mql_id = ? AND step = ?",
                            [mql_id, step])
        return rows[0] if rows else None

    def _decide(self, ep: dict, step: str) -> dict:
        leads = facts.leads(self.con, [ep["mql_id"]])
        roster = facts.roster(self.con)
        if leads.height == 0 and "live_contact" in ep:  # an MQL the marts have not seen: what the handoff read
            from pipeline.sla.handoff import lead_frame

            leads = lead_frame(ep["mql_id"], str(ep["contact_id"]), ep["live_contact"], ep.get("live_company"),
                               ep.get("owner_id"))
        if roster.height == 0:  # no sync yet: HubSpot's owners now
            from pipeline.sla.crm import live_roster

            roster = pl.DataFrame(live_roster(self.crm.client)).select("owner_id", "email", "name", "active", "teams")
        now = self.now()
        decision = route(leads, roster, self.policy, facts.load(self.con, self.policy, now),
                         now=now).row(0, named=True)
        chosen = decision["owner_id"]
        live = self.write_mode == "live"
        write_state = ("intended" if live else "dry_run") if chosen else "skipped"
        task_due = now + timedelta(minutes=float(ep.get("sla_minutes") or self.policy.sla_minutes(ep.get("mql_type"))))
        self.con.execute(
            """INSERT INTO lane.ops.routing_decisions (mql_id, step, contact_id, from_owner_id, to_owner_id, team, rule,
                   rule_type, candidates, reason, write_mode, owner_write, task_write, task_due_at, decided_at)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING""",
            [ep["mql_id"], step, str(ep["contact_id"]), decision["from_owner_id"], chosen, decision["team"],
             decision["rule"], decision["rule_type"], decision["candidates"], decision["reason"], self.write_mode,
             write_state, write_state, task_due, now],
        )
        return self._decision(ep["mql_id"], step)

    def _set_write(self, mql_id: str, step: str, column: str, state: str, task_id: str | None = None) -> None:
        assert column in ("owner_write", "task_write")
        extra = ", task_id = ?" if task_id else ""
        params = [state] + ([task_id] if task_id else []) + [mql_id, step]
        self.con.execute(f"UPDATE lane.ops.routing_decisions SET {column} = ?{extra} WHERE mql_id = ? AND step = ?", params)

    # ------------------------------------------------------------------ the step
    def run(self, mql_id: str, step: str) -> StepOutcome:
        if step == "handoff":  # ladder step 0, the live lane's (pipeline/sla/handoff.py); resumed by recover()
            from pipeline.sla.handoff import Handoff

            return Handoff(self).run(mql_id)
        if step not in STEPS:
            raise ValueError(f"unknown ladder step {step!r}; expected one of {STEPS}")
        previous = self._log(mql_id, step)
        if previous and previous["status"] in TERMINAL:
            self._deliver([outbox.alert_id(mql_id, step)])
            return StepOutcome(mql_id, step, previous["status"], previous["reason"] or "",
                               alert_id=self._alert_if_any(mql_id, step), resumed=True)
        ep = facts.episode(self.con, mql_id)
        if ep is None:
            self._finish(mql_id, step, "cancelled", "episode not found in marts.speed_to_lead")
            return StepOutcome(mql_id, step, "cancelled", "episode not found in marts.speed_to_lead")
        multiple = next((s.at_sla_multiple for s in self.policy.escalation if s.step == step), None)
        due_at = step_due_at(ep["mql_at"], float(ep["sla_minutes"]), multiple, self.policy) if multiple else None
        self._start(ep, step, due_at)
        decision = self._decision(mql_id, step)
        synced = facts.contact(self.con, str(ep["contact_id"]))
        synced_owner = (synced.get("hubspot_owner_id") or None) if "hubspot_owner_id" in synced else ep.get("owner_id")
        handoff = self._decision(mql_id, "handoff") if step != "handoff" else None
        if _owner_written(handoff) and synced_owner == (handoff["from_owner_id"] or None):
            synced_owner = handoff["to_owner_id"]  # the handoff set it after the sync read the contact: not by hand
        expected = {synced_owner}
        if _owner_written(decision):
            expected.add(decision["to_owner_id"])  # our own PATCH, made before a crash
        contact_id = str(ep["contact_id"])
        live_contact = self.crm.contact(contact_id)
        engagements = self.crm.engagements(contact_id) if live_contact is not None else []
        check = recheck(mql_at=ep["mql_at"], live_contact=live_contact, engagements=engagements,
                        expected_owners=expected, now=self.now(), policy=self.policy)
        if not check.proceed:
            self._finish(mql_id, step, "cancelled", check.reason, check.details, contact_id)
            return StepOutcome(mql_id, step, "cancelled", check.reason)
        if synced_owner != ep.get("owner_id"):  # owner changed after the MQL: the current owner missed it
            ep = dict(ep, owner_id=synced_owner, team=self._team_of(synced_owner))
        if step == "manager_escalation":
            return self._escalate(ep, live_contact)
        return self._reassign(ep, live_contact, decision)

    def _alert_if_any(self, mql_id: str, step: str) -> str | None:
        row = outbox.get(self.con, outbox.alert_id(mql_id, step))
        return row.alert_id if row else None

    def _team_of(self, owner_id: str | None) -> str | None:
        """The owner's primary team (else any team) from the synced roster."""
        if not owner_id:
            return None
        teams = facts.roster(self.con).filter(pl.col("owner_id") == str(owner_id))
        return teams["teams"][0][0] if teams.height and len(teams["teams"][0]) else None

    def _manager(self, ep: dict) -> tuple[str | None, str]:
        owner_id = ep.get("owner_id")
        email = (facts.owners(self.con).get(str(owner_id)) or {}).get("email") if owner_id else None
        team = ep.get("team") or self._team_of(owner_id)
        return self.policy.managers.recipient_for(owner_id, email, team)

    def _alert(self, ep: dict, step: str, *, recipient: str | None, recipient_owner_id: str | None,
               new_owner_id: str | None, routing_reason: str | None, status: str) -> str:
        now = self.now()
        brief_facts = facts.brief_facts(self.con, ep, step, recipient=recipient, new_owner_id=new_owner_id,
                                        routing_reason=routing_reason, policy=self.policy, now=now)
        brief = build_brief(brief_facts, self.policy, now)
        outbox.enqueue(self.con, mql_id=ep["mql_id"], step=step, contact_id=str(ep["contact_id"]),
                       recipient=recipient, recipient_owner_id=recipient_owner_id, brief=brief,
                       blocks=slack_blocks(brief), now=now, status=status)
        return outbox.alert_id(ep["mql_id"], step)

    def _escalate(self, ep: dict, live_contact: dict) -> StepOutcome:
        mql_id, step = ep["mql_id"], "manager_escalation"
        recipient, source = self._manager(ep)
        alert = self._alert(ep, step, recipient=recipient, recipient_owner_id=None, new_owner_id=None,
                            routing_reason=None, status="pending")
        reason = f"alert to manager {recipient or '(nobody configured)'} (by {source})"
        self._finish(mql_id, step, "done", reason, {"recipient": recipient, "by": source}, str(ep["contact_id"]))
        self._deliver([alert])
        return StepOutcome(mql_id, step, "done", reason, alert_id=alert)

    def _reassign(self, ep: dict, live_contact: dict, decision: dict | None) -> StepOutcome:
        mql_id, step, contact_id = ep["mql_id"], "reassignment", str(ep["contact_id"])
        if decision is None:
            decision = self._decide(ep, step)
        to_owner = decision["to_owner_id"]
        if not to_owner:
            recipient, source = self._manager(ep)
            alert = self._alert(ep, step, recipient=recipient, recipient_owner_id=None, new_owner_id=None,
                                routing_reason=decision["reason"], status="pending")
            reason = f"no owner available ({decision['reason']}); manager {recipient} alerted"
            self._finish(mql_id, step, "failed", reason, {"recipient": recipient, "by": source}, contact_id)
            self._deliver([alert])
            return StepOutcome(mql_id, step, "failed", reason, alert_id=alert)
        writes: dict = {}
        if decision["write_mode"] == "live":
            try:
                self._live_writes(ep, decision, live_contact, writes)
            except HubSpotValidationError as refused:  # the portal's validation rules: fail once, never retry
                return self._refused(ep, step, decision, refused)
        owners = facts.owners(self.con)
        recipient = (owners.get(to_owner) or {}).get("email") or to_owner
        live = decision["write_mode"] == "live"
        alert = self._alert(ep, step, recipient=recipient, recipient_owner_id=to_owner, new_owner_id=to_owner,
                            routing_reason=decision["reason"], status="pending" if live else "dry_run")
        status = "done" if live else "dry_run"
        reason = (f"reassigned from {ep.get('owner_id') or '(none)'} to {to_owner} by rule {decision['rule']}"
                  + ("" if live else " (dry run: HubSpot not changed)"))
        self._finish(mql_id, step, status, reason, {"to_owner_id": to_owner, "rule": decision["rule"]}, contact_id)
        if live:
            self._deliver([alert])
        return StepOutcome(mql_id, step, status, reason, alert_id=alert, writes=writes)

    def _live_writes(self, ep: dict, decision: dict, live_contact: dict, writes: dict) -> None:
        self.write_owner_and_task(ep["mql_id"], "reassignment", str(ep["contact_id"]), live_contact, decision,
                                  lambda marker: self._task_properties(ep, decision, marker), writes)

    def write_owner_and_task(self, mql_id: str, step: str, contact_id: str, live_contact: dict, decision: dict,
                             task_properties: Callable[[str], dict], writes: dict) -> None:
        """The owner PATCH, then the owner's task: each HubSpot write at most once (the handoff and reassignment).

        Each write whose intent ``decision`` records as ``intended`` is made only when HubSpot does not already
        show it (the owner ``live_contact`` has; a task on the contact carrying the step's marker, which a run cut
        after creating it left), then marked ``done`` in ``lane.ops.routing_decisions``. ``task_properties``
        builds the task from its marker. ``writes`` gets ``owner_patch`` / ``task_created`` for what this call did.
        """
        to_owner = decision["to_owner_id"]
        if decision["owner_write"] == "intended":
            if (live_contact.get("hubspot_owner_id") or None) != to_owner:
                self.crm.set_owner(contact_id, to_owner)
                writes["owner_patch"] = True
            self._set_write(mql_id, step, "owner_write", "done")
        if decision["task_write"] == "intended":
            marker = task_marker(mql_id, step)
            task_id = self.crm.find_task(contact_id, marker)
            if task_id is None:
                task_id = self.crm.create_task(task_properties(marker), contact_id)
                writes["task_created"] = task_id
            self._set_write(mql_id, step, "task_write", "done", task_id)

    def _refused(self, ep: dict, step: str, decision: dict, refused: HubSpotValidationError) -> StepOutcome:
        """HubSpot refused a write (400 VALIDATION_ERROR under the portal's rules): the step fails once, naming the
        property in the log and in the manager's alert."""
        mql_id, contact_id = ep["mql_id"], str(ep["contact_id"])
        named = ", ".join(refused.properties) or "a property"
        reason = (f"HubSpot refused the write under the portal's validation rules "
                  f"({'/'.join(refused.codes) or 'VALIDATION_ERROR'}: {named}); not retried")
        recipient, source = self._manager(ep)
        alert = self._alert(ep, step, recipient=recipient, recipient_owner_id=None, new_owner_id=None,
                            routing_reason=reason, status="pending")
        self._finish(mql_id, step, "failed", reason,
                     {"refused_properties": refused.properties, "codes": refused.codes,
                      "to_owner_id": decision["to_owner_id"], "rule": decision["rule"], "recipient": recipient,
                      "by": source}, contact_id)
        self._deliver([alert])
        return StepOutcome(mql_id, step, "failed", reason, alert_id=alert)

    def _task_properties(self, ep: dict, decision: dict, marker: str) -> dict:
        contact = facts.contact(self.con, str(ep["contact_id"]))
        if len(contact) == 1 and ep.get("live_contact"):  # not synced yet: as the handoff read it
            contact = ep["live_contact"]
        name = " ".join(x for x in (contact.get("firstname"), contact.get("lastname")) if x) or contact.get("email") \
            or f"contact {ep['contact_id']}"
        due = decision["task_due_at"]
        return {
            "hs_task_subject": f"Call {name} now: MQL reassigned to you (SLA missed)",
            "hs_task_body": (f"Reassigned by the lead-handoff SLA: no outreach within {ep.get('sla_minutes')} minutes "
                             f"of the MQL at {iso(ep['mql_at'])}. Rule: {decision['reason']}. {marker}"),
            "hs_timestamp": iso(due),
            "hs_task_status": "NOT_STARTED",
            "hs_task_priority": "HIGH",
            "hs_task_type": "CALL",
            "hubspot_owner_id": decision["to_owner_id"],
        }

    # ------------------------------------------------------------------ delivery and recovery
    def _deliver(self, alert_ids: list[str] | None):
        kwargs = {"sleep": self.sleep} if self.sleep else {}
        return deliver(self.con, self.sender, now=self.now, alert_ids=alert_ids,
                       attempts_per_pass=self.delivery_attempts_per_pass, backoff_s=self.delivery_backoff_s, **kwargs)

    def recover(self) -> dict:
        """After a crash: finish steps left ``started``, flag deliveries cut mid-POST, deliver what is pending."""
        interrupted = outbox.expire_interrupted(self.con)
        unfinished = self.con.execute(
            "SELECT mql_id, step FROM lane.ops.enforcement_log WHERE status = 'started' ORDER BY started_at, mql_id"
        ).fetchall()
        resumed = [self.run(mql_id, step).as_dict() for mql_id, step in unfinished]
        report = self._deliver(None)
        return {"interrupted_deliveries": interrupted, "resumed_steps": resumed, "delivery": report.as_dict()}


def task_marker(mql_id: str, step: str) -> str:
    """Written into the task body so a resumed run recognises the task it already created."""
    return f"[handoff:{mql_id}:{step}]"
