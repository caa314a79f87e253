"""One benchmark measurement, printed as a ratio against a baseline measured in the same run."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass
class Result:
    suite: str  # e.g. "extraction"
    name: str  # what was measured, e.g. "initial sync API calls / theoretical minimum"
    value: float  # the measured ratio (or absolute value when there is no baseline)
    target: str  # e.g. "<= 1.1"
    passed: bool | None  # None when the target is informational
    detail: str = ""  # raw numbers behind the ratio: "2041 calls / 1980 minimum"

    def as_dict(self) -> dict:
        return asdict(self)
