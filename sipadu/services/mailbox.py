"""Opening a reporter's mailbox with code + passphrase (G7).

Every attempt does exactly the same work, whatever is wrong: one Argon2id for the lookup
id, then one Argon2id with the mailbox's parameters, or with a dummy record at the
current parameters when no mailbox has that lookup id. Unknown code, malformed code and
wrong passphrase therefore cost the same and return the same ``None``.
"""

import hashlib
import uuid
from dataclasses import dataclass
from functools import cache

from sqlalchemy import select
from sqlalchemy.orm import Session

from sipadu.crypto import (
    Argon2Params,
    CryptoError,
    PrivateKey,
    SecretRecord,
    hash_secret,
    lookup_id,
    open_private_key,
    seal_private_key,
    verify_secret,
)
from sipadu.db import scope_to_report
from sipadu.models import Mailbox
from sipadu.services.passphrases import normalize_code, normalize_passphrase
from sipadu.services.reports import MAILBOX_KEY_PURPOSE, mailbox_owner


@dataclass(frozen=True)
class MailboxSettings:
    lookup_salt: bytes
    lookup_argon2: Argon2Params
    argon2: Argon2Params


@dataclass(frozen=True)
class OpenedMailbox:
    mailbox_id: uuid.UUID
    report_id: uuid.UUID
    private_key: PrivateKey


@dataclass(frozen=True)
class LoginAttempt:
    """The outcome, and the key failures are counted under: a hash of the lookup id, so
    the rate-limit store never holds the database's own index values."""

    limit_key: str
    opened: OpenedMailbox | None


@cache
def _decoy(params: Argon2Params) -> SecretRecord:
    return SecretRecord.decoy(params)


def attempt_login(
    session: Session, typed_code: str, passphrase: str, settings: MailboxSettings
) -> LoginAttempt:
    code = normalize_code(typed_code)
    lookup = lookup_id(code.encode("utf-8"), settings.lookup_salt, settings.lookup_argon2)
    limit_key = hashlib.sha256(b"sipadu.mailbox.limit\x00" + lookup).hexdigest()[:32]
    scope_to_report(session, lookup_id=lookup)
    mailbox = session.scalar(select(Mailbox).where(Mailbox.lookup_id == lookup))
    record = (
        SecretRecord.from_bytes(mailbox.secret_record)
        if mailbox is not None
        else _decoy(settings.argon2)
    )
    secret = _secret(code, passphrase)
    try:
        kek = verify_secret(secret, record)
    except CryptoError:
        return LoginAttempt(limit_key, None)
    if mailbox is None:  # pragma: no cover — a random verifier matched: 2**-256
        return LoginAttempt(limit_key, None)
    private = open_private_key(
        mailbox.sealed_private_key,
        kek,
        owner=mailbox_owner(mailbox.id),
        purpose=MAILBOX_KEY_PURPOSE,
    )
    return LoginAttempt(limit_key, OpenedMailbox(mailbox.id, mailbox.report_id, private))


def _secret(code: str, passphrase: str) -> bytes:
    # The same bytes as passphrases.mailbox_secret for a valid code; any typed string here.
    return code.encode("utf-8") + normalize_passphrase(passphrase).encode("utf-8")


def upgrade_record(
    session: Session, opened: OpenedMailbox, typed_code: str, passphrase: str, params: Argon2Params
) -> bool:
    """After a successful sign-in: if the mailbox's record predates today's Argon2
    parameters, re-hash code ‖ passphrase and re-seal the same mailbox key under it.
    The caller commits. Returns whether it upgraded."""
    scope_to_report(session, opened.report_id)
    mailbox = session.get(Mailbox, opened.mailbox_id)
    if not SecretRecord.from_bytes(mailbox.secret_record).needs_upgrade(params):
        return False
    record, kek = hash_secret(_secret(normalize_code(typed_code), passphrase), params)
    mailbox.secret_record = record.to_bytes()
    mailbox.sealed_private_key = seal_private_key(
        opened.private_key, kek, owner=mailbox_owner(mailbox.id), purpose=MAILBOX_KEY_PURPOSE
    )
    return True
