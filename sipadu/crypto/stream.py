"""Streaming file encryption: any size, constant memory, padded inside the stream.

Format (version 1)::

    header  = version (1 byte, 0x01) ‖ chunk size (u32, big-endian)
    chunk_i = AES-256-GCM(file key, nonce_i, plaintext_i, aad = header)
    nonce_i = i (88-bit big-endian counter) ‖ last (0x01 on the final chunk, else 0x00)

This is the STREAM construction (Hoang, Reyhanitabar, Rogaway, Vizár 2015) as ``age``
uses it. The counter in the nonce makes reordering or dropping a chunk fail; the last
flag makes truncation at a chunk boundary and appended data fail; a fresh random key
per file makes swapping chunks between files fail. Each chunk is authenticated before
any of its plaintext is released.

The plaintext stream is ``data ‖ 0x80 ‖ 0x00…`` padded to ``padme(len(data) + 1)``
bytes, so the stored size leaks only O(log log n) bits of the file's real size. The
reader strips the padding without buffering it: see :class:`_Unpadder`.

Chunk size: 128 KiB, chosen by measurement (benchmarks/crypto_stream.py, recorded in
docs/performance.md): 64 KiB reached only 0.81 of a bare AES-GCM loop, 128 KiB 0.89,
256 KiB 0.95 for twice the memory again. At 128 KiB a stream holds well under 1 MiB
however large the file, so hundreds of concurrent uploads fit in memory.
"""

import io
import struct
from collections.abc import Iterator
from typing import BinaryIO, Protocol

from cryptography.exceptions import InvalidTag

from sipadu.crypto.errors import CryptoError
from sipadu.crypto.padding import MARKER, padme
from sipadu.crypto.symmetric import TAG_LEN, aesgcm, new_key

STREAM_VERSION = 1
DEFAULT_CHUNK_SIZE = 128 * 1024
# A forged header must not make the reader allocate much before authentication fails.
MIN_CHUNK_SIZE = 64
MAX_CHUNK_SIZE = 4 * 1024 * 1024
_HEADER = struct.Struct(">BI")
HEADER_LEN = _HEADER.size


class Sink(Protocol):
    def write(self, data: bytes, /) -> object: ...


def _nonce(counter: int, last: bool) -> bytes:
    return counter.to_bytes(11, "big") + (b"\x01" if last else b"\x00")


def _check_chunk_size(chunk_size: int) -> None:
    if not (MIN_CHUNK_SIZE <= chunk_size <= MAX_CHUNK_SIZE and chunk_size & (chunk_size - 1) == 0):
        raise CryptoError("chunk size must be a power of two between 64 B and 4 MiB")


class EncryptingWriter:
    """File-like object: plaintext in through :meth:`write`, sealed chunks out to ``sink``.

    Each ``sink.write`` call receives either the header or exactly one sealed chunk, so a
    storage layer can keep one chunk per row. The stream is complete only after
    :meth:`close`; a writer abandoned before (or a ``with`` block left by an exception)
    leaves a stream that fails to decrypt as truncated, never one that looks whole.
    """

    def __init__(
        self, sink: Sink, chunk_size: int = DEFAULT_CHUNK_SIZE, *, _key: bytes | None = None
    ) -> None:
        _check_chunk_size(chunk_size)
        # A fresh key for every file: the format's protection against chunks swapped
        # between files rests on it. ``_key`` exists only for known-answer vectors.
        key = new_key() if _key is None else _key
        self._sink = sink
        self._aead = aesgcm(key)
        self._key = key
        self._chunk_size = chunk_size
        self._header = _HEADER.pack(STREAM_VERSION, chunk_size)
        self._buffer = bytearray()
        self._counter = 0
        self._closed = False
        self.plaintext_size = 0
        self.padded_size = 0
        sink.write(self._header)

    @property
    def key(self) -> bytes:
        """The file's fresh key: wrap it (under the case key) before storing anything."""
        return self._key

    def write(self, data: bytes | bytearray | memoryview) -> int:
        if self._closed:
            raise CryptoError("write to a closed stream")
        view = memoryview(data).cast("B")
        size = len(view)
        self.plaintext_size += size
        if self._buffer:
            take = self._chunk_size - len(self._buffer)
            self._buffer += view[:take]
            view = view[take:]
            if len(self._buffer) < self._chunk_size:
                return size
            self._seal(self._buffer, last=False)
            self._buffer.clear()
        # Full chunks straight from the caller's buffer. A full chunk of data is never the
        # last one: close() always adds at least the padding marker after it.
        while len(view) >= self._chunk_size:
            self._seal(view[: self._chunk_size], last=False)
            view = view[self._chunk_size :]
        self._buffer += view
        return size

    def close(self) -> None:
        """Pad, seal the remaining chunks and mark the last one."""
        if self._closed:
            return
        total = padme(self.plaintext_size + 1)
        self.padded_size = total
        self._buffer.append(MARKER)
        remaining = total - self.plaintext_size - 1  # zeros still to add
        # The buffer now holds the tail of the data and the marker; the rest is zeros,
        # sealed a chunk at a time so padding of any size costs no memory.
        while True:
            fill = min(self._chunk_size - len(self._buffer), remaining)
            self._buffer += bytes(fill)
            remaining -= fill
            last = remaining == 0
            self._seal(self._buffer, last=last)
            self._buffer.clear()
            if last:
                break
        self._closed = True

    def _seal(self, chunk: bytes | bytearray | memoryview, *, last: bool) -> None:
        self._sink.write(self._aead.encrypt(_nonce(self._counter, last), chunk, self._header))
        self._counter += 1

    def __enter__(self) -> "EncryptingWriter":
        return self

    def __exit__(self, exc_type: object, *_: object) -> None:
        if exc_type is None:
            self.close()
        else:
            self._closed = True


def encrypting_writer(sink: Sink, chunk_size: int = DEFAULT_CHUNK_SIZE) -> EncryptingWriter:
    """Start a stream with a fresh random file key (``writer.key``)."""
    return EncryptingWriter(sink, chunk_size)


class _Unpadder:
    """Strips ``0x80 0x00…`` padding from the end of a stream in constant memory.

    Only a trailing run "marker then zeros" can be padding, and zeros need no storage:
    we hold back a count, and release it as data if a non-zero byte follows.
    """

    def __init__(self, piece: int) -> None:
        self._piece = piece
        self._held: int | None = None  # zeros held back after a 0x80, or None

    def feed(self, chunk: bytes) -> Iterator[bytes]:
        stripped = chunk.rstrip(b"\x00")
        if not stripped:
            if self._held is None:
                yield chunk
            else:
                self._held += len(chunk)
            return
        if self._held is not None:
            yield bytes([MARKER])
            yield from self._zeros(self._held)
            self._held = None
        if stripped[-1] == MARKER:
            if len(stripped) > 1:
                yield stripped[:-1]
            self._held = len(chunk) - len(stripped)
        else:
            yield chunk

    def finish(self) -> None:
        if self._held is None:
            raise CryptoError("stream padding is missing")

    def _zeros(self, count: int) -> Iterator[bytes]:
        while count:
            n = min(count, self._piece)
            yield bytes(n)
            count -= n


def _read_exact(source: BinaryIO, size: int) -> bytes:
    """Read ``size`` bytes, fewer only at end of stream (raw files may return short)."""
    data = source.read(size)
    if len(data) == size or not data:
        return data
    parts = [data]
    got = len(data)
    while got < size:
        more = source.read(size - got)
        if not more:
            break
        parts.append(more)
        got += len(more)
    return b"".join(parts)


def decrypt_stream(source: BinaryIO, key: bytes) -> Iterator[bytes]:
    """Yield the plaintext of a stream, chunk by chunk, each only after it authenticated.

    Raises :class:`CryptoError` on a wrong key, any altered, dropped, reordered or
    appended chunk, or truncation. The error can come after earlier pieces were yielded
    (that is what streaming means): a consumer must treat the output as void if the
    iteration does not finish, e.g. abort the HTTP response.
    """
    aead = aesgcm(key)
    header = _read_exact(source, HEADER_LEN)
    if len(header) != HEADER_LEN or header[0] != STREAM_VERSION:
        raise CryptoError("unknown stream format")
    _, chunk_size = _HEADER.unpack(header)
    _check_chunk_size(chunk_size)
    sealed_size = chunk_size + TAG_LEN
    unpadder = _Unpadder(chunk_size)
    counter = 0
    current = _read_exact(source, sealed_size)
    while True:
        following = _read_exact(source, sealed_size) if len(current) == sealed_size else b""
        last = not following
        try:
            plaintext = aead.decrypt(_nonce(counter, last), current, header)
        except InvalidTag:
            raise CryptoError(f"stream chunk {counter} did not authenticate") from None
        if last and not plaintext:
            raise CryptoError("stream ends with an empty chunk")
        yield from unpadder.feed(plaintext)
        if last:
            break
        current = following
        counter += 1
    unpadder.finish()


class _PiecesRaw(io.RawIOBase):
    """A readable raw stream over an iterator of byte pieces."""

    def __init__(self, pieces: Iterator[bytes]) -> None:
        self._pieces = pieces
        self._pending = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        while not self._pending:
            piece = next(self._pieces, None)
            if piece is None:
                return 0
            self._pending = memoryview(piece)
        n = min(len(buffer), len(self._pending))
        buffer[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        return n


def pieces_reader(
    pieces: Iterator[bytes], buffer_size: int = DEFAULT_CHUNK_SIZE
) -> io.BufferedReader:
    """File-like ``read()`` over an iterator of byte pieces, in constant memory."""
    return io.BufferedReader(_PiecesRaw(pieces), buffer_size)


def decrypting_reader(source: BinaryIO, key: bytes) -> io.BufferedReader:
    """File-like view of :func:`decrypt_stream` for code that wants ``read()``."""
    return pieces_reader(decrypt_stream(source, key))
