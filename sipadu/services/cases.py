"""An investigator's casework: the list of granted reports, a report opened, replies,
internal notes and the status workflow (DESIGN.md §5, §6).

Access is the grant row *and* the keys: a report without a grant row for the account is
"not found", and nothing is decrypted without the account's own wraps. Every function
that shows or changes something appends its audit entry in the caller's transaction
(G4); the caller commits before anything leaves the server.
"""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy import ColumnElement, Row, Select, and_, func, or_, select
from sqlalchemy.orm import Session

from sipadu.accountability import audit
from sipadu.accountability.audit import Action
from sipadu.crypto import CryptoError, PrivateKey, Purpose, open_field, seal_field
from sipadu.persistence.models import (
    Category,
    IdentityRequest,
    IdentityRequestState,
    Message,
    Note,
    Referral,
    Report,
    ReportField,
    ReportGrant,
    ReportStatus,
    StaffAccount,
    utcnow,
)
from sipadu.services import IntegrityFailed, Reason, ServiceError
from sipadu.services.attachments import (
    AttachmentInfo,
    UploadedFile,
    attach,
    list_attachments,
    read_attachment,
)
from sipadu.services.case_record import EMPTY, CaseRecord, Priority, lead_names, records_of
from sipadu.services.dates import add_days, coarsen
from sipadu.services.intake import INTAKE_FIELD, Intake, parse_intake
from sipadu.services.key_ring import HeldKeys, NoKey, staff_keys_of_reports
from sipadu.services.reports import (
    CASE_FIELDS,
    IDENTITY_FIELD,
    STATUS_REASON_FIELD,
    UNIT_FIELD,
    ThreadMessage,
    locked_report,
    open_report_field,
    report_category_slug,
    seal_message,
    thread,
)
from sipadu.services.row_metadata import (
    note_bound,
    note_field,
    read_mark,
    read_mark_count,
    read_mark_field,
)
from sipadu.services.transcript import WEB_REPORT, Transcript, transcript_of
from sipadu.services.units import unit_path
from sipadu.settings.config import DatePrecision, DayCount

PAGE_SIZE = 50
CLOSING = frozenset(
    {
        ReportStatus.CLOSED_SUBSTANTIATED,
        ReportStatus.CLOSED_UNSUBSTANTIATED,
        ReportStatus.REJECTED,
        ReportStatus.REFERRED,  # only a referral reaches it (sipadu.services.referral)
    }
)
# The workflow. No move leaves a closing state; only :func:`reopen` does (with a reason).
TRANSITIONS: dict[ReportStatus, frozenset[ReportStatus]] = {
    ReportStatus.RECEIVED: frozenset({ReportStatus.IN_REVIEW, ReportStatus.REJECTED}),
    ReportStatus.IN_REVIEW: frozenset(
        {ReportStatus.INVESTIGATING, ReportStatus.REJECTED, ReportStatus.CLOSED_UNSUBSTANTIATED}
    ),
    ReportStatus.INVESTIGATING: frozenset(
        {ReportStatus.CLOSED_SUBSTANTIATED, ReportStatus.CLOSED_UNSUBSTANTIATED}
    ),
    ReportStatus.CLOSED_SUBSTANTIATED: frozenset(),
    ReportStatus.CLOSED_UNSUBSTANTIATED: frozenset(),
    ReportStatus.REJECTED: frozenset(),
    ReportStatus.REFERRED: frozenset(),
}
# The step a case normally takes next, offered first: never a closing one (that is a
# choice each time).
NEXT_STEP: dict[ReportStatus, ReportStatus] = {
    ReportStatus.RECEIVED: ReportStatus.IN_REVIEW,
    ReportStatus.IN_REVIEW: ReportStatus.INVESTIGATING,
}


class NotGranted(ServiceError):
    """No grant: to the caller this is "not found", never "forbidden" (that would confirm
    the report exists)."""

    def __init__(self) -> None:
        super().__init__(Reason.REPORT_NOT_FOUND)


def granted(session: Session, report_id: uuid.UUID, account_id: uuid.UUID) -> ReportGrant:
    grant = session.get(ReportGrant, (report_id, account_id))
    if grant is None:
        raise NotGranted()
    return grant


# --- the list ---------------------------------------------------------------------------


@dataclass(frozen=True)
class CaseFilter:
    status: str | None = None
    category: str | None = None
    deadline: str | None = None  # one of DEADLINES
    unread: bool = False
    spam: bool = False  # only the reports marked as spam; without it, spam is hidden
    label: str | None = None  # reports with this label (any letter case), from their record
    priority: str | None = None  # high | normal | low, from their record

    def used(self) -> list[str]:
        return [name for name, value in vars(self).items() if value not in (None, "", False)]

    def sealed(self) -> bool:
        """Whether it filters on a sealed value, which the database cannot compare."""
        return bool(self.unread or self.label or self.priority)

    def keeps(self, record: CaseRecord | None) -> bool:
        """Whether a report with ``record`` (``None``: failed to open) passes the label
        and priority filters."""
        if not (self.label or self.priority):
            return True
        if record is None:
            return False
        if self.label and not record.has_label(self.label):
            return False
        return not self.priority or record.priority == self.priority


@dataclass(frozen=True)
class CaseRow:
    id: uuid.UUID
    title: str
    category: str
    status: str
    received_on: date
    ack_due_on: date | None
    feedback_due_on: date | None
    ack_overdue: bool
    feedback_overdue: bool
    unread: int
    priority: str = Priority.NORMAL.value
    labels: tuple[str, ...] = ()
    lead: str | None = None  # the lead investigator's username, while they hold the report
    record_intact: bool = True  # False: its case record failed its integrity check
    unit: str | None = None  # the unit concerned, in words (issue 18); None: not given
    # The earliest follow-up of its referrals still without the agency's answer (issue
    # 20), and whether that day has passed; None: no referral waits for an answer.
    follow_up_due_on: date | None = None
    follow_up_overdue: bool = False


@dataclass(frozen=True)
class CasePage:
    rows: list[CaseRow]
    next_cursor: str | None
    # True: a filter on sealed values stopped after SCAN_LIMIT reports; ``next_cursor``
    # goes on from the last one looked at, not from the last one shown.
    partial: bool = False


SOON_WORKING_DAYS = 3
DEADLINES = (
    "ack_soon",
    "ack_overdue",
    "feedback_soon",
    "feedback_overdue",
    "follow_up_soon",  # a referral's follow-up (issue 20): the agency's answer is due
    "follow_up_overdue",
    "on_time",
)


def due_soon_until(today: date) -> date:
    """The last day a deadline counts as "due soon": ``SOON_WORKING_DAYS`` Indonesian
    working days after ``today`` (:func:`sipadu.services.dates.add_days`), whatever the
    instance counts its deadlines in: a weekend or a holiday gives no working time."""
    return add_days(today, SOON_WORKING_DAYS, DayCount.WORKING)


def follow_up_waiting(
    low: date | None = None, high: date | None = None, *, before: date | None = None
) -> ColumnElement[bool]:
    """Whether the report has a referral still without the agency's answer whose
    follow-up day is within ``low``..``high`` (both included) or before ``before``: an
    EXISTS on ``referral`` (its follow-up index), for the deadline filters."""
    conditions = [Referral.report_id == Report.id, Referral.response_recorded_on.is_(None)]
    if low is not None:
        conditions.append(Referral.follow_up_due_on >= low)
    if high is not None:
        conditions.append(Referral.follow_up_due_on <= high)
    if before is not None:
        conditions.append(Referral.follow_up_due_on < before)
    return select(Referral.id).where(*conditions).exists()


def deadline_clause(deadline: str, today: date) -> list[ColumnElement[bool]]:
    """The conditions on ``report`` of a deadline filter (one of :data:`DEADLINES`), on
    the indexed deadline columns; the list and the dashboard count with the same ones, so
    a count links to a list of exactly those reports. A referral's follow-up is due
    while its answer is not recorded, whatever the report's status (a reopened report
    still waits for the agency). Raises ``ValueError`` for another name: callers pass
    only names of :data:`DEADLINES` (the list's form offers no other), so another is a
    programming error, not a refusal."""
    open_statuses = [s.value for s in ReportStatus if s not in CLOSING]
    received = Report.status == ReportStatus.RECEIVED.value
    if deadline == "ack_soon":
        return [received, Report.ack_due_on >= today, Report.ack_due_on <= due_soon_until(today)]
    if deadline == "ack_overdue":
        return [received, Report.ack_due_on < today]
    if deadline == "feedback_soon":
        soon = due_soon_until(today)
        return [
            Report.status.in_(open_statuses),
            Report.feedback_due_on >= today,
            Report.feedback_due_on <= soon,
        ]
    if deadline == "feedback_overdue":
        return [Report.status.in_(open_statuses), Report.feedback_due_on < today]
    if deadline == "follow_up_soon":
        return [follow_up_waiting(today, due_soon_until(today))]
    if deadline == "follow_up_overdue":
        return [follow_up_waiting(before=today)]
    if deadline == "on_time":
        return [
            or_(Report.status.not_in(open_statuses), Report.feedback_due_on >= today),
            or_(~received, Report.ack_due_on >= today),
            ~follow_up_waiting(before=today),
        ]
    raise ValueError(f"not a deadline filter: {deadline!r}")


def page_cursor(report: Report) -> str:
    """Where a page of reports newest first ends: ``<received_on ISO date>_<report UUID>``."""
    return f"{report.received_on.isoformat()}_{report.id}"


def parse_page_cursor(cursor: str | None) -> tuple[date, uuid.UUID] | None:
    """A :func:`page_cursor` read back (None for none). Raises ServiceError(BAD_PAGE_CURSOR)."""
    if not cursor:
        return None
    try:
        day, report_id = cursor.split("_", 1)
        return date.fromisoformat(day), uuid.UUID(report_id)
    except ValueError:
        raise ServiceError(Reason.BAD_PAGE_CURSOR) from None


def list_cases(
    session: Session,
    account_id: uuid.UUID,
    private: PrivateKey,
    criteria: CaseFilter,
    today: date,
    cursor: str | None = None,
) -> CasePage:
    """One page of the reports granted to ``account_id``, newest first, by keyset on
    ``(received_on, id)``; only the titles and case records (priority, labels, lead) of
    the rows shown are decrypted, and the view of the list is recorded (``report.list``,
    with the names of the filters used, never their values). Filters on sealed values
    (unread, label, priority) walk the list at most SCAN_LIMIT reports per call
    (:func:`_walk`; the page is then ``partial``). Raises ``ServiceError``
    ``BAD_PAGE_CURSOR`` or ``UNKNOWN_PRIORITY`` (field ``priority``)."""
    query = (
        select(Report, ReportGrant.read_mark, Category.slug)
        .join(
            ReportGrant,
            and_(ReportGrant.report_id == Report.id, ReportGrant.account_id == account_id),
        )
        .join(Category, Category.id == Report.category_id)
        .order_by(Report.received_on.desc(), Report.id.desc())
        .limit(PAGE_SIZE + 1)
    )
    after = parse_page_cursor(cursor)
    if after is not None:
        day, report_id = after
        query = query.where(
            or_(Report.received_on < day, and_(Report.received_on == day, Report.id < report_id))
        )
    if criteria.status:
        query = query.where(Report.status == criteria.status)
    if criteria.category:  # a category's reports include its sub-categories' (issue 18)
        chosen = select(Category.id).where(Category.slug == criteria.category).scalar_subquery()
        query = query.where(or_(Category.slug == criteria.category, Category.parent_id == chosen))
    open_statuses = [s.value for s in ReportStatus if s not in CLOSING]
    if criteria.deadline:
        query = query.where(*deadline_clause(criteria.deadline, today))
    query = query.where(Report.spam.is_(criteria.spam))
    if criteria.priority and criteria.priority not in set(Priority):
        raise ServiceError(Reason.UNKNOWN_PRIORITY, "priority")
    records: dict[uuid.UUID, CaseRecord | None] = {}
    stopped: Report | None = None
    if criteria.sealed():
        found, unread, records, stopped = _walk(session, account_id, private, query, criteria)
    else:
        found = list(session.execute(query).all())
        unread = {}
    more = len(found) > PAGE_SIZE
    found = found[:PAGE_SIZE]
    titles, keys = _titles(session, account_id, private, [report.id for report, _, _ in found])
    units = _units(session, account_id, private, keys, [report.id for report, _, _ in found])
    for report, mark, _slug in found:
        if report.id not in unread:
            unread[report.id] = _unread(report, account_id, mark, keys.get(report.id))
    records.update(
        records_of(session, account_id, private, [r.id for r, _, _ in found if r.id not in records])
    )
    leads = lead_names(session, records)
    follow_ups = _follow_ups(session, [report.id for report, _, _ in found])
    rows = [
        CaseRow(
            id=report.id,
            title=titles.get(report.id, ""),
            category=slug,
            status=report.status,
            received_on=report.received_on,
            ack_due_on=report.ack_due_on,
            feedback_due_on=report.feedback_due_on,
            ack_overdue=report.status == ReportStatus.RECEIVED
            and report.ack_due_on is not None
            and report.ack_due_on < today,
            feedback_overdue=report.status in open_statuses
            and report.feedback_due_on is not None
            and report.feedback_due_on < today,
            unread=unread[report.id],
            priority=(records[report.id] or EMPTY).priority.value,
            labels=(records[report.id] or EMPTY).labels,
            lead=leads.get(report.id),
            record_intact=records[report.id] is not None,
            unit=units.get(report.id),
            follow_up_due_on=follow_ups.get(report.id),
            follow_up_overdue=report.id in follow_ups and follow_ups[report.id] < today,
        )
        for report, _mark, slug in found
    ]
    audit.append(
        session,
        str(account_id),
        "investigator",
        Action.REPORT_LIST,
        # list(): a list of any detail scalar, which is what the log takes (lists are invariant)
        detail={"filters": list(criteria.used()), "page_after": cursor},
    )
    if more and found:
        return CasePage(rows, page_cursor(found[-1][0]))
    if stopped is not None:
        return CasePage(rows, page_cursor(stopped), partial=True)
    return CasePage(rows, None)


def _follow_ups(session: Session, report_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, date]:
    """The earliest follow-up day of each report's referrals still without an answer."""
    if not report_ids:
        return {}
    return {
        report_id: due
        for report_id, due in session.execute(
            select(Referral.report_id, func.min(Referral.follow_up_due_on))
            .where(Referral.report_id.in_(report_ids), Referral.response_recorded_on.is_(None))
            .group_by(Referral.report_id)
        )
    }


def titles_of(
    session: Session, account_id: uuid.UUID, private: PrivateKey, report_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, str]:
    """The titles of reports ``account_id`` holds (as the list opens them: "—" for one
    that does not open), without recording anything: the caller's page records itself."""
    return _titles(session, account_id, private, report_ids)[0]


def _units(
    session: Session,
    account_id: uuid.UUID,
    private: PrivateKey,
    held: dict[uuid.UUID, bytes],
    report_ids: Sequence[uuid.UUID],
) -> dict[uuid.UUID, str | None]:
    """The units the page's reports concern, in words (issue 18): each report's sealed
    ``unit`` field, opened with the key its title opened with (both are sealed at
    submission, epoch 0), or with its own unwrap where no title opened. A field that
    does not open shows as none here; the case page says and records it."""
    rows = list(
        session.scalars(
            select(ReportField).where(
                ReportField.report_id.in_(report_ids), ReportField.name == UNIT_FIELD
            )
        )
    )
    other = [(r.report_id, r.epoch) for r in rows if r.report_id not in held]
    extra = staff_keys_of_reports(session, account_id, private, Purpose.CASE, other)
    units: dict[uuid.UUID, str | None] = {}
    for row in rows:
        for key in (held.get(row.report_id), extra.get((row.report_id, row.epoch))):
            if key is None:
                continue
            try:
                value = open_field(
                    key, row.sealed, report_id=row.report_id, field=f"report/{UNIT_FIELD}"
                ).decode("utf-8")
            except (CryptoError, UnicodeDecodeError):
                continue
            units[row.report_id] = unit_path(session, value)
            break
    return units


def _titles(
    session: Session, account_id: uuid.UUID, private: PrivateKey, report_ids: Sequence[uuid.UUID]
) -> tuple[dict[uuid.UUID, str], dict[uuid.UUID, bytes]]:
    """Decrypt only the titles of the page shown: two queries, one unwrap each. Also
    the case keys they opened with (of each title's epoch), which open the read marks."""
    if not report_ids:
        return {}, {}
    fields = {
        row.report_id: row
        for row in session.scalars(
            select(ReportField).where(
                ReportField.report_id.in_(report_ids), ReportField.name == "title"
            )
        )
    }
    keys = staff_keys_of_reports(
        session, account_id, private, Purpose.CASE, [(r, row.epoch) for r, row in fields.items()]
    )
    titles, held = {}, {}
    for report_id, row in fields.items():
        if (report_id, row.epoch) not in keys:  # granted, yet no wrap opens: altered
            titles[report_id] = "—"
            continue
        held[report_id] = keys[report_id, row.epoch]
        try:
            titles[report_id] = open_field(
                held[report_id], row.sealed, report_id=report_id, field="report/title"
            ).decode("utf-8")
        except (CryptoError, UnicodeDecodeError):  # the case page says and records it
            titles[report_id] = "—"
    return titles, held


def _mark_keys(
    session: Session, account_id: uuid.UUID, private: PrivateKey, report_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, bytes]:
    """The case keys that open ``account_id``'s read marks of ``report_ids`` (those of
    each title's epoch, as :func:`open_case` seals the mark), without opening any title
    or other plaintext: one query for the epochs, one for the wraps, one unwrap each.
    Reports without such a key are left out (their marks count as nothing read)."""
    if not report_ids:
        return {}
    epochs = [
        (report_id, epoch)
        for report_id, epoch in session.execute(
            select(ReportField.report_id, ReportField.epoch).where(
                ReportField.report_id.in_(report_ids), ReportField.name == "title"
            )
        )
    ]
    keys = staff_keys_of_reports(session, account_id, private, Purpose.CASE, epochs)
    return {report_id: key for (report_id, _epoch), key in keys.items()}


def _unread(report: Report, account_id: uuid.UUID, mark: bytes | None, key: bytes | None) -> int:
    """The reporter's messages ``account_id`` has not seen: all of them when its read
    mark is missing (never opened) or does not open (no key, or altered)."""
    if report.reporter_messages == 0:
        return 0
    seen = 0
    if mark is not None and key is not None:
        try:
            seen = read_mark_count(
                open_field(key, mark, report_id=report.id, field=read_mark_field(account_id))
            )
        except CryptoError:
            seen = 0
    return max(0, report.reporter_messages - seen)


# How many reports a filter on sealed values (unread, label, priority) looks at in one
# request, at most: each costs up to two HPKE unwraps (case and internal key) and one
# AES-GCM open. Past it the page shows what was found and goes on from there.
SCAN_LIMIT = 20 * (PAGE_SIZE + 1)


def _walk(
    session: Session,
    account_id: uuid.UUID,
    private: PrivateKey,
    query: Select,
    criteria: CaseFilter,
) -> tuple[list[Row], dict[uuid.UUID, int], dict[uuid.UUID, CaseRecord | None], Report | None]:
    """The rows of ``query`` (a page of :func:`list_cases`) that pass the filters on
    sealed values: their unread counts, their case records, and the last report looked
    at if SCAN_LIMIT stopped the walk before a page and one more were found. The read
    marks and records are sealed, so the database cannot compare them: reports are
    taken in the list's order, PAGE_SIZE + 1 at a time, and opened with the viewer's
    keys (one unwrap per report and key needed), in the request; nothing is kept."""
    found: list[Row] = []
    unread: dict[uuid.UUID, int] = {}
    records: dict[uuid.UUID, CaseRecord | None] = {}
    candidates = query.limit(None)
    if criteria.unread:
        candidates = candidates.where(Report.reporter_messages > 0)
    batch: list[Row] = []

    def drain() -> None:
        ids = [row[0].id for row in batch]
        keys = _mark_keys(session, account_id, private, ids) if criteria.unread else {}
        by_record = bool(criteria.label or criteria.priority)
        opened = records_of(session, account_id, private, ids) if by_record else {}
        for row in batch:
            report = row[0]
            if len(found) > PAGE_SIZE:
                break
            count = _unread(report, account_id, row[1], keys.get(report.id))
            if criteria.unread and not count:
                continue
            record = opened.get(report.id, EMPTY)
            if not criteria.keeps(record):
                continue
            found.append(row)
            if criteria.unread:
                unread[report.id] = count
            if report.id in opened:
                records[report.id] = record
        batch.clear()

    scanned, after = 0, None
    while len(found) <= PAGE_SIZE:
        # A batch at a time by keyset, never the whole list: an ORM result is buffered
        # whole, so iterating one query over every held report would load them all.
        batch.extend(session.execute(_after(candidates, after).limit(PAGE_SIZE + 1)).all())
        fetched = len(batch)
        if fetched:
            after = batch[-1][0]
            drain()
        scanned += fetched
        if fetched <= PAGE_SIZE:  # the list's end
            break
        if scanned >= SCAN_LIMIT and len(found) <= PAGE_SIZE:
            return found, unread, records, after
    return found, unread, records, None


def _after(query: Select, report: Report | None) -> Select:
    """``query`` from the report after ``report`` in the list's order (keyset)."""
    if report is None:
        return query
    day, report_id = report.received_on, report.id
    return query.where(
        or_(Report.received_on < day, and_(Report.received_on == day, Report.id < report_id))
    )


def count_unread(
    session: Session, account_id: uuid.UUID, private: PrivateKey, limit: int
) -> tuple[int, bool]:
    """How many of the reports of the default list have messages ``account_id`` has not
    read, and whether every candidate was checked. The read marks are sealed (the
    database cannot count them): the reports with reporter messages at all are taken
    newest first, ``limit`` at most, and their marks opened as the list's unread filter
    opens them (one unwrap per report with a mark, :func:`_mark_keys`: no title or other
    field is opened); beyond ``limit`` the count is a lower bound."""
    query = (
        select(Report, ReportGrant.read_mark)
        .join(
            ReportGrant,
            and_(ReportGrant.report_id == Report.id, ReportGrant.account_id == account_id),
        )
        .where(Report.spam.is_(False), Report.reporter_messages > 0)
        .order_by(Report.received_on.desc(), Report.id.desc())
        .limit(limit + 1)
    )
    rows = list(session.execute(query).all())
    complete = len(rows) <= limit
    rows = rows[:limit]
    # A report never opened has no mark: all its messages are unread, no key needed.
    marked = [report.id for report, mark in rows if mark is not None]
    keys = _mark_keys(session, account_id, private, marked)
    unread = sum(
        1 for report, mark in rows if _unread(report, account_id, mark, keys.get(report.id))
    )
    return unread, complete


# --- one report ------------------------------------------------------------------------


@dataclass(frozen=True)
class NoteView:
    id: uuid.UUID
    author: str
    written_at: object
    body: str
    intact: bool = True  # False: failed its integrity check, and ``body`` is empty


@dataclass(frozen=True)
class CaseView:
    report: Report
    category: str
    fields: dict[str, str]
    status_reason: str | None
    identity: str | None  # None: not approved for this investigator
    messages: list[ThreadMessage]
    notes: list[NoteView]
    attachments: list[AttachmentInfo]
    identity_requests: list[IdentityRequest]
    failed_fields: frozenset[str] = frozenset()  # names that failed their integrity check
    # Whether the reporter checked a report an operator typed (issue 18; nothing to show
    # for a web report).
    transcript: Transcript = WEB_REPORT
    unit: str | None = None  # the unit concerned, its names from the city down (issue 18)
    # How it came in (the sealed ``intake`` field): the web portal, or an operator's
    # channel, office and username; None if the field does not read.
    intake: Intake | None = None

    def files_of(self, message_id: uuid.UUID | None) -> list[AttachmentInfo]:
        return [a for a in self.attachments if a.message_id == message_id]

    def transcript_correction(self) -> tuple[int, ThreadMessage] | None:
        """The reporter's message that corrects the transcript, and its number in the
        thread (1, 2, ...), or None (not corrected, or that message does not open)."""
        for number, message in enumerate(self.messages, start=1):
            if message.intact and message.id == self.transcript.correction:
                return number, message
        return None


def identity_approved(session: Session, keys: HeldKeys, account_id: uuid.UUID) -> bool:
    """Whether the case page (or an export) may show ``account_id`` the reporter's
    identity: ``keys`` are its investigator keys (never a custodian's wraps, G3) and a
    custodian other than the account approved one of its requests for this report.
    Holding the identity key is not enough: an investigator who is also a custodian holds
    it from submission, and would otherwise read every identity with nobody deciding."""
    if keys.kind != "staff":
        return False
    return (
        session.scalar(
            select(IdentityRequest.id)
            .where(
                IdentityRequest.report_id == keys.report_id,
                IdentityRequest.account_id == account_id,
                IdentityRequest.state == IdentityRequestState.APPROVED.value,
                IdentityRequest.decided_by.is_not(None),
                IdentityRequest.decided_by != account_id,
            )
            .limit(1)
        )
        is not None
    )


def open_case(
    session: Session, keys: HeldKeys, account_id: uuid.UUID, *, record: bool = True
) -> CaseView:
    """Everything of a granted report, decrypted. With ``record`` (a page view) the read
    is recorded and the reporter's messages count as read for this investigator; an
    export records itself instead (:func:`sipadu.services.export.open_for_export`).
    Raises :class:`NotGranted`, or ``NoKey`` when ``keys`` hold no case key of the
    report at all (not the account's keys). A row, field or file whose key is missing
    otherwise (an epoch or a wrap changed in the database) is a failed one in the view,
    recorded as an integrity failure, never an error (issue 15, item 9); the identity is
    only opened once approved and held, so not holding it is no failure."""
    report_id = keys.report_id
    grant = granted(session, report_id, account_id)
    report = session.get_one(Report, report_id)  # the grant holds it
    if not keys.epochs(Purpose.CASE):  # the keys are not the account's (or all wraps gone)
        raise NoKey(Purpose.CASE.value, report.key_epoch)
    view = read_case(session, keys, report, account_id)
    record_integrity_failures(session, account_id, view)
    if not record:
        return view
    # Sealed again at every read, changed or not: a mark rewritten only when new
    # messages had come would tell, between two copies of the database, that the
    # reporter wrote between two reads.
    title_epoch = session.scalar(
        select(ReportField.epoch).where(
            ReportField.report_id == report_id, ReportField.name == "title"
        )
    )
    try:
        mark_key = keys.key(Purpose.CASE, title_epoch or 0)
    except (CryptoError, NoKey):  # a wrap or the title changed in the database: no mark
        mark_key = None
    if mark_key is not None:
        grant.read_mark = seal_field(
            mark_key,
            read_mark(report.reporter_messages),
            report_id=report_id,
            field=read_mark_field(account_id),
        )
    audit.append(
        session,
        str(account_id),
        "investigator",
        Action.REPORT_READ,
        report_id=report_id,
    )
    if view.identity is not None:
        audit.append(
            session, str(account_id), "investigator", Action.IDENTITY_READ, report_id=report_id
        )
    return view


def read_case(session: Session, keys: HeldKeys, report: Report, account_id: uuid.UUID) -> CaseView:
    """Everything of ``report`` that ``keys`` open, as a :class:`CaseView`, reading and
    recording nothing else: fields, status reason, thread, notes, files, identity
    requests, transcript check, unit and intake. The identity only when
    :func:`identity_approved` for ``account_id`` and held (so never for keys that are not
    an investigator's, G3). A field that does not open is a failed one in the view."""
    report_id = report.id
    fields: dict[str, str] = {}
    identity = None
    reason = None
    failed: set[str] = set()
    for row in session.scalars(select(ReportField).where(ReportField.report_id == report_id)):
        if row.name == IDENTITY_FIELD and not (
            identity_approved(session, keys, account_id) and _holds_or_altered(keys, row.epoch)
        ):
            continue
        value = open_report_field(keys, row)
        if value is None:
            failed.add(row.name)
        elif row.name == IDENTITY_FIELD:
            identity = value
        elif row.name == STATUS_REASON_FIELD:
            reason = value
        else:
            fields[row.name] = value
    # A note whose author's account is gone has none (None): "?", as for an unknown id.
    names: dict[uuid.UUID | None, str] = {
        a.id: a.username for a in session.scalars(select(StaffAccount))
    }
    notes = [
        open_note(keys, n, names.get(n.author_account_id, "?"))
        for n in session.scalars(
            select(Note).where(Note.report_id == report_id).order_by(Note.written_at)
        )
    ]
    requests = list(
        session.scalars(
            select(IdentityRequest)
            .where(IdentityRequest.report_id == report_id)
            .order_by(IdentityRequest.requested_at)
        )
    )
    return CaseView(
        report,
        report_category_slug(session, report),
        {name: fields.get(name, "") for name in CASE_FIELDS},
        reason,
        identity,
        thread(session, keys),
        notes,
        list_attachments(session, report_id, keys),
        requests,
        frozenset(failed),
        transcript_of(fields),
        unit_path(session, fields.get(UNIT_FIELD, "")),
        intake=parse_intake(fields.get(INTAKE_FIELD, "")),
    )


def _holds_or_altered(keys: HeldKeys, epoch: int) -> bool:
    """Whether ``keys`` hold the identity key of ``epoch``, or a wrap that no longer
    opens (or a malformed epoch): then the field is opened, fails, and is recorded."""
    try:
        return keys.holds(Purpose.IDENTITY, epoch)
    except CryptoError:
        return True


def open_note(keys: HeldKeys, row: Note, author: str) -> NoteView:
    """A note opened with the internal key of its epoch, its author, time and epoch
    (:func:`note_bound`); one that does not open (altered, re-dated, re-attributed)
    comes back with ``intact`` false and no body, as does one whose key is not held (a
    granted investigator holds every epoch's: its epoch or the wrap was changed)."""
    try:
        bound = note_bound(row)  # first: a malformed epoch is no epoch to look up
        body = open_field(
            keys.key(Purpose.INTERNAL, row.epoch),
            row.body,
            report_id=row.report_id,
            field=note_field(row.id),
            bound=bound,
        ).decode("utf-8")
    except (CryptoError, UnicodeDecodeError, NoKey):
        return NoteView(row.id, author, row.written_at, "", intact=False)
    return NoteView(row.id, author, row.written_at, body)


def record_integrity_failures(session: Session, account_id: uuid.UUID, view: CaseView) -> None:
    """One ``record.integrity_failure`` entry for each message, note or file of ``view``
    that failed its integrity check (kind and row id), in the caller's transaction: a
    database writer's tampering is on the record the moment a staff member meets it."""
    failed: list[tuple[str, object]] = (
        [("message", m.id) for m in view.messages if not m.intact]
        + [("note", n.id) for n in view.notes if not n.intact]
        + [("attachment", a.id) for a in view.attachments if not a.intact]
        + [("report_field", name) for name in sorted(view.failed_fields)]
    )
    for kind, row_id in failed:
        audit.append(
            session,
            str(account_id),
            "investigator",
            Action.INTEGRITY_FAILURE,
            report_id=view.report.id,
            detail={"kind": kind, "id": str(row_id)},
        )


def download_attachment(
    session: Session, keys: HeldKeys, account_id: uuid.UUID, attachment_id: uuid.UUID
) -> AttachmentInfo:
    """A file of a granted report, its download recorded (``attachment.download``, with
    its size): its details only. A file that fails its integrity check is recorded as
    ``record.integrity_failure`` instead and comes back with ``intact`` false: the caller
    commits that entry and refuses the download. Once the caller has committed, the file
    is read on a session of its own while it streams (:func:`sipadu.web.context.stream`),
    so a slow reader holds no lock."""
    granted(session, keys.report_id, account_id)
    try:
        info, _unread = read_attachment(session, keys.report_id, attachment_id, keys)
    except IntegrityFailed:
        audit.append(
            session,
            str(account_id),
            "investigator",
            Action.INTEGRITY_FAILURE,
            report_id=keys.report_id,
            detail={"kind": "attachment", "id": str(attachment_id)},
        )
        return AttachmentInfo(attachment_id, None, "", "", 0, intact=False)
    audit.append(
        session,
        str(account_id),
        "investigator",
        Action.ATTACHMENT_DOWNLOAD,
        report_id=keys.report_id,
        detail={"attachment": str(attachment_id), "size": info.size},
    )
    return info


def reply(
    session: Session,
    keys: HeldKeys,
    account_id: uuid.UUID,
    body: str,
    today: date,
    precision: DatePrecision,
    files: Sequence[UploadedFile] = (),
) -> Message:
    """A message to the reporter, sealed under the current case key: the mailbox holds
    it, so the reporter reads it. Its date is coarsened like the reporter's own."""
    report = _report(session, keys.report_id, account_id)
    body = body.strip()
    if not body:
        raise ServiceError(Reason.EMPTY_TEXT, "body")
    message = Message(
        id=uuid.uuid4(),
        report_id=report.id,
        author="staff",
        author_account_id=account_id,
        sent_on=coarsen(today, precision),
    )
    case_key = keys.key(Purpose.CASE, report.key_epoch)
    seal_message(session, case_key, report.key_epoch, message, body)
    session.add(message)
    session.flush()
    attach(
        session,
        report.id,
        case_key,
        report.key_epoch,
        files,
        uploader="staff",
        message_id=message.id,
    )
    audit.append(
        session,
        str(account_id),
        "investigator",
        Action.MESSAGE_SEND,
        report_id=report.id,
        # No position: the k-th message.send of a report is its k-th staff message
        # anyway, and a thread position would count the reporter's messages before it.
        detail={"files": len(files)},
    )
    return message


def add_note(session: Session, keys: HeldKeys, account_id: uuid.UUID, body: str) -> Note:
    """An internal note, sealed under the current internal key (never the mailbox's)."""
    report = _report(session, keys.report_id, account_id)
    body = body.strip()
    if not body:
        raise ServiceError(Reason.EMPTY_TEXT, "body")
    note = Note(
        id=uuid.uuid4(),
        report_id=report.id,
        author_account_id=account_id,
        epoch=report.key_epoch,
        written_at=utcnow(),  # set here, not by the insert: it is sealed with the body
        body=b"",
    )
    note.body = seal_field(
        keys.key(Purpose.INTERNAL, report.key_epoch),
        body.encode("utf-8"),
        report_id=report.id,
        field=note_field(note.id),
        bound=note_bound(note),
    )
    session.add(note)
    audit.append(
        session,
        str(account_id),
        "investigator",
        Action.NOTE_ADD,
        report_id=report.id,
        detail={"note": str(note.id)},
    )
    return note


def change_status(
    session: Session,
    keys: HeldKeys,
    account_id: uuid.UUID,
    new_status: str,
    reason: str,
    today: date,
) -> Report:
    """Move along the workflow. Closing or rejecting needs a reason, which the reporter
    reads in the mailbox (sealed under the current case key). The first move out of
    ``received`` is the acknowledgement."""
    report = _report(session, keys.report_id, account_id)
    try:
        target = ReportStatus(new_status)
    except ValueError:
        raise ServiceError(Reason.UNKNOWN_STATUS, "status") from None
    current = ReportStatus(report.status)
    if target not in TRANSITIONS[current]:
        raise ServiceError(Reason.BAD_TRANSITION, "status", old=current.value, new=target.value)
    reason = reason.strip()
    if target in CLOSING and not reason:
        raise ServiceError(Reason.CLOSING_NEEDS_REASON, "reason")
    if reason:
        seal_reason(session, keys, report, reason)
    acknowledged = current is ReportStatus.RECEIVED
    if acknowledged:
        report.acknowledged_on = today
    if target in CLOSING:
        mark_closed(report, today)
    report.status = target.value
    audit.append(
        session,
        str(account_id),
        "investigator",
        Action.STATUS_CHANGE,
        report_id=report.id,
        detail={
            "from": current.value,
            "to": target.value,
            "acknowledged": acknowledged,
            "with_reason": bool(reason),
        },
    )
    return report


def mark_closed(report: Report, today: date) -> None:
    """Close ``report`` on ``today`` (a close, a rejection, a referral): ``closed_on``,
    from which retention counts, and, the first time only, ``first_closed_on``, the
    reporter's feedback by closing, which a reopening keeps (docs/casework.md)."""
    report.closed_on = today
    if report.first_closed_on is None:
        report.first_closed_on = today


def seal_reason(session: Session, keys: HeldKeys, report: Report, reason: str) -> None:
    """The status reason the reporter reads in the mailbox, sealed under the current
    case key in place of the one before (a status change, a reopening, a referral)."""
    row = session.get(ReportField, (report.id, STATUS_REASON_FIELD))
    sealed = seal_field(
        keys.key(Purpose.CASE, report.key_epoch),
        reason.encode("utf-8"),
        report_id=report.id,
        field=f"report/{STATUS_REASON_FIELD}",
    )
    if row is None:
        session.add(
            ReportField(
                report_id=report.id, name=STATUS_REASON_FIELD, epoch=report.key_epoch, sealed=sealed
            )
        )
    else:
        row.epoch, row.sealed = report.key_epoch, sealed


# A reopened case is looked at again from the start of the workflow's open part: whoever
# reopens it moves it on to ``investigating`` as a normal step (docs/casework.md).
REOPENED = ReportStatus.IN_REVIEW


def reopen(session: Session, keys: HeldKeys, account_id: uuid.UUID, reason: str) -> Report:
    """Reopen a closed or rejected report: back to ``in_review``, with a reason that is
    required and that the reporter reads in the mailbox under the new status, as for any
    status change (it replaces the closing reason there). The closing day is cleared, so
    retention no longer counts from it; the deadlines stay, and so does
    ``first_closed_on``: the reporter was given feedback by that closing. Recorded as
    ``report.reopen`` (from, to). Raises :class:`NotGranted`, ``ServiceError``
    ``NOT_CLOSED`` (field ``status``) or ``REOPEN_NEEDS_REASON`` (field ``reason``)."""
    report = _report(session, keys.report_id, account_id)
    current = ReportStatus(report.status)
    if current not in CLOSING:
        raise ServiceError(Reason.NOT_CLOSED)
    reason = reason.strip()
    if not reason:
        raise ServiceError(Reason.REOPEN_NEEDS_REASON, "reason")
    seal_reason(session, keys, report, reason)
    report.status = REOPENED.value
    report.closed_on = None
    audit.append(
        session,
        str(account_id),
        "investigator",
        Action.REPORT_REOPEN,
        report_id=report.id,
        detail={"from": current.value, "to": REOPENED.value},
    )
    return report


def mark_spam(session: Session, report_id: uuid.UUID, account_id: uuid.UUID, spam: bool) -> None:
    """Mark a granted report as junk (``spam=True``) or take the mark back. A marked
    report is hidden from every holder's default list; nothing else changes: its status,
    deadlines, what the reporter sees, and retention, which counts from closing or
    rejecting as for any report. Recorded as ``report.spam`` / ``report.not_spam``; a
    mark already there is no change and records nothing. Raises :class:`NotGranted`."""
    report = _report(session, report_id, account_id)
    if report.spam == spam:
        return
    report.spam = spam
    action = Action.SPAM_MARK if spam else Action.SPAM_UNMARK
    audit.append(session, str(account_id), "investigator", action, report_id=report.id)


def _report(session: Session, report_id: uuid.UUID, account_id: uuid.UUID) -> Report:
    """A granted report, its row locked for the change (see ``locked_report``)."""
    granted(session, report_id, account_id)
    report = locked_report(session, report_id)
    if report is None:  # pragma: no cover — the grant's foreign key
        raise NotGranted()
    return report
