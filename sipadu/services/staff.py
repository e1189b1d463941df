"""Staff accounts: creation, passwords and the key pair a password protects."""

import re
import unicodedata
from dataclasses import dataclass

import pyotp
from sqlalchemy import select
from sqlalchemy.orm import Session

from sipadu import audit
from sipadu.audit import Action, Actor
from sipadu.crypto import (
    Argon2Params,
    PublicKey,
    fingerprint,
    hash_secret,
    new_keypair,
    seal_private_key,
)
from sipadu.models import Role, StaffAccount, StaffRole
from sipadu.services import ServiceError
from sipadu.services.passphrases import PassphraseProblem, passphrase_problem

USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{2,63}$")
MIN_PASSWORD_LENGTH = 12
PRIVATE_KEY_PURPOSE = "password"


@dataclass(frozen=True)
class NewAccount:
    account: StaffAccount
    totp_secret: str


def private_key_owner(account: StaffAccount) -> str:
    """Associated data of the sealed private key: it opens only on this account."""
    return f"staff/{account.id}"


def key_fingerprint(account: StaffAccount) -> str | None:
    """The account's key fingerprint as contiguous hex (audit details, exports)."""
    if account.public_key is None:
        return None
    return fingerprint(PublicKey.from_bytes(account.public_key)).replace(" ", "").lower()


def find_by_username(session: Session, username: str) -> StaffAccount | None:
    return session.scalar(select(StaffAccount).where(StaffAccount.username == username))


def create_account(
    session: Session,
    username: str,
    roles: set[Role],
    *,
    display_name: str | None = None,
    password: str | None = None,
    argon2: Argon2Params,
    actor: Actor,
) -> NewAccount:
    """Create a staff account with a fresh TOTP secret, recorded in the audit log. With a
    password the key pair is generated now (and its registration recorded with its
    fingerprint); without one, at activation."""
    username = username.strip().lower()
    if not USERNAME.match(username):
        raise ServiceError("username: 3 to 64 characters a-z, 0-9, '.', '_' or '-'")
    if not roles:
        raise ServiceError("an account needs at least one role")
    if find_by_username(session, username) is not None:
        raise ServiceError(f"username {username!r} is taken")
    account = StaffAccount(
        username=username,
        display_name=display_name or username,
        active=True,
        totp_secret=pyotp.random_base32(),
        roles=[StaffRole(role=role) for role in sorted(roles)],
    )
    session.add(account)
    session.flush()  # assigns the id the private key is bound to
    audit.append(
        session,
        actor.id,
        actor.role,
        Action.ACCOUNT_CREATE,
        detail={
            "account": str(account.id),
            "username": username,
            "roles": sorted(r.value for r in roles),
        },
    )
    if password is not None:
        set_password(account, password, argon2)
        audit.append(
            session,
            actor.id,
            actor.role,
            Action.KEY_REGISTER,
            detail={"account": str(account.id), "fingerprint": key_fingerprint(account)},
        )
    return NewAccount(account, account.totp_secret or "")


def password_bytes(password: str) -> bytes:
    """NFC first, so the same password typed on another keyboard or OS still matches."""
    return unicodedata.normalize("NFC", password).encode("utf-8")


def check_password_policy(password: str) -> None:
    problem = passphrase_problem(password, minimum=MIN_PASSWORD_LENGTH)
    if problem is PassphraseProblem.TOO_SHORT:
        raise ServiceError(f"password: at least {MIN_PASSWORD_LENGTH} characters")
    if problem is PassphraseProblem.COMMON:
        raise ServiceError("password: too common, choose another")


def set_password(account: StaffAccount, password: str, argon2: Argon2Params) -> None:
    """Set the first password: the key pair is generated here and its private half is
    stored only sealed under the password-derived key. (Changing a password re-seals the
    existing key; that and the admin reset come with the staff portal issue.)"""
    if account.sealed_private_key is not None:
        raise ServiceError("this account already has a key; use password change")
    check_password_policy(password)
    record, kek = hash_secret(password_bytes(password), argon2)
    private = new_keypair()
    account.password_record = record.to_bytes()
    account.public_key = private.public_key().to_bytes()
    account.sealed_private_key = seal_private_key(
        private, kek, owner=private_key_owner(account), purpose=PRIVATE_KEY_PURPOSE
    )
