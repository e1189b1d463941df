"""Streaming file encryption: round trips at every boundary, tampering always detected,
no unauthenticated plaintext released, constant memory."""

import io
import os
import tracemalloc

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from sipadu.crypto import CryptoError, decrypt_stream, decrypting_reader, encrypting_writer, new_key
from sipadu.crypto.padding import padme
from sipadu.crypto.stream import DEFAULT_CHUNK_SIZE, HEADER_LEN, EncryptingWriter

SMALL = 64  # tiny chunks make many-chunk streams cheap to test
SEALED = SMALL + 16


def encrypt(data: bytes, chunk_size: int = SMALL) -> tuple[bytes, bytes]:
    sink = io.BytesIO()
    with encrypting_writer(sink, chunk_size) as writer:
        writer.write(data)
    return sink.getvalue(), writer.key


def decrypt(blob: bytes, key: bytes) -> bytes:
    return b"".join(decrypt_stream(io.BytesIO(blob), key))


def chunks_of(blob: bytes, chunk_size: int = SMALL) -> list[bytes]:
    body = blob[HEADER_LEN:]
    step = chunk_size + 16
    return [body[i : i + step] for i in range(0, len(body), step)]


BOUNDARY_SIZES = [0, 1, SMALL - 1, SMALL, SMALL + 1, 2 * SMALL, 37 * SMALL + 5]


@pytest.mark.parametrize("size", BOUNDARY_SIZES)
def test_round_trip_at_chunk_boundaries(size):
    data = os.urandom(size)
    blob, key = encrypt(data)
    assert decrypt(blob, key) == data


@pytest.mark.parametrize(
    "size",
    [
        0,
        1,
        DEFAULT_CHUNK_SIZE - 1,
        DEFAULT_CHUNK_SIZE,
        DEFAULT_CHUNK_SIZE + 1,
        5 * DEFAULT_CHUNK_SIZE + 3,
    ],
)
def test_round_trip_default_chunk_size(size):
    data = os.urandom(size)
    blob, key = encrypt(data, DEFAULT_CHUNK_SIZE)
    assert decrypt(blob, key) == data


@given(st.binary(max_size=40 * SMALL), st.lists(st.integers(0, 3 * SMALL), max_size=12))
@example(b"\x80" * SMALL, [])
@example(b"\x80" + bytes(3 * SMALL), [1])
@example(bytes(3 * SMALL) + b"\x80", [SMALL])
def test_round_trip_any_content_any_write_pattern(data, cuts):
    """Content that looks like padding (0x80, runs of zeros) and any split of writes."""
    sink = io.BytesIO()
    with encrypting_writer(sink, SMALL) as writer:
        rest = memoryview(data)
        for cut in cuts:
            writer.write(rest[:cut])
            rest = rest[cut:]
        writer.write(rest)
    assert writer.plaintext_size == len(data)
    assert decrypt(sink.getvalue(), writer.key) == data


@given(st.integers(0, 50 * SMALL))
def test_stored_size_depends_only_on_padme(size):
    blob, _ = encrypt(bytes(size))
    padded = padme(size + 1)
    n_chunks = -(-padded // SMALL)
    assert len(blob) == HEADER_LEN + padded + 16 * n_chunks


def test_sizes_in_one_padme_bucket_are_indistinguishable():
    lengths = {
        len(encrypt(os.urandom(n), DEFAULT_CHUNK_SIZE)[0])
        for n in range(1_000_000, 1_000_000 + 4000, 250)
    }
    assert len(lengths) == 1


def test_each_file_gets_a_fresh_key():
    assert encrypt(b"same")[1] != encrypt(b"same")[1]


def test_reader_file_interface():
    data = os.urandom(10 * SMALL + 7)
    blob, key = encrypt(data)
    reader = decrypting_reader(io.BytesIO(blob), key)
    assert reader.read(5) + reader.read() == data


def test_wrong_key_fails():
    blob, _ = encrypt(b"data")
    with pytest.raises(CryptoError):
        decrypt(blob, new_key())


TAMPER_SIZES = st.one_of(st.sampled_from(BOUNDARY_SIZES), st.integers(0, 6 * SMALL))


@given(TAMPER_SIZES, st.data())
def test_any_flipped_bit_fails(size, data):
    blob, key = encrypt(os.urandom(size))
    tampered = bytearray(blob)
    tampered[data.draw(st.integers(0, len(blob) - 1))] ^= 1 << data.draw(st.integers(0, 7))
    with pytest.raises(CryptoError):
        decrypt(bytes(tampered), key)


@given(TAMPER_SIZES, st.data())
def test_any_truncation_fails(size, data):
    blob, key = encrypt(os.urandom(size))
    cut = data.draw(st.integers(0, len(blob) - 1))
    with pytest.raises(CryptoError):
        decrypt(blob[:cut], key)


@given(TAMPER_SIZES, st.binary(min_size=1, max_size=2 * SEALED))
def test_any_extension_fails(size, extra):
    blob, key = encrypt(os.urandom(size))
    with pytest.raises(CryptoError):
        decrypt(blob + extra, key)


def test_dropping_a_middle_chunk_fails():
    blob, key = encrypt(os.urandom(5 * SMALL))
    parts = chunks_of(blob)
    with pytest.raises(CryptoError):
        decrypt(blob[:HEADER_LEN] + b"".join(parts[:2] + parts[3:]), key)


def test_reordering_chunks_fails():
    blob, key = encrypt(os.urandom(5 * SMALL))
    parts = chunks_of(blob)
    parts[1], parts[2] = parts[2], parts[1]
    with pytest.raises(CryptoError):
        decrypt(blob[:HEADER_LEN] + b"".join(parts), key)


def test_swapping_a_chunk_between_files_fails():
    blob_a, key_a = encrypt(os.urandom(5 * SMALL))
    blob_b, _ = encrypt(os.urandom(5 * SMALL))
    parts_a, parts_b = chunks_of(blob_a), chunks_of(blob_b)
    parts_a[1] = parts_b[1]
    with pytest.raises(CryptoError):
        decrypt(blob_a[:HEADER_LEN] + b"".join(parts_a), key_a)


def test_the_final_chunk_cannot_be_dropped_even_at_a_boundary():
    blob, key = encrypt(os.urandom(4 * SMALL))
    parts = chunks_of(blob)
    with pytest.raises(CryptoError):
        decrypt(blob[:HEADER_LEN] + b"".join(parts[:-1]), key)


def test_an_abandoned_writer_leaves_an_undecryptable_stream():
    sink = io.BytesIO()
    with pytest.raises(RuntimeError), encrypting_writer(sink, SMALL) as writer:
        writer.write(os.urandom(3 * SMALL + 10))
        raise RuntimeError("connection dropped")
    with pytest.raises(CryptoError):
        decrypt(sink.getvalue(), writer.key)


@pytest.mark.parametrize("bad_chunk", [0, 1, 3])
def test_no_plaintext_of_an_unauthenticated_chunk_is_released(bad_chunk):
    data = os.urandom(5 * SMALL)
    blob, key = encrypt(data)
    tampered = bytearray(blob)
    tampered[HEADER_LEN + bad_chunk * SEALED + 3] ^= 0x01
    released = bytearray()
    with pytest.raises(CryptoError):
        for piece in decrypt_stream(io.BytesIO(bytes(tampered)), key):
            released += piece
    assert len(released) <= bad_chunk * SMALL
    assert data.startswith(bytes(released))


@pytest.mark.parametrize(
    "header",
    [
        b"",
        b"\x01\x00",
        b"\x02\x00\x00\x00\x40",
        b"\x01\x00\x00\x00\x41",
        b"\x01\x00\x00\x00\x20",
        b"\x01\x10\x00\x00\x00",
    ],
    ids=["empty", "short", "version", "not-power-of-two", "too-small", "too-large"],
)
def test_malformed_headers_fail_before_any_work(header):
    with pytest.raises(CryptoError):
        decrypt(header + bytes(200), new_key())


def test_header_only_stream_fails():
    blob, key = encrypt(b"")
    with pytest.raises(CryptoError):
        decrypt(blob[:HEADER_LEN], key)


def test_write_after_close_is_refused():
    writer = encrypting_writer(io.BytesIO(), SMALL)
    writer.close()
    with pytest.raises(CryptoError):
        writer.write(b"late")


def test_each_sink_write_is_the_header_or_one_whole_chunk():
    writes: list[int] = []

    class Recorder:
        def write(self, data: bytes) -> None:
            writes.append(len(data))

    with EncryptingWriter(Recorder(), SMALL) as writer:
        for _ in range(7):
            writer.write(os.urandom(50))
    assert writes[0] == HEADER_LEN
    assert all(n == SEALED for n in writes[1:-1]) and 0 < writes[-1] <= SEALED


class _Discard:
    def write(self, data: bytes) -> None:
        pass


def test_memory_stays_constant_for_large_streams():
    piece = os.urandom(1 << 20)
    tracemalloc.start()
    try:
        writer = encrypting_writer(_Discard())
        for _ in range(32):
            writer.write(piece)
        writer.close()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 4 * DEFAULT_CHUNK_SIZE, peak


def test_decryption_memory_stays_constant(tmp_path):
    path = tmp_path / "blob"
    with path.open("wb") as sink, encrypting_writer(sink) as writer:
        for _ in range(32):
            writer.write(os.urandom(1 << 20))
    tracemalloc.start()
    try:
        with path.open("rb") as source:
            total = sum(len(p) for p in decrypt_stream(source, writer.key))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert total == 32 << 20
    assert peak < 8 * DEFAULT_CHUNK_SIZE, peak


def test_a_stream_ending_in_an_empty_chunk_is_not_canonical_and_is_refused():
    """Built by hand with the key: data and padding in a non-final chunk, then an empty
    final chunk. Our writer never makes this; a reader accepting it would accept two
    encodings of one file."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    from sipadu.crypto.stream import _nonce

    key = new_key()
    header = bytes([1]) + SMALL.to_bytes(4, "big")
    body = b"x" * (SMALL - 1) + b"\x80"
    aes = AESGCM(key)
    blob = (
        header
        + aes.encrypt(_nonce(0, False), body, header)
        + aes.encrypt(_nonce(1, True), b"", header)
    )
    with pytest.raises(CryptoError):
        decrypt(blob, key)
    canonical = header + aes.encrypt(_nonce(0, True), body, header)
    assert decrypt(canonical, key) == b"x" * (SMALL - 1)
