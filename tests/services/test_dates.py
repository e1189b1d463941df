"""Dates (:mod:`sipadu.services.dates`): a reporter's day stored as its day, the Monday
of its week or the first of its month; deadlines in calendar days or Indonesian working
days (weekends and public holidays skipped)."""

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from sipadu.services import dates
from sipadu.settings.config import DatePrecision, DayCount

FRIDAY = date(2025, 3, 14)


@pytest.mark.parametrize(
    ("precision", "stored"),
    [
        (DatePrecision.DAY, FRIDAY),
        (DatePrecision.WEEK, date(2025, 3, 10)),
        (DatePrecision.MONTH, date(2025, 3, 1)),
    ],
)
def test_a_day_is_coarsened_to_the_chosen_precision(precision, stored):
    assert dates.coarsen(FRIDAY, precision) == stored
    assert dates.coarsen(stored, precision) == stored


def test_a_week_starts_on_monday_even_across_a_year():
    assert dates.coarsen(date(2025, 1, 1), DatePrecision.WEEK) == date(2024, 12, 30)


def test_a_naive_moment_from_sqlite_is_utc_and_an_aware_one_is_kept():
    naive = datetime(2025, 3, 14, 9, 0)
    assert dates.as_utc(naive) == naive.replace(tzinfo=UTC)
    jakarta = datetime(2025, 3, 14, 16, 0, tzinfo=timezone(timedelta(hours=7)))
    assert dates.as_utc(jakarta) is jakarta


@pytest.mark.parametrize(
    ("day", "working"),
    [
        (date(2025, 3, 14), True),  # a Friday
        (date(2025, 3, 15), False),  # Saturday
        (date(2025, 3, 16), False),  # Sunday
        (date(2025, 1, 1), False),  # New Year, a Wednesday
        (date(2025, 3, 31), False),  # Idul Fitri, a Monday
        (date(2025, 8, 18), True),  # the Monday after Independence Day (a Sunday)
    ],
)
def test_working_days_skip_weekends_and_indonesian_public_holidays(day, working):
    assert dates.is_working_day(day) is working


def test_a_deadline_counts_calendar_days_or_working_days():
    assert dates.add_days(FRIDAY, 3, DayCount.CALENDAR) == date(2025, 3, 17)
    assert dates.add_days(FRIDAY, 3, DayCount.WORKING) == date(2025, 3, 19)
    # Idul Fitri: Friday 28 March, then Monday 31 March and Tuesday 1 April are holidays.
    assert dates.add_days(date(2025, 3, 28), 1, DayCount.WORKING) == date(2025, 4, 2)
    assert dates.add_days(FRIDAY, 0, DayCount.WORKING) == FRIDAY


def test_deadlines_are_due_from_the_day_received():
    deadlines = dates.Deadlines(ack_days=7, feedback_days=90, count=DayCount.CALENDAR)
    assert deadlines.due(FRIDAY) == (date(2025, 3, 21), date(2025, 6, 12))
    working = dates.Deadlines(ack_days=5, feedback_days=10, count=DayCount.WORKING)
    assert working.due(FRIDAY) == (date(2025, 3, 21), date(2025, 3, 28))


def test_today_is_the_utc_date():
    assert dates.today() in {datetime.now(UTC).date(), (datetime.now(UTC) - timedelta(1)).date()}
