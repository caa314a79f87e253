"""Fault injection from a spec string, deterministic per seed and request sequence number.

    "429=0.05,500=0.02,502=0.02,slow=0.02:1.5,drop=0.01,seed=7"

Each request n draws one number u(seed, n) in [0, 1); the kinds take consecutive slices of [0, 1) in the
order 429, 500, 502, 503, 504, slow, drop. ``slow=P:S`` delays the response S seconds (default 1.0) and then
serves it normally (writes apply); every other fault answers without touching the portal (no write applies).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from pipeline.errors import ConfigError

KINDS = ("429", "500", "502", "503", "504", "slow", "drop")


@dataclass(frozen=True)
class Fault:
    kind: str
    delay_s: float = 0.0


@dataclass(frozen=True)
class FaultPlan:
    rates: dict[str, float] = field(default_factory=dict)
    slow_s: float = 1.0
    seed: int = 0

    @property
    def active(self) -> bool:
        return any(rate > 0 for rate in self.rates.values())

    def draw(self, sequence: int) -> float:
        digest = hashlib.blake2b(f"{self.seed}:{sequence}".encode(), digest_size=8).digest()
        return int.from_bytes(digest, "big") / 2**64

    def decide(self, sequence: int) -> Fault | None:
        """The fault for request number ``sequence`` (1-based), or None."""
        if not self.active:
            return None
        u = self.draw(sequence)
        edge = 0.0
        for kind in KINDS:
            edge += self.rates.get(kind, 0.0)
            if u < edge:
                return Fault(kind, self.slow_s if kind == "slow" else 0.0)
        return None


def parse_faults(spec: str | None) -> FaultPlan | None:
    """Parse a spec; raises ConfigError (one line) naming the bad part."""
    if spec is None or not spec.strip():
        return None
    rates: dict[str, float] = {}
    slow_s, seed = 1.0, 0
    for part in (p.strip() for p in spec.split(",") if p.strip()):
        key, sep, value = part.partition("=")
        key = key.strip().lower()
        if not sep:
            raise ConfigError(f"fault spec {spec!r}: {part!r} needs KIND=RATE (e.g. 500=0.02)")
        try:
            if key == "seed":
                seed = int(value)
                continue
            if key == "slow" and ":" in value:
                value, seconds = value.split(":", 1)
                slow_s = float(seconds)
                if slow_s < 0:
                    raise ValueError
            rate = float(value)
        except ValueError:
            raise ConfigError(f"fault spec {spec!r}: {part!r} has a value that is not a number") from None
        if key not in KINDS:
            raise ConfigError(f"fault spec {spec!r}: unknown fault {key!r} (one of {', '.join(KINDS)}, seed)")
        if not 0.0 <= rate <= 1.0:
            raise ConfigError(f"fault spec {spec!r}: rate {rate} for {key} must be between 0 and 1")
        rates[key] = rate
    if sum(rates.values()) > 1.0 + 1e-9:
        raise ConfigError(f"fault spec {spec!r}: the rates add up to more than 1")
    return FaultPlan(rates=rates, slow_s=slow_s, seed=seed)
