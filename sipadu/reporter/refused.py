"""A refused form token never costs what the reporter typed (G6, issue 16 item 5).

Flask-WTF refuses a form whose token does not belong to the browser's session; the
portal's 400 page then blamed a form "open for a long time", which never happens here
(tokens do not expire by time), and everything typed was gone. The real causes are
named (:class:`~sipadu.web.formdata.TokenProblem`) and the form comes back, fresh token
and all, with the text as it arrived: the body's text fields are read after a refused
token within the usual bounds, its files never (:mod:`sipadu.web.formdata`).

Not for a post from another site (``Sec-Fetch-Site: cross-site``; with ``SameSite=Strict``
it carries no session anyway) nor one without a token: a form of another site must not
be able to fill ours in for a visitor to send. Those get the plain 400 page.
"""

from collections.abc import Callable

from flask import request
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from sipadu.reporter.blueprint import bp
from sipadu.reporter.mailbox import (
    escalation_again,
    login_again,
    message_again,
    transcript_again,
)
from sipadu.reporter.passphrase import passphrase_again
from sipadu.reporter.views import report_again
from sipadu.web.errors import error_page
from sipadu.web.formdata import TokenProblem, chosen_files, files_waiting, token_problem

# The forms that come back with what was typed, by endpoint.
_FORMS: dict[str, Callable[[str], tuple[str, int]]] = {
    "reporter.report": report_again,
    "reporter.mailbox_message": message_again,
    "reporter.mailbox_login": login_again,
    "reporter.mailbox_transcript": transcript_again,
    "reporter.mailbox_passphrase": passphrase_again,
    "reporter.mailbox_escalate": escalation_again,  # issue 20: the choice kept
}


def why(problem: TokenProblem) -> str:
    """The cause, in plain words, and that nothing was sent."""
    return {
        TokenProblem.OTHER_SESSION: lambda: _(
            "This form was opened before you signed in to your mailbox or left it, perhaps "
            "in another tab or window. To protect you, a form is accepted only in the "
            "session it was opened in, so nothing was sent. If you use several mailboxes, "
            "check that this is the one you meant."
        ),
        TokenProblem.NO_SESSION: lambda: _(
            "Your browser no longer has the session this form was opened in: it was closed "
            "and opened again, its cookies were deleted (for example by Tor Browser's “New "
            "Identity”), or you left your mailbox in another tab. To protect you, nothing "
            "was sent."
        ),
        TokenProblem.FOREIGN: lambda: _(
            "This form was opened before the server's keys were changed, or it was altered "
            "on the way. To protect you, nothing was sent."
        ),
        TokenProblem.NO_TOKEN: lambda: _("This form was incomplete, so nothing was sent."),
    }[problem]()


@bp.app_errorhandler(CSRFError)
def refused_token(error: CSRFError) -> ResponseReturnValue:
    problem = token_problem()
    again = _FORMS.get(request.endpoint or "")
    if (
        again is None
        or problem is TokenProblem.NO_TOKEN
        or request.headers.get("Sec-Fetch-Site") == "cross-site"
    ):
        return error_page(error)
    notice = why(problem) + " " + _("Everything you typed is kept below: check it and send again.")
    if files_waiting() or chosen_files():
        notice += " " + _("The files you had chosen were not received: choose them again.")
    try:
        return again(notice)
    except HTTPException as moved:  # a redirect raised on the way (a mailbox that must
        return moved.get_response()  # take its new code first: reporter.mailbox.signed_in)
