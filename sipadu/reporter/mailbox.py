"""The reporter's anonymous mailbox: sign in with code + passphrase, read, reply, leave;
and, once a deadline passed unmet, forward the report to an outside agency (issue 20)."""

import uuid
from collections.abc import Iterator
from datetime import timedelta
from functools import partial

from flask import (
    Response,
    abort,
    current_app,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import ngettext
from sqlalchemy.orm import Session

import sipadu.reporter.warning as warning
from sipadu.accountability.audit import ReporterMetric, count_reporter_event
from sipadu.persistence.models import ReportStatus
from sipadu.persistence.slots import Busy
from sipadu.reporter.blueprint import bp, runtime
from sipadu.reporter.languages import SWITCH, switched_notice
from sipadu.reporter.sessions import (
    current_session,
    end_session,
    forget_session,
    had_session,
    start_session,
)
from sipadu.services import IntegrityFailed, Reason, ServiceError
from sipadu.services.attachments import UploadedFile, read_attachment
from sipadu.services.dates import coarsen, today
from sipadu.services.escalation import bundle_zip, escalate, escalation_offer
from sipadu.services.export import age_encrypted
from sipadu.services.export_recipients import age_recipient
from sipadu.services.key_ring import HeldKeys, mailbox_keys
from sipadu.services.mailbox import (
    MalformedCode,
    OpenedMailbox,
    attempt_login,
    failure_bucket,
    is_current,
    save_rehashed,
    well_formed_code,
)
from sipadu.services.receipts import (
    ReceiptState,
    period_last,
    receipt_file,
    receipt_json,
    receipt_status,
)
from sipadu.services.referral import told
from sipadu.services.reports import add_reporter_message, read_mailbox
from sipadu.services.transcript import (
    Answer,
    TranscriptState,
    answer_transcript,
    slip_code_live,
    transcript_of,
)
from sipadu.services.units import unit_path
from sipadu.web import kept_files
from sipadu.web.context import (
    app_config,
    content_disposition,
    db_session,
    download,
    stream,
    transaction,
)
from sipadu.web.derivations import LOGIN, busy_page, derivations
from sipadu.web.errors import integrity_failed
from sipadu.web.file_notices import Flag
from sipadu.web.formdata import UploadRefused, chosen_files, files_waiting, receives_files
from sipadu.web.kept_files import KeptGone
from sipadu.web.refusal_messages import message
from sipadu.web.reporter_forms import (
    EscalationForm,
    MailboxLoginForm,
    MessageForm,
    TranscriptForm,
)
from sipadu.web.submissions import FormKind, StillPending
from sipadu.web.uploads import evidence_part, forget_files, uploaded_files
from sipadu.web.words import category_said


def status_words() -> dict[str, tuple[str, str]]:
    """Each status in plain words, with what it means for the reporter."""
    return {
        ReportStatus.RECEIVED: (_("Received"), _("Your report has arrived and waits to be read.")),
        ReportStatus.IN_REVIEW: (
            _("Being reviewed"),
            _("An investigator is reading your report and checking it."),
        ),
        ReportStatus.INVESTIGATING: (
            _("Being followed up"),
            _("Your report is being investigated."),
        ),
        ReportStatus.CLOSED_SUBSTANTIATED: (
            _("Closed: confirmed"),
            _("The investigation is finished and the report was confirmed."),
        ),
        ReportStatus.CLOSED_UNSUBSTANTIATED: (
            _("Closed: not confirmed"),
            _("The investigation is finished but the report could not be confirmed."),
        ),
        ReportStatus.REJECTED: (_("Not taken up"), _("The report was not taken up.")),
        ReportStatus.REFERRED: (
            _("Referred to another body"),
            _(
                "Your report was passed on (pelimpahan) to a body that is competent to "
                "handle it. That body now decides what is done about it."
            ),
        ),
    }


@bp.route("/mailbox/login", methods=["GET", "POST"])
def mailbox_login() -> ResponseReturnValue:
    """Sign in with code + passphrase. Cheapest refusals first: a code that is not 16
    digits, then a code whose failure counter is full, are refused before any Argon2id;
    every refused attempt adds to the day's failure count. The two derivations then run
    through the login lane of the portal's derivation pool (503 and the same form when
    it is busy; a flood of logins never takes the lane of new reports). Holding the
    slot and before deriving, the attempt takes a place of the code's failures
    atomically, given back if the mailbox opens: exactly the documented number of
    failures is ever checked, however many arrive at once (:mod:`sipadu.persistence.counters`)."""
    form = MailboxLoginForm()
    if request.method == "POST" and SWITCH in request.form:
        # The language switch of a sign-in page holding a kept reply (issue 16 items 2
        # and 4): the page again in the other language, everything typed kept.
        return _login_page(form, notice=switched_notice())
    if not form.validate_on_submit():
        status = 400 if request.method == "POST" else 200
        return _login_page(form), status
    rt = runtime()
    code = well_formed_code(form.code.data or "")  # validated: InputRequired
    if code is None:
        count_event(ReporterMetric.MAILBOX_LOGIN_FAILED)
        form.code.errors = [message(MalformedCode())]
        return _login_page(form), 400
    bucket = failure_bucket(code, rt.mailbox.failure_key)
    counters, limit = current_app.extensions["sipadu.counters"], rt.failures_per_code
    if not counters.test(limit, bucket):
        return _too_many(form)
    # Reading only, so no write lock is held while the two Argon2id derivations run.
    try:
        with transaction() as reading, derivations().slot(LOGIN) as run:
            place = counters.take(limit, bucket)
            if place is not None:
                passphrase = form.passphrase.data or ""  # validated: InputRequired
                attempt = attempt_login(reading, code, passphrase, rt.mailbox, derive=run)
    except Busy as busy:
        notice = _(
            "The server is busy right now and could not check your code. Nothing is lost "
            "and what you typed is kept: wait a minute, then press Open again."
        )
        return busy_page(_login_page(form, notice=notice), busy)
    if place is None:  # spent by attempts that held a slot while this one waited
        return _too_many(form)
    if attempt.opened is None:
        count_event(ReporterMetric.MAILBOX_LOGIN_FAILED)
        form.passphrase.data = ""
        form.code.errors = [
            _("The report code or the passphrase is not right. Check both and try again.")
        ]
        return _login_page(form), 400
    counters.give_back(limit, bucket, place)  # only failures use up the code's limit
    with transaction(write=True) as session:
        count_reporter_event(
            session, ReporterMetric.MAILBOX_LOGIN, today(), app_config().date_precision
        )
        if attempt.rehashed is not None:
            save_rehashed(session, attempt.opened, attempt.rehashed)
    start_session(rt.sessions, attempt.opened, rt.idle_seconds)
    if form.reply.data:
        # The reply that arrived after the last session ended: back in the reply box,
        # one press from being sent (it was never stored; files must be chosen again),
        # with the submission token it was first sent with (the page carries it back:
        # sipadu.web.submissions.for_form), so it is still sent at most once.
        if _posted_reply_sent():
            return redirect(url_for("reporter.mailbox_view", sent="again"), code=303)
        signed = signed_in()
        if signed is not None:
            again = MessageForm(formdata=None, body=form.reply.data)
            return _mailbox_page(*signed, again, sent=False, kept_reply=True)
    return redirect(url_for("reporter.mailbox_view"), code=303)


def _login_page(form: MailboxLoginForm, notice: str | None = None) -> str:
    if notice is None and request.method == "GET" and had_session():
        minutes = runtime().idle_seconds // 60
        notice = ngettext(
            "To protect you, your mailbox closed itself after %(minutes)d minute without "
            "use. Sign in again to open it.",
            "To protect you, your mailbox closed itself after %(minutes)d minutes without "
            "use. Sign in again to open it.",
            minutes,
            minutes=minutes,
        )
    return render_template("reporter/mailbox_login.html", form=form, notice=notice)


def reply_after_expiry(body: str, notice: str | None = None) -> tuple[str, int]:
    """The sign-in page with a reply that arrived after the mailbox session ended (or
    whose form token was refused) in its form, to be sent once the reporter signs in
    again. The reply is in this answer only; the server keeps nothing of it. Its files,
    if any were chosen, were not read (nothing is stored before the request is
    authorized): the page says to choose them again. The reply's submission token goes
    back in the page with it (a fresh one if it had none): once the reporter signs in,
    the reply is sent with it, at most once (sipadu.web.submissions)."""
    if _posted_reply_sent():
        # The same reply sent again (Back and resend) after it was sent: nothing to keep.
        already = _(
            "Your message was already sent before your mailbox closed itself. It was not "
            "sent a second time. Sign in again to see it."
        )
        return _login_page(MailboxLoginForm(formdata=None), notice=already), 200
    form = MailboxLoginForm(formdata=None, reply=body)
    if notice is None:
        minutes = runtime().idle_seconds // 60
        notice = ngettext(
            "To protect you, your mailbox closed itself after %(minutes)d minute without "
            "use, before your reply arrived. Your reply was not sent, and the server has not "
            "kept it: it is only in this page, below. Sign in again, and it will be ready to "
            "send with one more press.",
            "To protect you, your mailbox closed itself after %(minutes)d minutes without "
            "use, before your reply arrived. Your reply was not sent, and the server has not "
            "kept it: it is only in this page, below. Sign in again, and it will be ready to "
            "send with one more press.",
            minutes,
            minutes=minutes,
        )
    if files_waiting() or chosen_files():
        notice += " " + _(
            "The files you had chosen were not received: choose them again after signing in."
        )
    return _login_page(form, notice=notice), 200


def _too_many(form: MailboxLoginForm) -> tuple[str, int]:
    """Refused without any Argon2id, and counted like any failed login."""
    count_event(ReporterMetric.MAILBOX_LOGIN_FAILED)
    notice = _(
        "There were too many wrong attempts with this report code in the last hour, so it "
        "cannot be used to sign in for now. Nothing in your mailbox is lost. Try again in "
        "an hour."
    )
    return _login_page(form, notice=notice), 429


def count_event(metric: ReporterMetric) -> None:
    """One more ``metric`` in today's reporter counts (a write of its own)."""
    with transaction(write=True) as session:
        count_reporter_event(session, metric, today(), app_config().date_precision)


def signed_in(
    *, write: bool = False, slip_code: bool = False
) -> tuple[HeldKeys, OpenedMailbox] | None:
    """The signed-in mailbox and its keys, or None (the caller sends to sign in). A
    session whose mailbox's passphrase was changed since it signed in is removed here:
    whoever changed it decides who may read on (sipadu.services.mailbox.is_current).

    A mailbox still opened by the code an operator printed on a slip shows nothing of
    its report (issue 18): every mailbox page is answered with a redirect to the page
    where its reporter takes a new code (raised here, so no page can forget it), unless
    ``slip_code`` (that page itself asks)."""
    rt = runtime()
    opened = current_session(rt.sessions, rt.idle_seconds)
    if opened is None:
        return None
    # Both checks read in a transaction of their own, ended here: a write session's
    # transaction (on SQLite, the write lock) must not begin before the request's files
    # are staged (sipadu.web.uploads), which takes that lock on its own connection.
    with transaction() as reading:
        current = is_current(reading, opened)
        slip = current and not slip_code
        slip = slip and slip_code_live(
            reading,
            mailbox_keys(reading, opened.report_id, opened.mailbox_id, opened.private_key),
            opened.report_id,
        )
    if not current:
        forget_session(rt.sessions)
        return None
    if slip:
        abort(redirect(url_for("reporter.mailbox_passphrase"), code=303))
    session = db_session(write=write)
    return mailbox_keys(session, opened.report_id, opened.mailbox_id, opened.private_key), opened


def _mailbox_page(
    keys: HeldKeys,
    opened: OpenedMailbox,
    form: MessageForm,
    sent: bool | str,
    kept_reply: bool = False,
    notice: str | None = None,
    transcript_form: TranscriptForm | None = None,
    answered: str | None = None,
    escalation_form: EscalationForm | None = None,
    warning_flags: list[Flag] | None = None,
    sent_files: list[UploadedFile] | None = None,
    correction_flags: list[Flag] | None = None,
) -> str:
    """``warning_flags``: what the warning before sending names (issue 21 item 3);
    ``correction_flags``: the same, for the correction of a typed report (its warning
    stands by the correction's box, and its "send anyway" sends the correction);
    ``sent_files``: the files of the message just sent, each with its notice.
    ``sent``: True after a message was sent, "again" after the same one was sent twice.
    ``transcript_form``: the answer to a typed report as it was sent (refused, or a
    language switch). ``answered``: the transcript's answer just recorded (else the
    address says it). ``escalation_form``: the forwarding form as it was sent (refused);
    a refusal set on it is said at the top instead when the form is no longer drawn
    (nothing to forward to any more: it would otherwise go unsaid)."""
    view = read_mailbox(keys.session, keys, opened.report_id)
    day = today()
    offer = escalation_offer(keys.session, opened.report_id, day, runtime().audit_key)
    if escalation_form is not None and any(f.errors for f in escalation_form) and not offer.open:
        gone = Reason.ESCALATION_NOT_DUE if not offer.missed else Reason.NO_AGENCY_OFFERED
        notice = notice or message(ServiceError(gone))
    return render_template(
        "reporter/mailbox.html",
        escalation=offer,
        escalation_form=escalation_form or EscalationForm(formdata=None),
        escalation_day=coarsen(day, app_config().date_precision),
        view=view,
        receipt=_receipt(keys),
        referrals=told(keys.session, opened.report_id),
        form=form,
        transcript=transcript_of(view.fields),
        transcript_form=transcript_form or TranscriptForm(formdata=None),
        answered=answered or request.args.get("transcript"),
        category=category_said(view.category),
        unit=unit_path(keys.session, view.unit),
        statuses=status_words(),
        sent=sent,
        kept_reply=kept_reply,
        notice=notice,
        warning=warning_flags or [],
        correction_warning=correction_flags or [],
        **_sent_notices(sent_files),
        **warning.page_files(),
    )


def _sent_notices(sent_files: list[UploadedFile] | None) -> dict[str, object]:
    """For the template: the notices of the files of the message just sent
    (``file_notices``), and the sealed field the message form carries them in
    (``notices_token``), so that the page's language switch shows them again, in the
    other language (:func:`sipadu.reporter.warning.receipt_notices`)."""
    if sent_files:
        return warning.receipt_notices(sent_files)
    if SWITCH in request.form:
        return warning.receipt_notices()
    return {"file_notices": [], "notices_token": ""}


def _receipt(keys: HeldKeys) -> dict[str, object]:
    """The proof-of-report section's facts (docs/receipt.md): its state, the day it is
    for and, while pending, the first day it can be ready (the day after the period
    its report is dated in)."""
    status = receipt_status(
        keys.session,
        keys,
        app_config().date_precision,
        pinned=runtime().audit_public_key,
    )
    available = None
    if status.state is ReceiptState.PENDING and status.day is not None:
        available = period_last(status.day, app_config().date_precision) + timedelta(days=1)
    return {
        "state": status.state.value,
        "day": status.day,
        "available": available,
        "soon": available is not None and today() >= available,
    }


def _posted_reply_sent() -> bool:
    """Whether the reply in this request carries a submission token that was used
    already: it was sent, and this is Back and resend (sipadu.web.submissions)."""
    submissions = runtime().submissions
    token = submissions.posted(FormKind.MESSAGE)
    return token is not None and submissions.seen(token) is not None


def message_again(notice: str) -> tuple[str, int]:
    """The reply form with the text of a message whose form token was refused
    (sipadu.reporter.refused), with its submission token if still unused (else a fresh
    one), or the sign-in page holding it if the session is gone; the mailbox saying it
    was sent if its submission token was used already."""
    body = request.form.get("body", "")
    signed = signed_in()
    if signed is None:
        return reply_after_expiry(body, notice)
    if _posted_reply_sent():
        # Sent already (Back and resend): not offered to be sent twice.
        return _mailbox_page(*signed, MessageForm(formdata=None), sent="again"), 200
    form = MessageForm(formdata=None, body=body)
    return _mailbox_page(*signed, form, sent=False, notice=notice), 400


def login_again(notice: str) -> tuple[str, int]:
    """The sign-in form as it was sent (a kept reply too), its form token refused. A
    kept reply whose submission token was used meanwhile (sent, then Back and resend of
    the sign-in) is not offered again: a fresh token would let it be sent twice."""
    typed = {name: request.form.get(name, "") for name in ("code", "passphrase", "reply")}
    if typed["reply"] and _posted_reply_sent():
        typed["reply"] = ""
        notice = _("Your message was already sent. It was not sent a second time.")
    return _login_page(MailboxLoginForm(formdata=None, **typed), notice=notice), 400


@bp.get("/mailbox")
def mailbox_view() -> ResponseReturnValue:
    signed = signed_in()
    if signed is None:
        return redirect(url_for("reporter.mailbox_login"), code=303)
    sent = request.args.get("sent")
    again = "again" if sent == "again" else sent == "1"
    return _mailbox_page(*signed, MessageForm(), sent=again)


@bp.post("/mailbox/messages")
@receives_files("attachments", evidence_part)
def mailbox_message() -> ResponseReturnValue:
    signed = signed_in(write=True)
    if signed is None:
        if had_session():  # signed in, and the session ended: the reply is not lost
            return reply_after_expiry(request.form.get("body", ""))
        # Never signed in: answered at once, and nothing more of the body is read.
        return redirect(url_for("reporter.mailbox_login"), code=303)
    keys, opened = signed
    form = MessageForm()
    if SWITCH in request.form:  # the language switch: the reply and a correction kept
        typed = TranscriptForm()  # the correction's box belongs to this form (issue 18)
        kept = warning.resume(FormKind.MESSAGE, switch=True)  # a warned form's files
        said = " ".join(n for n in (switched_notice(), warning.kept_notice(kept)) if n)
        flags = _message_flags(form, kept.files) if warning.was_warned() else []
        warned = request.form.get(CORRECTION_WARNED) == "1"  # the correction's warning
        return _mailbox_page(
            keys,
            opened,
            form,
            sent=False,
            notice=said,
            transcript_form=typed,
            warning_flags=flags,
            correction_flags=_correction_flags(typed) if warned else None,
        )
    kept = warning.resume(FormKind.MESSAGE)
    submissions = runtime().submissions
    token = submissions.posted(FormKind.MESSAGE)
    already = redirect(url_for("reporter.mailbox_view", sent="again"), code=303)
    if token is not None and submissions.seen(token) is not None:
        forget_files(form.attachments)
        return already
    lost = warning.kept_notice(kept)
    if not form.validate_on_submit():
        forget_files(form.attachments)
        return _mailbox_page(keys, opened, form, sent=False, notice=lost), 400
    try:
        new_files = uploaded_files(form.attachments)
    except UploadRefused as refused:
        page = _mailbox_page(keys, opened, form, sent=False, notice=lost)
        return page, refused.status, refused.headers
    if kept.refused:  # an altered or foreign kept-files field: nothing of it attached
        forget_files(form.attachments)
        return _mailbox_page(keys, opened, form, sent=False, notice=lost), 400
    files = kept.files + new_files
    if (too_much := warning.over_limits(files)) is not None:
        forget_files(form.attachments)
        form.attachments.errors = [too_much, *form.attachments.errors]
        return _mailbox_page(keys, opened, form, sent=False), 400
    if token is None:  # missing, forged, another form's, or too old (after the files)
        forget_files(form.attachments)
        notice = _(
            "This message could not be sent as it is: the form is too old or incomplete. "
            "Nothing was sent, and your message is kept below: press “Send message” again."
        )
        return _mailbox_page(keys, opened, form, sent=False, notice=notice), 400
    if kept.lost or (not warning.send_anyway() and _message_flags(form, files)):
        # Nothing is stored: the message comes back with its files kept (issue 21), those
        # the budget for kept files has no room for named, to be chosen again.
        carried = warning.keep(FormKind.MESSAGE, kept, new_files, form.attachments)
        if kept.lost:
            return _mailbox_page(keys, opened, form, sent=False, notice=lost), 409
        flags = _message_flags(form, carried)
        return _mailbox_page(keys, opened, form, sent=False, warning_flags=flags)
    try:
        used = submissions.claim(token)  # one message per token (issue 16 item 3)
    except StillPending:
        notice = _(
            "This message is still being received from when you sent it before. It will "
            "not be sent twice. Wait a minute, then open your mailbox again."
        )
        return _mailbox_page(keys, opened, form, sent=False, notice=notice), 409
    if used is not None:
        return already
    try:
        with submissions.releasing(token), transaction(write=True) as writing:
            kept_files.claim(writing, kept.files)  # never a file linked twice
            add_reporter_message(
                writing,
                keys,
                opened.report_id,
                form.body.data or "",  # validated: InputRequired
                today(),
                app_config().date_precision,
                files=files,
            )
    except KeptGone:  # sent meanwhile with another form (a replayed page): not again
        forget_files(form.attachments)
        warning.carry(FormKind.MESSAGE, [])
        kept.lost = [f.name for f in kept.files]
        notice = warning.kept_notice(kept)
        return _mailbox_page(keys, opened, form, sent=False, notice=notice), 409
    submissions.finish(token)
    warning.carry(FormKind.MESSAGE, [])
    correction = request.form.get("correction", "")
    if correction.strip():  # typed in the question's box beside the reply: kept, not sent
        typed = TranscriptForm(formdata=None, correction=correction)
        return _mailbox_page(
            keys,
            opened,
            MessageForm(formdata=None),
            True,
            transcript_form=typed,
            sent_files=files,
        )
    if any(f.outcome is not None for f in files):
        # Each file's notice (issue 21 item 2), on this answer: a redirect would lose it
        # (a reload asks to send again, and the token says it was sent).
        return _mailbox_page(keys, opened, MessageForm(formdata=None), True, sent_files=files)
    return redirect(url_for("reporter.mailbox_view", sent="1"), code=303)


def _message_flags(form: MessageForm, files: list[UploadedFile]) -> list[Flag]:
    """What the warning names in a message: its body, and its files."""
    label = str(form.body.label.text)
    return warning.flags(warning.form_texts(form, ["body"]), {"body": label}, files)


# The correction's warning was shown: its language switch shows it again.
CORRECTION_WARNED = "correction_warned"


def _correction_flags(form: TranscriptForm) -> list[Flag]:
    """What the warning names in the correction of a typed report."""
    label = str(form.correction.label.text)
    return warning.flags(warning.form_texts(form, ["correction"]), {"correction": label}, [])


@bp.post("/mailbox/transcript")
def mailbox_transcript() -> ResponseReturnValue:
    """The reporter's answer to a report an operator typed (EU 2019/1937 Art. 18(2)-(4)):
    it is right, or here is what should be different (sent as a message in the thread,
    marked as the transcript's correction). Recorded once: a resend or a double click
    is told it was received already. A refused answer comes back with the correction
    as typed: beside the field, or, when the typed report was answered already the
    other way, in the message box, to be sent as a message. The correction's button sends
    the message form, which holds the correction's box: a reply typed beside it is kept
    in its box, never sent, whatever the answer. A correction holding identifying
    details (:mod:`sipadu.reporter.warning`) is not recorded until the reporter sends it
    anyway: it comes back in its box with the warning beside it, the reply in its own."""
    body = request.form.get("body", "")
    signed = signed_in(write=True)
    if signed is None:
        typed = _joined(body, request.form.get("correction", ""))
        if had_session() and typed.strip():  # the correction is not lost
            return reply_after_expiry(typed)
        return redirect(url_for("reporter.mailbox_login"), code=303)
    keys, opened = signed
    form = TranscriptForm()
    if not form.validate_on_submit():
        return _transcript_page(keys, opened, form, body=body), 400
    answer = Answer(form.answer.data or "")  # validated: AnyOf
    if answer is Answer.CORRECT and not warning.send_anyway():
        flags = _correction_flags(form)
        # Only while the question is asked (answered meanwhile in another tab: the refusal
        # below puts the correction in the message box, checked when sent from there).
        if flags and _asked(keys, opened):
            reply = MessageForm(formdata=None, body=body)
            return _mailbox_page(
                keys, opened, reply, False, transcript_form=form, correction_flags=flags
            )
    try:
        with transaction(write=True) as writing:
            recorded = answer_transcript(
                writing,
                keys,
                opened.report_id,
                answer,
                form.correction.data or "" if answer is Answer.CORRECT else "",
                today(),
                app_config().date_precision,
            )
    except ServiceError as refused:
        if refused.reason is Reason.TRANSCRIPT_ANSWERED and (form.correction.data or "").strip():
            kept = MessageForm(formdata=None, body=_joined(body, form.correction.data or ""))
            return _mailbox_page(keys, opened, kept, sent=False, notice=message(refused)), 409
        if refused.reason is Reason.TRANSCRIPT_ANSWERED and not body.strip():
            return redirect(url_for("reporter.mailbox_view"), code=303)
        if refused.field == "correction":
            form.correction.errors = [message(refused)]
            return _transcript_page(keys, opened, form, body=body), 400
        kept = MessageForm(formdata=None, body=body)
        return _mailbox_page(keys, opened, kept, False, notice=message(refused)), 400
    done = answer.value if recorded else "again"
    if body.strip():  # a reply typed beside the correction: kept, to be sent by its button
        kept = MessageForm(formdata=None, body=body)
        return _mailbox_page(keys, opened, kept, sent=False, kept_reply=True, answered=done)
    return redirect(url_for("reporter.mailbox_view", transcript=done), code=303)


def _joined(reply: str, correction: str) -> str:
    """A reply and a correction, both kept in the one box that is left for them."""
    return "\n\n".join(text for text in (reply.strip(), correction.strip()) if text)


def _transcript_page(
    keys: HeldKeys,
    opened: OpenedMailbox,
    form: TranscriptForm,
    notice: str | None = None,
    body: str = "",
) -> str:
    """The mailbox with a refused answer as it was sent: in the question's box while the
    typed report still waits for an answer, else (answered meanwhile, in another tab)
    in the message box, to be sent as a message. ``body``: a reply typed beside it,
    kept in the message box."""
    if _asked(keys, opened):
        reply = MessageForm(formdata=None, body=body)
        return _mailbox_page(keys, opened, reply, False, notice=notice, transcript_form=form)
    kept = MessageForm(formdata=None, body=_joined(body, form.correction.data or ""))
    return _mailbox_page(keys, opened, kept, False, notice=notice)


def _asked(keys: HeldKeys, opened: OpenedMailbox) -> bool:
    """Whether the typed report still waits for the reporter's answer."""
    view = read_mailbox(keys.session, keys, opened.report_id)
    return transcript_of(view.fields).state is TranscriptState.PENDING


def transcript_again(notice: str) -> tuple[str, int]:
    """The answer to the typed report as it was sent, its form token refused: the
    mailbox with the correction kept in its box, or the sign-in page holding it (as a
    reply) if the session is gone."""
    correction = request.form.get("correction", "")
    body = request.form.get("body", "")
    signed = signed_in()
    if signed is None:
        return reply_after_expiry(_joined(body, correction), notice)
    form = TranscriptForm(formdata=None, answer=Answer.CORRECT.value, correction=correction)
    return _transcript_page(*signed, form, notice=notice, body=body), 400


@bp.get("/mailbox/attachments/<uuid:attachment_id>")
@download
def mailbox_attachment(attachment_id: uuid.UUID) -> ResponseReturnValue:
    """One of the reporter's own files, decrypted as it streams. An altered or truncated
    file breaks off the download instead of delivering changed bytes."""
    signed = signed_in()
    if signed is None:
        return redirect(url_for("reporter.mailbox_login"), code=303)
    keys, opened = signed
    # The stream outlives this request's session (closed at teardown, before the body is
    # sent): it reads on a session of its own, in short transactions, so a slow reader
    # holds no lock (sipadu.web.context.stream); the session is closed however the stream ends.
    try:
        info, body = stream(
            lambda reader: read_attachment(reader, opened.report_id, attachment_id, keys),
            report_id=opened.report_id,
        )
    except IntegrityFailed:  # its details or key do not open with its own metadata
        return integrity_failed()
    except ServiceError:
        abort(404)
    response = Response(body, mimetype="application/octet-stream")
    response.headers["Content-Disposition"] = content_disposition(info.name)
    response.headers["Content-Length"] = str(info.size)
    return response


@bp.get("/mailbox/receipt")
def mailbox_receipt() -> ResponseReturnValue:
    """The proof-of-report file (docs/receipt.md), once its day is sealed: a small JSON
    download, built and checked on each request, never stored. Not an audit entry and
    not counted (reporter activity is never an entry, G2; like a file download, it is
    a read that leaves no trace)."""
    signed = signed_in()
    if signed is None:
        return redirect(url_for("reporter.mailbox_login"), code=303)
    keys, _opened = signed
    # The same check as the mailbox's section (receipt_status): a file it offers is given.
    found = receipt_file(keys.session, keys, pinned=runtime().audit_public_key)
    if found is None:  # a 409, whose page says why in words
        abort(
            409,
            description=_(
                "There is no proof of report to download for this report (yet). Your "
                "mailbox says when it will be ready, or why there is none."
            ),
        )
    response = Response(found.document, mimetype="application/json")
    response.headers["Content-Disposition"] = content_disposition(found.name)
    return response


@bp.post("/mailbox/escalate")
@download
def mailbox_escalate() -> ResponseReturnValue:
    """Forward the report to an outside agency, once a deadline passed unmet (issue 20,
    docs/escalation.md): the answer is a download, an age-encrypted ZIP to the chosen
    agency's registered key, made now in this session and streamed (nothing of it is
    written to a file or kept); the reporter uploads it on the agency's own site. The
    first time, the period is recorded on the report and counted in the day's reporter
    counts, committed before the first byte; never an audit entry. Refused in words,
    the mailbox shown again with the choice kept: no deadline missed (a forged post),
    an agency not offered (a tampered id, or removed since the page was shown). After
    the session ended, the sign-in page says that nothing is lost: the file can be made
    again, as after a broken download."""
    signed = signed_in(write=True)
    if signed is None:
        if had_session():
            notice = _(
                "To protect you, your mailbox closed itself before the file was made. Nothing "
                "is lost: sign in again, then press “Make the file” again."
            )
            return _login_page(MailboxLoginForm(formdata=None), notice=notice), 200
        return redirect(url_for("reporter.mailbox_login"), code=303)
    keys, opened = signed
    form = EscalationForm()
    if not form.validate_on_submit():
        return _escalation_page(keys, opened, form), 400
    config = app_config()
    try:
        with transaction(write=True) as writing:
            made = escalate(
                writing,
                keys,
                opened.report_id,
                form.agency.data or "",  # validated: InputRequired
                include_identity=bool(form.identity.data),
                today=today(),
                precision=config.date_precision,
                audit_key=runtime().audit_key,
            )
    except ServiceError as refused:
        if refused.field == "agency":  # beside the choice, if the form is drawn again
            form.agency.errors = [message(refused)]
            return _escalation_page(keys, opened, form), 409
        return _escalation_page(keys, opened, form, notice=message(refused)), 409
    # Read on a session of its own, in short transactions, in age's thread (the files
    # are decrypted while the ZIP is written and encrypted: constant memory).
    pinned = runtime().audit_public_key

    def begin(reader: Session) -> tuple[None, Iterator[bytes]]:
        held = mailbox_keys(reader, opened.report_id, opened.mailbox_id, opened.private_key)
        # None until its day is sealed (or if it does not check)
        receipt = receipt_json(reader, held, pinned=pinned)
        return None, bundle_zip(made, held, receipt, config.institution.name)

    _none, body = stream(
        begin,
        report_id=opened.report_id,
        around=partial(age_encrypted, recipient=age_recipient(made.agency.recipient)),
    )
    response = Response(body, mimetype="application/octet-stream")
    response.headers["Content-Disposition"] = content_disposition(made.agency.file_name)
    return response


def _escalation_page(
    keys: HeldKeys, opened: OpenedMailbox, form: EscalationForm, notice: str | None = None
) -> str:
    """The mailbox with the forwarding form as it was sent, and why nothing was made."""
    empty = MessageForm(formdata=None)
    return _mailbox_page(keys, opened, empty, False, notice=notice, escalation_form=form)


def escalation_again(notice: str) -> tuple[str, int]:
    """The forwarding form, its form token refused (sipadu.reporter.refused): the
    mailbox with the choice kept, or the sign-in page if the session is gone."""
    signed = signed_in()
    if signed is None:
        return _login_page(MailboxLoginForm(formdata=None), notice=notice), 400
    return _escalation_page(*signed, EscalationForm(), notice=notice), 400


@bp.post("/mailbox/logout")
def mailbox_logout() -> ResponseReturnValue:
    end_session(runtime().sessions)
    return redirect(url_for("reporter.index", logged_out="1"), code=303)
