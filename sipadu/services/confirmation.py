"""Confirming a digest address (issue 19, review): no digest goes to an address until its
owner has typed, on their account page, a one-time code mailed to that address, so a
staff member cannot have the inspectorate mail a reporter, a stranger or a typo daily.

A new or changed address is unconfirmed and has no code. The next ``sipadu notify`` run
(any run, not only at the digest's hour; never a web request) mails it one code:
:data:`CODE_DIGITS` random digits in a message of constant size (:data:`BODY_BYTES`,
padded as the digest is, encrypted to the person's OpenPGP key if they gave one) that
says nothing but the code. Only its HMAC-SHA256 under the sealing key is kept (a
database copy alone cannot try the 10^8 codes), for :data:`CODE_HOURS` hours and
:data:`MAX_TRIES` tries; after that the person asks for a new one, which the next run
sends. The attempt is counted (committed) before the code is compared, so parallel
requests cannot try more (docs/staff.md, "Daily digest").

Audit: ``notify.confirmation_sent`` / ``notify.confirmation_failed`` (the account, and
whether encrypted or the error's class name), ``notify.confirmation_requested`` and
``notify.confirmed`` (the account): never the address or the code.
"""

import enum
import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from sipadu.accountability import audit
from sipadu.accountability.audit import Action
from sipadu.persistence.db import rows_affected
from sipadu.persistence.models import StaffAccount, StaffNotification
from sipadu.services.digest import padded, padded_message
from sipadu.services.notifications import DigestSettings, Send, addressed
from sipadu.services.refusals import Reason, ServiceError

CODE_DIGITS = 8
CODE_HOURS = 48
MAX_TRIES = 5
BODY_BYTES = 1024  # the plain text of every confirmation message, padded (UTF-8 bytes)
SUBJECT = "SIPADU: kode konfirmasi alamat / address confirmation code"
_MAC_LABEL = b"sipadu.notify.code.v1\x00"


class Confirmation(enum.Enum):
    """Where an address stands, for its owner's account page."""

    CONFIRMED = "confirmed"
    WAITING = "waiting"  # no code yet: the next run mails one
    SENT = "sent"  # a code was mailed and can be typed
    SPENT = "spent"  # the code expired or its tries are used: ask for a new one


def where(session: Session, account_id: uuid.UUID, now: datetime) -> Confirmation | None:
    """The :class:`Confirmation` of ``account_id``'s address at ``now`` (None: no
    address registered). Reads only."""
    row = session.get(StaffNotification, account_id)
    return None if row is None else state(row, now)


def state(row: StaffNotification, now: datetime) -> Confirmation:
    """The :class:`Confirmation` of ``row`` at ``now`` (aware)."""
    if row.confirmed:
        return Confirmation.CONFIRMED
    if row.code_mac is None:
        return Confirmation.WAITING
    if row.code_attempts >= MAX_TRIES or _expired(row, now):
        return Confirmation.SPENT
    return Confirmation.SENT


def _expired(row: StaffNotification, now: datetime) -> bool:
    expires = row.code_expires_at
    if expires is None:
        return True
    if expires.tzinfo is None:  # SQLite gives naive UTC back
        expires = expires.replace(tzinfo=UTC)
    return now >= expires


def code_mac(key: bytes, account_id: uuid.UUID, code: str) -> bytes:
    """HMAC-SHA256 (RFC 2104) of ``code`` for ``account_id`` under the sealing ``key``:
    32 bytes, all that is kept of a code."""
    return hmac.new(
        key, _MAC_LABEL + account_id.bytes + code.encode("ascii"), hashlib.sha256
    ).digest()


def new_code() -> str:
    """:data:`CODE_DIGITS` random decimal digits (``secrets``)."""
    return f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"


def shown(code: str) -> str:
    """The code as mailed: two groups of four digits ("1234 5678")."""
    return f"{code[:4]} {code[4:]}"


def confirmation_text(code: str) -> str:
    """The message's text, both languages: the code, and nothing of the person, their
    account or any report."""
    return "\n".join(
        [
            "Kode konfirmasi SIPADU",
            "",
            f"Kode Anda: {shown(code)}",
            "",
            f"Ketik kode ini di halaman akun Anda di portal staf SIPADU dalam {CODE_HOURS} "
            "jam untuk menerima ringkasan harian di alamat ini. Jika Anda tidak "
            "mendaftarkan alamat ini, abaikan surel ini: tanpa kode ini tidak ada surel "
            "lain yang dikirim ke alamat ini.",
            "",
            "-- ",
            "SIPADU confirmation code",
            "",
            f"Your code: {shown(code)}",
            "",
            f"Type this code on your account page of the SIPADU staff portal within "
            f"{CODE_HOURS} hours to receive the daily digest at this address. If you did "
            "not register this address, ignore this e-mail: without this code no other "
            "e-mail is sent to this address.",
            "",
        ]
    )


def confirmation_message(
    code: str, *, sender: str, recipient: str, openpgp_key: str | None, moment: datetime
) -> EmailMessage:
    """The mail holding ``code``: :func:`sipadu.services.digest.padded_message` of
    :func:`confirmation_text` padded to :data:`BODY_BYTES`, under :data:`SUBJECT`.
    Raises :class:`ServiceError` ``OPENPGP_KEY_UNUSABLE`` as it does."""
    return padded_message(
        padded(confirmation_text(code), BODY_BYTES),
        SUBJECT,
        sender=sender,
        recipient=recipient,
        openpgp_key=openpgp_key,
        moment=moment,
    )


# --- the account page ---------------------------------------------------------------------


def _row(session: Session, account_id: uuid.UUID) -> StaffNotification:
    row = session.get(StaffNotification, account_id)
    if row is None or row.confirmed:
        raise ServiceError(Reason.NOTHING_TO_CONFIRM, "code")
    return row


def normalized(typed: str) -> str:
    """``typed`` without spaces and hyphens. Raises :class:`ServiceError`
    ``CONFIRMATION_CODE_SHAPE`` (field ``code``, ``digits``) unless that leaves
    :data:`CODE_DIGITS` ASCII digits (no try is spent on it)."""
    code = "".join(typed.split()).replace("-", "")
    if len(code) != CODE_DIGITS or not (code.isascii() and code.isdigit()):
        raise ServiceError(Reason.CONFIRMATION_CODE_SHAPE, "code", digits=CODE_DIGITS)
    return code


def take_try(session: Session, account_id: uuid.UUID, now: datetime) -> None:
    """Count one try of the code of ``account_id``'s address; the caller commits before
    :func:`confirm` compares it. Raises :class:`ServiceError` (field ``code``):
    ``NOTHING_TO_CONFIRM``, ``CONFIRMATION_NOT_SENT`` or ``CONFIRMATION_CODE_SPENT``
    (expired, or :data:`MAX_TRIES` used)."""
    row = _row(session, account_id)
    where = state(row, now)
    if where is Confirmation.WAITING:
        raise ServiceError(Reason.CONFIRMATION_NOT_SENT, "code")
    if where is Confirmation.SPENT:
        raise ServiceError(Reason.CONFIRMATION_CODE_SPENT, "code")
    counted = (
        update(StaffNotification)
        .where(
            StaffNotification.account_id == account_id,
            StaffNotification.code_mac == row.code_mac,
            StaffNotification.code_attempts < MAX_TRIES,
        )
        .values(code_attempts=StaffNotification.code_attempts + 1)
    )
    if rows_affected(session, counted) != 1:  # another request took the last try
        raise ServiceError(Reason.CONFIRMATION_CODE_SPENT, "code")


def confirm(session: Session, account: StaffAccount, key: bytes, code: str) -> None:
    """Confirm ``account``'s address if ``code`` (:func:`normalized`) is the one mailed,
    once :func:`take_try` counted the try. Records ``notify.confirmed``. Raises
    :class:`ServiceError` (field ``code``): ``NOTHING_TO_CONFIRM``,
    ``CONFIRMATION_CODE_WRONG`` (``left``: tries left) or ``CONFIRMATION_CODE_SPENT``."""
    row = _row(session, account.id)
    session.refresh(row)
    if row.code_mac is None:
        raise ServiceError(Reason.CONFIRMATION_NOT_SENT, "code")
    if not hmac.compare_digest(row.code_mac, code_mac(key, account.id, code)):
        left = MAX_TRIES - row.code_attempts
        if left <= 0:
            raise ServiceError(Reason.CONFIRMATION_CODE_SPENT, "code")
        raise ServiceError(Reason.CONFIRMATION_CODE_WRONG, "code", left=left)
    row.confirmed = True
    row.code_mac = None
    row.code_expires_at = None
    row.code_attempts = 0
    session.flush()
    audit.append(
        session,
        str(account.id),
        "none",
        Action.ADDRESS_CONFIRMED,
        detail={"account": str(account.id), "username": account.username},
    )


def ask_new_code(session: Session, account: StaffAccount) -> None:
    """Drop the code mailed to ``account``'s unconfirmed address: the next run mails a
    new one. Records ``notify.confirmation_requested``. Raises :class:`ServiceError`
    ``NOTHING_TO_CONFIRM``."""
    row = _row(session, account.id)
    row.code_mac = None
    row.code_expires_at = None
    row.code_attempts = 0
    session.flush()
    audit.append(
        session,
        str(account.id),
        "none",
        Action.CONFIRMATION_REQUESTED,
        detail={"account": str(account.id), "username": account.username},
    )


# --- the run ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ConfirmationRun:
    """What one run did: codes ``sent``, and sendings ``failed`` (a server's refusal is
    tried again next run; an address that no longer opens, or outside the institution's
    domains, is not: its owner must save it again)."""

    sent: int = 0
    failed: int = 0


def send_confirmations(
    sessions: sessionmaker[Session], settings: DigestSettings, now: datetime, send: Send
) -> ConfirmationRun:
    """Mail a code to every unconfirmed address of an active account that has none, at
    any hour. Each address in its own transactions: the code is claimed (its MAC stored)
    and committed, the mail sent, then the outcome recorded in a transaction of its own
    (a failure gives the claim back). Owns its transactions: call it with none open."""
    with sessions() as reading:
        waiting = list(
            reading.scalars(
                select(StaffNotification.account_id)
                .where(
                    StaffNotification.confirmed.is_(False),
                    StaffNotification.code_mac.is_(None),
                )
                .order_by(StaffNotification.account_id)
            )
        )
    outcomes = [_one(sessions, settings, account_id, now, send) for account_id in waiting]
    return ConfirmationRun(sent=outcomes.count("sent"), failed=outcomes.count("failed"))


def _one(
    sessions: sessionmaker[Session],
    settings: DigestSettings,
    account_id: uuid.UUID,
    now: datetime,
    send: Send,
) -> str:
    """One address's code: "sent", "failed", or "skipped" (another run has it, or the
    account is not active)."""
    code = new_code()
    mac = code_mac(settings.key, account_id, code)
    with sessions() as writing:
        account = writing.get(StaffAccount, account_id)
        if account is None or not account.active:
            return "skipped"
        claim = (
            update(StaffNotification)
            .where(
                StaffNotification.account_id == account_id,
                StaffNotification.confirmed.is_(False),
                StaffNotification.code_mac.is_(None),
            )
            .values(
                code_mac=mac, code_expires_at=now + timedelta(hours=CODE_HOURS), code_attempts=0
            )
        )
        if rows_affected(writing, claim) != 1:
            return "skipped"
        row = writing.get(StaffNotification, account_id)
        assert row is not None
        encrypted = row.sealed_openpgp_key is not None
        message = addressed(
            settings,
            row,
            lambda address, armored: confirmation_message(
                code,
                sender=settings.sender,
                recipient=address,
                openpgp_key=armored,
                moment=now.astimezone(settings.zone),
            ),
        )
        if isinstance(message, str):
            # Not tried again by itself (the claim stays): its owner must save it again.
            _failed(writing, account_id, message)
            writing.commit()
            return "failed"
        writing.commit()
    try:
        send(message)
    except Exception as exc:  # noqa: BLE001 — any failure of one sending: the next goes on
        with sessions() as writing:
            writing.execute(
                update(StaffNotification)
                .where(
                    StaffNotification.account_id == account_id, StaffNotification.code_mac == mac
                )
                .values(code_mac=None, code_expires_at=None)
            )
            _failed(writing, account_id, type(exc).__name__)
            writing.commit()
        return "failed"
    with sessions() as writing:
        audit.append(
            writing,
            "system",
            "system",
            Action.CONFIRMATION_SENT,
            detail={"account": str(account_id), "encrypted": encrypted},
        )
        writing.commit()
    return "sent"


def _failed(session: Session, account_id: uuid.UUID, error: str) -> None:
    audit.append(
        session,
        "system",
        "system",
        Action.CONFIRMATION_FAILED,
        detail={"account": str(account_id), "error": error[:60]},
    )
