"""Staff portal forms. ``/login`` field names are a stable contract (DESIGN.md §6)."""

import uuid
from collections.abc import Mapping

from flask import abort
from flask_babel import lazy_gettext as _l
from wtforms import (
    BooleanField,
    DateField,
    FileField,
    HiddenField,
    MultipleFileField,
    PasswordField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)

# WTForms 3.3's choice type (tuples are deprecated); types-WTForms (3.2) lacks it, so it
# is untyped here. Imported from this module by the other staff views: one ignore.
from wtforms.fields.choices import SelectChoice  # type: ignore[attr-defined]
from wtforms.validators import (
    AnyOf,
    DataRequired,
    InputRequired,
    Length,
    Optional,
    ValidationError,
)
from wtforms.widgets import CheckboxInput, ListWidget, PasswordInput

from sipadu.persistence.models import ReportStatus
from sipadu.services.case_record import MAX_LABEL_CHARS, MAX_LABELS, LinkKind, Priority
from sipadu.services.cases import CLOSING
from sipadu.services.export_recipients import is_private_key
from sipadu.services.openpgp import MAX_KEY_BYTES as MAX_OPENPGP_KEY_BYTES
from sipadu.services.openpgp import is_private_key as is_private_openpgp_key
from sipadu.services.referral import OUT_BY_DEFAULT, PARTS
from sipadu.services.refusals import Reason, ServiceError
from sipadu.web.forms import BoundedForm
from sipadu.web.refusal_messages import message
from sipadu.web.words import ROLE_LABELS, STATUS_LABELS


def entered(field: StringField) -> str:
    """The text of a field its form requires (``InputRequired``), once the form has
    validated: the browser then sent a non-empty value, so it is never None. None means a
    view read a field its form does not require, or read it before validating: refused
    (400) rather than passed on to a service as a value."""
    if field.data is None:
        abort(400)
    return field.data


# A page never sends a typed password back (issue 15 review): a page that comes back
# busy (503), over the limit (429) or asking for a second code has it typed again.
_KEPT = PasswordInput()


class LoginForm(BoundedForm):
    username = StringField(_l("Username"), validators=[InputRequired(), Length(max=200)])
    password = PasswordField(
        _l("Password"), validators=[InputRequired(), Length(max=1000)], widget=_KEPT
    )
    totp = StringField(
        _l("Code from your authenticator app"), validators=[InputRequired(), Length(max=20)]
    )
    # Asked for once the typed username has too many failed sign-ins (auth.login).
    totp_next = StringField(
        _l("The next code, once your app shows a new one"),
        validators=[Optional(), Length(max=20)],
    )


class _Enrollment(BoundedForm):
    # No secret field: the TOTP seed being enrolled is kept server-side (auth.py), so a
    # posted value cannot choose it (issue 15).
    totp = StringField(
        _l("Code from your authenticator app"), validators=[InputRequired(), Length(max=20)]
    )


class ActivationForm(_Enrollment):
    password = PasswordField(
        _l("New password (at least 12 characters)"),
        validators=[InputRequired(), Length(max=1000)],
        widget=_KEPT,
    )
    password_confirm = PasswordField(
        _l("The same password again"), validators=[InputRequired(), Length(max=1000)], widget=_KEPT
    )


class TotpEnrollmentForm(_Enrollment):
    password = PasswordField(
        _l("Your current password"), validators=[InputRequired(), Length(max=1000)], widget=_KEPT
    )


class PasswordChangeForm(BoundedForm):
    current = PasswordField(
        _l("Current password"), validators=[InputRequired(), Length(max=1000)], widget=_KEPT
    )
    # Asked for once the account has too many wrong passwords (auth.account), as at sign-in.
    totp = StringField(
        _l("Code from your authenticator app"), validators=[Optional(), Length(max=20)]
    )
    totp_next = StringField(
        _l("The next code, once your app shows a new one"),
        validators=[Optional(), Length(max=20)],
    )
    password = PasswordField(
        _l("New password (at least 12 characters)"),
        validators=[InputRequired(), Length(max=1000)],
        widget=_KEPT,
    )
    password_confirm = PasswordField(
        _l("The same password again"), validators=[InputRequired(), Length(max=1000)], widget=_KEPT
    )


class OpenPgpKeyField(TextAreaField):
    """Where a person pastes their OpenPGP public key (issue 19). A private key pasted
    instead is refused beside the field and never rendered back into the page, whatever
    else is wrong with the form (as :class:`RecipientField`): the field comes back
    empty. The service refuses it too (:func:`sipadu.services.openpgp.read_public_key`)."""

    def _value(self) -> str:  # as TextAreaField's, which the stubs do not declare
        value = "" if self.data is None else str(self.data)
        return "" if is_private_openpgp_key(value) else value

    def pre_validate(self, form: object) -> None:
        if is_private_openpgp_key(self.data or ""):
            raise ValidationError(message(ServiceError(Reason.OPENPGP_KEY_SECRET)))


class DigestForm(BoundedForm):
    """The daily digest's address and choices, on the account page (issue 19). The
    address and key are checked by the service (:mod:`sipadu.services.notifications`),
    which says what is wrong beside the field; the lengths here only bound the form."""

    address = StringField(_l("E-mail address"), validators=[Optional(), Length(max=320)])
    always_send = BooleanField(_l("Send the digest every day, even when nothing waits for me"))
    openpgp_key = OpenPgpKeyField(
        _l("OpenPGP public key (optional)"),
        validators=[Optional(), Length(max=MAX_OPENPGP_KEY_BYTES)],
    )
    drop_openpgp = BooleanField(_l("Stop encrypting the digest to my OpenPGP key"))


class ConfirmCodeForm(BoundedForm):
    """The code mailed to a new digest address, typed on the account page (issue 19);
    checked by :mod:`sipadu.services.confirmation`."""

    code = StringField(_l("Confirmation code"), validators=[Optional(), Length(max=32)])


class ActionForm(BoundedForm):
    """A button that changes something: CSRF only."""


NOT_CONFIRMED = _l(
    "Nothing was changed: tick the box beside the button to confirm, then send again."
)


class ConfirmForm(BoundedForm):
    """A button that takes something away or gives access: it works only with the box
    beside it ticked (the template's ``confirm_box``), so a slip of the finger changes
    nothing. No JavaScript: the server refuses the form without the tick."""

    confirm = BooleanField(_l("Yes, I am sure"), validators=[DataRequired(message=NOT_CONFIRMED)])
    # Which of a page's like buttons sent the form (a holder to revoke, a link to
    # remove), set by the view: its refusal is shown beside that button only.
    target: uuid.UUID | None = None


def not_confirmed(form: BoundedForm) -> bool:
    """Whether ``form`` failed only because its box was not ticked."""
    return set(form.errors) == {"confirm"}


class MayGrantForm(ConfirmForm):
    """The sharing switch sends the value it sets, never "the other one": a form sent
    twice (a double click, a resend after a timeout) leaves what the admin saw."""

    allowed = HiddenField(validators=[InputRequired(), AnyOf(["yes", "no"])])


class CreateAccountForm(BoundedForm):
    username = StringField(_l("Username"), validators=[InputRequired(), Length(max=64)])
    display_name = StringField(_l("Full name"), validators=[Optional(), Length(max=128)])
    roles = SelectMultipleField(
        _l("Roles"),
        choices=[SelectChoice(value, label) for value, label in ROLE_LABELS.items()],
        validators=[DataRequired(message=_l("Choose at least one role."))],
        option_widget=CheckboxInput(),
        widget=ListWidget(prefix_label=False),
    )


ROLE_CHOICES = [SelectChoice(value, label) for value, label in ROLE_LABELS.items()]


class RoleForm(ConfirmForm):
    role = SelectField(_l("Role"), choices=ROLE_CHOICES)


class RouteForm(BoundedForm):
    account = SelectField(_l("Investigator"), choices=[], validate_choice=True)


class AuditFilterForm(BoundedForm):
    """GET filters of the log: no CSRF (nothing changes)."""

    class Meta:
        csrf = False

    actor = StringField(
        _l("Actor (username or account id)"), validators=[Optional(), Length(max=64)]
    )
    action = SelectField(_l("Action"), choices=[], validate_choice=False)
    report = StringField(_l("Report id"), validators=[Optional(), Length(max=36)])
    since = DateField(_l("From (date)"), validators=[Optional()])
    until = DateField(_l("Until (date, inclusive)"), validators=[Optional()])


class VerifyForm(BoundedForm):
    checkpoints = MultipleFileField(_l("Checkpoint files you kept"), validators=[DataRequired()])


CASE_FIELD_LABELS = {
    "what": _l("What happened"),
    "who": _l("Who was involved"),
    "where": _l("Where"),
    "when": _l("When"),
    "how": _l("How it happened"),
    "estimated_loss": _l("Estimated loss"),
}
# Reporter activity counted per day (audit.ReporterMetric), as auditors and admins read it.
METRIC_LABELS = {
    "report_submitted": _l("Reports received"),
    "report_unrouted": _l("Reports no investigator was set to receive"),
    "report_refused_ceiling": _l("Reports refused: hourly limit reached"),
    "mailbox_login": _l("Mailbox sign-ins"),
    "mailbox_login_failed": _l("Failed mailbox sign-ins"),
    "message_sent": _l("Messages from reporters"),
    "passphrase_changed": _l("Mailbox passphrases changed"),
    "escalation": _l("Reports their reporter forwarded to an outside agency"),
}
DEADLINE_LABELS = {
    "ack_soon": _l("Acknowledgement due within 3 working days"),
    "ack_overdue": _l("Acknowledgement overdue"),
    "feedback_soon": _l("Feedback due within 3 working days"),
    "feedback_overdue": _l("Feedback overdue"),
    "follow_up_soon": _l("Referral: the agency's response due within 3 working days"),
    "follow_up_overdue": _l("Referral: the agency's response overdue"),
    "on_time": _l("On time"),
}
PRIORITY_LABELS = {
    Priority.HIGH.value: _l("High"),
    Priority.NORMAL.value: _l("Normal"),
    Priority.LOW.value: _l("Low"),
}
LINK_KIND_LABELS = {
    LinkKind.RELATED.value: _l("Related report"),
    LinkKind.DUPLICATE.value: _l("Duplicate: the same matter"),
}


class CaseFilterForm(BoundedForm):
    """GET filters of the report list: no CSRF (nothing changes)."""

    class Meta:
        csrf = False

    status = SelectField(
        _l("Status"),
        default="",
        choices=[SelectChoice("", _l("Any status"))]
        + [SelectChoice(k, v) for k, v in STATUS_LABELS.items()],
    )
    category = SelectField(_l("Category"), choices=[], validate_choice=False)
    deadline = SelectField(
        _l("Deadline"),
        default="",
        choices=[SelectChoice("", _l("Any"))]
        + [SelectChoice(k, v) for k, v in DEADLINE_LABELS.items()],
    )
    priority = SelectField(
        _l("Priority"),
        default="",
        choices=[SelectChoice("", _l("Any"))]
        + [SelectChoice(k, v) for k, v in PRIORITY_LABELS.items()],
    )
    label = StringField(_l("Label"), validators=[Optional(), Length(max=MAX_LABEL_CHARS)])
    unread = BooleanField(_l("Only with unread messages"))
    spam = BooleanField(_l("Only reports marked as spam"))


SEARCH_SOURCE_LABELS = {  # sipadu.services.search.SOURCES
    "title": _l("title"),
    "fields": _l("report fields"),
    "messages": _l("messages"),
    "notes": _l("internal notes"),
}


class SearchForm(BoundedForm):
    """A search of one's own reports. Posted (with CSRF), never a GET: the words would
    otherwise be in the address, so in access logs, browser history and bookmarks."""

    q = StringField(_l("Search your reports"), validators=[InputRequired(), Length(max=200)])
    after = HiddenField()


class ReplyForm(BoundedForm):
    body = TextAreaField(
        _l("Message to the reporter"), validators=[InputRequired(), Length(max=20000)]
    )
    # Last in the form: its text is read before any file (sipadu/web/formdata.py).
    attachments = MultipleFileField(_l("Files for the reporter (optional)"))


# The report page holds several forms whose fields share a name (``body``, ``reason``,
# ``confirm``); each but one gets an id of its own, or a label would name (and a click on
# it fill) another form's field: an internal note typed into the reply to the reporter.


class NoteForm(BoundedForm):
    body = TextAreaField(
        _l("Internal note (never shown to the reporter)"),
        validators=[InputRequired(), Length(max=20000)],
        id="note-body",
    )


class StatusForm(BoundedForm):
    # "Referred" is reached only by referring the report (its own form, issue 20).
    status = SelectField(
        _l("New status"),
        choices=[
            SelectChoice(k, v) for k, v in STATUS_LABELS.items() if k != ReportStatus.REFERRED.value
        ],
        validators=[InputRequired(message=_l("Choose the new status."))],
    )
    reason = TextAreaField(
        _l("Reason (required to close or reject; the reporter reads it)"),
        validators=[Optional(), Length(max=5000)],
    )
    # Closing and rejecting end the casework and tell the reporter: those need the tick.
    confirm = BooleanField(
        _l("Yes, close or reject this report: the reporter is told, with the reason")
    )

    def validate_confirm(self, field: BooleanField) -> None:
        if self.status.data in CLOSING and not field.data:
            raise ValidationError(_l("To close or reject a report, tick the box to confirm."))


class SpamForm(BoundedForm):
    """Marking a report as spam hides it from every holder's list: confirmed with a tick
    (no JavaScript needed)."""

    confirm = BooleanField(
        _l("Yes, this report is junk: hide it from the report list"),
        validators=[
            DataRequired(message=_l("Tick the box to confirm, or leave the report as it is."))
        ],
        id="spam-confirm",
    )


class ReopenForm(BoundedForm):
    """Its own field name: the identity request's ``reason`` can be on the same page."""

    reopen_reason = TextAreaField(
        _l("Why the report is reopened (required; the reporter reads it in the mailbox)"),
        validators=[InputRequired(), Length(max=5000)],
    )


class LabelsForm(BoundedForm):
    labels = StringField(
        _l("Labels, separated by commas (only investigators who hold this report see them)"),
        validators=[Optional(), Length(max=MAX_LABELS * (MAX_LABEL_CHARS + 2))],
    )
    priority = SelectField(
        _l("Priority"),
        default=Priority.NORMAL.value,
        choices=[SelectChoice(k, v) for k, v in PRIORITY_LABELS.items()],
    )
    # Saving an empty field erases every label: the service asks for this tick then
    # (casework.set_labels, ``ERASE_NOT_CONFIRMED``).
    confirm = BooleanField(
        _l("Yes, remove every label of this report if I leave the field empty"),
        id="labels-confirm",
    )


class LeadForm(BoundedForm):
    lead = SelectField(_l("Lead investigator"), choices=[], validate_choice=False)


class LinkForm(BoundedForm):
    other = StringField(
        _l("The other report: its id, or the address of its page"),
        validators=[InputRequired(), Length(max=300)],
    )
    kind = SelectField(
        _l("How they are related"),
        default=LinkKind.RELATED.value,
        choices=[SelectChoice(k, v) for k, v in LINK_KIND_LABELS.items()],
    )


class UnlinkForm(ConfirmForm):
    """Remove a link (confirmed with the tick beside its button): the other report is
    in the address; a refusal shows beside that link's button."""


class RecuseForm(BoundedForm):
    """Stepping down from a report takes it away at once: confirmed with a tick."""

    confirm = BooleanField(
        _l("Yes, I step down: end my access to this report now"),
        validators=[DataRequired(message=_l("Tick the box to confirm, or keep the report."))],
    )


class GrantForm(ConfirmForm):
    colleague = SelectField(_l("Colleague"), choices=[], validate_choice=False)


class IdentityRequestForm(BoundedForm):
    reason = TextAreaField(
        _l("Why the reporter's identity is needed"),
        validators=[InputRequired(), Length(max=5000)],
        id="identity-reason",
    )


class RecipientField(StringField):
    """Where an age recipient (``age1…``, public) is typed. A private key pasted there
    instead is refused with a plain warning and never rendered back into the page
    (review of issue 17, finding 5): the field comes back empty."""

    def _value(self) -> str:  # as StringField's, which the stubs do not declare
        value = "" if self.data is None else str(self.data)
        return "" if is_private_key(value) else value

    def pre_validate(self, form: object) -> None:
        if is_private_key(self.data):
            raise ValidationError(message(ServiceError(Reason.PRIVATE_KEY_NOT_RECIPIENT)))


class ExportForm(BoundedForm):
    """The export form (POSTed with CSRF; a GET query is read with ``csrf`` off). ``to``
    is a registered recipient's id (choices set by the view); ``recipient`` an
    ``age1…`` typed in (the advanced option)."""

    to = RadioField(_l("Encrypt to"), choices=[], validate_choice=False)
    recipient = RecipientField(
        _l("Another public key to encrypt the export to (an age key, starting with age1)"),
        validators=[Optional(), Length(max=200)],
    )
    plaintext = BooleanField(_l("No encryption"))
    confirm = BooleanField(_l("I confirm: the export will be readable by anyone who gets the file"))

    def asked(self, args: Mapping[str, str]) -> bool:
        """Whether ``args`` (a query string) ask for an export: they name one of this
        form's fields. Anything else there (``lang``) chooses words, never an action."""
        return any(name in args for name in self._fields)


# What a referral's bundle may hold (sipadu.services.referral.PARTS), as the form and
# the case page say it.
PART_LABELS = {
    "field:title": _l("Title"),
    **{f"field:{name}": label for name, label in CASE_FIELD_LABELS.items()},
    "field:status_reason": _l("Reason given to the reporter"),
    "field:unit": _l("Unit concerned"),
    "field:intake": _l("How it came in (an operator's office and username)"),
    "messages": _l("Messages with the reporter"),
    "attachments": _l("Files"),
    "attachment_names": _l("The files' own names (without them: file.pdf, file.jpg…)"),
    "identity": _l("Reporter's identity"),
    "notes": _l("Internal notes"),
}
assert set(PART_LABELS) == set(PARTS)


class ReferForm(ConfirmForm):
    """Refer a report to an agency of the registry (issue 20): ``to`` is a registered
    recipient's id (the view offers them; the service checks it), ``include`` the parts
    the bundle keeps (ticked boxes; the service refuses names it does not know)."""

    to = RadioField(
        _l("Agency"),
        choices=[],
        validate_choice=False,
        validators=[InputRequired(message=_l("Choose the agency to refer the report to."))],
    )
    include = SelectMultipleField(
        _l("What the agency receives"),
        choices=[SelectChoice(part, PART_LABELS[part]) for part in PARTS],
        default=[part for part in PARTS if part not in OUT_BY_DEFAULT],
        validate_choice=False,
    )
    refer_reason = TextAreaField(
        _l("Words for the reporter (optional; shown in the mailbox under the referral)"),
        validators=[Optional(), Length(max=5000)],
    )


class ResponseForm(BoundedForm):
    """The agency's answer to one referral (``target``: which, set by the view)."""

    response = TextAreaField(
        _l("The agency's response (only holders of this report read it)"),
        validators=[InputRequired(), Length(max=20000)],
    )
    target: uuid.UUID | None = None


class BundleForm(ActionForm):
    """Download a referral's bundle (``target``: which referral, set by the view)."""

    target: uuid.UUID | None = None


class PrintForm(BoundedForm):
    """GET options of the printable case file (nothing changes; the read is recorded)."""

    class Meta:
        csrf = False

    notes = BooleanField(_l("Include the internal notes"))


class RecipientForm(BoundedForm):
    """An admin proposes an export recipient: a name people recognise and its key."""

    name = StringField(
        _l("Name (for example Arsip Inspektorat, KPK, BPKP)"),
        validators=[InputRequired(), Length(max=100)],
    )
    recipient = RecipientField(
        _l("Public key for age, the file encryption tool (age1…), from the key's holder"),
        validators=[InputRequired(), Length(max=200)],
    )
    # escalation (issue 20): offered to reporters whose deadline passed (docs/escalation.md)
    offered_to_reporters = BooleanField(
        _l("Offer it to reporters whose report's deadline passed without an answer")
    )
    reporter_channel = StringField(
        _l("Where reporters upload the file on the agency's own site (https://…)"),
        validators=[Length(max=200)],
    )


class RecipientOfferForm(BoundedForm):
    """An admin proposes to offer a registered recipient to reporters, with the agency's
    upload address, or to stop (issue 20): applied once a second admin approves."""

    offered_to_reporters = BooleanField(_l("Offered to reporters"))
    reporter_channel = StringField(_l("Upload address"), validators=[Length(max=200)])


NOT_A_REPORT_ID = _l(
    "This is not a report id: type the 36 characters the investigator gave you, such as "
    "1b9d6bcd-bbfd-4b2d-9b5d-ab8dfbbd4bed."
)


class HoldForm(ConfirmForm):
    """Sent by one of two buttons, each naming its ``change``."""

    report = StringField(_l("Report id"), validators=[InputRequired(), Length(max=36)])
    change = SelectField(choices=[SelectChoice("set", "set"), SelectChoice("release", "release")])


class CoiStaffForm(BoundedForm):
    """An admin proposes a staff member for the conflict-of-interest team (coi, issue
    18): who, and in which role of the team."""

    account = SelectField(_l("Staff member"), choices=[], validate_choice=True)
    kind = SelectField(
        _l("Role in the team"),
        choices=[
            SelectChoice(
                "investigator", _l("Investigator of the team: reads and handles the reports")
            ),
            SelectChoice("custodian", _l("Custodian of the team: decides on identity requests")),
        ],
        validate_choice=True,
    )


class CoiExternalForm(RecipientForm):
    """An admin proposes an outside keyholder (BPKP, KPK) by its age public key."""


# --- categories and units that admins configure (issue 18) ---------------------------------


class CategoryWordsForm(BoundedForm):
    """A category's words in both languages (plain text: the service normalises and
    bounds them, :func:`sipadu.services.categories.checked_words`) and whether reporters
    may choose it. ``parent`` only when proposing a new one: "" for a top-level one."""

    parent = SelectField(_l("Place"), choices=[], validate_choice=True, default="")
    label_id = StringField(_l("Name in Bahasa Indonesia"), validators=[Length(max=400)])
    label_en = StringField(_l("Name in English"), validators=[Length(max=400)])
    description_id = TextAreaField(
        _l("What it covers, in Bahasa Indonesia"), validators=[Length(max=2000)]
    )
    description_en = TextAreaField(_l("What it covers, in English"), validators=[Length(max=2000)])
    examples_id = TextAreaField(_l("Example, in Bahasa Indonesia"), validators=[Length(max=2000)])
    examples_en = TextAreaField(_l("Example, in English"), validators=[Length(max=2000)])
    offered = BooleanField(_l("Reporters can choose it"), default=True)


class UnitForm(BoundedForm):
    """A new reported unit: its kind, name and (for a kecamatan, a kelurahan, an SKPD of
    a Kota Administrasi) the unit it belongs to."""

    kind = SelectField(_l("Kind"), choices=[], validate_choice=True)
    name = StringField(_l("Name"), validators=[Length(max=600)])
    parent = SelectField(_l("Belongs to"), choices=[], validate_choice=True, default="")


class UnitChangeForm(BoundedForm):
    """A unit renamed, or offered to reporters or not."""

    unit = SelectField(_l("Unit"), choices=[], validate_choice=True)
    name = StringField(_l("New name (or the same)"), validators=[Length(max=600)])
    offered = BooleanField(_l("Reporters can choose it"), default=True)


class UnitImportForm(BoundedForm):
    """Units from a CSV file, chosen or pasted: the pasted text is also where a refused
    file comes back, to be corrected in the page."""

    text = TextAreaField(_l("Or paste the file's lines here"), validators=[Length(max=300_000)])
    upload = FileField(_l("CSV file"))


class UnitRouteForm(ConfirmForm):
    """Route new reports concerning a unit (in every category, or in one) to an
    investigator, or stop: a change of who can read, so its box must be ticked."""

    unit = SelectField(_l("Unit concerned"), choices=[], validate_choice=True)
    category = SelectField(_l("Category"), choices=[], validate_choice=True, default="")
    account = SelectField(_l("Investigator"), choices=[], validate_choice=True)
    change = HiddenField(validators=[InputRequired(), AnyOf(["add", "remove"])])
