"""The auditor's use of the audit log: filtered pages, newest first, verification,
checkpoints, exports, and the daily reporter counts. Nothing here reads a report;
entries hold ids and fingerprints only. What an auditor does is recorded too, by the
function that does it, in the caller's transaction."""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import Row, select
from sqlalchemy.orm import Session

from sipadu.accountability.audit import (
    Action,
    Actor,
    Broken,
    Checkpoint,
    DetailValue,
    ReporterMetric,
    Verdict,
    append,
    latest_checkpoint,
    make_checkpoint,
    verify_chain,
)
from sipadu.persistence.models import AuditCheckpoint, AuditEvent, ReporterDailyCount
from sipadu.services.receipts import seal_finished_days
from sipadu.settings.config import DatePrecision

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


def view_page(
    session: Session, auditor_id: uuid.UUID, criteria: AuditFilter, before: int | None = None
) -> Page:
    """:func:`page`, with the view recorded first (``audit.view``, the filters used): the
    page shows its own entry."""
    # list(): a list of any detail scalar, which is what the log takes (lists are invariant)
    detail: dict[str, DetailValue] = {"filters": list(criteria.used()), "before": before}
    append(session, str(auditor_id), "auditor", Action.AUDIT_VIEW, detail=detail)
    return page(session, criteria, before)


class NoPinnedKey(Exception):
    """Verification refused: no public key to check checkpoints against. The key a
    checkpoint carries proves nothing: whoever can write the database can delete the
    stored checkpoints and store one signed by a key of their own."""


def verify_log(session: Session, kept: list[Checkpoint], pinned: str | None) -> Verdict:
    """The whole chain checked against checkpoints an auditor kept, every checkpoint
    (kept or stored) signed by ``pinned``: the key the auditor pinned, or the instance's
    own (the caller's default). Raises :class:`NoPinnedKey` without one. Reads only: the
    walk must not hold the write lock, so the caller records the verdict afterwards, in
    a transaction of its own (:func:`record_verification`)."""
    if not pinned:
        raise NoPinnedKey
    if any(c.public_key != pinned for c in kept):
        return Verdict(False, 0, "", None, Broken.KEPT_OTHER_KEY)
    return verify_chain(session.connection(), kept, pinned)


def record_verification(
    session: Session, auditor_id: uuid.UUID, verdict: Verdict, kept: int
) -> None:
    detail: dict[str, DetailValue] = {
        "ok": verdict.ok,
        "entries": verdict.count,
        "checkpoints": kept,
    }
    detail["bad_entry"] = verdict.bad_seq
    append(session, str(auditor_id), "auditor", Action.AUDIT_VERIFY, detail=detail)


def checkpoint_now(
    session: Session,
    auditor_id: uuid.UUID,
    signing_seed: bytes,
    *,
    now: datetime,
    precision: DatePrecision,
) -> Checkpoint:
    """A checkpoint signed on an auditor's demand (``audit.checkpoint``). Finished days'
    receipt commitments are sealed first (:func:`sipadu.services.receipts.
    seal_finished_days`), and their checkpoint is the one returned; else a new one.
    ``now``: the time (UTC) that decides which periods are finished; ``precision``: the
    instance's date precision."""
    sealed = seal_finished_days(session, signing_seed, now, precision)
    checkpoint = sealed.checkpoint if sealed else make_checkpoint(session, signing_seed)
    detail = {"seq": checkpoint.seq}
    append(session, str(auditor_id), "auditor", Action.AUDIT_CHECKPOINT, detail=detail)
    return checkpoint


def record_export(session: Session, actor: Actor, fmt: str, since: int) -> Checkpoint | None:
    """Record an export of the log (``audit.export``) before it streams, so that it
    holds its own entry; returns the latest checkpoint, for the export's header. The
    actor is an auditor on the staff portal, or :data:`~sipadu.accountability.audit.
    OPERATOR` at the shell (``sipadu audit export``)."""
    detail: dict[str, DetailValue] = {"format": fmt, "since": since}
    append(session, actor.id, actor.role, Action.AUDIT_EXPORT, detail=detail)
    return latest_checkpoint(session)


def checkpoints(session: Session, limit: int = 100) -> list[AuditCheckpoint]:
    return list(
        session.scalars(select(AuditCheckpoint).order_by(AuditCheckpoint.seq.desc()).limit(limit))
    )


def _window_start(days: int, today: date, precision: DatePrecision) -> date:
    """The first period of the last ``days`` days: counts are stored under the first day
    of their period, which may fall before the window's first day."""
    return precision.period_start(today - timedelta(days=days - 1))


def daily_counts(
    session: Session, days: int, today: date, precision: DatePrecision
) -> tuple[list[str], list[tuple]]:
    """Reporter activity per period of ``precision`` (counts only, kept outside the
    chain), newest first: the metric names and one row ``(first day of the period,
    count per metric)`` per period with activity over the last ``days`` days."""
    rows = session.execute(
        select(ReporterDailyCount.day, ReporterDailyCount.metric, ReporterDailyCount.count)
        .where(ReporterDailyCount.day >= _window_start(days, today, precision))
        .order_by(ReporterDailyCount.day.desc())
    ).all()
    metrics = sorted({metric for _day, metric, _count in rows})
    by_day = _per_period(rows, precision)
    return metrics, [(day, [by_day[day].get(m, 0) for m in metrics]) for day in by_day]


def _per_period(
    rows: Sequence[Row[date, str, int]], precision: DatePrecision
) -> dict[date, dict[str, int]]:
    """Counts summed per period of ``precision``, newest first: rows stored before the
    counts were kept per period (or under a finer precision) join their period here."""
    by_period: dict[date, dict[str, int]] = {}
    for day, metric, count in rows:
        counts = by_period.setdefault(precision.period_start(day), {})
        counts[metric] = counts.get(metric, 0) + count
    return dict(sorted(by_period.items(), reverse=True))


@dataclass(frozen=True)
class IntakeDay:
    day: date  # the first day of the period (a day, a week, a month: the date precision)
    received: int  # reports stored
    refused: int  # submissions refused because the hourly ceiling was reached


def intake_days(
    session: Session, days: int, today: date, precision: DatePrecision
) -> list[IntakeDay]:
    """New reports received and refused by the ceiling (SIPADU_REPORTS_PER_HOUR) per
    period of ``precision`` with either (``day`` is the period's first day), newest
    first, over ``days`` days up to ``today``. Period counts are all there is: no time of
    a submission is stored anywhere (G2)."""
    received, refused = ReporterMetric.REPORT_SUBMITTED, ReporterMetric.REPORT_REFUSED_CEILING
    rows = session.execute(
        select(ReporterDailyCount.day, ReporterDailyCount.metric, ReporterDailyCount.count)
        .where(
            ReporterDailyCount.day >= _window_start(days, today, precision),
            ReporterDailyCount.metric.in_([received.value, refused.value]),
        )
        .order_by(ReporterDailyCount.day.desc())
    ).all()
    return [
        IntakeDay(day, counts.get(received.value, 0), counts.get(refused.value, 0))
        for day, counts in _per_period(rows, precision).items()
    ]
