"""The metadata of the pictures inside a cleaned PDF or office document, removed without
decoding them.

mat2's lightweight mode redraws a PDF's pages through Poppler and cairo, which embed a
JPEG (``/DCTDecode``) or JPEG 2000 (``/JPXDecode``) picture's bytes as they came, with
whatever the camera, scanner or editor wrote in them (issue 21 review); an office or ODF
file holds its pictures as they were inserted (:mod:`sipadu.evidence.officeclean`).
These functions take a picture's bytes and give them back with only what a decoder
needs, the picture itself byte for byte:

- :func:`strip_jpeg` walks the whole JPEG (ITU T.81 B.1 and B.2): the segments before and
  between scans less :data:`JPEG_METADATA_MARKERS`, each scan's entropy-coded data (its
  end found as :mod:`sipadu.evidence.imagecheck` finds it), and nothing after the end of
  the picture (phones append a second JPEG with its own EXIF: MPF, motion photos);
- :func:`strip_jpx` keeps of a JP2/JPX file (ISO/IEC 15444-1 annex I, 15444-2 annex M)
  only the boxes of :data:`JP2_KEPT_BOXES` (XMP lives in ``uuid`` and ``xml`` boxes, IPR
  in ``jp2i``, labels in ``lbl``), and of its codestream, or of a raw codestream
  (15444-1 annex A), every marker segment but comments (``COM``), in the main header and
  in the tile-part headers (whose lengths are then corrected; a tile-part length index,
  ``TLM``, is then dropped: it is optional);
- :func:`strip_png` keeps every chunk of a PNG but its text, EXIF and time chunks;
- :func:`strip_webp` keeps of a WebP (RFC 9649) the chunks of its picture, animation,
  alpha and colour profile, not its EXIF and XMP chunks (and says so in its header);
- :func:`strip_gif` keeps of a GIF (GIF89a) its colour tables, images, their timing and
  the loop count, not its comments, plain text or other application extensions (XMP).

Each raises ValueError for what is not such a picture or is cut off where it was walked.
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
# The ancillary chunks that tell how the picture looks or moves (PNG 3rd edition, 11.3):
# every other ancillary chunk (a lowercase first letter: private ones, as a C2PA
# manifest's caBX, which names its creator and device) goes too; critical ones stay.
PNG_DISPLAY_CHUNKS = frozenset(
    {b"tRNS", b"gAMA", b"cHRM", b"sRGB", b"iCCP", b"bKGD", b"pHYs", b"sBIT", b"hIST"}
    | {b"sPLT", b"acTL", b"fcTL", b"fdAT", b"cICP", b"mDCV", b"cLLI"}
)
MAX_PNG_CHUNKS = 100_000


def strip_png(data: bytes) -> tuple[bytes, bool]:
    """``data`` (a PNG) without its metadata chunks (:data:`PNG_METADATA_CHUNKS`, and
    any ancillary chunk not in :data:`PNG_DISPLAY_CHUNKS`) and without anything after
    its ``IEND`` chunk, and whether anything was dropped; every
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
        if kind in PNG_METADATA_CHUNKS or (kind[:1].islower() and kind not in PNG_DISPLAY_CHUNKS):
            dropped = True
        else:
            kept.append(data[at:end])
        at = end
        if kind == b"IEND":
            return b"".join(kept), dropped or at < len(data)
    raise ValueError("too many chunks")


# --- WebP --------------------------------------------------------------------------------

# Chunks a decoder needs (RFC 9649, 2.5 to 2.7): the extended header, the ICC profile
# (colours, kept as a PNG's iCCP is), animation parameters and frames, alpha, and the
# lossy or lossless bitstream. EXIF and XMP chunks (2.7.1.6) and unknown chunks go.
WEBP_KEPT_CHUNKS = frozenset({b"VP8X", b"ICCP", b"ANIM", b"ANMF", b"ALPH", b"VP8 ", b"VP8L"})
# Chunks an animation frame's data may hold (RFC 9649, 2.7.1.2: "Frame Data").
WEBP_FRAME_CHUNKS = frozenset({b"ALPH", b"VP8 ", b"VP8L"})
# VP8X flags (RFC 9649, 2.7: "Rsv I L E X A R"): EXIF and XMP metadata present.
WEBP_METADATA_FLAGS = 0x08 | 0x04
ANMF_HEADER_BYTES = 16  # frame position, size, duration and flags before its chunks
MAX_WEBP_CHUNKS = 100_000


def strip_webp(data: bytes) -> tuple[bytes, bool]:
    """``data`` (a WebP, RFC 9649) with only the chunks of :data:`WEBP_KEPT_CHUNKS` (in an
    animation frame, :data:`WEBP_FRAME_CHUNKS`), its VP8X flags saying EXIF and XMP no
    more, the RIFF size corrected and nothing after the RIFF chunk (2.4), and whether
    anything was dropped; every kept chunk is byte for byte. More than
    :data:`MAX_WEBP_CHUNKS` chunks is refused. Raises ValueError for what is not a WebP
    or is cut off."""
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WEBP":
        raise ValueError("not a WebP")
    end = 8 + int.from_bytes(data[4:8], "little")
    if end > len(data):
        raise ValueError("truncated RIFF chunk")
    kept, dropped = [], end < len(data)
    chunks = _riff_chunks(data, 12, end, 0)
    walked = len(chunks)
    for kind, chunk in chunks:
        if kind not in WEBP_KEPT_CHUNKS:
            dropped = True
            continue
        if kind == b"VP8X" and len(chunk) >= 9:
            flags = chunk[8]
            dropped = dropped or bool(flags & WEBP_METADATA_FLAGS)
            chunk = chunk[:8] + bytes([flags & ~WEBP_METADATA_FLAGS]) + chunk[9:]
        elif kind == b"ANMF":
            header = chunk[8 : 8 + ANMF_HEADER_BYTES]
            if len(header) < ANMF_HEADER_BYTES:
                raise ValueError("truncated frame")
            inner = _riff_chunks(chunk, 8 + ANMF_HEADER_BYTES, len(chunk), walked)
            walked += len(inner)
            frame = [c for k, c in inner if k in WEBP_FRAME_CHUNKS]
            dropped = dropped or len(frame) < len(inner)
            chunk = _riff_chunk(kind, header + b"".join(frame))
        kept.append(chunk)
    body = b"WEBP" + b"".join(kept)
    return b"RIFF" + len(body).to_bytes(4, "little") + body, dropped


def _riff_chunks(data: bytes, at: int, end: int, walked: int) -> list[tuple[bytes, bytes]]:
    """The chunks (FourCC, the whole chunk: header, payload and padding) from ``at`` to
    ``end`` of ``data`` (RFC 9649, 2.3: a payload of odd size is followed by a zero
    byte). Raises ValueError for one cut off, or past :data:`MAX_WEBP_CHUNKS` with the
    ``walked`` chunks before."""
    chunks: list[tuple[bytes, bytes]] = []
    while at < end:
        if walked + len(chunks) >= MAX_WEBP_CHUNKS:
            raise ValueError("too many chunks")
        if at + 8 > end:
            raise ValueError("truncated chunk")
        size = int.from_bytes(data[at + 4 : at + 8], "little")
        after = at + 8 + size + (size & 1)
        if after > end:
            raise ValueError("truncated chunk")
        chunks.append((data[at : at + 4], data[at:after]))
        at = after
    return chunks


def _riff_chunk(kind: bytes, payload: bytes) -> bytes:
    padding = b"\0" if len(payload) & 1 else b""
    return kind + len(payload).to_bytes(4, "little") + payload + padding


# --- GIF ---------------------------------------------------------------------------------

# Application extensions (GIF89a, section 26) whose first sub-block gives the loop count
# of an animation (sub-block id 1, then a 16-bit count): kept with that sub-block only.
GIF_LOOP_APPLICATIONS = frozenset({b"NETSCAPE2.0", b"ANIMEXTS1.0"})
_GIF_LOOPS = frozenset(b"\x0b" + name for name in GIF_LOOP_APPLICATIONS)  # with its length
_GIF_IMAGE, _GIF_EXTENSION, _GIF_TRAILER = 0x2C, 0x21, 0x3B
_GIF_GRAPHIC_CONTROL, _GIF_APPLICATION = 0xF9, 0xFF


def strip_gif(data: bytes) -> tuple[bytes, bool]:
    """``data`` (a GIF87a or GIF89a) with its header, colour tables, images and graphic
    control extensions (GIF89a sections 17 to 23) byte for byte, an application
    extension that sets the loop count (:data:`GIF_LOOP_APPLICATIONS`) reduced to that,
    and without its comment (24), plain text (25; no browser, Pillow or LibreOffice draws
    one) and other application extensions (26: XMP, ICC profiles, editors' data), nor
    anything after its trailer (27); and whether anything was dropped. More than
    :data:`imagecheck.MAX_GIF_BLOCKS` images or sub-blocks is refused (nothing is
    decoded: a long animation costs a walk of its bytes). Raises ValueError for what is
    not a GIF or is cut off."""
    if len(data) < 13 or data[:6] not in (b"GIF87a", b"GIF89a"):
        raise ValueError("not a GIF")
    flags = data[10]
    at = 13 + (3 << ((flags & 7) + 1) if flags & 0x80 else 0)
    kept, dropped, frames, blocks = [data[:at]], False, 0, 0
    while True:
        if at >= len(data):
            raise ValueError("no trailer")
        introducer = data[at]
        if introducer == _GIF_TRAILER:
            kept.append(data[at : at + 1])
            return b"".join(kept), dropped or at + 1 < len(data)
        if introducer == _GIF_IMAGE:
            frames += 1
            if frames > imagecheck.MAX_GIF_BLOCKS or at + 11 > len(data):
                raise ValueError("too many frames, or cut off")
            local = data[at + 9]
            start = at + 10 + (3 << ((local & 7) + 1) if local & 0x80 else 0) + 1
            label = None
        elif introducer == _GIF_EXTENSION and at + 2 <= len(data):
            label, start = data[at + 1], at + 2
        else:
            raise ValueError("not a GIF block")
        end = start
        while True:  # the sub-blocks, up to the block terminator
            if end >= len(data):
                raise ValueError("cut off")
            if data[end] == 0:
                end += 1
                break
            blocks += 1
            if blocks > imagecheck.MAX_GIF_BLOCKS:
                raise ValueError("too many blocks")
            end += 1 + data[end]
        if label is None or label == _GIF_GRAPHIC_CONTROL:
            kept.append(data[at:end])
        elif label == _GIF_APPLICATION and data[start : start + 12] in _GIF_LOOPS:
            loop = data[start + 12 : start + 16]  # its first sub-block
            if loop[:2] == b"\x03\x01" and len(loop) == 4:
                kept.append(data[at : start + 16] + b"\0")
            dropped = dropped or loop[:2] != b"\x03\x01" or end != start + 17
        else:
            dropped = True
        at = end
