"""The metadata of the pictures inside a cleaned PDF, removed without decoding them.

mat2's lightweight mode redraws a PDF's pages through Poppler and cairo, which embed a
JPEG (``/DCTDecode``) or JPEG 2000 (``/JPXDecode``) picture's bytes as they came, with
whatever the camera, scanner or editor wrote in them (issue 21 review). These functions
take a picture's bytes and give them back with only what a decoder needs, the picture
itself byte for byte:

- :func:`strip_jpeg` walks the whole JPEG (ITU T.81 B.1 and B.2): the segments before and
  between scans less :data:`JPEG_METADATA_MARKERS`, each scan's entropy-coded data (its
  end found as :mod:`sipadu.evidence.imagecheck` finds it), and nothing after the end of
  the picture (phones append a second JPEG with its own EXIF: MPF, motion photos);
- :func:`strip_jpx` keeps of a JP2/JPX file (ISO/IEC 15444-1 annex I, 15444-2 annex M)
  only the boxes of :data:`JP2_KEPT_BOXES` (XMP lives in ``uuid`` and ``xml`` boxes, IPR
  in ``jp2i``, labels in ``lbl``), and of its codestream, or of a raw codestream
  (15444-1 annex A), every marker segment but comments (``COM``), in the main header and
  in the tile-part headers (whose lengths are then corrected; a tile-part length index,
  ``TLM``, is then dropped: it is optional).

Both raise ValueError for what is not such a picture or is cut off where it was walked.
"""

import struct

from sipadu.evidence import imagecheck

# JPEG segments that carry metadata, not picture: APP1 (EXIF, XMP), APP2 (ICC profile,
# FlashPix, MPF), APP3-APP13 (camera makers' data, IPTC/Photoshop), APP15, and comments.
# APP0 (JFIF) and APP14 (Adobe: how to read the colours) are kept.
JPEG_METADATA_MARKERS = frozenset([*range(0xE1, 0xEE), 0xEF, 0xFE])
JPEG_STANDALONE_MARKERS = frozenset([0x01, *range(0xD0, 0xDA)])  # TEM, RSTn, SOI, EOI
_SOS, _EOI = 0xDA, 0xD9


def strip_jpeg(data: bytes) -> tuple[bytes, bool]:
    """``data`` (a JPEG) without its metadata segments (:data:`JPEG_METADATA_MARKERS`,
    before the first scan and between scans) and without anything after its end of
    image, and whether anything was dropped. Each scan's data is kept byte for byte;
    more than :data:`imagecheck.MAX_JPEG_MARKERS` markers is refused. Raises ValueError
    for what is not a JPEG."""
    if not data.startswith(b"\xff\xd8"):
        raise ValueError("not a JPEG")
    kept, at, dropped, markers = [b"\xff\xd8"], 2, False, 0
    while at < len(data):
        if data[at] != 0xFF:
            raise ValueError("not a JPEG marker")
        markers += 1
        if markers > imagecheck.MAX_JPEG_MARKERS:
            raise ValueError("too many markers")
        marker = data[at + 1] if at + 1 < len(data) else _EOI
        if marker == 0xFF:  # fill byte
            at += 1
            continue
        if marker in JPEG_STANDALONE_MARKERS:
            kept.append(data[at : at + 2])
            at += 2
            if marker == _EOI:
                break
            continue
        length = int.from_bytes(data[at + 2 : at + 4], "big")
        end = at + 2 + length
        if length < 2 or end > len(data):
            raise ValueError("truncated segment")
        if marker == _SOS:  # the scan's header, then its entropy-coded data
            scan_end = imagecheck.scan_end(data, end)
            if scan_end is None:  # cut off: the picture as far as it goes
                kept.append(data[at:])
                at = len(data)
                break
            kept.append(data[at:scan_end])
            at = scan_end
            continue
        if marker in JPEG_METADATA_MARKERS:
            dropped = True
        else:
            kept.append(data[at:end])
        at = end
    if at < len(data):
        dropped = True  # after the end of the picture: another picture, or anything
    return b"".join(kept), dropped


# --- JPEG 2000 ---------------------------------------------------------------------------

JP2_SIGNATURE = b"\x00\x00\x00\x0cjP  \r\n\x87\n"
# Top-level boxes a decoder needs (15444-1 I.5; 15444-2 M.11: reader requirements,
# codestream and layer headers, colour groups, fragment tables).
JP2_KEPT_BOXES = frozenset(
    {b"jP  ", b"ftyp", b"rreq", b"jp2h", b"jpch", b"jplh", b"cgrp", b"ftbl", b"jp2c"}
)
# Boxes inside a JP2 header: image header, bit depths, colour, palette, component
# mapping and definition, resolution.
JP2_HEADER_BOXES = frozenset(
    {b"ihdr", b"bpcc", b"colr", b"pclr", b"cmap", b"cdef", b"res ", b"resc", b"resd"}
)
_SOC, _SOT, _SOD, _EOC, _COM, _TLM = 0xFF4F, 0xFF90, 0xFF93, 0xFFD9, 0xFF64, 0xFF55


def strip_jpx(data: bytes) -> tuple[bytes, bool]:
    """``data`` (a JP2/JPX file, or a raw JPEG 2000 codestream) with only the boxes a
    decoder needs and no codestream comments, and whether anything was dropped. Raises
    ValueError for what is neither, or is cut off."""
    if data.startswith(b"\xff\x4f\xff\x51"):  # SOC then SIZ: a raw codestream
        return strip_codestream(data)
    if not data.startswith(JP2_SIGNATURE):
        raise ValueError("not JPEG 2000")
    kept, dropped = [], False
    for kind, content in _boxes(data):
        if kind not in JP2_KEPT_BOXES:
            dropped = True
            continue
        if kind == b"jp2h":
            children = []
            for child, child_content in _boxes(content):
                if child in JP2_HEADER_BOXES:
                    children.append(_box(child, child_content))
                else:
                    dropped = True
            content = b"".join(children)
        elif kind == b"jp2c":
            content, stripped = strip_codestream(content)
            dropped = dropped or stripped
        kept.append(_box(kind, content))
    return b"".join(kept), dropped


def _boxes(data: bytes) -> list[tuple[bytes, bytes]]:
    """The boxes (type, content) of ``data``, one after another (15444-1 I.4)."""
    boxes, at = [], 0
    while at < len(data):
        if at + 8 > len(data):
            raise ValueError("truncated box")
        length, kind = struct.unpack_from(">I4s", data, at)
        header = 8
        if length == 1:  # the length follows, in 64 bits
            if at + 16 > len(data):
                raise ValueError("truncated box")
            (length,) = struct.unpack_from(">Q", data, at + 8)
            header = 16
        elif length == 0:  # to the end
            length = len(data) - at
        if length < header or at + length > len(data):
            raise ValueError("bad box length")
        boxes.append((kind, data[at + header : at + length]))
        at += length
    return boxes


def _box(kind: bytes, content: bytes) -> bytes:
    if len(content) + 8 <= 0xFFFFFFFF:
        return struct.pack(">I4s", len(content) + 8, kind) + content
    return struct.pack(">I4sQ", 1, kind, len(content) + 16) + content


def strip_codestream(data: bytes) -> tuple[bytes, bool]:
    """A JPEG 2000 codestream (15444-1 annex A) without its comment segments (``COM``),
    in the main header and in every tile-part header, and whether there were any. A
    tile-part whose header loses a comment has its length (``Psot``) corrected, and the
    main header's tile-part lengths (``TLM``, an optional index) are then dropped."""
    if not data.startswith(b"\xff\x4f"):
        raise ValueError("not a JPEG 2000 codestream")
    main, at, dropped = [b"\xff\x4f"], 2, False
    tlm = []  # indexes in main of TLM segments
    while True:  # the main header, up to the first tile-part
        marker, segment = _segment(data, at)
        if marker == _SOT:
            break
        if marker == _COM:
            dropped = True
        else:
            if marker == _TLM:
                tlm.append(len(main))
            main.append(segment)
        at += len(segment)
    tiles, resized = [], False
    while at + 2 <= len(data):
        (marker,) = struct.unpack_from(">H", data, at)
        if marker == _EOC:
            break
        if marker != _SOT:
            raise ValueError("no tile-part where one must be")
        _, sot = _segment(data, at)
        (psot,) = struct.unpack_from(">I", sot, 6)
        end = len(data) if psot == 0 else at + psot
        if end > len(data) or end < at + len(sot):
            raise ValueError("bad tile-part length")
        header, position = [sot], at + len(sot)
        while True:  # the tile-part header, up to its data (SOD)
            if position + 2 > end:
                raise ValueError("tile-part header cut off")
            (marker,) = struct.unpack_from(">H", data, position)
            if marker == _SOD:
                break
            marker, segment = _segment(data, position)
            if marker == _COM:
                dropped = resized = True
            else:
                header.append(segment)
            position += len(segment)
        body = data[position:end]
        if psot:
            length = sum(len(segment) for segment in header) + len(body)
            header[0] = sot[:6] + struct.pack(">I", length) + sot[10:]
        tiles.append(b"".join(header) + body)
        at = end
    if resized:
        main = [segment for index, segment in enumerate(main) if index not in tlm]
    if at + 2 < len(data):
        dropped = True  # after the end of the codestream
    return b"".join(main) + b"".join(tiles) + data[at : at + 2], dropped


def _segment(data: bytes, at: int) -> tuple[int, bytes]:
    """The marker at ``at`` and its whole segment (marker, length and parameters)."""
    if at + 4 > len(data):
        raise ValueError("codestream cut off")
    marker, length = struct.unpack_from(">HH", data, at)
    if marker >> 8 != 0xFF or length < 2 or at + 2 + length > len(data):
        raise ValueError("bad marker segment")
    return marker, data[at : at + 2 + length]


# --- PNG ---------------------------------------------------------------------------------

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# Chunks that carry metadata, not picture (PNG 3rd edition, 11.3.3 and 11.3.6: text,
# EXIF, the time of the last change; ``iCCP``'s profile name is kept with the colours).
PNG_METADATA_CHUNKS = frozenset({b"tEXt", b"zTXt", b"iTXt", b"eXIf", b"tIME"})
MAX_PNG_CHUNKS = 100_000


def strip_png(data: bytes) -> tuple[bytes, bool]:
    """``data`` (a PNG) without its metadata chunks (:data:`PNG_METADATA_CHUNKS`) and
    without anything after its ``IEND`` chunk, and whether anything was dropped; every
    other chunk is kept byte for byte (its CRC included). Raises ValueError for what is
    not a PNG or is cut off."""
    if not data.startswith(PNG_SIGNATURE):
        raise ValueError("not a PNG")
    kept, at, dropped = [PNG_SIGNATURE], len(PNG_SIGNATURE), False
    for _ in range(MAX_PNG_CHUNKS):
        if at + 12 > len(data):
            raise ValueError("truncated chunk")
        length = int.from_bytes(data[at : at + 4], "big")
        kind = data[at + 4 : at + 8]
        end = at + 12 + length
        if end > len(data):
            raise ValueError("truncated chunk")
        if kind in PNG_METADATA_CHUNKS:
            dropped = True
        else:
            kept.append(data[at:end])
        at = end
        if kind == b"IEND":
            return b"".join(kept), dropped or at < len(data)
    raise ValueError("too many chunks")
