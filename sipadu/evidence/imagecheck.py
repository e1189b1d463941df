"""Cheap structural checks of an image before any decoder sees it (DESIGN.md G8).

The pixel budget bounds what decoding costs per pixel, not how many times a decoder may
be made to go over the pixels, or how many tiny pieces it may be made to walk through
one by one. Measured on Pillow 12 / libjpeg-turbo 3 (``benchmarks/image_clean.py``
has the honest costs), each of these took seconds of CPU from a few hundred KiB to
20 MiB:

- **Progressive JPEG scan bombs.** Every scan of a progressive JPEG is a pass over the
  whole coefficient buffer, and a scan that only says "end of block" for every block
  costs a few bytes (the EOB-run loophole): 1,000 scans of a 4-megapixel picture in
  30 KB cost 4.7 s of CPU to decode, a 308 KiB file 20 s. libjpeg-turbo's authors call
  this issue LJT-01-003, a property of the JPEG standard rather than a bug, and tell
  applications to limit the number of scans (libjpeg-turbo issues #252 and #284;
  ``djpeg -maxscans``, ``TJPARAM_SCANLIMIT``; NVIDIA's decoders default to 256 and 500).
  Real encoders write far fewer: libjpeg's standard progression has 10 scans for a
  colour picture and 6 for a grey one, mozjpeg's searched ones a similar number, a
  baseline JPEG one scan per component at most (4). :data:`MAX_JPEG_SCANS` allows 64.
- **JPEG marker floods.** Pillow reads the markers before the first scan in Python,
  one byte at a time: 20 MiB of empty comment or APP1 segments, or of fill bytes, cost
  9 to 14 s. A camera writes a few dozen (an ICC profile split in at most 255 pieces is
  the largest legitimate run): :data:`MAX_JPEG_MARKERS` allows 2,000.
- **PNG chunk floods.** Pillow walks the chunks in Python: 20 MiB of empty chunks cost
  12 s, of one-byte IDAT chunks 8 s. Encoders write IDAT chunks of 8 KiB or more (a
  20 MiB picture: about 2,600): :data:`MAX_PNG_CHUNKS` allows 20,000 (1 KiB each on
  average, over the largest picture that is cleaned).

WebP is parsed by libwebp in C: 456,000 animation frames in 20 MiB cost 1.4 s, within
what the pixels of a large picture cost anyway, so it is not walked here. Whatever these
checks miss, the child's CPU limit still ends (``SIPADU_IMAGE_CLEANER_CPU_SECONDS``).

:func:`kind` names the format from its first bytes (no decoder is asked to guess);
:func:`check` raises :class:`Refused` for a picture no real encoder writes. Both cost one
pass of C-speed searches over the bytes, with Python work per marker or chunk bounded by
the limits above.
"""

import re
import struct

MAX_JPEG_SCANS = 64
MAX_JPEG_MARKERS = 2000  # marker segments and fill bytes, outside the scans' data
MAX_PNG_CHUNKS = 20_000
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

# In a scan's entropy-coded data 0xFF is followed by 0x00 (a stuffed byte) or a restart
# marker (D0-D7); anything else ends the scan.
_END_OF_SCAN = re.compile(rb"\xff(?!\x00|[\xd0-\xd7])")
_STANDALONE = {0x01, *range(0xD0, 0xD8)}  # TEM and RSTn: no length follows


class Refused(ValueError):
    """Not a picture any real encoder writes (too many scans, markers or chunks, or
    malformed where it was walked)."""


def kind(data: bytes | memoryview) -> str:
    """``"JPEG"``, ``"PNG"`` or ``"WEBP"`` from the file's signature. Raises
    :class:`Refused` for anything else."""
    head = bytes(data[:16])
    if head.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if head.startswith(PNG_SIGNATURE):
        return "PNG"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WEBP"
    raise Refused("format")


def check(data: bytes, image_kind: str) -> None:
    """Raise :class:`Refused` if ``data`` (of ``image_kind``) has more scans, markers or
    chunks than the limits above."""
    if image_kind == "JPEG":
        _check_jpeg(data)
    elif image_kind == "PNG":
        _check_png(data)


def _check_jpeg(data: bytes) -> None:
    position, markers, scans = 2, 0, 0  # after SOI
    while position + 4 <= len(data):
        if data[position] != 0xFF:
            raise Refused("jpeg: no marker where one must be")
        marker = data[position + 1]
        markers += 1
        if markers > MAX_JPEG_MARKERS:
            raise Refused("jpeg: too many markers")
        if marker == 0xFF:  # a fill byte: Pillow reads each one by itself
            position += 1
            continue
        if marker == 0xD9:  # EOI: what follows (a multi-picture file's others) is not decoded
            return
        if marker in _STANDALONE:
            position += 2
            continue
        (length,) = struct.unpack_from(">H", data, position + 2)
        if length < 2:
            raise Refused("jpeg: bad segment length")
        position += 2 + length
        if marker == 0xDA:  # SOS: its entropy-coded data follows the header
            scans += 1
            if scans > MAX_JPEG_SCANS:
                raise Refused("jpeg: too many scans")
            found = _END_OF_SCAN.search(data, position)
            if found is None:
                return  # cut off: the decoder says what it makes of it
            position = found.start()


def _check_png(data: bytes) -> None:
    position, chunks = len(PNG_SIGNATURE), 0
    while position + 8 <= len(data):
        length, name = struct.unpack_from(">I4s", data, position)
        chunks += 1
        if chunks > MAX_PNG_CHUNKS:
            raise Refused("png: too many chunks")
        if name == b"IEND":
            return
        position += 12 + length  # length, name, data, CRC
