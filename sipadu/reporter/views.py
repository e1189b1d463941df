"""Reporter routes: the safety guidance, the report form and the code page."""

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from flask import abort, current_app, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

import sipadu.reporter.warning as warning
from sipadu.accountability.audit import ReporterMetric, count_reporter_event
from sipadu.persistence.slots import Busy
from sipadu.reporter.blueprint import bp, runtime
from sipadu.reporter.languages import SWITCH, switched_notice
from sipadu.reporter.warning import receipt_notices
from sipadu.services import Reason, ServiceError
from sipadu.services.attachments import UploadedFile
from sipadu.services.categories import category_open
from sipadu.services.dates import today
from sipadu.services.mailbox import well_formed_code
from sipadu.services.passphrases import format_code, normalize_passphrase
from sipadu.services.reports import CASE_FIELDS, CategoryClosed, submit_report
from sipadu.services.reports import ReportForm as ReportData
from sipadu.settings.faults import DROP_CONNECTION_BEFORE_COMMIT, KILL_BEFORE_COMMIT, trip
from sipadu.web import kept_files
from sipadu.web.context import app_config, transaction
from sipadu.web.derivations import REPORT, busy_page, derivations
from sipadu.web.file_notices import Flag
from sipadu.web.formdata import UploadRefused, receives_files
from sipadu.web.kept_files import KeptGone
from sipadu.web.refusal_messages import message
from sipadu.web.report_choices import chosen_category, load_choices, sub_category_fits
from sipadu.web.reporter_forms import ReportForm
from sipadu.web.submissions import FormKind, Receipt, StillPending, Used
from sipadu.web.uploads import evidence_part, forget_files, uploaded_files


@bp.get("/")
def index() -> str:
    """Safety guidance before anything else: how to report without being identified."""
    return render_template("reporter/index.html")


def _page(form: ReportForm, **extra: Any) -> str:
    """The report form, its configured choices read again (issue 18), what was typed
    or chosen kept, and the files it carries from a warning (sipadu.reporter.warning)."""
    choices = load_choices(form)
    return render_template(
        "reporter/report.html", form=form, choices=choices, **warning.page_files(), **extra
    )


# The report's text fields the warning looks at: all but the identity field, where a
# name, a NIK or a phone number is expected (issue 21 item 3).
WARNED_FIELDS = CASE_FIELDS


# The fields that hold an amount of money: numbers there are amounts, not phone numbers.
AMOUNT_FIELDS = ("estimated_loss",)


def _flags(form: ReportForm, files: list[UploadedFile]) -> list[Flag]:
    """What the warning names: the text within the form's limits (a language switch's
    text is not validated), and the files."""
    texts = warning.form_texts(form, WARNED_FIELDS)
    labels = {name: str(getattr(form, name).label.text) for name in WARNED_FIELDS}
    return warning.flags(texts, labels, files, AMOUNT_FIELDS)


@bp.route("/report", methods=["GET", "POST"])
@receives_files("attachments", evidence_part)
def report() -> ResponseReturnValue:
    form = ReportForm()
    choices = load_choices(form)
    if request.method == "POST" and SWITCH in request.form:
        # The language switch (issue 16 item 2): the same form again in the other
        # language, everything typed kept; never validated, never stored. A warned
        # form's kept files and warning come back with it (issue 21).
        kept = warning.resume(FormKind.REPORT, switch=True)
        notices = [switched_notice(), warning.kept_notice(kept)]
        flags = _flags(form, kept.files) if warning.was_warned() else []
        page = _page(form, notice=" ".join(n for n in notices if n), warning=flags)
        return page
    kept = warning.resume(FormKind.REPORT)
    submissions = runtime().submissions
    token = submissions.posted(FormKind.REPORT) if request.method == "POST" else None
    if token is not None and (used := submissions.seen(token)) is not None:
        forget_files(form.attachments)  # the same form again: nothing more is stored
        return _already_received(used)
    if not form.validate_on_submit() or not sub_category_fits(form, choices):
        forget_files(form.attachments)
        status = 400 if request.method == "POST" else 200
        return _page(form, notice=warning.kept_notice(kept)), status
    # G2: the hour's ceiling is consulted only once the whole submission is known to be
    # storable (text, files, category), in _derive: an invalid submission gets the same
    # answer whether the ceiling is full or not, so nobody learns, without spending a
    # report, that someone else just sent one.
    try:
        new_files = uploaded_files(form.attachments)
    except UploadRefused as refused:
        page = _page(form, notice=warning.kept_notice(kept))
        return page, refused.status, refused.headers
    if kept.refused:  # an altered or foreign kept-files field: nothing of it attached
        forget_files(form.attachments)
        return _page(form, notice=warning.kept_notice(kept)), 400
    files = kept.files + new_files
    if (too_much := warning.over_limits(files)) is not None:
        forget_files(form.attachments)
        form.attachments.errors = [too_much, *form.attachments.errors]
        return _page(form), 400
    if token is None:  # missing, forged, another form's, or too old (after the files:
        # a refusal of theirs is said first; staged files are purged as abandoned ones)
        forget_files(form.attachments)
        notice = _(
            "This form could not be sent as it is: it is too old or incomplete (perhaps it "
            "was opened before the site was updated). Nothing was sent, and your text is kept "
            "below: press “Send the report” again."
        )
        page = _page(form, notice=notice)
        return page, 400
    chosen = chosen_category(form)
    with transaction() as reading:
        accepted = category_open(reading, chosen)
    if not accepted:
        return _category_closed(form)
    if kept.lost or (not warning.send_anyway() and _flags(form, files)):
        # Nothing is stored: the form comes back with its files kept (issue 21 item 3),
        # those the budget for kept files has no room for named, to be chosen again.
        carried = warning.keep(FormKind.REPORT, kept, new_files, form.attachments)
        if kept.lost:
            return _page(form, notice=warning.kept_notice(kept)), 409
        return _page(form, warning=_flags(form, carried))
    typed: dict[str, Any] = {name: getattr(form, name).data or "" for name in CASE_FIELDS}
    data = ReportData(
        category=chosen,
        identity=form.identity.data or "",
        concerns_inspectorate=bool(form.concerns_inspectorate.data),
        **typed,
        unit=form.unit.data or "",
    )
    passphrase = normalize_passphrase(form.passphrase.data) if form.passphrase.data else None
    # One report per token (issue 16 item 3): a second request with it waits for the
    # first and shows its code; a claim is released if nothing was stored.
    try:
        used = submissions.claim(token)
    except StillPending:
        notice = _(
            "This report is still being received from when you sent it before. It will not "
            "be sent twice. Wait a minute, then press “Send the report” again to see your "
            "report code."
        )
        page = _page(form, notice=notice)
        return page, 409
    if used is not None:
        return _already_received(used)
    try:
        with submissions.releasing(token), transaction(write=True) as session:  # G6
            kept_files.claim(session, kept.files)  # never a file linked twice
            receipt = submit_report(
                session,
                data,
                passphrase,
                runtime().submission,
                today(),
                files=files,
                derive=_derive,
            )
            if faults := app_config().faults:  # crash-safety tests only
                trip(faults, KILL_BEFORE_COMMIT)
                trip(faults, DROP_CONNECTION_BEFORE_COMMIT, session.connection())
    except KeptGone:  # sent meanwhile with another form (a replayed page): not again
        forget_files(form.attachments)
        warning.carry(FormKind.REPORT, [])
        kept.lost = [f.name for f in kept.files]
        return _page(form, notice=warning.kept_notice(kept)), 409
    except CeilingReached:
        return _ceiling_reached(form)
    except Busy as busy:
        forget_files(form.attachments)
        notice = _(
            "The server is busy right now, so your report was not sent yet. Your text is kept "
            "below: wait a minute, then press “Send the report” again."
        )
        page = _page(form, notice=notice)
        return busy_page(page, busy)
    except CategoryClosed:  # closed while this one was sent (its slot is spent)
        return _category_closed(form)
    except ServiceError as refused:  # the unit was taken off the list while this one was sent
        if refused.reason is not Reason.NO_SUCH_UNIT:
            raise
        forget_files(form.attachments)
        form.unit.errors = [message(refused)]
        return _page(form), 400
    submissions.finish(token, Receipt(receipt.code, receipt.suggested_passphrase))
    return render_template(
        "reporter/submitted.html",
        code=format_code(receipt.code),
        passphrase=receipt.suggested_passphrase,
        **receipt_notices(files),
    )


def _already_received(used: Used) -> str:
    """The same form sent again: the code again while its sealed receipt is kept, else
    a page that says the report exists and why its code cannot be shown."""
    if used.receipt is None:
        return render_template("reporter/submitted.html", code=None, again=True)
    return render_template(
        "reporter/submitted.html",
        code=format_code(used.receipt.code),
        passphrase=used.receipt.passphrase,
        again=True,
    )


@bp.post("/report/receipt")
def receipt_page() -> ResponseReturnValue:
    """The code page again, from the code it carries in its own forms (never stored):
    in another language (``?lang=``); as an ordinary POST once upload.js has shown it
    (so that Reload shows the code again, not an empty form); or, once the reporter
    confirms they have written the code down, on to the mailbox's sign-in or the start
    page (issue 16 item 1)."""
    code = well_formed_code(request.form.get("code", ""))
    passphrase = request.form.get("passphrase") or None
    if code is None or (passphrase is not None and len(passphrase) > 100):
        abort(400)
    leave = request.form.get("leave")
    if leave is not None:
        if request.form.get("written") == "yes":
            to = "reporter.mailbox_login" if leave == "mailbox" else "reporter.index"
            return redirect(url_for(to), code=303)
        page = render_template(
            "reporter/submitted.html",
            code=format_code(code),
            passphrase=passphrase,
            not_written=True,
            **receipt_notices(),
        )
        return page, 400
    again = request.form.get("again") == "1"  # upload.js reloading "already received"
    return render_template(
        "reporter/submitted.html",
        code=format_code(code),
        passphrase=passphrase,
        again=again,
        **receipt_notices(),
    )


def report_again(notice: str) -> tuple[str, int]:
    """The report form with everything typed, its form token refused
    (sipadu.reporter.refused): a fresh form, the text as it arrived, not checked yet,
    with its submission token if still unused (else a fresh one). A form whose report
    was stored already (Back and resend after signing in elsewhere) is not offered to
    be sent twice: the already-received page instead (issue 16 item 3)."""
    submissions = runtime().submissions
    token = submissions.posted(FormKind.REPORT)
    if token is not None and (used := submissions.seen(token)) is not None:
        return _already_received(used), 200
    form = ReportForm(formdata=None, data=_typed_report())
    page = _page(form, notice=notice)
    return page, 400


def _typed_report() -> dict[str, str]:
    names = (
        "category",
        "subcategory",
        "unit",
        *CASE_FIELDS,
        "identity",
        "concerns_inspectorate",
        "passphrase",
        "passphrase_confirm",
    )
    return {name: request.form[name] for name in names if name in request.form}


class CeilingReached(Exception):
    """The hour's last new-report slot went to someone else while this one was sent."""


T = TypeVar("T")


def _derive(fn: Callable[..., T], /, *args: Any) -> T:
    """The submission's two Argon2id runs (before anything is stored): on a slot of the
    derivation pool's lane for new reports (a flood of mailbox logins cannot fill it),
    and only then with one of the hour's new-report slots, so a "busy" answer (503)
    never uses up the ceiling. Raises Busy or :class:`CeilingReached`."""
    with derivations().slot(REPORT) as run:
        if not _take_ceiling_slot():
            raise CeilingReached
        return run(fn, *args)


def _take_ceiling_slot() -> bool:
    """One of the portal's new-report slots of the last hour (SIPADU_REPORTS_PER_HOUR),
    taken atomically in the counters' store (:mod:`sipadu.persistence.counters`), so concurrent
    submitters cannot overshoot. Keyed on nothing about the client; a refusal takes no
    slot."""
    rt = runtime()
    return current_app.extensions["sipadu.counters"].hit(rt.reports_ceiling, rt.ceiling_key)


def _category_closed(form: ReportForm) -> tuple[str, int]:
    forget_files(form.attachments)
    form.category.errors = [message(CategoryClosed())]
    return _page(form), 400


# Indonesia's three time zones (no daylight saving).
_ZONES = {"wib": 7, "wita": 8, "wit": 9}


def _ceiling_reached(form: ReportForm) -> tuple[str, int, dict[str, str]]:
    """The form again with everything typed (files must be chosen again), a plain notice
    and 429. Only the day's count of refusals is stored. The time to come back is an
    hour from now, rounded up: never the limiter's reset time, which is an hour after the
    oldest accepted report of the window, i.e. an exact submission time (G2)."""
    forget_files(form.attachments)  # read and dropped before the write session begins
    with transaction(write=True) as session:
        count_reporter_event(
            session, ReporterMetric.REPORT_REFUSED_CEILING, today(), app_config().date_precision
        )
    now = datetime.now(UTC)
    back = now + timedelta(hours=1)
    back = back.replace(second=0, microsecond=0) + timedelta(minutes=5 - back.minute % 5)
    times = {zone: (back + timedelta(hours=h)).strftime("%H:%M") for zone, h in _ZONES.items()}
    page = _page(form, ceiling_reached=times)
    return page, 429, {"Retry-After": str(int((back - now).total_seconds()))}
