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

**Names** are what admins and investigators choose by, so they are plain: NFKC, spaces
collapsed, and only Latin letters, digits, spaces and ``. , - ( ) & / '`` — no invisible
(zero-width, Hangul filler), bidirectional (RTL override) or other-script look-alike
(Cyrillic U+0420 for ``P``) character; two names are the same when they are equal after
NFKC and case folding (Unicode's compatibility caseless match, The Unicode Standard
§3.13, D146). The export recipients are Indonesian and international institutions
written in Latin letters.

**A row that no longer parses** (changed in the database) is never offered on the
export form (:func:`registered`); admin pages show it as failing its check, with the
fingerprint of the stored text (:func:`stored_fingerprint`), so it can still be proposed
for removal and its removal approved.

**Offered to reporters** (issue 20, docs/escalation.md): a registered recipient that a
second admin also approved for reporters (:func:`sipadu.services.proposals.
propose_recipient` or :func:`~sipadu.services.proposals.propose_recipient_offer`), with
the agency's own upload address (:func:`checked_channel`), is offered in the mailbox of
a report whose deadline passed unmet (:func:`offered_agencies`). The approval signs the
offer with the instance's audit signing key (:func:`sign_offer`); the reporter portal
offers and uses an agency only if that signature checks with the audit public key it
knows from its own configuration (:func:`offer_checks`), so a key, name or address
replaced in the database by another well-formed one is not offered (G3).
"""

import hashlib
import re
import unicodedata
import uuid
from urllib.parse import urlsplit

import pyrage
from sqlalchemy import select
from sqlalchemy.orm import Session

from sipadu.accountability import audit
from sipadu.crypto import CryptoError, sign, verify_signature
from sipadu.persistence.models import ExportRecipient, RecipientState
from sipadu.services import Reason, ServiceError

NAME_MAX = 100  # characters (the column's size)


# An age identity (age's format spec: "AGE-SECRET-KEY-1" and Bech32), an age plugin
# identity ("AGE-PLUGIN-…"), or any PEM/OpenSSH private key block.
_PRIVATE = re.compile(r"AGE-SECRET-KEY-|AGE-PLUGIN-|PRIVATE KEY", re.IGNORECASE)


def is_private_key(text: str | None) -> bool:
    """Whether ``text`` holds a private key where a public recipient was asked for: such
    text is never shown again, stored or logged, and its holder is told it is exposed."""
    return bool(text) and _PRIVATE.search(text or "") is not None


def canonical_recipient(text: str) -> str:
    """The recipient as age writes it (``age1`` and 58 lower-case Bech32 characters),
    validated by pyrage (X25519 recipients, as ``age-keygen`` makes). Raises
    :class:`ServiceError`, field ``recipient``: ``PRIVATE_KEY_NOT_RECIPIENT`` for a
    private key (:func:`is_private_key`), ``NOT_AN_AGE_RECIPIENT`` for anything else
    (an SSH key, a typo)."""
    if is_private_key(text):
        raise ServiceError(Reason.PRIVATE_KEY_NOT_RECIPIENT, "recipient")
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


def intact(stored: str) -> bool:
    """Whether a stored recipient is still one age recipient in its canonical form (a
    row changed in the database may hold anything)."""
    try:
        return canonical_recipient(stored) == stored
    except ServiceError:
        return False


def stored_fingerprint(stored: str) -> str:
    """:func:`recipient_fingerprint` of an intact stored recipient; else SHA-256 of the
    stored text's UTF-8, 64 hex digits: a changed row still has a fingerprint, which a
    removal pins and which no longer matches what an addition pinned."""
    if intact(stored):
        return recipient_fingerprint(stored)
    return hashlib.sha256(stored.encode("utf-8", "surrogatepass")).hexdigest()


def display_fingerprint(stored: str) -> str:
    """The fingerprint as people compare it (:func:`stored_fingerprint`): 16 groups of
    4 upper-case hex digits."""
    digest = stored_fingerprint(stored).upper()
    return " ".join(digest[i : i + 4] for i in range(0, len(digest), 4))


def short_fingerprint(stored: str) -> str:
    """The first 4 groups (64 bits): enough to tell registered recipients apart."""
    return " ".join(display_fingerprint(stored).split(" ")[:4])


_NAME_PUNCTUATION = frozenset(" .,-()&/'")


def _plain(character: str) -> bool:
    if character in _NAME_PUNCTUATION or ("0" <= character <= "9"):
        return True
    return character.isalpha() and unicodedata.name(character, "").startswith("LATIN ")


def checked_name(name: str) -> str:
    """A recipient's name: NFKC, spaces trimmed and collapsed. Raises
    :class:`ServiceError`, field ``name``: ``EMPTY_TEXT``, ``RECIPIENT_NAME_TOO_LONG``
    (over :data:`NAME_MAX` characters), ``RECIPIENT_NAME_NOT_PLAIN`` (a character other
    than Latin letters, digits and ``. , - ( ) & / '``, e.g. a zero-width space, an RTL
    override or a Cyrillic look-alike), ``RECIPIENT_NAME_NOT_RECORDABLE`` (what the access
    log refuses to record, like a report code or an IP address: the name is in
    ``proposal.create``, ``export_recipient.add`` and ``report.export`` entries)."""
    cleaned = " ".join(unicodedata.normalize("NFKC", name).split())
    if not cleaned:
        raise ServiceError(Reason.EMPTY_TEXT, "name")
    if len(cleaned) > NAME_MAX:
        raise ServiceError(Reason.RECIPIENT_NAME_TOO_LONG, "name")
    if not all(_plain(c) for c in cleaned):
        raise ServiceError(Reason.RECIPIENT_NAME_NOT_PLAIN, "name")
    try:
        audit.check_detail({"recipient": cleaned})
    except audit.AuditError:
        raise ServiceError(Reason.RECIPIENT_NAME_NOT_RECORDABLE, "name") from None
    return cleaned


def same_name(one: str, other: str) -> bool:
    """Whether two names are the same to a reader: equal after NFKC and case folding
    (and spaces collapsed), e.g. "KPK" and "kpk", "Arsip  Kota" and "ARSIP KOTA"."""

    def key(text: str) -> str:
        return " ".join(unicodedata.normalize("NFKC", text).casefold().split())

    return key(one) == key(other)


def registered(session: Session) -> list[ExportRecipient]:
    """The recipients offered on the export form, by name: approved and :func:`intact`
    (a row changed in the database is left out, never offered)."""
    return [
        row
        for row in session.scalars(
            select(ExportRecipient)
            .where(ExportRecipient.state == RecipientState.ACTIVE.value)
            .order_by(ExportRecipient.name)
        )
        if intact(row.recipient)
    ]


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
    field ``to``) if there is none with this id, it is not (or no longer) approved, or it
    is not :func:`intact`."""
    row = session.get(ExportRecipient, recipient_id)
    if row is None or row.state != RecipientState.ACTIVE or not intact(row.recipient):
        raise ServiceError(Reason.NO_SUCH_RECIPIENT, "to")
    return row


# --- offered to reporters (escalation, issue 20) ------------------------------------------

CHANNEL_MAX = 200  # characters (the column's size)
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")  # RFC 1123 §2.1 host name label
_ONION = re.compile(r"^[a-z2-7]{56}$")  # a v3 onion service address (Tor rend-spec-v3 §6)
# RFC 3986 §2.2-2.3 (reserved and unreserved characters) and "%" of percent-encoding:
# nothing else (no space, no quote, no angle bracket) ever reaches a page or the log.
_URL_CHARACTERS = re.compile(r"^[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]+$")


def checked_channel(text: str) -> str:
    """The address where reporters upload a file on an agency's own site, as it is
    stored and shown: ``https://host/path`` with a plain DNS host name (RFC 1123 labels,
    an alphabetic top-level label: never an IP address), or ``http://`` (or
    ``https://``) to a v3 ``.onion`` service; scheme and host in lower case; no user
    name, password or port; at most :data:`CHANNEL_MAX` characters of RFC 3986. Raises
    :class:`ServiceError` ``REPORTER_CHANNEL_INVALID`` (field ``reporter_channel``) for
    anything else, and for what the access log would refuse to record (the address is in
    ``proposal.create`` and ``export_recipient.offer`` entries)."""
    cleaned = text.strip()
    invalid = ServiceError(Reason.REPORTER_CHANNEL_INVALID, "reporter_channel")
    if not cleaned or len(cleaned) > CHANNEL_MAX or not _URL_CHARACTERS.match(cleaned):
        raise invalid
    parts = urlsplit(cleaned)
    scheme = parts.scheme.lower()
    if parts.username is not None or "@" in parts.netloc or ":" in parts.netloc:
        raise invalid  # "https://kpk.go.id@elsewhere.example" is elsewhere's
    host = parts.netloc.lower()
    labels = host.split(".")
    if len(labels) < 2 or not all(_LABEL.match(label) for label in labels):
        raise invalid
    onion = labels[-1] == "onion" and bool(_ONION.match(labels[-2]))
    if labels[-1] == "onion" and not onion:
        raise invalid
    if not (scheme == "https" or (scheme == "http" and onion)) or not labels[-1].isalpha():
        raise invalid
    channel = f"{scheme}://{host}{cleaned[len(parts.scheme) + 3 + len(parts.netloc) :]}"
    try:
        audit.check_detail({"reporter_channel": channel})
    except audit.AuditError:
        raise invalid from None
    return channel


# The domain-separation label of an offer's signature (sipadu.crypto.sign): an offer's
# signature is never valid as a checkpoint's, an export manifest's or a transparency
# report's, nor the other way round.
OFFER_LABEL = "sipadu.agency-offer.v1"


def offer_message(row: ExportRecipient) -> bytes:
    """What an offer's signature covers: RFC 8785 (JCS) JSON of the row's ``id``,
    ``name``, ``recipient`` (the canonical ``age1…``), ``offered_to_reporters`` and
    ``reporter_channel``, UTF-8: the agency a reporter is shown, the key the bundle is
    encrypted to, and the address they are told to upload to."""
    return audit.canonical(
        {
            "id": str(row.id),
            "name": row.name,
            "recipient": row.recipient,
            "offered_to_reporters": bool(row.offered_to_reporters),
            "reporter_channel": row.reporter_channel,
        }
    )


def sign_offer(row: ExportRecipient, signing_seed: bytes) -> None:
    """Sign the row's offer as it now stands with the instance's audit signing key
    (``signing_seed``, 32 bytes; :func:`sipadu.crypto.sign`, Ed25519, under
    :data:`OFFER_LABEL`) into ``offer_signature`` (64 bytes). Called only when a second
    admin's approval applies an offer (:mod:`sipadu.services.proposals`). Raises
    ``CryptoError`` for a seed not 32 bytes."""
    row.offer_signature = sign(signing_seed, OFFER_LABEL, offer_message(row))


def offer_checks(row: ExportRecipient, audit_key: bytes | None) -> bool:
    """Whether the row's ``offer_signature`` is the instance's signature over what it
    offers now (:func:`offer_message`), checked with ``audit_key``: the audit public key
    (32 bytes) this host knows from its configuration, never from the database
    (:func:`sipadu.settings.instance.pinned_audit_key`). False without a key or a
    signature, or when the name, key or address was changed in the database since two
    admins approved them (or the signature was, or taken from another row)."""
    if audit_key is None or row.offer_signature is None:
        return False
    try:
        verify_signature(audit_key, OFFER_LABEL, offer_message(row), bytes(row.offer_signature))
    except CryptoError:
        return False
    return True


def _offerable(row: ExportRecipient, audit_key: bytes | None) -> bool:
    """Registered, intact, offered, with an upload address that still passes
    :func:`checked_channel`, and all of it as two admins approved it
    (:func:`offer_checks`): a row changed in the database is never offered."""
    if row.state != RecipientState.ACTIVE or not row.offered_to_reporters:
        return False
    if not intact(row.recipient) or not row.reporter_channel:
        return False
    try:
        if checked_channel(row.reporter_channel) != row.reporter_channel:
            return False
    except ServiceError:
        return False
    return offer_checks(row, audit_key)


def offered_agencies(session: Session, audit_key: bytes | None) -> list[ExportRecipient]:
    """The agencies a reporter may forward their report to, by name: registered
    recipients a second admin offered to reporters, their offer signed by the instance
    and checked with ``audit_key`` (:func:`_offerable`; none without a key)."""
    return [
        row
        for row in session.scalars(
            select(ExportRecipient)
            .where(
                ExportRecipient.state == RecipientState.ACTIVE.value,
                ExportRecipient.offered_to_reporters.is_(True),
            )
            .order_by(ExportRecipient.name)
        )
        if _offerable(row, audit_key)
    ]


def offered_agency(session: Session, agency_id: str, audit_key: bytes | None) -> ExportRecipient:
    """The agency ``agency_id`` (a UUID as a form sends it) if it is offered to
    reporters now (:func:`offered_agencies`). Raises :class:`ServiceError`
    ``AGENCY_NOT_OFFERED`` (field ``agency``) for anything else: not a UUID, no such
    row, not offered, removed from the registry or changed in the database since the
    page was shown or since two admins approved it."""
    try:
        row = session.get(ExportRecipient, uuid.UUID(agency_id))
    except ValueError:
        row = None
    if row is None or not _offerable(row, audit_key):
        raise ServiceError(Reason.AGENCY_NOT_OFFERED, "agency")
    return row
