"""ZIP archives produced as they are read, every entry dated by the caller.

Written by the standard library's :mod:`zipfile` into a sink that cannot seek: each
entry's sizes and CRC-32 follow its data in a data descriptor (PKWARE APPNOTE.TXT
§4.3.9), in Zip64 form (§4.5.3) so that no size is ever too large; the central
directory comes last. Nothing is written to a file and memory stays constant whatever
an entry's size: what the writer produced is handed on after each piece.

**Dates** (G2): a ZIP entry carries a local date and time to 2 seconds (APPNOTE.TXT
§4.4.6). A ZIP writer's default is the clock at the moment it writes the entry, which
would put in the file the moment it was made and, from first to last entry, how long
the download took. Here every entry carries ``day`` at 00:00:00 and nothing finer: the
reporter's bundle its period, coarsened like every reporter-side date
(:mod:`sipadu.services.escalation`); a staff export :data:`ZIP_EPOCH`, its moment being
the audit log's (:mod:`sipadu.services.export`). No entry holds an extended timestamp
field either (the standard library writes none).
"""

import hashlib
import io
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer

# The earliest date a ZIP entry can carry (MS-DOS dates count from 1980, APPNOTE.TXT
# §4.4.6): a date that says nothing.
ZIP_EPOCH = date(1980, 1, 1)


@dataclass(frozen=True)
class Entry:
    """One file of the archive: its path, its bytes (read only when the archive reaches
    it, so a generator may compute them from what came before, as a manifest does) and
    whether to compress it (deflate; stored as is when False, for files that usually
    are compressed already)."""

    name: str
    pieces: Iterable[bytes]
    compress: bool = True


def hashed(digests: dict[str, str], name: str, pieces: Iterable[bytes]) -> Iterator[bytes]:
    """``pieces`` passed on unchanged; once they are all read, their SHA-256 (hex) is put
    in ``digests`` under ``name``: what a manifest written after them lists."""
    digest = hashlib.sha256()
    for piece in pieces:
        digest.update(piece)
        yield piece
    digests[name] = digest.hexdigest()


class _Sink(io.RawIOBase):
    """What the writer writes into: kept until taken. It cannot seek, so
    :class:`zipfile.ZipFile` writes data descriptors and counts offsets itself."""

    def __init__(self) -> None:
        self._pieces: list[bytes] = []

    def writable(self) -> bool:
        return True

    def write(self, data: "ReadableBuffer") -> int:
        chunk = bytes(data)
        self._pieces.append(chunk)
        return len(chunk)

    def take(self) -> bytes:
        out = b"".join(self._pieces)
        self._pieces.clear()
        return out


def zip_stream(entries: Iterable[Entry], day: date) -> Iterator[bytes]:
    """The archive of ``entries``, in their order, as bytes produced while it is read;
    every entry dated ``day`` at 00:00:00 (no earlier than :data:`ZIP_EPOCH`: raises
    ``ValueError`` otherwise), mode 0600. Raises whatever an entry's pieces raise, where
    they raise it (the archive then ends there, incomplete)."""
    stamp = (day.year, day.month, day.day, 0, 0, 0)
    sink = _Sink()
    archive = zipfile.ZipFile(sink, mode="w")
    for entry in entries:
        info = zipfile.ZipInfo(entry.name, date_time=stamp)
        info.compress_type = zipfile.ZIP_DEFLATED if entry.compress else zipfile.ZIP_STORED
        info.external_attr = 0o600 << 16  # a regular file, -rw------- (as ZipFile.writestr)
        with archive.open(info, mode="w", force_zip64=True) as member:
            for piece in entry.pieces:
                member.write(piece)
                if written := sink.take():
                    yield written
        if written := sink.take():  # the rest of the compressed data, the data descriptor
            yield written
    archive.close()  # the central directory
    yield sink.take()
