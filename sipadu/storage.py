"""Encrypted blobs in the database: chunked, staged while they arrive, linked on commit.

Files are encrypted by the stream format of :mod:`sipadu.crypto.stream` (a fresh key per
file) and each sealed chunk becomes one ``blob_chunk`` row. Writing happens in short
transactions of their own while the upload runs, so a slow upload over Tor holds no lock
and no memory beyond a batch; the blob stays *staged* until the transaction that creates
its report or message *links* it. A staged blob that sees no write for an hour belongs
to an abandoned upload and ``sipadu purge`` deletes it. Reading streams the chunks back
a batch at a time: any size, constant memory, one backup holds everything.
"""

import io
import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session, sessionmaker

from sipadu.crypto import decrypt_stream, encrypting_writer
from sipadu.models import Blob, BlobChunk

BUCKET_SECONDS = 600  # staged blobs record activity only to the 10-minute window
STALE_AFTER_SECONDS = 3600
WRITE_BATCH_BYTES = 1024 * 1024  # rows gathered per short transaction
READ_BATCH_CHUNKS = 16


def activity_bucket(now: float | None = None) -> int:
    return int((time.time() if now is None else now) // BUCKET_SECONDS)


class StagedBlobWriter:
    """A sink for :class:`~sipadu.crypto.stream.EncryptingWriter`: every ``write`` is one
    sealed chunk, gathered into batches and committed in short transactions. The blob row
    itself is written with the first batch."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions
        self.blob_id = uuid.uuid4()
        self._pending: list[bytes] = []
        self._pending_bytes = 0
        self._next_seq = 0
        self.stored_bytes = 0
        self._created = False

    def write(self, data: bytes) -> None:
        self._pending.append(bytes(data))
        self._pending_bytes += len(data)
        if self._pending_bytes >= WRITE_BATCH_BYTES:
            self.flush()

    def flush(self) -> None:
        if not self._pending:
            return
        count = self._next_seq + len(self._pending)
        size = self.stored_bytes + self._pending_bytes
        with self._sessions.begin() as session:
            if self._created:
                session.execute(
                    update(Blob)
                    .where(Blob.id == self.blob_id)
                    .values(chunk_count=count, stored_bytes=size, active_bucket=activity_bucket())
                )
            else:
                session.add(
                    Blob(
                        id=self.blob_id,
                        linked=False,
                        active_bucket=activity_bucket(),
                        chunk_count=count,
                        stored_bytes=size,
                    )
                )
                session.flush()
            session.add_all(
                BlobChunk(blob_id=self.blob_id, seq=self._next_seq + i, data=chunk)
                for i, chunk in enumerate(self._pending)
            )
        self._created = True
        self._next_seq, self.stored_bytes = count, size
        self._pending.clear()
        self._pending_bytes = 0


@dataclass(frozen=True)
class StoredFile:
    blob_id: uuid.UUID
    key: bytes  # the file key: seal it under the case key before anything else
    size: int  # plaintext bytes
    stored_bytes: int  # what the database holds (padded, sealed)

    def __repr__(self) -> str:
        return f"StoredFile({self.blob_id}, size={self.size}, <key>)"


class EncryptingUpload:
    """File-like: plaintext in (e.g. from a multipart parser), ciphertext staged in the
    database as it arrives. :meth:`finish` seals the last chunk and returns the file."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sink = StagedBlobWriter(sessions)
        self._writer = encrypting_writer(self._sink)

    @property
    def blob_id(self) -> uuid.UUID:
        return self._sink.blob_id

    def write(self, data: bytes) -> int:
        return self._writer.write(data)

    def finish(self) -> StoredFile:
        self._writer.close()
        self._sink.flush()
        return StoredFile(
            self._sink.blob_id,
            self._writer.key,
            self._writer.plaintext_size,
            self._sink.stored_bytes,
        )


def store(sessions: sessionmaker[Session], pieces: Iterable[bytes]) -> StoredFile:
    """Encrypt and stage ``pieces`` (any iterable of bytes) as one blob."""
    upload = EncryptingUpload(sessions)
    for piece in pieces:
        upload.write(piece)
    return upload.finish()


def link(session: Session, blob_ids: Iterable[uuid.UUID]) -> None:
    """Mark blobs as part of what ``session`` is about to commit; their activity time is
    forgotten. Call in the transaction that creates the report or message."""
    ids = list(blob_ids)
    if ids:
        session.execute(
            update(Blob).where(Blob.id.in_(ids)).values(linked=True, active_bucket=None)
        )


def discard(sessions: sessionmaker[Session], blob_ids: Iterable[uuid.UUID]) -> None:
    """Delete staged blobs at once (a failed or refused submission): nothing half-done."""
    ids = list(blob_ids)
    if ids:
        with sessions.begin() as session:
            session.execute(delete(Blob).where(Blob.id.in_(ids), Blob.linked.is_(False)))


def purge_stale(session: Session, now: float | None = None) -> int:
    """Delete staged blobs with no write for an hour; a slow upload that still writes now
    and then keeps moving its bucket forward and is never purged."""
    cutoff = activity_bucket(now) - STALE_AFTER_SECONDS // BUCKET_SECONDS
    stale = list(
        session.scalars(select(Blob.id).where(Blob.linked.is_(False), Blob.active_bucket < cutoff))
    )
    if stale:
        session.execute(delete(BlobChunk).where(BlobChunk.blob_id.in_(stale)))
        session.execute(delete(Blob).where(Blob.id.in_(stale)))
    return len(stale)


def _chunks(session: Session, blob_id: uuid.UUID) -> Iterator[bytes]:
    seq = 0
    while True:
        rows = session.scalars(
            select(BlobChunk.data)
            .where(BlobChunk.blob_id == blob_id, BlobChunk.seq >= seq)
            .order_by(BlobChunk.seq)
            .limit(READ_BATCH_CHUNKS)
        ).all()
        if not rows:
            return
        yield from rows
        seq += len(rows)


class _ChunkReader(io.RawIOBase):
    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._pending = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        while not self._pending:
            chunk = next(self._chunks, None)
            if chunk is None:
                return 0
            self._pending = memoryview(chunk)
        n = min(len(buffer), len(self._pending))
        buffer[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        return n


def read_plaintext(session: Session, blob_id: uuid.UUID, key: bytes) -> Iterator[bytes]:
    """Decrypt a linked blob piece by piece. Raises :class:`~sipadu.crypto.CryptoError`
    on any altered, missing or reordered chunk: never serves altered bytes."""
    raw = io.BufferedReader(_ChunkReader(_chunks(session, blob_id)), 256 * 1024)
    return decrypt_stream(raw, key)
