"""Evidence files are encrypted while the request body is parsed (DESIGN.md §4).

Werkzeug's multipart parser asks the request for a stream for every file part; ours
hands it an :class:`EncryptedPart`, which encrypts each piece as it arrives and stages
the ciphertext in the database in short transactions. No spooled temporary file, no
plaintext on any disk, constant memory. Limits are enforced while the bytes arrive, so
an oversize file or one file too many stops the parse with a 413. Whatever the request
staged and did not link is deleted when it ends, whatever happened.
"""

import io

from flask import Flask, Request, current_app, request
from werkzeug.exceptions import RequestEntityTooLarge

from sipadu import storage
from sipadu.services.attachments import UploadedFile
from sipadu.storage import EncryptingUpload

_UPLOADS = "sipadu.uploads"


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
        return self.upload.write(data)

    def seek(self, offset: int, whence: int = 0) -> int:
        return 0  # the parser rewinds each part when it ends; there is nothing to rewind

    def finish(self) -> UploadedFile:
        return UploadedFile(self.upload.finish(), self.filename, self.content_type)


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
        uploads: list[EncryptedPart] = self.environ.setdefault(_UPLOADS, [])
        if len(uploads) >= config.max_files:
            raise RequestEntityTooLarge()
        part = EncryptedPart(
            EncryptingUpload(current_app.extensions["sipadu.write_sessionmaker"]),
            filename,
            content_type or "",
            config.max_file_bytes,
        )
        uploads.append(part)
        return part


def uploaded_files(field: str = "attachments") -> list[UploadedFile]:
    """Seal the last chunk of every file of ``field`` this request carried."""
    return [
        storage_file.stream.finish()
        for storage_file in request.files.getlist(field)
        if isinstance(storage_file.stream, EncryptedPart)
    ]


def _discard_unlinked(_exc: BaseException | None) -> None:
    parts = request.environ.get(_UPLOADS, [])
    if parts:
        storage.discard(
            current_app.extensions["sipadu.write_sessionmaker"],
            [part.upload.blob_id for part in parts],
        )


def init_uploads(app: Flask) -> None:
    app.request_class = EncryptingRequest
    app.teardown_request(_discard_unlinked)
