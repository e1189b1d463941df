"""Pictures built to cost CPU out of proportion to their pixels (see sipadu/evidence/imagecheck.py),
at any size: a test makes them just past a limit, so that cleaning them is cheap even
where they are not refused."""

import io
import re
import struct
import zlib

from PIL import Image

_END_OF_SCAN = re.compile(rb"\xff(?!\x00|[\xd0-\xd7])")


def progressive_jpeg(width: int, height: int) -> bytes:
    out = io.BytesIO()
    Image.new("L", (width, height), 128).save(out, "JPEG", progressive=True, quality=90)
    return out.getvalue()


def jpeg_scans(data: bytes) -> list[tuple[int, int]]:
    """(start, end) of every scan: its SOS segment and its entropy-coded data."""
    position, scans = 2, []
    while data[position + 1] != 0xD9:
        (length,) = struct.unpack_from(">H", data, position + 2)
        end = position + 2 + length
        if data[position + 1] == 0xDA:
            end = _END_OF_SCAN.search(data, end).start()
            scans.append((position, end))
        position = end
    return scans


def scan_bomb(width: int, height: int, scans: int) -> bytes:
    """A progressive JPEG whose last scan is repeated until it has ``scans`` scans: each
    costs a pass over every block, and a few bytes (the EOB-run loophole)."""
    data = progressive_jpeg(width, height)
    found = jpeg_scans(data)
    start, end = found[-1]
    return data[:end] + data[start:end] * (scans - len(found)) + b"\xff\xd9"


def jpeg_marker_flood(markers: int) -> bytes:
    """A small JPEG with ``markers`` empty comments before its frame."""
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (10, 10, 10)).save(out, "JPEG")
    data = out.getvalue()
    return data[:2] + b"\xff\xfe\x00\x02" * markers + data[2:]


def _chunk(name: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(name + data)
    return struct.pack(">I", len(data)) + name + data + struct.pack(">I", crc)


def png_chunk_flood(chunks: int) -> bytes:
    """A small PNG with ``chunks`` empty private chunks before its data."""
    width = height = 64
    rows = b"".join(b"\x00" + bytes(width) for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"".join(
        [
            b"\x89PNG\r\n\x1a\n",
            _chunk(b"IHDR", header),
            _chunk(b"zzZz", b"") * chunks,
            _chunk(b"IDAT", zlib.compress(rows)),
            _chunk(b"IEND", b""),
        ]
    )
