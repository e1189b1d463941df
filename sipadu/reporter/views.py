"""Reporter routes: the safety guidance and the report form."""

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from flask import current_app, render_template, request
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from sipadu.accountability.audit import ReporterMetric, count_reporter_event
from sipadu.persistence.slots import Busy
from sipadu.reporter.blueprint import bp, runtime
from sipadu.reporter.forms import CATEGORIES, ReportForm
from sipadu.reporter.uploads import evidence_part, forget_files, uploaded_files
from sipadu.services.categories import category_open
from sipadu.services.dates import today
from sipadu.services.passphrases import format_code, normalize_passphrase
from sipadu.services.reports import CASE_FIELDS, CategoryClosed, submit_report
from sipadu.services.reports import ReportForm as ReportData
from sipadu.settings.faults import DROP_CONNECTION_BEFORE_COMMIT, KILL_BEFORE_COMMIT, trip
from sipadu.web.context import app_config, transaction
from sipadu.web.derivations import REPORT, busy_page, derivations
from sipadu.web.formdata import UploadRefused, receives_files
from sipadu.web.refusal_messages import message


@bp.get("/")
def index() -> str:
    """Safety guidance before anything else: how to report without being identified."""
    return render_template("reporter/index.html")


@bp.route("/report", methods=["GET", "POST"])
@receives_files("attachments", evidence_part)
def report() -> ResponseReturnValue:
    form = ReportForm()
    if not form.validate_on_submit():
        forget_files(form.attachments)
        status = 400 if request.method == "POST" else 200
        return render_template("reporter/report.html", form=form, categories=CATEGORIES), status
    # G2: the hour's ceiling is consulted only once the whole submission is known to be
    # storable (text, files, category), in _derive: an invalid submission gets the same
    # answer whether the ceiling is full or not, so nobody learns, without spending a
    # report, that someone else just sent one.
    try:
        files = uploaded_files(form.attachments)
    except UploadRefused as refused:
        page = render_template("reporter/report.html", form=form, categories=CATEGORIES)
        return page, refused.status, refused.headers
    with transaction() as reading:
        accepted = category_open(reading, form.category.data)
    if not accepted:
        return _category_closed(form)
    data = ReportData(
        category=form.category.data,
        identity=form.identity.data or "",
        **{name: getattr(form, name).data or "" for name in CASE_FIELDS},
    )
    passphrase = normalize_passphrase(form.passphrase.data) if form.passphrase.data else None
    try:
        with transaction(write=True) as session:  # G6: the code is shown once it is stored
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
    except CeilingReached:
        return _ceiling_reached(form)
    except Busy as busy:
        forget_files(form.attachments)
        notice = _(
            "The server is busy right now, so your report was not sent yet. Your text is kept "
            "below: wait a minute, then press “Send the report” again."
        )
        page = render_template(
            "reporter/report.html", form=form, categories=CATEGORIES, notice=notice
        )
        return busy_page(page, busy)
    except CategoryClosed:  # closed while this one was sent (its slot is spent)
        return _category_closed(form)
    return render_template(
        "reporter/submitted.html",
        code=format_code(receipt.code),
        passphrase=receipt.suggested_passphrase,
    )


def report_again(notice: str) -> tuple[str, int]:
    """The report form with everything typed, its form token refused
    (sipadu.reporter.refused): a fresh form, the text as it arrived, not checked yet."""
    form = ReportForm(formdata=None, data=_typed_report())
    page = render_template("reporter/report.html", form=form, categories=CATEGORIES, notice=notice)
    return page, 400


def _typed_report() -> dict[str, str]:
    names = ("category", *CASE_FIELDS, "identity", "passphrase", "passphrase_confirm")
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
    return render_template("reporter/report.html", form=form, categories=CATEGORIES), 400


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
    page = render_template(
        "reporter/report.html", form=form, categories=CATEGORIES, ceiling_reached=times
    )
    return page, 429, {"Retry-After": str(int((back - now).total_seconds()))}
