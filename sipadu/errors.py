"""Error pages: a clear page in the reader's language for every HTTP error, never a
stack trace, never the request's data."""

from flask import Flask, render_template
from flask_babel import gettext as _
from werkzeug.exceptions import HTTPException, InternalServerError


def _messages() -> dict[int, tuple[str, str]]:
    return {
        400: (
            _("Request not understood"),
            _(
                "The form could not be accepted, perhaps because it was open for a long time "
                "or was sent twice. Go back, reload the page and try again."
            ),
        ),
        403: (_("Not allowed"), _("You do not have access to this page.")),
        404: (_("Page not found"), _("There is no page at this address.")),
        405: (_("Not allowed"), _("This page cannot be used that way.")),
        409: (_("Not done"), _("This change was not made. Nothing was changed. Reason:")),
        413: (
            _("Too large"),
            _(
                "What you sent is larger than the limit. Nothing of this request was kept. "
                "Send smaller or fewer files."
            ),
        ),
        429: (_("Too many attempts"), _("Please wait a while before trying again.")),
        500: (
            _("Something went wrong"),
            _(
                "The server could not finish this request. Nothing you sent is shown to anyone "
                "because of this error. Please try again later."
            ),
        ),
        503: (
            _("Busy"),
            _("The server is busy right now. Nothing was lost. Please try again in a minute."),
        ),
    }


def _render(error: HTTPException):
    code = error.code or 500
    title, message = _messages().get(code, (error.name, ""))
    # Only a 409 carries a reason of ours (a refused staff change); other descriptions are
    # Werkzeug's, in English, and say nothing the title does not.
    reason = error.description if code == 409 else None
    return render_template(
        "error.html", code=code, title=title, message=message, reason=reason
    ), code


def register(app: Flask) -> None:
    app.register_error_handler(HTTPException, _render)
    app.register_error_handler(InternalServerError, _render)
