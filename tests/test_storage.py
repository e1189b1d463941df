"""Encrypted blob storage: staged in short transactions, linked on commit, purged when
abandoned, streamed back in constant memory, never served altered."""

import os
import time
import tracemalloc

import pytest
from sqlalchemy import select, text

from sipadu.crypto import CryptoError
from sipadu.evidence import storage
from sipadu.persistence.db import make_engine, make_sessionmaker
from sipadu.persistence.models import Blob, BlobChunk


@pytest.fixture
def sessions(new_database_url):
    engine = make_engine(new_database_url)
    yield make_sessionmaker(engine, write=True)
    engine.dispose()


def pieces(data: bytes, size: int = 64 * 1024):
    for i in range(0, len(data), size):
        yield data[i : i + size]


@pytest.mark.parametrize("size", [0, 1, 128 * 1024, 128 * 1024 + 1, 3 * 1024 * 1024 + 7])
def test_round_trip_through_the_database(sessions, size):
    data = os.urandom(size)
    stored = storage.store(sessions, pieces(data))
    assert stored.size == size
    with sessions() as session:
        storage.link(session, [stored.blob_id])
        session.commit()
        assert b"".join(storage.read_plaintext(session, stored.blob_id, stored.key)) == data


def test_plaintext_is_never_stored(sessions):
    marker = b"CANARY-EVIDENCE-" + os.urandom(8).hex().encode()
    stored = storage.store(sessions, [marker * 1000])
    with sessions() as session:
        chunks = session.scalars(select(BlobChunk.data).where(BlobChunk.blob_id == stored.blob_id))
        assert not any(marker in chunk for chunk in chunks)
        assert marker[:16] not in b"".join(
            session.scalars(select(BlobChunk.data).where(BlobChunk.blob_id == stored.blob_id))
        )


def test_stored_size_leaks_only_the_padme_bucket(sessions):
    sizes = set()
    for size in range(1_000_000, 1_003_000, 500):
        sizes.add(storage.store(sessions, [os.urandom(size)]).stored_bytes)
    assert len(sizes) == 1


def test_linking_forgets_when_the_upload_happened(sessions):
    stored = storage.store(sessions, [b"evidence"])
    with sessions() as session:
        assert session.get(Blob, stored.blob_id).active_bucket is not None
        storage.link(session, [stored.blob_id])
        session.commit()
    with sessions() as session:
        blob = session.get(Blob, stored.blob_id)
        assert blob.linked and blob.active_bucket is None


def test_abandoned_uploads_are_purged_but_slow_and_linked_ones_are_not(sessions):
    abandoned = storage.store(sessions, [b"a" * 1000])
    linked = storage.store(sessions, [b"b" * 1000])
    with sessions() as session:
        storage.link(session, [linked.blob_id])
        session.commit()
    slow = storage.EncryptingUpload(sessions)
    slow.write(os.urandom(storage.WRITE_BATCH_BYTES + 300_000))  # at least one batch stored
    later = time.time() + 2 * 3600
    # The slow upload writes again near "later": its activity moves forward.
    with sessions() as session:
        session.execute(
            text("UPDATE blob SET active_bucket = :b WHERE id = :i"),
            {
                "b": storage.activity_bucket(later),
                "i": slow.blob_id.hex if session.bind.dialect.name == "sqlite" else slow.blob_id,
            },
        )
        session.commit()
    with sessions() as session:
        assert storage.purge_stale(session, now=later) == 1
        session.commit()
    with sessions() as session:
        remaining = set(session.scalars(select(Blob.id)))
        assert abandoned.blob_id not in remaining
        assert {linked.blob_id, slow.blob_id} <= remaining
        orphans = session.scalar(
            text("SELECT count(*) FROM blob_chunk WHERE blob_id NOT IN (SELECT id FROM blob)")
        )
        assert orphans == 0


def test_discard_removes_staged_blobs_at_once(sessions):
    stored = storage.store(sessions, [os.urandom(500_000)])
    storage.discard(sessions, [stored.blob_id])
    with sessions() as session:
        assert session.get(Blob, stored.blob_id) is None
        assert session.scalar(text("SELECT count(*) FROM blob_chunk")) == 0


@pytest.mark.parametrize("where", ["first", "middle", "last"])
def test_a_flipped_byte_in_a_stored_chunk_fails_the_download(sessions, where):
    data = os.urandom(600_000)
    stored = storage.store(sessions, pieces(data))
    with sessions() as session:
        rows = session.scalars(
            select(BlobChunk).where(BlobChunk.blob_id == stored.blob_id).order_by(BlobChunk.seq)
        ).all()
        row = {"first": rows[1], "middle": rows[len(rows) // 2], "last": rows[-1]}[where]
        altered = bytearray(row.data)
        altered[len(altered) // 2] ^= 0x01
        row.data = bytes(altered)
        session.commit()
    with sessions() as session, pytest.raises(CryptoError):
        for _ in storage.read_plaintext(session, stored.blob_id, stored.key):
            pass


def test_a_deleted_chunk_fails_the_download(sessions):
    stored = storage.store(sessions, [os.urandom(600_000)])
    with sessions() as session:
        session.execute(text("DELETE FROM blob_chunk WHERE seq = 2"))
        session.commit()
    with sessions() as session, pytest.raises(CryptoError):
        b"".join(storage.read_plaintext(session, stored.blob_id, stored.key))


def test_staging_and_reading_use_constant_memory(sessions):
    piece = os.urandom(1024 * 1024)
    tracemalloc.start()
    try:
        stored = storage.store(sessions, (piece for _ in range(48)))
        _, staging_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        with sessions() as session:
            total = sum(len(p) for p in storage.read_plaintext(session, stored.blob_id, stored.key))
        _, reading_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert total == 48 * 1024 * 1024
    assert staging_peak < 8 * 1024 * 1024, staging_peak
    assert reading_peak < 8 * 1024 * 1024, reading_peak


def test_purge_command(new_database_url, tmp_path, redis_url):
    from click.testing import CliRunner

    from sipadu.cli import main
    from tests.helpers import config_env

    env = config_env(tmp_path / "instance", new_database_url, redis_url)
    engine = make_engine(new_database_url)
    sessions = make_sessionmaker(engine, write=True)
    stored = storage.store(sessions, [b"left behind"])
    with sessions() as session:
        session.execute(text("UPDATE blob SET active_bucket = active_bucket - 12"))
        session.commit()
    result = CliRunner().invoke(main, ["purge"], env=env, catch_exceptions=False)
    assert result.exit_code == 0 and result.stdout.startswith("purged 1 abandoned upload(s), ")
    with sessions() as session:
        assert session.get(Blob, stored.blob_id) is None
    engine.dispose()


def test_clean_names_keep_only_a_plain_last_segment():
    from sipadu.services.attachments import clean_name

    assert clean_name("../../etc/passwd") == "passwd"
    assert clean_name("C:\\Windows\\win.ini") == "win.ini"
    assert clean_name("a\x00b\x1f.txt") == "ab.txt"
    assert clean_name("..") == "file" and clean_name(None) == "file"
    assert len(clean_name("x" * 500)) == 200
