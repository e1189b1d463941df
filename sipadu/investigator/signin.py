"""Who is signed in to the staff portal: the session cookie's two halves, loaded before
every request from the server-side session row, and the sign-in failure counter's name
for a typed username."""

import base64
import hmac

from flask import g, session

from sipadu.investigator.blueprint import now, runtime
from sipadu.services.staff_auth import SessionToken, SignedIn, resume, touch
from sipadu.web.context import transaction

_ID, _KEY = "staff_session", "staff_key"


def limit_key(typed_username: str) -> str:
    """The failure counter of a typed username: a keyed hash, so the rate-limit store
    (Redis) never holds the name, and unknown names are counted exactly like real ones
    (no enumeration). Over its limit, sign-in asks for two codes instead of refusing."""
    name = typed_username.strip().lower()[:64].encode("utf-8")
    return hmac.new(runtime().failures_key, b"staff-login\x00" + name, "sha256").hexdigest()[:32]


def begin_session(signed_in: SignedIn) -> None:
    session.clear()  # a fresh cookie (and CSRF token) at sign-in: the id rotates
    session[_ID] = base64.urlsafe_b64encode(signed_in.token.id).decode()
    session[_KEY] = base64.urlsafe_b64encode(signed_in.token.key).decode()
    session.permanent = False


def _token() -> SessionToken | None:
    try:
        return SessionToken(
            base64.urlsafe_b64decode(session[_ID]), base64.urlsafe_b64decode(session[_KEY])
        )
    except (KeyError, ValueError, TypeError):
        return None


def load_signed_in() -> None:
    """Before every request: ``g.staff``, the signed-in staff member, or None."""
    g.staff = None
    token = _token()
    if token is None:
        return
    rt = runtime()
    moment = now()
    with transaction() as reading:
        signed_in, needs_write = resume(reading, token, moment, rt.timeouts)
    if needs_write:
        with transaction(write=True) as writing:
            touch(writing, token, moment, rt.timeouts)
    if signed_in is None:
        session.clear()
    g.staff = signed_in
