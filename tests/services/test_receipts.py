"""Proof-of-report receipts (issue 20 item 2; sipadu/services/receipts.py, docs/receipt.md),
through the services on a real database: every report, from the web or an operator,
gets a commitment that names no report and a nonce only its mailbox opens; a finished
day is sealed into one ``receipt.day`` entry (never one per report) and a checkpoint
right after; the mailbox's receipt then checks with the pinned key. Races (a report
committed after its day was sealed), the sealing window, week precision, reports stored
before receipts, data changed in the database and retention's purge are here too; the
G2 ordering of the commitment rows is checked on committed transactions at the end.

Audit entries and checkpoints take the clock's time, and a receipt checks only if its
checkpoint was signed within a week of its day (receipts.SEAL_WINDOW): the reports here
are dated two days ago, not on a fixed date."""

import json
import uuid
from datetime import UTC, date, datetime, time, timedelta

import pytest
from sqlalchemy import delete, func, select, text, update
from sqlalchemy.orm import Session

from sipadu.accountability.audit import Action, ReporterMetric
from sipadu.crypto import CryptoError, KeyContext, Purpose, merkle, signing_public_key, unwrap_key
from sipadu.persistence.db import make_engine, make_sessionmaker
from sipadu.persistence.models import (
    AuditCheckpoint,
    AuditEvent,
    ReceiptBatch,
    ReceiptCommitment,
    ReceiptSeal,
    Report,
    ReportBeforeReceipts,
    ReporterDailyCount,
    ReportKey,
    Role,
)
from sipadu.services import key_ring, receipts
from sipadu.services.intake import Channel, Intake
from sipadu.services.operator_intake import take_in
from sipadu.services.receipts import SEAL_WINDOW, ReceiptInvalid, ReceiptState
from sipadu.services.reports import ReportForm, submit_report
from sipadu.settings.config import DatePrecision
from tests.services.helpers import (
    Recorded,
    Submitted,
    person,
    route,
    service_submit,
    submission_settings,
)

SEED = bytes(range(32))  # the instance's audit signing key
PINNED = signing_public_key(SEED).hex()
DAY = DatePrecision.DAY
# The reports' day, two days ago; it is over, and has been for the grace hour, at 01:30
# the next day.
DAY0 = datetime.now(UTC).date() - timedelta(days=2)
AFTER = datetime.combine(DAY0 + timedelta(days=1), time(1, 30), UTC)
DAY0_TEXT = DAY0.isoformat()


def submit(session: Session, recovery, day: date = DAY0) -> Submitted:
    return service_submit(session, recovery.public_key(), day=day)


def mailbox(session: Session, report: Submitted) -> key_ring.HeldKeys:
    return key_ring.mailbox_keys(
        session, report.report_id, report.mailbox_id, report.mailbox_private
    )


def receipt_of(session: Session, report: Submitted) -> dict:
    document = receipts.receipt_json(session, mailbox(session, report))
    assert document is not None
    return json.loads(document)


@pytest.fixture
def submitted(session, recovery) -> list[Submitted]:
    investigator = person(session, "penyidik.bukti", Role.INVESTIGATOR)
    route(session, investigator)
    return [submit(session, recovery) for _ in range(3)]


def test_every_report_gets_a_commitment_that_only_its_mailbox_opens(session, recovery):
    investigator = person(session, "penyidik.komit", Role.INVESTIGATOR)
    route(session, investigator)
    report = submit(session, recovery)
    wraps = list(
        session.scalars(
            select(ReportKey).where(
                ReportKey.report_id == report.report_id, ReportKey.purpose == "receipt"
            )
        )
    )
    # One wrap, to the mailbox: not to the investigator, a custodian or recovery.
    assert [(w.recipient_kind, w.recipient_id, w.epoch) for w in wraps] == [
        ("mailbox", report.mailbox_id, 0)
    ]
    context = KeyContext(report.report_id, Purpose.RECEIPT, 0)
    nonce = unwrap_key(wraps[0].wrapped, report.mailbox_private, context)
    for other in (investigator.private, recovery):
        with pytest.raises(CryptoError):
            unwrap_key(wraps[0].wrapped, other, context)
    stored = session.scalars(
        select(ReceiptCommitment).where(
            ReceiptCommitment.commitment == receipts.commitment_of(report.report_id, nonce)
        )
    ).one()
    assert (stored.day, stored.batch_id) == (DAY0, None)
    # Nothing in the row names the report: only its id, the day and the hash.
    assert {c.name for c in ReceiptCommitment.__table__.columns} == {
        "id",
        "day",
        "commitment",
        "batch_id",
    }
    assert stored.id != report.report_id and str(report.report_id) not in repr(vars(stored))
    status = receipts.receipt_status(session, mailbox(session, report))
    assert status == receipts.ReceiptStatus(ReceiptState.PENDING, DAY0)
    assert receipts.receipt_json(session, mailbox(session, report)) is None


def test_the_commitment_is_sha256_of_the_bound_label_id_and_nonce():
    """The bytes docs/receipt.md gives: a known-answer vector worked out with hashlib."""
    import hashlib

    report_id = uuid.UUID("1f0c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f")
    nonce = bytes(range(32))
    label = b"sipadu.receipt.commitment.v1"
    message = (
        len(label).to_bytes(4, "big")
        + label
        + (16).to_bytes(4, "big")
        + report_id.bytes
        + (32).to_bytes(4, "big")
        + nonce
    )
    assert receipts.commitment_of(report_id, nonce) == hashlib.sha256(message).digest()
    assert receipts.commitment_of(report_id, nonce).hex() == (
        "22eea187b3c2a5272a493d0f1be3363072ff0c62d69d715aaef627333f738787"
    )
    with pytest.raises(ValueError):
        receipts.commitment_of(report_id, nonce[:31])


def test_an_operators_intake_gets_a_commitment_too(session, recovery):
    investigator = person(session, "penyidik.loket", Role.INVESTIGATOR)
    route(session, investigator)
    operator = person(session, "petugas.loket", Role.OPERATOR)
    form = ReportForm(
        category="kkn",
        title="Di loket",
        what="Pungutan",
        intake=Intake(Channel.WALK_IN, "Kantor Kecamatan", "petugas"),
        transcribed=True,
    )
    settings = submission_settings(recovery.public_key())
    before = session.scalar(select(func.count()).select_from(ReceiptCommitment))
    made = take_in(session, form, settings, DAY0, operator.id)
    assert session.scalar(select(func.count()).select_from(ReceiptCommitment)) == before + 1
    wrap = session.scalars(
        select(ReportKey).where(
            ReportKey.report_id == made.report_id, ReportKey.purpose == "receipt"
        )
    ).one()
    assert wrap.recipient_kind == "mailbox"
    with pytest.raises(CryptoError):
        unwrap_key(wrap.wrapped, operator.private, KeyContext(made.report_id, Purpose.RECEIPT, 0))


def test_a_finished_day_is_one_entry_and_a_checkpoint_and_never_one_per_report(session, submitted):
    log = Recorded(session)
    assert receipts.seal_finished_days(session, SEED, AFTER - timedelta(hours=1), DAY) is None
    assert log.entries() == []  # the day ended only 30 minutes before: not yet

    sealed = receipts.seal_finished_days(session, SEED, AFTER, DAY)

    assert sealed is not None and sealed.days == [DAY0]
    entries = log.entries()
    assert [e["action"] for e in entries] == ["receipt.day"]  # one, for three reports
    (entry,) = entries
    day_commitments = sorted(
        bytes(c)
        for c in session.scalars(
            select(ReceiptCommitment.commitment).where(ReceiptCommitment.day == DAY0)
        )
    )
    assert (entry["actor"], entry["role"], entry["report_id"]) == ("system", "system", None)
    assert entry["detail"] == {
        "day": DAY0_TEXT,
        "last": DAY0_TEXT,  # the period's last day: with day precision, the same
        "root": merkle.root(day_commitments).hex(),
        "size": len(day_commitments),
    }
    # The checkpoint, made right after in the same transaction, covers the entry.
    assert (sealed.checkpoint.seq, sealed.checkpoint.hash) == (entry["seq"], entry["hash"])
    assert sealed.checkpoint.public_key == PINNED
    stored = session.scalars(select(AuditCheckpoint).order_by(AuditCheckpoint.seq.desc())).first()
    assert (stored.seq, stored.signature) == (sealed.checkpoint.seq, sealed.checkpoint.signature)
    # Nothing is left to seal: a second run (the timer and an auditor) writes nothing.
    assert receipts.seal_finished_days(session, SEED, AFTER, DAY) is None
    assert len(log.entries()) == 1


def test_each_reporter_gets_a_receipt_that_checks_with_the_pinned_key(session, submitted):
    receipts.seal_finished_days(session, SEED, AFTER, DAY)
    log = Recorded(session)
    counts = session.execute(select(ReporterDailyCount.metric, ReporterDailyCount.count)).all()
    leaves = []
    for report in submitted:
        keys = mailbox(session, report)
        assert receipts.receipt_status(session, keys).state is ReceiptState.READY
        found = receipts.receipt_file(session, keys)
        assert found is not None and found.name == f"receipt-{DAY0_TEXT}.json"
        document = json.loads(found.document)
        checked = receipts.check(document, PINNED)
        assert checked.report_id == str(report.report_id) and checked.day == DAY0_TEXT
        assert document["day"] == DAY0_TEXT and document["tree_size"] >= 3
        assert document["note"]["id"] and document["note"]["en"]
        assert "PERHATIAN" in document["note"]["id"] and "WARNING" in document["note"]["en"]
        leaves.append((document["leaf_index"], document["commitment"]))
    # The leaves are sorted by their bytes: a receipt's place says nothing of when its
    # report came in (the reports were submitted in this order).
    by_bytes = sorted(leaves, key=lambda leaf: leaf[1])
    assert [index for index, _ in by_bytes] == sorted(index for index, _ in leaves)
    # Downloading is a reporter's action: no audit entry, no count (G2).
    assert log.entries() == []
    after = session.execute(select(ReporterDailyCount.metric, ReporterDailyCount.count)).all()
    assert after == counts


def test_a_receipt_without_its_opening_still_proves_the_day(session, submitted):
    receipts.seal_finished_days(session, SEED, AFTER, DAY)
    document = receipt_of(session, submitted[0])
    document.pop("opening")
    checked = receipts.check(document, PINNED)
    assert checked.report_id is None and checked.day == DAY0_TEXT


def test_the_server_checks_every_receipt_it_hands_out(session, submitted):
    """Data changed in the database after sealing: no receipt is handed out that would
    fail its holder's check."""
    receipts.seal_finished_days(session, SEED, AFTER, DAY)
    keys = mailbox(session, submitted[0])
    assert receipts.receipt_json(session, keys) is not None
    seal = session.scalars(select(ReceiptSeal)).one()
    original = seal.entries
    entries = json.loads(original)
    entries[0]["detail"]["size"] += 1
    session.execute(
        update(ReceiptSeal).where(ReceiptSeal.id == seal.id).values(entries=json.dumps(entries))
    )
    assert receipts.receipt_json(session, keys) is None
    # The mailbox's status runs the same check: it says broken, never "ready".
    assert receipts.receipt_status(session, keys).state is ReceiptState.BROKEN
    session.execute(update(ReceiptSeal).where(ReceiptSeal.id == seal.id).values(entries=original))
    session.expire_all()
    assert receipts.receipt_json(session, keys) is not None
    # Checked against the instance's key where the portal knows it: a checkpoint that a
    # database writer signed with a key of their own is not offered.
    assert receipts.receipt_json(session, keys, pinned=PINNED) is not None
    other = signing_public_key(bytes(32)).hex()
    assert receipts.receipt_status(session, keys, pinned=other).state is ReceiptState.BROKEN
    # A leaf added to the batch in the database: the root no longer matches.
    batch = session.scalars(select(ReceiptBatch)).one()
    session.add(ReceiptCommitment(day=DAY0, commitment=bytes(32), batch_id=batch.id))
    session.flush()
    assert receipts.receipt_json(session, keys) is None


def test_a_report_stored_before_receipts_has_none_and_a_deleted_commitment_is_broken(
    session, submitted
):
    first, second, third = submitted
    nonce = mailbox(session, first).key(Purpose.RECEIPT, 0)
    session.execute(
        delete(ReportKey).where(
            ReportKey.report_id == first.report_id, ReportKey.purpose == "receipt"
        )
    )
    session.execute(
        delete(ReceiptCommitment).where(
            ReceiptCommitment.commitment == receipts.commitment_of(first.report_id, nonce)
        )
    )
    # No nonce, and not listed as stored before receipts: removed, so broken.
    status = receipts.receipt_status(session, mailbox(session, first))
    assert status == receipts.ReceiptStatus(ReceiptState.BROKEN)
    # As migration 0027 lists a report stored before 0025: none, and nothing is wrong.
    session.add(ReportBeforeReceipts(report_id=first.report_id))
    session.flush()
    status = receipts.receipt_status(session, mailbox(session, first))
    assert status == receipts.ReceiptStatus(ReceiptState.NONE)
    assert receipts.receipt_json(session, mailbox(session, first)) is None
    receipts.seal_finished_days(session, SEED, AFTER, DAY)  # seals the others all the same
    assert receipts.receipt_json(session, mailbox(session, first)) is None
    assert receipts.receipt_status(session, mailbox(session, third)).state is ReceiptState.READY
    # a nonce whose commitment was deleted: broken, not "before receipts"
    nonce = mailbox(session, second).key(Purpose.RECEIPT, 0)
    session.execute(
        delete(ReceiptCommitment).where(
            ReceiptCommitment.commitment == receipts.commitment_of(second.report_id, nonce)
        )
    )
    assert receipts.receipt_status(session, mailbox(session, second)).state is (ReceiptState.BROKEN)
    # and the day's tree lost a leaf: the others' receipts no longer check either
    assert receipts.receipt_status(session, mailbox(session, third)).state is ReceiptState.BROKEN


def test_a_report_committed_after_its_day_was_sealed_never_gets_one(session, recovery, submitted):
    """A period is sealed once: a commitment stored after its seal (a submission dated
    the day before that ended after the grace hour, or a row a database writer added to
    a past day) is never sealed, and its mailbox says so."""
    first = receipts.seal_finished_days(session, SEED, AFTER, DAY)
    assert first is not None
    before = receipt_of(session, submitted[0])
    late = submit(session, recovery)  # dated DAY0, stored after DAY0 was sealed
    status = receipts.receipt_status(session, mailbox(session, late))
    assert status == receipts.ReceiptStatus(ReceiptState.LATE, DAY0)
    log = Recorded(session)
    assert receipts.seal_finished_days(session, SEED, AFTER + timedelta(hours=1), DAY) is None
    assert log.entries() == []
    assert receipts.receipt_json(session, mailbox(session, late)) is None
    # The earlier reports' receipts are the same as before; the day has one batch.
    assert receipt_of(session, submitted[0]) == before
    batches = session.scalars(select(ReceiptBatch).where(ReceiptBatch.day == DAY0)).all()
    assert [b.size for b in batches] == [before["tree_size"]]


def test_a_day_is_never_sealed_once_its_window_closed(session, recovery, submitted):
    """receipts.SEAL_WINDOW after the day's end (less the margin the sealer keeps, so
    that its checkpoint is inside), the day's commitments are never sealed, and the
    mailbox says there will be no receipt instead of "being prepared"."""
    ended = datetime.combine(DAY0 + timedelta(days=1), time(), UTC)
    closing = ended + SEAL_WINDOW - receipts.SEAL_MARGIN
    keys = mailbox(session, submitted[0])
    assert receipts.sealable(DAY0, closing - timedelta(seconds=1), DAY)
    assert not receipts.sealable(DAY0, closing, DAY)
    pending = receipts.receipt_status(session, keys, DAY, now=closing - timedelta(seconds=1))
    assert pending.state is ReceiptState.PENDING
    late = receipts.receipt_status(session, keys, DAY, now=closing)
    assert late == receipts.ReceiptStatus(ReceiptState.LATE, DAY0)
    log = Recorded(session)
    assert receipts.seal_finished_days(session, SEED, closing, DAY) is None
    assert receipts.seal_finished_days(session, SEED, ended + timedelta(days=400), DAY) is None
    assert log.entries() == []


def test_a_week_is_sealed_only_once_it_is_over(session, recovery):
    investigator = person(session, "penyidik.pekan", Role.INVESTIGATOR)
    route(session, investigator)
    settings = submission_settings(recovery.public_key(), DatePrecision.WEEK)
    form = ReportForm(category="kkn", title="Pekanan", what="Kejadian")
    friday = date(2025, 3, 14)  # sealed with the times given, never checked: a fixed day
    made = submit_report(session, form, "frasa sandi yang cukup panjang", settings, friday)
    monday = date(2025, 3, 10)
    assert session.get_one(Report, made.report_id).received_on == monday
    week = DatePrecision.WEEK
    saturday = datetime(2025, 3, 15, 12, 0, tzinfo=UTC)
    assert receipts.seal_finished_days(session, SEED, saturday, week) is None
    monday_after = datetime(2025, 3, 17, 1, 30, tzinfo=UTC)
    log = Recorded(session)
    sealed = receipts.seal_finished_days(session, SEED, monday_after, week)
    assert sealed is not None and sealed.days == [monday]
    assert receipts.finished(monday, monday_after, week)
    assert not receipts.finished(monday, monday_after - timedelta(hours=1), week)
    # The week's window counts from its Sunday's end, not from its Monday.
    assert receipts.period_last(monday, week) == date(2025, 3, 16)
    assert receipts.sealable(monday, datetime(2025, 3, 23, 22, 59, tzinfo=UTC), week)
    assert not receipts.sealable(monday, datetime(2025, 3, 23, 23, 0, tzinfo=UTC), week)
    (entry,) = log.entries()
    assert (entry["detail"]["day"], entry["detail"]["last"]) == ("2025-03-10", "2025-03-16")


def test_a_purged_reports_commitment_stays_and_the_days_other_receipts_still_check(
    session, submitted
):
    receipts.seal_finished_days(session, SEED, AFTER, DAY)
    kept = receipt_of(session, submitted[1])
    count = session.scalar(select(func.count()).select_from(ReceiptCommitment))
    gone = submitted[0].report_id
    session.add(ReportBeforeReceipts(report_id=gone))  # were it listed (0027), that goes too
    session.flush()
    key_ring.shred(session, [gone])  # what retention's purge does
    session.execute(delete(Report).where(Report.id == gone))
    session.flush()
    session.expire_all()
    assert session.get(ReportBeforeReceipts, gone) is None
    assert session.scalar(select(func.count()).select_from(ReceiptCommitment)) == count
    assert receipt_of(session, submitted[1]) == kept
    receipts.check(kept, PINNED)


def test_the_auditors_checkpoint_seals_finished_days_first(session, submitted):
    from sipadu.services import audit_log

    auditor = person(session, "pemeriksa.bukti", Role.AUDITOR)
    log = Recorded(session)
    checkpoint = audit_log.checkpoint_now(session, auditor.id, SEED, now=AFTER, precision=DAY)
    assert log.actions() == ["receipt.day", "audit.checkpoint"]
    assert checkpoint.seq == log.entries()[0]["seq"]
    assert receipts.check(receipt_of(session, submitted[0]), PINNED).day == DAY0_TEXT


def test_check_refuses_another_key_and_any_changed_part(session, submitted):
    receipts.seal_finished_days(session, SEED, AFTER, DAY)
    good = receipt_of(session, submitted[0])
    other_key = signing_public_key(bytes(32)).hex()
    with pytest.raises(ReceiptInvalid, match="pinned key"):
        receipts.check(good, other_key)
    for forged in forgeries(good):
        with pytest.raises(ReceiptInvalid):
            receipts.check(forged, PINNED)


def forgeries(good: dict) -> list[dict]:
    """Each part of a receipt changed, one at a time."""

    def changed(path: tuple, value) -> dict:
        copy = json.loads(json.dumps(good))
        target = copy
        for step in path[:-1]:
            target = target[step]
        target[path[-1]] = value
        return copy

    day = date.fromisoformat(good["day"])
    flip = lambda hexed: ("0" if hexed[0] != "0" else "1") + hexed[1:]  # noqa: E731
    out = [
        changed(("commitment",), flip(good["commitment"])),
        changed(("root",), flip(good["root"])),
        changed(("leaf_index",), good["leaf_index"] + 1),
        changed(("tree_size",), good["tree_size"] + 1),
        changed(("day",), (day - timedelta(days=1)).isoformat()),
        changed(("checkpoint", "signature"), flip(good["checkpoint"]["signature"])),
        changed(("checkpoint", "seq"), good["checkpoint"]["seq"] + 1),
        changed(("checkpoint", "at"), "2030-01-01T00:00:00.000000Z"),
        changed(("entries", 0, "at"), f"{good['day']}T12:00:00.000000Z"),
        changed(("entries", 0, "detail", "day"), (day - timedelta(days=1)).isoformat()),
        changed(("entries", 0, "detail", "last"), (day + timedelta(days=6)).isoformat()),
        changed(("opening", "nonce"), flip(good["opening"]["nonce"])),
        changed(("opening", "report_id"), str(uuid.uuid4())),
        changed(("format",), "sipadu-receipt-v0"),
        changed(("entries",), []),
    ]
    if good["inclusion_proof"]:
        out.append(changed(("inclusion_proof", 0), flip(good["inclusion_proof"][0])))
        out.append(changed(("inclusion_proof",), good["inclusion_proof"][:-1]))
    return out


# --- G2: the rows, committed one submission at a time, as on a live instance -----------


def test_a_sealed_days_rows_keep_no_trace_of_the_order_reports_came_in(new_database_url, recovery):
    """Each submission commits its report and its commitment in one transaction, so
    until the day is sealed a commitment's place (PostgreSQL's heap, and its ``xmin``)
    sits beside its report's. Sealing writes the day's rows anew, in the order of their
    bytes, in its own transaction: new ids, one ``xmin``, heap order = byte order."""
    engine = make_engine(new_database_url)
    sessions = make_sessionmaker(engine, write=True)
    try:
        with sessions.begin() as session:
            route(session, person(session, "penyidik.urutan", Role.INVESTIGATOR))
        for _ in range(6):
            with sessions.begin() as session:
                submit(session, recovery)
        with sessions() as session:
            before = set(session.scalars(select(ReceiptCommitment.id)))
        with sessions.begin() as session:
            assert receipts.seal_finished_days(session, SEED, AFTER, DAY) is not None
        with sessions() as session:
            rows = session.execute(select(ReceiptCommitment.id, ReceiptCommitment.batch_id)).all()
            assert len(rows) == 6 and all(batch is not None for _id, batch in rows)
            assert not before & {row_id for row_id, _batch in rows}  # every id is new
            if engine.dialect.name == "postgresql":
                placed = session.scalars(
                    text("SELECT commitment FROM receipt_commitment ORDER BY ctid")
                ).all()
                assert [bytes(c) for c in placed] == sorted(bytes(c) for c in placed)
                xmins = session.scalars(
                    text("SELECT DISTINCT xmin::text FROM receipt_commitment")
                ).all()
                reports = session.scalars(text("SELECT DISTINCT xmin::text FROM report")).all()
                assert len(xmins) == 1 and not set(xmins) & set(reports)
            entries = session.scalars(
                select(AuditEvent.action).where(AuditEvent.action == Action.RECEIPT_DAY.value)
            ).all()
            assert entries == ["receipt.day"]
            assert session.scalar(select(func.count()).select_from(ReporterDailyCount)) >= 1
            submitted = session.scalar(
                select(ReporterDailyCount.count).where(
                    ReporterDailyCount.metric == ReporterMetric.REPORT_SUBMITTED.value
                )
            )
            assert submitted == 6
    finally:
        engine.dispose()
