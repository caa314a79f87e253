"""The SLA / routing policy: a plain YAML file validated into typed settings.

``load_policy(path)`` with no path loads the packaged default (``pipeline/default_policy.yaml``);
``HANDOFF_POLICY`` names the user's file. Errors name the key and the problem in one line.
"""

from __future__ import annotations

import re
from datetime import time
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from pipeline.errors import ConfigError

DEFAULT_POLICY_PATH = Path(__file__).with_name("default_policy.yaml")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MqlType = Literal["demo_request", "other"]
StepName = Literal["handoff", "manager_escalation", "reassignment"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SlaMinutes(_Strict):
    demo_request: int = Field(60, gt=0)
    other: int = Field(1440, gt=0)


class Sla(_Strict):
    minutes: SlaMinutes = SlaMinutes()
    clock: Literal["wall", "business"] = "wall"


class DemoRecognition(_Strict):
    pattern: str = "demo"
    forms: list[str] = []
    logging_skew_minutes: float = Field(5, ge=0)

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as err:
            raise ValueError(f"not a valid regular expression ({err})") from None
        return value

    def is_demo(self, event_name: str | None) -> bool:
        if not event_name:
            return False
        if event_name in self.forms:
            return True
        return re.search(self.pattern, event_name, flags=re.IGNORECASE) is not None


def _check_timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {value!r} (use an IANA name like America/New_York)") from None
    return value


class BusinessHours(_Strict):
    timezone: str = "America/New_York"
    weekdays: list[str] = ["mon", "tue", "wed", "thu", "fri"]
    start: time = time(9, 0)
    end: time = time(17, 0)

    _tz = field_validator("timezone")(classmethod(lambda cls, v: _check_timezone(v)))

    @field_validator("weekdays")
    @classmethod
    def _days(cls, value: list[str]) -> list[str]:
        days = [d.strip().lower()[:3] for d in value]
        bad = [d for d in days if d not in WEEKDAYS]
        if bad:
            raise ValueError(f"unknown weekday(s) {bad}; use {list(WEEKDAYS)}")
        if not days:
            raise ValueError("at least one weekday is needed")
        return days

    @model_validator(mode="after")
    def _order(self) -> "BusinessHours":
        if self.end <= self.start:
            raise ValueError(f"end {self.end} must be after start {self.start}")
        return self

    @property
    def weekday_numbers(self) -> list[int]:
        """ISO-less Python weekday numbers (Monday = 0)."""
        return sorted(WEEKDAYS.index(d) for d in self.weekdays)


class EscalationStep(_Strict):
    step: StepName
    at_sla_multiple: float = Field(ge=0)

    @model_validator(mode="after")
    def _positive(self) -> "EscalationStep":
        if self.step != "handoff" and self.at_sla_multiple <= 0:
            raise ValueError(f"{self.step} must be at a positive multiple of the SLA (only handoff may be at 0)")
        return self


class Managers(_Strict):
    """Who receives a manager escalation: per owner (id or email) first, then per team, then the fallback."""

    owners: dict[str, str] = {}
    teams: dict[str, str] = {}
    fallback: str | None = None

    def recipient_for(self, owner_id: str | None, owner_email: str | None, team: str | None) -> tuple[str | None, str]:
        """(recipient, how it was found: ``owner``, ``team``, ``fallback`` or ``none``)."""
        for key in (owner_id, owner_email):
            if key and key in self.owners:
                return self.owners[key], "owner"
        if team and team in self.teams:
            return self.teams[team], "team"
        return self.fallback, ("fallback" if self.fallback else "none")

    def recipients(self) -> set[str]:
        """Every configured recipient, lower-cased (owner ids or emails)."""
        values = [*self.owners.values(), *self.teams.values(), self.fallback]
        return {v.strip().lower() for v in values if v}


class RoutingRule(_Strict):
    name: str
    type: Literal["account_owner", "territory", "industry", "inbound", "outbound", "fallback"]
    team: str | None = None
    owner: str | None = None
    pool: list[str] | None = None
    countries: list[str] = []
    regions: list[str] = []
    industries: list[str] = []

    @model_validator(mode="after")
    def _target(self) -> "RoutingRule":
        if self.type == "account_owner":
            return self
        if not (self.team or self.owner or self.pool):
            raise ValueError(f"rule {self.name!r} ({self.type}) needs a team, an owner or a pool")
        if sum(bool(x) for x in (self.team, self.owner, self.pool)) > 1:
            raise ValueError(f"rule {self.name!r} names more than one of team, owner, pool; keep one")
        if self.type == "territory" and not (self.countries or self.regions):
            raise ValueError(f"territory rule {self.name!r} needs a list of countries (or regions)")
        if self.type == "industry" and not self.industries:
            raise ValueError(f"industry rule {self.name!r} needs a list of industries")
        return self


class RepSettings(_Strict):
    weight: float = Field(1.0, gt=0)
    daily_cap: int | None = Field(None, ge=0)
    away: bool = False
    working_hours: BusinessHours | None = None


class Routing(_Strict):
    rules: list[RoutingRule] = []
    reps: dict[str, RepSettings] = {}
    default_daily_cap: int = Field(25, ge=0)
    # owners named as recipients under `managers` are not picked from a team or pool unless this is true
    route_to_managers: bool = False

    @field_validator("rules")
    @classmethod
    def _unique_names(cls, rules: list[RoutingRule]) -> list[RoutingRule]:
        names = [r.name for r in rules]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"rule names must be unique; repeated: {dupes}")
        return rules


class Brief(_Strict):
    """What the handoff brief shows: how many recent activities, which words mark decision-stage intent."""

    activities: int = Field(5, ge=1, le=50)
    decision_keywords: list[str] = [
        "pricing", "price", "cost", "quote", "plans", "comparison", "compare", " vs ", "versus",
        "alternative", "roi", "contract", "procurement", "security review", "trial", "demo",
    ]


# HubSpot's standard lifecycle stages (internal values) in its default display order (DOMAIN.md "HubSpot facts"):
# the one list; the sandbox's Properties API and stage-date properties are built from it (hubspot_sandbox.crm_meta)
STANDARD_LIFECYCLE_STAGES = ("subscriber", "lead", "marketingqualifiedlead", "salesqualifiedlead", "opportunity",
                             "customer", "evangelist", "other")
STAGE_ROLES = ("mql", "sql", "opportunity", "customer")


class LifecycleStages(_Strict):
    """Which of the portal's lifecycle stages (internal values) play each role (docs/policy.md)."""

    mql: list[str] = ["marketingqualifiedlead"]
    sql: list[str] = ["salesqualifiedlead"]
    opportunity: list[str] = ["opportunity"]
    customer: list[str] = ["customer", "evangelist"]

    @field_validator("mql", "sql", "opportunity", "customer")
    @classmethod
    def _values(cls, value: list[str]) -> list[str]:
        values = [str(v).strip() for v in value]
        if not values:
            raise ValueError("needs at least one lifecycle stage (an internal value such as marketingqualifiedlead)")
        if any(not v for v in values):
            raise ValueError("a lifecycle stage may not be empty (the empty value means the stage was cleared)")
        return values

    @model_validator(mode="after")
    def _one_role_each(self) -> "LifecycleStages":
        seen: dict[str, str] = {}
        for role in STAGE_ROLES:
            for value in getattr(self, role):
                if value in seen and seen[value] != role:
                    raise ValueError(f"stage {value!r} is listed under both {seen[value]} and {role}; "
                                     "a stage plays one role")
                seen[value] = role
        return self

    def role_of(self, value: str | None) -> str | None:
        """The role (mql / sql / opportunity / customer) of a stage's internal value, or None."""
        for role in STAGE_ROLES:
            if value in getattr(self, role):
                return role
        return None

    def is_custom_unroled(self, value: str | None) -> bool:
        """A portal custom stage that plays no role: skipped by the episode rule (neither ends nor opens)."""
        return bool(value) and value not in STANDARD_LIFECYCLE_STAGES and self.role_of(value) is None

    def configured(self) -> list[tuple[str, str]]:
        """(key, internal value) of every configured stage, in role order (``lifecycle_stages.mql``...)."""
        return [(f"lifecycle_stages.{role}", v) for role in STAGE_ROLES for v in getattr(self, role)]


class Touches(_Strict):
    """Touch-rule settings (docs/contracts.md "Touch rules")."""

    # meeting outcomes (compared upper-cased) that never count as an outreach attempt
    meeting_outcomes_excluded: list[str] = ["CANCELED"]

    @field_validator("meeting_outcomes_excluded")
    @classmethod
    def _upper(cls, value: list[str]) -> list[str]:
        values = [str(v).strip().upper() for v in value]
        if any(not v for v in values):
            raise ValueError("an excluded meeting outcome may not be empty")
        return values


class HubSpotLinks(_Strict):
    portal_id: int | None = None
    app_url: str = "https://app.hubspot.com"

    def contact_url(self, contact_id: str, portal_id: int | None = None) -> str:
        pid = portal_id or self.portal_id
        base = self.app_url.rstrip("/")
        return f"{base}/contacts/{pid}/record/0-1/{contact_id}" if pid else f"{base}/contacts/record/0-1/{contact_id}"


class Handoff(_Strict):
    """The handoff at the MQL moment (ladder step ``handoff``): Slack mentions and re-routing of owned leads."""

    # owner e-mail (or owner id) -> Slack member id (U...): the handoff message mentions the owner as <@U...>
    slack_members: dict[str, str] = {}
    # false: a lead that already has an owner at the MQL keeps it; true: every new MQL is routed by the rules
    reroute_owned: bool = False

    def member_for(self, owner_id: str | None, email: str | None) -> str | None:
        lowered = {k.strip().lower(): v for k, v in self.slack_members.items()}
        for key in (email, owner_id):
            if key and key.strip().lower() in lowered:
                return lowered[key.strip().lower()]
        return None


class Policy(_Strict):
    version: int = 1
    sla: Sla = Sla()
    demo_recognition: DemoRecognition = DemoRecognition()
    business_hours: BusinessHours = BusinessHours()
    minimum_attempts: int = Field(3, ge=1)
    escalation: list[EscalationStep] = [
        EscalationStep(step="handoff", at_sla_multiple=0.0),
        EscalationStep(step="manager_escalation", at_sla_multiple=1.0),
        EscalationStep(step="reassignment", at_sla_multiple=2.0),
    ]
    # only episodes whose mql_at is this recent are escalated (old never-touched MQLs are reported, not chased)
    enforcement_lookback_days: float = Field(7, gt=0)
    managers: Managers = Managers()
    routing: Routing = Routing()
    write_mode: Literal["dry_run", "live"] = "dry_run"
    hubspot: HubSpotLinks = HubSpotLinks()
    brief: Brief = Brief()
    lifecycle_stages: LifecycleStages = LifecycleStages()
    touches: Touches = Touches()
    # --- live lane (livelane, contract 8) ---
    handoff: Handoff = Handoff()

    @field_validator("escalation")
    @classmethod
    def _ladder(cls, steps: list[EscalationStep]) -> list[EscalationStep]:
        names = [s.step for s in steps]
        if len(set(names)) != len(names):
            raise ValueError("each escalation step may appear once")
        return steps

    def overdue_steps(self) -> list[EscalationStep]:
        """The ladder steps the overdue sensor requests (every step but the MQL-moment ``handoff``)."""
        return [s for s in self.escalation if s.step != "handoff"]

    def step_multiple(self, step: str) -> float | None:
        """The ladder step's ``at_sla_multiple``; None when the policy leaves the step out."""
        return next((s.at_sla_multiple for s in self.escalation if s.step == step), None)

    def mql_stages(self) -> list[str]:
        """Internal values of the stages of the ``mql`` role (``lifecycle_stages.mql``; contract 4)."""
        return list(self.lifecycle_stages.mql)

    def sla_minutes(self, mql_type: str) -> int:
        return self.sla.minutes.demo_request if mql_type == "demo_request" else self.sla.minutes.other


def _format_error(err: ValidationError, source: str) -> str:
    first = err.errors()[0]
    key = ".".join(str(p) for p in first["loc"]) or "(top level)"
    msg = first["msg"].removeprefix("Value error, ")
    more = f" (+{len(err.errors()) - 1} more)" if len(err.errors()) > 1 else ""
    return f"policy {source}: {key}: {msg}{more}"


def parse_policy(text: str, source: str = "<string>") -> Policy:
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise ConfigError(f"policy {source}:{where} is not valid YAML ({getattr(err, 'problem', err)})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"policy {source}: the top level must be a mapping of keys (sla, routing, ...)")
    try:
        return Policy.model_validate(data)
    except ValidationError as err:
        raise ConfigError(_format_error(err, source)) from None


def load_policy(path: str | Path | None = None) -> Policy:
    """Load and validate a policy file; ``None`` means the packaged default."""
    target = Path(path) if path else DEFAULT_POLICY_PATH
    try:
        text = target.read_text(encoding="utf-8")
    except OSError as err:
        raise ConfigError(f"policy {target}: cannot read ({err.strerror})") from None
    return parse_policy(text, str(target))
