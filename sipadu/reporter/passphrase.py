"""Changing the mailbox's passphrase (issue 18): from inside the mailbox, with the code,
the current passphrase and the new one (or a suggested one).

The current passphrase is checked as a sign-in checks it, with the same limits (G7,
G8): a malformed code and a code whose failure counter is full are refused before any
Argon2id, every refusal is counted as a failed sign-in, a place of the code's failures
is taken before deriving and given back on success, and only someone holding the code
can fill its counter, so strangers never stop its holder. The derivations (two to check,
one for the new record) run in the login lane of the derivation pool: busy, the form
comes back with the code kept. No page ever shows a typed passphrase again, and nothing
is logged; the change is one daily count (``passphrase_changed``), never an entry about
a report (the reporter is anonymous).

After the change the old passphrase opens nothing, every other session of the mailbox
ends at its next request (:func:`sipadu.services.mailbox.is_current`), and this browser
gets a fresh session under the new record.

**A new code at the first sign-in of a typed report** (issue 18, found in review): while
the signed-in mailbox is still opened by the slip an operator printed
(:func:`sipadu.services.transcript.slip_code_live`), every mailbox page leads here, and
this page is the new-code form instead: a new passphrase (or a suggested one), no code
and no current passphrase (the session just signed in with them). The server draws the
new code; the change replaces the lookup id too (:func:`sipadu.services.mailbox.prepare_rekey`),
so the slip's code then finds no mailbox. The page that follows shows the new code (and a
suggested passphrase) once, printable, and again to the same browser session for 15
minutes when the form is sent again (a reload), like the reporter's own code page.
"""

from flask import current_app, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from sipadu.accountability.audit import ReporterMetric, count_reporter_event
from sipadu.persistence.slots import Busy
from sipadu.reporter.blueprint import bp, runtime
from sipadu.reporter.mailbox import count_event, signed_in
from sipadu.reporter.sessions import renew_session
from sipadu.services import Reason, ServiceError
from sipadu.services.dates import today
from sipadu.services.key_ring import HeldKeys, mailbox_keys
from sipadu.services.mailbox import (
    MalformedCode,
    OpenedMailbox,
    PassphraseChange,
    failure_bucket,
    prepare_change,
    prepare_rekey,
    save_change,
    well_formed_code,
)
from sipadu.services.passphrases import format_code, normalize_passphrase
from sipadu.services.transcript import slip_code_live
from sipadu.web.context import app_config, transaction
from sipadu.web.derivations import LOGIN, busy_page, derivations
from sipadu.web.refusal_messages import message
from sipadu.web.reporter_forms import NewCodeForm, PassphraseChangeForm
from sipadu.web.submissions import FormKind, Receipt, StillPending


@bp.route("/mailbox/passphrase", methods=["GET", "POST"])
def mailbox_passphrase() -> ResponseReturnValue:
    """The change form, and the change. The form carries a one-time submission token
    (:mod:`sipadu.web.submissions`): a change is made once per form, and the same
    form sent again (a double click, a reload) shows the page of the change again, the
    suggested passphrase with it, sealed for this browser session only, for 15 minutes
    (G6: its only copy is never lost to a resend). That is looked at first: the second
    request of a double click carries the session the change has just ended."""
    submissions = runtime().submissions
    if request.method == "POST":
        renewed = submissions.posted(FormKind.NEW_CODE)
        if renewed is not None and (used := submissions.seen(renewed)) is not None:
            return _new_code_taken(used.receipt, again=True)
    token = submissions.posted(FormKind.NEW_PASSPHRASE) if request.method == "POST" else None
    if token is not None and (used := submissions.seen(token)) is not None:
        return _changed(used.receipt, again=True)
    signed = signed_in(slip_code=True)
    if signed is None:
        return redirect(url_for("reporter.mailbox_login"), code=303)
    keys, opened = signed
    if slip_code_live(keys.session, keys, opened.report_id):
        return _new_code(keys, opened)
    form = PassphraseChangeForm()
    if not form.validate_on_submit():
        return _page(form), 400 if request.method == "POST" else 200
    rt = runtime()
    code = well_formed_code(form.code.data or "")  # validated: InputRequired
    if code is None:
        count_event(ReporterMetric.MAILBOX_LOGIN_FAILED)
        form.code.errors = [message(MalformedCode())]
        return _page(form), 400
    bucket = failure_bucket(code, rt.mailbox.failure_key)
    counters, limit = current_app.extensions["sipadu.counters"], rt.failures_per_code
    if not counters.test(limit, bucket):
        return _too_many(form)
    if token is None:  # missing, forged, another form's, or too old
        notice = _(
            "This form is too old or incomplete, so nothing was changed. Type the "
            "passphrases again and press “Change passphrase”."
        )
        return _page(form, notice=notice), 400
    try:
        used = submissions.claim(token)  # one change per form
    except StillPending:
        notice = _(
            "Your passphrase is still being changed from when you sent this form before. "
            "Wait a minute, then send it again to see the result."
        )
        return _page(form, notice=notice), 409
    if used is not None:
        return _changed(used.receipt, again=True)
    changed = None
    try:
        changed = _change(form, opened, code, bucket)
    finally:
        if not isinstance(changed, PassphraseChange):
            submissions.release(token)  # nothing changed: the same form may be sent again
    if not isinstance(changed, PassphraseChange):
        return changed
    submissions.finish(token, Receipt(code, changed.suggested))
    renew_session(rt.sessions, changed.opened, rt.idle_seconds)
    return _changed(Receipt(code, changed.suggested), again=False)


def _change(
    form: PassphraseChangeForm, opened: OpenedMailbox, code: str, bucket: str
) -> PassphraseChange | ResponseReturnValue:
    """The check and the change (committed), or the page that refuses it."""
    rt = runtime()
    counters, limit = current_app.extensions["sipadu.counters"], rt.failures_per_code
    new = normalize_passphrase(form.passphrase.data) if form.passphrase.data else None
    change: PassphraseChange | None = None
    try:
        with transaction() as reading, derivations().slot(LOGIN) as run:
            place = counters.take(limit, bucket)
            if place is not None:
                current = form.current_passphrase.data or ""  # validated: InputRequired
                change = prepare_change(reading, code, current, new, rt.mailbox, derive=run)
    except Busy as busy:
        notice = _(
            "The server is busy right now and could not change your passphrase. Nothing "
            "was changed: your passphrase is still the old one. Wait a minute, type the "
            "passphrases again and press “Change passphrase” again."
        )
        return busy_page(_page(form, notice=notice), busy)
    if place is None:  # spent by attempts that held a slot while this one waited
        return _too_many(form)
    if change is None:
        count_event(ReporterMetric.MAILBOX_LOGIN_FAILED)
        form.code.errors = [
            _("The report code or the current passphrase is not right. Check both and try again.")
        ]
        return _page(form), 400
    counters.give_back(limit, bucket, place)  # only failures use up the code's limit
    if change.opened.mailbox_id != opened.mailbox_id:
        form.code.errors = [message(ServiceError(Reason.NOT_THIS_MAILBOX, "code"))]
        return _page(form), 400
    try:
        with transaction(write=True) as writing:
            save_change(writing, change)
            count_reporter_event(
                writing, ReporterMetric.PASSPHRASE_CHANGED, today(), app_config().date_precision
            )
    except ServiceError as refused:  # changed meanwhile, in another window
        return _page(form, notice=message(refused)), 409
    return change


def _new_code(keys: HeldKeys, opened: OpenedMailbox) -> ResponseReturnValue:
    """The new-code form of a typed report's first sign-in, and taking it: the form
    token, one claim per form, then :func:`_take_new_code`."""
    rt = runtime()
    submissions = rt.submissions
    form = NewCodeForm()
    if not form.validate_on_submit():
        return _new_code_page(form), 400 if request.method == "POST" else 200
    token = submissions.posted(FormKind.NEW_CODE)
    if token is None:  # missing, forged, another form's, or too old
        notice = _(
            "This form is too old or incomplete, so nothing was changed: the code on "
            "your slip still works. Press “Take my new code” again."
        )
        return _new_code_page(form, notice=notice), 400
    try:
        used = submissions.claim(token)  # one new code per form
    except StillPending:
        notice = _(
            "Your new code is still being made from when you sent this form before. Wait "
            "a minute, then send it again to see it."
        )
        return _new_code_page(form, notice=notice), 409
    if used is not None:
        return _new_code_taken(used.receipt, again=True)
    taken = None
    try:
        taken = _take_new_code(form, keys, opened)
    finally:
        if not isinstance(taken, PassphraseChange):
            submissions.release(token)  # nothing changed: the same form may be sent again
    if not isinstance(taken, PassphraseChange):
        return taken
    assert taken.code is not None  # prepare_rekey draws one
    receipt = Receipt(taken.code, taken.suggested)
    submissions.finish(token, receipt)
    renew_session(rt.sessions, taken.opened, rt.idle_seconds)
    return _new_code_taken(receipt, again=False)


def _take_new_code(
    form: NewCodeForm, keys: HeldKeys, opened: OpenedMailbox
) -> PassphraseChange | ResponseReturnValue:
    """The new code's two derivations (login lane), then the rekey (committed), or the
    page that refuses it. No failure counter is touched: the session proves the slip's
    code and passphrase were given, and the new code's counter is its own."""
    rt = runtime()
    new = normalize_passphrase(form.passphrase.data) if form.passphrase.data else None
    try:
        with derivations().slot(LOGIN) as run:
            change = prepare_rekey(opened, new, rt.mailbox, derive=run)
    except Busy as busy:
        notice = _(
            "The server is busy right now and could not make your new code. Nothing was "
            "changed: the code on your slip still works. Wait a minute, then press "
            "“Take my new code” again."
        )
        return busy_page(_new_code_page(form, notice=notice), busy)
    try:
        with transaction(write=True) as writing:
            held = mailbox_keys(writing, opened.report_id, opened.mailbox_id, opened.private_key)
            save_change(writing, change, held)
            count_reporter_event(
                writing, ReporterMetric.PASSPHRASE_CHANGED, today(), app_config().date_precision
            )
    except ServiceError as refused:  # taken meanwhile, by whoever else holds the slip
        return _new_code_page(form, notice=message(refused)), 409
    return change


def _new_code_page(form: NewCodeForm, notice: str | None = None) -> str:
    return render_template("reporter/new_code.html", form=form, notice=notice)


def _new_code_taken(receipt: Receipt | None, *, again: bool) -> str:
    """The page with the new code (and a suggested passphrase), while its sealed
    receipt is kept (``receipt`` None: not any more, or another browser's)."""
    return render_template(
        "reporter/new_code_taken.html",
        code=format_code(receipt.code) if receipt is not None else None,
        passphrase=receipt.passphrase if receipt is not None else None,
        again=again,
    )


def _changed(receipt: Receipt | None, *, again: bool) -> str:
    """The page after the change: the reminder to write the new passphrase down, and a
    suggested one, while its sealed receipt is kept (``receipt`` None: not any more, or
    another browser's)."""
    return render_template(
        "reporter/passphrase_changed.html",
        suggested=receipt.passphrase if receipt is not None else None,
        again=again,
    )


def _page(form: PassphraseChangeForm, notice: str | None = None) -> str:
    return render_template("reporter/passphrase.html", form=form, notice=notice)


def _too_many(form: PassphraseChangeForm) -> tuple[str, int]:
    """Refused without any Argon2id, and counted like any failed sign-in."""
    count_event(ReporterMetric.MAILBOX_LOGIN_FAILED)
    notice = _(
        "There were too many wrong attempts with this report code in the last hour, so the "
        "passphrase cannot be changed for now. Nothing was changed. Try again in an hour."
    )
    return _page(form, notice=notice), 429


def passphrase_again(notice: str) -> tuple[str, int]:
    """The change form, its form token refused: the code kept, never a passphrase (the
    new-code form, while the mailbox is still opened by a typed report's slip)."""
    signed = signed_in(slip_code=True)
    if signed is not None:
        keys, opened = signed
        if slip_code_live(keys.session, keys, opened.report_id):
            return _new_code_page(NewCodeForm(formdata=None), notice=notice), 400
    form = PassphraseChangeForm(formdata=None, code=request.form.get("code", ""))
    return _page(form, notice=notice), 400
