"""WTForms' own messages, in SIPADU's catalogue: WTForms ships no Indonesian, and its
English ("This field is required.") showed on Indonesian pages (issue 15, review).

:class:`Catalogue` is what every form's ``Meta.get_translations`` returns
(:class:`sipadu.web.forms.BoundedForm`): it looks each message up in the reader's
language through Flask-Babel. The calls below only mark the messages that the fields
and validators SIPADU uses can give, so that ``make translations`` extracts them; they
are never called for their result. A message with a plural form is two entries, its
singular and its plural (Indonesian words both alike), so the catalogue keeps one
entry per text.
"""

from flask_babel import get_translations


def N_(message: str) -> str:  # Babel's default marker name
    return message


MESSAGES = (
    N_("This field is required."),
    N_("Field must be between %(min)d and %(max)d characters long."),
    N_("Field must be at least %(min)d character long."),
    N_("Field must be at least %(min)d characters long."),
    N_("Field cannot be longer than %(max)d character."),
    N_("Field cannot be longer than %(max)d characters."),
    N_("Field must be exactly %(max)d character long."),
    N_("Field must be exactly %(max)d characters long."),
    N_("Invalid value, must be one of: %(values)s."),
    N_("Not a valid choice."),
    N_("Invalid Choice: could not coerce."),
    N_("Invalid choice(s): one or more data inputs could not be coerced."),
    N_("'%(value)s' is not a valid choice for this field."),
    N_("'%(value)s' are not valid choices for this field."),
    N_("Not a valid date value."),
    N_("Not a valid integer value."),
    N_("Invalid input."),
)


class Catalogue:
    """WTForms' translations object (``gettext``/``ngettext``), answering in the
    language of the request being served. WTForms formats the result itself."""

    def gettext(self, string: str) -> str:
        return str(get_translations().ugettext(string))

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return self.gettext(singular if n == 1 else plural)


CATALOGUE = Catalogue()
