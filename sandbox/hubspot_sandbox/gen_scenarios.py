"""What kind of contact to build next: a random mix, led by a fixed list of deliberate cases.

The first contacts of every portal follow ``GUARANTEED`` so that even a 40-contact portal holds every feature
(re-MQL, stage skip, pending / overdue / past-2x MQLs, merged and archived contacts, a touch tie...).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from hubspot_sandbox.gen_clock import MS_DAY, MS_HOUR, MS_MINUTE


@dataclass
class Spec:
    kind: str  # lead | subscriber | skip | mql | remql | archived | merged
    recent: bool = False  # first MQL within the last ~10 days (enforcement window)
    mql_ago_ms: list[int] | None = None  # exact MQL instants, as offsets before now
    demo: list[bool] | None = None
    owner_mode: str | None = None  # preowned | at_mql | routed | changed_after | unassigned
    response_minutes: float | None = None  # first touch this long after mql_at (None: the rep's habit)
    never_touched: bool = False
    convert: str | None = None  # none | sql | opportunity | customer (None: by response bucket)
    tie: bool = False  # first touch is a call and an email logged at the same instant
    direct_mql: bool = False  # created straight into MQL (no lead entry)
    event_after_mql: bool = False  # the MQL's conversion event is logged 1-2 minutes after mql_at
    stay: bool = False  # no recycling, no conversion: still MQL at now
    extra: dict = field(default_factory=dict)  # first_kind: the first touch's kind; held_after_days: a booked
    # first meeting takes place this many days after it was booked


def _ago(days: float = 0, hours: float = 0, minutes: float = 0) -> int:
    return int(days * MS_DAY + hours * MS_HOUR + minutes * MS_MINUTE) + 737  # odd ms: never on a boundary


GUARANTEED: tuple[Spec, ...] = (
    Spec("mql", mql_ago_ms=[_ago(days=120)], demo=[True], owner_mode="preowned", response_minutes=3.2,
         convert="customer"),
    Spec("remql", mql_ago_ms=[_ago(days=200), _ago(days=90)], demo=[False, True]),
    Spec("skip"),
    Spec("mql", recent=True, mql_ago_ms=[_ago(minutes=20)], demo=[True], owner_mode="preowned",
         never_touched=True, stay=True),  # pending (demo, 1 h SLA)
    Spec("mql", recent=True, mql_ago_ms=[_ago(minutes=95)], demo=[True], owner_mode="preowned",
         never_touched=True, stay=True),  # overdue, between 1x and 2x
    Spec("mql", recent=True, mql_ago_ms=[_ago(days=3)], demo=[False], owner_mode="preowned",
         never_touched=True, stay=True),  # overdue past 2x (other, 24 h SLA)
    Spec("mql", mql_ago_ms=[_ago(days=300)], demo=[False], never_touched=True, stay=True),  # stale, never touched
    Spec("merged"),
    Spec("archived"),
    Spec("mql", mql_ago_ms=[_ago(days=45)], demo=[True], owner_mode="changed_after", response_minutes=38.0),
    Spec("mql", mql_ago_ms=[_ago(days=60)], demo=[False], owner_mode="routed", response_minutes=400.0),
    Spec("mql", mql_ago_ms=[_ago(days=30)], demo=[True], owner_mode="preowned", response_minutes=12.5, tie=True),
    Spec("mql", mql_ago_ms=[_ago(days=75)], demo=[False], owner_mode="preowned", response_minutes=2900.0,
         convert="none"),
    Spec("lead"),
    Spec("mql", mql_ago_ms=[_ago(days=15)], demo=[True], direct_mql=True, owner_mode="at_mql",
         response_minutes=1.5, convert="opportunity"),
    Spec("mql", mql_ago_ms=[_ago(days=20)], demo=[True], event_after_mql=True, owner_mode="preowned",
         response_minutes=70.0),
    Spec("mql", recent=True, mql_ago_ms=[_ago(hours=7)], demo=[False], owner_mode="preowned",
         never_touched=True, stay=True),  # pending (other)
    Spec("mql", recent=True, mql_ago_ms=[_ago(hours=30)], demo=[False], owner_mode="preowned",
         never_touched=True, stay=True),  # overdue 1x-2x (other)
    Spec("mql", recent=True, mql_ago_ms=[_ago(days=9)], demo=[False], owner_mode="preowned",
         never_touched=True, stay=True),  # overdue past 2x, outside the 7-day enforcement lookback
    Spec("mql", recent=True, mql_ago_ms=[_ago(hours=5)], demo=[True], owner_mode="preowned",
         never_touched=True, convert="sql"),  # overdue but left the MQL stage: not escalated
    Spec("mql", mql_ago_ms=[_ago(days=10)], demo=[False], owner_mode="unassigned", never_touched=True),
    Spec("lead"),
    Spec("mql", recent=True, mql_ago_ms=[_ago(hours=4)], demo=[True], owner_mode="routed", never_touched=True,
         stay=True),  # routed late, overdue past 2x
    Spec("mql", recent=True, mql_ago_ms=[_ago(days=2)], demo=[True], owner_mode="preowned", response_minutes=5.2,
         stay=True, extra={"first_kind": "meeting", "held_after_days": 7}),
    # a meeting booked ~5 minutes after a demo MQL (5.2: off the 5-minute bucket edge) for next week: a touch at
    # 5.2 minutes, never escalated
)

# random mix for everything after the guaranteed cases (weights)
KIND_WEIGHTS = (("lead", 72.0), ("subscriber", 2.5), ("skip", 3.5), ("mql", 17.5), ("remql", 2.0),
                ("archived", 1.0), ("merged", 1.5))
_KINDS = [k for k, _ in KIND_WEIGHTS]
_WEIGHTS = [w for _, w in KIND_WEIGHTS]
RECENT_SHARE = 0.07  # of random MQL contacts, first MQL within the last 10 days


def next_spec(rng: random.Random, index: int) -> Spec:
    """The spec of the index-th contact build (the guaranteed list first, then the random mix)."""
    if index < len(GUARANTEED):
        return GUARANTEED[index]
    kind = rng.choices(_KINDS, _WEIGHTS)[0]
    return Spec(kind, recent=kind == "mql" and rng.random() < RECENT_SHARE)
