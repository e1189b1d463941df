"""The registry of export recipients: age public keys (``age1…``) of the inspectorate's
archive, KPK, BPKP..., each with a name, offered on the export form (docs/casework.md).

Registering or removing one is a two-person change (:func:`sipadu.services.proposals.
propose_recipient`, :func:`~sipadu.services.proposals.propose_recipient_removal`): a
recipient decides who can read every export made to it, as routing decides who reads
new reports (G3).

**Fingerprint**: SHA-256 of the canonical recipient string (ASCII, lower case, as
``age-keygen`` prints it), as hex. Anyone can compute it without SIPADU
(``printf '%s' age1… | sha256sum``), so the holder of the key can read theirs out over
the telephone before a second admin approves. Admin pages show all of it in 16 groups
of 4; the export form shows the first 4 groups, to tell entries apart, not to check one.
"""

import hashlib
import uuid

import pyrage
from sqlalchemy import select
from sqlalchemy.orm import Session

from sipadu.accountability import audit
from sipadu.persistence.models import ExportRecipient, RecipientState
from sipadu.services import Reason, ServiceError

NAME_MAX = 100  # characters (the column's size)


def canonical_recipient(text: str) -> str:
    """The recipient as age writes it (``age1`` and 58 lower-case Bech32 characters),
    validated by pyrage (X25519 recipients, as ``age-keygen`` makes). Raises
    :class:`ServiceError` (``NOT_AN_AGE_RECIPIENT``, field ``recipient``) for anything
    else: an identity (``AGE-SECRET-KEY-…``), an SSH key, a typo."""
    try:
        return str(pyrage.x25519.Recipient.from_str(text.strip()))
    except Exception:  # noqa: BLE001 — pyrage raises its own error types; all mean "not one"
        raise ServiceError(Reason.NOT_AN_AGE_RECIPIENT, "recipient") from None


def age_recipient(text: str) -> pyrage.x25519.Recipient:
    """The pyrage recipient for ``text`` (:func:`canonical_recipient`'s refusals)."""
    return pyrage.x25519.Recipient.from_str(canonical_recipient(text))


def recipient_fingerprint(recipient: str) -> str:
    """SHA-256 of the canonical recipient string, 64 hex digits (what proposals pin and
    audit entries record)."""
    return hashlib.sha256(canonical_recipient(recipient).encode("ascii")).hexdigest()


def display_fingerprint(recipient: str) -> str:
    """The fingerprint as people compare it: 16 groups of 4 upper-case hex digits."""
    digest = recipient_fingerprint(recipient).upper()
    return " ".join(digest[i : i + 4] for i in range(0, len(digest), 4))


def short_fingerprint(recipient: str) -> str:
    """The first 4 groups (64 bits): enough to tell registered recipients apart."""
    return " ".join(display_fingerprint(recipient).split(" ")[:4])


def checked_name(name: str) -> str:
    """A recipient's name, trimmed; :class:`ServiceError` (field ``name``) if empty
    (``EMPTY_TEXT``), longer than :data:`NAME_MAX` (``RECIPIENT_NAME_TOO_LONG``), or
    what the access log refuses to record (``RECIPIENT_NAME_NOT_RECORDABLE``: something
    like a report code or an IP address; the name is in ``proposal.create``,
    ``export_recipient.add`` and ``report.export`` entries)."""
    cleaned = " ".join(name.split())
    if not cleaned:
        raise ServiceError(Reason.EMPTY_TEXT, "name")
    if len(cleaned) > NAME_MAX:
        raise ServiceError(Reason.RECIPIENT_NAME_TOO_LONG, "name")
    try:
        audit.check_detail({"recipient": cleaned})
    except audit.AuditError:
        raise ServiceError(Reason.RECIPIENT_NAME_NOT_RECORDABLE, "name") from None
    return cleaned


def registered(session: Session) -> list[ExportRecipient]:
    """The recipients offered on the export form, by name."""
    return list(
        session.scalars(
            select(ExportRecipient)
            .where(ExportRecipient.state == RecipientState.ACTIVE.value)
            .order_by(ExportRecipient.name)
        )
    )


def in_use(session: Session) -> list[ExportRecipient]:
    """Registered and proposed recipients: a new one may repeat neither's key nor name."""
    return list(
        session.scalars(
            select(ExportRecipient).where(
                ExportRecipient.state.in_(
                    [RecipientState.ACTIVE.value, RecipientState.PROPOSED.value]
                )
            )
        )
    )


def registered_recipient(session: Session, recipient_id: uuid.UUID) -> ExportRecipient:
    """A recipient on the export form; :class:`ServiceError` (``NO_SUCH_RECIPIENT``,
    field ``to``) if there is none with this id, or it is not (or no longer) approved."""
    row = session.get(ExportRecipient, recipient_id)
    if row is None or row.state != RecipientState.ACTIVE:
        raise ServiceError(Reason.NO_SUCH_RECIPIENT, "to")
    return row
