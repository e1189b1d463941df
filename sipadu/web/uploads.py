"""Files sent with a form, on both portals: encrypted while they arrive, then cleaned of
hidden data (DESIGN.md §4, G8; issue 21).

The routes that take files (the reporter's report and reply, the investigator's reply to
the reporter: docs/casework.md, "Files to the reporter"; the operator's intake) declare
:func:`evidence_part` as their sink (:func:`sipadu.web.formdata.receives_files`); the
body is read token first, and files only once the view asks for them
(:func:`uploaded_files`). An :class:`EncryptedPart` encrypts every file as it arrives
and stages the ciphertext in the database in short transactions: no spooled temporary
file, no plaintext on any disk, constant memory. It keeps only the file's first
:data:`~sipadu.evidence.kinds.HEAD_BYTES`, from which its type is told (by content,
never by name or declared type: :mod:`sipadu.evidence.kinds`).

Once every file is staged, each one of a type SIPADU can clean is read back from its
staged blob (in short read transactions), fed to a confined child
(:mod:`sipadu.evidence.cleaning`), and the child's output is encrypted as it comes into
a new staged blob of the same request; the original is then deleted. A file that cannot
be cleaned (unknown type, unreadable, too large, too costly) is kept as sent, and the
half-made copy deleted: :attr:`UploadedFile.outcome` says which, for every file. Staff
files are cleaned the same way: a photo an investigator sends a reporter would otherwise
tell the reporter (and whoever sees their device) the camera, place and time it was
taken. No file is ever held whole by the server: only the child holds what it must,
under its limits.

Cleaning costs CPU and memory out of proportion to the bytes sent (a 156 KiB PNG can
decode to 49 megapixels; a 90 KB DOCX can hold 60 MB of XML), so it is bounded four
ways: a host-wide pool of cleaning children (``SIPADU_IMAGE_CLEANERS``, shared by both
portals; a request that gets no slot within :data:`SLOT_WAIT_SECONDS` is answered 503),
a budget of decoded pixels per request (``SIPADU_IMAGE_MEGAPIXELS_PER_REQUEST``, checked
from each image's header before it is decoded), a budget of document cleaning time per
request (``SIPADU_DOCUMENT_SECONDS_PER_REQUEST``: each document child gets at most what
is left and is charged what it took; once it is spent the request is refused, 413), and
the child's own memory and CPU limits, the CPU limit its whole session's
(:func:`~sipadu.evidence.cleaning.cleaning_limits`).

Every refusal is typed (:class:`~sipadu.web.formdata.Refusal`); the view re-renders the form
with the typed text and :func:`refusal_message`. Whatever the request staged and did not
link is deleted when it ends, whatever happened, except what :func:`spare` keeps for
the next request.
"""

import io
import time
import uuid
from collections.abc import Callable, Sequence
from contextlib import closing
from dataclasses import dataclass, field

from flask import Flask, current_app, request
from flask_babel import gettext as _
from wtforms import Field

from sipadu.crypto import CryptoError
from sipadu.evidence import cleaning, docclean, imagestrip, kinds, storage
from sipadu.evidence.cleaning import MAX_PIXELS, CleaningLimits, cleaning_limits
from sipadu.evidence.confinement import TimeBudget, sweep_scratch
from sipadu.evidence.outcome import Cleaned, KeptAsSent, KeptReason, Kind
from sipadu.evidence.storage import EncryptingUpload, StagingBatch, StoredFile
from sipadu.persistence.slots import Busy, SlotPool, pool_directory
from sipadu.services.attachments import UploadedFile, clean_name, shorten_name
from sipadu.settings.config import MIB, Config
from sipadu.settings.faults import KILL_MID_UPLOAD, trip
from sipadu.web.context import app_config, close_sessions, read_sessions, write_sessions
from sipadu.web.formdata import (
    Refusal,
    UploadRefused,
    chosen_files,
    discard_files,
    receive_files,
)

__all__ = ["MAX_PIXELS"]  # the most pixels one picture may have to be cleaned

_EVIDENCE = "sipadu.evidence"  # this request's uploads (environ key)
_CLEANING = "sipadu.image-cleaning"  # the host-wide pool and the children's limits

SLOT_WAIT_SECONDS = 20  # for a cleaning slot, before the request is answered 503
SLOT_QUEUE = 8  # requests waiting for a cleaning slot on this host; more: 503 at once
FAULT_AFTER_BYTES = 6 * 1024 * 1024  # kill-mid-upload trips here: one batch is committed
NAME_SHOWN = 60  # characters of a file name in a refusal (the extension kept)
NAMES_LISTED = 20  # file names a refusal lists; "and N more" after that


@dataclass
class _Evidence:
    """The evidence files of one request: what they staged, and what of it outlives the
    request (:func:`spare`)."""

    batch: StagingBatch
    pixels_left: int
    seconds: TimeBudget  # of document cleaning
    uploads: list[EncryptingUpload] = field(default_factory=list)
    spared: set[uuid.UUID] = field(default_factory=set)
    alive_at: float = field(default_factory=time.monotonic)

    def still_here(self) -> None:
        """Bytes are arriving: the request is in flight, so the portal's
        :class:`KeepAlive` (if any) runs, at most every ``every_seconds``."""
        keeping: KeepAlive | None = current_app.extensions[_CLEANING].keep_alive
        now = time.monotonic()
        if keeping is not None and now - self.alive_at >= keeping.every_seconds:
            self.alive_at = now
            keeping.action()

    def new_upload(self) -> EncryptingUpload:
        upload = EncryptingUpload(write_sessions(), self.batch)
        self.uploads.append(upload)  # discarded when the request ends, unless linked
        return upload


@dataclass(frozen=True)
class KeepAlive:
    """What a portal does now and then while a request's files arrive: the reporter
    portal restarts the mailbox session's idle clock, so an upload longer than the idle
    limit (45 MB at 50 KiB/s is 15 minutes) does not end it."""

    action: Callable[[], None]
    every_seconds: float


@dataclass(frozen=True)
class _Cleaning:
    pool: SlotPool
    limits: CleaningLimits
    keep_alive: KeepAlive | None


def _evidence() -> _Evidence:
    evidence = request.environ.get(_EVIDENCE)
    if evidence is None:
        sessions = write_sessions()
        config = app_config()
        evidence = _Evidence(
            StagingBatch(sessions),
            config.image_pixels_per_request,
            TimeBudget(config.document_seconds_per_request),
        )
        request.environ[_EVIDENCE] = evidence
    return evidence


class EncryptedPart(io.RawIOBase):
    """A file part encrypted and staged as it arrives; never read back here (there is no
    plaintext to read). Only its first :data:`~sipadu.evidence.kinds.HEAD_BYTES` are
    kept (:attr:`head`), to tell its type."""

    def __init__(
        self, upload: EncryptingUpload, filename: str, content_type: str, limit: int
    ) -> None:
        self.upload = upload
        self.filename = filename
        self.content_type = content_type
        self._limit = limit
        self._size = 0
        self._head = bytearray()

    @property
    def head(self) -> bytes:
        """The file's first bytes (all of a file shorter than ``HEAD_BYTES``)."""
        return bytes(self._head)

    def writable(self) -> bool:
        return True

    def write(self, data: bytes) -> int:  # type: ignore[override]
        self._size += len(data)
        _evidence().still_here()
        if self._size > self._limit:
            raise UploadRefused(Refusal.FILE_TOO_LARGE, name=self.filename)
        if len(self._head) < kinds.HEAD_BYTES:
            self._head += data[: kinds.HEAD_BYTES - len(self._head)]
        written = self.upload.write(data)
        if self._size > FAULT_AFTER_BYTES:
            trip(app_config().faults, KILL_MID_UPLOAD)
        return written

    def end(self) -> None:
        pass


class _TooLargeOnceCleaned(Exception):
    """The clean copy grew past the largest file one form may carry."""


def _cleaned(part: EncryptedPart, original: StoredFile) -> UploadedFile:
    """The file ``part`` staged as ``original``, cleaned if it can be: its clean copy
    (the original deleted), or the original kept as sent (the half-made copy deleted),
    with what happened; a picture, PDF, office document or recording is typed by what
    its content says it is (:func:`_typed`), not by what was declared. Raises
    :class:`UploadRefused` (no cleaning slot, over the request's pixel budget or its
    budget of document cleaning time)."""
    name, content_type = part.filename, part.content_type
    kind = kinds.detect(part.head)
    if not cleaning.cleanable(kind):
        return UploadedFile(original, name, content_type, cleaning.not_cleaned(kind, part.head))
    evidence = _evidence()
    if kind in kinds.IMAGE_KINDS and evidence.pixels_left <= 0:
        raise UploadRefused(Refusal.PIXEL_BUDGET, name=name)
    if kind in kinds.DOCUMENT_KINDS and evidence.seconds.seconds_left < docclean.MIN_SECONDS:
        raise UploadRefused(Refusal.CLEANING_BUDGET, name=name)
    runtime: _Cleaning = current_app.extensions[_CLEANING]
    limit = app_config().max_file_bytes
    copy = evidence.new_upload()
    written = 0

    def write(piece: bytes) -> None:
        nonlocal written
        written += len(piece)
        if written > limit:
            raise _TooLargeOnceCleaned()
        copy.write(piece)

    try:
        with (
            runtime.pool.slot(SLOT_WAIT_SECONDS),
            closing(storage.read_back(read_sessions(), original.blob_id, original.key)) as plain,
        ):
            outcome = cleaning.clean(
                plain, kind, evidence.pixels_left, runtime.limits, write, evidence.seconds
            )
    except Busy as busy:
        raise UploadRefused(Refusal.BUSY, busy.retry_after) from None
    except imagestrip.OverBudget:
        raise UploadRefused(Refusal.PIXEL_BUDGET, name=name) from None
    except docclean.OverBudget:
        raise UploadRefused(Refusal.CLEANING_BUDGET, name=name) from None
    except _TooLargeOnceCleaned:
        outcome = KeptAsSent(kind, KeptReason.TOO_LARGE)
    except CryptoError:
        # The file staged by this very request failed its check when read back for the
        # cleaning child (storage altered or damaged): refused, nothing stored (what was
        # staged is deleted when the request ends).
        raise UploadRefused(Refusal.NOT_READ_BACK, name=name) from None
    sessions = write_sessions()
    if outcome.kind is not None:
        content_type = _typed(outcome.kind, content_type)
    if not isinstance(outcome, Cleaned):
        storage.abandon(sessions, copy)
        return UploadedFile(original, name, content_type, outcome)
    evidence.pixels_left -= outcome.pixels
    clean = storage.finish_all(sessions, [copy])[0]
    storage.discard(sessions, [original.blob_id])
    if outcome.kind is not kind and kind in kinds.IMAGE_KINDS:
        # A HEIF too large to re-encode as HEIF is now a JPEG (a ZIP found to be a DOCX
        # keeps the name it was sent with).
        name, content_type = _named_as(name, outcome.kind)
    return UploadedFile(clean, name, content_type, outcome)


# The media type a file of these kinds is stored with, whatever its sender declared (a
# photo renamed "foto.txt" is offered a safe copy, and downloaded, as the picture it is).
_DETECTED_TYPES = {
    Kind.JPEG: "image/jpeg",
    Kind.PNG: "image/png",
    Kind.WEBP: "image/webp",
    Kind.GIF: "image/gif",
    Kind.TIFF: "image/tiff",
    Kind.HEIF: "image/heif",
    Kind.PDF: "application/pdf",
    Kind.DOCX: "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    Kind.XLSX: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    Kind.PPTX: "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    Kind.ODT: "application/vnd.oasis.opendocument.text",
    Kind.ODS: "application/vnd.oasis.opendocument.spreadsheet",
    Kind.ODP: "application/vnd.oasis.opendocument.presentation",
}
# The media type a recording is stored with when its sender declared no sound or video
# type (a voice note renamed "rekaman.docx" is offered no safe copy); a declared sound or
# video type is kept (a MOV stays video/quicktime).
_RECORDING_TYPES = {
    Kind.MP3: "audio/mpeg",
    Kind.M4A: "audio/mp4",
    Kind.AAC: "audio/aac",
    Kind.OGG: "audio/ogg",
    Kind.FLAC: "audio/flac",
    Kind.WAV: "audio/wav",
    Kind.AIFF: "audio/aiff",
    Kind.CAF: "audio/x-caf",
    Kind.AMR: "audio/amr",
    Kind.ASF: "video/x-ms-asf",
    Kind.MP4: "video/mp4",
    Kind.WEBM: "video/webm",
    Kind.AVI: "video/x-msvideo",
    Kind.MPEGTS: "video/mp2t",
    Kind.FLV: "video/x-flv",
    Kind.MPEGPS: "video/mpeg",
}


def _typed(kind: Kind, declared: str) -> str:
    """The media type a file of ``kind`` (told by its content) is stored with, sent as
    ``declared`` (:data:`_DETECTED_TYPES`, :data:`_RECORDING_TYPES`)."""
    if kind in _DETECTED_TYPES:
        return _DETECTED_TYPES[kind]
    if kind in _RECORDING_TYPES and not declared.lower().startswith(("audio/", "video/")):
        return _RECORDING_TYPES[kind]
    return declared


# What a cleaned copy of another format than its original is named and typed as.
_CLEAN_FORMATS = {Kind.JPEG: (".jpg", "image/jpeg")}


def _named_as(name: str, kind: Kind) -> tuple[str, str]:
    """``name`` with the extension of ``kind`` (``foto.heic`` → ``foto.jpg``), and its
    media type: investigators open the file by its name."""
    extension, content_type = _CLEAN_FORMATS[kind]
    stem, dot, _old = name.rpartition(".")
    return (stem if dot and stem else name) + extension, content_type


def evidence_part(index: int, filename: str, content_type: str) -> EncryptedPart:
    """The sink for the ``index``-th evidence file of a request (see
    :func:`sipadu.web.formdata.receives_files`). Raises :class:`UploadRefused` past
    ``SIPADU_MAX_FILES``."""
    config = app_config()
    if index >= config.max_files:
        raise UploadRefused(Refusal.TOO_MANY_FILES, name=filename)
    return EncryptedPart(_evidence().new_upload(), filename, content_type, config.max_file_bytes)


def uploaded_files(field: Field) -> list[UploadedFile]:
    """Receive this request's evidence files (into :func:`evidence_part`s), store the
    last chunks of all in one transaction, then clean each one SIPADU can clean, one at
    a time (:func:`_cleaned`). Call once the request is authorized and its text valid.
    Returns every file, in the order sent, each with its ``outcome``
    (:class:`~sipadu.evidence.outcome.Cleaned` or :class:`~sipadu.evidence.outcome.
    KeptAsSent`), staged and not yet linked. On a refusal ``field`` gets the message
    that says why and what to do, and :class:`UploadRefused` is raised; whatever was
    staged is deleted when the request ends."""
    refused = receive_files()
    if refused is not None:
        field.errors = [refusal_message(refused, chosen_files())]
        raise refused
    received: list[tuple[EncryptedPart, EncryptingUpload]] = []
    for storage_file in request.files.getlist(field.name):
        # Typed IO[bytes] by werkzeug, which an io.RawIOBase cannot be to a type checker:
        # as object, the isinstance check narrows it to the part our sink made.
        part: object = storage_file.stream
        if isinstance(part, EncryptedPart):
            received.append((part, part.upload))
    stored = storage.finish_all(write_sessions(), [upload for _, upload in received])
    try:
        return [_cleaned(part, file) for (part, _), file in zip(received, stored, strict=True)]
    except UploadRefused as refusal:
        field.errors = [refusal_message(refusal, chosen_files())]
        raise


def spare(files: Sequence[UploadedFile]) -> bool:
    """Keep these staged files of this request when it ends (the teardown deletes every
    other unlinked one): files carried to the next request of a warning round-trip
    (issue 21 item 3), if the database's staged bytes, these files' included
    (:func:`sipadu.evidence.storage.staged_bytes`: uploads in flight too, and files kept
    by other forms), are within ``SIPADU_KEPT_FILES_MIB``. Returns whether they are
    kept; if not, none of them is (the caller says they must be chosen again). Kept, and
    still unlinked, they are purged with abandoned uploads if that request never comes
    (:func:`sipadu.evidence.storage.purge_stale`).

    Two requests checking at once both count each other's files (staged before either
    checks), so the kept bytes never pass the budget; in-flight uploads counted make it
    stricter under load, never looser (docs/deploy.md, "Disk for uploads in flight")."""
    if not files:
        return True
    with write_sessions().begin() as session:
        staged = storage.staged_bytes(session)
    if staged > app_config().kept_files_bytes:
        return False
    _evidence().spared.update(f.stored.blob_id for f in files)
    return True


def not_kept(names: list[str]) -> str:
    """That the files just chosen were not kept with the form (the budget for kept
    files is spent), naming them."""
    return _(
        "Your files could not be kept with the form this time: the server is already "
        "holding as many files for forms waiting to be sent as it can. Nothing was sent. "
        "Your text is kept below, but choose the files again before you send."
    ) + files_to_choose(names)


def forget_files(field: Field) -> None:
    """The form goes back, its files not kept (the text needs correcting, or the
    submission was refused after they arrived): read and drop what is left of them (so
    the browser, still sending, shows the page), and if any were chosen, say on
    ``field`` that they must be chosen again. Call it on every such answer."""
    if discard_files():
        field.errors = [*field.errors, files_again()]


def files_again() -> str:
    """That the files this request carried must be chosen again, naming them."""
    return _(
        "Choose your files again before you send: a form sent back keeps no file."
    ) + files_to_choose(chosen_files())


def files_to_choose(names: list[str]) -> str:
    """ " Choose these files again: a.pdf, b.jpg." (with a leading space), each name
    shortened keeping its extension; "" for none."""
    if not names:
        return ""
    shown = [f"\u201c{shorten_name(name, NAME_SHOWN)}\u201d" for name in names[:NAMES_LISTED]]
    listed = ", ".join(shown)
    if len(names) > NAMES_LISTED:
        listed = _("%(names)s and %(more)d more", names=listed, more=len(names) - NAMES_LISTED)
    return " " + _("Choose these files again: %(names)s.", names=listed)


def refusal_message(refused: UploadRefused, names: list[str] | None = None) -> str:
    """What went wrong with the files (naming the file, when it is about one), what to
    do, that the text is kept, and which files (``names``) must be chosen again."""
    config = app_config()
    reason = refused.reason
    name = shorten_name(clean_name(refused.name), NAME_SHOWN) if refused.name else None
    names = names or []
    why: dict[Refusal, Callable[[], str]] = {
        Refusal.BAD_FILE_INPUT: lambda: _("A file could not be read from the form."),
        Refusal.FILE_TOO_LARGE: lambda: (
            _(
                "The file “%(name)s” is larger than %(mib)d MB, the most one file may be.",
                name=name,
                mib=config.max_file_bytes // MIB,
            )
            if name
            else _(
                "One of the files is larger than %(mib)d MB, the most one file may be.",
                mib=config.max_file_bytes // MIB,
            )
        ),
        Refusal.TOO_MANY_FILES: lambda: (
            _(
                "You chose %(chosen)d files, and one form can carry at most %(count)d.",
                chosen=len(names),
                count=config.max_files,
            )
            if len(names) > config.max_files
            else _(
                "You chose more than %(count)d files, the most one form can carry.",
                count=config.max_files,
            )
        ),
        Refusal.REQUEST_TOO_LARGE: lambda: _(
            "The files together are larger than %(mib)d MB, the most one form can carry.",
            mib=config.max_request_bytes // MIB,
        ),
        Refusal.PIXEL_BUDGET: lambda: _(
            "The pictures together are too large to be cleaned of hidden data (such as "
            "the place a photo was taken) in one go."
        ),
        Refusal.CLEANING_BUDGET: lambda: _(
            "The files together take too long to be cleaned of hidden data (such as the "
            "author of a document) in one go."
        ),
        Refusal.BUSY: lambda: _(
            "The server is busy cleaning other pictures right now. Wait a minute, then send again."
        ),
        Refusal.NOT_READ_BACK: lambda: _(
            "The server could not read a file back safely to clean it, and stored nothing. "
            "Send again."
        ),
    }
    advice = ""
    if reason in (
        Refusal.FILE_TOO_LARGE,
        Refusal.TOO_MANY_FILES,
        Refusal.REQUEST_TOO_LARGE,
        Refusal.PIXEL_BUDGET,
        Refusal.CLEANING_BUDGET,
    ):
        advice = (
            _(
                "Send fewer or smaller files at once: you can add more later, in messages "
                "from your mailbox."
            )
            if current_app.config.get("SIPADU_PORTAL") == "reporter"
            else _("Send fewer or smaller files at once: you can send the rest in another message.")
        )
    about = ""
    if name and reason in (Refusal.PIXEL_BUDGET, Refusal.CLEANING_BUDGET):
        about = _("This is about “%(name)s”.", name=name)
    kept = _("Nothing was sent yet. Your text is kept below, but the files must be chosen again.")
    text = " ".join(part for part in (why[reason](), about, advice, kept) if part)
    if reason is Refusal.REQUEST_TOO_LARGE:
        return text  # refused at its first file, unread: "the files" are all of them
    return text + files_to_choose(names)


def _discard_unlinked(_exc: BaseException | None) -> None:
    evidence = request.environ.get(_EVIDENCE)
    if evidence is None:
        return
    unwanted = [
        upload.blob_id for upload in evidence.uploads if upload.blob_id not in evidence.spared
    ]
    if unwanted:
        # The view may still hold a write transaction (a refused message re-renders the
        # mailbox on its write session): end it, or the discard would wait for it.
        close_sessions()
        storage.discard(write_sessions(), unwanted)


def upload_limits(config: Config) -> dict[str, int]:
    """What a form with files states before anyone chooses one: at most ``files`` files,
    each up to ``file_mb`` MB, all together up to ``total_mb`` MB (from config)."""
    return {
        "files": config.max_files,
        "file_mb": config.max_file_bytes // MIB,
        "total_mb": config.max_request_bytes // MIB,
    }


def init_uploads(app: Flask, config: Config, keep_alive: KeepAlive | None = None) -> None:
    """Take files on ``app``: the host-wide cleaning pool (named "image-cleaning" as
    before files of other types were cleaned: every host's workers must share one), the
    children's limits, and the teardown that deletes what a request staged and did not
    link. Sweeps the scratch folders a portal that died left on this host (the
    plaintext of a file being cleaned or converted: confinement.sweep_scratch)."""
    sweep_scratch()
    app.extensions[_CLEANING] = _Cleaning(
        SlotPool(pool_directory(config, "image-cleaning"), config.image_cleaners, SLOT_QUEUE),
        cleaning_limits(config),
        keep_alive,
    )
    app.teardown_request(_discard_unlinked)
