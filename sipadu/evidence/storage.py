"""Encrypted blobs in the database: chunked, staged while they arrive, linked on commit.

Files are encrypted by the stream format of :mod:`sipadu.crypto.stream` (a fresh key per
file) and each sealed chunk becomes one ``blob_chunk`` row. Writing happens in short
transactions of their own while the upload runs, so a slow upload over Tor holds no lock
and no memory beyond a batch; the blob stays *staged* until the transaction that creates
its report or message *links* it. A staged blob that sees no write for an hour belongs
to an abandoned upload and ``sipadu purge`` deletes it. On SQLite the pages a deleted
blob freed go back to the file system (:func:`reclaim`), so refused uploads do not leave
the database file larger. Reading streams the chunks back a batch at a time: any size,
constant memory, one backup holds everything.
"""

import time
import uuid
from collections.abc import Generator, Iterable, Iterator
from dataclasses import dataclass

from sqlalchemy import Engine, delete, func, select, text, update
from sqlalchemy.orm import Session, sessionmaker

from sipadu.crypto import decrypt_stream, encrypting_writer
from sipadu.crypto.stream import pieces_reader
from sipadu.persistence.db import rows_affected
from sipadu.persistence.models import Blob, BlobChunk

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

    def __init__(
        self, sessions: sessionmaker[Session], batch: "StagingBatch | None" = None
    ) -> None:
        self._sessions = sessions
        self._batch = batch
        if batch is not None:
            batch.writers.append(self)
        self.blob_id = uuid.uuid4()
        self._pending: list[bytes] = []
        self._pending_bytes = 0
        self._next_seq = 0
        self.stored_bytes = 0
        self._created = False

    def write(self, data: bytes) -> None:
        self._pending.append(bytes(data))
        self._pending_bytes += len(data)
        if self._batch is not None:
            self._batch.added(len(data))
        elif self._pending_bytes >= WRITE_BATCH_BYTES:
            self.flush()

    def flush(self) -> None:
        if not self._pending:
            return
        with self._sessions.begin() as session:
            written = self.stage(session)
        self.staged(*written)

    @property
    def pending(self) -> bool:
        return bool(self._pending)

    def stage(self, session: Session) -> tuple[int, int]:
        """Write the pending chunks in ``session``'s transaction; call :meth:`staged`
        with the result once it committed."""
        count = self._next_seq + len(self._pending)
        size = self.stored_bytes + self._pending_bytes
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
        return count, size

    @property
    def created(self) -> bool:
        """Whether anything of this blob is in the database."""
        return self._created

    def abandon(self) -> None:
        """Stage nothing more: what is pending is dropped, and the batch forgets this
        writer (its later flushes would stage it)."""
        self._pending.clear()
        self._pending_bytes = 0
        if self._batch is not None and self in self._batch.writers:
            self._batch.writers.remove(self)

    def staged(self, count: int, size: int) -> None:
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


class StagingBatch:
    """The uploads of one request, staged together: a commit whenever the request as a
    whole holds ``limit`` bytes not yet written, however many files they belong to. A
    hundred small files cost a few transactions, not a hundred, and memory stays bounded
    by ``limit`` per request."""

    def __init__(self, sessions: sessionmaker[Session], limit: int = 4 * WRITE_BATCH_BYTES) -> None:
        self._sessions = sessions
        self._limit = limit
        self._pending_bytes = 0
        self.writers: list[StagedBlobWriter] = []

    def added(self, size: int) -> None:
        self._pending_bytes += size
        if self._pending_bytes >= self._limit:
            self.flush()

    def flush(self) -> None:
        waiting = [writer for writer in self.writers if writer.pending]
        if waiting:
            with self._sessions.begin() as session:
                written = [writer.stage(session) for writer in waiting]
            for writer, result in zip(waiting, written, strict=True):
                writer.staged(*result)
        self._pending_bytes = 0


class EncryptingUpload:
    """File-like: plaintext in (e.g. from a multipart parser), ciphertext staged in the
    database as it arrives. :meth:`finish` seals the last chunk and returns the file."""

    def __init__(self, sessions: sessionmaker[Session], batch: StagingBatch | None = None) -> None:
        self._sink = StagedBlobWriter(sessions, batch)
        self._writer = encrypting_writer(self._sink)

    @property
    def blob_id(self) -> uuid.UUID:
        return self._sink.blob_id

    def write(self, data: bytes) -> int:
        return self._writer.write(data)

    def finish(self) -> StoredFile:
        return finish_all(self._sink._sessions, [self])[0]

    def _stored(self) -> StoredFile:
        return StoredFile(
            self._sink.blob_id,
            self._writer.key,
            self._writer.plaintext_size,
            self._sink.stored_bytes,
        )


def finish_all(
    sessions: sessionmaker[Session], uploads: list[EncryptingUpload]
) -> list[StoredFile]:
    """Seal the last chunk of every upload and store what they still hold in *one*
    transaction: a request carrying many small files pays one commit, not one each."""
    for upload in uploads:
        upload._writer.close()
    waiting = [upload for upload in uploads if upload._sink.pending]
    if waiting:
        with sessions.begin() as session:
            written = [upload._sink.stage(session) for upload in waiting]
        for upload, result in zip(waiting, written, strict=True):
            upload._sink.staged(*result)
    return [upload._stored() for upload in uploads]


def store(sessions: sessionmaker[Session], pieces: Iterable[bytes]) -> StoredFile:
    """Encrypt and stage ``pieces`` (any iterable of bytes) as one blob."""
    upload = EncryptingUpload(sessions)
    for piece in pieces:
        upload.write(piece)
    return upload.finish()


def abandon(sessions: sessionmaker[Session], upload: EncryptingUpload) -> None:
    """Give up ``upload`` before it is finished (a clean copy that failed half-way): it
    stages nothing more, and what it staged already is discarded (:func:`discard`)."""
    upload._sink.abandon()
    if upload._sink.created:
        discard(sessions, [upload.blob_id])


def link(session: Session, blob_ids: Iterable[uuid.UUID]) -> None:
    """Mark blobs as part of what ``session`` is about to commit; their activity time is
    forgotten. Call in the transaction that creates the report or message."""
    ids = list(blob_ids)
    if ids:
        session.execute(
            update(Blob).where(Blob.id.in_(ids)).values(linked=True, active_bucket=None)
        )


def discard(sessions: sessionmaker[Session], blob_ids: Iterable[uuid.UUID]) -> None:
    """Delete staged blobs at once (a failed or refused submission): nothing half-done,
    and on SQLite the space they took is given back (:func:`reclaim`).

    On SQLite the delete does not zero the freed pages (``secure_delete=FAST`` for this
    statement only): an unlinked blob's key was never stored anywhere, so its ciphertext
    is noise to anyone, and zeroing it wrote every freed page a second time into the
    write-ahead log (four refused 460 MiB uploads at once: database and log peaked at
    3.8 GiB; docs/deploy.md, "Disk")."""
    ids = list(blob_ids)
    if ids:
        with sessions.begin() as session:
            sqlite = session.get_bind().dialect.name == "sqlite"
            if sqlite:
                session.connection().exec_driver_sql("PRAGMA secure_delete=FAST")
            try:
                deleted = rows_affected(
                    session, delete(Blob).where(Blob.id.in_(ids), Blob.linked.is_(False))
                )
            finally:
                if sqlite:
                    session.connection().exec_driver_sql("PRAGMA secure_delete=ON")
        if deleted:
            reclaim(sessions.kw["bind"])


def reclaim(engine: Engine) -> None:
    """SQLite: return the free pages of the database file to the file system (the file
    is in incremental auto-vacuum mode since migration 0009), then fold the write-ahead
    log into the file and truncate it if nobody is using it at that moment (it never
    waits: under load the next quiet checkpoint does it, and ``journal_size_limit``
    bounds what is left). Run outside any transaction, after a delete commits; it takes
    the write lock for as long as it moves pages (little: the pages of a just-refused
    upload are at the end of the file).

    PostgreSQL: vacuum the chunk table (and its TOAST table, where the bytes are), so
    that the next upload reuses the space at once; autovacuum would wait for a fifth of
    the table to be dead. It blocks no reader or writer and never waits for another
    vacuum (``SKIP_LOCKED``). Only the table's owner may vacuum it (PostgreSQL 15): the
    reporter portal's restricted role leaves it to autovacuum, which migration 0011
    starts after 1,000 dead chunks whatever the table's size."""
    if engine.dialect.name == "postgresql":
        _vacuum_chunks(engine)
        return
    if engine.dialect.name != "sqlite":
        return
    raw = engine.raw_connection()
    try:
        connection = raw.driver_connection
        # executescript steps the pragma to its end: execute() would free one page only.
        connection.executescript("PRAGMA incremental_vacuum")  # type: ignore[union-attr]
        connection.execute("PRAGMA wal_checkpoint(PASSIVE)")  # type: ignore[union-attr]
        connection.execute("PRAGMA busy_timeout=0")  # type: ignore[union-attr]
        try:
            connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # type: ignore[union-attr]
        finally:
            connection.execute("PRAGMA busy_timeout=30000")  # type: ignore[union-attr]
    finally:
        raw.close()


def _vacuum_chunks(engine: Engine) -> None:
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        owner = connection.execute(
            text(
                "SELECT pg_has_role(current_user, relowner, 'USAGE') FROM pg_class"
                " WHERE oid = 'blob_chunk'::regclass"
            )
        ).scalar_one()
        if owner:
            connection.execute(text("VACUUM (SKIP_LOCKED) blob_chunk"))


# What one staged blob costs beyond its bytes (its rows, their indexes), counted as one
# page: a budget of bytes alone would let many empty files through.
BLOB_OVERHEAD_BYTES = 4096


def staged_bytes(session: Session) -> int:
    """What the staged (unlinked) blobs take in the database, in bytes: their stored
    bytes plus :data:`BLOB_OVERHEAD_BYTES` each. Every upload in flight counts, and
    every file kept across a warning (sipadu.web.kept_files)."""
    stored, count = session.execute(
        select(func.coalesce(func.sum(Blob.stored_bytes), 0), func.count()).where(
            Blob.linked.is_(False)
        )
    ).one()
    return int(stored) + int(count) * BLOB_OVERHEAD_BYTES


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


def read_plaintext(session: Session, blob_id: uuid.UUID, key: bytes) -> Iterator[bytes]:
    """Decrypt a linked blob piece by piece. Raises :class:`~sipadu.crypto.CryptoError`
    on any altered, missing or reordered chunk: never serves altered bytes."""
    return decrypt_stream(pieces_reader(_chunks(session, blob_id), 256 * 1024), key)


def read_back(
    sessions: sessionmaker[Session], blob_id: uuid.UUID, key: bytes
) -> Generator[bytes, None, None]:
    """Decrypt a blob, staged or linked, piece by piece, each batch of chunks read in a
    transaction of its own (a session of ``sessions``, opened by the thread that iterates
    and closed when the iteration ends or is closed): whoever consumes the pieces (a
    cleaning child fed from another thread) may take its time without holding a
    snapshot. Raises :class:`~sipadu.crypto.CryptoError` as :func:`read_plaintext`."""
    with sessions() as session:
        for piece in read_plaintext(session, blob_id, key):
            if session.in_transaction():
                session.rollback()  # reads only
            yield piece
