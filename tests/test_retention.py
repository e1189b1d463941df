"""Retention by crypto-shredding: expired reports lose their keys first, then their
ciphertext; a legal hold set by two admins keeps a report; the log keeps counts only."""

import json
import re
import uuid
from datetime import date, timedelta
from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import func, select, update

from sipadu.cli import main as cli
from sipadu.persistence.models import (
    Attachment,
    AuditEvent,
    Blob,
    BlobChunk,
    Mailbox,
    Message,
    Report,
    ReportField,
    ReportKey,
)
from tests.helpers import database, post, receipt, report_with_files, signed_in


def new_report(reporter_app, database_url, marker: str) -> uuid.UUID:
    with database(database_url) as session:
        before = set(session.scalars(select(Report.id)))
    receipt(
        report_with_files(
            reporter_app.test_client(),
            [(f"{marker}.txt", f"ISI-{marker}".encode() * 50, "text/plain")],
            title=marker,
        )
    )
    with database(database_url) as session:
        (report_id,) = set(session.scalars(select(Report.id))) - before
    return report_id


def age(database_url: str, report_id: uuid.UUID, status: str, closed_days_ago: int) -> None:
    with database(database_url) as session:
        session.execute(
            update(Report)
            .where(Report.id == report_id)
            .values(status=status, closed_on=date.today() - timedelta(days=closed_days_ago))
        )
        session.commit()


def purge(env) -> str:
    result = CliRunner().invoke(cli, ["purge"], env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout


def remains(database_url: str, report_id: uuid.UUID) -> dict[str, int]:
    with database(database_url) as session:
        count = lambda model, column: session.scalar(  # noqa: E731
            select(func.count()).select_from(model).where(column == report_id)
        )
        blobs = session.scalars(
            select(Attachment.blob_id).where(Attachment.report_id == report_id)
        ).all()
        return {
            "report": count(Report, Report.id),
            "keys": count(ReportKey, ReportKey.report_id),
            "fields": count(ReportField, ReportField.report_id),
            "messages": count(Message, Message.report_id),
            "mailbox": count(Mailbox, Mailbox.report_id),
            "attachments": len(blobs),
        }


def test_expired_reports_are_shredded_keys_first_and_held_or_recent_ones_kept(
    reporter_app, staff_app, people, database_url, env
):
    tag = uuid.uuid4().hex[:6]
    old_closed = new_report(reporter_app, database_url, f"lama-{tag}")
    old_rejected = new_report(reporter_app, database_url, f"tolak-{tag}")
    recent = new_report(reporter_app, database_url, f"baru-{tag}")
    held = new_report(reporter_app, database_url, f"tahan-{tag}")
    age(database_url, old_closed, "closed_substantiated", 5 * 365 + 2)
    age(database_url, old_rejected, "rejected", 366)
    age(database_url, recent, "closed_unsubstantiated", 30)
    age(database_url, held, "closed_substantiated", 6 * 365)

    # Two admins put one on hold (one alone cannot).
    admin, second = signed_in(staff_app, people["admin"]), signed_in(staff_app, people["admin2"])
    response = post(
        admin, "/admin/holds", "/admin/holds", report=str(held), change="set", confirm="y"
    )
    assert response.status_code == 303
    proposal = re.search(
        r'id="proposal-([0-9a-f-]{36})"', second.get("/admin/proposals").get_data(as_text=True)
    ).group(1)
    assert (
        post(
            admin, f"/admin/proposals/{proposal}/approve", "/admin/proposals", confirm="y"
        ).status_code
        == 409
    )
    assert (
        post(
            second, f"/admin/proposals/{proposal}/approve", "/admin/proposals", confirm="y"
        ).status_code
        == 303
    )

    with database(database_url) as session:
        doomed_keys = [
            bytes(row)
            for row in session.scalars(
                select(ReportKey.wrapped).where(ReportKey.report_id.in_([old_closed, old_rejected]))
            )
        ]
        doomed_blobs = session.scalars(
            select(Attachment.blob_id).where(Attachment.report_id.in_([old_closed, old_rejected]))
        ).all()
        doomed_chunks = [
            bytes(row)
            for row in session.scalars(
                select(BlobChunk.data).where(BlobChunk.blob_id.in_(doomed_blobs))
            )
        ]
    assert doomed_keys and doomed_chunks

    output = purge(env)
    assert "2 expired report(s)" in output
    for report_id in (old_closed, old_rejected):
        assert set(remains(database_url, report_id).values()) == {0}, report_id
    for report_id in (recent, held):
        left = remains(database_url, report_id)
        assert left["report"] == 1 and left["keys"] > 0 and left["attachments"] == 1
    with database(database_url) as session:
        assert not session.scalar(
            select(func.count()).select_from(Blob).where(Blob.id.in_(doomed_blobs))
        )
        entries = list(
            session.scalars(
                select(AuditEvent)
                .where(AuditEvent.action.in_(["retention.shred", "retention.purge"]))
                .order_by(AuditEvent.seq)
            )
        )
    assert [e.action for e in entries] == ["retention.shred", "retention.purge"]
    assert json.loads(entries[0].detail) == {"reports": 2, "keys": len(doomed_keys)}
    assert json.loads(entries[1].detail) == {"reports": 2, "files": 2}
    assert all(e.report_id is None for e in entries)  # counts only
    assert entries[0].seq < entries[1].seq  # keys went first

    if database_url.startswith("sqlite"):
        # secure_delete and the WAL checkpoint: no page of the file still holds them.
        path = Path(database_url.removeprefix("sqlite:///"))
        raw = b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))
        assert not any(key in raw for key in doomed_keys)
        sealed = [chunk for chunk in doomed_chunks if len(chunk) >= 64]  # not the 5-byte header
        assert sealed and not any(chunk[:64] in raw for chunk in sealed)

    # Released by two admins, the held report goes at the next purge.
    post(admin, "/admin/holds", "/admin/holds", report=str(held), change="release", confirm="y")
    proposal = re.search(
        r'id="proposal-([0-9a-f-]{36})"', second.get("/admin/proposals").get_data(as_text=True)
    ).group(1)
    assert (
        post(
            second, f"/admin/proposals/{proposal}/approve", "/admin/proposals", confirm="y"
        ).status_code
        == 303
    )
    assert "1 expired report(s)" in purge(env)
    assert remains(database_url, held)["report"] == 0
    assert remains(database_url, recent)["report"] == 1


def test_retention_periods_are_configurable(reporter_app, database_url, env):
    report_id = new_report(reporter_app, database_url, f"singkat-{uuid.uuid4().hex[:6]}")
    age(database_url, report_id, "closed_unsubstantiated", 10)
    assert "0 expired report(s)" in purge(env)
    assert remains(database_url, report_id)["report"] == 1
    assert "0 expired report(s)" not in purge({**env, "SIPADU_RETENTION_CLOSED_DAYS": "5"})
    assert remains(database_url, report_id)["report"] == 0
