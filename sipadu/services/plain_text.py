"""Plain text that admins type for reporters and staff to read (category words, unit
names; issue 18): NFKC-normalised, whitespace collapsed, bounded, and free of the
characters that change how other text reads (controls, bidirectional overrides, private
use: a label could otherwise reverse the words beside it). Stored as typed, escaped when
shown (Jinja's autoescape): no markup is ever interpreted."""

import re
import unicodedata

from sipadu.accountability import audit
from sipadu.services import Reason, ServiceError

# Unicode general categories refused: control, format (bidi overrides, zero-width
# joiners), surrogate, private use, unassigned.
_REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn"})
_SPACES = re.compile(r"\s+")
# What a spreadsheet reads as a formula when it begins a cell (CSV injection; OWASP,
# "CSV Injection"): these names go into exports and files that admins open in one. Tab
# and CR cannot begin a stored text (whitespace is collapsed and trimmed); listed all the
# same, as OWASP lists them.
FORMULA_STARTS = frozenset("=+-@\t\r")


def plain(
    value: str, maximum: int, field: str, *, required: bool = True, recorded: bool = False
) -> str:
    """``value`` as stored: NFKC (so look-alike full-width letters and ligatures become
    the letters they show), every run of whitespace (line breaks too) one space, trimmed.
    Raises :class:`ServiceError` for ``field``: ``TEXT_REQUIRED`` (empty and
    ``required``), ``TEXT_TOO_LONG`` (``max``: more than ``maximum`` characters after
    normalising), ``TEXT_NOT_PLAIN`` (a control, format or private-use character),
    ``TEXT_NOT_RECORDABLE`` (``recorded``: a name the audit log records, which looks like
    what it never records: an IP address, a report code), ``TEXT_LIKE_FORMULA`` (it
    begins with one of :data:`FORMULA_STARTS`, after normalising: ``=cmd|…``, ``@SUM``,
    ``+1``, ``-1``)."""
    text = _SPACES.sub(" ", unicodedata.normalize("NFKC", value)).strip()
    if not text:
        if required:
            raise ServiceError(Reason.TEXT_REQUIRED, field)
        return ""
    if len(text) > maximum:
        raise ServiceError(Reason.TEXT_TOO_LONG, field, max=maximum)
    if any(unicodedata.category(c) in _REFUSED_CATEGORIES for c in text):
        raise ServiceError(Reason.TEXT_NOT_PLAIN, field)
    if text[0] in FORMULA_STARTS:
        raise ServiceError(Reason.TEXT_LIKE_FORMULA, field)
    if recorded:
        try:
            audit.check_detail({"name": text})
        except audit.AuditError:
            raise ServiceError(Reason.TEXT_NOT_RECORDABLE, field) from None
    return text


def same_words(a: str, b: str) -> bool:
    """Whether two names read the same to a person (case and spacing aside)."""
    return _SPACES.sub(" ", a).strip().casefold() == _SPACES.sub(" ", b).strip().casefold()
