"""The auditor's use of the log (:mod:`sipadu.services.audit_log`), called directly:
filtered pages newest first, verification against kept checkpoints and a pinned key,
checkpoints on demand, exports, and the daily reporter counts. What an auditor does is
recorded by the function that does it, exactly once, in the caller's transaction (a
rolled-back caller leaves nothing); the reads that are not a person's view (a page, a
verification walk, the counts) record nothing. Real signatures, a real database, rolled
back after each test."""

import os
import uuid
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select, update

from sipadu.accountability import audit
from sipadu.accountability.audit import OPERATOR, Action, ReporterMetric
from sipadu.crypto import signing_public_key
from sipadu.persistence.models import (
    AuditEvent,
    ReporterDailyCount,
    Role,
)
from sipadu.services import audit_log
from sipadu.services.audit_log import AuditFilter, IntakeDay, NoPinnedKey
from sipadu.settings.config import DatePrecision
from tests.helpers import database, forge_history
from tests.services.helpers import Recorded, ServicePerson, person

SEED = os.urandom(32)  # the instance's audit signing key
PINNED = signing_public_key(SEED).hex()  # its public key, as an auditor pins it
NOW = datetime.now(UTC)  # what decides which days' receipts are sealed (none here)
DAY = DatePrecision.DAY


@pytest.fixture
def auditor(session) -> ServicePerson:
    return person(session, "pemeriksa.log", Role.AUDITOR)


def entries(session, n: int, report_id: uuid.UUID | None = None) -> list[AuditEvent]:
    """``n`` operator entries (category updates: any action would do)."""
    return [
        audit.append(
            session, OPERATOR.id, OPERATOR.role, Action.CATEGORY_UPDATE, report_id, {"n": i}
        )
        for i in range(n)
    ]


# --- pages --------------------------------------------------------------------------------


def test_viewing_a_page_records_the_view_first_so_the_page_shows_it(session, auditor):
    entries(session, 3)
    log = Recorded(session)

    page = audit_log.view_page(session, auditor.id, AuditFilter(action="category.update"), None)
    newest = audit_log.view_page(session, auditor.id, AuditFilter(), None)

    views = log.entries()
    assert [(e["action"], e["actor"], e["role"], e["detail"]) for e in views] == [
        ("audit.view", str(auditor.id), "auditor", {"filters": ["action"], "before": None}),
        ("audit.view", str(auditor.id), "auditor", {"filters": [], "before": None}),
    ]
    assert [e.action for e in page.entries[:3]] == ["category.update"] * 3
    assert newest.entries[0].seq == views[-1]["seq"] and newest.entries[0].action == "audit.view"


def test_pages_go_back_by_seq_without_overlap_and_each_view_is_recorded(
    session, auditor, monkeypatch
):
    monkeypatch.setattr(audit_log, "PAGE_SIZE", 4)
    entries(session, 9)
    everything = [e.seq for e in audit_log.page(session, AuditFilter()).entries]
    log = Recorded(session)

    seen, before = [], None
    for _ in range(3):
        page = audit_log.view_page(session, auditor.id, AuditFilter(), before)
        seen += [e.seq for e in page.entries]
        before = page.next_before
    head = audit.head(session)[0]

    assert len(seen) == 12 and seen == sorted(set(seen), reverse=True)
    # Each page starts with the entries appended since: the views themselves.
    assert seen[0] == head - 2 and page.next_before == seen[-1]
    assert [e["detail"]["before"] for e in log.entries()] == [None, seen[3], seen[7]]
    assert everything[0] == head - 3  # before the views


def test_a_page_filters_by_actor_action_report_and_day(session, auditor):
    report_id = uuid.uuid4()
    [about_report] = entries(session, 1, report_id)
    entries(session, 2)
    audit_log.view_page(session, auditor.id, AuditFilter())
    log = Recorded(session)

    def seqs(**criteria) -> list[int]:
        return [e.seq for e in audit_log.page(session, AuditFilter(**criteria)).entries]

    assert seqs(report_id=report_id) == [about_report.seq]
    assert {
        e.actor for e in audit_log.page(session, AuditFilter(actor=str(auditor.id))).entries
    } == {str(auditor.id)}
    assert {
        e.action for e in audit_log.page(session, AuditFilter(action="audit.view")).entries
    } == {"audit.view"}
    assert seqs(action="no.such.action") == []
    day = date.fromisoformat(about_report.at[:10])  # stamped with the real time (UTC)
    assert seqs(since=day, until=day, report_id=report_id) == [about_report.seq]
    assert seqs(since=day + timedelta(days=1), report_id=report_id) == []
    assert seqs(until=day - timedelta(days=1), report_id=report_id) == []
    assert log.actions() == []  # a page is a read; only a person's view is recorded
    assert AuditFilter(actor="operator", since=day).used() == ["actor", "since"]


# --- verification and checkpoints -------------------------------------------------------------


def test_a_checkpoint_signs_the_head_and_records_itself(session, auditor):
    entries(session, 2)
    seq, digest = audit.head(session)
    log = Recorded(session)

    checkpoint = audit_log.checkpoint_now(session, auditor.id, SEED, now=NOW, precision=DAY)

    assert (checkpoint.seq, checkpoint.hash) == (seq, digest)
    assert checkpoint.public_key == signing_public_key(SEED).hex()
    checkpoint.verify()
    entry = log.only(Action.AUDIT_CHECKPOINT)
    assert (entry["actor"], entry["role"], entry["detail"]) == (
        str(auditor.id),
        "auditor",
        {"seq": seq},
    )
    assert log.actions() == ["audit.checkpoint"]
    stored = audit_log.checkpoints(session)
    assert (stored[0].seq, stored[0].signature) == (seq, checkpoint.signature)


def test_verification_passes_an_intact_log_and_records_only_when_asked(session, auditor):
    entries(session, 3)
    kept = audit_log.checkpoint_now(session, auditor.id, SEED, now=NOW, precision=DAY)
    entries(session, 2)
    log = Recorded(session)

    verdict = audit_log.verify_log(session, [kept], signing_public_key(SEED).hex())

    assert verdict.ok and verdict.count == audit.head(session)[0]
    assert verdict.head_hash == audit.head(session)[1]
    assert log.actions() == []  # the walk reads only
    audit_log.record_verification(session, auditor.id, verdict, 1)
    entry = log.only(Action.AUDIT_VERIFY)
    assert (entry["actor"], entry["detail"]) == (
        str(auditor.id),
        {"ok": True, "entries": verdict.count, "checkpoints": 1, "bad_entry": None},
    )


def test_verification_finds_an_altered_entry_and_records_the_failure(session, auditor):
    [first, _second] = entries(session, 2)
    session.execute(update(AuditEvent).where(AuditEvent.seq == first.seq).values(detail='{"n":7}'))
    log = Recorded(session)

    verdict = audit_log.verify_log(session, [], PINNED)

    assert not verdict.ok and verdict.bad_seq == first.seq
    assert "altered" in verdict.reason
    audit_log.record_verification(session, auditor.id, verdict, 0)
    assert log.only(Action.AUDIT_VERIFY)["detail"] == {
        "ok": False,
        "entries": first.seq - 1,
        "checkpoints": 0,
        "bad_entry": first.seq,
    }


def test_verification_refuses_checkpoints_of_another_key_or_forged(session, auditor):
    entries(session, 1)
    kept = audit_log.checkpoint_now(session, auditor.id, SEED, now=NOW, precision=DAY)
    other = signing_public_key(os.urandom(32)).hex()

    pinned_elsewhere = audit_log.verify_log(session, [kept], other)
    forged = audit_log.verify_log(session, [replace(kept, hash="0" * 64)], PINNED)
    fresh = audit_log.verify_log(
        session,
        [audit_log.checkpoint_now(session, auditor.id, SEED, now=NOW, precision=DAY)],
        PINNED,
    )

    assert (pinned_elsewhere.ok, pinned_elsewhere.reason) == (
        False,
        "a kept checkpoint is signed by another key",
    )
    assert (forged.ok, forged.bad_seq) == (False, kept.seq)
    assert forged.reason == "kept checkpoint has a bad signature"
    assert fresh.ok  # a checkpoint of the head, whose own entry came after it


def test_verification_needs_a_pinned_key_and_refuses_a_stored_checkpoint_of_another(
    session, auditor
):
    """A database writer without the signing key rewrites an entry, re-chains, deletes
    the stored checkpoints and stores one signed by a key of their own: checked against
    the pinned key, never the key the checkpoint carries, the forgery shows."""
    [first, *_rest] = entries(session, 3)
    audit_log.checkpoint_now(session, auditor.id, SEED, now=NOW, precision=DAY)
    forge_history(session, first.seq)

    verdict = audit_log.verify_log(session, [], PINNED)

    assert not verdict.ok and verdict.reason == "a stored checkpoint is signed by another key"
    with pytest.raises(NoPinnedKey):
        audit_log.verify_log(session, [], None)  # the carried key would have said OK
    assert audit.verify_chain(session.connection()).ok  # what it says without a pin


def test_verification_notices_a_truncated_log(session, auditor):
    entries(session, 2)
    session.flush()
    kept = audit_log.checkpoint_now(session, auditor.id, SEED, now=NOW, precision=DAY)
    session.execute(AuditEvent.__table__.delete().where(AuditEvent.seq >= kept.seq))

    verdict = audit_log.verify_log(session, [kept], PINNED)

    assert not verdict.ok and verdict.count == kept.seq - 1
    assert "truncated" in verdict.reason


# --- exports --------------------------------------------------------------------------


def test_an_export_is_recorded_before_it_streams_and_names_the_latest_checkpoint(session, auditor):
    log = Recorded(session)
    acting = auditor.actor(Role.AUDITOR.value)
    assert audit_log.record_export(session, acting, "jsonl", 0) is None  # none yet
    checkpoint = audit_log.checkpoint_now(session, auditor.id, SEED, now=NOW, precision=DAY)

    latest = audit_log.record_export(session, acting, "csv", 5)

    assert latest == checkpoint
    assert [(e["action"], e["detail"]) for e in log.entries()] == [
        ("audit.export", {"format": "jsonl", "since": 0}),
        ("audit.checkpoint", {"seq": checkpoint.seq}),
        ("audit.export", {"format": "csv", "since": 5}),
    ]
    # The export holds its own entry: it is written before the first line streams.
    lines = list(
        audit.export_lines(session.connection(), "jsonl", log.since, latest, checkpoint.public_key)
    )
    assert '"audit.export"' in lines[-1]


def test_nothing_an_auditor_did_is_recorded_if_the_caller_rolls_back(database_url):
    with database(database_url) as session:
        before = audit.head(session)
        auditor = person(session, "auditor.batal", Role.AUDITOR)
        created = audit.head(session)[0]
        audit_log.view_page(session, auditor.id, AuditFilter())
        audit_log.checkpoint_now(session, auditor.id, SEED, now=NOW, precision=DAY)
        audit_log.record_verification(
            session, auditor.id, audit_log.verify_log(session, [], PINNED), 0
        )
        audit_log.record_export(session, auditor.actor(Role.AUDITOR.value), "jsonl", 0)
        session.flush()
        assert audit.head(session)[0] == created + 4
        session.rollback()
    with database(database_url) as session:
        assert audit.head(session) == before
        assert audit_log.checkpoints(session) == []


# --- reporter counts ---------------------------------------------------------------------


def test_daily_counts_are_per_day_and_metric_newest_first_within_the_window(session):
    day = datetime.now(UTC).date()
    for back, metric, times in [
        (0, ReporterMetric.REPORT_SUBMITTED, 2),
        (0, ReporterMetric.MAILBOX_LOGIN, 1),
        (3, ReporterMetric.MESSAGE_SENT, 4),
        (30, ReporterMetric.REPORT_SUBMITTED, 1),  # outside a 30-day window
    ]:
        for _ in range(times):
            audit.count_reporter_event(session, metric, day - timedelta(days=back), DAY)
    log = Recorded(session)

    metrics, rows = audit_log.daily_counts(session, 30, day, DAY)

    assert metrics == ["mailbox_login", "message_sent", "report_submitted"]
    assert rows == [(day, [1, 0, 2]), (day - timedelta(days=3), [0, 4, 0])]
    assert audit_log.daily_counts(session, 1, day, DAY) == (
        ["mailbox_login", "report_submitted"],
        [(day, [1, 2])],
    )
    assert log.actions() == []


def test_intake_days_count_reports_received_and_refused_by_the_ceiling(session):
    day = datetime.now(UTC).date()
    for back, metric in [
        (0, ReporterMetric.REPORT_SUBMITTED),
        (0, ReporterMetric.REPORT_SUBMITTED),
        (1, ReporterMetric.REPORT_REFUSED_CEILING),
        (1, ReporterMetric.MAILBOX_LOGIN),  # not intake
        (2, ReporterMetric.MAILBOX_LOGIN),
        (90, ReporterMetric.REPORT_SUBMITTED),  # outside the window
    ]:
        audit.count_reporter_event(session, metric, day - timedelta(days=back), DAY)

    assert audit_log.intake_days(session, 90, day, DAY) == [
        IntakeDay(day, 2, 0),
        IntakeDay(day - timedelta(days=1), 0, 1),
    ]


def test_counts_are_kept_per_period_of_the_date_precision(session):
    """With week precision a Thursday's submission is counted under its Monday, like
    the report's own date: a count per exact day would tell the day (G2)."""
    thursday = date(2026, 11, 26)
    monday = date(2026, 11, 23)
    for day, metric in [
        (thursday, ReporterMetric.REPORT_SUBMITTED),
        (monday + timedelta(days=5), ReporterMetric.REPORT_SUBMITTED),
        (thursday, ReporterMetric.REPORT_REFUSED_CEILING),
        (monday + timedelta(days=7), ReporterMetric.MAILBOX_LOGIN),  # the next week
    ]:
        audit.count_reporter_event(session, metric, day, DatePrecision.WEEK)
    audit.count_reporter_event(session, ReporterMetric.MESSAGE_SENT, thursday, DatePrecision.MONTH)

    stored = session.execute(
        select(ReporterDailyCount.day, ReporterDailyCount.metric, ReporterDailyCount.count)
    ).all()

    assert sorted(stored) == [
        (date(2026, 11, 1), "message_sent", 1),
        (monday, "report_refused_ceiling", 1),
        (monday, "report_submitted", 2),
        (monday + timedelta(days=7), "mailbox_login", 1),
    ]
    week = DatePrecision.WEEK
    assert audit_log.intake_days(session, 7, thursday, week) == [IntakeDay(monday, 2, 1)]
    # Seven days back from the next Tuesday start on a Wednesday: that week's row is in.
    metrics, rows = audit_log.daily_counts(session, 7, monday + timedelta(days=8), week)
    assert metrics == ["mailbox_login", "report_refused_ceiling", "report_submitted"]
    assert rows == [(monday + timedelta(days=7), [1, 0, 0]), (monday, [0, 1, 2])]


def test_counts_stored_per_day_before_are_shown_per_period(session):
    """Found in review: counts stored per exact day (before counts followed the
    precision, or under day precision) kept showing the day under week precision. The
    views sum them into their period."""
    monday = date(2026, 11, 23)
    for offset, metric in [(3, "report_submitted"), (4, "report_submitted"), (1, "message_sent")]:
        session.add(ReporterDailyCount(day=monday + timedelta(days=offset), metric=metric, count=1))
    session.flush()
    week = DatePrecision.WEEK
    thursday = monday + timedelta(days=3)
    assert audit_log.intake_days(session, 7, thursday, week) == [IntakeDay(monday, 2, 0)]
    metrics, rows = audit_log.daily_counts(session, 7, thursday, week)
    assert metrics == ["message_sent", "report_submitted"]
    assert rows == [(monday, [1, 2])]
