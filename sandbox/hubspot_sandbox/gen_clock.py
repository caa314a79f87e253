"""Time for the generator: epoch-millisecond integers, HubSpot's ISO format, and a business-hours calendar.

The generator works in integer epoch milliseconds throughout (exact, fast) and formats at the edge.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from pipeline.policy import BusinessHours

MS_SECOND = 1_000
MS_MINUTE = 60_000
MS_HOUR = 3_600_000
MS_DAY = 86_400_000

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
# a Monday afternoon (10:00 in New York): the default "as of" instant of every generated portal
DEFAULT_NOW = datetime(2026, 11, 2, 15, 0, tzinfo=timezone.utc)

_DAY_PREFIX: dict[int, str] = {}


def to_ms(moment: datetime) -> int:
    """Epoch milliseconds of an aware datetime (naive means UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return (moment - EPOCH) // timedelta(milliseconds=1)


# lookup tables: "HH:MM:" for each minute of a day, "SS.mmmZ" for each millisecond of a minute
_MINUTE_TEXT = [f"{m // 60:02d}:{m % 60:02d}:" for m in range(1440)]
_MILLI_TEXT = [f"{x // 1000:02d}.{x % 1000:03d}Z" for x in range(MS_MINUTE)]


def iso(ms: int) -> str:
    """HubSpot's instant format: ``2026-11-02T15:00:00.000Z`` (UTC, milliseconds)."""
    day, rest = divmod(ms, MS_DAY)
    prefix = _DAY_PREFIX.get(day)
    if prefix is None:
        prefix = (EPOCH + timedelta(days=day)).strftime("%Y-%m-%dT")
        _DAY_PREFIX[day] = prefix
    minute, milli = divmod(rest, MS_MINUTE)
    return prefix + _MINUTE_TEXT[minute] + _MILLI_TEXT[milli]


def month_of(ms: int) -> str:
    """UTC calendar month ``YYYY-MM`` of an instant (the cohort key of the funnel)."""
    return iso(ms)[:7]


def minutes_between(start_ms: int, end_ms: int) -> float:
    """``(end - start) / 60000.0`` exactly as docs/contracts.md defines minutes."""
    return (end_ms - start_ms) / 60000.0


class BusinessCalendar:
    """Working time per the policy's business hours (time zone, weekdays, start/end)."""

    def __init__(self, hours: BusinessHours):
        self.zone = ZoneInfo(hours.timezone)
        self.weekdays = frozenset(hours.weekday_numbers)
        self.start = hours.start
        self.end = hours.end
        self._windows: dict[date, tuple[int, int] | None] = {}

    def local_date(self, ms: int) -> date:
        return datetime.fromtimestamp(ms / 1000, self.zone).date()

    def window(self, day: date) -> tuple[int, int] | None:
        """(open, close) epoch ms of a local day, or None when the day is not a working day."""
        if day in self._windows:
            return self._windows[day]
        result = None
        if day.weekday() in self.weekdays:
            opens = to_ms(datetime.combine(day, self.start, self.zone))
            closes = to_ms(datetime.combine(day, self.end, self.zone))
            result = (opens, closes)
        self._windows[day] = result
        return result

    def business_minutes(self, start_ms: int, end_ms: int) -> float:
        """Working minutes in [start, end), summed day by day (the episode's business-hours figure)."""
        if end_ms <= start_ms:
            return 0.0
        total = 0
        day = self.local_date(start_ms)
        last = self.local_date(end_ms)
        while day <= last:
            win = self.window(day)
            if win is not None:
                total += max(0, min(end_ms, win[1]) - max(start_ms, win[0]))
            day += timedelta(days=1)
        return total / 60000.0

    def is_working(self, ms: int) -> bool:
        win = self.window(self.local_date(ms))
        return win is not None and win[0] <= ms < win[1]

    def next_open(self, ms: int) -> int:
        """The first working instant at or after ``ms``."""
        day = self.local_date(ms)
        for _ in range(15):
            win = self.window(day)
            if win is not None and ms < win[1]:
                return max(ms, win[0])
            day += timedelta(days=1)
        return ms
