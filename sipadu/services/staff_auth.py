"""Staff sign-in and server-side sessions (DESIGN.md §4, §6; G4, G7).

Sign-in does the same work and gives the same answer for an unknown username, a wrong
password and a wrong TOTP code: one Argon2id derivation (against a dummy record when no
account matched), then nothing the caller can tell apart. The password's KEK opens the
account's private key and TOTP seed; the private key is re-sealed under a random
per-session key that only the browser's cookie holds, next to a random session id. The
database row is found by a hash of that id. So a database copy opens no session and no
key, and a cookie alone, without the row, opens nothing either.
"""

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from functools import cache

from sqlalchemy import delete, update
from sqlalchemy.orm import Session

from sipadu.accountability import audit
from sipadu.accountability.audit import Action, DetailValue
from sipadu.crypto import (
    Argon2Params,
    CryptoError,
    PrivateKey,
    SecretRecord,
    hash_secret,
    open_private_key,
    seal_private_key,
    verify_secret,
)
from sipadu.persistence.db import rows_affected
from sipadu.persistence.models import AccountState, StaffAccount, StaffSession
from sipadu.services import Derive, inline
from sipadu.services.dates import as_utc
from sipadu.services.links import LINK_ACTOR, issuers
from sipadu.services.staff import (
    find_by_username,
    normalize_username,
    password_bytes,
    reseal,
    unlock,
)
from sipadu.services.totp import matching_pair, matching_step

SESSION_PURPOSE = "session"


class Failure(StrEnum):
    """Why a sign-in failed: recorded in the audit log, never shown (the page says the
    same thing for all of them)."""

    CREDENTIALS = "credentials"  # unknown username or wrong password
    SECOND_FACTOR = "second_factor"  # right password, wrong or replayed TOTP code
    NOT_ACTIVE = "not_active"  # invited, pending approval or deactivated
    RATE_LIMITED = "rate_limited"


@dataclass(frozen=True)
class Checked:
    """The result of the expensive part of a sign-in (no database writes yet)."""

    account: StaffAccount | None  # the account the username named, if any
    private_key: PrivateKey | None
    step: int | None  # the (later) TOTP step of the valid, fresh code(s)
    failure: Failure | None
    # Set when the password's record was made with weaker Argon2 parameters than the
    # current ones: the new record, its KEK and the TOTP seed, made here (the derivation
    # belongs in the caller's slot, not in finish_login's write transaction).
    upgrade: tuple[SecretRecord, bytes, str | None] | None = None
    first_step: int | None = None  # the earlier step of two codes; else ``step``

    def __repr__(self) -> str:
        return f"Checked({self.account!r}, failure={self.failure})"


@dataclass(frozen=True)
class SessionToken:
    """What the cookie holds. Never stored server-side."""

    id: bytes
    key: bytes


@dataclass(frozen=True)
class SignedIn:
    account: StaffAccount
    token: SessionToken
    sealed_private_key: bytes

    def private_key(self) -> PrivateKey:
        return open_private_key(
            self.sealed_private_key,
            self.token.key,
            owner=_owner(self.account),
            purpose=SESSION_PURPOSE,
        )


@cache
def _decoy(params: Argon2Params) -> SecretRecord:
    return SecretRecord.decoy(params)


def check_credentials(
    session: Session,
    username: str,
    password: str,
    totp_code: str,
    *,
    argon2: Argon2Params,
    now: datetime,
    second_code: str | None = None,
    derive: Derive = inline,
) -> Checked:
    """Verify a sign-in without writing anything (so no write lock is held during the
    Argon2id derivation). :func:`finish_login` then records the outcome.

    With ``second_code``, ``totp_code`` and it must be the codes of two consecutive
    steps (asked for once the username has too many failures). One Argon2id derivation
    in every case, two when a correct password's record is re-hashed (``upgrade``),
    each run through ``derive``."""
    account = find_by_username(session, normalize_username(username)[:64])
    record = (
        SecretRecord.from_bytes(account.password_record)
        if account is not None and account.password_record is not None
        else _decoy(argon2)
    )
    try:
        kek = derive(verify_secret, password_bytes(password), record)
    except CryptoError:
        return Checked(account, None, None, Failure.CREDENTIALS)
    if account is None or account.password_record is None:  # pragma: no cover — 2**-256
        return Checked(account, None, None, Failure.CREDENTIALS)
    unlocked = unlock(account, kek)
    if unlocked.totp_secret is None:
        return Checked(account, None, None, Failure.SECOND_FACTOR)
    if second_code is None:
        step = matching_step(unlocked.totp_secret, totp_code, now, account.totp_last_step)
        steps = None if step is None else (step, step)
    else:
        steps = matching_pair(
            unlocked.totp_secret, totp_code, second_code, now, account.totp_last_step
        )
    if steps is None:
        return Checked(account, None, None, Failure.SECOND_FACTOR)
    if account.state != AccountState.ACTIVE:
        return Checked(account, None, None, Failure.NOT_ACTIVE)
    upgrade = None
    if record.needs_upgrade(argon2):
        new_record, new_kek = derive(hash_secret, password_bytes(password), argon2)
        upgrade = (new_record, new_kek, unlocked.totp_secret)
    return Checked(account, unlocked.private_key, steps[1], None, upgrade, first_step=steps[0])


def record_failure(session: Session, account: StaffAccount | None, failure: Failure) -> None:
    """A failed sign-in names the account only if the username matched one, else
    "unknown": the typed username is never stored (it may be a password typed in the
    wrong box)."""
    audit.append(
        session,
        str(account.id) if account is not None else "unknown",
        "none",
        Action.LOGIN_FAILURE,
        detail={"reason": failure.value},
    )


class Proof(StrEnum):
    """Where a staff password was given as proof, other than the sign-in form."""

    TOTP_ENROLLMENT = "totp_enrollment"  # a TOTP reset's one-time link
    PASSWORD_CHANGE = "password_change"  # noqa: S105 — the "current password" of /account


def record_proof_failure(
    session: Session, account: StaffAccount, proof: Proof, *, through_link: bool
) -> None:
    """A wrong password given as ``proof`` for ``account``: no password text, only the
    account and where. Through a one-time link the actor is the link (whoever held it:
    the admin who issued it saw it too), with who issued it; else the signed-in owner."""
    detail: dict[str, DetailValue] = {
        "account": str(account.id),
        "username": account.username,
        "proof": proof.value,
    }
    actor = str(account.id)
    if through_link:
        actor = LINK_ACTOR.id
        detail |= {"via": "link", "issued_by": list(issuers(account))}
    audit.append(session, actor, "none", Action.PASSWORD_PROOF_FAILURE, detail=detail)


def finish_login(session: Session, checked: Checked, now: datetime) -> SignedIn | None:
    """In a write transaction: spend the TOTP step(s) (exactly once, even against a
    concurrent sign-in with the same codes: every step used must be later than the last
    one spent, which becomes the latest of them), open a session, record the sign-in."""
    account, private = checked.account, checked.private_key
    assert account is not None and private is not None and checked.step is not None
    first = checked.step if checked.first_step is None else checked.first_step
    spent = rows_affected(
        session,
        update(StaffAccount)
        .where(StaffAccount.id == account.id, StaffAccount.totp_last_step < first)
        .values(totp_last_step=checked.step),
    )
    if spent != 1:
        record_failure(session, account, Failure.SECOND_FACTOR)
        return None
    if checked.upgrade is not None:
        record, kek, totp_secret = checked.upgrade
        reseal(session, account.id, private, record, kek, totp_secret)
    token = SessionToken(secrets.token_bytes(32), secrets.token_bytes(32))
    sealed = seal_private_key(private, token.key, owner=_owner(account), purpose=SESSION_PURPOSE)
    session.add(
        StaffSession(
            id_hash=_id_hash(token.id),
            account_id=account.id,
            sealed_private_key=sealed,
            created_at=now,
            last_seen_at=now,
        )
    )
    audit.append(session, str(account.id), "none", Action.LOGIN_SUCCESS)
    return SignedIn(account, token, sealed)


def _owner(account: StaffAccount) -> str:
    return f"staff-session/{account.id}"


def _id_hash(session_id: bytes) -> str:
    return hashlib.sha256(b"sipadu.staff-session\x00" + session_id).hexdigest()


@dataclass(frozen=True)
class Timeouts:
    idle: timedelta = timedelta(minutes=30)
    absolute: timedelta = timedelta(hours=10)
    touch_every: timedelta = timedelta(seconds=60)  # at most one write per minute


def _expired(row: StaffSession, now: datetime, timeouts: Timeouts) -> bool:
    return (
        now - as_utc(row.last_seen_at) > timeouts.idle
        or now - as_utc(row.created_at) > timeouts.absolute
    )


def resume(
    session: Session, token: SessionToken, now: datetime, timeouts: Timeouts
) -> tuple[SignedIn | None, bool]:
    """The signed-in staff member for a cookie, or None (unknown, expired, ended, or the
    account is no longer active). The flag says the row should be touched or deleted:
    call :func:`touch` in a write transaction then."""
    row = session.get(StaffSession, _id_hash(token.id))
    if row is None:
        return None, False
    account = session.get(StaffAccount, row.account_id)
    if _expired(row, now, timeouts) or account is None or account.state != AccountState.ACTIVE:
        return None, True
    stale = now - as_utc(row.last_seen_at) > timeouts.touch_every
    return SignedIn(account, token, row.sealed_private_key), stale


def touch(session: Session, token: SessionToken, now: datetime, timeouts: Timeouts) -> None:
    """Extend a live session's idle timer, or delete it if it expired."""
    row = session.get(StaffSession, _id_hash(token.id))
    if row is None:
        return
    if _expired(row, now, timeouts):
        session.delete(row)
    else:
        row.last_seen_at = now


def logout(session: Session, signed_in: SignedIn) -> None:
    session.execute(
        delete(StaffSession).where(StaffSession.id_hash == _id_hash(signed_in.token.id))
    )
    audit.append(session, str(signed_in.account.id), "none", Action.LOGOUT)


def purge_expired(session: Session, now: datetime, timeouts: Timeouts) -> int:
    """Delete sessions past either timeout (``sipadu purge``)."""
    return rows_affected(
        session,
        delete(StaffSession).where(
            (StaffSession.last_seen_at < now - timeouts.idle)
            | (StaffSession.created_at < now - timeouts.absolute)
        ),
    )
