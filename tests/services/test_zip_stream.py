"""ZIP archives produced as they are read (:mod:`sipadu.services.zip_stream`): every
entry dated the given day at 00:00 whatever the clock says (G2), read by Python's
zipfile and by Info-ZIP's ``unzip``, each entry's bytes pulled only when the archive
reaches it, and in constant memory whatever an entry's size."""

import io
import os
import subprocess
import tracemalloc
import zipfile
from collections.abc import Iterator
from datetime import date

import pytest

from sipadu.services.zip_stream import ZIP_EPOCH, Entry, zip_stream

DAY = date(2026, 11, 23)


def test_every_entry_carries_the_day_and_nothing_of_the_clock(tmp_path):
    data = os.urandom(70_000)
    archive = b"".join(
        zip_stream(
            [
                Entry("report.json", [b'{"a": ', b"1}"]),
                Entry("attachments/001-bukti.jpg", iter([data]), compress=False),
                Entry("kosong.txt", []),
            ],
            DAY,
        )
    )
    zipped = zipfile.ZipFile(io.BytesIO(archive))
    infos = zipped.infolist()
    assert [i.filename for i in infos] == ["report.json", "attachments/001-bukti.jpg", "kosong.txt"]
    assert {i.date_time for i in infos} == {(2026, 11, 23, 0, 0, 0)}
    deflated, stored = zipfile.ZIP_DEFLATED, zipfile.ZIP_STORED
    assert [i.compress_type for i in infos] == [deflated, stored, deflated]
    assert {i.external_attr >> 16 for i in infos} == {0o600}
    assert all(not i.extra or i.extra[:2] == b"\x01\x00" for i in infos)  # Zip64 only
    assert zipped.read("report.json") == b'{"a": 1}' and zipped.read(infos[1]) == data
    assert zipped.read("kosong.txt") == b"" and zipped.testzip() is None
    (tmp_path / "a.zip").write_bytes(archive)
    tested = subprocess.run(["unzip", "-t", str(tmp_path / "a.zip")], capture_output=True)
    if tested.returncode == 127:  # pragma: no cover
        pytest.fail("unzip is not installed")
    assert tested.returncode == 0, tested.stdout


def test_an_entry_is_read_only_when_the_archive_reaches_it():
    """A manifest written last can hold what the entries before it produced."""
    seen: list[str] = []

    def piece(name: str) -> Iterator[bytes]:
        seen.append(name)
        yield name.encode()

    def manifest() -> Iterator[bytes]:
        yield ",".join(seen).encode()

    zipped = zipfile.ZipFile(
        io.BytesIO(
            b"".join(
                zip_stream(
                    [Entry("a", piece("a")), Entry("b", piece("b")), Entry("m", manifest())],
                    ZIP_EPOCH,
                )
            )
        )
    )
    assert zipped.read("m") == b"a,b" and {i.date_time for i in zipped.infolist()} == {
        (1980, 1, 1, 0, 0, 0)
    }


def test_a_large_entry_goes_through_in_constant_memory():
    chunk = os.urandom(64 * 1024)
    total = 0
    tracemalloc.start()
    try:
        for out in zip_stream([Entry("big", (chunk for _ in range(256)), compress=False)], DAY):
            total += len(out)
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert total > 16 * 1024 * 1024  # 16 MiB went through
    assert peak < 2 * 1024 * 1024, peak


def test_an_error_in_an_entry_ends_the_archive_there_and_a_day_before_1980_is_refused():
    def broken() -> Iterator[bytes]:
        yield b"half"
        raise OSError("the database went away")

    with pytest.raises(OSError, match="went away"):
        b"".join(zip_stream([Entry("a", broken())], DAY))
    with pytest.raises(ValueError):
        b"".join(zip_stream([Entry("a", [b"x"])], date(1979, 12, 31)))
