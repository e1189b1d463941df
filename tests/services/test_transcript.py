"""The reporter checks a report an operator typed (:mod:`sipadu.services.transcript`,
issue 18 item 1; EU 2019/1937 Art. 18(2)-(4)), called directly: every report stores the
two sealed transcript fields (a web report empty), the answer is sealed under the
current case key, a correction is the reporter's message in the thread and named as
such, an answer is recorded once, and investigators read which answer was given. Real
HPKE and Argon2 (cheap), a real database, rolled back."""

from sqlalchemy import func, select

from sipadu.persistence.models import Message, Report, ReportField, Role
from sipadu.services import Reason, cases, key_ring, reports
from sipadu.services.transcript import (
    Answer,
    Transcript,
    TranscriptState,
    answer_transcript,
    slip_code_live,
    transcript_of,
)
from sipadu.settings.config import DatePrecision
from tests.services.helpers import (
    TODAY,
    Submitted,
    code_renewed,
    held,
    person,
    refused,
    route,
    service_submit,
)


def mailbox_keys(session, report: Submitted) -> key_ring.HeldKeys:
    return key_ring.mailbox_keys(
        session, report.report_id, report.mailbox_id, report.mailbox_private
    )


def answer(session, report: Submitted, what: Answer, correction: str = "") -> bool:
    """The reporter's answer, after they took their own code (the first sign-in)."""
    if slip_code_live(session, mailbox_keys(session, report), report.report_id):
        code_renewed(session, report)
    return answer_transcript(
        session,
        mailbox_keys(session, report),
        report.report_id,
        what,
        correction,
        TODAY,
        DatePrecision.DAY,
    )


def field(session, report: Submitted, name: str) -> ReportField:
    return session.get(ReportField, (report.report_id, name))


def state(session, report: Submitted) -> str | None:
    return reports.open_report_field(
        mailbox_keys(session, report), field(session, report, reports.TRANSCRIPT_FIELD)
    )


def messages(session, report: Submitted) -> int:
    return session.scalar(
        select(func.count()).select_from(Message).where(Message.report_id == report.report_id)
    )


def test_every_report_stores_the_sealed_transcript_fields_pending_only_when_typed(
    session, recovery
):
    web = service_submit(session, recovery.public_key())
    typed = service_submit(session, recovery.public_key(), transcribed=True)

    assert state(session, web) == "" and state(session, typed) == "pending"
    for name in (reports.TRANSCRIPT_FIELD, reports.TRANSCRIPT_CORRECTION_FIELD):
        # Stored for both, padded alike: the row's presence or size says nothing (G2).
        assert len(field(session, web, name).sealed) == len(field(session, typed, name).sealed)
        assert b"pending" not in field(session, typed, name).sealed
    view = reports.read_mailbox(session, mailbox_keys(session, typed), typed.report_id)
    assert transcript_of(view.fields) == Transcript(TranscriptState.PENDING)
    assert not transcript_of(
        reports.read_mailbox(session, mailbox_keys(session, web), web.report_id).fields
    ).asked


def test_confirming_is_sealed_under_the_current_epoch_and_investigators_read_it(session, recovery):
    investigator = person(session, "penelaah", Role.INVESTIGATOR)
    leaving = person(session, "pindah", Role.INVESTIGATOR)
    route(session, investigator)
    route(session, leaving)
    report = service_submit(session, recovery.public_key(), transcribed=True)
    before = cases.open_case(session, held(session, report, investigator), investigator.id)
    assert before.transcript == Transcript(TranscriptState.PENDING)
    row = session.get(Report, report.report_id)
    key_ring.revoke_holder(session, row, leaving.id, recovery.public_key())  # epoch 1

    assert answer(session, report, Answer.CONFIRM) is True

    sealed = field(session, report, reports.TRANSCRIPT_FIELD)
    assert sealed.epoch == row.key_epoch == 1  # the mailbox holds the current case key
    assert state(session, report) == "confirmed"
    assert messages(session, report) == 0
    view = cases.open_case(session, held(session, report, investigator), investigator.id)
    assert view.transcript == Transcript(TranscriptState.CONFIRMED)
    assert not view.failed_fields
    gone = key_ring.staff_keys(session, report.report_id, leaving.id, leaving.private)
    assert reports.open_report_field(gone, sealed) is None  # a revoked holder reads nothing new


def test_a_correction_is_the_reporters_message_named_as_the_correction(session, recovery):
    investigator = person(session, "pemeriksa", Role.INVESTIGATOR)
    route(session, investigator)
    report = service_submit(session, recovery.public_key(), transcribed=True)
    reports.add_reporter_message(
        session,
        mailbox_keys(session, report),
        report.report_id,
        "Pesan pertama",
        TODAY,
        DatePrecision.DAY,
    )

    assert answer(session, report, Answer.CORRECT, "Bukan Senin, tetapi Selasa.") is True

    assert state(session, report) == "corrected"
    view = cases.open_case(session, held(session, report, investigator), investigator.id)
    assert view.transcript.state is TranscriptState.CORRECTED
    number, message = view.transcript_correction()
    assert (number, message.author, message.body) == (2, "reporter", "Bukan Senin, tetapi Selasa.")
    assert view.transcript.correction == message.id
    assert session.get(Report, report.report_id).reporter_messages == 2  # counted as unread
    correction_row = field(session, report, reports.TRANSCRIPT_CORRECTION_FIELD)
    assert str(message.id).encode() not in correction_row.sealed


def test_an_answer_is_recorded_once_and_a_resend_writes_nothing(session, recovery):
    confirmed = service_submit(session, recovery.public_key(), transcribed=True)
    assert answer(session, confirmed, Answer.CONFIRM) is True
    sealed = field(session, confirmed, reports.TRANSCRIPT_FIELD).sealed
    assert answer(session, confirmed, Answer.CONFIRM) is False  # double click
    assert field(session, confirmed, reports.TRANSCRIPT_FIELD).sealed == sealed
    with refused(Reason.TRANSCRIPT_ANSWERED, "correction"):
        answer(session, confirmed, Answer.CORRECT, "Ada yang salah")
    assert messages(session, confirmed) == 0 and state(session, confirmed) == "confirmed"

    corrected = service_submit(session, recovery.public_key(), transcribed=True)
    assert answer(session, corrected, Answer.CORRECT, "Koreksi") is True
    assert answer(session, corrected, Answer.CORRECT, "Koreksi") is False  # resend
    assert messages(session, corrected) == 1  # never a second correction message
    with refused(Reason.TRANSCRIPT_ANSWERED, "correction"):
        answer(session, corrected, Answer.CONFIRM)
    assert state(session, corrected) == "corrected"


def test_a_web_report_is_not_asked_and_an_empty_correction_stores_nothing(session, recovery):
    web = service_submit(session, recovery.public_key())
    with refused(Reason.TRANSCRIPT_NOT_ASKED):
        answer(session, web, Answer.CONFIRM)
    assert state(session, web) == ""

    typed = service_submit(session, recovery.public_key(), transcribed=True)
    with refused(Reason.EMPTY_TEXT, "correction"):
        answer(session, typed, Answer.CORRECT, "  \n ")
    assert state(session, typed) == "pending" and messages(session, typed) == 0


def test_a_typed_report_is_answered_only_after_its_reporter_took_their_own_code(session, recovery):
    """Whoever saw the slip (the operator) must not be able to say "yes, this is what I
    told you" for the reporter (issue 18, review): refused while the slip's code still
    opens the mailbox, nothing written; answered once the reporter took a new code."""
    report = service_submit(session, recovery.public_key(), transcribed=True)
    keys = mailbox_keys(session, report)
    for what, correction in ((Answer.CONFIRM, ""), (Answer.CORRECT, "Bukan loket 3.")):
        with refused(Reason.NEW_CODE_FIRST):
            answer_transcript(
                session, keys, report.report_id, what, correction, TODAY, DatePrecision.DAY
            )
    assert state(session, report) == "pending" and messages(session, report) == 0

    code_renewed(session, report)
    assert answer_transcript(
        session, keys, report.report_id, Answer.CONFIRM, "", TODAY, DatePrecision.DAY
    )
    assert state(session, report) == "confirmed"
