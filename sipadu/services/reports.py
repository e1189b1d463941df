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

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from sipadu.accountability import audit
from sipadu.accountability.audit import ReporterMetric
from sipadu.crypto import (
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
from sipadu.services.categories import category_by_slug
from sipadu.services.dates import Deadlines, coarsen
from sipadu.services.key_ring import HeldKeys, Recipient, create_ring
from sipadu.services.passphrases import mailbox_secret, new_code, suggest_passphrase
from sipadu.services.row_metadata import message_bound, message_field
from sipadu.settings.config import DatePrecision, DayCount

CASE_FIELDS = ("title", "what", "who", "where", "when", "how", "estimated_loss")
IDENTITY_FIELD = "identity"
STATUS_REASON_FIELD = "status_reason"
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
    if not category.active:
        raise CategoryClosed()
    if session.scalar(select(Mailbox.id).where(Mailbox.lookup_id == lookup)) is not None:
        # 10**16 codes: astronomically rare. Refuse rather than reuse; the form is kept.
        raise ServiceError(Reason.CODE_COLLISION)  # pragma: no cover
    received_on = coarsen(today, settings.date_precision)
    ack_due, feedback_due = settings.deadlines.due(received_on)
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

    keys = create_ring(
        session,
        report_id,
        category.id,
        Recipient("mailbox", mailbox_id, mailbox_private.public_key()),
        settings.recovery,
    )
    for name in CASE_FIELDS:
        _store_field(session, report_id, name, 0, keys.case, getattr(form, name))
    _store_field(session, report_id, IDENTITY_FIELD, 0, keys.identity, form.identity)
    attach(session, report_id, keys.case, 0, files, uploader="reporter")

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
    position: int
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

    def files_of(self, message_id: uuid.UUID | None) -> list[AttachmentInfo]:
        return [a for a in self.attachments if a.message_id == message_id]


def open_report_field(keys: HeldKeys, row: ReportField) -> str | None:
    """A report field opened with the key of its purpose and epoch, bound to its report
    and name (docs/crypto.md "Sealed fields"); ``None`` if it fails its integrity check:
    altered, or swapped with another field or another report's in the database. Raises
    ``NoKey`` without the key."""
    purpose = Purpose.IDENTITY if row.name == IDENTITY_FIELD else Purpose.CASE
    try:
        return open_field(
            keys.key(purpose, row.epoch),
            row.sealed,
            report_id=keys.report_id,
            field=f"report/{row.name}",
        ).decode("utf-8")
    except (CryptoError, UnicodeDecodeError):
        return None


def thread(session: Session, keys: HeldKeys) -> list[ThreadMessage]:
    """The messages of a report, in order, each opened with the case key of its epoch
    and its own author, position, date and epoch (:func:`message_bound`). A message that
    does not open is in the list with ``intact`` false and no body: altered, relabelled,
    reordered, re-dated or moved in the database. So is an old-format message (which
    binds none of these) placed after the report's first new-format one: messages are
    numbered in the order they are written, so a genuine old one always comes first.
    Raises ``NoKey`` if no wrap of an epoch's case key is held."""
    rows = list(
        session.scalars(
            select(Message).where(Message.report_id == keys.report_id).order_by(Message.position)
        )
    )
    first_new = min((m.position for m in rows if m.body[:1] != bytes([1])), default=None)
    messages = []
    for m in rows:
        try:
            if field_version(m.body) == 1 and first_new is not None and m.position > first_new:
                raise CryptoError("old-format message after a new-format one")
            bound = message_bound(m)  # first: a malformed epoch is no epoch to look up
            body = open_field(
                keys.key(Purpose.CASE, m.epoch),
                m.body,
                report_id=keys.report_id,
                field=message_field(m.id),
                bound=bound,
            ).decode("utf-8")
        except (CryptoError, UnicodeDecodeError):
            messages.append(ThreadMessage(m.id, m.position, m.author, m.sent_on, "", False))
            continue
        messages.append(ThreadMessage(m.id, m.position, m.author, m.sent_on, body))
    return messages


def read_mailbox(session: Session, keys: HeldKeys, report_id: uuid.UUID) -> MailboxView:
    scope_to_report(session, report_id)
    report = session.get(Report, report_id)
    if report is None:
        raise ServiceError(Reason.REPORT_NOT_FOUND)
    fields: dict[str, str] = {}
    identity = ""
    reason = None
    failed: set[str] = set()
    for row in session.scalars(select(ReportField).where(ReportField.report_id == report_id)):
        value = open_report_field(keys, row)
        if value is None:
            failed.add(row.name)
        elif row.name == IDENTITY_FIELD:
            identity = value
        elif row.name == STATUS_REASON_FIELD:
            reason = value
        else:
            fields[row.name] = value
    category = report_category_slug(session, report)
    files = list_attachments(session, report_id, lambda epoch: keys.key(Purpose.CASE, epoch))
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
    position = (
        session.scalar(select(func.max(Message.position)).where(Message.report_id == report_id))
        or 0
    ) + 1
    message = Message(
        id=uuid.uuid4(),
        report_id=report_id,
        position=position,
        author="reporter",
        epoch=report.key_epoch,
        sent_on=coarsen(today, precision),
        body=b"",
    )
    message.body = seal_field(
        keys.key(Purpose.CASE, report.key_epoch),
        body.encode("utf-8"),
        report_id=report_id,
        field=message_field(message.id),
        bound=message_bound(message),
    )
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
