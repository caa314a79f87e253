"""The handoff brief: everything a rep needs for a relevant first call, from rows already fetched. Pure.

``build_brief(facts, policy, now)`` -> a JSON-ready dict (stored in ``ops.alerts.brief``);
``slack_blocks(brief)`` / ``slack_text(brief)`` -> the Block Kit message and its plain-text fallback.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from pipeline.policy import Policy

STEP_TITLES = {
    "manager_escalation": "SLA missed: no outreach yet",
    "reassignment": "Lead reassigned to you",
}
# engagement families that a buyer started (they count as intent, never as a touch)
BUYER_INITIATED = {("call", "INBOUND"), ("email", "INCOMING_EMAIL")}
# where decision-stage keywords are looked for: conversion events (forms, pages) and email subjects;
# a rep's own notes and task titles say nothing about the buyer's intent
KEYWORD_SOURCES = {"conversion", "email"}


@dataclass
class BriefFacts:
    """Rows about one episode. Activities: dicts with type, id, at (datetime), title, detail, owner_id."""

    episode: dict  # a marts.speed_to_lead row
    step: str
    contact: dict  # a hubspot.contacts row
    company: dict | None = None  # a hubspot.companies row
    activities: list[dict] = field(default_factory=list)
    conversions: list[dict] = field(default_factory=list)  # recent_conversion_event_name history: value, at
    score_history: list[dict] = field(default_factory=list)  # hubspotscore history: value, at
    other_contacts: list[dict] = field(default_factory=list)  # id, name, jobtitle, lifecyclestage, last_activity_at
    open_deals: list[dict] = field(default_factory=list)  # id, dealname, dealstage, amount, closedate
    owners: dict[str, dict] = field(default_factory=dict)  # owner id -> {email, first_name, last_name}
    recipient: str | None = None
    new_owner_id: str | None = None
    routing_reason: str | None = None
    portal_id: int | None = None


def iso(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return str(value)


def _as_utc(value) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value if value is None or value.tzinfo else value.replace(tzinfo=timezone.utc)
    text = str(value).replace("Z", "+00:00")
    parsed = datetime.fromisoformat(text)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def owner_view(owners: dict[str, dict], owner_id: str | None) -> dict | None:
    if not owner_id:
        return None
    row = owners.get(str(owner_id)) or {}
    name = " ".join(x for x in (row.get("first_name"), row.get("last_name")) if x) or None
    return {"id": str(owner_id), "name": name, "email": row.get("email")}


def value_at(history: list[dict], at: datetime | None) -> str | None:
    """The history value in force at ``at`` (latest entry at or before it); empty string counts as none."""
    if at is None:
        return None
    best = None
    for entry in history:
        when = _as_utc(entry["at"])
        if when is not None and when <= at and (best is None or when >= best[0]):
            best = (when, entry["value"])
    return (best[1] or None) if best else None


def keyword_hit(text: str | None, keywords: list[str]) -> str | None:
    if not text:
        return None
    padded = f" {text.lower()} "
    for word in keywords:
        if word.lower() in padded:
            return word.strip()
    return None


def _intent(activity: dict, policy: Policy) -> int:
    kind = activity["type"]
    text = activity.get("title")
    if kind == "meeting" and activity.get("detail") != "CANCELED":
        return 5
    if kind == "conversion" and policy.demo_recognition.is_demo(text):
        return 5
    if kind in KEYWORD_SOURCES and keyword_hit(text, policy.brief.decision_keywords):
        return 4
    if (kind, activity.get("detail")) in BUYER_INITIATED:
        return 3
    return 2 if kind == "conversion" else 1


def _activity_view(activity: dict, owners: dict[str, dict]) -> dict:
    owner = owner_view(owners, activity.get("owner_id"))
    return {
        "type": activity["type"], "id": activity.get("id"), "at": iso(activity.get("at")),
        "title": activity.get("title"), "detail": activity.get("detail"),
        "owner": owner["name"] or owner["email"] if owner else None,
    }


def build_brief(facts: BriefFacts, policy: Policy, now: datetime) -> dict:
    """The brief as a JSON-ready dict (timestamps ISO-8601 UTC)."""
    ep, contact, company = facts.episode, facts.contact, facts.company
    mql_at = _as_utc(ep["mql_at"])
    due_at = _as_utc(ep["sla_due_at"])
    skew = timedelta(minutes=policy.demo_recognition.logging_skew_minutes)
    skew_at = mql_at + skew if mql_at is not None else None
    conversions = [
        {"type": "conversion", "id": None, "at": _as_utc(c["at"]), "title": c["value"], "detail": None, "owner_id": None}
        for c in facts.conversions if c.get("value")
    ]
    past = [a for a in facts.activities if _as_utc(a.get("at")) and _as_utc(a["at"]) <= now]
    past = [dict(a, at=_as_utc(a["at"])) for a in past]
    recent = sorted(past, key=lambda a: (a["at"], str(a.get("id"))), reverse=True)[: policy.brief.activities]
    pool = past + [c for c in conversions if c["at"] and c["at"] <= now]
    top = max(pool, key=lambda a: (_intent(a, policy), a["at"]), default=None)
    decision = []
    for item in sorted(pool, key=lambda a: a["at"], reverse=True):
        if item["type"] not in KEYWORD_SOURCES:
            continue
        word = keyword_hit(item.get("title"), policy.brief.decision_keywords)
        if word:
            decision.append({"type": item["type"], "at": iso(item["at"]), "text": item.get("title"), "keyword": word})
    name = " ".join(x for x in (contact.get("firstname"), contact.get("lastname")) if x) or contact.get("email")
    contact_id = str(ep["contact_id"])
    overdue = (now - due_at).total_seconds() / 60.0 if due_at else None
    company_view = None
    if company:
        company_view = {
            "id": str(company.get("id")), "name": company.get("name"), "domain": company.get("domain"),
            "industry": company.get("industry"), "employees": company.get("numberofemployees"),
            "annual_revenue": company.get("annualrevenue"), "country": company.get("country"),
            "owner": owner_view(facts.owners, company.get("hubspot_owner_id")),
        }
    return {
        "mql_id": ep["mql_id"],
        "step": facts.step,
        "title": STEP_TITLES.get(facts.step, facts.step),
        "contact": {
            "id": contact_id, "name": name, "email": contact.get("email"), "job_title": contact.get("jobtitle"),
            "company": (company or {}).get("name") or contact.get("company"),
            "country": contact.get("country") or (company or {}).get("country"),
            "lifecycle_stage": contact.get("lifecyclestage"),
        },
        "company": company_view,
        "qualified": {
            "mql_at": iso(mql_at), "mql_type": ep.get("mql_type"),
            "conversion_event": value_at([{"value": c["title"], "at": c["at"]} for c in conversions], skew_at)
            or contact.get("recent_conversion_event_name"),
            "score_at_mql": value_at(facts.score_history, skew_at),
            "source": contact.get("hs_analytics_source"),
        },
        "sla": {
            "sla_minutes": ep.get("sla_minutes"), "due_at": iso(due_at),
            "minutes_overdue": round(overdue, 1) if overdue is not None else None,
            "missed_by": owner_view(facts.owners, ep.get("owner_id")), "team": ep.get("team"),
        },
        "last_activities": [_activity_view(a, facts.owners) for a in recent],
        "top_interaction": _activity_view(top, facts.owners) if top else None,
        "decision_stage": decision[:10],
        "account": {
            "other_contacts": facts.other_contacts[:10],
            "open_deals": facts.open_deals[:10],
            "company_owner": company_view["owner"] if company_view else None,
        },
        "assignment": {
            "recipient": facts.recipient,
            "new_owner": owner_view(facts.owners, facts.new_owner_id),
            "routing_reason": facts.routing_reason,
        },
        "link": policy.hubspot.contact_url(contact_id, facts.portal_id),
        "generated_at": iso(now),
    }


def _line(activity: dict) -> str:
    bits = [activity["type"], activity.get("detail"), activity.get("title")]
    text = " · ".join(str(b) for b in bits if b)
    return f"{(activity.get('at') or '')[:16].replace('T', ' ')} {text}"


def slack_text(brief: dict) -> str:
    """Plain-text fallback (notifications, clients without blocks)."""
    c = brief["contact"]
    who = f"{c['name']}" + (f" ({c['company']})" if c.get("company") else "")
    return f"{brief['title']}: {who}, SLA due {brief['sla']['due_at']}. {brief['link']}"


def slack_blocks(brief: dict) -> list[dict]:
    """Slack Block Kit for the brief (sections, fields, a button to the HubSpot record)."""
    c, q, sla, co = brief["contact"], brief["qualified"], brief["sla"], brief.get("company") or {}
    mrk = lambda text: {"type": "mrkdwn", "text": text[:2900]}  # noqa: E731  (Slack caps a text field at 3000)
    header = f"{brief['title']}: {c['name']}" + (f" · {c['company']}" if c.get("company") else "")
    missed = (sla.get("missed_by") or {}).get("name") or (sla.get("missed_by") or {}).get("email") or "unassigned"
    blocks: list[dict] = [
        {"type": "header", "text": {"type": "plain_text", "text": header[:150]}},
        {"type": "section", "fields": [
            mrk(f"*Title*\n{c.get('job_title') or '-'}"),
            mrk(f"*Company*\n{co.get('name') or c.get('company') or '-'} ({co.get('industry') or 'industry n/a'})"),
            mrk(f"*Size*\n{co.get('employees') or '-'} employees"),
            mrk(f"*Country*\n{c.get('country') or '-'}"),
            mrk(f"*Qualified by*\n{q.get('conversion_event') or '-'} (score {q.get('score_at_mql') or '-'})"),
            mrk(f"*SLA due*\n{sla.get('due_at')} ({sla.get('minutes_overdue')} min overdue, missed by {missed})"),
        ]},
    ]
    if brief["assignment"].get("new_owner"):
        new = brief["assignment"]["new_owner"]
        blocks.append({"type": "section", "text": mrk(
            f"*Now owned by* {new.get('name') or new.get('email')} — {brief['assignment'].get('routing_reason') or ''}")})
    top = brief.get("top_interaction")
    if top:
        blocks.append({"type": "section", "text": mrk(f"*Strongest signal*\n{_line(top)}")})
    if brief["decision_stage"]:
        lines = "\n".join(f"• {d['text']} (_{d['keyword']}_)" for d in brief["decision_stage"][:5])
        blocks.append({"type": "section", "text": mrk(f"*Decision-stage interest*\n{lines}")})
    if brief["last_activities"]:
        lines = "\n".join(f"• {_line(a)}" for a in brief["last_activities"])
        blocks.append({"type": "section", "text": mrk(f"*Last activities*\n{lines}")})
    account = brief["account"]
    if account["other_contacts"] or account["open_deals"]:
        people = ", ".join(f"{p.get('name')} ({p.get('jobtitle') or '-'})" for p in account["other_contacts"][:5])
        deals = ", ".join(f"{d.get('dealname')} [{d.get('dealstage')}]" for d in account["open_deals"][:5])
        blocks.append({"type": "section", "text": mrk(
            f"*Account*\nOther contacts: {people or 'none'}\nOpen deals: {deals or 'none'}")})
    blocks.append({"type": "actions", "elements": [
        {"type": "button", "text": {"type": "plain_text", "text": "Open in HubSpot"}, "url": brief["link"]},
    ]})
    recipient = brief["assignment"].get("recipient")
    footer = f"MQL `{brief['mql_id']}` · step `{brief['step']}`" + (f" · for {recipient}" if recipient else "")
    blocks.append({"type": "context", "elements": [mrk(footer)]})
    return blocks
