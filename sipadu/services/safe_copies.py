"""Safe copies of evidence files for investigators (issue 21, item 4; docs/casework.md,
"Safe copies").

A safe copy is a new PDF made of the pixels of a file's pages only
(:mod:`sipadu.evidence.safe_copy`), safe to open on an office PC. It is made once per
file and kept like any file: encrypted with a fresh file key as a blob of its own
(:mod:`sipadu.evidence.storage`), its file key, size and page count sealed under the
report's current case key in a ``safe_copy`` row bound to the attachment, the blob and
the epoch (:func:`~sipadu.services.row_metadata.safe_copy_bound`). A file that cannot be
converted gets a row too, with the reason sealed instead of a key, so it is not tried
again on every click: only an explicit retry (``retry=True``) deletes that row and tries
once more. "This host cannot isolate LibreOffice" is never remembered (the host may be
fixed), nor is "no converter free" (:class:`~sipadu.persistence.slots.Busy`).

Who may have a copy: whoever may download the file, checked the same way (a grant, the
file's own sealed details opening with a key the caller holds); a file that fails its
integrity check is never converted. Making one is recorded as
``attachment.safe_copy_make`` (the outcome: ``made`` or the reason), reading one as
``attachment.safe_copy`` (its size), each in the transaction that does it and, for a
read, committed before the first byte leaves (G4). Neither records a name or content.

Two requests for the same file at once make one copy: a lock per file in this process,
and across processes the row's primary key (the attachment's id): the later one finds
the row, drops its own blob, and serves the stored copy.
"""

import contextlib
import struct
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from sipadu.accountability import audit
from sipadu.accountability.audit import Action
from sipadu.crypto import CryptoError, Purpose, open_field, seal_field
from sipadu.evidence import storage
from sipadu.evidence.safe_copy import HEAD_BYTES, CannotConvert, Limits, Refused, make
from sipadu.persistence.models import Report, SafeCopy
from sipadu.persistence.slots import SlotPool
from sipadu.services import IntegrityFailed
from sipadu.services.attachments import AttachmentInfo, read_attachment
from sipadu.services.cases import granted
from sipadu.services.key_ring import HeldKeys
from sipadu.services.row_metadata import safe_copy_bound, safe_copy_field

SLOT_WAIT_SECONDS = 60  # for a converter, before the request is answered "busy"
_MADE, _REFUSED = b"\x01", b"\x02"
_MADE_PARTS = struct.Struct(">32sQI")  # file key, size (bytes), pages
NOT_REMEMBERED = frozenset({CannotConvert.NO_ISOLATION})

__all__ = [
    "CannotConvert",
    "Refused",
    "SafeCopyInfo",
    "download_safe_copy",
    "make_safe_copy",
    "read_safe_copy",
    "safe_copy_name",
]


@dataclass(frozen=True)
class SafeCopyInfo:
    """A stored safe copy: its file's id, the copy's size (bytes) and pages."""

    attachment_id: uuid.UUID
    size: int
    pages: int


@dataclass(frozen=True)
class _Opened:
    info: SafeCopyInfo | None
    refused: CannotConvert | None
    blob_id: uuid.UUID | None
    key: bytes


def safe_copy_name(name: str) -> str:
    """The copy's download name: the file's own without its extension, then
    ``-salinan-aman.pdf`` ("safe copy")."""
    stem = name.rpartition(".")[0] or name
    return f"{stem[:150]}-salinan-aman.pdf"


def _seal(case_key: bytes, report_id: uuid.UUID, row: SafeCopy, plaintext: bytes) -> bytes:
    return seal_field(
        case_key,
        plaintext,
        report_id=report_id,
        field=safe_copy_field(row.attachment_id),
        bound=safe_copy_bound(row),
    )


def _open_row(row: SafeCopy, keys: HeldKeys) -> _Opened:
    """What the row holds. Raises ``CryptoError`` (or ``NoKey``) when it does not open
    with its own metadata, or holds what no writer seals."""
    plaintext = open_field(
        keys.key(Purpose.CASE, row.epoch),
        row.sealed,
        report_id=keys.report_id,
        field=safe_copy_field(row.attachment_id),
        bound=safe_copy_bound(row),
    )
    if plaintext[:1] == _MADE and len(plaintext) == 1 + _MADE_PARTS.size and row.blob_id:
        key, size, pages = _MADE_PARTS.unpack(plaintext[1:])
        return _Opened(SafeCopyInfo(row.attachment_id, size, pages), None, row.blob_id, key)
    if plaintext[:1] == _REFUSED and row.blob_id is None:
        try:
            return _Opened(None, CannotConvert(plaintext[1:].decode()), None, b"")
        except (ValueError, UnicodeDecodeError):
            pass
    raise CryptoError("not a safe copy")


def _stored(session: Session, keys: HeldKeys, attachment_id: uuid.UUID) -> _Opened | None:
    row = session.get(SafeCopy, attachment_id)
    if row is None:
        return None
    try:
        return _open_row(row, keys)
    except (CryptoError, ValueError):
        raise IntegrityFailed() from None


def _file(
    session: Session, keys: HeldKeys, account_id: uuid.UUID, attachment_id: uuid.UUID
) -> tuple[AttachmentInfo, Iterator[bytes]]:
    """The file, as its download checks it: granted, within the report, intact.
    Raises ``NotGranted``, ``ServiceError(NO_SUCH_FILE)`` or ``IntegrityFailed``."""
    granted(session, keys.report_id, account_id)
    return read_attachment(session, keys.report_id, attachment_id, keys)


_making: dict[uuid.UUID, tuple[threading.Lock, int]] = {}  # a file's lock, and its users
_making_guard = threading.Lock()


@contextlib.contextmanager
def _lock(attachment_id: uuid.UUID) -> Iterator[None]:
    """One conversion of a file at a time in this process; the lock is forgotten when
    nobody holds or waits for it."""
    with _making_guard:
        lock, users = _making.get(attachment_id, (threading.Lock(), 0))
        _making[attachment_id] = (lock, users + 1)
    try:
        with lock:
            yield
    finally:
        with _making_guard:
            lock, users = _making[attachment_id]
            if users == 1:
                del _making[attachment_id]
            else:
                _making[attachment_id] = (lock, users - 1)


def make_safe_copy(
    sessions: sessionmaker[Session],
    reads: sessionmaker[Session],
    keys_of: Callable[[Session], HeldKeys],
    account_id: uuid.UUID,
    attachment_id: uuid.UUID,
    limits: Limits,
    pool: SlotPool,
    *,
    retry: bool = False,
) -> SafeCopyInfo:
    """The file's safe copy, made now (holding a slot of ``pool``) if it has none yet.
    ``keys_of(session)`` gives the caller's keys of the report in a session. Owns its
    transactions (``sessions`` write, ``reads`` only read: the file is read on one while
    the children run, so no write lock is held through a conversion): the copy is
    staged in short ones while the children run, and stored, linked and recorded
    (``attachment.safe_copy_make``) in one.

    Raises :class:`~sipadu.evidence.safe_copy.Refused` (this time, or remembered from
    an earlier one unless ``retry``), ``NotGranted``, ``ServiceError(NO_SUCH_FILE)``,
    :class:`~sipadu.services.IntegrityFailed` (the file or its copy's row altered, also
    when a piece of the file fails its check during the conversion: nothing is
    remembered then),
    :class:`~sipadu.persistence.slots.Busy` (no converter free within
    :data:`SLOT_WAIT_SECONDS`)."""
    with _lock(attachment_id):
        with reads.begin() as session:
            keys = keys_of(session)
            _file(session, keys, account_id, attachment_id)
            stored = _stored(session, keys, attachment_id)
            if stored is not None and stored.info is not None:
                return stored.info
            if stored is not None and stored.refused is not None and not retry:
                raise Refused(stored.refused)
        with pool.slot(SLOT_WAIT_SECONDS):
            return _convert(sessions, reads, keys_of, account_id, attachment_id, limits)


def _convert(
    sessions: sessionmaker[Session],
    reads: sessionmaker[Session],
    keys_of: Callable[[Session], HeldKeys],
    account_id: uuid.UUID,
    attachment_id: uuid.UUID,
    limits: Limits,
) -> SafeCopyInfo:
    upload = storage.EncryptingUpload(sessions)
    refused: CannotConvert | None = None
    made = None
    try:
        with reads() as reading:  # the file is read once, while the render child takes it
            keys = keys_of(reading)
            info, plaintext = _file(reading, keys, account_id, attachment_id)
            try:
                head, pieces = _head(plaintext)
                made = make(pieces, head, info.size, limits, upload.write)
            except Refused as exc:
                refused = exc.reason
            except CryptoError:
                # A piece of the file failed its check while the render child took it
                # (make stops the children at once): the file's integrity page, and
                # nothing remembered, as for its download.
                raise IntegrityFailed() from None
            reading.rollback()
        stored_file = upload.finish()
    except BaseException:
        storage.discard(sessions, [upload.blob_id])
        raise
    if refused is not None:
        storage.discard(sessions, [upload.blob_id])
        if refused not in NOT_REMEMBERED:
            _remember(sessions, keys_of, account_id, attachment_id, None, refused)
        raise Refused(refused)
    assert made is not None
    copy = SafeCopyInfo(attachment_id, stored_file.size, made.pages)
    try:
        kept = _remember(sessions, keys_of, account_id, attachment_id, (stored_file, copy), None)
    except BaseException:
        storage.discard(sessions, [upload.blob_id])
        raise
    if kept != copy:  # another process stored one first: that one is the copy
        storage.discard(sessions, [upload.blob_id])
    return kept


def _head(plaintext: Iterator[bytes]) -> tuple[bytes, Iterator[bytes]]:
    """The first :data:`HEAD_BYTES` of a stream, and the whole stream again."""
    taken: list[bytes] = []
    size = 0
    for piece in plaintext:
        taken.append(piece)
        size += len(piece)
        if size >= HEAD_BYTES:
            break

    def again() -> Iterator[bytes]:
        yield from taken
        yield from plaintext

    return b"".join(taken)[:HEAD_BYTES], again()


def _remember(
    sessions: sessionmaker[Session],
    keys_of: Callable[[Session], HeldKeys],
    account_id: uuid.UUID,
    attachment_id: uuid.UUID,
    made: tuple[storage.StoredFile, SafeCopyInfo] | None,
    refused: CannotConvert | None,
) -> SafeCopyInfo:
    """Store the copy (or the reason) and record it, in one transaction; what is stored
    already wins (another process made it meanwhile): that copy comes back (or its
    reason is raised)."""
    try:
        with sessions.begin() as session:
            keys = keys_of(session)
            granted(session, keys.report_id, account_id)
            session.execute(
                delete(SafeCopy).where(
                    SafeCopy.attachment_id == attachment_id, SafeCopy.blob_id.is_(None)
                )
            )  # a remembered refusal, retried
            epoch = session.get_one(Report, keys.report_id).key_epoch
            case_key = keys.key(Purpose.CASE, epoch)
            row = SafeCopy(
                attachment_id=attachment_id,
                blob_id=made[0].blob_id if made else None,
                epoch=epoch,
            )
            if made is not None:
                stored_file, copy = made
                plaintext = _MADE + _MADE_PARTS.pack(stored_file.key, copy.size, copy.pages)
                storage.link(session, [stored_file.blob_id])
            else:
                assert refused is not None
                plaintext = _REFUSED + refused.value.encode()
            row.sealed = _seal(case_key, keys.report_id, row, plaintext)
            session.add(row)
            session.flush()  # a row stored meanwhile fails here, before the entry
            audit.append(
                session,
                str(account_id),
                "investigator",
                Action.SAFE_COPY_MAKE,
                report_id=keys.report_id,
                detail={
                    "attachment": str(attachment_id),
                    "outcome": "made" if made else str(refused),
                },
            )
    except IntegrityError:
        with sessions.begin() as session:
            keys = keys_of(session)
            stored = _stored(session, keys, attachment_id)
        if stored is None:
            raise
        if stored.info is None:
            raise Refused(stored.refused or CannotConvert.UNREADABLE) from None
        return stored.info
    return made[1] if made else SafeCopyInfo(attachment_id, 0, 0)


def download_safe_copy(
    session: Session, keys: HeldKeys, account_id: uuid.UUID, attachment_id: uuid.UUID
) -> SafeCopyInfo:
    """The stored copy of a file the caller may download, its download recorded
    (``attachment.safe_copy``, with its size and the file's id) in the caller's
    transaction: commit before streaming (:func:`read_safe_copy`). Raises
    ``NotGranted``, ``ServiceError(NO_SUCH_FILE)`` (also: no copy made),
    :class:`~sipadu.services.IntegrityFailed`, or :class:`Refused` for a remembered
    refusal."""
    _file(session, keys, account_id, attachment_id)
    stored = _stored(session, keys, attachment_id)
    if stored is None:
        from sipadu.services import Reason, ServiceError

        raise ServiceError(Reason.NO_SUCH_FILE)
    if stored.info is None:
        raise Refused(stored.refused or CannotConvert.UNREADABLE)
    audit.append(
        session,
        str(account_id),
        "investigator",
        Action.SAFE_COPY_DOWNLOAD,
        report_id=keys.report_id,
        detail={"attachment": str(attachment_id), "size": stored.info.size},
    )
    return stored.info


def read_safe_copy(
    session: Session, keys: HeldKeys, attachment_id: uuid.UUID
) -> tuple[tuple[AttachmentInfo, SafeCopyInfo], Iterator[bytes]]:
    """The file's details and its copy's, and the copy's plaintext, streamed (lazy); on a
    reading session of its own, after :func:`download_safe_copy` committed. Raises
    ``ServiceError(NO_SUCH_FILE)`` (shredded since) or ``IntegrityFailed``."""
    info, _unread = read_attachment(session, keys.report_id, attachment_id, keys)
    stored = _stored(session, keys, attachment_id)
    if stored is None or stored.info is None or stored.blob_id is None:
        from sipadu.services import Reason, ServiceError

        raise ServiceError(Reason.NO_SUCH_FILE)
    return (info, stored.info), storage.read_plaintext(session, stored.blob_id, stored.key)
