"""The sales org of a generated portal: teams, managers, reps with response-time habits, archived owners."""

from __future__ import annotations

from dataclasses import dataclass, field

from hubspot_sandbox.gen_clock import iso

TEAM_IDS = {"North America": "1", "EMEA": "2", "APAC": "3", "Fintech": "4"}


@dataclass(frozen=True)
class Habit:
    """How a rep answers new MQLs: log-normal delay around a median, a chance of never answering,
    and a chance of leaving an off-hours lead to the next working morning."""

    name: str
    median_minutes: float
    sigma: float
    never: float
    waits_for_morning: float


HABITS = {
    "lightning": Habit("lightning", 2.5, 0.8, 0.03, 0.3),
    "fast": Habit("fast", 14.0, 0.9, 0.05, 0.5),
    "steady": Habit("steady", 70.0, 0.9, 0.08, 0.7),
    "slow": Habit("slow", 420.0, 0.8, 0.12, 0.8),
    "sluggish": Habit("sluggish", 1900.0, 0.6, 0.20, 0.9),
    "absent": Habit("absent", 1.0, 0.1, 1.0, 0.0),
}


@dataclass(frozen=True)
class Owner:
    id: str
    first: str
    last: str
    email: str
    teams: tuple[tuple[str, bool], ...]  # (team name, primary)
    habit: Habit
    is_rep: bool = True
    archived: bool = False

    @property
    def team(self) -> str | None:
        """Primary team name, else any team, else None (docs/contracts.md "Episode rules")."""
        for name, primary in self.teams:
            if primary:
                return name
        return self.teams[0][0] if self.teams else None


def _rep(oid: str, first: str, last: str, team: str, habit: str, **extra) -> Owner:
    email = f"{first.lower()}.{last.lower()}@sandbox.example"
    teams = extra.pop("teams", ((team, True),))
    return Owner(oid, first, last, email, teams, HABITS[habit], **extra)


def _manager(oid: str, first: str, last: str, team: str, prefix: str) -> Owner:
    return Owner(oid, first, last, f"{prefix}.manager@sandbox.example", ((team, True),), HABITS["steady"],
                 is_rep=False)


@dataclass
class Roster:
    owners: list[Owner]
    by_id: dict[str, Owner] = field(init=False)
    reps_by_team: dict[str, list[Owner]] = field(init=False)

    def __post_init__(self) -> None:
        self.by_id = {o.id: o for o in self.owners}
        self.reps_by_team = {name: [] for name in TEAM_IDS}
        for owner in self.owners:
            if owner.is_rep and not owner.archived and owner.teams:
                self.reps_by_team[owner.teams[0][0]].append(owner)

    @property
    def active_reps(self) -> list[Owner]:
        return [o for o in self.owners if o.is_rep and not o.archived]

    def owner_objects(self, created_ms: int) -> list[dict]:
        """The ``owners`` section of the snapshot (``GET /crm/v3/owners`` shape)."""
        out = []
        for index, owner in enumerate(self.owners):
            stamp = iso(created_ms + index * 60_000)
            out.append({
                "id": owner.id,
                "email": owner.email,
                "type": "PERSON",
                "firstName": owner.first,
                "lastName": owner.last,
                "userId": 9000 + int(owner.id),
                "userIdIncludingInactive": 9000 + int(owner.id),
                "createdAt": stamp,
                "updatedAt": stamp,
                "archived": owner.archived,
                "teams": [{"id": TEAM_IDS[name], "name": name, "primary": primary} for name, primary in owner.teams],
            })
        return out


def build_roster() -> Roster:
    """The same org for every seed: 4 teams with a manager each, 17 reps, an admin, 2 archived reps."""
    return Roster([
        _manager("101", "Nora", "Alvarez", "North America", "na"),
        _manager("102", "Elena", "Moretti", "EMEA", "emea"),
        _manager("103", "Kenji", "Watanabe", "APAC", "apac"),
        _manager("104", "Victor", "Hale", "Fintech", "fintech"),
        _rep("110", "Ava", "Thompson", "North America", "lightning"),
        _rep("111", "Liam", "Carter", "North America", "fast"),
        _rep("112", "Noah", "Brooks", "North America", "steady"),
        _rep("113", "Emma", "Reyes", "North America", "slow"),
        _rep("114", "Mason", "Patel", "North America", "sluggish"),
        _rep("115", "Olivia", "Nguyen", "North America", "fast",
             teams=(("North America", True), ("Fintech", False))),
        # an SDR whose only team is not flagged primary ("else any team")
        _rep("116", "Sam", "Rivera", "North America", "fast", teams=(("North America", False),)),
        _rep("120", "Sophie", "Martin", "EMEA", "fast"),
        _rep("121", "Lukas", "Weber", "EMEA", "steady"),
        _rep("122", "Chloe", "Dubois", "EMEA", "slow"),
        _rep("123", "Oliver", "Hughes", "EMEA", "lightning"),
        _rep("130", "Hiro", "Tanaka", "APAC", "steady"),
        _rep("131", "Priya", "Sharma", "APAC", "fast"),
        _rep("132", "Jack", "Wilson", "APAC", "sluggish"),
        _rep("140", "Daniel", "Cohen", "Fintech", "lightning"),
        _rep("141", "Grace", "Kim", "Fintech", "steady"),
        _rep("142", "Marco", "Rossi", "Fintech", "slow"),
        # a RevOps admin with no team: owns imported leads, never calls them
        Owner("150", "Riley", "Admin", "revops.admin@sandbox.example", (), HABITS["absent"], is_rep=False),
        # reps who left: archived in HubSpot, some leads still point at them
        _rep("160", "Ethan", "Ward", "North America", "absent", archived=True),
        _rep("161", "Isla", "Brown", "EMEA", "absent", archived=True),
    ])
