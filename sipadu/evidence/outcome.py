"""What cleaning did to one evidence file: the words both portals show per file.

A file is either :class:`Cleaned` (with what was removed, and any identifying field that
could not be removed) or :class:`KeptAsSent` (with why). The values are typed: pages say
them in the reader's language (:mod:`sipadu.web.words`), never the enum values.
"""

import enum
from dataclasses import dataclass, field


class Kind(enum.StrEnum):
    """A file type SIPADU recognises from its content (never from its name or declared
    type). Values are stable: they are sealed with the file's notice."""

    JPEG = "jpeg"
    PNG = "png"
    WEBP = "webp"
    GIF = "gif"
    TIFF = "tiff"
    HEIF = "heif"  # HEIC/HEIF (phones' photos)
    PDF = "pdf"
    DOCX = "docx"
    XLSX = "xlsx"
    PPTX = "pptx"
    ODT = "odt"
    ODS = "ods"
    ODP = "odp"
    MP3 = "mp3"
    M4A = "m4a"
    OGG = "ogg"  # Ogg: Vorbis, Opus or FLAC audio, Theora video
    FLAC = "flac"
    WAV = "wav"
    MP4 = "mp4"  # MP4/MOV/3GP video
    WEBM = "webm"  # WebM/Matroska (MKV, MKA)
    AVI = "avi"
    AAC = "aac"  # AAC audio in ADTS frames (.aac)
    AMR = "amr"  # AMR-NB/AMR-WB speech (.amr: phones' voice recorders)
    ASF = "asf"  # Windows Media: WMA audio, WMV video
    MPEGTS = "mpegts"  # MPEG transport stream: .ts, camcorders' .mts/.m2ts
    MPEGPS = "mpegps"  # MPEG program stream: .mpg/.mpeg, DVD .vob, camcorders' .mod
    FLV = "flv"  # Flash Video
    CAF = "caf"  # Apple Core Audio Format
    AIFF = "aiff"  # AIFF and AIFF-C audio
    # A ZIP whose first bytes do not tell whether it is an office document (its first
    # members fill the head): the cleaning child reads its central directory to decide,
    # and a plain archive is kept as sent with this kind.
    OLE = "ole"  # Word, Excel, PowerPoint 97-2003 (compound file): recognised, not cleaned
    RTF = "rtf"  # Rich Text Format: recognised, not cleaned
    ZIP = "zip"


class Removed(enum.StrEnum):
    """A category of hidden data removed from a file."""

    AUTHOR = "author"  # author, last editor, company, owner
    GPS = "gps"  # place a photo or video was taken
    CAMERA = "camera"  # device make, model, serial number
    DATES = "dates"  # when made, changed, printed
    SOFTWARE = "software"  # program and version that made it
    COMMENTS = "comments"  # comments, descriptions, keywords, titles
    EDIT_HISTORY = "edit-history"  # tracked changes, revision ids, templates
    THUMBNAIL = "thumbnail"  # a small copy of an earlier picture or page
    OTHER = "other"  # anything else mat2 or the re-encode dropped


class KeptReason(enum.StrEnum):
    """Why a file was stored exactly as sent."""

    UNKNOWN_TYPE = "unknown-type"  # not a type SIPADU can clean (e.g. ZIP, TXT)
    UNREADABLE = "unreadable"  # looks like a known type but is damaged or malformed
    TOO_LARGE = "too-large"  # too many pixels, pages or bytes to clean here
    TOO_COSTLY = "too-costly"  # ran out of its memory or time budget (a "bomb")
    WOULD_DAMAGE = "would-damage"  # cleaning would lose more than metadata (text, pictures…)
    OLD_FORMAT = "old-format"  # Word/Excel/PowerPoint 97-2003 or RTF: not cleaned here


@dataclass(frozen=True)
class Remaining:
    """An identifying field still in a file after cleaning: ``field`` a category
    (author, company…), ``value`` as found (shown to the reporter only, never logged)."""

    field: str
    value: str


@dataclass(frozen=True)
class Cleaned:
    kind: Kind
    removed: frozenset[Removed]
    remaining: tuple[Remaining, ...] = ()
    pixels: int = 0  # decoded pixels it cost (counted against the request's budget)


@dataclass(frozen=True)
class KeptAsSent:
    kind: Kind | None
    why: KeptReason
    remaining: tuple[Remaining, ...] = field(default=())


Outcome = Cleaned | KeptAsSent
