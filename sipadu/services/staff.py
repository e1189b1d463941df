"""Staff accounts: creation, one-time enrollment links, passwords, TOTP and the key pair
a password protects; deactivation and resets.

A staff member's private key and TOTP seed are stored only sealed under the key derived
from their password (DESIGN.md §4). So an admin can never set or learn a password: they
issue a one-time link, and the person sets the password themselves. An admin *reset*
therefore cannot keep the old key: the person gets a new key pair and loses every grant
made to the old one until a colleague (or the recovery key) grants again.
"""

import re
import unicodedata
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, object_session

from sipadu.accountability import audit
from sipadu.accountability.audit import OPERATOR, Action, Actor, DetailValue
from sipadu.crypto import (
    Argon2Params,
    CryptoError,
    PrivateKey,
    SecretRecord,
    hash_secret,
    new_keypair,
    open_private_key,
    open_secret,
    seal_private_key,
    seal_secret,
    verify_secret,
)
from sipadu.persistence.models import (
    AccountState,
    CategoryRoute,
    EnrollmentKind,
    Role,
    StaffAccount,
    StaffRole,
)
from sipadu.services import Derive, Reason, ServiceError, inline, key_ring
from sipadu.services.key_ring import key_fingerprint
from sipadu.services.links import LINK_ACTOR, drop_totp, issuers, spend_link
from sipadu.services.links import account_for_link as account_for_link  # where callers look
from sipadu.services.links import end_sessions as end_sessions
from sipadu.services.links import issue_link as issue_link
from sipadu.services.passphrases import PassphraseProblem, passphrase_problem
from sipadu.services.proposals import (
    SENSITIVE_ROLES,
    add_role,
    needs_approval,
    propose_activation,
    propose_totp_reset,
)
from sipadu.services.totp import matching_pair, matching_step, new_secret

USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{2,63}$")
# The access log names the server's own actors by these words where an account would
# have its id; the auditor's view shows an account by its username. An account named
# "operator" would pass its actions off as the CLI's (and the CLI's as its own).
RESERVED_USERNAMES = audit.ACTORS
MIN_PASSWORD_LENGTH = 12
# zxcvbn's score 4: at least 10**10 guesses. A staff password seals a private key that a
# database thief can attack offline, so the weakest one is the instance's strength
# (docs/crypto.md). With the Indonesian lists, 3 (10**8) still let any three known words
# through ("kota bandung 2026": zxcvbn counts at least 10**8 for three parts), which at
# Argon2id's cost is days on a rented cluster; 4 is years. Reporters' passphrases sit
# behind their 16-digit code and use 2 (sipadu.services.passphrases).
MIN_PASSWORD_SCORE = 4
PRIVATE_KEY_PURPOSE = "password"
TOTP_PURPOSE = "totp"


@dataclass(frozen=True)
class NewAccount:
    account: StaffAccount
    totp_secret: str | None  # set when the operator gave a password (CLI)
    enrollment_token: str | None  # set otherwise: the one-time link's token


@dataclass(frozen=True)
class Unlocked:
    """What a correct password opens: the account's private key and TOTP seed."""

    private_key: PrivateKey
    totp_secret: str | None


def private_key_owner(account: StaffAccount) -> str:
    """Associated data of the sealed private key: it opens only on this account."""
    return f"staff/{account.id}"


def find_by_username(session: Session, username: str) -> StaffAccount | None:
    return session.scalar(select(StaffAccount).where(StaffAccount.username == username))


def normalize_username(username: str) -> str:
    return username.strip().lower()


def _record(
    session: Session, actor: Actor, action: Action, account: StaffAccount, **detail: DetailValue
) -> None:
    audit.append(
        session,
        actor.id,
        actor.role,
        action,
        detail={"account": str(account.id), "username": account.username, **detail},
    )


def self_actor(account: StaffAccount) -> Actor:
    """A staff member acting on their own account (activation, password change)."""
    return Actor(str(account.id), "none")


# --- creation and enrollment links ------------------------------------------------------


def create_account(
    session: Session,
    username: str,
    roles: set[Role],
    *,
    display_name: str | None = None,
    password: str | None = None,
    argon2: Argon2Params,
    actor: Actor,
    now: datetime,
    link_ttl: timedelta = timedelta(days=3),
) -> NewAccount:
    """Create a staff account, recorded in the audit log.

    Without a password (the admin pages), the account is *invited*: the returned token
    opens the one-time activation link. With a password (only the operator's CLI, who
    holds the server anyway and bootstraps the first admins), the key pair and a TOTP
    seed are made now and the account is active at once."""
    username = normalize_username(username)
    if not USERNAME.match(username):
        raise ServiceError(Reason.USERNAME_INVALID, "username")
    if username in RESERVED_USERNAMES:
        raise ServiceError(Reason.USERNAME_RESERVED, "username", name=username)
    try:  # the username is in the account's audit entries, which refuse such values
        audit.check_detail({"username": username})
    except audit.AuditError:
        raise ServiceError(Reason.USERNAME_NOT_RECORDABLE, "username") from None
    if not roles:
        raise ServiceError(Reason.NO_ROLE, "roles")
    if find_by_username(session, username) is not None:
        raise ServiceError(Reason.USERNAME_TAKEN, "username", name=username)
    account = StaffAccount(
        username=username,
        display_name=(display_name or "").strip() or username,
        state=AccountState.INVITED.value,
        totp_last_step=0,
        invited_by=actor.id,
        roles=[StaffRole(role=role) for role in sorted(roles)],
    )
    session.add(account)
    session.flush()  # assigns the id the private key is bound to
    _record(session, actor, Action.ACCOUNT_CREATE, account, roles=[r.value for r in sorted(roles)])
    if password is None:
        token = issue_link(account, EnrollmentKind.ACTIVATE, now, link_ttl, [actor.id])
        return NewAccount(account, None, token)
    totp_secret = new_secret()
    _set_new_key(account, password, totp_secret, argon2)
    account.state = AccountState.ACTIVE.value
    _record(session, actor, Action.KEY_REGISTER, account, fingerprint=key_fingerprint(account))
    _record(session, actor, Action.ACCOUNT_ACTIVATE, account)
    return NewAccount(account, totp_secret, None)


def _link_used(account: StaffAccount) -> dict[str, DetailValue]:
    """What an entry made through a link says about it: that a link was used, and who
    issued it (the admin(s), or "operator"). Read before the link is spent."""
    return {"via": "link", "issued_by": list(issuers(account))}


def complete_activation(
    session: Session,
    account: StaffAccount,
    password: str,
    totp_secret: str,
    totp_code: str,
    *,
    argon2: Argon2Params,
    now: datetime,
    derive: Derive = inline,
) -> None:
    """The holder of an activation link sets the password and proves their TOTP app
    works (``totp_secret``: the one the server made for this enrollment, never a value
    the form sent). The key pair is generated here (one Argon2id, through ``derive``).
    Recorded as the link's doing (actor "link", naming who issued it), never as the
    owner's. An account holding a sensitive role then waits for a second admin (two for
    an account the operator invited), who compares the fingerprint with the person."""
    if account.enrollment_kind != EnrollmentKind.ACTIVATE:
        raise ServiceError(Reason.WRONG_LINK)
    step = matching_step(totp_secret, totp_code, now, 0)
    if step is None:
        raise ServiceError(Reason.TOTP_MISMATCH, "totp")
    _set_new_key(account, password, totp_secret, argon2, derive)
    account.totp_last_step = step
    used = _link_used(account)
    spend_link(account)
    fingerprint = key_fingerprint(account)
    _record(session, LINK_ACTOR, Action.KEY_REGISTER, account, fingerprint=fingerprint, **used)
    if needs_approval(account.role_set):
        account.state = AccountState.PENDING.value
        propose_activation(session, account, proposed_by=account.invited_by or "operator")
    else:
        account.state = AccountState.ACTIVE.value
        _record(session, LINK_ACTOR, Action.ACCOUNT_ACTIVATE, account, **used)


def complete_totp_enrollment(
    session: Session,
    account: StaffAccount,
    password: str,
    totp_secret: str,
    totp_code: str,
    *,
    now: datetime,
    derive: Derive = inline,
) -> None:
    """After a TOTP reset: the link's holder proves the account's password (which the
    new seed is sealed under; one Argon2id, through ``derive``) and a code of the new
    seed (``totp_secret``: made by the server for this enrollment, never sent by the
    form). The code is checked first, so only a password is ever guessed here: raises
    ``TOTP_MISMATCH`` (no derivation), then ``WRONG_PASSWORD`` (the caller limits and
    records those: :mod:`sipadu.investigator.guesses`). Recorded as done through the
    link, naming who issued it, never as the owner's own action."""
    if account.enrollment_kind != EnrollmentKind.TOTP:
        raise ServiceError(Reason.WRONG_LINK)
    step = matching_step(totp_secret, totp_code, now, account.totp_last_step)
    if step is None:
        raise ServiceError(Reason.TOTP_MISMATCH, "totp")
    kek = _kek(account, password, derive)
    if kek is None:
        raise ServiceError(Reason.WRONG_PASSWORD, "password")
    account.sealed_totp = _seal_totp(account, kek, totp_secret)
    account.totp_last_step = step
    used = _link_used(account)
    spend_link(account)
    _record(session, LINK_ACTOR, Action.TOTP_RESET, account, completed=True, **used)


# --- passwords and what they seal ---------------------------------------------------------


def password_bytes(password: str) -> bytes:
    """NFC first, so the same password typed on another keyboard or OS still matches."""
    return unicodedata.normalize("NFC", password).encode("utf-8")


_PASSWORD_REFUSALS = {
    PassphraseProblem.TOO_SHORT: Reason.PASSWORD_TOO_SHORT,
    PassphraseProblem.COMMON: Reason.PASSWORD_TOO_COMMON,
    PassphraseProblem.REPEATED: Reason.PASSWORD_REPEATED,
    PassphraseProblem.SEQUENCE: Reason.PASSWORD_SEQUENCE,
    PassphraseProblem.DATE: Reason.PASSWORD_DATE,
    PassphraseProblem.GUESSABLE: Reason.PASSWORD_GUESSABLE,
}


def check_password_policy(password: str, account: StaffAccount | None = None) -> None:
    """At least 12 characters and zxcvbn's score 4 (at least 10**10 guesses), with the
    Indonesian lists, the instance's own words (sipadu.services.passphrases) and every
    staff account's username and name (the account's own first) among the words tried
    first. Raises ``ServiceError`` (a ``PASSWORD_*`` reason, field ``password``)."""
    names: list[str] = []
    if account is not None:
        names += [account.username, account.display_name or ""]
        session = object_session(account)
        if session is not None:
            with session.no_autoflush:
                rows = session.execute(select(StaffAccount.username, StaffAccount.display_name))
                for username, display_name in rows:
                    names += [username, display_name or ""]
    problem = passphrase_problem(
        password,
        minimum=MIN_PASSWORD_LENGTH,
        min_score=MIN_PASSWORD_SCORE,
        user_inputs=[name for name in names if name],
    )
    if problem is not None:
        raise ServiceError(_PASSWORD_REFUSALS[problem], "password")


def _seal_totp(account: StaffAccount, kek: bytes, totp_secret: str) -> bytes:
    return seal_secret(
        kek, totp_secret.encode("ascii"), owner=private_key_owner(account), purpose=TOTP_PURPOSE
    )


def _set_new_key(
    account: StaffAccount,
    password: str,
    totp_secret: str,
    argon2: Argon2Params,
    derive: Derive = inline,
) -> None:
    check_password_policy(password, account)
    record, kek = derive(hash_secret, password_bytes(password), argon2)
    private = new_keypair()
    account.password_record = record.to_bytes()
    account.public_key = private.public_key().to_bytes()
    account.sealed_private_key = seal_private_key(
        private, kek, owner=private_key_owner(account), purpose=PRIVATE_KEY_PURPOSE
    )
    account.sealed_totp = _seal_totp(account, kek, totp_secret)


def _kek(account: StaffAccount, password: str, derive: Derive = inline) -> bytes | None:
    if account.password_record is None:
        return None
    try:
        return derive(
            verify_secret,
            password_bytes(password),
            SecretRecord.from_bytes(account.password_record),
        )
    except CryptoError:
        return None


def unlock(account: StaffAccount, kek: bytes) -> Unlocked:
    """Open the private key and TOTP seed with a verified password's KEK."""
    owner = private_key_owner(account)
    private = open_private_key(
        account.sealed_private_key or b"", kek, owner=owner, purpose=PRIVATE_KEY_PURPOSE
    )
    totp = None
    if account.sealed_totp is not None:
        totp = open_secret(kek, account.sealed_totp, owner=owner, purpose=TOTP_PURPOSE).decode()
    return Unlocked(private, totp)


def reseal(
    session: Session,
    account_id: uuid.UUID,
    private: PrivateKey,
    record: SecretRecord,
    kek: bytes,
    totp_secret: str | None,
) -> None:
    """Store a correct password's new record (re-hashed at today's Argon2 parameters by
    the caller, outside this write) and re-seal the same key pair and TOTP seed under
    its KEK (after an upgrade of the parameters, at sign-in)."""
    account = session.get_one(StaffAccount, account_id)  # just signed in: accounts stay
    account.password_record = record.to_bytes()
    account.sealed_private_key = seal_private_key(
        private, kek, owner=private_key_owner(account), purpose=PRIVATE_KEY_PURPOSE
    )
    if totp_secret is not None:
        account.sealed_totp = _seal_totp(account, kek, totp_secret)


# The refusals that mean "the password given as proof was wrong": the caller counts them
# against the account's guess budget and records them (sipadu.investigator.guesses).
WRONG_PASSWORD_PROOF = frozenset(
    {Reason.WRONG_PASSWORD, Reason.WRONG_CURRENT_PASSWORD, Reason.CURRENT_PASSWORD_OR_CODES}
)


def change_password(
    session: Session,
    account: StaffAccount,
    current: str,
    new: str,
    argon2: Argon2Params,
    *,
    derive: Derive = inline,
    codes: tuple[str, str] | None = None,
    now: datetime | None = None,
) -> None:
    """Re-seal the same key pair and TOTP seed under the new password: grants survive.
    Every session of the account ends (the caller signs the person in again). Two
    Argon2id derivations, through ``derive``; none when ``new`` is refused by the
    policy (checked first: a weak new password tells nothing about ``current``).

    ``codes``: two codes of consecutive steps of the account's app (with ``now``),
    asked for, as at sign-in, once the account's guess budget is spent; they are spent
    like a sign-in's, and a wrong password and wrong codes get the same refusal
    (``CURRENT_PASSWORD_OR_CODES``). Without: ``WRONG_CURRENT_PASSWORD``."""
    check_password_policy(new, account)
    refusal = Reason.WRONG_CURRENT_PASSWORD if codes is None else Reason.CURRENT_PASSWORD_OR_CODES
    kek = _kek(account, current, derive)
    if kek is None:
        raise ServiceError(refusal, "current")
    unlocked = unlock(account, kek)
    if codes is not None:
        steps = None
        if unlocked.totp_secret is not None and now is not None:
            steps = matching_pair(unlocked.totp_secret, *codes, now, account.totp_last_step)
        if steps is None:
            raise ServiceError(refusal, "current")
        account.totp_last_step = steps[1]
    record, new_kek = derive(hash_secret, password_bytes(new), argon2)
    account.password_record = record.to_bytes()
    account.sealed_private_key = seal_private_key(
        unlocked.private_key, new_kek, owner=private_key_owner(account), purpose=PRIVATE_KEY_PURPOSE
    )
    if unlocked.totp_secret is not None:
        account.sealed_totp = _seal_totp(account, new_kek, unlocked.totp_secret)
    end_sessions(session, account)
    _record(session, self_actor(account), Action.PASSWORD_CHANGE, account)


# --- admin actions that take effect at once ------------------------------------------------


def deactivate(session: Session, account: StaffAccount, actor: Actor) -> None:
    """At once, by one admin: taking access away must never wait for a second person."""
    if str(account.id) == actor.id:
        raise ServiceError(Reason.CANNOT_DEACTIVATE_SELF)
    if account.state == AccountState.DEACTIVATED:
        raise ServiceError(Reason.DEACTIVATED, name=account.username)
    account.state = AccountState.DEACTIVATED.value
    spend_link(account)
    ended = end_sessions(session, account)
    dropped = key_ring.forget_account(session, account.id)  # recovery can give them back
    _record(
        session,
        actor,
        Action.ACCOUNT_DEACTIVATE,
        account,
        sessions_ended=ended,
        grants_dropped=dropped.grants,
        wraps_dropped=dropped.wraps,
    )


def resend_link(
    session: Session, account: StaffAccount, actor: Actor, now: datetime, ttl: timedelta
) -> str:
    """A new activation link for an account still invited (the old link dies)."""
    if account.state != AccountState.INVITED:
        raise ServiceError(Reason.NOT_WAITING_FOR_ACTIVATION, name=account.username)
    token = issue_link(account, EnrollmentKind.ACTIVATE, now, ttl, [actor.id])
    account.invited_by = actor.id
    _record(session, actor, Action.PASSWORD_RESET, account, link="activation")
    return token


def reset_password(
    session: Session, account: StaffAccount, actor: Actor, now: datetime, ttl: timedelta
) -> str:
    """The person forgot their password. Their key is sealed under it, so it is gone:
    the key pair, TOTP seed and every report key wrapped to them are deleted, their
    sessions end, and the returned link lets them set a new password and get a new key
    pair (which a second admin approves again, for a sensitive role)."""
    if str(account.id) == actor.id:
        raise ServiceError(Reason.RESET_OWN_PASSWORD)
    if account.state == AccountState.DEACTIVATED:
        raise ServiceError(Reason.DEACTIVATED, name=account.username)
    old = key_fingerprint(account)
    dropped = key_ring.forget_account(session, account.id)
    account.password_record = None
    account.public_key = None
    account.sealed_private_key = None
    account.sealed_totp = None
    account.totp_last_step = 0
    account.state = AccountState.INVITED.value
    account.invited_by = actor.id
    ended = end_sessions(session, account)
    token = issue_link(account, EnrollmentKind.ACTIVATE, now, ttl, [actor.id])
    _record(
        session,
        actor,
        Action.PASSWORD_RESET,
        account,
        old_fingerprint=old,
        grants_dropped=dropped.grants,
        wraps_dropped=dropped.wraps,
        sessions_ended=ended,
    )
    return token


def reset_totp(
    session: Session, account: StaffAccount, actor: Actor, now: datetime, ttl: timedelta
) -> str:
    """Lost phone: the seed is dropped and a link lets the person enroll a new one after
    proving their password. Password, key and grants are untouched.

    One admin alone only for an account without a sensitive role (an auditor's: any
    admin may create an auditor alone, so taking one over gives nothing more). For a
    sensitive role an admin's reset is refused (``TOTP_RESET_NEEDS_APPROVAL``): it is
    proposed (:func:`sipadu.services.proposals.propose_totp_reset`) and the link goes
    to the second admin who approves it. The operator at the server's shell may do it
    alone: the shell holds the database, where a link is one hash to write."""
    if account.state not in (AccountState.ACTIVE, AccountState.PENDING):
        raise ServiceError(Reason.NO_TOTP_TO_RESET, name=account.username)
    if actor.id != OPERATOR.id and needs_approval(account.role_set):
        raise ServiceError(Reason.TOTP_RESET_NEEDS_APPROVAL, name=account.username)
    token, ended = drop_totp(session, account, [actor.id], now, ttl)
    _record(session, actor, Action.TOTP_RESET, account, sessions_ended=ended)
    return token


def request_totp_reset(
    session: Session, account: StaffAccount, actor: Actor, now: datetime, ttl: timedelta
) -> str | None:
    """An admin's "reset authenticator": the link at once (returned) for an account
    without a sensitive role, else a proposal a second admin approves (None)."""
    if needs_approval(account.role_set):
        if account.state not in (AccountState.ACTIVE, AccountState.PENDING):
            raise ServiceError(Reason.NO_TOTP_TO_RESET, name=account.username)
        propose_totp_reset(session, account, actor)
        return None
    return reset_totp(session, account, actor, now, ttl)


def revoke_role(session: Session, account: StaffAccount, role: Role, actor: Actor) -> None:
    """Taking a role away is immediate. An investigator leaving the role leaves routing."""
    held = [r for r in account.roles if r.role == role]
    if not held:
        raise ServiceError(Reason.DOES_NOT_HOLD_ROLE, name=account.username, role=role.value)
    if str(account.id) == actor.id and role is Role.ADMIN:
        raise ServiceError(Reason.CANNOT_REMOVE_OWN_ADMIN)
    account.roles.remove(held[0])
    dropped = key_ring.Forgotten(0, 0)
    if role is Role.INVESTIGATOR:
        session.execute(delete(CategoryRoute).where(CategoryRoute.account_id == account.id))
        dropped = key_ring.forget_account(session, account.id, ("staff",))
    elif role is Role.CUSTODIAN:
        dropped = key_ring.forget_account(session, account.id, (key_ring.CUSTODIAN,))
    end_sessions(session, account)  # the next page load asks for a fresh sign-in
    _record(
        session,
        actor,
        Action.ROLE_REVOKE,
        account,
        role=role.value,
        grants_dropped=dropped.grants,
        wraps_dropped=dropped.wraps,
    )


def grant_role_now(session: Session, account: StaffAccount, role: Role, actor: Actor) -> None:
    """A role that reads no report and approves nothing (auditor): one admin suffices.
    Sensitive roles go through :func:`sipadu.services.proposals.propose_role`."""
    if role in SENSITIVE_ROLES:
        raise ServiceError(Reason.ROLE_NEEDS_APPROVAL, role=role.value)
    add_role(session, account, role, actor)


def set_may_grant(session: Session, account: StaffAccount, allowed: bool, actor: Actor) -> None:
    """Whether an investigator may share reports with colleagues and revoke them."""
    if Role.INVESTIGATOR not in account.role_set:
        raise ServiceError(Reason.NOT_AN_INVESTIGATOR, name=account.username)
    if account.may_grant == allowed:
        return  # already so (the same form sent twice): nothing changed, nothing to log
    account.may_grant = allowed
    _record(session, actor, Action.PERMISSION_CHANGE, account, may_grant=allowed)
