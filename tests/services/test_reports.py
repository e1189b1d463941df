"""Submitting a report and the reporter's mailbox (:mod:`sipadu.services.reports`),
called directly: every field sealed (the identity too, empty or not), dates coarsened,
deadlines set, only day counts of reporter activity kept and nothing in the audit
chain; the mailbox key reads back what was sent, and messages are sealed under the
current epoch. Real HPKE and Argon2 (cheap), a real database, rolled back."""

import json
import uuid
from datetime import date

from sqlalchemy import func, select

from sipadu.accountability import audit
from sipadu.accountability.audit import OPERATOR
from sipadu.crypto import Purpose
from sipadu.persistence.models import Report, ReporterDailyCount, ReportField, ReportStatus, Role
from sipadu.services import Reason, key_ring, reports
from sipadu.services.categories import category_by_slug, seed_categories, set_accepting
from sipadu.services.dates import Deadlines
from sipadu.services.intake import Channel, Intake
from sipadu.services.mailbox import MailboxSettings, attempt_login
from sipadu.services.passphrases import wordlist
from sipadu.services.reports import ReportForm, SubmissionSettings
from sipadu.settings.config import OFFICE_BYTES, DatePrecision, DayCount
from tests.services.helpers import (
    CATEGORY,
    CHEAP,
    LOOKUP_SALT,
    PASSPHRASE,
    TODAY,
    Submitted,
    person,
    refused,
    route,
    service_submit,
    submission_settings,
)

FORM = ReportForm(
    category=CATEGORY,
    title="Pungutan liar",
    what="Petugas meminta uang",
    who="Kepala loket",
    where="Kantor kecamatan",
    when="Senin pagi",
    how="Tunai",
    estimated_loss="Rp 500.000",
    identity="Siti, 0812 0000 0000",
)


MAILBOX = MailboxSettings(LOOKUP_SALT, CHEAP, CHEAP, failure_key=bytes(32), decoy_key=bytes(32))


def count(session, metric: audit.ReporterMetric, day: date = TODAY) -> int:
    return (
        session.scalar(
            select(ReporterDailyCount.count).where(
                ReporterDailyCount.day == day, ReporterDailyCount.metric == metric.value
            )
        )
        or 0
    )


def mailbox_keys(session, report: Submitted) -> key_ring.HeldKeys:
    return key_ring.mailbox_keys(
        session, report.report_id, report.mailbox_id, report.mailbox_private
    )


def test_what_the_reporter_sent_comes_back_through_the_mailbox_key(session, recovery):
    investigator = person(session, "pembaca", Role.INVESTIGATOR)
    route(session, investigator)
    receipt = reports.submit_report(
        session, FORM, PASSPHRASE, submission_settings(recovery.public_key()), TODAY
    )
    assert receipt.suggested_passphrase is None
    assert len(receipt.code) == 16 and receipt.code.isdigit()
    opened = attempt_login(session, receipt.code, PASSPHRASE, MAILBOX).opened
    keys = key_ring.mailbox_keys(session, receipt.report_id, opened.mailbox_id, opened.private_key)

    view = reports.read_mailbox(session, keys, receipt.report_id)

    assert view.fields == {
        **{name: getattr(FORM, name) for name in reports.CASE_FIELDS},
        "intake": '{"channel":"web","office":"","operator":""}',
        "transcript": "",  # a web report: no transcript to check (issue 18)
        "transcript_correction": "",
        "code_renewed": "",  # no slip code to replace (issue 18)
        "concerns_inspectorate": "",
    }
    assert view.identity == FORM.identity
    assert (view.category, view.status, view.status_reason) == ("kkn", "received", None)
    assert view.received_on == TODAY and view.messages == [] and view.attachments == []
    # The investigator the category routes to reads the same case fields.
    staff_keys = key_ring.staff_keys(
        session, receipt.report_id, investigator.id, investigator.private
    )
    rows = session.scalars(select(ReportField).where(ReportField.report_id == receipt.report_id))
    opened = {
        row.name: reports.open_report_field(staff_keys, row)
        for row in rows
        if row.name not in ("identity", reports.UNIT_FIELD)
    }
    assert opened == view.fields


def test_without_a_passphrase_seven_words_are_suggested_and_open_the_mailbox(session, recovery):
    seed_categories(session, OPERATOR)
    settings = submission_settings(recovery.public_key())
    receipt = reports.submit_report(session, FORM, None, settings, TODAY)

    words = receipt.suggested_passphrase.split()
    assert len(words) == 7 and set(words) <= set(wordlist())
    attempt = attempt_login(session, receipt.code, receipt.suggested_passphrase, MAILBOX)
    assert attempt.opened.report_id == receipt.report_id


def test_every_field_is_stored_sealed_and_the_identity_even_when_empty(session, recovery):
    with_identity = service_submit(session, recovery.public_key(), identity="Budi")
    without = service_submit(session, recovery.public_key())

    def stored(report: Submitted) -> dict[str, bytes]:
        rows = session.scalars(select(ReportField).where(ReportField.report_id == report.report_id))
        return {row.name: row.sealed for row in rows}

    a, b = stored(with_identity), stored(without)
    assert (
        set(a)
        == set(b)
        == {
            *reports.CASE_FIELDS,
            "identity",
            "intake",
            "concerns_inspectorate",
            reports.UNIT_FIELD,
            reports.TRANSCRIPT_FIELD,
            reports.TRANSCRIPT_CORRECTION_FIELD,
            reports.CODE_RENEWED_FIELD,
        }
    )
    assert len(a["identity"]) == len(b["identity"])  # padded: its presence says nothing
    assert len(a[reports.UNIT_FIELD]) == len(b[reports.UNIT_FIELD])  # stored, though empty
    assert b"Budi" not in a["identity"] and b"Pungutan" not in a["title"]
    assert (
        reports.read_mailbox(session, mailbox_keys(session, without), without.report_id).identity
        == ""
    )


def test_the_day_is_coarsened_and_the_deadlines_counted_from_its_period_end(session, recovery):
    """Counted from the period's start (1 March), a report of 14 March was due to be
    acknowledged by 8 March, before it was sent (review, issue 16): from the period's
    end (31 March) instead, which says nothing finer than the month."""
    seed_categories(session, OPERATOR)
    settings = SubmissionSettings(
        **{
            **vars(submission_settings(recovery.public_key(), DatePrecision.MONTH)),
            "deadlines": Deadlines(7, 90, DayCount.CALENDAR),
        }
    )
    receipt = reports.submit_report(session, FORM, PASSPHRASE, settings, date(2025, 3, 14))
    report = session.get(Report, receipt.report_id)
    assert report.received_on == date(2025, 3, 1)
    assert (report.ack_due_on, report.feedback_due_on) == (date(2025, 4, 7), date(2025, 6, 29))
    assert (report.status, report.key_epoch, report.reporter_messages) == ("received", 0, 0)


def test_a_submission_leaves_day_counts_and_no_audit_entry(session, recovery):
    seed_categories(session, OPERATOR)
    before = audit.head(session)
    submitted = count(session, audit.ReporterMetric.REPORT_SUBMITTED)
    unrouted = count(session, audit.ReporterMetric.REPORT_UNROUTED)

    service_submit(session, recovery.public_key(), category="staff_discipline")  # routed to nobody

    assert audit.head(session) == before
    assert count(session, audit.ReporterMetric.REPORT_SUBMITTED) == submitted + 1
    assert count(session, audit.ReporterMetric.REPORT_UNROUTED) == unrouted + 1


def test_a_closed_or_unknown_category_stores_nothing(session, recovery):
    seed_categories(session, OPERATOR)
    set_accepting(session, category_by_slug(session, "kkn"), False, OPERATOR)
    reports_before = session.scalar(select(func.count()).select_from(Report))
    settings = submission_settings(recovery.public_key())

    with refused(Reason.CATEGORY_CLOSED, "category"):
        reports.submit_report(session, FORM, PASSPHRASE, settings, TODAY)
    with refused(Reason.UNKNOWN_CATEGORY) as info:
        reports.submit_report(
            session, ReportForm("lainnya", "Judul", "Isi"), PASSPHRASE, settings, TODAY
        )
    assert info.value.params == {"category": "lainnya"}
    assert session.scalar(select(func.count()).select_from(Report)) == reports_before


def test_reporter_messages_are_numbered_and_sealed_under_the_current_epoch(session, recovery):
    investigator = person(session, "tetap", Role.INVESTIGATOR)
    leaving = person(session, "pergi", Role.INVESTIGATOR)
    route(session, investigator)
    route(session, leaving)
    report = service_submit(session, recovery.public_key())
    row = session.get(Report, report.report_id)
    sent = count(session, audit.ReporterMetric.MESSAGE_SENT)
    monday = date(2025, 3, 10)  # TODAY's week
    sent_that_week = count(session, audit.ReporterMetric.MESSAGE_SENT, monday)

    first = reports.add_reporter_message(
        session,
        mailbox_keys(session, report),
        report.report_id,
        "Tambahan satu",
        TODAY,
        DatePrecision.WEEK,
    )
    key_ring.revoke_holder(session, row, leaving.id, recovery.public_key())
    second = reports.add_reporter_message(
        session,
        mailbox_keys(session, report),
        report.report_id,
        "Tambahan dua",
        TODAY,
        DatePrecision.DAY,
    )

    # Position and epoch are sealed, not stored: the epoch would date the message
    # relative to the revocation, whose time the audit log has (G2).
    assert (first.position, first.epoch, second.position, second.epoch) == (None,) * 4
    keys = mailbox_keys(session, report)
    opened = [reports.open_message(keys, m) for m in (first, second)]
    assert [(position, epoch) for position, _text, epoch in opened] == [(1, 0), (2, 1)]
    assert first.sent_on == monday and second.sent_on == TODAY
    assert row.reporter_messages == 2
    # Each counted under its own date precision's period: the week's Monday, the day.
    assert count(session, audit.ReporterMetric.MESSAGE_SENT) == sent + 1
    assert count(session, audit.ReporterMetric.MESSAGE_SENT, monday) == sent_that_week + 1
    view = reports.read_mailbox(session, mailbox_keys(session, report), report.report_id)
    assert [(m.author, m.body) for m in view.messages] == [
        ("reporter", "Tambahan satu"),
        ("reporter", "Tambahan dua"),
    ]
    staying = key_ring.staff_keys(session, report.report_id, investigator.id, investigator.private)
    assert [m.body for m in reports.thread(session, staying)] == ["Tambahan satu", "Tambahan dua"]
    gone = key_ring.staff_keys(session, report.report_id, leaving.id, leaving.private)
    assert not gone.holds(Purpose.CASE, 1)


def test_a_mailbox_of_a_report_that_is_gone_is_not_found(session, recovery):
    report = service_submit(session, recovery.public_key())
    keys = mailbox_keys(session, report)
    missing = uuid.uuid4()
    with refused(Reason.REPORT_NOT_FOUND):
        reports.read_mailbox(session, keys, missing)
    with refused(Reason.REPORT_NOT_FOUND):
        reports.add_reporter_message(session, keys, missing, "Halo", TODAY, DatePrecision.DAY)
    assert ReportStatus(session.get(Report, report.report_id).status) is ReportStatus.RECEIVED


def test_a_code_already_in_use_is_refused_rather_than_reused(session, recovery, monkeypatch):
    """10**16 codes make this astronomically rare; the code generator is pinned here."""
    monkeypatch.setattr(reports, "new_code", lambda: "1234567890123456")
    seed_categories(session, OPERATOR)
    settings = submission_settings(recovery.public_key())
    first = reports.submit_report(session, FORM, PASSPHRASE, settings, TODAY)
    with refused(Reason.CODE_COLLISION):
        reports.submit_report(session, FORM, "another passphrase", settings, TODAY)
    opened = attempt_login(session, first.code, PASSPHRASE, MAILBOX).opened
    assert opened.report_id == first.report_id


def test_every_report_stores_how_it_came_in_sealed_the_same_size_from_any_channel(
    session, recovery
):
    """Issue 18: the ``intake`` field of a web report says "web", sealed; an operator's
    (the longest an office name and a username allow) is sealed to the same size, so a
    database thief cannot tell counter reports from web ones."""
    web = service_submit(session, recovery.public_key())
    keys = mailbox_keys(session, web)
    row = session.get_one(ReportField, (web.report_id, "intake"))
    assert json.loads(reports.open_report_field(keys, row)) == {
        "channel": "web",
        "office": "",
        "operator": "",
    }
    longest = Intake(Channel.WALK_IN, "é" * (OFFICE_BYTES // 2), "u" * 64)
    counter = reports.submit_report(
        session,
        ReportForm(category="kkn", title="t", what="w", intake=longest, transcribed=True),
        None,
        submission_settings(recovery.public_key()),
        TODAY,
    )
    assert len(session.get_one(ReportField, (counter.report_id, "intake")).sealed) == len(
        row.sealed
    )
