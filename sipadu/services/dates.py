"""Dates. Reporter-side dates are coarsened before they are stored (G2): the day, the
week or the month a report arrived, never the moment. Deadlines count calendar days or
Indonesian working days."""

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cache

import holidays

from sipadu.settings.config import DatePrecision, DayCount


def today() -> date:
    return datetime.now(UTC).date()


def as_utc(moment: datetime) -> datetime:
    """SQLite returns naive datetimes for timezone-aware columns; they are UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def coarsen(day: date, precision: DatePrecision) -> date:
    """The day, the Monday of its ISO week, or the 1st of its month."""
    return precision.period_start(day)


@cache
def _indonesian_holidays(year: int) -> frozenset[date]:
    return frozenset(holidays.country_holidays("ID", years=year))


def is_working_day(day: date) -> bool:
    """Monday to Friday and not an Indonesian public holiday (``holidays`` package; the
    government's joint leave days, *cuti bersama*, are not included)."""
    return day.weekday() < 5 and day not in _indonesian_holidays(day.year)


def add_days(start: date, days: int, count: DayCount) -> date:
    """The deadline ``days`` days after ``start``: calendar days, or working days."""
    if count is DayCount.CALENDAR:
        return start + timedelta(days=days)
    day, left = start, days
    while left > 0:
        day += timedelta(days=1)
        if is_working_day(day):
            left -= 1
    return day


@dataclass(frozen=True)
class Deadlines:
    ack_days: int
    feedback_days: int
    count: DayCount

    def due(self, received: date) -> tuple[date, date]:
        return (
            add_days(received, self.ack_days, self.count),
            add_days(received, self.feedback_days, self.count),
        )
