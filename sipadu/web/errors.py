"""Error pages: a clear page in the reader's language for every HTTP error, never a
stack trace, never the request's data."""

from collections.abc import Callable

from flask import Flask, render_template
from flask_babel import gettext as _
from werkzeug.exceptions import HTTPException, InternalServerError

from sipadu.web.i18n import DEFAULT, LANGUAGES


def _messages() -> dict[int, tuple[str, str]]:
    return {
        400: (
            _("Request not understood"),
            _(
                "The form could not be accepted. It may belong to an earlier session of your "
                "browser (you signed in or out since, perhaps in another tab, or the browser "
                "was closed or its cookies deleted), or it arrived incomplete. Go back with "
                "your browser's Back button and copy what you typed; then reload the page, "
                "paste it in and send again."
            ),
        ),
        403: (_("Not allowed"), _("You do not have access to this page.")),
        404: (_("Page not found"), _("There is no page at this address.")),
        405: (_("Not allowed"), _("This page cannot be used that way.")),
        409: (_("Not done"), _("The request was not carried out. The reason:")),
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


def error_page(error: HTTPException) -> tuple[str, int, dict[str, str]]:
    """The error page for ``error``, in the reader's language."""
    code = error.code or 500
    title, message = _messages().get(code, (error.name, ""))
    # Only a 409 carries a reason of ours (a refused staff change); other descriptions are
    # Werkzeug's, in English, and say nothing the title does not.
    reason = error.description if code == 409 else None
    # The error's own headers that matter to a client: Retry-After on a "busy" 503.
    headers = {k: v for k, v in error.get_headers() if k in ("Retry-After", "Allow")}
    return (
        render_template("error.html", code=code, title=title, message=message, reason=reason),
        code,
        headers,
    )


def integrity_failed() -> tuple[str, int]:
    """The page for an item that failed its integrity check (a file whose sealed details
    or key do not open with its own metadata): said plainly, never a 500, and nothing
    of the item is sent. A 409: the request was fine, the stored item is not."""
    return render_template(
        "error.html",
        code=409,
        title=_("Integrity check failed"),
        message=_(
            "This item failed its integrity check: it was changed in the database after it "
            "was written, so it is not shown."
        ),
        reason=None,
    ), 409


def register(app: Flask) -> None:
    app.register_error_handler(HTTPException, error_page)
    app.register_error_handler(InternalServerError, error_page)


def _refusals() -> dict[int, tuple[str, str]]:
    """The front's refusals (sipadu/hosting/front.py), given before a request reached the
    app: nothing of what was typed is on the server. They used to say the browser's Back
    button keeps it; it does not (every page is ``no-store``, so Chromium reloads the
    form empty: found in review), and the page now says what is true."""
    again = _(
        "Nothing of this request was kept. Press your browser's Back button: if the form "
        "there still shows what you typed, choose your files again and send it; if the "
        "form is empty, your browser did not keep your text, and it must be written again."
    )
    return {
        400: (
            _("Request not understood"),
            _("This page cannot be used that way.") + " " + again,
        ),
        408: (
            _("Connection too slow"),
            _("What you sent arrived too slowly.")
            + " "
            + again
            + " "
            + _("On a slow connection, keep a copy of a long text before you send it."),
        ),
        411: (_("Request not understood"), _("The request did not say its length.") + " " + again),
        503: (
            _("Busy, try again in a minute"),
            _("The service is very busy right now.") + " " + again,
        ),
    }


def refusal_pages(app: Flask) -> Callable[[int, str], tuple[list[tuple[bytes, bytes]], bytes]]:
    """The front's refusal pages, rendered once per status and language with the
    portal's own template and headers: ``pages(status, lang) -> (headers, body)``,
    headers as lower-case latin-1 bytes. An unknown language gets the default one."""
    rendered = {}
    for lang in LANGUAGES:
        with app.test_request_context("/", query_string={"lang": lang}):
            for code, (title, message) in _refusals().items():
                response = app.make_response(
                    (render_template("error.html", code=code, title=title, message=message), code)
                )
                response = app.process_response(response)
                headers = [
                    (name.lower().encode("latin-1"), value.encode("latin-1"))
                    for name, value in response.headers.items()
                    if name.lower() != "set-cookie"
                ]
                rendered[code, lang] = (headers, response.get_data())

    def pages(code: int, lang: str) -> tuple[list[tuple[bytes, bytes]], bytes]:
        return rendered[code, lang if lang in LANGUAGES else DEFAULT]

    return pages
