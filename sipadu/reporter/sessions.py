"""Mailbox sessions. The cookie holds two random values, a session id and a session key;
the volatile store holds, under a hash of the id, the mailbox private key sealed under
that session key. Neither half alone opens anything, and nothing reaches the database."""

import base64
import hashlib
import json
import secrets
import uuid

from flask import session

from sipadu.crypto import CryptoError, PrivateKey, open_private_key, seal_private_key
from sipadu.persistence.volatile import VolatileStore
from sipadu.services.mailbox import OpenedMailbox

_ID, _KEY = "mailbox_session", "mailbox_key"


def _owner(mailbox_id: uuid.UUID) -> str:
    return f"mailbox-session/{mailbox_id}"


def _store_key(session_id: bytes) -> str:
    # Stored under a hash: whoever can read the store cannot present its keys as cookies.
    return hashlib.sha256(b"sipadu.mailbox-session\x00" + session_id).hexdigest()


def start_session(store: VolatileStore, opened: OpenedMailbox, idle_seconds: int) -> None:
    session.clear()  # a fresh cookie at login: nothing carried over from before
    session_id, session_key = secrets.token_bytes(32), secrets.token_bytes(32)
    sealed = seal_private_key(
        opened.private_key, session_key, owner=_owner(opened.mailbox_id), purpose="session"
    )
    payload = {
        "mailbox": str(opened.mailbox_id),
        "report": str(opened.report_id),
        "sealed": sealed.hex(),
    }
    store.put(_store_key(session_id), json.dumps(payload).encode(), idle_seconds)
    session[_ID] = base64.urlsafe_b64encode(session_id).decode()
    session[_KEY] = base64.urlsafe_b64encode(session_key).decode()


def current_session(store: VolatileStore, idle_seconds: int) -> OpenedMailbox | None:
    """The signed-in mailbox, or None (never signed in, expired, logged out, tampered)."""
    try:
        session_id = base64.urlsafe_b64decode(session[_ID])
        session_key = base64.urlsafe_b64decode(session[_KEY])
    except (KeyError, ValueError):
        return None
    raw = store.get(_store_key(session_id), idle_seconds)
    if raw is None:
        return None
    payload = json.loads(raw)
    mailbox_id = uuid.UUID(payload["mailbox"])
    try:
        private: PrivateKey = open_private_key(
            bytes.fromhex(payload["sealed"]),
            session_key,
            owner=_owner(mailbox_id),
            purpose="session",
        )
    except CryptoError:
        return None
    return OpenedMailbox(mailbox_id, uuid.UUID(payload["report"]), private)


def end_session(store: VolatileStore) -> None:
    try:
        store.delete(_store_key(base64.urlsafe_b64decode(session[_ID])))
    except (KeyError, ValueError):
        pass
    session.clear()
