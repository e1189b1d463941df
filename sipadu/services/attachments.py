"""Evidence files: sealing their metadata and file keys, listing them, reading them back.

Each sealed part (name, type, size, file key) binds the attachment's message (or none:
the report's own evidence), uploader, blob and epoch (:mod:`sipadu.services.row_metadata`):
a file moved onto another message, or pointed at another blob, does not open. A file
that does not open is listed as failed (:attr:`AttachmentInfo.intact`) and never read.
"""

import unicodedata
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from sipadu.crypto import CryptoError, field_version, open_field, seal_field
from sipadu.evidence import storage
from sipadu.evidence.storage import StoredFile
from sipadu.persistence.db import scope_to_report
from sipadu.persistence.models import Attachment, Message
from sipadu.services import IntegrityFailed, Reason, ServiceError
from sipadu.services.row_metadata import attachment_bound, attachment_field

MAX_NAME = 200


@dataclass(frozen=True)
class UploadedFile:
    stored: StoredFile
    name: str
    content_type: str


@dataclass(frozen=True)
class AttachmentInfo:
    id: uuid.UUID
    message_id: uuid.UUID | None
    name: str
    content_type: str
    size: int
    intact: bool = True  # False: failed its integrity check; name, type and size are empty


def clean_name(typed: str | None) -> str:
    """The last path segment only ("../../etc/passwd" -> "passwd"), no control
    characters, NFC, at most 200 characters; "file" if nothing is left."""
    name = unicodedata.normalize("NFC", typed or "").replace("\\", "/").split("/")[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C").strip(" .")
    return name[:MAX_NAME] or "file"


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
            epoch=epoch,
        )

        def seal(what: str, value: bytes, row: Attachment = row) -> bytes:
            return seal_field(
                case_key,
                value,
                report_id=report_id,
                field=attachment_field(row.id, what),
                bound=attachment_bound(row),
            )

        row.sealed_name = seal("name", clean_name(upload.name).encode())
        row.sealed_type = seal("type", (upload.content_type or "").encode()[:200])
        row.sealed_size = seal("size", str(upload.stored.size).encode())
        row.sealed_key = seal("key", upload.stored.key)
        session.add(row)
        ids.append(row.id)
    storage.link(session, [u.stored.blob_id for u in files])
    return ids


CaseKey = Callable[[int], bytes]  # epoch -> case key


def _open(row: Attachment, case_key: CaseKey, what: str, sealed: bytes) -> bytes:
    bound = attachment_bound(row)  # first: a malformed epoch is no epoch to look up
    return open_field(
        case_key(row.epoch),
        sealed,
        report_id=row.report_id,
        field=attachment_field(row.id, what),
        bound=bound,
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


def _info(row: Attachment, case_key: CaseKey, moved: set[uuid.UUID]) -> AttachmentInfo:
    """The file's details, or a failed entry if they do not open (``CryptoError``: a
    key whose wrap is missing still raises ``NoKey``)."""
    try:
        if row.id in moved:
            raise CryptoError("old-format file on a new-format message")
        return AttachmentInfo(
            row.id,
            row.message_id,
            _open(row, case_key, "name", row.sealed_name).decode(),
            _open(row, case_key, "type", row.sealed_type).decode(),
            int(_open(row, case_key, "size", row.sealed_size)),
        )
    except (CryptoError, UnicodeDecodeError, ValueError):
        return AttachmentInfo(row.id, row.message_id, "", "", 0, intact=False)


def list_attachments(
    session: Session, report_id: uuid.UUID, case_key: CaseKey
) -> list[AttachmentInfo]:
    """The files of a report, each opened with its own metadata; one that does not open
    is listed with ``intact`` false and nothing else of it."""
    rows = list(session.scalars(select(Attachment).where(Attachment.report_id == report_id)))
    moved = _legacy_on_new_message(session, rows)
    return [_info(row, case_key, moved) for row in rows]


def read_attachment(
    session: Session, report_id: uuid.UUID, attachment_id: uuid.UUID, case_key: CaseKey
) -> tuple[AttachmentInfo, Iterator[bytes]]:
    """The file's details and its plaintext, streamed; only within ``report_id``.
    Raises ``ServiceError(NO_SUCH_FILE)`` for a file of no report of the caller's, and
    :class:`~sipadu.services.IntegrityFailed` when its details or file key do not open
    with its own metadata (then nothing of it is read)."""
    scope_to_report(session, report_id)
    row = session.get(Attachment, attachment_id)
    if row is None or row.report_id != report_id:
        raise ServiceError(Reason.NO_SUCH_FILE)
    info = _info(row, case_key, _legacy_on_new_message(session, [row]))
    if not info.intact:
        raise IntegrityFailed()
    try:
        file_key = _open(row, case_key, "key", row.sealed_key)
    except CryptoError:
        raise IntegrityFailed() from None
    return info, storage.read_plaintext(session, row.blob_id, file_key)
