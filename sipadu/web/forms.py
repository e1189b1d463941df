"""The base of every form on both portals."""

from collections.abc import Mapping, Sequence
from typing import Any

from flask_babel import gettext as _
from flask_wtf import FlaskForm
from wtforms import Field
from wtforms.validators import Length

from sipadu.web.formdata import truncated_fields
from sipadu.web.language_switch import switching
from sipadu.web.wtforms_words import CATALOGUE, Catalogue


class BoundedForm(FlaskForm):
    """A form whose text fields may have arrived cut (:func:`sipadu.web.formdata.
    truncated_fields`: longer than one field or all the text of a request may be).
    Such a form is never valid: each cut field says that only its first part arrived,
    shows that part, and says how far to shorten it. Nothing typed is lost to an
    error page (G6), and no view ever stores a text that was silently shortened.

    WTForms' own messages ("This field is required.") come in the reader's language,
    from SIPADU's catalogue (:mod:`sipadu.web.wtforms_words`).

    In a language switch (:mod:`sipadu.web.language_switch`) every form is invalid,
    without an error: the view shows it again, as typed, and does nothing."""

    class Meta(FlaskForm.Meta):
        def get_translations(self, form: Any) -> Catalogue:
            return CATALOGUE

    def validate(self, extra_validators: Mapping[str, Sequence[Any]] | None = None) -> bool:
        if switching():
            return False
        valid = super().validate(extra_validators)
        cut = truncated_fields()
        for name in cut:
            if name in self._fields:
                self._fields[name].errors = [cut_message(self._fields[name])]
        return valid and not cut


def cut_message(field: Field) -> str:
    # As plain objects: the stubs type Length as a validator of string fields only, so
    # a check for it among any field's validators would otherwise find nothing to narrow.
    validators: Sequence[object] = field.validators
    limit = next((v.max for v in validators if isinstance(v, Length) and v.max > 0), None)
    arrived = _(
        "This text is too long to be received whole: only its first part arrived and is "
        "shown here; the rest did not arrive."
    )
    if limit is None:
        return arrived + " " + _("Shorten it, then send again.")
    return (
        arrived
        + " "
        + _(
            "Shorten it to at most %(max)d characters (keep a copy of the rest), then send again.",
            max=limit,
        )
    )
