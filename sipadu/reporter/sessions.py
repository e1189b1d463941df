"""Mailbox sessions. The cookie holds two random values, a session id and a session key;
the volatile store holds, under a hash of the id, one blob sealed under a key derived
from the session key: which mailbox and report the session is for, the stamp of the
mailbox record it signed in with (a passphrase change ends every session with another:
:func:`sipadu.services.mailbox.is_current`), and the mailbox private key. Neither half
alone opens anything, whoever reads the store (a Redis dump, the tmpfs files) learns no
report, mailbox or code, and nothing reaches the database.

What an attacker could do if the ids were stored beside the sealed key, as they once
were: read from a Redis dump which reports have a reporter signed in right now (and, by
watching, when), though the server keeps no reporter activity times (G2)."""

import base64
import hashlib
import secrets
import uuid

from flask import current_app, g, session

from sipadu.crypto import (
    CryptoError,
    PrivateKey,
    derive_subkey,
    open_private_key,
    open_secret,
    seal_private_key,
    seal_secret,
)
from sipadu.persistence.volatile import VolatileStore
from sipadu.services.mailbox import OpenedMailbox

_ID, _KEY = "mailbox_session", "mailbox_key"
# The stored blob: 0x03 ‖ u16 length ‖ sealed ids (mailbox id ‖ report id ‖ record
# stamp) ‖ sealed key. (Version 2 sealed no stamp: such a session signs in again.)
_VERSION = 0x03
_IDS_LEN = 16 + 16 + 32
_SUBKEY_LABEL = "sipadu.mailbox-session.v2"


def _store_key(session_id: bytes) -> str:
    # Stored under a hash: whoever can read the store cannot present its keys as cookies.
    return hashlib.sha256(b"sipadu.mailbox-session\x00" + session_id).hexdigest()


def _owner(store_key: str) -> str:
    # Both sealed parts are bound to this slot of the store: a blob copied under another
    # session's key does not open, even by whoever holds both cookies.
    return f"mailbox-session/{store_key}"


def start_session(store: VolatileStore, opened: OpenedMailbox, idle_seconds: int) -> None:
    session.clear()  # a fresh cookie at login: nothing carried over from before
    # Flask-WTF keeps this request's token in g: a page rendered after signing in (a kept
    # reply, sipadu.reporter.mailbox) gets a token of the new session, not the old one.
    g.pop(current_app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token"), None)
    session_id, session_key = secrets.token_bytes(32), secrets.token_bytes(32)
    store_key = _store_key(session_id)
    key, owner = derive_subkey(session_key, _SUBKEY_LABEL), _owner(store_key)
    ids = seal_secret(
        key,
        opened.mailbox_id.bytes + opened.report_id.bytes + opened.stamp,
        owner=owner,
        purpose="session-ids",
    )
    sealed = seal_private_key(opened.private_key, key, owner=owner, purpose="session")
    blob = bytes([_VERSION]) + len(ids).to_bytes(2, "big") + ids + sealed
    store.put(store_key, blob, idle_seconds)
    session[_ID] = base64.urlsafe_b64encode(session_id).decode()
    session[_KEY] = base64.urlsafe_b64encode(session_key).decode()


def renew_session(store: VolatileStore, opened: OpenedMailbox, idle_seconds: int) -> None:
    """This browser's mailbox session replaced by a new one for ``opened`` (after a
    passphrase change: the new record's stamp), under a new session id and key; the
    old one is removed from the store. The rest of the cookie stays: its form secret
    too, so the change's page sent again (a reload, a double click) still passes its
    form check and shows what it showed (:mod:`sipadu.web.submissions`)."""
    forget_session(store)
    kept = {name: value for name, value in session.items() if name not in (_ID, _KEY)}
    start_session(store, opened, idle_seconds)
    session.update(kept)


def current_session(store: VolatileStore, idle_seconds: int) -> OpenedMailbox | None:
    """The signed-in mailbox, or None (never signed in, expired, logged out, tampered,
    or a session stored before sessions were sealed this way)."""
    try:
        session_id = base64.urlsafe_b64decode(session[_ID])
        session_key = base64.urlsafe_b64decode(session[_KEY])
    except (KeyError, ValueError):
        return None
    store_key = _store_key(session_id)
    blob = store.get(store_key, idle_seconds)
    if blob is None or len(blob) < 3 or blob[0] != _VERSION:
        return None
    split = 3 + int.from_bytes(blob[1:3], "big")
    key, owner = derive_subkey(session_key, _SUBKEY_LABEL), _owner(store_key)
    try:
        ids = open_secret(key, blob[3:split], owner=owner, purpose="session-ids")
        private: PrivateKey = open_private_key(blob[split:], key, owner=owner, purpose="session")
    except CryptoError:
        return None
    if len(ids) != _IDS_LEN:
        return None
    return OpenedMailbox(
        uuid.UUID(bytes=ids[:16]), uuid.UUID(bytes=ids[16:32]), private, stamp=ids[32:]
    )


def had_session() -> bool:
    """True if this browser's cookie names a mailbox session, alive or not: it signed
    in and has not left (an expired session is still named; logging out clears it)."""
    return _ID in session


def keep_alive(store: VolatileStore, idle_seconds: int) -> None:
    """Restart the idle clock of this browser's mailbox session, if it is still alive
    (an expired or ended one stays ended). Called when a request starts, while its files
    arrive and when it ends: the idle time is the time between requests, never the time
    one request takes (a reply written for 14 minutes and uploaded for 20 is not
    "idle")."""
    try:
        session_id = base64.urlsafe_b64decode(session[_ID])
    except (KeyError, ValueError):
        return
    store.touch(_store_key(session_id), idle_seconds)


def forget_session(store: VolatileStore) -> None:
    """Remove this browser's session from the store (its mailbox's passphrase was
    changed since it signed in), keeping the cookie: the browser still "had" a session,
    so a reply it sends now comes back on the sign-in page instead of being lost."""
    try:
        store.delete(_store_key(base64.urlsafe_b64decode(session[_ID])))
    except (KeyError, ValueError):
        pass


def end_session(store: VolatileStore) -> None:
    try:
        store.delete(_store_key(base64.urlsafe_b64decode(session[_ID])))
    except (KeyError, ValueError):
        pass
    session.clear()
