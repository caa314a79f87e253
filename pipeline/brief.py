"""The handoff brief: everything a rep needs for a relevant first call, from rows already fetched. Pure.

``build_brief(facts, policy, now)`` -> a JSON-ready dict (stored in ``ops.alerts.brief``);
``slack_blocks(brief)`` / ``slack_text(brief)`` -> the Block Kit message and its plain-text fallback.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from pipeline.policy import Policy

STEP_TITLES = {
    "handoff": "New MQL for you",
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
    mention: str | None = None  # the owner's Slack member id (policy handoff.slack_members)
    task_id: str | None = None  # the HubSpot task the handoff created

# what the lead did, from the contact's own properties (HubSpot's names)
WEB_PROPERTIES = {  # brief key -> contact property
    "first_url": "hs_analytics_first_url", "last_url": "hs_analytics_last_url",
    "page_views": "hs_analytics_num_page_views", "sessions": "hs_analytics_num_visits",
    "first_visit_at": "hs_analytics_first_visit_timestamp", "last_visit_at": "hs_analytics_last_visit_timestamp",
    "source": "hs_analytics_source", "source_detail": "hs_analytics_source_data_1",
    "first_referrer": "hs_analytics_first_referrer", "last_referrer": "hs_analytics_last_referrer",
}
EMAIL_PROPERTIES = {"last_opened_at": "hs_email_last_open_date", "last_clicked_at": "hs_email_last_click_date",
                    "last_email_name": "hs_email_last_email_name", "opens": "hs_email_open", "clicks": "hs_email_click"}
SCORE_WINDOW = timedelta(days=30)  # how far before the MQL the score's movement is shown


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
        **lead_activity(facts, policy),
        "handoff": {"mention": facts.mention, "task_id": facts.task_id,
                    "minutes_left": round(-overdue, 1) if overdue is not None else None}
        if facts.step == "handoff" else None,
    }


def _present(value) -> bool:
    return value not in (None, "")


def conversions_view(conversions: list[dict]) -> list[dict]:
    """Every conversion (the history of ``recent_conversion_event_name``), newest first."""
    rows = [{"at": iso(_as_utc(c["at"])), "event": c["value"]} for c in conversions if c.get("value")]
    return sorted(rows, key=lambda r: r["at"] or "", reverse=True)


def web_view(contact: dict) -> dict:
    """Web activity from the ``hs_analytics_*`` properties, or a plain note when the portal has none."""
    found = {key: contact.get(prop) for key, prop in WEB_PROPERTIES.items() if _present(contact.get(prop))}
    if not found:
        return {"available": False, "note": "no web analytics on this contact (hs_analytics_* properties empty: "
                                            "tracking code not installed, or the lead never visited)"}
    return {"available": True, **{key: found.get(key) for key in WEB_PROPERTIES}}


def email_view(contact: dict) -> dict:
    found = {key: contact.get(prop) for key, prop in EMAIL_PROPERTIES.items() if _present(contact.get(prop))}
    if not found:
        return {"available": False, "note": "no marketing-email engagement on this contact (hs_email_* empty)"}
    return {"available": True, **{key: found.get(key) for key in EMAIL_PROPERTIES}}


def score_view(history: list[dict], mql_at: datetime | None, skew: timedelta) -> dict:
    """How ``hubspotscore`` moved into the MQL: its values over the 30 days before ``mql_at`` (+ skew)."""
    if mql_at is None or not history:
        return {"available": False, "note": "no HubSpot score history on this contact"}
    entries = sorted(((_as_utc(h["at"]), h["value"]) for h in history if _as_utc(h.get("at"))), key=lambda x: x[0])
    until = mql_at + skew
    steps = [{"at": iso(at), "value": value} for at, value in entries if mql_at - SCORE_WINDOW < at <= until]
    # the score when the 30 days began, or its first value inside them (a contact created since)
    before = value_at(history, mql_at - SCORE_WINDOW) or (steps[0]["value"] if steps else None)
    at_mql = value_at(history, until)

    def number(v):
        try:
            return float(v)
        except (TypeError, ValueError):
            return None

    delta = (number(at_mql) - number(before)) if number(at_mql) is not None and number(before) is not None else None
    return {"available": True, "score_before": before, "score_at_mql": at_mql, "change": delta,
            "steps": list(reversed(steps))[:10]}


def lead_activity(facts: BriefFacts, policy: Policy) -> dict:
    """What the lead did to qualify: conversions, web activity, email engagement, score movement."""
    mql_at = _as_utc(facts.episode.get("mql_at"))
    skew = timedelta(minutes=policy.demo_recognition.logging_skew_minutes)
    return {"conversions": conversions_view(facts.conversions)[:20], "web_activity": web_view(facts.contact),
            "email_engagement": email_view(facts.contact),
            "score_movement": score_view(facts.score_history, mql_at, skew)}


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
    handoff = brief.get("handoff")
    if handoff is not None:
        blocks = _handoff_head(brief, handoff, blocks)
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
    blocks.extend(_activity_blocks(brief, mrk))
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


def _handoff_head(brief: dict, handoff: dict, blocks: list[dict]) -> list[dict]:
    """The handoff's own lines: who it is for (a Slack mention when mapped), the task and the time left."""
    mrk = lambda text: {"type": "mrkdwn", "text": text[:2900]}  # noqa: E731
    sla = brief["sla"]
    owner = (brief["assignment"].get("new_owner") or {}) or {}
    who = f"<@{handoff['mention']}>" if handoff.get("mention") else (brief["assignment"].get("recipient") or "you")
    left = handoff.get("minutes_left")
    due = f"first outreach due {sla.get('due_at')}" + (f" ({left:.0f} min left)" if left is not None else "")
    task = f" · HubSpot task {handoff['task_id']}" if handoff.get("task_id") else ""
    head = blocks[0]
    fields = blocks[1]["fields"][:5] + [mrk(f"*SLA*\n{sla.get('sla_minutes')} min to first touch")]
    lines = [f"{who}: this lead is yours — {due}{task}"]
    if owner.get("id"):
        lines.append(f"Routed by rule: {brief['assignment'].get('routing_reason') or '-'}")
    return [head, {"type": "section", "text": mrk("\n".join(lines))}, {"type": "section", "fields": fields}]


def _activity_blocks(brief: dict, mrk) -> list[dict]:
    """Conversions, web activity, email engagement and the score's movement (each says when it is missing)."""
    out = []
    conv = brief.get("conversions") or []
    if conv:
        lines = "\n".join(f"• {(c['at'] or '')[:16].replace('T', ' ')} {c['event']}" for c in conv[:6])
        out.append({"type": "section", "text": mrk(f"*Conversions ({len(conv)})*\n{lines}")})
    web = brief.get("web_activity") or {}
    if web:
        if web.get("available"):
            text = (f"*Web activity*\n{web.get('page_views') or '-'} page views in {web.get('sessions') or '-'} "
                    f"sessions · last visit {(web.get('last_visit_at') or '-')[:16].replace('T', ' ')}\n"
                    f"First page: {web.get('first_url') or '-'}\nLast page: {web.get('last_url') or '-'}\n"
                    f"Source: {web.get('source') or '-'}"
                    + (f" ({web['source_detail']})" if web.get("source_detail") else "")
                    + (f" · referrer {web['last_referrer'] or web.get('first_referrer')}"
                       if web.get("last_referrer") or web.get("first_referrer") else ""))
        else:
            text = f"*Web activity*\n_{web.get('note')}_"
        out.append({"type": "section", "text": mrk(text)})
    email = brief.get("email_engagement") or {}
    if email:
        if email.get("available"):
            text = (f"*Marketing email*\nLast opened {(email.get('last_opened_at') or '-')[:16].replace('T', ' ')}"
                    f" · last clicked {(email.get('last_clicked_at') or '-')[:16].replace('T', ' ')}"
                    f"\nLast email: {email.get('last_email_name') or '-'}")
        else:
            text = f"*Marketing email*\n_{email.get('note')}_"
        out.append({"type": "section", "text": mrk(text)})
    score = brief.get("score_movement") or {}
    if score.get("available") and score.get("steps"):
        path = " → ".join(str(s["value"]) for s in reversed(score["steps"][:6]))
        change = score.get("change")
        out.append({"type": "section", "text": mrk(
            f"*Score into the MQL*\n{score.get('score_before') or '-'} over the 30 days before → "
            f"{score.get('score_at_mql') or '-'} at the MQL"
            + (f" ({change:+.0f})" if change is not None else "") + f"\nSteps: {path}")})
    return out
