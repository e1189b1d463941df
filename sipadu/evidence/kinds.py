"""Which kind of file an upload is, told from its first bytes only.

A file's name and declared type are the sender's words: a JPEG named ``laporan.pdf`` is a
JPEG, and a PDF named ``foto.jpg`` a PDF. :func:`detect` reads the first
:data:`HEAD_BYTES` of the content (the server keeps them as the file streams in) and
names its :class:`~sipadu.evidence.outcome.Kind`, or ``None`` for a type SIPADU does not
clean (a plain ZIP, text, an executable, AVIF…).

Most signatures are the ``filetype`` library's (PyPI ``filetype``, pure Python, a
fixed-offset match per type). Where it is weak or wrong SIPADU checks itself:

- **ZIP containers.** ``filetype`` names any ZIP whose first entry is not ``mimetype`` by
  searching the first 6,000 bytes for ``word/`` and the like. Here the members' names
  decide (:func:`archive_kind`): ODF is a ZIP whose first member is ``mimetype`` holding
  the ODF media type (OpenDocument 1.3, part 3, §3.3), and OOXML a ZIP with a
  ``[Content_Types].xml`` and a part under ``word/``, ``xl/`` or ``ppt/`` (ECMA-376 part
  2, §10.1.2: every package has its content types; the parts as Office and LibreOffice
  name them). A ZIP's real list of members is its central directory, at its end
  (APPNOTE.TXT §4.3.12); the head holds only the first local file headers. When the
  head holds the whole list (a short file, or the walk reached the central directory)
  it decides: any other ZIP (or an EPUB, JAR…) is ``None``. When it does not (a Word
  document whose first member is a 15 KB thumbnail), a ZIP that the members seen do
  not already name is :attr:`Kind.ZIP`: the cleaning child reads its central
  directory (:mod:`sipadu.evidence.docclean`) and cleans it as what it is, or keeps a
  plain archive as sent.
- **ISO base media files** (ISO/IEC 14496-12 ``ftyp`` box). ``filetype`` has no 3GP
  video, names MOV only by its major brand, HEIC only by two, and an M4A by its first
  bytes. Here the major brand, then the compatible ones, decide: HEIF/HEIC brands
  (``heic heix hevc hevx heim heis mif1 msf1``; an AVIF's ``avif``/``avis`` is not
  cleaned: ``None``), M4A audio (``M4A``, ``M4B``, ``F4A``), or video (``isom``,
  ``mp41``, ``qt``, ``3gp…`` and the like). An MP4 holding only sound under a video brand
  (many Android recorders write ``mp42``) is named MP4: the brand is all the head says.
- **MP3.** ``filetype`` takes three of the frame-sync variants and nothing else. Here an
  MP3 is an ID3v2 tag (ID3v2.4 §3.1; a FLAC behind the tag is FLAC), or an MPEG-1/2/2.5
  layer III frame header (ISO/IEC 11172-3 §2.4.2.3) followed by a second one where the
  first frame's length says (when that is within the head).
- **AAC in ADTS frames.** ``filetype`` takes two of the four sync patterns. Here an ADTS
  frame header (ISO/IEC 14496-3 §1.A.2.2: sync word, layer ``00``, a sampling
  frequency index below 13, a frame length at least its header's) followed by a second
  one where the first frame's length says (when that is within the head), alone or
  behind an ID3v2 tag.
- **Other audio and video containers**, by their signatures: ASF (WMA, WMV: the header
  object's GUID, ASF specification §3.1), FLV (``FLV`` version 1, Adobe FLV §E.2), AMR
  (``#!AMR`` or ``#!AMR-WB`` and a line feed, RFC 4867 §5: the single-channel files
  ffmpeg reads), CAF (``caff`` version 1, Apple's Core Audio Format specification),
  AIFF and AIFF-C (an IFF ``FORM`` of type ``AIFF`` or ``AIFC``), and MPEG transport
  streams (ISO/IEC 13818-1 §2.4.3.2: the sync byte ``0x47`` at the start of every
  188-byte packet in the head, or every 192-byte one after its 4-byte time code, as
  camcorders' ``.mts``/``.m2ts`` hold them; at least :data:`TS_PACKETS` packets), and
  MPEG program streams (``.mpg``, DVD ``.vob``, camcorders' ``.mod``): a pack header,
  start code ``00 00 01 BA``, followed by the marker bits of MPEG-1 (``0010``,
  ISO/IEC 11172-1 §2.4.3.2) or MPEG-2 (``01``, ISO/IEC 13818-1 §2.5.3.3).
- **PDF.** ``%PDF-`` anywhere in the first 1,024 bytes, as readers accept it (PDF 32000
  Implementation note 13; ``filetype`` wants it at offset 0).

Cost: one pass over at most 8 KiB with fixed-size reads (Python's zipfile, for a ZIP
shorter than that); no decoder, no allocation that depends on what the bytes claim.
"""

import contextlib
import io
import re
import struct
import zipfile
from collections.abc import Callable, Sequence

import filetype

from sipadu.evidence.outcome import Kind

HEAD_BYTES = 8192

IMAGE_KINDS: frozenset[Kind] = frozenset(
    {Kind.JPEG, Kind.PNG, Kind.WEBP, Kind.GIF, Kind.TIFF, Kind.HEIF}
)
"""Cleaned by re-encoding their pixels (:mod:`sipadu.evidence.imagestrip`)."""

# Recognised, so that the reporter is told (and warned) they keep who made them, but not
# cleaned: no well-kept cleaner of these formats exists (mat2 takes neither).
UNCLEANED_KINDS: frozenset[Kind] = frozenset({Kind.OLE, Kind.RTF})
DOCUMENT_KINDS: frozenset[Kind] = frozenset(Kind) - IMAGE_KINDS - UNCLEANED_KINDS
OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # compound file signature
"""Everything else SIPADU cleans: PDF, Office and ODF documents, audio and video (and
:attr:`Kind.ZIP`, a ZIP the child tells apart)."""
RECORDING_KINDS: frozenset[Kind] = DOCUMENT_KINDS - {
    Kind.PDF, Kind.DOCX, Kind.XLSX, Kind.PPTX, Kind.ODT, Kind.ODS, Kind.ODP, Kind.ZIP
}  # fmt: skip
"""Audio and video: the document kinds that are neither a PDF, an office or ODF file nor
a ZIP."""

PDF_WITHIN = 1024

# filetype's MIME types for the signatures SIPADU takes from it. The others (audio/mpeg,
# the ZIP-based and ISO-BMFF ones) are decided by this module's own checks first.
_FROM_FILETYPE = {
    "image/jpeg": Kind.JPEG,
    "image/png": Kind.PNG,
    "image/apng": Kind.PNG,
    "image/gif": Kind.GIF,
    "image/webp": Kind.WEBP,
    "image/tiff": Kind.TIFF,
    "audio/ogg": Kind.OGG,
    "audio/x-flac": Kind.FLAC,
    "audio/x-wav": Kind.WAV,
    "video/x-msvideo": Kind.AVI,
    "video/webm": Kind.WEBM,
    "video/x-matroska": Kind.WEBM,
}

_ZIP_ENTRY = b"PK\x03\x04"
# What follows the last local file header (APPNOTE.TXT §4.3.6): the central directory,
# or, for an archive without members, the end of central directory record.
_ZIP_DIRECTORY = (b"PK\x01\x02", b"PK\x05\x06", b"PK\x06\x06")
OOXML_CONTENT_TYPES = "[Content_Types].xml"
ODF_MIMETYPE = "mimetype"
_ODF = {
    b"application/vnd.oasis.opendocument.text": Kind.ODT,
    # Writer/Web and master documents: text documents of the same format (ODF 1.2 §2.2.1)
    b"application/vnd.oasis.opendocument.text-web": Kind.ODT,
    b"application/vnd.oasis.opendocument.text-master": Kind.ODT,
    b"application/vnd.oasis.opendocument.spreadsheet": Kind.ODS,
    b"application/vnd.oasis.opendocument.presentation": Kind.ODP,
}
_OOXML = (("word/", Kind.DOCX), ("xl/", Kind.XLSX), ("ppt/", Kind.PPTX))
_ZIP_ENTRIES = 512  # local headers walked at most (an 8 KiB head holds fewer than 300)

_HEIF_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1"}
_HEIF_ONLY = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis"}
_AVIF_BRANDS = {b"avif", b"avis"}
_AUDIO_BRANDS = {b"M4A ", b"M4B ", b"F4A ", b"F4B "}
_VIDEO_BRANDS = {
    b"isom", b"iso2", b"iso3", b"iso4", b"iso5", b"iso6", b"iso8", b"iso9", b"mp41",
    b"mp42", b"mp71", b"avc1", b"dash", b"mmp4", b"M4V ", b"M4VH", b"M4VP", b"MSNV",
    b"NDAS", b"XAVC", b"f4v ", b"qt  ", b"MQT ", b"CAEP", b"kddi",
}  # fmt: skip
# QuickTime files older than the ftyp box begin with one of these atoms.
_QUICKTIME_ATOMS = {b"moov", b"mdat", b"wide", b"pnot"}

# Signatures at offset 0 of the audio and video containers filetype misses or confuses.
_ASF_HEADER = bytes.fromhex("3026b2758e66cf11a6d900aa0062ce6c")  # ASF_Header_Object
_SIGNATURES = (
    (_ASF_HEADER, Kind.ASF),
    (b"FLV\x01", Kind.FLV),
    (b"#!AMR\n", Kind.AMR),
    (b"#!AMR-WB\n", Kind.AMR),
    (b"caff\x00\x01", Kind.CAF),
)
_TS_SYNC = 0x47
_PACK_START = b"\x00\x00\x01\xba"  # pack_start_code of an MPEG program stream
TS_PACKETS = 3  # a PAT, a PMT and one packet of a stream: the least a recording holds

# MPEG audio frame header fields (ISO/IEC 11172-3 §2.4.2.3, 13818-3 §2.4.2.3).
_MP3_BITRATES = {  # kbit/s by bitrate index, layer III
    1: (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320),
    2: (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
}
_MP3_RATES = {3: (44100, 48000, 32000), 2: (22050, 24000, 16000), 0: (11025, 12000, 8000)}


def detect(head: bytes | memoryview) -> Kind | None:
    """The kind of a file whose first bytes are ``head`` (the first :data:`HEAD_BYTES`,
    or the whole file if shorter), or ``None`` for a type SIPADU does not clean. Never
    raises; looks at no name or declared type."""
    head = bytes(head[:HEAD_BYTES])
    if head.startswith(b"%PDF-"):
        return Kind.PDF
    if head.startswith(OLE2):  # [MS-CFB] §2.2: Word, Excel, PowerPoint 97-2003
        return Kind.OLE
    if head.startswith(b"{\\rtf"):
        return Kind.RTF
    if head.startswith(_ZIP_ENTRY):
        return _zip_kind(head)
    if head[4:8] == b"ftyp":
        return _isobmff_kind(head)
    if head[4:8] in _QUICKTIME_ATOMS and struct.unpack_from(">I", head)[0] >= 8:
        return Kind.MP4
    if head.startswith(b"ID3") or head[:1] == b"\xff":
        mp3 = _mp3_kind(head)
        if mp3 is not None:
            return mp3
    for signature, kind in _SIGNATURES:
        if head.startswith(signature):
            return kind
    if head.startswith(b"FORM") and head[8:12] in (b"AIFF", b"AIFC"):
        return Kind.AIFF
    if _transport_stream(head):
        return Kind.MPEGTS
    if program_stream_version(head):
        return Kind.MPEGPS
    guessed = filetype.guess(head) if head else None
    if guessed is not None and guessed.mime in _FROM_FILETYPE:
        return _FROM_FILETYPE[guessed.mime]
    if b"%PDF-" in head[:PDF_WITHIN]:
        return Kind.PDF
    return None


def program_stream_version(head: bytes) -> int | None:
    """1 or 2 when ``head`` begins with an MPEG-1 or MPEG-2 program stream's pack header
    (see the module's docstring), else ``None``."""
    if not head.startswith(_PACK_START) or len(head) < 5:
        return None
    if head[4] >> 6 == 0b01:
        return 2
    return 1 if head[4] >> 4 == 0b0010 else None


def archive_kind(names: Sequence[str], mimetype: bytes | None) -> Kind | None:
    """The kind of a ZIP whose members are ``names`` (in their order), ``mimetype`` the
    content of its first member if that is named ``mimetype`` (else None): an ODF kind
    by that media type, DOCX/XLSX/PPTX by ``[Content_Types].xml`` and a part under
    ``word/``, ``xl/`` or ``ppt/`` (the first such part decides), ``None`` for any other
    ZIP (a folder named ``word/`` alone is a plain archive). Used on the head's local
    headers here and on the central directory by the cleaning child."""
    if names and names[0] == ODF_MIMETYPE and mimetype is not None:
        return _ODF.get(mimetype.strip())
    if OOXML_CONTENT_TYPES not in names:
        return None
    for name in names:
        for prefix, kind in _OOXML:
            if name.startswith(prefix):
                return kind
    return None


def _zip_kind(head: bytes) -> Kind | None:
    if len(head) < HEAD_BYTES:  # the whole file: its central directory decides
        listed = _listed(head)
        if listed is not None:
            return archive_kind(*listed)
    entries, whole = _zip_names(head)
    whole = whole or len(head) < HEAD_BYTES  # a damaged short ZIP: nothing more to read
    names = [name.decode("utf-8", "replace") for name, _ in entries]
    mimetype = entries[0][1] if names and names[0] == ODF_MIMETYPE else None
    kind = archive_kind(names, mimetype)
    if kind is not None or whole or mimetype is not None:
        return kind  # an ODF "mimetype" first (an EPUB's…) is what that member says
    return Kind.ZIP  # the head does not hold every member: the child reads them all


def _listed(data: bytes) -> tuple[list[str], bytes | None] | None:
    """The members' names of the whole ZIP ``data`` (at most :data:`HEAD_BYTES`) from its
    central directory, and the content of a first member named ``mimetype``; None if
    Python's zipfile cannot read it."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = archive.infolist()
            names = [member.filename for member in members]
            mimetype = None
            if names and names[0] == ODF_MIMETYPE and members[0].file_size < 256:
                with contextlib.suppress(NotImplementedError, RuntimeError):
                    mimetype = archive.read(members[0])  # unknown method, or encrypted
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError):
        return None
    return names, mimetype


def _zip_names(head: bytes) -> tuple[list[tuple[bytes, bytes]], bool]:
    """(name, stored content or b"") of the local file headers found within ``head``
    (APPNOTE.TXT §4.3.7), walking from one to the next by its compressed size, or
    searching for the next signature where the size is not in the header (bit 3: a data
    descriptor follows; ZIP64); and whether they are all of the archive's (the walk
    reached the central directory where the sizes said the next header would be)."""
    names: list[tuple[bytes, bytes]] = []
    position, exact = 0, True  # exact: where the previous header's sizes said
    while len(names) < _ZIP_ENTRIES and position + 30 <= len(head):
        signature = head[position : position + 4]
        if exact and signature in _ZIP_DIRECTORY:
            return names, True
        if signature != _ZIP_ENTRY:
            # Searched for (a data descriptor's length is not known): a signature found
            # so may be a member's own bytes, so it never says the list is whole.
            found = head.find(_ZIP_ENTRY, position + 1)
            if found < 0:
                break
            position, exact = found, False
            continue
        flags, method, size, name_length, extra_length = struct.unpack_from(
            "<2xHH8xI4xHH", head, position + 4
        )
        start = position + 30
        name = head[start : start + name_length]
        data = start + name_length + extra_length
        stored = head[data : data + size] if method == 0 and size < 256 else b""
        names.append((name, stored))
        if flags & 0x08 or size == 0xFFFFFFFF:
            position, exact = data, False  # search on for the next header
        else:
            position, exact = data + size, exact
    return names, False


def _isobmff_kind(head: bytes) -> Kind | None:
    (box_size,) = struct.unpack_from(">I", head)
    major = head[8:12]
    end = min(box_size, len(head)) if box_size >= 16 else 16
    compatible = {head[i : i + 4] for i in range(16, end - 3, 4)}
    if major in _AVIF_BRANDS:
        return None
    if major in _HEIF_BRANDS:
        if major in _HEIF_ONLY or compatible & _HEIF_ONLY:
            return Kind.HEIF
        return None if compatible & _AVIF_BRANDS else Kind.HEIF
    if major in _AUDIO_BRANDS:
        return Kind.M4A
    if major in _VIDEO_BRANDS or major.startswith((b"3gp", b"3g2")):
        return Kind.MP4
    if compatible & _HEIF_ONLY:
        return Kind.HEIF
    if compatible & _AUDIO_BRANDS:
        return Kind.M4A
    if compatible & _VIDEO_BRANDS:
        return Kind.MP4
    return None  # e.g. Canon's raw "crx ", JPEG 2000 "jp2 "


_ID3 = re.compile(rb"ID3[\x02-\x04][\x00-\xfe][\x00-\xff][\x00-\x7f]{4}", re.DOTALL)


def _mp3_kind(head: bytes) -> Kind | None:
    if head.startswith(b"ID3"):
        if not _ID3.match(head):
            return None
        a, b, c, d = head[6:10]
        behind = 10 + (a << 21 | b << 14 | c << 7 | d)
        if head[behind : behind + 4] == b"fLaC":
            return Kind.FLAC  # FLAC files may begin with an ID3 tag too
        if _adts_frame_length(head, behind) is not None:
            return Kind.AAC  # so may AAC in ADTS frames
        return Kind.MP3
    if _frames(head, _adts_frame_length, 7):
        return Kind.AAC
    if _frames(head, _mp3_frame_length, 4):
        return Kind.MP3
    return None


def _frames(
    head: bytes, frame_length: Callable[[bytes, int], int | None], header_bytes: int
) -> bool:
    """Whether ``head`` begins with a frame header (``frame_length`` its length, or None
    where there is no header; a header ``header_bytes`` long) followed by a second one
    where the first frame's length says, when that is within the head."""
    length = frame_length(head, 0)
    if length is None:
        return False
    return length + header_bytes > len(head) or frame_length(head, length) is not None


def _mp3_frame_length(head: bytes, at: int) -> int | None:
    """The length in bytes of the layer III frame whose header is at ``at``, or None if
    there is none."""
    if at + 4 > len(head) or head[at] != 0xFF or head[at + 1] & 0xE0 != 0xE0:
        return None
    version = (head[at + 1] >> 3) & 3  # 3: MPEG-1, 2: MPEG-2, 0: MPEG-2.5, 1: reserved
    layer = (head[at + 1] >> 1) & 3  # 1: layer III
    bitrate_index, rate_index = head[at + 2] >> 4, (head[at + 2] >> 2) & 3
    if version == 1 or layer != 1 or bitrate_index in (0, 15) or rate_index == 3:
        return None
    bitrate = _MP3_BITRATES[1 if version == 3 else 2][bitrate_index] * 1000
    rate = _MP3_RATES[version][rate_index]
    padding = (head[at + 2] >> 1) & 1
    return (144 if version == 3 else 72) * bitrate // rate + padding


def _adts_frame_length(head: bytes, at: int) -> int | None:
    """The length in bytes (header included) of the ADTS frame whose header is at
    ``at`` (ISO/IEC 14496-3 §1.A.2.2.1), or None if there is none."""
    if at + 7 > len(head) or head[at] != 0xFF or head[at + 1] & 0xF6 != 0xF0:
        return None  # sync word, then layer 00
    if (head[at + 2] >> 2) & 0x0F > 12:
        return None  # sampling frequency index 13-15: reserved or escape
    length = (head[at + 3] & 0x03) << 11 | head[at + 4] << 3 | head[at + 5] >> 5
    header = 7 if head[at + 1] & 0x01 else 9  # protection_absent, else a CRC follows
    return length if length >= header else None


def _transport_stream(head: bytes) -> bool:
    """Whether ``head`` is the start of an MPEG transport stream: packets of 188 bytes,
    or of 192 (a 4-byte time code first, BDAV/AVCHD), each beginning with the sync byte,
    at least :data:`TS_PACKETS` of them in the head."""
    for size, offset in ((188, 0), (192, 4)):
        starts = range(offset, len(head), size)
        if len(starts) >= TS_PACKETS and all(head[at] == _TS_SYNC for at in starts):
            return True
    return False
