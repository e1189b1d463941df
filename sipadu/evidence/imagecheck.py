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

- **GIF frame and block floods.** Pillow decodes every frame before the next can be
  reached (seeking is decoding), each with Python work of its own, and reads extensions
  in Python: a GIF of a million one-pixel frames is 20 MiB. Real animations have a few
  hundred frames (a 30-second screen recording at 25 frames per second: 750);
  :data:`MAX_GIF_FRAMES` allows 2,000. Encoders fill sub-blocks to 255 bytes:
  :data:`MAX_GIF_BLOCKS` allows 400,000 (100 MiB of full ones).
- **TIFF page floods.** Pillow walks the chain of image file directories (IFDs) in
  Python, reading every tag of every one: thousands of pages of a few bytes each, or
  IFDs that claim 65,535 tags, cost CPU out of proportion to their pixels. A scanned
  document has a page per sheet: :data:`MAX_TIFF_PAGES` allows 1,000 and
  :data:`MAX_TIFF_TAGS` 100,000 tags in all (a page has 15 to 60); a chain that loops
  is refused.

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
from dataclasses import dataclass, field

from sipadu.evidence import kinds

MAX_JPEG_SCANS = 64
MAX_JPEG_MARKERS = 2000  # marker segments and fill bytes, outside the scans' data
MAX_PNG_CHUNKS = 20_000
MAX_GIF_FRAMES = 2000
MAX_GIF_BLOCKS = 400_000  # extension and image-data sub-blocks
MAX_TIFF_PAGES = 1000
MAX_TIFF_TAGS = 100_000
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

# In a scan's entropy-coded data 0xFF is followed by 0x00 (a stuffed byte) or a restart
# marker (D0-D7); anything else ends the scan.
_END_OF_SCAN = re.compile(rb"\xff(?!\x00|[\xd0-\xd7])")
_STANDALONE = {0x01, *range(0xD0, 0xD8)}  # TEM and RSTn: no length follows


class Refused(ValueError):
    """Not a picture any real encoder writes (too many scans, markers or chunks, or
    malformed where it was walked)."""


class TooMany(Refused):
    """More frames (a GIF) or pages (a TIFF) than are decoded here: a real picture may
    have them (a long animation, a thick scan), so it is too large to clean here, not
    damaged."""


class Incomplete(ValueError):
    """A picture whose pixels Pillow would read are not all it holds: a TIFF with
    SubIFDs (tag 330, TIFF Technical Note 1: e.g. a DNG's full-resolution raw image
    behind a small preview) or a DNG (DNGVersion, tag 50706; DNG 1.7 specification),
    whose photo re-encoding would replace with its preview; a motion photo
    (:func:`motion_photo`), whose clip it would drop."""


_TIFF_ELSEWHERE = {330, 50706}  # SubIFDs, DNGVersion


def kind(data: bytes | memoryview) -> str:
    """Pillow's name of the format (``"JPEG"``, ``"PNG"``, ``"WEBP"``, ``"GIF"``,
    ``"TIFF"`` or ``"HEIF"``) from the file's content (:func:`sipadu.evidence.kinds.detect`).
    Raises :class:`Refused` for anything else."""
    found = kinds.detect(data[: kinds.HEAD_BYTES])
    if found is None or found not in kinds.IMAGE_KINDS:
        raise Refused("format")
    return found.value.upper()


def check(data: bytes, image_kind: str) -> None:
    """Raise :class:`Refused` if ``data`` (of ``image_kind``) has more scans, markers,
    chunks, frames, blocks, pages or tags than the limits above."""
    if image_kind == "JPEG":
        _check_jpeg(data)
    elif image_kind == "PNG":
        _check_png(data)
    elif image_kind == "GIF":
        gif_walk(data)
    elif image_kind == "TIFF":
        tiff_pages(data)


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
            end = scan_end(data, position)
            if end is None:
                return  # cut off: the decoder says what it makes of it
            position = end


def scan_end(data: bytes, position: int) -> int | None:
    """Where the entropy-coded data of a JPEG scan that starts at ``position`` (just
    after its SOS segment) ends: the offset of the marker that ends it (T.81 B.1.1.5:
    in the data, 0xFF is followed by a stuffed 0x00 or a restart marker), or None when
    the data runs to the end of ``data`` (cut off)."""
    found = _END_OF_SCAN.search(data, position)
    return None if found is None else found.start()


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


@dataclass
class GifWalk:
    """What a GIF's blocks hold besides pictures: its frame count, whether it has a
    comment, the identifiers of its application extensions (``NETSCAPE2.0``: the loop
    count; ``XMP DataXMP``: XMP) and its XMP packet."""

    frames: int = 0
    comment: bool = False
    plain_text: bool = False
    applications: set[bytes] = field(default_factory=set)
    xmp: bytes = b""


def gif_walk(data: bytes, max_frames: int = MAX_GIF_FRAMES) -> GifWalk:
    """Walk a GIF's blocks (GIF89a specification, sections 17 to 27) without decoding.
    Raises :class:`TooMany` past ``max_frames`` (what is decoded here), :class:`Refused`
    past :data:`MAX_GIF_BLOCKS` or where the structure is broken."""
    if len(data) < 13 or data[:6] not in (b"GIF87a", b"GIF89a"):
        raise Refused("gif: no header")
    walk, blocks = GifWalk(), 0
    flags = data[10]
    position = 13 + (3 << ((flags & 7) + 1) if flags & 0x80 else 0)
    while position < len(data):
        introducer = data[position]
        if introducer == 0x3B:  # trailer
            return walk
        if introducer == 0x21:  # extension: label, then sub-blocks
            if position + 2 > len(data):
                break
            label = data[position + 1]
            start = position + 2
        elif introducer == 0x2C:  # image descriptor, local colour table, LZW code size
            if position + 10 > len(data):
                break
            walk.frames += 1
            if walk.frames > max_frames:
                raise TooMany("gif: too many frames")
            local = data[position + 9]
            start = position + 10 + (3 << ((local & 7) + 1) if local & 0x80 else 0) + 1
            label = None
        else:
            raise Refused("gif: unknown block")
        position = start
        while position < len(data) and data[position] != 0:
            blocks += 1
            if blocks > MAX_GIF_BLOCKS:
                raise Refused("gif: too many blocks")
            position += 1 + data[position]
        if label == 0xFE:
            walk.comment = True
        elif label == 0x01:
            walk.plain_text = True
        elif label == 0xFF and start < len(data) and data[start] == 11:
            identifier = bytes(data[start + 1 : start + 12])
            walk.applications.add(identifier)
            if identifier == b"XMP DataXMP":  # XMP in GIF: raw bytes, not sub-blocks
                walk.xmp = bytes(data[start + 12 : position])
        position += 1  # the block terminator
    return walk  # cut off: the decoder says what it makes of it


def tiff_pages(data: bytes) -> int:
    """The number of pages (IFDs in the main chain) of a TIFF or BigTIFF (TIFF 6.0
    section 2; BigTIFF: TIFF 6.0 with 8-byte offsets). Raises :class:`Refused` past
    :data:`MAX_TIFF_PAGES` or :data:`MAX_TIFF_TAGS`, for a chain that loops, or an IFD
    outside the file; :class:`Incomplete` for an IFD with SubIFDs or a DNG's tag."""
    order = {b"II": "<", b"MM": ">"}.get(bytes(data[:2]))
    if order is None or len(data) < 16:
        raise Refused("tiff: no header")
    (version,) = struct.unpack_from(order + "H", data, 2)
    if version == 42:
        count_format, entry_size, offset_format = "H", 12, "I"
        (position,) = struct.unpack_from(order + "I", data, 4)
    elif version == 43:
        count_format, entry_size, offset_format = "Q", 20, "Q"
        (position,) = struct.unpack_from(order + "Q", data, 8)
    else:
        raise Refused("tiff: unknown version")
    count_size, offset_size = struct.calcsize(count_format), struct.calcsize(offset_format)
    pages, tags, seen = 0, 0, set()
    while position:
        if position in seen:
            raise Refused("tiff: the pages loop")
        seen.add(position)
        if position + count_size > len(data):
            raise Refused("tiff: a page outside the file")
        (count,) = struct.unpack_from(order + count_format, data, position)
        pages, tags = pages + 1, tags + count
        if pages > MAX_TIFF_PAGES:
            raise TooMany("tiff: too many pages")
        if tags > MAX_TIFF_TAGS:
            raise Refused("tiff: too many tags")
        next_at = position + count_size + count * entry_size
        for at in range(position + count_size, min(next_at, len(data) - 1), entry_size):
            if struct.unpack_from(order + "H", data, at)[0] in _TIFF_ELSEWHERE:
                raise Incomplete("tiff: pictures outside the pages")
        if next_at + offset_size > len(data):
            break  # cut off: the decoder says what it makes of it
        (position,) = struct.unpack_from(order + offset_format, data, next_at)
    return pages


def animated(data: bytes, image_kind: str) -> bool:
    """Whether a PNG is an APNG (an ``acTL`` chunk, PNG 3rd edition 11.3.4.1) or a WebP
    is animated (its VP8X animation flag, RFC 9649 2.7)."""
    if image_kind == "PNG":
        return b"acTL" in png_chunk_names(data)
    if image_kind == "WEBP":
        return data[12:16] == b"VP8X" and len(data) > 20 and bool(data[20] & 0x02)
    return False


# A motion photo's XMP (Google's Camera XMP: GCamera:MotionPhoto, the older
# GCamera:MicroVideo; Samsung's trailer "MotionPhoto_Data"), and the MP4 after it.
_MOTION_PHOTO = re.compile(rb"MotionPhoto|MicroVideo")
_MP4_START = re.compile(rb"[\x00-\xff]{4}ftyp(?:isom|mp4[12]|avc1|iso[2-9]|qt  |heic|hevc)")


def motion_photo(data: bytes) -> bool:
    """Whether a JPEG is a phone's motion photo: it says so (:data:`_MOTION_PHOTO`) and
    an MP4 (its ``ftyp`` box) follows. Cleaning its pixels would drop the clip."""
    said = _MOTION_PHOTO.search(data)
    return said is not None and _MP4_START.search(data, said.end()) is not None


def png_chunk_names(data: bytes) -> set[bytes]:
    """The names of a PNG's chunks (walked as :func:`check` walks them)."""
    position, names = len(PNG_SIGNATURE), set()
    for _ in range(MAX_PNG_CHUNKS):
        if position + 8 > len(data):
            break
        length, name = struct.unpack_from(">I4s", data, position)
        names.add(name)
        if name == b"IEND":
            break
        position += 12 + length
    return names
