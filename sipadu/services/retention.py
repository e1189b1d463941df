"""Retention by crypto-shredding (DESIGN.md §3, issue 9).

A closed report is kept for a configurable time after closing (default 5 years; a
rejected one 1 year), unless two admins put it on legal hold. Then ``sipadu purge``
removes it in two committed steps: first every wrapped key of the report (after this
commit nothing of it can be decrypted, by anyone, even from a backup taken later), then
its ciphertext: fields, messages, notes, files and the mailbox. A crash between the two
leaves only undecryptable bytes, which the next purge removes. SQLite runs with
``secure_delete`` on, so deleted pages are overwritten. Each step is audited with counts
only: the log does not keep the ids of what it no longer holds.

The same timer rewrites the reporter-side tables once a day (:func:`reshuffle_if_due`),
so that neither the database file nor a dump tells in which order reporter rows and
staff rows were written (docs/crypto.md, "Row order").
"""

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import ColumnElement, and_, delete, func, or_, select
from sqlalchemy.orm import Session, sessionmaker

from sipadu.accountability import audit
from sipadu.accountability.audit import OPERATOR, Action, Actor
from sipadu.persistence import row_order
from sipadu.persistence.db import rows_affected
from sipadu.persistence.models import (
    Attachment,
    AuditEvent,
    Blob,
    Referral,
    Report,
    ReportStatus,
    SafeCopy,
)
from sipadu.persistence.row_order import Reshuffled
from sipadu.services import key_ring

# A referred report (issue 20) is closed here: kept SIPADU_RETENTION_CLOSED_DAYS from
# the day it was referred (its closing day), or from its latest referral if later (a
# second agency), its referrals deleted with it.
CLOSED = (
    ReportStatus.CLOSED_SUBSTANTIATED.value,
    ReportStatus.CLOSED_UNSUBSTANTIATED.value,
    ReportStatus.REFERRED.value,
)
BATCH = 500


@dataclass(frozen=True)
class RetentionPolicy:
    closed_days: int = 5 * 365 + 1
    rejected_days: int = 365


@dataclass(frozen=True)
class PurgeCounts:
    reports: int = 0
    keys: int = 0
    files: int = 0


def expired(
    session: Session, policy: RetentionPolicy, today: date, limit: int = BATCH
) -> list[uuid.UUID]:
    """Reports past retention and not on hold. The day counted from is the closing day
    (or, for reports closed before it was recorded, the day they arrived), or the day of
    the report's latest referral when that is later: a report referred to a second
    agency long after its first referral (which closed it) is kept as long after the
    second (docs/referral.md, "What is stored")."""
    return list(
        session.scalars(
            select(Report.id)
            .where(
                Report.legal_hold.is_(False),
                or_(
                    and_(
                        Report.status.in_(CLOSED),
                        _ended_by(today - timedelta(days=policy.closed_days)),
                    ),
                    and_(
                        Report.status == ReportStatus.REJECTED.value,
                        _ended_by(today - timedelta(days=policy.rejected_days)),
                    ),
                ),
            )
            .limit(limit)
        )
    )


def _ended_by(cutoff: date) -> ColumnElement[bool]:
    """A report's condition: closed (or rejected) on or before ``cutoff``, and referred
    to no agency after it."""
    ended = func.coalesce(Report.closed_on, Report.received_on)
    later = (
        select(Referral.id)
        .where(Referral.report_id == Report.id, Referral.referred_on > cutoff)
        .exists()
    )
    return and_(ended <= cutoff, ~later)


def purge(
    sessions: sessionmaker[Session],
    policy: RetentionPolicy,
    today: date,
    actor: Actor = OPERATOR,
) -> PurgeCounts:
    """Shred, then delete, every expired report, a batch at a time."""
    total = PurgeCounts()
    while True:
        with sessions.begin() as session:
            ids = expired(session, policy, today)
            if not ids:
                return total
            keys = key_ring.shred(session, ids)
            audit.append(
                session,
                actor.id,
                actor.role,
                Action.RETENTION_SHRED,
                detail={"reports": len(ids), "keys": keys},
            )
        _flush_wal(sessions)
        with sessions.begin() as session:
            blobs = list(
                session.scalars(select(Attachment.blob_id).where(Attachment.report_id.in_(ids)))
            )
            # The files' safe copies (issue 21): their rows go with the attachments.
            copies = list(
                session.scalars(
                    select(SafeCopy.blob_id)
                    .join(Attachment, Attachment.id == SafeCopy.attachment_id)
                    .where(Attachment.report_id.in_(ids), SafeCopy.blob_id.is_not(None))
                )
            )
            reports = rows_affected(session, delete(Report).where(Report.id.in_(ids)))
            if blobs or copies:
                session.execute(delete(Blob).where(Blob.id.in_([*blobs, *copies])))
            audit.append(
                session,
                actor.id,
                actor.role,
                Action.RETENTION_PURGE,
                detail={"reports": reports, "files": len(blobs)},
            )
        _flush_wal(sessions)
        total = PurgeCounts(total.reports + reports, total.keys + keys, total.files + len(blobs))


def reshuffle_if_due(
    sessions: sessionmaker[Session],
    now: datetime,
    actor: Actor = OPERATOR,
    *,
    force: bool = False,
) -> Reshuffled | None:
    """Rewrite the reporter-side tables in key order (:func:`row_order.reshuffle`) unless
    that was done already since the start of ``now``'s UTC day (or ``force``);
    audited as ``db.reshuffle`` with the number of tables and the milliseconds it took.
    None if it was not due.

    Once a day whatever ``SIPADU_DATE_PRECISION``: a day is the finest period reporter
    dates are kept to, and the order of what was written since the last rewrite is what a
    copy of the database still shows (docs/crypto.md, "Row order"). Call it outside any
    transaction (``sessions`` commits its own); it needs the tables' owner role."""
    day_start = now.astimezone(UTC).strftime("%Y-%m-%dT00:00:00.000000Z")  # as audit.now_iso
    with sessions() as session:
        last = session.scalar(
            select(func.max(AuditEvent.at)).where(
                AuditEvent.action == Action.ROW_ORDER_RESHUFFLE.value
            )
        )
    if not force and last is not None and last >= day_start:
        return None
    done = row_order.reshuffle(sessions.kw["bind"])
    with sessions.begin() as session:
        audit.append(
            session,
            actor.id,
            actor.role,
            Action.ROW_ORDER_RESHUFFLE,
            detail={"tables": done.tables, "ms": round(done.seconds * 1000)},
        )
    _flush_wal(sessions)  # SQLite: the entry itself, out of the log
    return done


def _flush_wal(sessions: sessionmaker[Session]) -> None:
    """On SQLite, copy the WAL into the database and truncate it: the deleted keys'
    old page images must not linger in the ``-wal`` file (``secure_delete`` has already
    zeroed them in the database itself)."""
    engine = sessions.kw["bind"]
    if engine.dialect.name != "sqlite":
        return
    raw = engine.raw_connection()  # outside any transaction: a checkpoint cannot run inside
    try:
        raw.driver_connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        raw.close()
