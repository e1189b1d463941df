"""The reporter checks a report an operator typed for them (issue 18, item 1).

An oral report (at a counter, by phone) is written down by an operator; the reporter is
then given the chance to check, correct and agree the transcript (EU Directive
2019/1937 Art. 18(2)-(4); ISO 37002 §8.4.1). Two sealed report fields hold the answer,
both stored for every report at submission (:func:`sipadu.services.reports.submit_report`)
so their presence says nothing (G2):

- ``transcript``: "" for a web report, "pending" until the reporter answers, then
  "confirmed" or "corrected";
- ``transcript_correction``: the id of the reporter's message that holds the correction,
  or "".

**The slip's code is the operator's too** (found in review): the operator saw the code
and the suggested passphrase they printed. So the mailbox of a typed report opens nothing
of the report until its reporter takes a new code of their own at the first sign-in
(:func:`sipadu.services.mailbox.prepare_rekey`). Whether it still must is derived from
sealed data only, never from a plaintext column that would read "an operator typed this
report" (G2): the ``transcript`` field says the report was typed, and a third field,
``code_renewed`` ("" for every report at submission, "1" once the reporter took their
own code; stored for every report so its presence says nothing), says the slip's code
was replaced (:func:`slip_code_live`). Both open only with the case key, which the
mailbox holds. The transcript is answered only after that (:attr:`Reason.NEW_CODE_FIRST`):
a "yes, this is what I told you" must come from the reporter, not from whoever saw the
slip.

The answer is sealed under the report's current case key, which the mailbox holds, in
place of the value before (the row's epoch moves with it), and recorded once: the report
row is locked while the state is read and written, so a resend or a double click records
nothing more, and never a second correction message.
"""

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from sqlalchemy.orm import Session

from sipadu.crypto import Purpose, seal_field
from sipadu.persistence.db import scope_to_report
from sipadu.persistence.models import Report, ReportField
from sipadu.services import Reason, ServiceError
from sipadu.services.key_ring import HeldKeys
from sipadu.services.reports import (
    CODE_RENEWED_FIELD,
    TRANSCRIPT_CORRECTION_FIELD,
    TRANSCRIPT_FIELD,
    add_reporter_message,
    locked_report,
    open_report_field,
)
from sipadu.settings.config import DatePrecision


class TranscriptState(StrEnum):
    """The ``transcript`` field's values."""

    WEB = ""  # the reporter wrote the report themselves: nothing to check
    PENDING = "pending"
    CONFIRMED = "confirmed"
    CORRECTED = "corrected"


class Answer(StrEnum):
    """What the reporter says of the transcript."""

    CONFIRM = "confirm"
    CORRECT = "correct"


_ANSWERED = {Answer.CONFIRM: TranscriptState.CONFIRMED, Answer.CORRECT: TranscriptState.CORRECTED}


@dataclass(frozen=True)
class Transcript:
    """A report's transcript check as its reader sees it: the state, and for a corrected
    one the id of the message holding the correction (None if it does not read)."""

    state: TranscriptState
    correction: uuid.UUID | None = None

    @property
    def asked(self) -> bool:
        """Whether an operator typed the report (there is something to check)."""
        return self.state is not TranscriptState.WEB


WEB_REPORT = Transcript(TranscriptState.WEB)  # what a report the reporter wrote has


def transcript_of(fields: Mapping[str, str]) -> Transcript:
    """The transcript check in a report's opened fields (name -> text, as
    :func:`sipadu.services.reports.read_mailbox` and
    :func:`sipadu.services.cases.open_case` open them). A field that failed its
    integrity check is not in ``fields``: it reads as a web report's (the page shows the
    failure), as does a value no writer stores."""
    try:
        state = TranscriptState(fields.get(TRANSCRIPT_FIELD, ""))
    except ValueError:
        state = TranscriptState.WEB
    correction = None
    if state is TranscriptState.CORRECTED:
        try:
            correction = uuid.UUID(fields.get(TRANSCRIPT_CORRECTION_FIELD, ""))
        except ValueError:
            correction = None
    return Transcript(state, correction)


def answer_transcript(
    session: Session,
    keys: HeldKeys,
    report_id: uuid.UUID,
    answer: Answer,
    correction: str,
    today: date,
    precision: DatePrecision,
) -> bool:
    """Record the reporter's answer (``keys``: the mailbox's) in the caller's
    transaction: "confirmed"; or "corrected", with ``correction`` sent as the reporter's
    message in the thread (:func:`~sipadu.services.reports.add_reporter_message`) and
    its id sealed beside. Returns True when this call recorded it, False when the same
    answer was recorded before (a resend, a double click: nothing is written).

    Raises ``ServiceError`` with :attr:`Reason.EMPTY_TEXT` (field ``correction``) for a
    correction with no text, :attr:`Reason.TRANSCRIPT_NOT_ASKED` for a web report (or a
    transcript field that does not open), :attr:`Reason.NEW_CODE_FIRST` while the slip's
    code still opens the mailbox (:func:`slip_code_live`),
    :attr:`Reason.TRANSCRIPT_ANSWERED` when it was answered the other way,
    :attr:`Reason.REPORT_NOT_FOUND`."""
    if answer is Answer.CORRECT and not correction.strip():
        raise ServiceError(Reason.EMPTY_TEXT, "correction")
    scope_to_report(session, report_id)
    report = locked_report(session, report_id)  # one answer at a time, then none
    if report is None:
        raise ServiceError(Reason.REPORT_NOT_FOUND)
    row = session.get(ReportField, (report_id, TRANSCRIPT_FIELD))
    value = open_report_field(keys, row) if row is not None else None
    if value is None or value == TranscriptState.WEB:
        raise ServiceError(Reason.TRANSCRIPT_NOT_ASKED)
    if not _code_renewed(keys, session.get(ReportField, (report_id, CODE_RENEWED_FIELD))):
        raise ServiceError(Reason.NEW_CODE_FIRST)
    if value == _ANSWERED[answer]:
        return False
    if value != TranscriptState.PENDING:
        raise ServiceError(Reason.TRANSCRIPT_ANSWERED, "correction")
    if answer is Answer.CORRECT:
        message = add_reporter_message(session, keys, report_id, correction, today, precision)
        _reseal(session, keys, report, TRANSCRIPT_CORRECTION_FIELD, str(message.id))
    _reseal(session, keys, report, TRANSCRIPT_FIELD, _ANSWERED[answer].value)
    session.flush()
    return True


def slip_code_live(session: Session, keys: HeldKeys, report_id: uuid.UUID) -> bool:
    """Whether the mailbox (``keys``: the mailbox's) is still opened by the code an
    operator printed on the slip: the report was typed (its ``transcript`` field is not
    "") and its reporter has not taken a new code yet (``code_renewed`` is not "1"). Two
    sealed fields read in the caller's transaction, no Argon2id: cheap enough for every
    mailbox request. A ``code_renewed`` field that is missing (a report stored before it
    existed) or does not open counts as not renewed: when in doubt, the reporter takes a
    new code (that costs them one step; the other way round, the operator keeps a way in).
    A ``transcript`` field that does not open reads as a web report's, as everywhere
    (:func:`transcript_of`)."""
    scope_to_report(session, report_id)
    row = session.get(ReportField, (report_id, TRANSCRIPT_FIELD))
    typed = row is not None and open_report_field(keys, row) not in (None, TranscriptState.WEB)
    return typed and not _code_renewed(
        keys, session.get(ReportField, (report_id, CODE_RENEWED_FIELD))
    )


def mark_code_renewed(session: Session, keys: HeldKeys, report_id: uuid.UUID) -> None:
    """Seal "1" in the report's ``code_renewed`` field (its reporter took a new code of
    their own), in the caller's transaction: :func:`sipadu.services.mailbox.save_change`
    calls it in the one that replaces the mailbox's lookup id, record and sealed key.
    Raises ``ServiceError`` with :attr:`Reason.REPORT_NOT_FOUND`."""
    scope_to_report(session, report_id)
    report = session.get(Report, report_id)
    if report is None:
        raise ServiceError(Reason.REPORT_NOT_FOUND)
    _reseal(session, keys, report, CODE_RENEWED_FIELD, "1")


def _code_renewed(keys: HeldKeys, row: ReportField | None) -> bool:
    return row is not None and open_report_field(keys, row) == "1"


def _reseal(session: Session, keys: HeldKeys, report: Report, name: str, value: str) -> None:
    """``value`` sealed under the current case key in place of the field's value."""
    sealed = seal_field(
        keys.key(Purpose.CASE, report.key_epoch),
        value.encode("utf-8"),
        report_id=report.id,
        field=f"report/{name}",
    )
    row = session.get(ReportField, (report.id, name))
    if row is None:  # a report stored before the field existed
        session.add(
            ReportField(report_id=report.id, name=name, epoch=report.key_epoch, sealed=sealed)
        )
    else:
        row.epoch, row.sealed = report.key_epoch, sealed
