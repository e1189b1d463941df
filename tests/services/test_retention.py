"""Retention (:mod:`sipadu.services.retention`), called directly: which closed or
rejected reports are past their time (never one on legal hold, never an open one), and
a purge that shreds their keys in one committed step and deletes their ciphertext in
the next, recorded with counts only. A report's status is set on its row here (the
casework that closes reports is tested with :mod:`sipadu.services.cases`)."""

import uuid
from datetime import date, timedelta

from sqlalchemy import func, select

from sipadu.crypto import Purpose
from sipadu.evidence import storage
from sipadu.persistence.db import make_engine, make_sessionmaker
from sipadu.persistence.models import (
    Attachment,
    Blob,
    BlobChunk,
    Mailbox,
    Report,
    ReportField,
    ReportKey,
    ReportStatus,
)
from sipadu.services import key_ring, retention
from sipadu.services.attachments import UploadedFile
from tests.services.helpers import Recorded, service_submit

TODAY = date(2031, 6, 1)
POLICY = retention.RetentionPolicy(closed_days=100, rejected_days=10)
CLOSED, REJECTED = ReportStatus.CLOSED_UNSUBSTANTIATED, ReportStatus.REJECTED


def ended(session, recovery, status: ReportStatus, days_ago: int | None, **columns) -> Report:
    """A submitted report whose row says it ended ``days_ago`` days before TODAY (None:
    no closing day recorded, so the day it arrived counts)."""
    report = session.get(Report, service_submit(session, recovery.public_key()).report_id)
    report.status = status.value
    report.closed_on = None if days_ago is None else TODAY - timedelta(days=days_ago)
    for name, value in columns.items():
        setattr(report, name, value)
    session.flush()
    return report


def rows(session, model, report_id: uuid.UUID) -> int:
    return session.scalar(
        select(func.count()).select_from(model).where(model.report_id == report_id)
    )


def test_closed_and_rejected_reports_expire_after_their_own_periods(session, recovery):
    closed_long_ago = ended(session, recovery, CLOSED, 100)
    closed_recently = ended(session, recovery, CLOSED, 99)
    substantiated = ended(session, recovery, ReportStatus.CLOSED_SUBSTANTIATED, 365)
    rejected = ended(session, recovery, REJECTED, 10)
    rejected_recently = ended(session, recovery, REJECTED, 9)
    # A referral (issue 20) closes a report: kept as long as a closed one.
    referred = ended(session, recovery, ReportStatus.REFERRED, 100)
    referred_recently = ended(session, recovery, ReportStatus.REFERRED, 99)

    found = set(retention.expired(session, POLICY, TODAY))

    assert {closed_long_ago.id, substantiated.id, rejected.id, referred.id} <= found
    assert not {closed_recently.id, rejected_recently.id, referred_recently.id} & found


def test_a_report_on_hold_or_still_open_never_expires(session, recovery):
    held = ended(session, recovery, CLOSED, 1000, legal_hold=True)
    still_open = [
        ended(session, recovery, status, 1000)
        for status in (ReportStatus.RECEIVED, ReportStatus.IN_REVIEW, ReportStatus.INVESTIGATING)
    ]
    found = set(retention.expired(session, POLICY, TODAY))
    assert held.id not in found and not {r.id for r in still_open} & found


def test_without_a_closing_day_the_day_received_counts(session, recovery):
    old = ended(session, recovery, CLOSED, None, received_on=TODAY - timedelta(days=100))
    young = ended(session, recovery, CLOSED, None, received_on=TODAY - timedelta(days=99))
    found = set(retention.expired(session, POLICY, TODAY))
    assert old.id in found and young.id not in found


def test_expired_returns_at_most_a_batch(session, recovery):
    for _ in range(3):
        ended(session, recovery, CLOSED, 500)
    assert len(retention.expired(session, POLICY, TODAY, limit=2)) == 2


def test_a_purge_shreds_then_deletes_and_records_counts_only(database_url, recovery):
    """Commits (as ``sipadu purge`` does): this module's database keeps what it left."""
    engine = make_engine(database_url)
    sessions = make_sessionmaker(engine)
    try:
        evidence = storage.store(sessions, [b"bukti rahasia " * 100])
        with sessions.begin() as session:
            gone = service_submit(session, recovery.public_key(), files=[])
            with_file = service_submit(
                session,
                recovery.public_key(),
                files=[UploadedFile(evidence, "bukti.txt", "text/plain")],
            )
            for report_id in (gone.report_id, with_file.report_id):
                row = session.get(Report, report_id)
                row.status, row.closed_on = CLOSED.value, TODAY - timedelta(days=100)
            kept = ended(session, recovery, CLOSED, 1000, legal_hold=True)
            log = Recorded(session)
            before = log.since
        purged_ids = [gone.report_id, with_file.report_id]
        with sessions() as session:
            wraps = sum(rows(session, ReportKey, r) for r in purged_ids)
            # Reports the earlier tests of this module left were rolled back: only ours.
            assert set(retention.expired(session, POLICY, TODAY)) == set(purged_ids)

        counts = retention.purge(sessions, POLICY, TODAY)

        assert counts == retention.PurgeCounts(reports=2, keys=wraps, files=1)
        with sessions() as session:
            for report_id in purged_ids:
                assert session.get(Report, report_id) is None
                for model in (ReportKey, ReportField, Mailbox, Attachment):
                    assert rows(session, model, report_id) == 0, model
                assert not key_ring.recovery_keys(session, report_id, recovery).holds(
                    Purpose.CASE, 0
                )
            assert session.get(Blob, evidence.blob_id) is None
            assert (
                session.scalar(
                    select(func.count())
                    .select_from(BlobChunk)
                    .where(BlobChunk.blob_id == evidence.blob_id)
                )
                == 0
            )
            assert session.get(Report, kept.id) is not None
            log = Recorded(session)
            log.since = before
            entries = log.entries()
        assert [(e["action"], e["actor"], e["report_id"], e["detail"]) for e in entries] == [
            ("retention.shred", "operator", None, {"reports": 2, "keys": wraps}),
            ("retention.purge", "operator", None, {"reports": 2, "files": 1}),
        ]
        assert retention.purge(sessions, POLICY, TODAY) == retention.PurgeCounts()
    finally:
        engine.dispose()
