"""Companies of a generated portal: industry, country, size, and (for some) an account owner."""

from __future__ import annotations

import random
from dataclasses import dataclass

from hubspot_sandbox.gen_catalog import (
    COMPANY_SUFFIXES, COMPANY_WORDS, COUNTRIES, FINTECH_INDUSTRIES, INDUSTRIES, US_STATES,
)
from hubspot_sandbox.gen_clock import MS_DAY, MS_HOUR, iso
from hubspot_sandbox.gen_roster import Roster

COMPANY_ID_BASE = 3_000_000
_COUNTRY_WEIGHTS = [c[1] for c in COUNTRIES]
_INDUSTRY_NAMES = [i[0] for i in INDUSTRIES]
_INDUSTRY_WEIGHTS = [i[1] for i in INDUSTRIES]


@dataclass(frozen=True)
class Company:
    id: str
    name: str
    domain: str
    industry: str
    country: str
    state: str | None
    city: str
    owner_id: str | None
    team: str  # the team the portal historically routed this account to


def company_count(contacts: int) -> int:
    return max(6, contacts // 5)


def build_companies(rng: random.Random, contacts: int, roster: Roster, now_ms: int) -> tuple[list[Company], list[dict]]:
    """Companies (for contact generation) and their snapshot objects."""
    companies: list[Company] = []
    objects: list[dict] = []
    for index in range(company_count(contacts)):
        cid = str(COMPANY_ID_BASE + index + 1)
        country, _, region_team, cities = rng.choices(COUNTRIES, _COUNTRY_WEIGHTS)[0]
        industry = rng.choices(_INDUSTRY_NAMES, _INDUSTRY_WEIGHTS)[0]
        team = "Fintech" if industry in FINTECH_INDUSTRIES else region_team
        word = COMPANY_WORDS[index % len(COMPANY_WORDS)]
        name = f"{word} {rng.choice(COMPANY_SUFFIXES)}" + (f" {index // len(COMPANY_WORDS)}" if index >= 30 else "")
        domain = f"{name.lower().replace(' ', '-').replace('&', 'and')}.example"
        city = rng.choice(cities)
        state = US_STATES.get(city) if country == "United States" else None
        owner_id = None
        if index == 2:
            owner_id = "160"  # an account still owned by a rep who left (archived owner)
        elif rng.random() < 0.25:
            owner_id = rng.choice(roster.reps_by_team[team]).id
        employees = int(10 ** rng.uniform(0.7, 4.5))
        created = now_ms - rng.randint(600, 1200) * MS_DAY + rng.randint(0, 23) * MS_HOUR
        modified = created + rng.randint(1, 500) * MS_DAY
        modified = min(modified, now_ms - MS_HOUR)
        company = Company(cid, name, domain, industry, country, state, city, owner_id, team)
        companies.append(company)
        props = {
            "hs_object_id": cid,
            "name": name,
            "domain": domain,
            "industry": industry,
            "country": country,
            "city": company.city,
            "numberofemployees": str(employees),
            "annualrevenue": str(employees * rng.randint(80, 400) * 1000),
            "createdate": iso(created),
            "hs_lastmodifieddate": iso(modified),
        }
        if state:
            props["state"] = state
        if owner_id:
            props["hubspot_owner_id"] = owner_id
        objects.append({
            "id": cid, "properties": props, "createdAt": iso(created), "updatedAt": iso(modified),
            "archived": False, "associations": {},
        })
    return companies, objects
