"""Deadline-compliance statistics (issue 19, items 2 and 3): figures computed from the
metadata the database already holds in plaintext, never from a sealed value.

What is read, per report: its category (the top-level one), ``received_on`` (already
coarsened to SIPADU_DATE_PRECISION, G2), the deadlines ``ack_due_on`` and
``feedback_due_on``, ``acknowledged_on``, ``closed_on``, ``first_closed_on`` and
``status``; the day of its
first staff message (``message.sent_on``, coarsened like the reporter's own); whether a
``report.reopen`` entry names it in the audit log. Besides: identity requests' times and
states, and the channel of operators' intakes from their ``report.intake`` entries,
which name no report (so channels are counted per period only, never per category).

What is not available: the unit a report concerns is sealed in the report (issue 18), so
no figure is per unit; the channel of a single report is sealed too (only intakes are
counted; web = received - intakes). Reports deleted by the retention purge are no longer
counted (their intake entries still are).

Definitions (ISO 37002:2021 §9.1.2 lists the indicators; the deadlines are the
configured SIPADU_ACK_DAYS and SIPADU_FEEDBACK_DAYS, EU 2019/1937 Art. 9(1)(b), (f)):
the cohort of a period is the reports *received* in it, evaluated as of ``today``. They
are the contract between the auditors' page and the public transparency report
(docs/staff.md, "Statistics"); the transparency report's offline recipe re-implements
:func:`indicators`, so they change only together.
"""

import json
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    Date,
    Integer,
    and_,
    case,
    cast,
    extract,
    func,
    literal,
    null,
    select,
    type_coerce,
    union_all,
)
from sqlalchemy.orm import Session, aliased

from sipadu.accountability import audit
from sipadu.accountability.audit import Action, Actor
from sipadu.persistence.models import (
    AuditEvent,
    Category,
    IdentityRequest,
    IdentityRequestState,
    Message,
    Report,
    ReportStatus,
)
from sipadu.settings.config import DatePrecision

# issue 20 adds the status; counted from the day it exists
REFERRED = "referred"


@dataclass(frozen=True)
class CaseFacts:
    """One report, without its id or any content: metadata the database already holds.

    ``category``: the slug of its top-level category (a sub-category's parent);
    ``received_on``: as stored, already coarsened to SIPADU_DATE_PRECISION;
    ``first_feedback_on``: the earlier of its first staff message's day and its first
    closing day (:func:`feedback_closing`; None: neither yet); ``closed_on``: its
    current closing day (None while open, reopened or not); ``status``: a
    :class:`ReportStatus` value; ``reopened``: at
    least one ``report.reopen`` audit entry names it."""

    category: str
    received_on: date
    ack_due_on: date | None
    acknowledged_on: date | None
    feedback_due_on: date | None
    first_feedback_on: date | None
    closed_on: date | None
    status: str
    reopened: bool


FACT_FIELDS = tuple(CaseFacts.__dataclass_fields__)


def _sort_key(facts: CaseFacts) -> tuple:
    # None before any value, so every field sorts whatever it holds
    return tuple(
        (value is not None, value) for value in (getattr(facts, name) for name in FACT_FIELDS)
    )


def case_facts(session: Session, start: date, end: date) -> list[CaseFacts]:
    """The :class:`CaseFacts` of the reports with ``start <= received_on < end``, sorted
    by every field in order (never by id or database order: the list says nothing of
    which row is which). One query; reads only, opens nothing sealed."""
    parent = aliased(Category)
    first_staff = (
        select(Message.report_id, func.min(Message.sent_on).label("first_on"))
        .where(Message.author == "staff")
        .group_by(Message.report_id)
        .subquery()
    )
    reopened = (
        select(AuditEvent.report_id)
        .where(AuditEvent.action == Action.REPORT_REOPEN.value)
        .distinct()
        .subquery()
    )
    query = (
        select(
            func.coalesce(parent.slug, Category.slug),
            Report.received_on,
            Report.ack_due_on,
            Report.acknowledged_on,
            Report.feedback_due_on,
            first_staff.c.first_on,
            Report.closed_on,
            Report.first_closed_on,
            Report.status,
            reopened.c.report_id.is_not(None),
        )
        .join(Category, Category.id == Report.category_id)
        .outerjoin(parent, parent.id == Category.parent_id)
        .outerjoin(first_staff, first_staff.c.report_id == Report.id)
        .outerjoin(reopened, reopened.c.report_id == Report.id)
        .where(Report.received_on >= start, Report.received_on < end)
    )
    facts = []
    for (
        category,
        received,
        ack_due,
        acked,
        fb_due,
        first_on,
        closed,
        first_closed,
        status,
        again,
    ) in session.execute(query):
        feedback = first_feedback(_day(first_on), feedback_closing(first_closed, closed))
        facts.append(
            CaseFacts(
                category, received, ack_due, acked, fb_due, feedback, closed, status, bool(again)
            )
        )
    facts.sort(key=_sort_key)
    return facts


def _day(value: object) -> date | None:
    """A message's day as read (a date; on SQLite a malformed stored value reads as
    ``date.min``, :mod:`sipadu.persistence.checked`): None when it is not a real day."""
    if isinstance(value, date) and value != date.min:
        return value
    return None


@dataclass(frozen=True)
class Indicators:
    """The indicators of a cohort of reports (counts; medians in days, None when no
    report of the cohort has the date). ``ack_on_time + ack_late + ack_pending ==
    received`` and the same for feedback."""

    received: int
    ack_on_time: int
    ack_late: int
    ack_pending: int
    feedback_on_time: int
    feedback_late: int
    feedback_pending: int
    closed_substantiated: int
    closed_unsubstantiated: int
    referred: int
    rejected: int
    reopened: int
    median_days_to_ack: float | None
    median_days_to_feedback: float | None
    median_days_to_close: float | None


INDICATOR_FIELDS = tuple(Indicators.__dataclass_fields__)


def _timeliness(done: date | None, due: date | None, today: date) -> int:
    """0 on time, 1 late, 2 pending. Done without a due date: on time; not done
    without one: pending (a report stored before deadlines were kept)."""
    if done is not None:
        return 1 if due is not None and done > due else 0
    return 1 if due is not None and due < today else 2


def is_late(done: date | None, due: date | None, today: date) -> bool:
    """Whether a deadline was missed, as :func:`indicators` counts "late": done after
    ``due``, or not done and ``due`` before ``today`` (a deadline's own day is not yet
    late). The reporter's escalation (issue 20, :mod:`sipadu.services.escalation`) is
    offered on exactly this, so the mailbox, the statistics and the transparency report
    never disagree on whether a deadline was met."""
    return _timeliness(done, due, today) == 1


def first_feedback(first_staff_message_on: date | None, closed_on: date | None) -> date | None:
    """The day feedback was first given (:class:`CaseFacts` ``first_feedback_on``): the
    earlier of the first staff message's day and the closing day, which callers take
    from :func:`feedback_closing` (the first closing, kept through a reopening); None:
    neither yet."""
    days = [day for day in (first_staff_message_on, closed_on) if day is not None]
    return min(days, default=None)


def feedback_closing(first_closed_on: date | None, closed_on: date | None) -> date | None:
    """The closing day that counts as feedback: the first day the report was closed,
    rejected or referred (``report.first_closed_on``, which reopening never clears,
    migration 0028), else ``closed_on`` (a row written without it). The reporter was
    told the outcome that day; reopening later does not take that back. The SQL form,
    for the database's own counting, is :data:`FEEDBACK_CLOSING`. Days to *close* use
    ``closed_on`` alone."""
    return first_closed_on if first_closed_on is not None else closed_on


# :func:`feedback_closing` in SQL
FEEDBACK_CLOSING = func.coalesce(Report.first_closed_on, Report.closed_on)


def _median(values: list[int]) -> float | None:
    return float(statistics.median(values)) if values else None


def _assembled(
    ack: list[int],
    feedback: list[int],
    status: Counter[str],
    reopened: int,
    medians: tuple[float | None, float | None, float | None],
) -> Indicators:
    """:class:`Indicators` from the counts: ``ack`` and ``feedback`` as [on time, late,
    pending], ``status`` per status value, and the three medians (acknowledgement,
    first feedback, closing), which each caller computes its own way."""
    return Indicators(
        received=sum(ack),
        ack_on_time=ack[0],
        ack_late=ack[1],
        ack_pending=ack[2],
        feedback_on_time=feedback[0],
        feedback_late=feedback[1],
        feedback_pending=feedback[2],
        closed_substantiated=status[ReportStatus.CLOSED_SUBSTANTIATED.value],
        closed_unsubstantiated=status[ReportStatus.CLOSED_UNSUBSTANTIATED.value],
        referred=status[REFERRED],
        rejected=status[ReportStatus.REJECTED.value],
        reopened=reopened,
        median_days_to_ack=medians[0],
        median_days_to_feedback=medians[1],
        median_days_to_close=medians[2],
    )


def indicators(facts: Iterable[CaseFacts], today: date) -> Indicators:
    """The :class:`Indicators` of ``facts``, as of ``today``.

    Acknowledged on time: ``acknowledged_on <= ack_due_on``; late: acknowledged after
    it, or not acknowledged and ``ack_due_on < today``; pending: not acknowledged and
    ``ack_due_on >= today``. A missing due date counts as on time when acknowledged,
    pending when not. Feedback: the same with ``first_feedback_on`` and
    ``feedback_due_on``. Outcomes: the *current* status (closed substantiated, closed
    not substantiated, referred, rejected). Reopened: at least one reopening. Medians:
    :func:`statistics.median` of ``(day - received_on).days`` over the facts that have
    the day; None when none has."""
    ack = [0, 0, 0]
    feedback = [0, 0, 0]
    status: Counter[str] = Counter()
    reopened = 0
    to_ack: list[int] = []
    to_feedback: list[int] = []
    to_close: list[int] = []
    for f in facts:
        ack[_timeliness(f.acknowledged_on, f.ack_due_on, today)] += 1
        feedback[_timeliness(f.first_feedback_on, f.feedback_due_on, today)] += 1
        status[f.status] += 1
        reopened += f.reopened
        if f.acknowledged_on is not None:
            to_ack.append((f.acknowledged_on - f.received_on).days)
        if f.first_feedback_on is not None:
            to_feedback.append((f.first_feedback_on - f.received_on).days)
        if f.closed_on is not None:
            to_close.append((f.closed_on - f.received_on).days)
    medians = (_median(to_ack), _median(to_feedback), _median(to_close))
    return _assembled(ack, feedback, status, reopened, medians)


# --- periods ------------------------------------------------------------------------------


class PeriodKind(StrEnum):
    MONTH = "month"
    QUARTER = "quarter"
    YEAR = "year"


@dataclass(frozen=True)
class Period:
    """A month (``number`` 1-12), a quarter (1-4) or the year (1) of ``year``:
    ``start <= day < end``."""

    kind: PeriodKind
    year: int
    number: int
    start: date
    end: date


def _month_start(year: int, month: int) -> date:
    return date(year + (month - 1) // 12, (month - 1) % 12 + 1, 1)


def periods(kind: PeriodKind, year: int) -> list[Period]:
    """The periods of ``kind`` that make up ``year``, in order."""
    months = {PeriodKind.MONTH: 1, PeriodKind.QUARTER: 3, PeriodKind.YEAR: 12}[kind]
    return [
        Period(
            kind,
            year,
            n + 1,
            _month_start(year, n * months + 1),
            _month_start(year, (n + 1) * months + 1),
        )
        for n in range(12 // months)
    ]


def period_number(kind: PeriodKind, day: date) -> int:
    """Which period of its year ``day`` falls in (1-based)."""
    months = {PeriodKind.MONTH: 1, PeriodKind.QUARTER: 3, PeriodKind.YEAR: 12}[kind]
    return (day.month - 1) // months + 1


# --- identity requests and channels -----------------------------------------------------------


@dataclass(frozen=True)
class IdentityCounts:
    """Identity requests made in a period (by the time they were made) and their
    decisions so far: ``requested == approved + refused + pending``."""

    requested: int = 0
    approved: int = 0
    refused: int = 0
    pending: int = 0


IDENTITY_FIELDS = tuple(IdentityCounts.__dataclass_fields__)


def _identity_counts(states: Iterable[str]) -> IdentityCounts:
    counted = Counter(states)
    return IdentityCounts(
        requested=sum(counted.values()),
        approved=counted[IdentityRequestState.APPROVED.value],
        refused=counted[IdentityRequestState.REFUSED.value],
        pending=counted[IdentityRequestState.PENDING.value],
    )


def _identity_requests(session: Session, start: date, end: date) -> list[tuple[date, str, str]]:
    """(day requested, top-level category slug, state) of the requests made in
    ``[start, end)``. ``requested_at`` is a staff-side time, exact on purpose; only its
    day is used, and only to place it in a month, quarter or year."""
    parent = aliased(Category)
    since = datetime.combine(start, time(), UTC)
    until = datetime.combine(end, time(), UTC)
    rows = session.execute(
        select(
            IdentityRequest.requested_at,
            func.coalesce(parent.slug, Category.slug),
            IdentityRequest.state,
        )
        .join(Report, Report.id == IdentityRequest.report_id)
        .join(Category, Category.id == Report.category_id)
        .outerjoin(parent, parent.id == Category.parent_id)
        .where(IdentityRequest.requested_at >= since, IdentityRequest.requested_at < until)
    )
    return [(at.date(), slug, state) for at, slug, state in rows if at != datetime.min]


CHANNELS = ("walk_in", "phone", "letter", "email", "other")  # intake.Channel, but the web


def _intakes(
    session: Session, start: date, end: date, precision: DatePrecision
) -> list[tuple[date, str, int]]:
    """(received_on, channel, intakes) of the operators' intakes whose report's
    ``received_on`` lies in ``[start, end)``: the ``report.intake`` entry's UTC day
    coarsened as the report's own day was (:func:`sipadu.services.dates.coarsen`), so an
    intake counts in the period its report counts in. The entries name no report. The
    database groups them by day and detail (a few per day), so each detail is read once
    per group, not once per intake."""
    since = start.isoformat()
    until = (date.fromordinal(end.toordinal() + 31)).isoformat()  # a period's end lies after
    day_of = func.substr(AuditEvent.at, 1, 10)
    found: Counter[tuple[date, str]] = Counter()
    for at, detail, n in session.execute(
        select(day_of, AuditEvent.detail, func.count())
        .where(
            AuditEvent.action == Action.REPORT_INTAKE.value,
            AuditEvent.at >= since,
            AuditEvent.at < until,
        )
        .group_by(day_of, AuditEvent.detail)
    ):
        try:
            day = precision.period_start(date.fromisoformat(at))
            channel = _channel_of(detail)
        except ValueError:
            continue
        if start <= day < end:
            found[(day, channel)] += n
    return [(day, channel, n) for (day, channel), n in found.items()]


def _channel_of(detail: str | None) -> str:
    value = json.loads(detail or "{}")
    channel = value.get("channel") if isinstance(value, dict) else None
    if channel not in CHANNELS:
        raise ValueError("not an intake's channel")
    return str(channel)


# --- a year's tables ----------------------------------------------------------------------


@dataclass(frozen=True)
class Figures:
    """One row of the statistics: the indicators of a cohort, its identity requests,
    and (for rows of all categories only; None for a category's) the reports received
    by channel: each intake channel's count and ``web`` (received - intakes; None when
    intakes outnumber the reports still stored, after a retention purge)."""

    indicators: Indicators
    identity: IdentityCounts
    channels: dict[str, int | None] | None = None


@dataclass(frozen=True)
class YearStatistics:
    """A year's statistics by period of ``kind``: ``by_period[i]`` is ``periods[i]``'s
    row, ``total`` the year's. ``by_category[n]``: category slug → row, for period
    number ``n`` (0: the whole year), every top-level category present (zeros too)."""

    year: int
    kind: PeriodKind
    periods: list[Period]
    by_period: list[Figures]
    total: Figures
    by_category: dict[int, dict[str, Figures]] = field(default_factory=dict)


def _days(later: Any, earlier: Any, dialect: str) -> Any:
    """Whole days from ``earlier`` to ``later`` (NULL if either is), in SQL."""
    if dialect == "sqlite":
        return cast(func.julianday(later) - func.julianday(earlier), Integer)
    return type_coerce(later - earlier, Integer)


def _timeliness_sql(done: Any, due: Any, today: date) -> Any:
    """:func:`_timeliness` in SQL: 0 on time, 1 late, 2 pending."""
    return case(
        (done.is_not(None), case((and_(due.is_not(None), done > due), 1), else_=0)),
        (and_(due.is_not(None), due < today), 1),
        else_=2,
    )


@dataclass
class _Tally:
    """What :func:`indicators` needs of a group of reports, in mergeable counts:
    ``classes`` (ack class, feedback class, status) → reports, how many were
    ``reopened``, and histograms of the days to acknowledge, to first feedback and to
    close."""

    classes: Counter[tuple[int, int, str]] = field(default_factory=Counter)
    reopened: int = 0
    to_ack: Counter[int] = field(default_factory=Counter)
    to_feedback: Counter[int] = field(default_factory=Counter)
    to_close: Counter[int] = field(default_factory=Counter)


def _tallies(
    session: Session, start: date, end: date, today: date, top: dict[Any, str]
) -> dict[tuple[int, str], _Tally]:
    """(month, top-level category slug) → :class:`_Tally` of the reports with ``start <=
    received_on < end``, ``top`` being :func:`_top_level`'s map. The same facts and
    definitions as :func:`case_facts` and :func:`indicators` (a test holds them equal),
    classified and grouped by the database, so a year of 100,000 reports is not built
    as objects: two queries whose rows are small integers (a few thousand for such a
    year). They read the covering indexes of migration 0023 (docs/performance.md)."""
    if not top:
        return {}
    dialect = session.get_bind().dialect.name
    slugs = sorted(set(top.values()))
    # The top-level category as a small number: grouped faster than an id, and a
    # sub-category's reports fall in their parent's group in the database already.
    category = case(
        {category_id: slugs.index(slug) for category_id, slug in top.items()},
        value=Report.category_id,
    )
    month = extract("month", Report.received_on)
    in_range = and_(Report.received_on >= start, Report.received_on < end)
    first_on: Any = func.min(Message.sent_on, type_=Date)
    if dialect == "sqlite":  # a stored value that is not a day (sipadu.persistence.checked)
        first_on = func.date(first_on, type_=Date)
    first = (
        select(Message.report_id.label("rid"), first_on.label("on"))
        .where(Message.author == "staff")
        .group_by(Message.report_id)
        .subquery()
    )
    closed = Report.closed_on
    closing = FEEDBACK_CLOSING  # the first closing: feedback, kept through a reopening
    feedback = case(
        (first.c.on.is_(None), closing),
        (closing.is_(None), first.c.on),
        (first.c.on < closing, first.c.on),
        else_=closing,
    )
    each = (
        select(
            month.label("month"),
            category.label("category"),
            _timeliness_sql(Report.acknowledged_on, Report.ack_due_on, today).label("ack"),
            _timeliness_sql(feedback, Report.feedback_due_on, today).label("fb"),
            Report.status.label("status"),
            _days(Report.acknowledged_on, Report.received_on, dialect).label("to_ack"),
            _days(feedback, Report.received_on, dialect).label("to_feedback"),
            _days(closed, Report.received_on, dialect).label("to_close"),
        )
        .outerjoin(first, first.c.rid == Report.id)
        .where(in_range)
        .cte("each_report")
    )
    # One statement, grouped by the database: the classes, then each day histogram
    # (``what`` says which).
    nothing = null()
    parts = [
        select(
            literal(0).label("what"), each.c.month, each.c.category, each.c.ack, each.c.fb,
            each.c.status, cast(nothing, Integer).label("days"), func.count(),
        ).group_by(each.c.month, each.c.category, each.c.ack, each.c.fb, each.c.status)
    ] + [
        select(
            literal(n).label("what"), each.c.month, each.c.category, nothing, nothing,
            nothing, column.label("days"), func.count(),
        )
        .where(column.is_not(None))
        .group_by(each.c.month, each.c.category, column)
        for n, column in ((1, each.c.to_ack), (2, each.c.to_feedback), (3, each.c.to_close))
    ]  # fmt: skip
    tallies: dict[tuple[int, str], _Tally] = defaultdict(_Tally)
    for what, at, number, ack, fb, status, days, n in session.execute(union_all(*parts)):
        tally = tallies[(int(at), slugs[number])]
        if what == 0:
            tally.classes[(int(ack), int(fb), status)] += n
        else:
            histogram = (tally.to_ack, tally.to_feedback, tally.to_close)[what - 1]
            histogram[int(days)] += n
    # Reopened: the few reports a ``report.reopen`` entry names, each counted once.
    reopened = select(AuditEvent.report_id).where(AuditEvent.action == Action.REPORT_REOPEN.value)
    for at, number, n in session.execute(
        select(month, category, func.count())
        .where(in_range, Report.id.in_(reopened))
        .group_by(month, category)
    ):
        tallies[(int(at), slugs[number])].reopened += n
    return tallies


def _histogram_median(histogram: Counter[int]) -> float | None:
    """:func:`statistics.median` of the values a histogram counts."""
    size = sum(histogram.values())
    if not size:
        return None
    wanted = sorted({(size - 1) // 2, size // 2})
    found: list[int] = []
    seen = 0
    for value in sorted(histogram):
        seen += histogram[value]
        while wanted and wanted[0] < seen:
            found.append(value)
            wanted.pop(0)
    return (found[0] + found[-1]) / 2


def _indicators_of(tallies: Iterable[_Tally]) -> Indicators:
    """:func:`indicators` of the reports the ``tallies`` count."""
    ack = [0, 0, 0]
    feedback = [0, 0, 0]
    status: Counter[str] = Counter()
    reopened = 0
    to_ack: Counter[int] = Counter()
    to_feedback: Counter[int] = Counter()
    to_close: Counter[int] = Counter()
    for tally in tallies:
        for (a, f, s), n in tally.classes.items():
            ack[a] += n
            feedback[f] += n
            status[s] += n
        reopened += tally.reopened
        to_ack.update(tally.to_ack)
        to_feedback.update(tally.to_feedback)
        to_close.update(tally.to_close)
    medians = (
        _histogram_median(to_ack),
        _histogram_median(to_feedback),
        _histogram_median(to_close),
    )
    return _assembled(ack, feedback, status, reopened, medians)


def _top_level(session: Session) -> dict[Any, str]:
    """Category id → the slug of its top-level category (itself or its parent)."""
    rows = session.execute(select(Category.id, Category.slug, Category.parent_id)).all()
    slugs = {category_id: slug for category_id, slug, _parent in rows}
    return {category_id: slugs[parent or category_id] for category_id, _slug, parent in rows}


def year_statistics(
    session: Session, kind: PeriodKind, year: int, today: date, precision: DatePrecision
) -> YearStatistics:
    """The :class:`YearStatistics` of ``year`` as of ``today`` (cohorts by
    ``received_on``; identity requests by the day they were made; intakes by their
    report's coarsened day under ``precision``). Reads only: six small queries; the
    reports are classified and counted by the database (:func:`_tallies`)."""
    spans = periods(kind, year)
    start, end = spans[0].start, spans[-1].end
    top = _top_level(session)
    tallies: dict[tuple[int, str], list[_Tally]] = defaultdict(list)
    for (month, slug), tally in _tallies(session, start, end, today, top).items():
        tallies[(period_number(kind, date(year, month, 1)), slug)].append(tally)
    requests = _identity_requests(session, start, end)
    intakes = _intakes(session, start, end, precision)
    categories = sorted({slug for slug in top.values()})

    asked: dict[tuple[int, str], list[str]] = defaultdict(list)
    for day, slug, state in requests:
        asked[(period_number(kind, day), slug)].append(state)
    taken: dict[int, Counter[str]] = defaultdict(Counter)
    for day, channel, n in intakes:
        taken[period_number(kind, day)][channel] += n

    def figures(numbers: Sequence[int], slugs: Sequence[str], *, channelled: bool) -> Figures:
        found = _indicators_of(t for n in numbers for s in slugs for t in tallies.get((n, s), ()))
        states = [st for n in numbers for s in slugs for st in asked.get((n, s), ())]
        if not channelled:
            return Figures(found, _identity_counts(states))
        counted = Counter[str]()
        for n in numbers:
            counted.update(taken.get(n, Counter()))
        web = found.received - sum(counted.values())
        channels = {"web": web if web >= 0 else None, **{c: counted[c] for c in CHANNELS}}
        return Figures(found, _identity_counts(states), channels)

    every = [p.number for p in spans]
    by_period = [figures([p.number], categories, channelled=True) for p in spans]
    total = figures(every, categories, channelled=True)
    by_category = {
        number: {slug: figures(numbers, [slug], channelled=False) for slug in categories}
        for number, numbers in [(0, every)] + [(n, [n]) for n in every]
    }
    return YearStatistics(year, kind, spans, by_period, total, by_category)


def record_statistics(
    session: Session, actor: Actor, kind: PeriodKind, year: int, received: int, *, exported: bool
) -> None:
    """Record that ``actor`` viewed (or, ``exported``, downloaded) the statistics of
    ``year`` by ``kind``: ``statistics.view`` / ``statistics.export`` with the period and
    the number of reports counted, nothing else (G4). Call it in the transaction that
    read the figures."""
    audit.append(
        session,
        actor.id,
        actor.role,
        Action.STATISTICS_EXPORT if exported else Action.STATISTICS_VIEW,
        detail={"kind": kind.value, "year": year, "reports": received},
    )
