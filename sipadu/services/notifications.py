"""Staff notifications (issue 19, item 1): each person's digest address and choices, and
the daily run that sends every digest (``sipadu notify``; docs/staff.md "Daily digest",
docs/deploy.md "E-mail digest").

The address, and the OpenPGP key a person may give (a key names its owner's addresses),
are sealed (AES-256-GCM, :func:`sipadu.crypto.seal_secret`, the address padded to
:data:`ADDRESS_BYTES`) under a key derived from the staff portal's session key
(:data:`KEY_LABEL`): the staff portal seals, the ``sipadu notify`` timer on the same host
opens, and a database copy alone shows no address. Admins see only whether one is set.

A digest goes only to an address its owner confirmed with a code mailed to it
(:mod:`sipadu.services.confirmation`), and, with ``SIPADU_NOTIFY_DOMAINS``, only to an
address at one of the institution's domains (checked on saving and again when sending).

The run sends each person at most one digest a day, at or after the configured hour in
the instance's time zone: it claims the day on the person's row (committed) before
sending, then records what happened in a transaction of its own: ``notify.digest`` once
the SMTP server took the mail, or ``notify.digest_failed`` with the claim given back, so
the next run tries again; a second run the same day sends nothing twice. A crash between
the server taking the mail and that record leaves the day claimed with no entry (the
digest is not sent again; the log lacks its entry); a crash before sending leaves the
day claimed and that day's digest unsent (docs/staff.md, "Daily digest"). Whether
anything waits is decided once a day, at the first run after the hour: a digest is never
sent because a report arrived. Nothing here is called by the reporter portal.
"""

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from email.message import EmailMessage
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, delete, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from sipadu.accountability import audit
from sipadu.accountability.audit import Action
from sipadu.crypto import CryptoError, open_secret, seal_secret
from sipadu.crypto.padding import field_bucket, pad, unpad
from sipadu.persistence.db import rows_affected
from sipadu.persistence.models import StaffAccount, StaffNotification
from sipadu.services import openpgp
from sipadu.services.dates import today
from sipadu.services.digest import digest_for, digest_message
from sipadu.services.refusals import Reason, ServiceError
from sipadu.settings.config import domain_allowed, is_mail_address
from sipadu.settings.instance import derived_key

KEY_LABEL = "sipadu.notify.address.v1"  # HKDF info of the sealing key (staff session key)
ADDRESS_BYTES = 256  # an address (at most 254 bytes) is sealed padded to this size
_ADDRESS = "notify.address"
_OPENPGP = "notify.openpgp"


def sealing_key(staff_session_key: bytes) -> bytes:
    """The 32-byte key addresses and OpenPGP keys are sealed under, derived from the
    staff portal's session key (``SIPADU_STAFF_SESSION_KEY`` or the instance file).
    Changing that key makes registered addresses unreadable: each person registers
    theirs again (the account page says so)."""
    return derived_key(staff_session_key, KEY_LABEL)


def _owner(account_id: uuid.UUID) -> str:
    return f"staff/{account_id}"


def _seal(key: bytes, account_id: uuid.UUID, purpose: str, value: bytes, size: int) -> bytes:
    return seal_secret(key, pad(value, size), owner=_owner(account_id), purpose=purpose)


def _open(key: bytes, account_id: uuid.UUID, purpose: str, blob: bytes) -> str:
    """Raises :class:`CryptoError` if the value does not open (altered, moved to another
    account, or sealed under another key)."""
    opened = unpad(open_secret(key, blob, owner=_owner(account_id), purpose=purpose))
    try:
        return opened.decode("utf-8")
    except UnicodeDecodeError:
        raise CryptoError("sealed value is not text") from None


def open_address(key: bytes, row: StaffNotification) -> str:
    """The address of ``row``. Raises :class:`CryptoError` if it does not open."""
    return _open(key, row.account_id, _ADDRESS, row.sealed_address)


def open_openpgp_key(key: bytes, row: StaffNotification) -> str | None:
    """The armored OpenPGP key of ``row`` (None: none given). Raises
    :class:`CryptoError` if it does not open."""
    if row.sealed_openpgp_key is None:
        return None
    return _open(key, row.account_id, _OPENPGP, row.sealed_openpgp_key)


@dataclass(frozen=True)
class DigestChoices:
    """What a person chose, for their account page: ``address`` (None: none registered,
    or ``unreadable``), ``always_send``, and the ``openpgp_fingerprint`` of their key
    (None: digests are not encrypted). ``unreadable``: an address is stored but does not
    open here (the server's key changed, or the row was altered)."""

    address: str | None = None
    always_send: bool = False
    openpgp_fingerprint: str | None = None
    unreadable: bool = False


def addressed(
    settings: "DigestSettings",
    row: StaffNotification,
    build: Callable[[str, str | None], EmailMessage],
) -> EmailMessage | str:
    """The message ``build(address, armored OpenPGP key or None)`` makes for ``row``'s
    address, or (a string) why there is none: ``"unreadable"`` (the sealed address or key no longer
    opens), ``"openpgp"`` (the key cannot encrypt) or ``"domain"`` (the address is
    outside ``SIPADU_NOTIFY_DOMAINS``), as the failure entries record it."""
    try:
        address = open_address(settings.key, row)
        message = build(address, open_openpgp_key(settings.key, row))
    except CryptoError:
        return "unreadable"
    except ServiceError:
        return "openpgp"
    if not domain_allowed(address, settings.domains):
        return "domain"
    return message


def choices(session: Session, account_id: uuid.UUID, key: bytes) -> DigestChoices:
    """The :class:`DigestChoices` of ``account_id``. Reads only."""
    row = session.get(StaffNotification, account_id)
    if row is None:
        return DigestChoices()
    try:
        address = _open(key, account_id, _ADDRESS, row.sealed_address)
        armored = (
            _open(key, account_id, _OPENPGP, row.sealed_openpgp_key)
            if row.sealed_openpgp_key is not None
            else None
        )
    except CryptoError:
        return DigestChoices(always_send=row.always_send, unreadable=True)
    fingerprint = openpgp.fingerprint(armored) if armored is not None else None
    return DigestChoices(address, row.always_send, fingerprint)


def registered(session: Session) -> dict[uuid.UUID, bool]:
    """The accounts with an address registered, and whether it is confirmed (admins see
    "set, confirmed", "set, not confirmed" or "not set"; never which address)."""
    rows = session.execute(select(StaffNotification.account_id, StaffNotification.confirmed))
    return {account_id: confirmed for account_id, confirmed in rows}


def save_choices(
    session: Session,
    account: StaffAccount,
    key: bytes,
    *,
    address: str,
    always_send: bool,
    openpgp_key: str = "",
    drop_openpgp: bool = False,
    domains: tuple[str, ...] = (),
) -> None:
    """Register or change ``account``'s own address and choices. ``openpgp_key``: a new
    public key to encrypt digests to ("" keeps the one stored, unless ``drop_openpgp``).
    A new or changed address (or one that no longer opened) is unconfirmed: no digest
    goes to it until its owner types the code the next run mails to it
    (:mod:`sipadu.services.confirmation`). Records ``notify.settings`` (whether an
    address and a key are registered and whether the address stands confirmed, never
    which). Raises :class:`ServiceError`: ``MAIL_ADDRESS_INVALID`` (field ``address``,
    :func:`sipadu.settings.config.is_mail_address`), ``MAIL_DOMAIN_NOT_ALLOWED`` (field
    ``address``, ``domains``: the address is at none of ``domains``, the institution's
    ``SIPADU_NOTIFY_DOMAINS``; empty: any), a refusal of
    :func:`sipadu.services.openpgp.read_public_key` (field ``openpgp_key``), or
    ``OPENPGP_KEY_AGAIN`` (field ``openpgp_key``): the stored key no longer opens under
    ``key`` (the server's key changed) and neither a new key nor ``drop_openpgp`` was
    given; keeping it would fail every digest, dropping it unasked would send them in
    the clear."""
    address = address.strip()
    if not address:
        raise ServiceError(Reason.NO_MAIL_ADDRESS, "address")
    if not is_mail_address(address):
        raise ServiceError(Reason.MAIL_ADDRESS_INVALID, "address")
    if not domain_allowed(address, domains):
        raise ServiceError(Reason.MAIL_DOMAIN_NOT_ALLOWED, "address", domains=", ".join(domains))
    new_key = openpgp.read_public_key(openpgp_key) if openpgp_key.strip() else None
    row = session.get(StaffNotification, account.id)
    if row is None:
        row = StaffNotification(account_id=account.id, confirmed=False, code_attempts=0)
        session.add(row)
        changed = True
    else:
        try:
            changed = open_address(key, row) != address
        except CryptoError:
            changed = True
    if new_key is None and not drop_openpgp and row.sealed_openpgp_key is not None:
        try:
            _open(key, account.id, _OPENPGP, row.sealed_openpgp_key)
        except CryptoError:
            raise ServiceError(Reason.OPENPGP_KEY_AGAIN, "openpgp_key") from None
    if changed:
        row.confirmed = False
        row.code_mac = None
        row.code_expires_at = None
        row.code_attempts = 0
    row.sealed_address = _seal(key, account.id, _ADDRESS, address.encode(), ADDRESS_BYTES)
    row.always_send = always_send
    if new_key is not None:
        armored = new_key.armored.encode("ascii")
        row.sealed_openpgp_key = _seal(
            key, account.id, _OPENPGP, armored, field_bucket(len(armored))
        )
    elif drop_openpgp:
        row.sealed_openpgp_key = None
    session.flush()
    _record_choices(
        session, account, True, always_send, row.sealed_openpgp_key is not None, row.confirmed
    )


def remove_address(session: Session, account: StaffAccount) -> None:
    """Forget ``account``'s address, key and choices: no digest is sent to them any more
    (they see it on their home page). Records ``notify.settings``."""
    session.execute(delete(StaffNotification).where(StaffNotification.account_id == account.id))
    _record_choices(session, account, False, False, False, False)


def _record_choices(
    session: Session,
    account: StaffAccount,
    registered: bool,
    always_send: bool,
    openpgp: bool,
    confirmed: bool,
) -> None:
    audit.append(
        session,
        str(account.id),
        "none",
        Action.NOTIFY_SETTINGS,
        detail={
            "account": str(account.id),
            "username": account.username,
            "registered": registered,
            "always_send": always_send,
            "openpgp": openpgp,
            "confirmed": confirmed,
        },
    )


# --- the daily run --------------------------------------------------------------------


@dataclass(frozen=True)
class DigestSettings:
    """What a run needs: the sealing ``key`` (:func:`sealing_key`), the ``sender``
    address, the instance's time ``zone``, the ``hour`` (0-23) digests go out at and
    the mail ``domains`` addresses must be at (empty: any)."""

    key: bytes
    sender: str
    zone: ZoneInfo
    hour: int
    domains: tuple[str, ...] = ()


@dataclass(frozen=True)
class DigestRun:
    """What one run did: ``sent`` digests, ``quiet`` persons with nothing waiting who
    chose no empty digest (or whose account is not active), ``failed`` sendings (tried
    again next run, except an address that no longer opens) and ``due`` (False: before
    the hour, nothing was looked at)."""

    due: bool
    sent: int = 0
    quiet: int = 0
    failed: int = 0


Send = Callable[[EmailMessage], None]  # raises on failure (OSError, smtplib.SMTPException)


def send_digests(
    sessions: sessionmaker[Session], settings: DigestSettings, now: datetime, send: Send
) -> DigestRun:
    """Send today's digests that are not sent yet, if ``now`` (aware) is at or after the
    hour in the instance's time zone. Each person in their own transactions; one failure
    stops no other. Owns its transactions: call it with none open."""
    local = now.astimezone(settings.zone)
    if local.hour < settings.hour:
        return DigestRun(due=False)
    day = local.date()
    with sessions() as reading:
        waiting = list(
            reading.scalars(
                select(StaffNotification.account_id)
                .where(_not_sent(day))
                .order_by(StaffNotification.account_id)
            )
        )
    outcomes = [_one(sessions, settings, account_id, day, local, send) for account_id in waiting]
    return DigestRun(
        due=True,
        sent=outcomes.count("sent"),
        quiet=outcomes.count("quiet"),
        failed=outcomes.count("failed"),
    )


def _not_sent(day: date) -> ColumnElement[bool]:
    """Confirmed addresses whose digest of ``day`` is neither sent nor claimed."""
    return and_(
        StaffNotification.confirmed.is_(True),
        or_(StaffNotification.sent_on.is_(None), StaffNotification.sent_on < day),
    )


def _one(
    sessions: sessionmaker[Session],
    settings: DigestSettings,
    account_id: uuid.UUID,
    day: date,
    local: datetime,
    send: Send,
) -> str:
    """One person's digest: "sent", "quiet", "failed", or "taken" (another run has it)."""
    with sessions() as writing:
        row = writing.get(StaffNotification, account_id)
        if row is None:
            return "taken"
        before = row.sent_on
        claim = (
            update(StaffNotification)
            .where(StaffNotification.account_id == account_id, _not_sent(day))
            .values(sent_on=day)
        )
        if rows_affected(writing, claim) != 1:
            return "taken"
        account = writing.get(StaffAccount, account_id)
        if account is None or not account.active:
            writing.commit()
            return "quiet"
        digest = digest_for(writing, account_id, account.role_set, today())
        if digest.nothing_waits and not row.always_send:
            writing.commit()
            return "quiet"
        encrypted = row.sealed_openpgp_key is not None
        message = addressed(
            settings,
            row,
            lambda address, armored: digest_message(
                digest, sender=settings.sender, recipient=address, openpgp_key=armored, moment=local
            ),
        )
        if isinstance(message, str):
            # Never retried by itself (the day stays claimed): the person must register
            # again (their page says so).
            _failed(writing, account_id, message)
            writing.commit()
            return "failed"
        writing.commit()  # the claim alone: what happened is recorded once it happened
    try:
        send(message)
    except Exception as exc:  # noqa: BLE001 — any failure of one sending: the next person goes on
        with sessions() as writing:
            writing.execute(
                update(StaffNotification)
                .where(StaffNotification.account_id == account_id, StaffNotification.sent_on == day)
                .values(sent_on=before)
            )
            _failed(writing, account_id, type(exc).__name__)
            writing.commit()
        return "failed"
    with sessions() as writing:
        audit.append(
            writing,
            "system",
            "system",
            Action.DIGEST_SENT,
            detail={
                "account": str(account_id),
                **digest.counts(),
                "encrypted": encrypted,
            },
        )
        writing.commit()
    return "sent"


def _failed(session: Session, account_id: uuid.UUID, error: str) -> None:
    """The audit entry of a digest not sent: the account and the kind of error (an
    exception's class name: its message may quote the address), never the address."""
    audit.append(
        session,
        "system",
        "system",
        Action.DIGEST_FAILED,
        detail={"account": str(account_id), "error": error[:60]},
    )
