"""Switching language on a page that answers a POST, on both portals, without losing
what was typed (G6; issue 16 item 2 for the reporter, the review of issue 17, finding 1,
for staff).

A language is chosen by ``?lang=`` in the address (:mod:`sipadu.web.i18n`). On a page
that answers a GET, a link to ``?lang=…`` shows the same page. On a page that answers a
POST (a refusal, search results), such a link is a GET of an address that may take only
POSTs (405) and would drop what the page holds. There the switch is a submit button
(``name="switch_language"``, ``formaction`` with ``?lang=``) of a form: the page's own
form where the template names one (``form_languages`` in ``_macros.html``), else a
hidden copy of the fields that were posted (:func:`reposted_fields`, drawn by
``base.html`` on staff pages; the reporter's pages answering a POST all name their form,
and decide what comes back: a reply already sent must not). A POST carrying the switch
is never acted on: every form is invalid in it (:class:`sipadu.web.forms.BoundedForm`),
so the view shows its form again with what was typed, now in the other language, and
answers 200 (:func:`refused_status`).

Secrets are never copied into a page: fields named like a password, TOTP code,
passphrase, code or token, and any value holding a private key, are left out (typed
again). Files cannot come back either (a browser never refills a file input).
"""

from flask import request

from sipadu.services.export_recipients import is_private_key

SWITCH = "switch_language"

_SECRET_NAMES = ("password", "totp", "passphrase", "code", "token", "secret")


def switching() -> bool:
    """Whether this request is a language switch of a posted form."""
    return request.method == "POST" and SWITCH in request.form


def refused_status(status: int = 400) -> int:
    """The status of a page that shows its form again: 200 for a language switch (nothing
    was wrong), else ``status``."""
    return 200 if switching() else status


def reposted(rule_methods: frozenset[str] | set[str] | None) -> bool:
    """Whether this page's language switch must post again: it answers a POST at an
    address that takes no GET."""
    return request.method == "POST" and rule_methods is not None and "GET" not in rule_methods


def reposted_fields() -> list[tuple[str, str]]:
    """The posted fields a language switch sends again, in order: all but the CSRF token
    (the page adds a fresh one), the switch itself and secrets (see the module)."""
    return [
        (name, value)
        for name, value in request.form.items(multi=True)
        if name != SWITCH
        and not any(word in name.lower() for word in _SECRET_NAMES)
        and not is_private_key(value)
    ]
