"""Submitting a report and the reporter's view of it (DESIGN.md §4, §5).

A report's keys (epoch 0 at submission) and who they are wrapped to are the key ring's
(:func:`sipadu.services.key_ring.create_ring`). Every field is padded and sealed; the
identity field is always stored, empty or not, so its presence says nothing. The caller
commits, and only then shows the code (G6).
"""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import partial

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from sipadu.accountability import audit
from sipadu.accountability.audit import ReporterMetric
from sipadu.crypto import (
    LEGACY_FIELD_VERSION,
    Argon2Params,
    CryptoError,
    PublicKey,
    Purpose,
    SecretRecord,
    field_version,
    hash_secret,
    lookup_id,
    new_keypair,
    open_field,
    seal_field,
    seal_private_key,
)
from sipadu.persistence.db import scope_to_report
from sipadu.persistence.models import Category, Mailbox, Message, Report, ReportField, ReportStatus
from sipadu.services import Derive, Reason, ServiceError, inline
from sipadu.services.attachments import AttachmentInfo, UploadedFile, attach, list_attachments
from sipadu.services.categories import category_by_slug, category_open
from sipadu.services.dates import Deadlines, coarsen
from sipadu.services.intake import INTAKE_FIELD, Intake, intake_json
from sipadu.services.key_ring import HeldKeys, NoKey, Recipient, create_ring, open_any_epoch
from sipadu.services.passphrases import mailbox_secret, new_code, suggest_passphrase
from sipadu.services.receipts import commit_report
from sipadu.services.row_metadata import (
    message_bound,
    message_field,
    message_plaintext,
    split_message,
)
from sipadu.services.units import unit_offered
from sipadu.settings.config import DatePrecision, DayCount

CASE_FIELDS = ("title", "what", "who", "where", "when", "how", "estimated_loss")
IDENTITY_FIELD = "identity"
# The reported unit's id as text, or "" (issue 18): sealed under the case key and stored
# for every report, so its presence says nothing (G2); never a plaintext column.
UNIT_FIELD = "unit"
STATUS_REASON_FIELD = "status_reason"
# Whether the reporter checked a report an operator typed (EU 2019/1937 Art. 18(2)-(4)):
# "" for a web report, "pending", then "confirmed" or "corrected"
# (sipadu.services.transcript). Stored for every report, so its presence says nothing.
TRANSCRIPT_FIELD = "transcript"
# The id of the reporter's message that corrects the transcript, or "" (every report).
TRANSCRIPT_CORRECTION_FIELD = "transcript_correction"
# "1" once the reporter of a typed report took a new code of their own at their first
# sign-in (the mailbox rekey, sipadu.services.transcript.slip_code_live), else "":
# stored for every report (G2), so neither its presence nor a column says "typed".
CODE_RENEWED_FIELD = "code_renewed"
# "1" when the reporter said the report concerns the inspectorate's own staff, else "":
# stored for every report (G2); coi (issue 18, docs/conflict-of-interest.md).
CONCERNS_INSPECTORATE_FIELD = "concerns_inspectorate"
MAILBOX_KEY_PURPOSE = "mailbox"


class CategoryClosed(ServiceError):
    """An admin stopped accepting reports in this category."""

    def __init__(self) -> None:
        super().__init__(Reason.CATEGORY_CLOSED, "category")


@dataclass(frozen=True)
class ReportForm:
    category: str
    title: str
    what: str
    who: str = ""
    where: str = ""
    when: str = ""
    how: str = ""
    estimated_loss: str = ""
    identity: str = ""
    intake: Intake | None = None  # intake: an operator's, None on the web
    transcribed: bool = False  # mailbox: an operator typed the report (intake sets it)
    concerns_inspectorate: bool = False  # coi: wrapped to the conflict-of-interest group
    unit: str = ""  # units (issue 18): a unit's id as text, or ""


@dataclass(frozen=True)
class SubmissionSettings:
    """What submission needs from configuration and the instance secrets."""

    lookup_salt: bytes
    lookup_argon2: Argon2Params
    argon2: Argon2Params
    recovery: PublicKey
    date_precision: DatePrecision
    deadlines: Deadlines = field(default_factory=lambda: Deadlines(7, 90, DayCount.CALENDAR))


@dataclass(frozen=True)
class Receipt:
    report_id: uuid.UUID
    code: str
    suggested_passphrase: str | None


def mailbox_owner(mailbox_id: uuid.UUID) -> str:
    return f"mailbox/{mailbox_id}"


def _stretch(
    code: str, passphrase: str, settings: SubmissionSettings
) -> tuple[bytes, tuple[SecretRecord, bytes]]:
    """The new mailbox's lookup id, and its record and KEK: two Argon2id derivations."""
    lookup = lookup_id(code.encode("ascii"), settings.lookup_salt, settings.lookup_argon2)
    return lookup, hash_secret(mailbox_secret(code, passphrase), settings.argon2)


def submit_report(
    session: Session,
    form: ReportForm,
    passphrase: str | None,
    settings: SubmissionSettings,
    today: date,
    files: Sequence[UploadedFile] = (),
    *,
    derive: Derive = inline,
) -> Receipt:
    """Encrypt and store a report with its mailbox (and the evidence files already
    staged while the request arrived, linked here). The caller commits, then shows the
    receipt. ``passphrase`` None means: suggest one.

    Both Argon2id derivations (~0.2 s) happen before the first query: a write transaction
    (on SQLite, the database's write lock) is held only for the inserts, not while keys
    are stretched, so concurrent submissions do not queue behind each other's KDF. Both
    run in one ``derive(fn, *args)`` (:data:`sipadu.services.Derive`): the portal passes
    its derivation pool's ``run``, which may raise :class:`sipadu.persistence.slots.Busy` before
    anything is stored."""
    suggested = suggest_passphrase() if passphrase is None else None
    passphrase = suggested or passphrase or ""
    code = new_code()
    lookup, (record, kek) = derive(_stretch, code, passphrase, settings)
    mailbox_private = new_keypair()
    report_id, mailbox_id = uuid.uuid4(), uuid.uuid4()
    sealed_mailbox_key = seal_private_key(
        mailbox_private, kek, owner=mailbox_owner(mailbox_id), purpose=MAILBOX_KEY_PURPOSE
    )

    # From here on: the database, briefly.
    scope_to_report(session, report_id, lookup)
    category = category_by_slug(session, form.category)
    if not category_open(session, form.category):
        raise CategoryClosed()
    unit = unit_offered(session, form.unit)
    if session.scalar(select(Mailbox.id).where(Mailbox.lookup_id == lookup)) is not None:
        # 10**16 codes: astronomically rare. Refuse rather than reuse; the form is kept.
        raise ServiceError(Reason.CODE_COLLISION)  # pragma: no cover
    received_on = coarsen(today, settings.date_precision)
    ack_due, feedback_due = settings.deadlines.due(settings.date_precision.period_end(today))
    session.add(
        Report(
            id=report_id,
            category_id=category.id,
            status=ReportStatus.RECEIVED.value,
            received_on=received_on,
            key_epoch=0,
            ack_due_on=ack_due,
            feedback_due_on=feedback_due,
            reporter_messages=0,
        )
    )
    session.flush()  # the report row first: everything below refers to it
    session.add(
        Mailbox(
            id=mailbox_id,
            report_id=report_id,
            lookup_id=lookup,
            secret_record=record.to_bytes(),
            public_key=mailbox_private.public_key().to_bytes(),
            sealed_private_key=sealed_mailbox_key,
        )
    )

    to_mailbox = Recipient("mailbox", mailbox_id, mailbox_private.public_key())
    keys = create_ring(
        session,
        report_id,
        category.id,
        to_mailbox,
        settings.recovery,
        concerns_inspectorate=form.concerns_inspectorate,
        unit_id=unit.id if unit is not None else None,
    )
    for name in CASE_FIELDS:
        _store_field(session, report_id, name, 0, keys.case, getattr(form, name))
    _store_field(session, report_id, IDENTITY_FIELD, 0, keys.identity, form.identity)
    _store_field(session, report_id, INTAKE_FIELD, 0, keys.case, intake_json(form.intake))
    transcript = "pending" if form.transcribed else ""
    _store_field(session, report_id, TRANSCRIPT_FIELD, 0, keys.case, transcript)
    _store_field(session, report_id, TRANSCRIPT_CORRECTION_FIELD, 0, keys.case, "")
    _store_field(session, report_id, CODE_RENEWED_FIELD, 0, keys.case, "")
    coi = "1" if form.concerns_inspectorate else ""
    _store_field(session, report_id, CONCERNS_INSPECTORATE_FIELD, 0, keys.case, coi)
    _store_field(session, report_id, UNIT_FIELD, 0, keys.case, str(unit.id) if unit else "")
    attach(session, report_id, keys.case, 0, files, uploader="reporter")
    # Its proof-of-report commitment, unlinked from the report (docs/receipt.md).
    commit_report(session, report_id, received_on, to_mailbox)

    precision = settings.date_precision
    audit.count_reporter_event(session, ReporterMetric.REPORT_SUBMITTED, today, precision)
    if not keys.investigators:
        audit.count_reporter_event(session, ReporterMetric.REPORT_UNROUTED, today, precision)
    session.flush()
    return Receipt(report_id, code, suggested)


def _store_field(
    session: Session, report_id: uuid.UUID, name: str, epoch: int, key: bytes, value: str
) -> None:
    sealed = seal_field(key, value.encode("utf-8"), report_id=report_id, field=f"report/{name}")
    session.add(ReportField(report_id=report_id, name=name, epoch=epoch, sealed=sealed))


# --- the reporter's side after submission ----------------------------------------------


@dataclass(frozen=True)
class ThreadMessage:
    id: uuid.UUID
    position: int | None  # None: failed its integrity check (a sealed position is unknown)
    author: str
    sent_on: date
    body: str
    intact: bool = True  # False: failed its integrity check, and ``body`` is empty


@dataclass(frozen=True)
class MailboxView:
    report_id: uuid.UUID
    category: str
    status: str
    status_reason: str | None
    received_on: date
    fields: dict[str, str]
    identity: str
    messages: list[ThreadMessage]
    attachments: list[AttachmentInfo]
    failed_fields: frozenset[str] = frozenset()  # names that failed their integrity check
    # The report's stored deadlines, while they still bind (issue 16 item 8): the
    # acknowledgement's while the report is only received, the feedback's until it is
    # closed or rejected; None after. Days, as stored: no finer than the report's date.
    ack_due_on: date | None = None
    feedback_due_on: date | None = None
    unit: str = ""  # the unit's id as text, or "" (issue 18)

    def files_of(self, message_id: uuid.UUID | None) -> list[AttachmentInfo]:
        return [a for a in self.attachments if a.message_id == message_id]


def open_report_field(keys: HeldKeys, row: ReportField) -> str | None:
    """A report field opened with the key of its purpose and epoch, bound to its report
    and name (docs/crypto.md "Sealed fields"); ``None`` if it fails its integrity check:
    altered, or swapped with another field or another report's in the database, or no
    key of its purpose and epoch is held (its epoch or the key row changed there: a
    reader's keys cover every field it is given). Callers that may lawfully lack a key
    (the identity, for staff not approved) check that before (issue 15, item 9)."""
    purpose = Purpose.IDENTITY if row.name == IDENTITY_FIELD else Purpose.CASE
    try:
        return open_field(
            keys.key(purpose, row.epoch),
            row.sealed,
            report_id=keys.report_id,
            field=f"report/{row.name}",
        ).decode("utf-8")
    except (CryptoError, UnicodeDecodeError, NoKey):
        return None


def thread(session: Session, keys: HeldKeys) -> list[ThreadMessage]:
    """The messages of a report, in order, each opened with the case key that opens it
    and its own author, date and epoch (:func:`message_bound`). A version 2 message
    stores neither its position nor its epoch (either would order a reporter's message
    among staff actions the audit log dates: docs/crypto.md "Row order"): its position is
    sealed inside it, so every message of the report is opened and the thread sorted by
    the positions found. A message that does not open is at the end of the list with
    ``intact`` false, no body and no position: altered, relabelled, re-dated or moved in
    the database. So is an old-format message (which binds none of these, and stores its
    position in plaintext) placed at or after the report's first new-format one:
    positions are given in the order messages are written, so a genuine old one always
    comes first. Without any case key (a key row changed in the database) every message
    fails so; nothing raises."""
    rows = list(session.scalars(select(Message).where(Message.report_id == keys.report_id)))
    return thread_of(keys, rows)


def thread_of(keys: HeldKeys, rows: Sequence[Message]) -> list[ThreadMessage]:
    """:func:`thread` of message rows the caller fetched (all of the report's: the order
    and the old-format rule need every one), e.g. for a batch of reports at once."""
    opened: list[ThreadMessage] = []
    legacy: list[Message] = []
    failed: list[ThreadMessage] = []
    for m in rows:
        try:
            legacy_row = field_version(m.body) == LEGACY_FIELD_VERSION
        except CryptoError:  # no format at all (or not bytes): it fails like any other
            legacy_row = False
        if legacy_row:
            legacy.append(m)
            continue
        try:
            position, body, _epoch = open_message(keys, m)
        except (CryptoError, UnicodeDecodeError, NoKey):
            failed.append(ThreadMessage(m.id, None, m.author, m.sent_on, "", False))
            continue
        opened.append(ThreadMessage(m.id, position, m.author, m.sent_on, body))
    first_new = min((m.position or 0 for m in opened), default=None)
    for m in legacy:
        try:
            if m.position is None or (first_new is not None and m.position >= first_new):
                raise CryptoError("old-format message at or after a new-format one")
            if m.position < 0 or m.epoch is None or m.epoch < 0:  # a malformed value
                raise CryptoError("old-format message with a position or epoch no writer stores")
            body, _epoch = open_any_epoch(
                keys, Purpose.CASE, m.epoch, partial(_open_legacy_message, keys, m)
            )
        except (CryptoError, UnicodeDecodeError, NoKey):
            failed.append(ThreadMessage(m.id, None, m.author, m.sent_on, "", False))
            continue
        opened.append(ThreadMessage(m.id, m.position, m.author, m.sent_on, body))
    opened.sort(key=lambda m: m.position or 0)
    failed.sort(key=lambda m: m.id)
    return opened + failed


def _open_legacy_message(keys: HeldKeys, row: Message, key: bytes, _epoch: int) -> str:
    """A format version 1 message: binds report and row only."""
    return open_field(key, row.body, report_id=keys.report_id, field=message_field(row.id)).decode(
        "utf-8"
    )


def open_message(keys: HeldKeys, row: Message) -> tuple[int, str, int]:
    """A format version 2 message: ``(position, text, epoch)``, opened with the case key
    of ``keys`` that opens it and the row's own metadata. Raises ``CryptoError`` (or
    ``UnicodeDecodeError``) if it does not open, or if the row stores a position or an
    epoch (version 2 rows store neither: a writer put it there); ``NoKey`` without any
    case key."""
    if row.position is not None or row.epoch is not None:
        raise CryptoError("a new-format message stores no position and no epoch")
    (position, body), epoch = open_any_epoch(
        keys, Purpose.CASE, None, partial(_open_message, keys, row)
    )
    return position, body, epoch


def _open_message(keys: HeldKeys, row: Message, key: bytes, epoch: int) -> tuple[int, str]:
    plaintext = open_field(
        key,
        row.body,
        report_id=keys.report_id,
        field=message_field(row.id),
        bound=message_bound(row, epoch),
        legacy=False,
    )
    return split_message(plaintext)


def seal_message(session: Session, key: bytes, epoch: int, message: Message, body: str) -> None:
    """Give ``message`` (author, account, date set; not yet added) its next position in
    its report's thread and its sealed body: format version 2, the position inside the
    ciphertext, the epoch bound but not stored (docs/crypto.md "Sealed fields, version
    2"). The caller holds the report's row lock (:func:`locked_report`), so the count of
    the report's messages is the number of the last one, and no other writer counts at
    the same time. ``message.position`` and ``message.epoch`` stay empty (G2)."""
    count = session.scalar(
        select(func.count()).select_from(Message).where(Message.report_id == message.report_id)
    )
    message.position = None
    message.epoch = None
    message.body = seal_field(
        key,
        message_plaintext((count or 0) + 1, body),
        report_id=message.report_id,
        field=message_field(message.id),
        bound=message_bound(message, epoch),
    )


def read_mailbox(session: Session, keys: HeldKeys, report_id: uuid.UUID) -> MailboxView:
    scope_to_report(session, report_id)
    report = session.get(Report, report_id)
    if report is None:
        raise ServiceError(Reason.REPORT_NOT_FOUND)
    fields: dict[str, str] = {}
    identity = ""
    reason = None
    unit = ""
    failed: set[str] = set()
    for row in session.scalars(select(ReportField).where(ReportField.report_id == report_id)):
        value = open_report_field(keys, row)
        if value is None:
            failed.add(row.name)
        elif row.name == IDENTITY_FIELD:
            identity = value
        elif row.name == UNIT_FIELD:
            unit = value
        elif row.name == STATUS_REASON_FIELD:
            reason = value
        else:
            fields[row.name] = value
    category = report_category_slug(session, report)
    files = list_attachments(session, report_id, keys)
    pending = report.status in (
        ReportStatus.RECEIVED,
        ReportStatus.IN_REVIEW,
        ReportStatus.INVESTIGATING,
    )
    return MailboxView(
        report_id,
        category,
        report.status,
        reason,
        report.received_on,
        fields,
        identity,
        thread(session, keys),
        files,
        frozenset(failed),
        ack_due_on=report.ack_due_on if report.status == ReportStatus.RECEIVED else None,
        feedback_due_on=report.feedback_due_on if pending else None,
        unit=unit,
    )


def locked_report(session: Session, report_id: uuid.UUID) -> Report | None:
    """The report row, locked until the transaction ends (PostgreSQL ``FOR UPDATE``;
    SQLite write transactions are serialized anyway): a message's position and the
    reporter-message count are read and written by one writer at a time."""
    return session.scalar(select(Report).where(Report.id == report_id).with_for_update())


def report_category_slug(session: Session, report: Report) -> str:
    return session.scalar(select(Category.slug).where(Category.id == report.category_id)) or ""


def add_reporter_message(
    session: Session,
    keys: HeldKeys,
    report_id: uuid.UUID,
    body: str,
    today: date,
    precision: DatePrecision,
    files: Sequence[UploadedFile] = (),
) -> Message:
    """Seal a message from the reporter (and its files) under the current case key."""
    scope_to_report(session, report_id)
    report = locked_report(session, report_id)
    if report is None:
        raise ServiceError(Reason.REPORT_NOT_FOUND)
    message = Message(
        id=uuid.uuid4(),
        report_id=report_id,
        author="reporter",
        sent_on=coarsen(today, precision),
    )
    seal_message(session, keys.key(Purpose.CASE, report.key_epoch), report.key_epoch, message, body)
    session.add(message)
    report.reporter_messages += 1
    session.flush()  # the message row first: its files refer to it
    attach(
        session,
        report_id,
        keys.key(Purpose.CASE, report.key_epoch),
        report.key_epoch,
        files,
        uploader="reporter",
        message_id=message.id,
    )
    audit.count_reporter_event(session, ReporterMetric.MESSAGE_SENT, today, precision)
    session.flush()
    return message
