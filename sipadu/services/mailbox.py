"""Opening a reporter's mailbox with code + passphrase (G7).

A typed code that is not 16 digits once spaces and dashes are removed is refused before
any work (:func:`well_formed_code`): that says nothing about any mailbox. Every other
attempt does exactly the same work, whatever is wrong: one Argon2id for the lookup id,
then one Argon2id with the mailbox's parameters, or with a dummy record at the current
parameters when no mailbox has that lookup id. Unknown code and wrong passphrase
therefore cost the same and return the same ``None``.

Failed attempts are counted per code *before* any Argon2id (:func:`failure_bucket`): an
HMAC of the code, cut to 20 bits, so the rate-limit store never holds anything that
identifies a code.
"""

import hmac
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
from sipadu.persistence.db import scope_to_report
from sipadu.persistence.models import Mailbox
from sipadu.services import Derive, Reason, ServiceError, inline
from sipadu.services.passphrases import CODE_DIGITS, mailbox_secret, normalize_code
from sipadu.services.reports import MAILBOX_KEY_PURPOSE, mailbox_owner

# 10**16 codes over 2**20 counters: about 2**33 codes share each one. Enough counters
# that random guesses (which is all a stranger without a code can make) spread so thin
# that filling them all would take ~10 million Argon2-costing failures an hour; few
# enough that a counter name says nothing about which code was tried.
BUCKET_BITS = 20


class MalformedCode(ServiceError):
    """The typed code is not 16 digits once spaces and dashes are removed."""

    def __init__(self) -> None:
        super().__init__(Reason.MALFORMED_CODE, "code")


@dataclass(frozen=True)
class MailboxSettings:
    lookup_salt: bytes
    lookup_argon2: Argon2Params
    argon2: Argon2Params
    failure_key: bytes  # keys the failure counters (failure_bucket)


@dataclass(frozen=True)
class OpenedMailbox:
    mailbox_id: uuid.UUID
    report_id: uuid.UUID
    private_key: PrivateKey


@dataclass(frozen=True)
class Rehashed:
    """A mailbox record re-made at today's Argon2 parameters, and the same mailbox key
    sealed under its KEK: computed with the attempt, stored by :func:`save_rehashed`."""

    secret_record: bytes
    sealed_private_key: bytes

    def __repr__(self) -> str:
        return "Rehashed(<record>, <sealed key>)"


@dataclass(frozen=True)
class LoginAttempt:
    """The outcome: the opened mailbox (None for every kind of failure), and a new
    record when the mailbox's one predates today's parameters."""

    opened: OpenedMailbox | None
    rehashed: Rehashed | None = None


def well_formed_code(typed: str) -> str | None:
    """The 16 digits of a typed code (spaces and dashes removed), or None."""
    code = normalize_code(typed)
    if len(code) != CODE_DIGITS or not code.isascii() or not code.isdigit():
        return None
    return code


def failure_bucket(code: str, key: bytes) -> str:
    """The counter that failed logins with ``code`` (16 digits) count under, computed
    before any Argon2id: ``mailbox-<instance tag>-<20-bit HMAC of the code, hex>``.
    Keyed (by a key of the instance's own), so nobody can pick codes that share a
    counter with someone else's, and two instances on one Redis never mix.

    A counter holds no code: ~2**33 codes share each. Every failure of one code lands
    in one counter, so no code gets more failures than the limit allows."""
    digest = hmac.new(key, b"code\x00" + code.encode("ascii"), "sha256").digest()
    bucket = int.from_bytes(digest[:4], "big") >> (32 - BUCKET_BITS)
    tag = hmac.new(key, b"instance", "sha256").hexdigest()[:8]
    return f"mailbox-{tag}-{bucket:05x}"


@cache
def _decoy(params: Argon2Params) -> SecretRecord:
    return SecretRecord.decoy(params)


def attempt_login(
    session: Session,
    typed_code: str,
    passphrase: str,
    settings: MailboxSettings,
    *,
    derive: Derive = inline,
) -> LoginAttempt:
    """Two Argon2id derivations whatever the outcome (see the module docstring), each
    run through ``derive``, on a read-only ``session``; a third, to re-hash, after a
    success whose record predates today's parameters. Raises :class:`MalformedCode`
    (before any work) for a code that is not 16 digits; callers check it first."""
    code = well_formed_code(typed_code)
    if code is None:
        raise MalformedCode()
    lookup = derive(lookup_id, code.encode("ascii"), settings.lookup_salt, settings.lookup_argon2)
    scope_to_report(session, lookup_id=lookup)
    mailbox = session.scalar(select(Mailbox).where(Mailbox.lookup_id == lookup))
    record = (
        SecretRecord.from_bytes(mailbox.secret_record)
        if mailbox is not None
        else _decoy(settings.argon2)
    )
    secret = mailbox_secret(code, passphrase)
    try:
        kek = derive(verify_secret, secret, record)
    except CryptoError:
        return LoginAttempt(None)
    if mailbox is None:  # pragma: no cover — a random verifier matched: 2**-256
        return LoginAttempt(None)
    owner = mailbox_owner(mailbox.id)
    private = open_private_key(
        mailbox.sealed_private_key, kek, owner=owner, purpose=MAILBOX_KEY_PURPOSE
    )
    opened = OpenedMailbox(mailbox.id, mailbox.report_id, private)
    if not record.needs_upgrade(settings.argon2):
        return LoginAttempt(opened)
    # Parameters were raised: re-hash now, while the derivation slot is held, so the
    # write that stores it (save_rehashed) runs no Argon2id inside its transaction.
    new_record, new_kek = derive(hash_secret, secret, settings.argon2)
    sealed = seal_private_key(private, new_kek, owner=owner, purpose=MAILBOX_KEY_PURPOSE)
    return LoginAttempt(opened, Rehashed(new_record.to_bytes(), sealed))


def save_rehashed(session: Session, opened: OpenedMailbox, rehashed: Rehashed) -> None:
    """After a successful sign-in whose record was weaker than today's parameters:
    replace the record and the sealed key (the same mailbox key). The caller commits."""
    scope_to_report(session, opened.report_id)
    mailbox = session.get_one(Mailbox, opened.mailbox_id)
    mailbox.secret_record = rehashed.secret_record
    mailbox.sealed_private_key = rehashed.sealed_private_key
