"""One-time links (activation, TOTP enrollment): issued, found, spent; and who issued
them, so that whoever uses one is recorded as the link's holder and never as the
account's owner (issue 15, item 2).

Below :mod:`sipadu.services.staff` and :mod:`sipadu.services.proposals`, which both
issue links (a TOTP reset of a sensitive role is issued by an approval).
"""

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from sipadu.accountability.audit import Actor
from sipadu.persistence.db import rows_affected
from sipadu.persistence.models import AccountState, EnrollmentKind, StaffAccount, StaffSession
from sipadu.services.dates import as_utc

# The audit actor of whatever is done through a one-time link: whoever holds the link,
# who may or may not be the account's owner (the admin who issued it saw it too).
LINK_ACTOR = Actor("link", "none")


def token_hash(token: str) -> str:
    return hashlib.sha256(b"sipadu.enrollment\x00" + token.encode("ascii", "replace")).hexdigest()


def issue_link(
    account: StaffAccount,
    kind: EnrollmentKind,
    now: datetime,
    ttl: timedelta,
    issued_by: list[str],
) -> str:
    """A fresh one-time link for ``account``; any earlier link stops working. Only a
    hash of the token is stored: a database reader cannot use a pending link.
    ``issued_by``: the audit actor ids who saw or authorised it (at most two)."""
    token = secrets.token_urlsafe(32)
    account.enrollment_token_hash = token_hash(token)
    account.enrollment_kind = kind.value
    account.enrollment_expires_at = now + ttl
    account.enrollment_issued_by = " ".join(dict.fromkeys(issued_by))
    return token


def issuers(account: StaffAccount) -> list[str]:
    """Who issued the account's pending link (audit actor ids), oldest first."""
    return (account.enrollment_issued_by or "").split()


def account_for_link(session: Session, token: str, now: datetime) -> StaffAccount | None:
    """The account a link belongs to, while it is valid and unused."""
    if not token or len(token) > 100:
        return None
    account = session.scalar(
        select(StaffAccount).where(StaffAccount.enrollment_token_hash == token_hash(token))
    )
    if account is None or account.enrollment_expires_at is None:
        return None
    if as_utc(account.enrollment_expires_at) <= now:
        return None
    if account.state == AccountState.DEACTIVATED:
        return None
    return account


def spend_link(account: StaffAccount) -> None:
    account.enrollment_token_hash = None
    account.enrollment_kind = None
    account.enrollment_expires_at = None
    account.enrollment_issued_by = None


def end_sessions(session: Session, account: StaffAccount) -> int:
    return rows_affected(session, delete(StaffSession).where(StaffSession.account_id == account.id))


def drop_totp(
    session: Session, account: StaffAccount, issued_by: list[str], now: datetime, ttl: timedelta
) -> tuple[str, int]:
    """Drop the account's TOTP seed, end its sessions and issue a TOTP enrollment link:
    the link's token and the number of sessions ended. Password, key and grants stay.
    The caller records it."""
    account.sealed_totp = None
    account.totp_last_step = 0  # the steps used were the old seed's: a new seed has none
    ended = end_sessions(session, account)
    return issue_link(account, EnrollmentKind.TOTP, now, ttl, issued_by), ended
