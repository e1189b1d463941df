"""Evidence files: sealing their metadata and file keys, listing them, reading them back.

Each sealed part (name, type, size, file key) binds the attachment's message (or none:
the report's own evidence), uploader, blob and epoch (:mod:`sipadu.services.row_metadata`):
a file moved onto another message, or pointed at another blob, does not open. A file
that does not open is listed as failed (:attr:`AttachmentInfo.intact`) and never read.
The row stores no epoch (version 2): the reader finds it by the key that opens it
(:func:`~sipadu.services.key_ring.open_any_epoch`), since a stored epoch would date a
reporter's file relative to revocations (docs/crypto.md, "Row order").
"""

import unicodedata
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from sipadu.crypto import CryptoError, Purpose, field_version, open_field, seal_field
from sipadu.evidence import storage
from sipadu.evidence.outcome import Outcome
from sipadu.evidence.storage import StoredFile
from sipadu.persistence.db import scope_to_report
from sipadu.persistence.models import Attachment, Message
from sipadu.services import IntegrityFailed, Reason, ServiceError
from sipadu.services.key_ring import HeldKeys, NoKey, open_any_epoch
from sipadu.services.row_metadata import attachment_bound, attachment_field

MAX_NAME = 200


@dataclass(frozen=True)
class UploadedFile:
    stored: StoredFile
    name: str
    content_type: str
    outcome: Outcome | None = None  # what cleaning did (None: not looked at)


@dataclass(frozen=True)
class AttachmentInfo:
    id: uuid.UUID
    message_id: uuid.UUID | None
    name: str
    content_type: str
    size: int
    intact: bool = True  # False: failed its integrity check; name, type and size are empty


MAX_EXTENSION = 16  # ".docx", ".tar.gz"; a longer "extension" is part of the name
ELLIPSIS = "\u2026"


def shorten_name(name: str, limit: int) -> str:
    """``name`` in at most ``limit`` characters (at least 24), keeping its extension:
    ``"laporan-keuangan-...-2024.pdf"`` becomes ``"laporan-keuang….pdf"``, so a
    shortened name still says what kind of file it is. One or two extensions of at most
    :data:`MAX_EXTENSION` characters together are kept; a name without one is cut at
    the end. The ellipsis shows that something was cut."""
    if len(name) <= limit:
        return name
    limit = max(limit, 24)
    stem, extension = name, ""
    for _ in range(2):  # ".pdf", and ".tar.gz"
        head, dot, tail = stem.rpartition(".")
        if not dot or not head or not tail or len(tail) + 1 + len(extension) > MAX_EXTENSION:
            break
        if " " in tail:
            break
        stem, extension = head, "." + tail + extension
    return stem[: limit - len(extension) - 1].rstrip(" .") + ELLIPSIS + extension


def clean_name(typed: str | None) -> str:
    """The last path segment only ("../../etc/passwd" -> "passwd"), no control
    characters, NFC, at most 200 characters with its extension kept
    (:func:`shorten_name`); "file" if nothing is left."""
    name = unicodedata.normalize("NFC", typed or "").replace("\\", "/").split("/")[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C").strip(" .")
    return shorten_name(name, MAX_NAME) if name else "file"


def attach(
    session: Session,
    report_id: uuid.UUID,
    case_key: bytes,
    epoch: int,
    files: Iterable[UploadedFile],
    *,
    uploader: str,
    message_id: uuid.UUID | None = None,
) -> list[uuid.UUID]:
    """Record files under a report (or message) and link their blobs, in the caller's
    transaction: they exist only if what they belong to commits."""
    ids = []
    for upload in files:
        row = Attachment(
            id=uuid.uuid4(),
            report_id=report_id,
            message_id=message_id,
            blob_id=upload.stored.blob_id,
            uploader=uploader,
            epoch=None,  # bound, not stored (G2)
        )

        def seal(what: str, value: bytes, row: Attachment = row) -> bytes:
            return seal_field(
                case_key,
                value,
                report_id=report_id,
                field=attachment_field(row.id, what),
                bound=attachment_bound(row, epoch),
            )

        row.sealed_name = seal("name", clean_name(upload.name).encode())
        row.sealed_type = seal("type", (upload.content_type or "").encode()[:200])
        row.sealed_size = seal("size", str(upload.stored.size).encode())
        row.sealed_key = seal("key", upload.stored.key)
        session.add(row)
        ids.append(row.id)
    storage.link(session, [u.stored.blob_id for u in files])
    return ids


def _open(key: bytes, epoch: int, row: Attachment, what: str, sealed: bytes) -> bytes:
    return open_field(
        key,
        sealed,
        report_id=row.report_id,
        field=attachment_field(row.id, what),
        bound=attachment_bound(row, epoch),
    )


def _open_name(row: Attachment, keys: HeldKeys) -> tuple[bytes, int]:
    """The file's name and the epoch whose case key opened it (old rows store theirs;
    a new-format row that stores one was written to by someone else)."""
    if row.epoch is not None and not _is_legacy(row):
        raise CryptoError("a new-format file stores no epoch")
    return open_any_epoch(
        keys,
        Purpose.CASE,
        row.epoch,
        lambda key, epoch: _open(key, epoch, row, "name", row.sealed_name),
    )


def _is_legacy(row: Attachment) -> bool:
    try:
        return field_version(row.sealed_key) == 1
    except CryptoError:  # no format at all: the file fails its check when opened
        return False


def _legacy_on_new_message(session: Session, rows: list[Attachment]) -> set[uuid.UUID]:
    """The old-format files (which bind no message) that sit on a new-format message:
    files are sealed in the transaction that writes their message, with the same code,
    so an old-format file on a new-format message was moved there."""
    message_ids = {r.message_id for r in rows if r.message_id is not None and _is_legacy(r)}
    if not message_ids:
        return set()
    new_messages = {
        m_id
        for m_id, body in session.execute(
            select(Message.id, Message.body).where(Message.id.in_(message_ids))
        )
        if body[:1] != b"\x01"
    }
    return {r.id for r in rows if r.message_id in new_messages and _is_legacy(r)}


def _info(
    row: Attachment, keys: HeldKeys, moved: set[uuid.UUID]
) -> tuple[AttachmentInfo, int | None, bytes | None]:
    """The file's details, its epoch and its file key, or a failed entry (and ``None``,
    ``None``) if any of its sealed parts does not open, or no key opens them (a key row
    changed in the database). The file key is opened here, before any byte of the file
    is streamed: a file key that fails made the export break off mid-archive (issue 15,
    item 9); now the file is listed as failed everywhere it is shown."""
    try:
        if row.id in moved:
            raise CryptoError("old-format file on a new-format message")
        name, epoch = _open_name(row, keys)
        key = keys.key(Purpose.CASE, epoch)
        info = AttachmentInfo(
            row.id,
            row.message_id,
            name.decode(),
            _open(key, epoch, row, "type", row.sealed_type).decode(),
            int(_open(key, epoch, row, "size", row.sealed_size)),
        )
        file_key = _open(key, epoch, row, "key", row.sealed_key)
    except (CryptoError, UnicodeDecodeError, ValueError, NoKey):
        return AttachmentInfo(row.id, row.message_id, "", "", 0, intact=False), None, None
    return info, epoch, file_key


def list_attachments(
    session: Session, report_id: uuid.UUID, keys: HeldKeys
) -> list[AttachmentInfo]:
    """The files of a report, each opened with its own metadata and the case key of
    ``keys`` that opens it; one that does not open is listed with ``intact`` false and
    nothing else of it."""
    rows = list(session.scalars(select(Attachment).where(Attachment.report_id == report_id)))
    moved = _legacy_on_new_message(session, rows)
    return [_info(row, keys, moved)[0] for row in rows]


def read_attachment(
    session: Session, report_id: uuid.UUID, attachment_id: uuid.UUID, keys: HeldKeys
) -> tuple[AttachmentInfo, Iterator[bytes]]:
    """The file's details and its plaintext, streamed; only within ``report_id``.
    Raises ``ServiceError(NO_SUCH_FILE)`` for a file of no report of the caller's, and
    :class:`~sipadu.services.IntegrityFailed` when its details or file key do not open
    with its own metadata (then nothing of it is read)."""
    scope_to_report(session, report_id)
    row = session.get(Attachment, attachment_id)
    if row is None or row.report_id != report_id:
        raise ServiceError(Reason.NO_SUCH_FILE)
    info, _epoch, file_key = _info(row, keys, _legacy_on_new_message(session, [row]))
    if file_key is None:
        raise IntegrityFailed()
    return info, storage.read_plaintext(session, row.blob_id, file_key)
