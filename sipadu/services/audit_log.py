"""Reading the audit log for auditors: filtered pages, newest first, and the daily
reporter counts. Nothing here reads a report; entries hold ids and fingerprints only."""

import uuid
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from sipadu.audit import ReporterMetric
from sipadu.models import AuditCheckpoint, AuditEvent, ReporterDailyCount

PAGE_SIZE = 50


@dataclass(frozen=True)
class AuditFilter:
    actor: str | None = None  # an audit actor id ("unknown", "operator", an account id)
    action: str | None = None
    report_id: uuid.UUID | None = None
    since: date | None = None
    until: date | None = None  # inclusive

    def used(self) -> list[str]:
        """The names of the filters in use (recorded when an auditor views the log)."""
        return [name for name, value in vars(self).items() if value not in (None, "")]


@dataclass(frozen=True)
class Page:
    entries: list[AuditEvent]
    next_before: int | None  # seq to continue from (older entries), if any


def page(session: Session, criteria: AuditFilter, before: int | None = None) -> Page:
    """One page, newest first, by keyset on ``seq`` (the primary key): the cost of a page
    does not grow with how far back the auditor has paged."""
    query = select(AuditEvent).order_by(AuditEvent.seq.desc()).limit(PAGE_SIZE + 1)
    if before is not None:
        query = query.where(AuditEvent.seq < before)
    if criteria.actor:
        query = query.where(AuditEvent.actor == criteria.actor)
    if criteria.action:
        query = query.where(AuditEvent.action == criteria.action)
    if criteria.report_id:
        query = query.where(AuditEvent.report_id == criteria.report_id)
    # ``at`` is an ISO 8601 UTC string: comparing strings compares instants.
    if criteria.since:
        query = query.where(AuditEvent.at >= criteria.since.isoformat())
    if criteria.until:
        query = query.where(AuditEvent.at < (criteria.until + timedelta(days=1)).isoformat())
    rows = list(session.scalars(query))
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    return Page(rows, rows[-1].seq if more and rows else None)


def checkpoints(session: Session, limit: int = 100) -> list[AuditCheckpoint]:
    return list(
        session.scalars(select(AuditCheckpoint).order_by(AuditCheckpoint.seq.desc()).limit(limit))
    )


def daily_counts(session: Session, days: int, today: date) -> tuple[list[str], list[tuple]]:
    """Reporter activity per day (counts only, kept outside the chain), newest first:
    the metric names and one row ``(day, count per metric)`` per day with activity."""
    rows = session.execute(
        select(ReporterDailyCount.day, ReporterDailyCount.metric, ReporterDailyCount.count)
        .where(ReporterDailyCount.day > today - timedelta(days=days))
        .order_by(ReporterDailyCount.day.desc())
    ).all()
    metrics = sorted({metric for _day, metric, _count in rows})
    by_day: dict[date, dict[str, int]] = {}
    for day, metric, count in rows:
        by_day.setdefault(day, {})[metric] = count
    return metrics, [(day, [by_day[day].get(m, 0) for m in metrics]) for day in by_day]


@dataclass(frozen=True)
class IntakeDay:
    day: date
    received: int  # reports stored
    refused: int  # submissions refused because the hourly ceiling was reached


def intake_days(session: Session, days: int, today: date) -> list[IntakeDay]:
    """New reports received and refused by the ceiling (SIPADU_REPORTS_PER_HOUR) per day
    with either, newest first, over ``days`` days up to ``today``. Day counts are all
    there is: no time of a submission is stored anywhere (G2)."""
    received, refused = ReporterMetric.REPORT_SUBMITTED, ReporterMetric.REPORT_REFUSED_CEILING
    rows = session.execute(
        select(ReporterDailyCount.day, ReporterDailyCount.metric, ReporterDailyCount.count)
        .where(
            ReporterDailyCount.day > today - timedelta(days=days),
            ReporterDailyCount.metric.in_([received.value, refused.value]),
        )
        .order_by(ReporterDailyCount.day.desc())
    ).all()
    by_day: dict[date, dict[str, int]] = {}
    for day, metric, count in rows:
        by_day.setdefault(day, {})[metric] = count
    return [
        IntakeDay(day, counts.get(received.value, 0), counts.get(refused.value, 0))
        for day, counts in by_day.items()
    ]
