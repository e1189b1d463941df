"""Reporter-side dates are coarsened before they are stored (G2): the day, the week or
the month a report arrived, never the moment."""

from datetime import UTC, date, datetime, timedelta

from sipadu.config import DatePrecision


def today() -> date:
    return datetime.now(UTC).date()


def coarsen(day: date, precision: DatePrecision) -> date:
    if precision is DatePrecision.WEEK:
        return day - timedelta(days=day.weekday())  # Monday of its ISO week
    if precision is DatePrecision.MONTH:
        return day.replace(day=1)
    return day
