"""The intake operator's form and slip (issue 18 item 1; docs/intake.md).

An operator types in a report for someone at a counter, on the phone, from a letter or
an e-mail: the reporter's own form (:class:`sipadu.web.reporter_forms.ReportForm`, so
a field added there appears here too) less the passphrase, plus the channel and the
office, with the evidence files scanned or received. Files are read only once the
operator's session, role and CSRF token are checked and the text is valid, encrypted as
they arrive (:mod:`sipadu.web.uploads`); a refusal shows the form again with everything
typed (400), and nothing of the report is stored.

The answer to a stored report is the slip: code, suggested passphrase, the
portal's addresses with a QR code of the address (never of the code), and what happens
next, in Bahasa Indonesia and English for the reporter to take home. It is never stored
in plaintext (the page is ``no-store`` like every staff page): the same form sent again
within 15 minutes from the same browser session shows it again from a receipt sealed
under the form's token and the session's secret (:mod:`sipadu.web.submissions`), so a
reload loses nothing; after that, nothing shows it again and the operator keeps no way
back to the report (:mod:`sipadu.services.operator_intake`).
"""

import dataclasses
from collections.abc import Callable
from typing import Any, TypeVar

from flask import g, render_template, request
from flask.typing import ResponseReturnValue
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from markupsafe import Markup
from wtforms import RadioField, SelectField

# SelectChoice is WTForms 3.3's (which deprecates choice tuples); types-WTForms is 3.2's.
from wtforms.fields.choices import SelectChoice  # type: ignore[attr-defined]
from wtforms.validators import InputRequired

from sipadu.investigator.blueprint import bp, runtime
from sipadu.investigator.policy import Policy, requires
from sipadu.investigator.words import CHANNEL_LABELS
from sipadu.persistence.slots import Busy
from sipadu.services import ServiceError
from sipadu.services.categories import category_open
from sipadu.services.dates import today
from sipadu.services.intake import OPERATOR_CHANNELS, Channel, Intake
from sipadu.services.operator_intake import take_in
from sipadu.services.passphrases import format_code
from sipadu.services.reports import CategoryClosed
from sipadu.services.reports import ReportForm as ReportData
from sipadu.services.totp import qr_svg
from sipadu.settings.config import Config
from sipadu.web.context import app_config, transaction
from sipadu.web.derivations import KNOWN, busy_page, derivations
from sipadu.web.formdata import UploadRefused, receives_files
from sipadu.web.language_switch import refused_status, switching
from sipadu.web.refusal_messages import message
from sipadu.web.report_choices import (
    FormChoices,
    chosen_category,
    load_choices,
    sub_category_fits,
)
from sipadu.web.reporter_forms import ReportForm
from sipadu.web.submissions import FIELD as TOKEN_FIELD
from sipadu.web.submissions import FormKind, StillPending
from sipadu.web.submissions import Receipt as Sealed
from sipadu.web.uploads import (
    evidence_part,
    files_again,
    forget_files,
    upload_limits,
    uploaded_files,
)
from sipadu.web.words import deadline_words

T = TypeVar("T")


class IntakeForm(ReportForm):
    """The reporter's form as an operator fills it: no passphrase (the slip carries a
    suggested one, which the reporter may change in the mailbox), plus how and where the
    report came in. ``office`` takes its choices from configuration (:func:`_form`)."""

    passphrase = None  # type: ignore[assignment]
    passphrase_confirm = None  # type: ignore[assignment]
    channel = RadioField(
        _l("How did the report come in?"),
        choices=[SelectChoice(c.value, CHANNEL_LABELS[c]) for c in OPERATOR_CHANNELS],
        validators=[InputRequired(message=_l("Choose how the report came in."))],
    )
    office = SelectField(
        _l("Where was it received?"),
        choices=[],
        validators=[InputRequired(message=_l("Choose the office where it was received."))],
    )


def _form() -> tuple[IntakeForm, FormChoices]:
    """The form with its choices: the offices from configuration, and the categories,
    sub-categories and units admins configure, read as the reporter's form reads them
    (:func:`sipadu.web.report_choices.load_choices`), so both offer the same."""
    form = IntakeForm()
    form.office.choices = [SelectChoice(name, name) for name in app_config().intake_offices]
    return form, load_choices(form)


def _page(form: IntakeForm, notice: str | None = None) -> str:
    """The form, its configured choices read again, what was typed or chosen kept. The
    choices go to the page under the names the reporter's page uses (``choices``, and
    its offered ``categories``), so the same template code draws both. Without a portal
    address to print on the slip, the page says that no report can be taken in."""
    choices = load_choices(form)
    if notice is None and portal_address(app_config()) is None:
        notice = _(
            "Reports cannot be taken in on this server yet: the slip would not say where the "
            "reporter can follow the report, because the portal's address is not configured. "
            "Nothing is stored. Tell the administrator: the reporter portal's web or onion "
            "address must be set for this staff portal (the intake guide, “Configuration”)."
        )
    return render_template(
        "staff/intake_form.html",
        form=form,
        submission_token=runtime().submissions.for_form(FormKind.INTAKE),
        choices=choices,
        notice=notice,
        upload_limits=upload_limits(app_config()),
    )


@bp.route("/intake/report", methods=["GET", "POST"])
@requires(Policy.OPERATOR)
@receives_files("attachments", evidence_part)
def intake_report() -> ResponseReturnValue:
    """The form (GET), or the report stored and its slip shown (POST). The form carries
    a one-time submission token (:mod:`sipadu.web.submissions`): one report per form,
    and the same form sent again (a reload of the slip, Back and resend, a double click)
    stores nothing more and shows the slip again, sealed for this browser session only
    for 15 minutes, or else says that the report was stored once and what to do
    (docs/intake.md, "Sent twice")."""
    form, choices = _form()
    submissions = runtime().submissions
    token = submissions.posted(FormKind.INTAKE) if request.method == "POST" else None
    if token is not None and (used := submissions.seen(token)) is not None:
        # The same form again, or the slip's own language switch: nothing more is stored.
        forget_files(form.attachments)
        return _slip_again(used.receipt, switched=switching())
    if not form.validate_on_submit() or not sub_category_fits(form, choices):
        # a language switch too: shown again, typed text kept
        forget_files(form.attachments)
        return _page(form), refused_status() if request.method == "POST" else 200
    settings = runtime().submission
    if settings is None:  # this host lacks the lookup salt (docs/intake.md)
        forget_files(form.attachments)
        notice = _(
            "Reports cannot be taken in on this server yet: it is not configured for it. "
            "Nothing was stored. Tell the administrator (docs/intake.md, “Configuration”)."
        )
        return _page(form, notice), 503
    if portal_address(app_config()) is None:  # the slip would not say where to go
        forget_files(form.attachments)
        return _page(form), 503  # the page says why (_page)
    try:
        files = uploaded_files(form.attachments)
    except UploadRefused as refused:
        return _page(form), refused.status, refused.headers
    if token is None:  # missing, forged, another form's, or too old
        forget_files(form.attachments)
        notice = _(
            "This form is too old or incomplete, so nothing was stored. Everything typed "
            "is kept below: press “Store the report” again."
        )
        if files:
            form.attachments.errors = [files_again()]
        return _page(form, notice), 400
    with transaction() as reading:
        accepted = category_open(reading, chosen_category(form))
    if not accepted:
        return _refused(form, CategoryClosed(), bool(files))
    data = report_data(form, g.staff.account.username)
    try:
        used = submissions.claim(token)  # one report per form
    except StillPending:
        forget_files(form.attachments)
        notice = _(
            "This report is still being stored from when the form was sent before. It will "
            "not be stored twice. Wait a minute, then press “Store the report” again to "
            "see the slip."
        )
        return _page(form, notice), 409
    if used is not None:
        forget_files(form.attachments)
        return _slip_again(used.receipt)
    try:
        with submissions.releasing(token), transaction(write=True) as session:
            receipt = take_in(
                session, data, settings, today(), g.staff.account.id, files, derive=_derive
            )
    except Busy as busy:
        notice = _(
            "The server is busy right now, so the report was not stored yet. Everything "
            "typed is kept below: wait a minute, then press “Store the report” again."
        )
        if files:
            form.attachments.errors = [files_again()]
        return busy_page(_page(form, notice), busy)
    except ServiceError as refusal:  # the category closed meanwhile; the operator holds it
        return _refused(form, refusal, bool(files))
    submissions.finish(token, Sealed(receipt.code, receipt.suggested_passphrase))
    return _slip(receipt.code, receipt.suggested_passphrase)


def report_data(form: IntakeForm, operator: str) -> ReportData:
    """The report as the service takes it: every field of the service's form that this
    form has, by name (so a field another part adds to both appears without more work),
    with the intake and ``transcribed`` set, and the most precise category chosen (the
    sub-category if one is)."""
    values: dict[str, Any] = {}
    for field in dataclasses.fields(ReportData):
        if field.name in ("intake", "transcribed") or field.name not in form:
            continue
        value = form[field.name].data
        values[field.name] = value if isinstance(value, bool) else (value or "")
    intake = Intake(Channel(form.channel.data), form.office.data or "", operator)
    values["category"] = chosen_category(form)
    return ReportData(**values, intake=intake, transcribed=True)


def _refused(form: IntakeForm, refusal: ServiceError, had_files: bool) -> tuple[str, int]:
    forget_files(form.attachments)
    notice = None
    if refusal.field and refusal.field in form:
        form[refusal.field].errors = [*form[refusal.field].errors, message(refusal)]
    else:  # the form as a whole: said above it (the error summary lists fields only)
        notice = message(refusal)
    if had_files:  # received, then dropped unlinked when the request ends
        form.attachments.errors = [*form.attachments.errors, files_again()]
    return _page(form, notice), 400


def _derive(fn: Callable[..., T], /, *args: Any) -> T:
    """The submission's Argon2id runs, on the staff pool's lane for signed-in staff
    (:data:`sipadu.web.derivations.KNOWN`): strangers guessing passwords cannot fill
    it. Raises Busy before anything is stored."""
    with derivations().slot(KNOWN) as run:
        return run(fn, *args)


# --- the slip ------------------------------------------------------------------------


def portal_address(config: Config) -> str | None:
    """The address the slip's QR code holds: the ordinary web address if configured
    (any phone opens it), else the onion address; None if neither is configured."""
    if config.web_address:
        return config.web_address
    return f"http://{config.onion_address}" if config.onion_address else None


def _slip_words(config: Config) -> dict[str, Any]:
    """The slip's words in the current language: what happens next as the reporter's
    code page says it (SIPADU_ACK_DAYS, SIPADU_FEEDBACK_DAYS, SIPADU_DAY_COUNT), how to
    sign in, the passphrase and the transcript."""
    ack, feedback = deadline_words(config)
    office = config.institution.name
    return {
        "heading": _("Your report has been received"),
        "code": _("Report code"),
        "passphrase": _("Passphrase"),
        "onion": _("In Tor Browser"),
        "web": _("In an ordinary browser"),
        "keep": _(
            "Keep this paper hidden. Anyone who has both the code and the passphrase can "
            "read your mailbox. Nobody can recover them for you: the office keeps no copy."
        ),
        "how_heading": _("How to follow your report"),
        "how": [
            _(
                "Open the address below, in Tor Browser if you can, and choose “Open my "
                "mailbox”. Type the report code and the passphrase exactly as printed here."
            ),
            _(
                "The first time you open your mailbox, you get a new report code of your "
                "own and choose a new passphrase (or take a suggested one). Write them "
                "down: from then on the code on this slip no longer works, so nobody who "
                "saw this slip can open your mailbox."
            ),
            _(
                "Your report was typed in by an officer. The mailbox shows you the text: "
                "you will be asked to confirm that it says what you reported, or to correct it."
            ),
        ],
        "next_heading": _("What happens next"),
        "next": [
            _(
                "Within %(ack)s of receiving your report, the investigators of %(office)s "
                "confirm in your mailbox that it is being handled.",
                ack=ack,
                office=office,
            ),
            _(
                "Within %(feedback)s, they tell you in your mailbox what has been done "
                "about it, or what is still being done and why.",
                feedback=feedback,
            ),
            _(
                "They may ask you questions there. Your mailbox shows these dates once you "
                "have reported."
            ),
        ],
    }


def _slip(code: str, passphrase: str | None, *, again: bool = False) -> str:
    """The slip, in Bahasa Indonesia and then English, whatever the operator's page
    language: the reporter takes it home. ``again``: the same form sent again, the slip
    shown from its sealed receipt. The page's language switch posts the form's token
    again (never a link, which would lose the slip): the slip again from its receipt,
    the operator's words in the other language."""
    config = app_config()
    words = {}
    for lang in ("id", "en"):
        with force_locale(lang):
            words[lang] = _slip_words(config)
    address = portal_address(config)
    return render_template(
        "staff/intake_slip.html",
        code=format_code(code),
        passphrase=passphrase,
        onion=config.onion_address,
        web=config.web_address,
        # Drawn here by segno from configuration; the code is never in it.
        qr=Markup(qr_svg(address)) if address else None,  # noqa: S704
        words=words,
        institution_name=config.institution.name,
        again=again,
        submission_token=request.form.get(TOKEN_FIELD, ""),
    )


def _slip_again(receipt: Sealed | None, *, switched: bool = False) -> str:
    """The same form sent again: nothing more was stored. The slip again while its sealed
    receipt is kept for this browser session, else a page that says the report was
    stored once, the slip shown once, and what to do if the reporter lost it.
    ``switched``: the slip page's language switch, not a resend (no "sent again")."""
    if receipt is None:
        return render_template("staff/intake_again.html")
    return _slip(receipt.code, receipt.passphrase, again=not switched)
