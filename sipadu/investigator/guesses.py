"""One guess limiter for every staff password proof: the sign-in form, a TOTP
enrollment link (``/enroll/<token>``) and the "current password" of a password change
(``/account``) take their places from the same per-account budget
(``SIPADU_STAFF_FAILURES_PER_ACCOUNT``, keyed by :func:`account_key`), so guesses
through different routes add up (issue 15, item 2; G7, G8).

A place is taken atomically once a derivation slot is held and before the Argon2id
derivation, and given back when the proof succeeded: only failures use a budget up
(:mod:`sipadu.persistence.counters`).

Nobody holding the right secrets is locked out by strangers filling the budget; each
route keeps sign-in's way of ensuring it:

- sign-in: a recognised device has a budget of its own; past the account's budget, an
  attempt needs two codes of consecutive steps (:mod:`.auth`, :mod:`.devices`);
- a password change: past the account's budget, the same two codes (the person is
  signed in and holds the app; a borrowed session without the phone learns nothing);
- a TOTP enrollment link: its holder has no app (that is why the link exists), so
  holding a live link is the extra secret: past the account's budget, attempts take
  from the account's *link budget* (:func:`link_key`), which strangers without a link
  cannot reach. It is one per account, not one per link: a new link (an admin may press
  "reset authenticator" again, alone for a role that is not sensitive) brings no fresh
  guesses, so link holders together get at most twice the budget per window, and every
  wrong password is an entry in the log. The price: an admin holding a link for the
  account can spend that budget and make the person with the right password wait for
  the window (an hour by default); every such guess is in the log under the link.
"""

import hmac
from dataclasses import dataclass

from flask import current_app

from sipadu.investigator.blueprint import runtime
from sipadu.investigator.signin import limit_key
from sipadu.persistence.counters import Counters


@dataclass(frozen=True)
class Place:
    """A place taken in a budget: give it back if the proof succeeds."""

    key: str
    token: str


def _counters() -> Counters:
    counters: Counters = current_app.extensions["sipadu.counters"]
    return counters


def account_key(username: str) -> str:
    """The account's budget: the one sign-in uses for its username (a keyed hash)."""
    return limit_key(username)


def link_key(username: str) -> str:
    """The budget of whoever holds a live one-time link of the account, for once the
    account's own is spent: one per account across all its links (a keyed hash)."""
    name = username.strip().lower()[:64].encode("utf-8")
    return hmac.new(runtime().failures_key, b"staff-link\x00" + name, "sha256").hexdigest()[:32]


def has_room(key: str) -> bool:
    """Whether ``key``'s budget has a place left (takes nothing)."""
    return _counters().test(runtime().failures_per_account, key)


def take_place(key: str, *, force: bool = False) -> Place | None:
    """Take a place in ``key``'s budget, or None when it is spent. ``force``: counted
    even over the budget (an attempt allowed by two codes)."""
    token = _counters().take(runtime().failures_per_account, key, force=force)
    return None if token is None else Place(key, token)


def give_back(place: Place) -> None:
    """The proof succeeded: its place is returned."""
    _counters().give_back(runtime().failures_per_account, place.key, place.token)
