"""Evidence files: sealing their metadata and file keys, listing them, reading them back."""

import unicodedata
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from sipadu.crypto import open_field, seal_field
from sipadu.evidence import storage
from sipadu.evidence.storage import StoredFile
from sipadu.persistence.db import scope_to_report
from sipadu.persistence.models import Attachment
from sipadu.services import Reason, ServiceError

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


def _field(attachment_id: uuid.UUID, what: str) -> str:
    return f"attachment/{attachment_id}/{what}"


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
        attachment_id = uuid.uuid4()

        def seal(what: str, value: bytes, attachment_id: uuid.UUID = attachment_id) -> bytes:
            return seal_field(
                case_key, value, report_id=report_id, field=_field(attachment_id, what)
            )

        session.add(
            Attachment(
                id=attachment_id,
                report_id=report_id,
                message_id=message_id,
                blob_id=upload.stored.blob_id,
                uploader=uploader,
                epoch=epoch,
                sealed_name=seal("name", clean_name(upload.name).encode()),
                sealed_type=seal("type", (upload.content_type or "").encode()[:200]),
                sealed_size=seal("size", str(upload.stored.size).encode()),
                sealed_key=seal("key", upload.stored.key),
            )
        )
        ids.append(attachment_id)
    storage.link(session, [u.stored.blob_id for u in files])
    return ids


CaseKey = Callable[[int], bytes]  # epoch -> case key


def _open(row: Attachment, case_key: CaseKey, what: str, sealed: bytes) -> bytes:
    return open_field(
        case_key(row.epoch), sealed, report_id=row.report_id, field=_field(row.id, what)
    )


def list_attachments(
    session: Session, report_id: uuid.UUID, case_key: CaseKey
) -> list[AttachmentInfo]:
    rows = session.scalars(select(Attachment).where(Attachment.report_id == report_id))
    return [
        AttachmentInfo(
            row.id,
            row.message_id,
            _open(row, case_key, "name", row.sealed_name).decode(),
            _open(row, case_key, "type", row.sealed_type).decode(),
            int(_open(row, case_key, "size", row.sealed_size)),
        )
        for row in rows
    ]


def read_attachment(
    session: Session, report_id: uuid.UUID, attachment_id: uuid.UUID, case_key: CaseKey
) -> tuple[AttachmentInfo, Iterator[bytes]]:
    """The file's details and its plaintext, streamed; only within ``report_id``."""
    scope_to_report(session, report_id)
    row = session.get(Attachment, attachment_id)
    if row is None or row.report_id != report_id:
        raise ServiceError(Reason.NO_SUCH_FILE)
    info = AttachmentInfo(
        row.id,
        row.message_id,
        _open(row, case_key, "name", row.sealed_name).decode(),
        _open(row, case_key, "type", row.sealed_type).decode(),
        int(_open(row, case_key, "size", row.sealed_size)),
    )
    file_key = _open(row, case_key, "key", row.sealed_key)
    return info, storage.read_plaintext(session, row.blob_id, file_key)
