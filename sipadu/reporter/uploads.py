"""Evidence files are encrypted while the request body is parsed (DESIGN.md §4).

Werkzeug's multipart parser asks the request for a stream for every file part; ours
hands it an :class:`EncryptedPart`, which encrypts each piece as it arrives and stages
the ciphertext in the database in short transactions. No spooled temporary file, no
plaintext on any disk, constant memory. Images small enough to clean are the one
exception to streaming: an :class:`ImagePart` holds them in memory only, has a confined
child process strip their metadata when the part ends, then encrypts the result.

Limits are enforced while the bytes arrive, so an oversize file or one file too many
stops the parse with a 413. Whatever the request staged and did not link is deleted
when it ends, whatever happened.
"""

import io
import subprocess
import sys
from collections.abc import Callable

from flask import Flask, Request, current_app, request
from flask_babel import gettext as _
from werkzeug.exceptions import RequestEntityTooLarge

from sipadu import storage
from sipadu.faults import KILL_MID_UPLOAD, trip
from sipadu.services.attachments import UploadedFile
from sipadu.storage import EncryptingUpload, StagingBatch

_UPLOADS = "sipadu.uploads"  # the staged blobs of this request
_FILES = "sipadu.files"  # the file parts of this request
_BATCH = "sipadu.staging-batch"  # their chunks, committed together

IMAGE_TYPES = {"image/jpeg", "image/png", "image/webp"}
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp")
MAX_PIXELS = 50_000_000  # larger images are refused as possible decompression bombs
FAULT_AFTER_BYTES = 6 * 1024 * 1024  # kill-mid-upload trips here: one batch is committed


class ImageRefused(Exception):
    """A file presented as an image could not be cleaned (not an image, or a bomb)."""


class EncryptedPart(io.RawIOBase):
    """Written to by the multipart parser; never read back (there is no plaintext)."""

    def __init__(
        self, upload: EncryptingUpload, filename: str, content_type: str, limit: int
    ) -> None:
        self.upload = upload
        self.filename = filename
        self.content_type = content_type
        self._limit = limit
        self._size = 0

    def writable(self) -> bool:
        return True

    def write(self, data: bytes) -> int:  # type: ignore[override]
        self._size += len(data)
        if self._size > self._limit:
            raise RequestEntityTooLarge()
        written = self.upload.write(data)
        if self._size > FAULT_AFTER_BYTES:
            trip(current_app.extensions["sipadu.config"].faults, KILL_MID_UPLOAD)
        return written

    def seek(self, offset: int, whence: int = 0) -> int:
        return 0  # the parser rewinds each part when it ends; there is nothing to rewind

    def prepared_upload(self) -> EncryptingUpload:
        return self.upload


class ImagePart(io.RawIOBase):
    """An image small enough to clean, held in memory only. Past the limit it turns into
    an :class:`EncryptedPart` and is stored as sent."""

    def __init__(
        self,
        filename: str,
        content_type: str,
        memory_limit: int,
        file_limit: int,
        new_upload: Callable[[], EncryptingUpload],
    ) -> None:
        self.filename = filename
        self.content_type = content_type
        self._memory_limit = memory_limit
        self._file_limit = file_limit
        self._new_upload = new_upload
        self._buffer: io.BytesIO | None = io.BytesIO()
        self._overflow: EncryptedPart | None = None

    def writable(self) -> bool:
        return True

    def write(self, data: bytes) -> int:  # type: ignore[override]
        if self._overflow is not None:
            return self._overflow.write(data)
        assert self._buffer is not None
        if self._buffer.tell() + len(data) > self._memory_limit:
            self._overflow = EncryptedPart(
                self._new_upload(), self.filename, self.content_type, self._file_limit
            )
            self._overflow.write(self._buffer.getvalue())
            self._buffer = None
            return self._overflow.write(data)
        return self._buffer.write(data)

    def seek(self, offset: int, whence: int = 0) -> int:
        return 0

    def prepared_upload(self) -> EncryptingUpload:
        """The encrypted upload: as sent if it outgrew memory, else cleaned first."""
        if self._overflow is not None:
            return self._overflow.upload
        assert self._buffer is not None
        clean = strip_metadata(self._buffer.getvalue())
        self._buffer = None
        upload = self._new_upload()
        upload.write(clean)
        return upload


def image_refused_message() -> str:
    return _(
        "One of the files looks like a picture but could not be read, so it was not "
        "accepted: nothing was sent. Check the file (or send it in a ZIP archive) and "
        "choose the files again; your text is kept."
    )


def strip_metadata(data: bytes) -> bytes:
    """Run :mod:`sipadu.imagestrip` on ``data``, in memory, through pipes."""
    result = subprocess.run(  # noqa: S603 — fixed argv; the image goes through stdin
        [sys.executable, "-m", "sipadu.imagestrip", str(MAX_PIXELS)],
        input=data,
        capture_output=True,
        timeout=60,
        check=False,
    )
    if result.returncode != 0 or not result.stdout:
        raise ImageRefused(result.stderr.decode(errors="replace").strip() or "failed")
    return result.stdout


class EncryptingRequest(Request):
    def _get_file_stream(
        self,
        total_content_length: int | None,
        content_type: str | None,
        filename: str | None = None,
        content_length: int | None = None,
    ):
        if not filename:
            return io.BytesIO()  # an empty <input type=file>: no file was chosen
        config = current_app.extensions["sipadu.config"]
        files = self.environ.setdefault(_FILES, [])
        if len(files) >= config.max_files:
            raise RequestEntityTooLarge()
        sessions = current_app.extensions["sipadu.write_sessionmaker"]

        batch = self.environ.setdefault(_BATCH, StagingBatch(sessions))

        def new_upload() -> EncryptingUpload:
            upload = EncryptingUpload(sessions, batch)
            self.environ.setdefault(_UPLOADS, []).append(upload)  # discarded unless linked
            return upload

        kind = (content_type or "").split(";")[0].strip().lower()
        part: EncryptedPart | ImagePart
        if kind in IMAGE_TYPES or filename.lower().endswith(IMAGE_EXTENSIONS):
            part = ImagePart(
                filename, kind, config.image_strip_max_bytes, config.max_file_bytes, new_upload
            )
        else:
            part = EncryptedPart(new_upload(), filename, kind, config.max_file_bytes)
        files.append(part)
        return part


def uploaded_files(field: str = "attachments") -> list[UploadedFile]:
    """Finish every file of ``field`` this request carried (small images are cleaned of
    metadata now) and store their last chunks in one transaction. Raises
    :class:`ImageRefused`."""
    parts = [
        storage_file.stream
        for storage_file in request.files.getlist(field)
        if isinstance(storage_file.stream, EncryptedPart | ImagePart)
    ]
    uploads = [part.prepared_upload() for part in parts]
    stored = storage.finish_all(current_app.extensions["sipadu.write_sessionmaker"], uploads)
    return [
        UploadedFile(file, part.filename, part.content_type)
        for part, file in zip(parts, stored, strict=True)
    ]


def _discard_unlinked(_exc: BaseException | None) -> None:
    uploads = request.environ.get(_UPLOADS, [])
    if uploads:
        storage.discard(
            current_app.extensions["sipadu.write_sessionmaker"],
            [upload.blob_id for upload in uploads],
        )


def init_uploads(app: Flask) -> None:
    app.request_class = EncryptingRequest
    app.teardown_request(_discard_unlinked)
