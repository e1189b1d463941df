"""What the daily row-order rewrite costs (docs/crypto.md, "Row order"), and what
``WITHOUT ROWID`` costs the chunk table.

    .venv/bin/python benchmarks/row_order.py [--mib 200] [--postgres URL]

A fresh migrated SQLite database (``make run``'s settings: WAL, 16 KiB pages) gets
``--mib`` MiB of encrypted-size chunks (128 KiB rows of random bytes, 1 MiB files) plus
a few hundred small reporter and staff rows; then :func:`sipadu.persistence.row_order.reshuffle`
runs and is timed. The same chunks are written into a plain rowid table and a
``WITHOUT ROWID`` table of the chunk table's shape and read back, file by file, to
compare. With ``--postgres URL`` (an empty database of your own) the same data is
migrated, loaded and reshuffled there too. Last line: key=value figures (seconds, MiB).
"""

import argparse
import os
import sqlite3
import sys
import tempfile
import time
import uuid
from pathlib import Path

from sqlalchemy import insert

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from sipadu.persistence.db import make_engine
from sipadu.persistence.migrate import upgrade
from sipadu.persistence.models import Blob, BlobChunk
from sipadu.persistence.row_order import reshuffle

CHUNK = 128 * 1024
FILE_CHUNKS = 8


def load(url: str, mib: int) -> None:
    engine = make_engine(url)
    try:
        for _ in range(mib // (FILE_CHUNKS * CHUNK // (1024 * 1024))):
            blob = uuid.uuid4()
            with engine.begin() as connection:  # one upload: its own transaction
                connection.execute(
                    insert(Blob).values(
                        id=blob,
                        linked=True,
                        chunk_count=FILE_CHUNKS,
                        stored_bytes=FILE_CHUNKS * CHUNK,
                    )
                )
                connection.execute(
                    insert(BlobChunk),
                    [
                        {"blob_id": blob, "seq": seq, "data": os.urandom(CHUNK)}
                        for seq in range(FILE_CHUNKS)
                    ],
                )
    finally:
        engine.dispose()


def timed_reshuffle(url: str) -> float:
    engine = make_engine(url)
    try:
        return reshuffle(engine).seconds
    finally:
        engine.dispose()


def chunk_table(path: Path, rowid: bool, mib: int) -> tuple[float, float, float]:
    """Write then read ``mib`` MiB of chunks: seconds to write, to read, MiB of file."""
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA page_size=16384")
    db.execute("PRAGMA journal_mode=WAL")
    option = "" if rowid else " WITHOUT ROWID"
    db.execute(
        "CREATE TABLE blob_chunk (blob_id CHAR(32) NOT NULL, seq INTEGER NOT NULL,"
        f" data BLOB NOT NULL, PRIMARY KEY (blob_id, seq)){option}"
    )
    blobs = [uuid.uuid4().hex for _ in range(mib // (FILE_CHUNKS * CHUNK // (1024 * 1024)))]
    started = time.monotonic()
    for blob in blobs:
        db.execute("BEGIN")
        for seq in range(FILE_CHUNKS):
            db.execute("INSERT INTO blob_chunk VALUES (?, ?, ?)", (blob, seq, os.urandom(CHUNK)))
        db.execute("COMMIT")
    wrote = time.monotonic() - started
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    started = time.monotonic()
    for blob in blobs:
        for (data,) in db.execute(
            "SELECT data FROM blob_chunk WHERE blob_id = ? ORDER BY seq", (blob,)
        ):
            assert len(data) == CHUNK
    read = time.monotonic() - started
    db.close()
    return wrote, read, path.stat().st_size / (1024 * 1024)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mib", type=int, default=200)
    parser.add_argument("--postgres", help="an empty PostgreSQL database of your own")
    args = parser.parse_args()
    figures: dict[str, str] = {"mib": str(args.mib)}
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{folder}/sipadu.db"
        upgrade(url)
        load(url, args.mib)
        figures["sqlite_reshuffle_s"] = f"{timed_reshuffle(url):.2f}"
        figures["sqlite_reshuffle_again_s"] = f"{timed_reshuffle(url):.2f}"
        for rowid in (True, False):
            wrote, read, size = chunk_table(Path(folder) / f"t{rowid}.db", rowid, args.mib)
            name = "rowid" if rowid else "without_rowid"
            figures[f"{name}_write_s"] = f"{wrote:.2f}"
            figures[f"{name}_read_s"] = f"{read:.2f}"
            figures[f"{name}_file_mib"] = f"{size:.0f}"
            print(f"{name}: write {wrote:.2f} s, read {read:.2f} s, file {size:.0f} MiB")
    if args.postgres:
        upgrade(args.postgres)
        load(args.postgres, args.mib)
        figures["postgres_reshuffle_s"] = f"{timed_reshuffle(args.postgres):.2f}"
    print(" ".join(f"{key}={value}" for key, value in figures.items()))


if __name__ == "__main__":
    main()
