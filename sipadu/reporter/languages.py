"""The language switch of the reporter's forms (issue 16 item 2): a submit button of the
form itself (``name="switch_language"``, ``formaction`` with ``?lang=``), so the form
comes back in the other language with everything typed, without JavaScript and without
storing anything. Files cannot come back: a browser never refills a file input, and
keeping them would mean storing them; the page says so when some were chosen."""

from flask_babel import gettext as _

from sipadu.web.formdata import chosen_files, discard_files
from sipadu.web.language_switch import SWITCH
from sipadu.web.uploads import files_to_choose

__all__ = ["SWITCH", "switched_notice"]


def switched_notice() -> str:
    """Read and drop any files sent with the switch; the notice the page shows (naming
    the files to choose again)."""
    if discard_files():
        return _(
            "The language is changed and everything you typed is kept, except the files: "
            "a browser cannot keep chosen files when the page changes. Choose your files "
            "again before you send."
        ) + files_to_choose(chosen_files())
    return _("The language is changed. Everything you typed is kept.")
