"""What each kind of sealed row binds besides its report and field name: its metadata,
authenticated with it (sealed field format version 2, docs/crypto.md "Sealed fields,
version 2").

A database writer must not be able to relabel who wrote a row, reorder or re-date it, or
move it to another parent without the row failing to open. Writers and readers build
the metadata here, from the row itself, so the two always agree: a reader that opens a
row with these parts proves the columns it shows are the ones it was sealed with.

| row | field | bound, in order |
|---|---|---|
| report field | ``report/<name>`` | nothing (report and name are the field's context) |
| message | ``message/<id>/body`` | author, account, sent_on, epoch |
| attachment | ``attachment/<id>/<what>`` | message, uploader, blob, epoch |
| grant's read mark | ``grant/<account>/read_mark`` | nothing (the account is in the name) |

A message's position is not a column a writer could change: it is sealed inside the
message (:func:`message_plaintext`), and a message's and an attachment's epoch are not
stored either (their columns are null for version 2 rows; a reader tries the epochs it
holds, :func:`sipadu.services.key_ring.open_any_epoch`): a plaintext position or epoch
would order a reporter's row among staff actions the audit log dates (G2, docs/crypto.md
"Row order").
| note | ``note/<id>/body`` | author, written_at, epoch |
| identity request | ``identity-request/<id>`` | requester, requested_at |
| case record | ``case/record`` | epoch |
| referral's answer | ``referral/<id>/response`` | recorded_on, epoch |
| attachment's safe copy | ``attachment/<id>/safe-copy`` | blob (empty: none), epoch |

Encodings: an id is its 16 raw bytes, or empty for none (a report-level attachment, a
message from the reporter); a number is u32 big-endian; a day is its ISO 8601 text
(``2025-03-14``); an instant is ISO 8601 UTC to the microsecond
(``2025-03-14T09:26:53.589793Z``); a word (author, uploader) is its UTF-8 text.

A column holding a value of the wrong type (SQLite stores whatever it is given: ``'abc'``
in an epoch, a malformed date, a non-UUID) reads as its type's malformed value
(:mod:`sipadu.persistence.checked`); binding one raises :class:`MalformedRow`, a
``CryptoError``, so the row fails its integrity check like any other altered row
instead of failing the page (issue 15, item 9).
"""

import struct
import uuid
from datetime import UTC, date, datetime

from sipadu.crypto import Bound, CryptoError
from sipadu.persistence.checked import MALFORMED_DATETIME, is_malformed
from sipadu.persistence.models import (
    Attachment,
    CaseRecord,
    IdentityRequest,
    Message,
    Note,
    Referral,
    SafeCopy,
)

POSITION_LEN = 4  # a sealed message's plaintext starts with its position, u32 big-endian


class MalformedRow(CryptoError):
    """A bound column holds a value no writer stores: the row was changed in the database."""


def _checked(value: object, kind: type | tuple[type, ...]) -> None:
    if not isinstance(value, kind) or isinstance(value, bool) or is_malformed(value):
        raise MalformedRow("a bound column holds a value of the wrong type")


def _id(value: uuid.UUID | None) -> bytes:
    if value is None:
        return b""
    _checked(value, uuid.UUID)
    return value.bytes


def _u32(value: int) -> bytes:
    _checked(value, int)
    try:
        return struct.pack(">I", value)
    except struct.error:
        raise MalformedRow("a bound number is out of range") from None


def _day(value: date) -> bytes:
    _checked(value, date)
    return value.isoformat().encode("ascii")


def _word(value: str) -> bytes:
    _checked(value, str)
    try:
        return value.encode("utf-8")
    except UnicodeEncodeError:
        raise MalformedRow("a bound word is not text") from None


def instant(value: datetime) -> datetime:
    """``value`` as an aware UTC time. SQLite hands a stored time back without its zone
    (it was stored as UTC); PostgreSQL in the connection's zone."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _instant(value: datetime) -> bytes:
    _checked(value, datetime)
    if value.replace(tzinfo=None) == MALFORMED_DATETIME:
        raise MalformedRow("a bound time is malformed")
    return instant(value).strftime("%Y-%m-%dT%H:%M:%S.%fZ").encode("ascii")


def message_field(message_id: uuid.UUID) -> str:
    return f"message/{message_id}/body"


def message_bound(row: Message, epoch: int) -> Bound:
    """What a message binds: ``epoch`` is the one its key is of (the row stores none)."""
    return (
        ("author", _word(row.author)),
        ("account", _id(row.author_account_id)),
        ("sent_on", _day(row.sent_on)),
        ("epoch", _u32(epoch)),
    )


def message_plaintext(position: int, body: str) -> bytes:
    """What a version 2 message seals: its position in the thread (1, 2, ...), then its
    text."""
    return _u32(position) + body.encode("utf-8")


def split_message(plaintext: bytes) -> tuple[int, str]:
    """Inverse of :func:`message_plaintext`: ``(position, text)``; raises
    ``CryptoError`` for a plaintext too short to hold a position, ``UnicodeDecodeError``
    for text that is not UTF-8."""
    if len(plaintext) < POSITION_LEN:
        raise CryptoError("sealed message without its position")
    (position,) = struct.unpack(">I", plaintext[:POSITION_LEN])
    return position, plaintext[POSITION_LEN:].decode("utf-8")


def read_mark_field(account_id: uuid.UUID) -> str:
    return f"grant/{account_id}/read_mark"


def read_mark(count: int) -> bytes:
    """What a grant's read mark seals: the reporter messages its holder has seen."""
    return _u32(count)


def read_mark_count(plaintext: bytes) -> int:
    if len(plaintext) != POSITION_LEN:
        raise CryptoError("not a read mark")
    return int(struct.unpack(">I", plaintext)[0])


def attachment_field(attachment_id: uuid.UUID, what: str) -> str:
    return f"attachment/{attachment_id}/{what}"


def attachment_bound(row: Attachment, epoch: int) -> Bound:
    """What an attachment's parts bind: ``epoch`` is the one their key is of (the row
    stores none)."""
    return (
        ("message", _id(row.message_id)),
        ("uploader", _word(row.uploader)),
        ("blob", _id(row.blob_id)),
        ("epoch", _u32(epoch)),
    )


def safe_copy_field(attachment_id: uuid.UUID) -> str:
    """Where an attachment's safe copy (or why it has none) is sealed (issue 21)."""
    return f"attachment/{attachment_id}/safe-copy"


def safe_copy_bound(row: SafeCopy) -> Bound:
    """A safe copy's blob (empty for a remembered refusal) and case-key epoch: pointing
    the row at another blob, or at another attachment's copy, fails its check."""
    return (("blob", _id(row.blob_id)), ("epoch", _u32(row.epoch)))


def note_field(note_id: uuid.UUID) -> str:
    return f"note/{note_id}/body"


def note_bound(row: Note) -> Bound:
    return (
        ("author", _id(row.author_account_id)),
        ("written_at", _instant(row.written_at)),
        ("epoch", _u32(row.epoch)),
    )


def request_field(request_id: uuid.UUID) -> str:
    return f"identity-request/{request_id}"


def request_bound(row: IdentityRequest) -> Bound:
    return (
        ("requester", _id(row.account_id)),
        ("requested_at", _instant(row.requested_at)),
    )


CASE_RECORD_FIELD = "case/record"


def case_record_bound(row: CaseRecord) -> Bound:
    """What a case record binds: the epoch of the internal key it is sealed under (a
    record moved to another epoch's key fails; docs/crypto.md "Case record")."""
    return (("epoch", _u32(row.epoch)),)


def response_field(referral_id: uuid.UUID) -> str:
    """Where an agency's answer to a referral is sealed (issue 20)."""
    return f"referral/{referral_id}/response"


def response_bound(row: Referral) -> Bound:
    """An answer's day and internal-key epoch: neither can be changed in the database
    without the answer failing its integrity check. Raises :class:`MalformedRow` for a
    row without them (no answer recorded, or columns changed)."""
    if row.response_recorded_on is None or row.response_epoch is None:
        raise MalformedRow("no answer recorded in this row")
    return (
        ("recorded_on", _day(row.response_recorded_on)),
        ("epoch", _u32(row.response_epoch)),
    )
