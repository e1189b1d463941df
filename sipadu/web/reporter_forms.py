"""The reporter's forms. Field names are a stable contract (DESIGN.md §5).

In the shared layer, not the reporter portal's package, because the staff portal's
intake form (:mod:`sipadu.investigator.intake_form`, an operator typing a report for
someone at a counter) is this report form plus a few fields: a field added here appears
on both (issue 18 item 1). The portals never import each other (tests/test_layers.py)."""

from typing import NamedTuple

from flask_babel import lazy_gettext as _l
from wtforms import (
    BooleanField,
    MultipleFileField,
    PasswordField,
    RadioField,
    SelectField,
    StringField,
    TextAreaField,
)

# SelectChoice is WTForms 3.3's (which deprecates choice tuples); types-WTForms is 3.2's.
from wtforms.fields.choices import SelectChoice  # type: ignore[attr-defined]
from wtforms.validators import AnyOf, InputRequired, Length, Optional, ValidationError
from wtforms.widgets import PasswordInput

from sipadu.persistence.models import CategorySlug
from sipadu.services.passphrases import (
    MIN_REPORTER_PASSPHRASE,
    PassphraseProblem,
    passphrase_problem,
)
from sipadu.services.transcript import Answer
from sipadu.web.forms import BoundedForm


class Described(NamedTuple):
    """A statutory category as the form shows it beside its choice."""

    label: str
    description: str  # one line
    examples: str


CATEGORIES = {
    CategorySlug.ABUSE_OF_AUTHORITY.value: Described(
        _l("Abuse of authority"),
        _l("An official uses their position for a purpose it was not given for."),
        _l("Example: a permit is refused unless the applicant hires a relative of the official."),
    ),
    CategorySlug.ADMINISTRATIVE_VIOLATION.value: Described(
        _l("Administrative violation"),
        _l("A procedure, rule or service standard of the city government is not followed."),
        _l(
            "Example: a service is charged above the official tariff or delayed far past the rules."
        ),
    ),
    CategorySlug.KKN.value: Described(
        _l("Corruption, collusion or nepotism (KKN)"),
        _l(
            "Bribes, kickbacks, rigged procurement, or jobs and contracts given to family "
            "and friends."
        ),
        _l("Example: a tender is arranged so that one company wins in return for a payment."),
    ),
    CategorySlug.STAFF_DISCIPLINE.value: Described(
        _l("Staff discipline violation"),
        _l("A civil servant breaks the rules of conduct or discipline."),
        _l("Example: an employee is paid but regularly does not come to work."),
    ),
}

# Why a chosen passphrase is refused, and the easy way out: the suggestion.
_PASSPHRASE_PROBLEMS = {
    PassphraseProblem.TOO_SHORT: _l(
        "Use at least %(n)d characters, or leave both fields empty to get a suggested passphrase.",
        n=MIN_REPORTER_PASSPHRASE,
    ),
    PassphraseProblem.COMMON: _l(
        "This passphrase is too easy to guess: it is built on a common password, a "
        "common word or name, or a name of this office. Leave both fields empty to get a "
        "suggested passphrase, or use four or more unrelated words."
    ),
    PassphraseProblem.REPEATED: _l(
        "This passphrase is too easy to guess: it repeats a character or a group of "
        "characters. Leave both fields empty to get a suggested passphrase, or use four "
        "or more unrelated words."
    ),
    PassphraseProblem.SEQUENCE: _l(
        "This passphrase is too easy to guess: it is a run like 12345 or abcde, or a row "
        "of the keyboard. Leave both fields empty to get a suggested passphrase, or use "
        "four or more unrelated words."
    ),
    PassphraseProblem.DATE: _l(
        "This passphrase is too easy to guess: it is built on a date or a year. Leave "
        "both fields empty to get a suggested passphrase, or use four or more unrelated "
        "words."
    ),
    PassphraseProblem.GUESSABLE: _l(
        "This passphrase is too easy to guess. Leave both fields empty to get a suggested "
        "passphrase, or use four or more unrelated words."
    ),
}

TEXT_LIMIT = 20_000
FIELD_LIMIT = 5_000


def _length(maximum: int) -> Length:
    return Length(max=maximum, message=_l("Please shorten this to at most %(max)d characters."))


def one_line_break(value: str | None) -> str | None:
    """Line breaks as the browser counted them. A browser counts a line break as one
    character against ``maxlength`` but sends it as two (CR LF, as HTML requires), so a
    text it let the reporter type to the limit arrived over it and was refused as too
    long. Stored with LF, counted as the browser counts. (The browser counts UTF-16 code
    units, an emoji as two, the server code points: a text the browser accepts is never
    longer here.)"""
    if value is None:
        return None
    return value.replace("\r\n", "\n").replace("\r", "\n")


TEXT = [one_line_break]  # the filters of every multi-line field


def check_chosen_passphrase(first: str | None, again: str | None) -> None:
    """The rules of a passphrase the reporter chooses (a new report's, a changed one):
    both fields blank asks for a suggestion; otherwise it must pass
    :func:`~sipadu.services.passphrases.passphrase_problem`. Raises ``ValidationError``
    with the reason and the way out."""
    if not first and not again:
        return  # both blank: a passphrase will be suggested
    if not first:
        raise ValidationError(_l("Type the passphrase here too, or leave both fields empty."))
    problem = passphrase_problem(first)
    if problem is not None:
        raise ValidationError(_PASSPHRASE_PROBLEMS[problem])


def check_passphrase_again(first: str | None, again: str | None) -> None:
    """The second field repeats the first (both blank: a suggestion)."""
    if (again or first) and again != first:
        raise ValidationError(_l("The two passphrases are not the same."))


class ReportForm(BoundedForm):
    category = RadioField(
        _l("What kind of violation is it?"),
        choices=[SelectChoice(slug, label) for slug, (label, _, _) in CATEGORIES.items()],
        validators=[InputRequired(message=_l("Choose the kind of violation."))],
    )
    # issue 18: admins configure sub-categories and units; the choices are read for each
    # page (sipadu/web/report_choices.py). Both optional; "" is "none / not sure".
    subcategory = SelectField(
        _l("More precisely (optional)"), choices=[SelectChoice("", "")], default=""
    )
    unit = SelectField(_l("Unit concerned (optional)"), choices=[SelectChoice("", "")], default="")
    title = StringField(
        _l("Short title"),
        validators=[InputRequired(message=_l("Give the report a short title.")), _length(200)],
    )
    what = TextAreaField(
        _l("What happened?"),
        filters=TEXT,
        validators=[InputRequired(message=_l("Describe what happened.")), _length(TEXT_LIMIT)],
    )
    who = TextAreaField(
        _l("Who was involved?"), filters=TEXT, validators=[Optional(), _length(FIELD_LIMIT)]
    )
    where = TextAreaField(
        _l("Where did it happen?"), filters=TEXT, validators=[Optional(), _length(FIELD_LIMIT)]
    )
    when = TextAreaField(
        _l("When did it happen?"), filters=TEXT, validators=[Optional(), _length(FIELD_LIMIT)]
    )
    how = TextAreaField(
        _l("How did it happen, and how do you know?"),
        filters=TEXT,
        validators=[Optional(), _length(FIELD_LIMIT)],
    )
    estimated_loss = StringField(
        _l("Estimated loss to the state (optional)"), validators=[Optional(), _length(200)]
    )
    identity = TextAreaField(
        _l("Your name or contact (optional)"), filters=TEXT, validators=[Optional(), _length(1000)]
    )
    # coi (issue 18): sealed as ``concerns_inspectorate``; routed to a separate team.
    concerns_inspectorate = BooleanField(_l("The report concerns staff of the Inspectorate itself"))
    attachments = MultipleFileField(_l("Evidence files (optional)"))
    # Typed values are kept when the form comes back with an error, passphrases too
    # (issue 16: a refusal keeps every typed field): the page is never cached and is
    # shown only to the one who typed it, and retyping is where mistakes happen. Staff
    # passwords are never sent back (investigator/forms.py).
    passphrase = PasswordField(_l("Passphrase"), widget=PasswordInput(hide_value=False))
    passphrase_confirm = PasswordField(
        _l("Passphrase again"), widget=PasswordInput(hide_value=False)
    )

    def validate_passphrase(self, field: PasswordField) -> None:
        check_chosen_passphrase(field.data, self.passphrase_confirm.data)

    def validate_passphrase_confirm(self, field: PasswordField) -> None:
        check_passphrase_again(self.passphrase.data, field.data)


class MailboxLoginForm(BoundedForm):
    code = StringField(
        _l("Report code"), validators=[InputRequired(message=_l("Enter your report code."))]
    )
    # Kept when the page comes back busy or over the limit (never cached); emptied when
    # the code or passphrase was wrong.
    passphrase = PasswordField(
        _l("Passphrase"),
        validators=[InputRequired(message=_l("Enter your passphrase."))],
        widget=PasswordInput(hide_value=False),
    )
    # A reply that arrived after the mailbox session ended, kept only in the page (the
    # sign-in form) until the reporter signs in again; never stored on the server.
    reply = TextAreaField(
        _l("Your reply (not sent yet)"),
        filters=TEXT,
        validators=[Optional(), _length(TEXT_LIMIT)],
    )


class MessageForm(BoundedForm):
    body = TextAreaField(
        _l("Your message"),
        filters=TEXT,
        validators=[InputRequired(message=_l("Write a message first.")), _length(TEXT_LIMIT)],
    )
    attachments = MultipleFileField(_l("Add files (optional)"))


class NewCodeForm(BoundedForm):
    """A new passphrase, twice, or both blank for a suggested one: the whole form of the
    new code a typed report's reporter takes at the first sign-in (issue 18; the code
    is drawn by the server), and the second half of :class:`PassphraseChangeForm`. No
    passphrase is ever sent back in a page (the fields hide their values)."""

    passphrase = PasswordField(_l("New passphrase"))
    passphrase_confirm = PasswordField(_l("New passphrase again"))

    def validate_passphrase(self, field: PasswordField) -> None:
        check_chosen_passphrase(field.data, self.passphrase_confirm.data)

    def validate_passphrase_confirm(self, field: PasswordField) -> None:
        check_passphrase_again(self.passphrase.data, field.data)


class PassphraseChangeForm(NewCodeForm):
    """A new passphrase for the mailbox (issue 18): the code and the current passphrase
    (checked as at sign-in), and the new one twice, or both blank for a suggested one.
    The page that comes back keeps the code only."""

    code = StringField(
        _l("Report code"), validators=[InputRequired(message=_l("Enter your report code."))]
    )
    current_passphrase = PasswordField(
        _l("Current passphrase"),
        validators=[InputRequired(message=_l("Enter your current passphrase."))],
    )


class TranscriptForm(BoundedForm):
    """The reporter's answer to a report an operator typed: the button pressed
    (``answer``: confirm or correct) and, to correct it, what should be different."""

    answer = StringField(validators=[AnyOf([a.value for a in Answer])])
    correction = TextAreaField(
        _l("What should be different?"),
        filters=TEXT,
        validators=[_length(TEXT_LIMIT)],  # required to correct: validate_correction
    )

    def validate_correction(self, field: TextAreaField) -> None:
        if self.answer.data == Answer.CORRECT and not (field.data or "").strip():
            raise ValidationError(_l("Write what should be corrected first."))


class EscalationForm(BoundedForm):
    """The reporter forwards their report to an outside agency (issue 20): which agency
    (its registry id, as the page's choices give it: checked by the service, so a
    tampered or removed one is a refusal in words), and whether their name or contact
    goes in the file."""

    agency = StringField(
        _l("Agency"),
        validators=[
            InputRequired(message=_l("Choose the agency the file is for.")),
            Length(max=64),
        ],
    )
    identity = BooleanField(_l("Put my name or contact in the file"))
