"""Remove the metadata of documents, audio and video, in a confined child process.

    python -m sipadu.evidence.docclean KIND SCRATCH MEMORY_BYTES CPU_SECONDS FILE_BYTES
        < file > clean-file

Reads a PDF, Office (DOCX/XLSX/PPTX), ODF (ODT/ODS/ODP), audio (MP3, M4A, AAC, OGG,
FLAC, WAV, AIFF, CAF, AMR, WMA) or video (MP4/MOV/3GP, WebM/Matroska, AVI, WMV, FLV,
MPEG transport and program streams) file on standard input and writes it back without its metadata.
The work is done by Debian's ``mat2`` for PDF (0.13.3, in its lightweight mode ``-L``,
which redraws every page through Poppler and cairo and so keeps the text selectable),
WAV and AVI (with ffmpeg, keeping every stream), for office and ODF files by
:mod:`sipadu.evidence.officeclean` (mat2's rewrite of them destroys the document: see
that module), and for the other recordings by ``ffmpeg`` (see :data:`FFMPEG_EXTENSIONS`
for why not mat2) with the options mat2 itself uses for video (``-map_metadata -1
-map_chapters -1 -c copy`` and bit-exact muxing, so no encoder name is written) into
the file's own container, keeping only video and audio streams: subtitle streams
(where drones and dashcams write their position), data streams (GPS telemetry of
action cameras), attachments and cover pictures are dropped and counted as removed.
Tags appended after the last frame of a FLAC or AMR file are cut off first
(:func:`trailing_tags`), and the SEI units of a transport or program stream's H.264 or H.265 video,
where camcorders write the time and place, are dropped (:data:`SEI_UNITS`).

What mat2 leaves in a PDF is removed after it, in the same child: the metadata of the
JPEG and JPEG 2000 pictures Poppler passes through (:mod:`sipadu.evidence.picturescrub`).
The pictures and recordings inside an office or ODF file are cleaned in the same child
too (:meth:`_Cleaning.clean_member`, called by officeclean for each one): a TIFF or HEIF
(and a JPEG, PNG, WebP or GIF picturescrub cannot walk) re-encoded with its pixels only
by :func:`sipadu.evidence.imagestrip.strip` in this process, its pixels counted from its
header against the memory the child has left (:data:`MAX_PICTURE_PIXELS` at most); a
recording written to the scratch folder and cleaned as one sent alone (the same ffmpeg
or mat2 command). One that cannot be cleaned keeps the whole file as sent: malformed
(exit 2), too large (exit 7) or too costly (exit 5).
A clean copy that lost what the original shows or holds is not kept: a PDF whose text,
attached files, pictures (their sizes: mat2 shrinks a tall one) or annotations' words
changed (:meth:`_Cleaning.check_pdf`: a searchable scan's invisible OCR text, a
reviewer's notes) is cleaned again without redrawing, its metadata removed from its own
objects by pikepdf (:meth:`_Cleaning.clean_pdf_in_place`; one with attached files is
not), and checked again; a recording said to last longer than it did
(:meth:`_Cleaning.check_recording`), or a PDF that fails again, is kept as sent
instead (exit 4).

Before anything is parsed the child confines itself (:func:`confinement.confine`: if
the server dies, the child ends its tools and removes ``SCRATCH`` before it exits): the
limits hold for mat2, ffmpeg and exiftool, which it starts with an environment of
their own (``PATH=/usr/bin:/bin``, ``HOME`` and ``TMPDIR`` the scratch folder, nothing
else), in a process group of their own, and ends when the time left runs out. The file
is written into ``SCRATCH`` (a private folder the server made with
:func:`confinement.scratch_directory` and removes whatever happens, even when the child
was killed), named with the extension of ``KIND``: mat2 picks its parser by extension.
An office or ODF archive is refused as too costly before it is unpacked when it holds
more than :data:`MAX_MEMBERS` members or its members unpack to more than the child's
memory limit; Python's zipfile never unpacks more of a member than its declared size.

A ZIP whose first bytes did not tell what it is (``KIND`` ``zip``: its first members
fill the head, :mod:`sipadu.evidence.kinds`) is told here from its central directory,
read with zipfile (at most :data:`MAX_MEMBERS` members; the ``mimetype`` member read
only if its declared size is small): OOXML or ODF by
:func:`~sipadu.evidence.kinds.archive_kind`, then cleaned as that kind and reported
with it; any other ZIP is not cleaned (exit 3, nothing run on it).

What was there is read before cleaning (``mat2 --show``; for office and ODF files their
own properties and members' times, :func:`officeclean.properties`, since mat2 parses each
member by its name's type; ffprobe's container, program
and stream tags for the ffmpeg kinds, and exiftool's reading of what ffprobe does not
list: :data:`EXIFTOOL_TAGS`), each field sorted into a :class:`Removed` category by its name
(:func:`category`), with what the steps after it found; what is still there is read
again from the result (for office and ODF files also every XML member, by
:func:`officescrub.leftovers`, and every other member by exiftool,
:meth:`_Cleaning.member_leftovers`: a picture of a kind not cleaned, an embedded object)
and any author, company, place or camera left is reported as :class:`Remaining`.

Exit 0 with the clean file on stdout and a JSON report on stderr (``{"kind": KIND,
"removed": [...], "remaining": [[field, value], ...]}``, ``kind`` the kind it was
cleaned as); 2 (not cleanable: malformed, or mat2/ffmpeg refused it, or ffmpeg could
copy nothing of it; also when mutagen ran out of memory reading a tag
whose length lies, :func:`_tag_length_lies`), 3 (a ZIP that is no document), 4
(cleaning would damage it, see above), 5 (too costly: a tool ran out of its memory,
CPU time, file size or time left) or 7 (a picture inside an office or ODF file too
large to clean) with nothing on stdout, and ``{"kind": KIND}`` on stderr once a ZIP's
kind is known.

:func:`clean` runs the child from the server and streams its output to a writer.
"""

import contextlib
import ctypes
import dataclasses
import errno
import hashlib
import io
import json
import os
import re
import shutil
import signal
import struct
import subprocess
import sys
import time
import zipfile
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, BinaryIO

from sipadu.evidence import imagecheck, imagestrip, kinds, officeclean, officescrub
from sipadu.evidence.confinement import (
    SCRATCH_ROOT,
    Confinement,
    TimeBudget,
    confine,
    run,
    scratch_directory,
)
from sipadu.evidence.outcome import Cleaned, Kind, Remaining, Removed
from sipadu.evidence.picturescrub import strip_jpeg, strip_jpx

NOT_CLEANABLE, NOT_A_DOCUMENT, WOULD_DAMAGE, TOO_COSTLY, TOO_LARGE = 2, 3, 4, 5, 7
# What a PDF cleaned in place loses (:meth:`_Cleaning.clean_pdf_in_place`): metadata
# streams, page-piece dictionaries and their dates; an annotation's dates.
IN_PLACE_REMOVED_KEYS = ("/Metadata", "/PieceInfo", "/LastModified")
ANNOTATION_DATES = ("/M", "/CreationDate")
MAX_ANNOTATIONS = 100_000  # annotations read from one PDF
# Annotations the redraw need not keep (links: removed on purpose; popups: a note's
# window), and the flags (ISO 32000-2 12.5.3) of one hidden (2), printed (4) or not
# shown (32).
NOT_SHOWN = ("/Link", "/Popup")
SHOWN_FLAGS = 2 | 4 | 32
# Where a PDF names a file: a URI action's address, a file specification (12.6.4).
PDF_LINK_KEYS = ("/URI", "/F", "/UF")
MIB = 1024 * 1024
READ_BYTES = 64 * 1024
# An office or ODF file with more members than this is refused as too costly (mat2
# writes each one to a file and parses every XML one; real documents hold dozens).
MAX_MEMBERS = 10_000
# What is read of a tool's output (mat2 --show's listing, ffprobe's JSON, error text).
LISTING_BYTES = 1024 * 1024
# The child gives its tools this many times its CPU limit of wall-clock time, all steps
# together (the server's watchdog waits 3 times and 5 s: the child ends them first).
WALL_FACTOR = 2
# Remaining fields reported: at most this many, each value cut to this length (the
# report travels on stderr, of which the server reads STDERR_BYTES).
MAX_REMAINING, MAX_VALUE_CHARS = 10, 100
TOOL_PATH = "/usr/bin:/bin"
# The photos of a PDF whose metadata is read to say what was removed (all are stripped).
MAX_LISTED_PHOTOS = 5
# The most pixels a picture inside an office or ODF file may have to be cleaned (as
# sipadu.evidence.cleaning.MAX_PIXELS for a picture sent alone); fewer when the memory
# left in the child does not fit them (:meth:`_Cleaning.clean_picture`).
MAX_PICTURE_PIXELS = 50_000_000
# Groups of exiftool's reading of an office file's members that are no one's metadata:
# the file system's, exiftool's own, tags computed from others, colour profiles (their
# maker is a screen's or printer's), fonts' (their designer and foundry) and MPEG audio
# frame headers' bits (a "copyright" flag).
NOT_MEMBER_METADATA = frozenset(
    {"ExifTool", "System", "File", "Composite", "ICC_Profile", "Font", "MPEG"}
)

# Kinds mat2 cleans, with the extension it recognises them by.
MAT2_EXTENSIONS = {
    Kind.PDF: ".pdf",
    Kind.DOCX: ".docx",
    Kind.XLSX: ".xlsx",
    Kind.PPTX: ".pptx",
    Kind.ODT: ".odt",
    Kind.ODS: ".ods",
    Kind.ODP: ".odp",
    Kind.WAV: ".wav",
    Kind.AVI: ".avi",
}
# Kinds cleaned by ffmpeg here, with the extension that picks the muxer of their own
# container (mat2 takes none of MOV, 3GP, M4A, WebM or Matroska, nor the Windows Media,
# transport or program stream, Flash, AMR, ADTS, CAF or AIFF files; its MP4 cleaning is this same
# ffmpeg command, which keeps data streams). MP3 too: mat2 removes its ID3 tags with
# mutagen and keeps everything else, an APEv2 or Lyrics3 tag at the end included, where
# foobar2000, Mp3tag and mp3gain write the artist; ffmpeg copies the MPEG audio frames
# and nothing else. OGG: mat2 (mutagen) cleans the comments of the first logical stream
# only, so the second of an .ogv (its Vorbis sound) or of two sound streams kept its
# ARTIST and place; ffmpeg's Ogg muxer writes every stream's comment header anew. FLAC:
# mat2 keeps APPLICATION blocks (``flac --keep-foreign-metadata`` stores a WAV's LIST
# and bext chunks there: artist, originator) and the encoder's name and version as the
# comment's vendor; ffmpeg writes STREAMINFO, an empty comment and padding only.
FFMPEG_EXTENSIONS = {
    Kind.M4A: ".m4a",
    Kind.MP3: ".mp3",
    Kind.OGG: ".ogg",  # the Ogg muxer takes Vorbis, Opus, FLAC, Speex and Theora
    Kind.FLAC: ".flac",
    Kind.AAC: ".aac",  # ADTS
    Kind.AMR: ".amr",
    Kind.ASF: ".asf",
    Kind.FLV: ".flv",
    Kind.CAF: ".caf",
    Kind.AIFF: ".aiff",
}
FFMPEG_KINDS = frozenset(FFMPEG_EXTENSIONS) | {Kind.MP4, Kind.WEBM, Kind.MPEGTS, Kind.MPEGPS}
# Options of ffmpeg's muxer: an MP3 gets no ID3v2 or ID3v1 tag at all (an empty ID3v2
# tag would still say which version wrote it); a transport stream's service (its SDT,
# which the muxer always writes) names no provider or program (ffmpeg's default is
# "FFmpeg" and "Service01").
MUXER_OPTIONS = {
    Kind.MP3: ["-id3v2_version", "0", "-write_id3v1", "0"],
    Kind.MPEGTS: ["-metadata", "service_provider=-", "-metadata", "service_name=-"],
}
# Tags ffprobe does not list, read with exiftool: those ffmpeg's MP3 reader skips (and
# the ID3v2 frames it does not list, with "-u": a GEOB object, a PRIV frame), a
# FLAC's ID3 tags and the WAV or AIFF chunks its APPLICATION blocks keep, and what a
# camcorder writes into a transport stream's H.264 video (:data:`SEI_UNITS`).
EXIFTOOL_TAGS = {
    Kind.MP3: ["-APE:all", "-Lyrics3:all", "-ID3:all", "-u"],
    Kind.FLAC: ["-ID3:all", "-RIFF:all", "-AIFF:all"],
    Kind.MPEGTS: ["-H264:all"],
}
# The supplemental enhancement information (SEI) NAL unit types dropped from the video
# of a transport or program stream, by codec (ffmpeg's ``filter_units``): AVCHD camcorders write
# their make, model, the time and the GPS position into H.264 SEI user data ("MDPM",
# exiftool's H264 group), which a stream copy keeps. SEI is NAL unit type 6 in H.264
# and 39, 40 (prefix, suffix) in H.265 (ITU-T H.264 and H.265, table 7-1); it is not
# needed to decode the pictures (H.264 and H.265 annex D).
# MPEG-2 video has no SEI; its user data (start code 0xB2, ISO/IEC 13818-2 §6.2.2.2.2:
# closed captions, a recorder's own notes) is dropped alike: it is not needed either.
SEI_UNITS = {"h264": "6", "hevc": "39|40", "mpeg2video": "178"}
# exiftool reads a camcorder's H.264 SEI (make, time, place: the H264 group) in a
# transport stream only: of a program stream, the first seconds of its video are copied
# into one first (:meth:`_Cleaning.program_stream_sei`).
SEI_SAMPLE_SECONDS = 5
# Kinds whose duration ffprobe estimates from the first and last time stamps: a file of
# recordings one after another (DVD VOBs or camcorder clips joined, each clock starting
# again) is given one part's length and its clean copy the whole, so the two are not
# compared (:meth:`_Cleaning.check_recording`).
ESTIMATED_DURATION_KINDS = frozenset({Kind.MPEGTS, Kind.MPEGPS})
# Kinds whose ffmpeg reader takes whatever follows the last frame as sound (FLAC, AMR):
# tags appended there (:func:`trailing_tags`) are cut off before ffmpeg copies it.
TRAILING_TAG_KINDS = frozenset({Kind.FLAC, Kind.AMR})
# The field tags appended after the sound are listed as (what they say is read by
# exiftool where it can: a FLAC's ID3v1).
APPENDED_FIELD = "appended tag"
# Tags stacked at the end of a file cut off at most (ID3v1, its enhanced block, Lyrics3,
# APE: taggers stack two or three).
MAX_TRAILING_TAGS = 8
# A clean recording said to last longer than its original by this share of it and this
# many seconds is damaged (:meth:`_Cleaning.check_recording`).
LONGER_SHARE, LONGER_SECONDS = 0.01, 1.0
# The field a subtitle stream is listed as (dropped: drones and dashcams write their
# position, speed and time there).
SUBTITLE_FIELD = "subtitle stream"
ARCHIVE_KINDS = frozenset({Kind.DOCX, Kind.XLSX, Kind.PPTX, Kind.ODT, Kind.ODS, Kind.ODP})
KINDS = frozenset(MAT2_EXTENSIONS) | FFMPEG_KINDS | {Kind.ZIP}
# The most bytes of a ZIP's "mimetype" member read to tell an ODF kind.
MIMETYPE_BYTES = 256
# A child is started only with at least this many seconds of the request's budget left.
MIN_SECONDS = 1
# A child given less than its own limit that used this share of it ran out of the
# request's budget, not of its own limit (a memory bomb stops far sooner).
SPENT_SHARE = 0.9


class _Failed(Exception):
    """Cleaning failed; ``kind`` what the file was found to be (a ZIP's real kind once
    its central directory was read; else the kind it was sent to be cleaned as)."""

    def __init__(self, kind: Kind, remaining: tuple[Remaining, ...] = ()) -> None:
        super().__init__(kind.value)
        self.kind = kind
        self.remaining = remaining  # identifying fields it holds, as sent (if read)


class NotCleanable(_Failed):
    """Malformed, or mat2/ffmpeg refused or failed to clean it."""


class WouldDamage(_Failed):
    """Cleaning would change what the file says or holds (a document's text, pictures
    or attached files; a recording's length), not only its metadata: the original is
    to be kept as sent."""


class TooCostly(_Failed):
    """The child or a tool it started ran out of its memory, CPU time or file size
    limit, or of time (a decompression bomb or a file built to cost; not a tag whose
    length lies, which is :class:`NotCleanable`)."""


class TooLarge(_Failed):
    """A picture inside an office or ODF file has more pixels than can be cleaned here
    (:data:`MAX_PICTURE_PIXELS`, or the memory the child has left)."""


class OverBudget(_Failed):
    """The request's budget of cleaning time (:class:`~sipadu.evidence.confinement.
    TimeBudget`) is spent: less than :data:`MIN_SECONDS` left before the child
    started, or the child used up the shortened allowance it was given (the file
    might be cleaned on its own, in another request)."""


class NotADocument(_Failed):
    """A ZIP (:attr:`Kind.ZIP`) whose central directory names no office or ODF
    document: a plain archive, not cleaned."""


def file_bytes_for(size: int) -> int:
    """The file-size limit (``Confinement.file_bytes``) for cleaning a file of ``size``
    bytes: the copy of the input, mat2's unpacked members and the clean output are each
    at most twice the input and 64 MiB (a compressed office XML member unpacks to
    several times its share of the archive)."""
    return 2 * size + 64 * MIB


def clean(
    pieces: Iterable[bytes | memoryview],
    kind: Kind,
    confinement: Confinement,
    write: Callable[[bytes], object],
    scratch_root: str = SCRATCH_ROOT,
    budget: TimeBudget | None = None,
) -> Cleaned:
    """Clean the file given as ``pieces`` (of ``kind``, one of :data:`KINDS`, detected
    from its content) in a confined child; the clean file goes to ``write`` in pieces as
    the child produces it (nothing of it is held here). ``confinement.file_bytes`` must
    admit the file itself (see :func:`file_bytes_for`). Returns what was removed and any
    identifying field left, with the kind it was cleaned as (a :attr:`Kind.ZIP`'s real
    kind). Raises :class:`NotCleanable`, :class:`WouldDamage` (the clean copy would lose
    what the original shows or holds), :class:`TooCostly`, :class:`TooLarge` (a picture
    in an office or ODF file) or (for a ZIP that is no document)
    :class:`NotADocument`, each with the file's kind and the identifying fields the
    child read in it as sent, if it got so far (after which what was
    written is to be discarded); whatever ``write`` raises stops the child. The scratch
    folder (made under ``scratch_root``, a memory file system) is removed whatever
    happens.

    With a ``budget`` (the request's), the child gets at most the whole seconds left as
    its CPU limit (its session's: :func:`~sipadu.evidence.confinement.run`) and what is
    left as its wall-clock deadline, and the budget is charged what it cost, whatever
    happens. Raises :class:`OverBudget` when less than :data:`MIN_SECONDS` is left, or
    when a child given less than its own limit ran out of it."""
    if kind not in KINDS:
        raise ValueError(f"not a document kind: {kind}")
    wall = None
    limits = confinement
    if budget is not None:
        if budget.seconds_left < MIN_SECONDS:
            raise OverBudget(kind)
        cpu = min(confinement.cpu_seconds, int(budget.seconds_left))
        limits = dataclasses.replace(confinement, cpu_seconds=cpu)
        wall = min(3 * cpu + 5, budget.seconds_left)
    started = time.monotonic()
    finished = None
    try:
        with scratch_directory(scratch_root) as scratch:
            args = [kind.value, scratch]
            finished = run("sipadu.evidence.docclean", args, pieces, limits, write, seconds=wall)
    finally:
        if budget is not None:
            budget.charge(finished.cost if finished else time.monotonic() - started)
    report = _report(finished.report)
    found = _reported_kind(report, kind)
    try:
        remaining = tuple(Remaining(str(f), str(v)) for f, v in report.get("remaining", []))
    except (ValueError, TypeError):
        remaining = ()
    if finished.status == TOO_COSTLY or finished.status < 0:
        # Negative: killed by a signal (SIGXCPU, SIGXFSZ, or the watchdog's SIGKILL).
        shortened = limits.cpu_seconds < confinement.cpu_seconds
        if shortened and finished.cost >= SPENT_SHARE * limits.cpu_seconds:
            raise OverBudget(found)
        raise TooCostly(found, remaining)
    if finished.status == NOT_A_DOCUMENT and kind == Kind.ZIP:
        raise NotADocument(kind)
    if finished.status == TOO_LARGE:
        raise TooLarge(found, remaining)
    if finished.status == WOULD_DAMAGE:
        raise WouldDamage(found, remaining)
    if finished.status != 0:
        raise NotCleanable(found, remaining)
    try:
        removed = frozenset(Removed(name) for name in report["removed"])
    except (ValueError, KeyError, TypeError):
        raise NotCleanable(found) from None
    return Cleaned(found, removed, remaining)


def _report(text: bytes) -> dict[str, Any]:
    try:
        report = json.loads(text)
    except ValueError:
        return {}
    return report if isinstance(report, dict) else {}


def _reported_kind(report: dict[str, Any], sent_as: Kind) -> Kind:
    """The kind the child says it cleaned: only a ZIP's may differ from ``sent_as``, and
    only to an office or ODF kind."""
    if sent_as != Kind.ZIP:
        return sent_as
    try:
        found = Kind(str(report.get("kind")))
    except ValueError:
        return sent_as
    return found if found in ARCHIVE_KINDS else sent_as


# --- what a field is --------------------------------------------------------------------

# ID3 frames by their four-letter names (mat2 lists MP3 tags so).
ID3_FRAMES = {
    **dict.fromkeys(
        ["TPE1", "TPE2", "TPE3", "TPE4", "TCOM", "TEXT", "TOLY", "TOPE", "TOWN", "TPUB"],
        Removed.AUTHOR,
    ),
    **dict.fromkeys(["TCOP", "WOAR", "WCOP", "WPUB", "TRSN", "TRSO"], Removed.AUTHOR),
    **dict.fromkeys(["TSSE", "TENC", "TFLT", "TMED"], Removed.SOFTWARE),
    **dict.fromkeys(
        ["TDRC", "TYER", "TDAT", "TIME", "TDOR", "TORY", "TDEN", "TDRL", "TDTG"], Removed.DATES
    ),
    **dict.fromkeys(["TIT1", "TIT2", "TIT3", "COMM", "USLT", "TALB", "TCON"], Removed.COMMENTS),
    "APIC": Removed.THUMBNAIL,
}
# Kinds whose ID3v2 frames ffprobe or mat2 name by their four letters (an ADTS file's
# ID3v2 tag is read so).
ID3_KINDS = frozenset({Kind.MP3, Kind.AAC})
# Words in a field's name, in the order they are tried (the first that matches wins).
CATEGORY_WORDS: tuple[tuple[Removed, tuple[str, ...]], ...] = (
    (Removed.GPS, ("gps", "location", "latitude", "longitude", "altitude", "iso6709", "geo")),
    (Removed.THUMBNAIL, ("thumbnail", "cover", "picture", "preview")),
    (
        Removed.EDIT_HISTORY,
        ("revision", "rsid", "template", "totaltime", "editing", "history", "docsecurity"),
    ),
    (
        Removed.SOFTWARE,
        (
            "creatortool",
            "producer",
            "application",
            "appversion",
            "software",
            "encoder",
            "encoded_by",
            "generator",
            "writingapp",
            "writing_app",
            "muxingapp",
            "compressor",
            "tool",
        ),
    ),
    (Removed.CAMERA, ("make", "model", "serial", "device", "camera", "lens", "manufacturer")),
    (
        Removed.AUTHOR,
        (
            "author",
            "creator",
            "lastmodifiedby",
            "modifiedby",
            "printed-by",
            "company",
            "manager",
            "owner",
            "artist",
            "composer",
            "performer",
            "copyright",
            "publisher",
            "organization",
            "email",
            "contact",
        ),
    ),
    (Removed.DATES, ("date", "time", "created", "modified", "year", "printed")),
    (
        Removed.COMMENTS,
        (
            "comment",
            "description",
            "title",
            "subject",
            "keyword",
            "lyrics",
            "album",
            "genre",
            "synopsis",
            "category",
            "rating",
        ),
    ),
)
COMPANY_WORDS = ("company", "manager", "organization", "publisher", "copyright")
# exiftool's arguments naming the tags whose names say a place, a device or a person
# (wildcards; exiftool matches tag names whatever their case).
IDENTIFYING_TAGS = tuple(
    f"-*{word}*"
    for removed, words in CATEGORY_WORDS
    if removed in (Removed.GPS, Removed.CAMERA, Removed.AUTHOR)
    for word in words
    if word.isalnum()
)


def category(key: str, kind: Kind) -> Removed:
    """The :class:`Removed` category of a metadata field named ``key`` (as mat2, ffprobe
    or exiftool name it) in a file of ``kind``: its ID3 frame (:data:`ID3_KINDS`), else
    the first of :data:`CATEGORY_WORDS` found in the name, else :attr:`Removed.OTHER`."""
    if kind in ID3_KINDS:
        if key.startswith("ID3_"):  # exiftool's name of a frame it does not know
            return ID3_FRAMES.get(key[4:].upper(), Removed.OTHER)
        frame, _, described = key.partition(":")
        if frame == "TXXX" and described:
            key = described  # a user-defined frame: its description names it
        elif frame.upper() in ID3_FRAMES:
            return ID3_FRAMES[frame.upper()]
    if key == SUBTITLE_FIELD:
        return Removed.OTHER  # what it says is not read: a place, a speed, a caption
    name = key.lower().replace(" ", "")
    if kind == Kind.PDF and name == "creator":
        return Removed.SOFTWARE  # Poppler's "creator" is the program (/Creator)
    if name == "create_system":
        return Removed.OTHER  # the system a zip member was added on
    for removed, words in CATEGORY_WORDS:
        if any(word in name for word in words):
            return removed
    return Removed.OTHER


def remaining_field(key: str, removed: Removed) -> str | None:
    """The :class:`Remaining` field (``author``, ``company``, ``gps`` or ``camera``) a
    field left in a clean file is reported as, or None when it does not identify a
    person, place or device."""
    if key == officescrub.FOLDER_FIELD:
        return key  # a user folder in an office file's path (officescrub.leftovers)
    if removed == Removed.GPS:
        return "gps"
    if removed == Removed.CAMERA:
        return "camera"
    if removed == Removed.AUTHOR:
        return "company" if any(w in key.lower() for w in COMPANY_WORDS) else "author"
    return None


# Values that are not data: placeholders mat2 and ffmpeg write where a field is
# mandatory, and empty ones.
EMPTY_VALUES = frozenset({"", "0", "-1", "none", "(none)", "0000:00:00 00:00:00"})
# Container and stream tags of no one: the file's own structure.
TECHNICAL_TAGS = frozenset(
    {"major_brand", "minor_version", "compatible_brands", "handler_name", "vendor_id"}
    | {"language", "duration"}
)


# --- the child --------------------------------------------------------------------------


class _Costly(Exception):
    pass


class _Refused(Exception):
    pass


class _NotADocument(Exception):
    pass


class _Damaging(Exception):
    pass


class _TooLarge(Exception):
    pass


@dataclass
class _Tools:
    """Runs mat2, ffmpeg and ffprobe for one file, within the time left."""

    scratch: str
    deadline: float

    def env(self) -> dict[str, str]:
        return {
            "PATH": TOOL_PATH,
            "HOME": self.scratch,
            "TMPDIR": self.scratch,
            "LC_ALL": "C.UTF-8",
        }

    def run(self, argv: list[str], tolerated: int = 0, output: str | None = None) -> str:
        """Run ``argv``; its standard output (the first :data:`LISTING_BYTES`; all of it
        is left in the file ``output`` when one is named). Raises :class:`_Costly` when it
        was killed by a limit or ran out of time or memory, :class:`_Refused` when it
        failed otherwise (an exit status other than 0 and ``tolerated``), or when mutagen
        ran out of memory reading a tag (:func:`_tag_length_lies`)."""
        out_path = output or os.path.join(self.scratch, "tool.out")
        err_path = os.path.join(self.scratch, "tool.err")
        with open(out_path, "wb") as out, open(err_path, "wb") as err:
            tool = subprocess.Popen(  # noqa: S603 — fixed programs; the file is named by us
                argv,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                env=self.env(),
                cwd=self.scratch,
                # A group of its own, so that its own children (mat2's ffmpeg) end with
                # it on a timeout; in the child's session, which the server ends.
                process_group=0,
                preexec_fn=_die_with_parent,  # the child has no threads
            )
            try:
                status = tool.wait(timeout=max(0.1, self.deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                status = None
            finally:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(tool.pid, signal.SIGKILL)
                tool.wait()
        output = _head(out_path)
        errors = _head(err_path)
        if status is not None and status > 0 and _tag_length_lies(errors):
            raise _Refused()
        if status is None or status < 0 or _out_of_resources(errors):
            # Killed by SIGXCPU, SIGXFSZ, SIGKILL, or a crash under the memory limit.
            raise _Costly()
        if status not in (0, tolerated) or errors.startswith("[-]") or output.startswith("[-]"):
            raise _Refused()
        return output


def _die_with_parent() -> None:
    """In a tool, before exec: die when the child that started it dies (Linux
    ``PR_SET_PDEATHSIG``), so a child the server killed leaves no tool running."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG = 1


def _head(path: str) -> str:
    with open(path, "rb") as file:
        return file.read(LISTING_BYTES).decode("utf-8", "replace")


# What mat2 (Python), Poppler, ffmpeg and the C library say when a limit was hit.
RESOURCE_WORDS = (
    "MemoryError",
    "Cannot allocate memory",
    "Out of memory",
    "out of memory",
    "std::bad_alloc",
    "File too large",
    "Killed",
    # ffmpeg's libraries do not fit the address space left (the loader's words; mat2
    # reports its ffmpeg's exit status 127).
    "error while loading shared libraries",
    "failed to map segment",
    "exit status 127",
    # mat2 cleans in a process pool: a worker killed by a limit breaks the pool.
    "BrokenProcessPool",
    "terminated abruptly",
)


def _out_of_resources(errors: str) -> bool:
    return any(word in errors for word in RESOURCE_WORDS)


# A frame of a Python traceback: the file it ran.
_FRAME = re.compile(r'^  File "([^"]+)"', re.MULTILINE)


def _tag_length_lies(errors: str) -> bool:
    """Whether ``errors`` (a tool's error output) is a traceback of a ``MemoryError``
    raised in mutagen, mat2's reader of OGG, FLAC and WAV tags. mutagen reads a tag
    block at the length its header gives, and those blocks are stored, never unpacked
    (at most 16 MiB each in FLAC, RFC 9639 section 8.1), so running out of memory there
    means a length that claims more than the file holds: a FLAC comment "two gigabytes
    long" in a 3 KB file is malformed (not cleanable), not too costly. A picture inside
    that mat2 decodes (cairo, GdkPixbuf) can be a real bomb: still too costly."""
    frames = _FRAME.findall(errors)
    last_line = errors.rstrip().rpartition("\n")[2]
    return bool(frames) and "/mutagen/" in frames[-1] and last_line == "MemoryError"


def mat2_listing(text: str) -> list[tuple[str, str]]:
    """The fields of a ``mat2 --show`` listing: ``[+] Metadata for FILE:`` (and
    ``[++]`` for each member of an archive) followed by indented ``key: value`` lines;
    mat2 removes control characters, so every value is on one line."""
    fields = []
    for line in text.splitlines():
        if not line.startswith("  ") or line.strip().startswith("No metadata found"):
            continue
        key, sep, value = line.strip().partition(": ")
        if sep:
            fields.append((key, value))
    return fields


def ffprobe_listing(text: str) -> list[tuple[str, str]]:
    """The fields ffprobe's JSON names: container, program and stream tags (less
    :data:`TECHNICAL_TAGS`), and a ``cover picture``, ``data stream`` or
    :data:`SUBTITLE_FIELD` field for each attached picture, data stream or attachment,
    or subtitle stream (which the cleaning drops)."""
    found = json.loads(text or "{}")
    fields = []
    for key, value in ((found.get("format") or {}).get("tags") or {}).items():
        fields.append((key, str(value)))
    for program in found.get("programs") or []:  # a transport stream's services
        for key, value in (program.get("tags") or {}).items():
            fields.append((key, str(value)))
    for stream in found.get("streams") or []:
        for key, value in (stream.get("tags") or {}).items():
            fields.append((key, str(value)))
        if (stream.get("disposition") or {}).get("attached_pic"):
            fields.append(("cover picture", "1"))
        elif stream.get("codec_type") in ("data", "attachment"):
            fields.append(("data stream", "1"))
        elif stream.get("codec_type") == "subtitle":
            fields.append((SUBTITLE_FIELD, "1"))
    return [
        (key, value)
        for key, value in fields
        if key.lower() not in TECHNICAL_TAGS and not key.lower().startswith("_statistics_tags")
    ]


def trailing_tags(path: str) -> int:
    """How many bytes at the end of the file at ``path`` are tags appended after its
    frames, stacked in any order (at most :data:`MAX_TRAILING_TAGS`): ID3v1 (128 bytes
    from ``TAG``; ID3v1 specification), with the 227-byte enhanced block from ``TAG+``
    before it; Lyrics3 v2 (``LYRICSBEGIN``, ending with its 6-digit length and
    ``LYRICS200``) and v1 (``LYRICSBEGIN`` within 5,100 bytes of ``LYRICSEND``; Lyrics3
    specification); APEv1/v2 (a 32-byte footer from ``APETAGEX`` whose size counts the
    items and the footer, and a 32-byte header when flag bit 31 says so; APEv2
    specification). Reads at most a few KiB."""
    size = end = os.path.getsize(path)
    with open(path, "rb") as file:
        for _ in range(MAX_TRAILING_TAGS):
            length = _tag_ending_at(file, end)
            if not length:
                break
            end -= length
    return size - end


def _tag_ending_at(file: BinaryIO, end: int) -> int:
    """The length of the tag that ends at ``end`` in ``file`` (see
    :func:`trailing_tags`), or 0."""

    def read(start: int, length: int) -> bytes:
        if start < 0:
            return b""
        file.seek(start)
        return file.read(length)

    if read(end - 128, 3) == b"TAG":
        return 128 + (227 if read(end - 355, 4) == b"TAG+" else 0)
    footer = read(end - 32, 32)
    if footer[:8] == b"APETAGEX":
        size, _, flags = struct.unpack_from("<III", footer, 12)
        length = size + (32 if flags & 0x8000_0000 else 0)
        return length if 32 <= length <= end else 0
    lyrics = read(end - 15, 15)
    if lyrics[6:] == b"LYRICS200" and lyrics[:6].isdigit():
        length = int(lyrics[:6]) + 15
        return length if read(end - length, 11) == b"LYRICSBEGIN" else 0
    if lyrics[6:] == b"LYRICSEND":
        start = max(0, end - 5120)  # LYRICSBEGIN, at most 5,100 bytes, LYRICSEND
        begin = read(start, end - start).rfind(b"LYRICSBEGIN")
        return end - start - begin if begin >= 0 else 0
    return 0


def media_streams(text: str) -> int:
    """How many audio or video streams (not cover pictures) ffprobe's JSON lists."""
    streams = json.loads(text or "{}").get("streams") or []
    return sum(
        1
        for stream in streams
        if stream.get("codec_type") in ("audio", "video")
        and not (stream.get("disposition") or {}).get("attached_pic")
    )


def _ffmpeg_extension(kind: Kind, head: bytes) -> str:
    """The extension (so ffmpeg's muxer) that keeps the file's own container: for a
    transport stream ``.m2ts`` when its packets are 192 bytes (ffmpeg then writes them
    so), ``.ts`` for 188; for a program stream ``.vob`` (ffmpeg's MPEG-2 muxer) or
    ``.mpg`` (MPEG-1 systems) by its pack header's version."""
    if kind in FFMPEG_EXTENSIONS:
        return FFMPEG_EXTENSIONS[kind]
    if kind == Kind.WEBM:
        return ".webm" if b"webm" in head[:64] else ".mkv"
    if kind == Kind.MPEGTS:
        return ".ts" if head[:1] == b"\x47" else ".m2ts"
    if kind == Kind.MPEGPS:
        return ".vob" if kinds.program_stream_version(head) == 2 else ".mpg"
    brand = head[8:12]
    if brand == b"qt  ":
        return ".mov"
    if brand.startswith((b"3gp", b"3g2")):
        return ".3gp"
    return ".mp4"


def _check_archive(path: str, confinement: Confinement) -> None:
    """Refuse an office or ODF archive that would unpack to too much (see the module's
    docstring) before mat2 unpacks it."""
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
            if len(members) > MAX_MEMBERS:
                raise _Costly()
            unpacked = sum(member.file_size for member in members)
            largest = max((member.file_size for member in members), default=0)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError):
        raise _Refused() from None
    if unpacked > confinement.memory_bytes or (
        confinement.file_bytes and largest > confinement.file_bytes
    ):
        raise _Costly()


class _Cleaning:
    def __init__(self, kind: Kind, scratch: str, confinement: Confinement) -> None:
        self.kind = kind
        self.scratch = scratch
        self.confinement = confinement
        self.tools = _Tools(scratch, time.monotonic() + WALL_FACTOR * confinement.cpu_seconds)
        self.photo_fields: list[tuple[str, str]] = []  # of the photos inside a PDF
        self.scrubbed: set[Removed] = set()  # found by officeclean's scrub
        self.before: list[tuple[str, str]] = []  # what the file held, once read

    def receive(self, source: BinaryIO) -> str:
        """Write standard input into the scratch folder; the file's path (for a ZIP, the
        path it has once its kind is known: :meth:`tell_archive`)."""
        head = source.read(READ_BYTES)
        if self.kind in FFMPEG_KINDS:
            extension = _ffmpeg_extension(self.kind, head)
        elif self.kind == Kind.ZIP:
            extension = ".zip"
        else:
            extension = MAT2_EXTENSIONS[self.kind]
        path = os.path.join(self.scratch, "input" + extension)
        try:
            with open(path, "wb") as file:
                piece = head
                while piece:
                    file.write(piece)
                    piece = source.read(READ_BYTES)
        except OSError as exc:
            if exc.errno == errno.EFBIG:
                raise _Costly() from None
            raise
        if self.kind == Kind.ZIP:
            path = self.tell_archive(path)
        if self.kind in ARCHIVE_KINDS:
            _check_archive(path, self.confinement)  # before mat2 even lists it
        return path

    def tell_archive(self, path: str) -> str:
        """Tell the ZIP at ``path`` by its central directory (see the module); rename it
        with its kind's extension (mat2 picks its parser so) and return the new path.
        Raises :class:`_NotADocument` for a plain archive, :class:`_Costly` for more
        than :data:`MAX_MEMBERS` members, :class:`_Refused` for one zipfile cannot read
        (damaged)."""
        try:
            with zipfile.ZipFile(path) as archive:
                members = archive.infolist()
                if len(members) > MAX_MEMBERS:
                    raise _Costly()
                names = [member.filename for member in members]
                mimetype = None
                first = members[0] if members else None
                if first is not None and first.filename == kinds.ODF_MIMETYPE:
                    if first.file_size <= MIMETYPE_BYTES and first.compress_size <= MIB:
                        # Encrypted, or an unknown method: no ODF media type then.
                        with (
                            contextlib.suppress(NotImplementedError, RuntimeError),
                            archive.open(first) as member,
                        ):
                            mimetype = member.read(MIMETYPE_BYTES)
        except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError):
            raise _Refused() from None  # damaged: kept as sent, and said so
        found = kinds.archive_kind(names, mimetype)
        if found is None:
            raise _NotADocument()
        self.kind = found
        named = os.path.join(self.scratch, "input" + MAT2_EXTENSIONS[found])
        os.rename(path, named)
        return named

    def fields(self, path: str) -> list[tuple[str, str]]:
        if self.kind in FFMPEG_KINDS:
            listing = self.tools.run(
                [
                    "ffprobe",
                    "-v",
                    "error",
                    "-show_entries",
                    "format_tags:program_tags:stream_tags:stream=codec_type"
                    ":stream_disposition=attached_pic",
                    "-of",
                    "json",
                    path,
                ]
            )
            try:
                fields = ffprobe_listing(listing)
            except (ValueError, AttributeError):
                raise _Refused() from None
            if not media_streams(listing):
                raise _Refused()  # nothing ffmpeg can read (or kept): not a recording
            if self.kind in TRAILING_TAG_KINDS and trailing_tags(path):
                fields.append((APPENDED_FIELD, "1"))
            if self.kind == Kind.MPEGPS:
                fields += self.program_stream_sei(path)
            return fields + self.exiftool_fields(path, EXIFTOOL_TAGS.get(self.kind, []))
        if self.kind in ARCHIVE_KINDS:
            # Not mat2 --show: it parses each member by its name's type (a JPEG named
            # image1.png sent cairo "out of memory").
            try:
                return officeclean.properties(path)
            except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError):
                raise _Refused() from None
        return mat2_listing(self.tools.run(["mat2", "--show", path]))

    def leftovers(self, path: str) -> list[tuple[str, str]]:
        """What still names a person in the clean office or ODF file at ``path``
        (:func:`officescrub.leftovers`), as ``("author", value)`` fields, then what
        exiftool still reads in its other members (:meth:`member_leftovers`)."""
        if self.kind not in ARCHIVE_KINDS:
            return []
        try:
            return officescrub.leftovers(path) + self.member_leftovers(path)
        except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError):
            raise _Refused() from None

    def member_leftovers(self, path: str) -> list[tuple[str, str]]:
        """What exiftool reads in the members of the clean office or ODF file at
        ``path`` that are not XML (pictures, recordings, embedded objects, members of no
        kind SIPADU cleans): each tag whose name says a place, device or person
        (:data:`CATEGORY_WORDS`), outside :data:`NOT_MEMBER_METADATA`, as
        ``(field, value)`` with ``field`` its :func:`remaining_field`. One exiftool run
        over all of them; a listing longer than :data:`LISTING_BYTES` is too costly."""
        folder = os.path.join(self.scratch, "members")
        os.mkdir(folder)
        try:
            names = []
            with zipfile.ZipFile(path) as archive:
                for index, member in enumerate(archive.infolist()):
                    data = b"" if member.is_dir() else archive.read(member)
                    if data and not officescrub.is_xml_member(member.filename, data):
                        names.append(str(index))  # no extension: exiftool reads the content
                        with open(os.path.join(folder, names[-1]), "wb") as file:
                            file.write(data)
            if not names:
                return []
            # Exit 1: some member is of no type exiftool knows (a font, an OLE stream).
            listing = self.tools.run(
                ["exiftool", "-j", "-a", "-G0", *IDENTIFYING_TAGS,
                 *(os.path.join("members", name) for name in names)],
                tolerated=1,
            )  # fmt: skip
        finally:
            shutil.rmtree(folder)
        try:
            readings = json.loads(listing or "[]")
            tags = [(str(tag), value) for reading in readings for tag, value in reading.items()]
        except (ValueError, TypeError, AttributeError):
            raise _Costly() from None  # cut off at LISTING_BYTES
        found = []
        for tag, value in tags:
            group, _, name = tag.rpartition(":")
            # A PDF's "Creator" is the program that made it (as category says of PDFs).
            field = remaining_field(name, category(name, Kind.PDF if group == "PDF" else self.kind))
            if field and group not in NOT_MEMBER_METADATA and _is_data(str(value)):
                found.append((field, str(value)))
        return list(dict.fromkeys(found))

    def clean(self, path: str) -> str:
        """Clean ``path`` into a new file; its path."""
        stem, extension = os.path.splitext(path)
        output = stem + ".cleaned" + extension
        if self.kind in FFMPEG_KINDS:
            if self.kind in TRAILING_TAG_KINDS:
                os.truncate(path, os.path.getsize(path) - trailing_tags(path))
            filters = self.sei_filters(path)
            self.tools.run(
                [
                    "ffmpeg",
                    "-nostdin",
                    "-hide_banner",
                    "-loglevel",
                    "error",
                    "-i",
                    path,
                    "-map",
                    "0:V?",  # video, less attached (cover) pictures
                    "-map",
                    "0:a?",
                    "-map_metadata",
                    "-1",
                    "-map_chapters",
                    "-1",
                    "-disposition",
                    "0",
                    "-c",
                    "copy",
                    "-fflags",
                    "+bitexact",
                    "-flags:v",
                    "+bitexact",
                    "-flags:a",
                    "+bitexact",
                    *MUXER_OPTIONS.get(self.kind, []),
                    *filters,
                    # A file of which nothing could be copied: damaged, not cleaned.
                    "-abort_on",
                    "empty_output",
                    "-y",
                    output,
                ]
            )
        elif self.kind in ARCHIVE_KINDS:
            self.clean_package(path, output)
        else:
            # Members mat2 does not know are dropped rather than kept unread (an OGG or
            # FLAC has none); PDF: the lightweight mode (see the module).
            options = ["--unknown-members", "omit"]
            if self.kind == Kind.PDF:
                options.append("-L")
            self.tools.run(["mat2", *options, path])
        if not os.path.isfile(output) or os.path.getsize(output) == 0:
            raise _Refused()
        if self.kind == Kind.PDF:
            self.scrub_pdf_photos(output)
            try:
                self.check_pdf(path, output, redrawn=True)
            except _Damaging:
                # The redraw lost something: the metadata are removed from the
                # original's own objects instead, nothing redrawn; what the redraw's
                # pictures held is read again from the original's.
                os.remove(output)
                self.photo_fields = []
                self.clean_pdf_in_place(path, output)
                self.scrub_pdf_photos(output)
                self.check_pdf(path, output, redrawn=False)
        elif self.kind in FFMPEG_KINDS and self.kind not in ESTIMATED_DURATION_KINDS:
            self.check_recording(path, output)
        return output

    def check_recording(self, original: str, clean: str) -> None:
        """Raise :class:`_Damaging` when the clean recording says it lasts longer than
        the original (by more than :data:`LONGER_SHARE` and :data:`LONGER_SECONDS`):
        ffmpeg 5.1 copying an Ogg file of two Vorbis streams writes a last page whose
        position wraps around (a second of sound said to last 27 hours, the end of the
        second stream no longer trimmed). A duration ffprobe cannot tell is not
        compared."""
        before, after = self.duration(original), self.duration(clean)
        if before is not None and after is not None:
            if after > before * (1 + LONGER_SHARE) + LONGER_SECONDS:
                raise _Damaging()

    def duration(self, path: str) -> float | None:
        """The duration ffprobe gives the recording at ``path``, in seconds, or None."""
        listing = self.tools.run(
            [
                *("ffprobe", "-v", "error", "-show_entries", "format=duration"),
                *("-of", "csv=p=0", path),
            ]
        )
        try:
            return float(listing.strip())
        except ValueError:
            return None  # "N/A"

    def clean_pdf_in_place(self, path: str, output: str) -> None:
        """The PDF at ``path`` written to ``output`` by pikepdf (qpdf) without its
        metadata, nothing redrawn: for a PDF the lightweight redraw damages
        (:meth:`check_pdf`: a searchable scan's invisible OCR text, a reviewer's notes,
        a tall screenshot). Removed (ISO 32000-2): the document information dictionary
        (14.3.3), the signatures' permissions and security store (12.8), and from every
        object, indirect or inside a page's annotations, what
        :meth:`scrub_pdf_object` removes; old revisions (incremental updates, 7.5.6) are
        not written again, and the file identifier is made from the content (``/ID``,
        14.4). Attached files carry metadata of their own: a PDF with any is not cleaned
        here (:class:`_Damaging`: kept as sent). The pictures are scrubbed afterwards
        (:meth:`scrub_pdf_photos`)."""
        import pikepdf  # only once the process is confined

        if self.pdf_attachments(path):
            raise _Damaging()
        try:
            with pikepdf.open(path) as pdf:
                if "/Info" in pdf.trailer:
                    del pdf.trailer["/Info"]
                for key in ("/Perms", "/DSS"):
                    if key in pdf.Root:
                        del pdf.Root[key]
                        self.scrubbed.add(Removed.AUTHOR)
                for item in pdf.objects:
                    self.scrub_pdf_object(item)
                for page in pdf.pages:
                    for annotation in page.obj.get("/Annots", pikepdf.Array()):
                        self.scrub_pdf_object(annotation)  # direct ones too
                pdf.save(output, deterministic_id=True)
        except (pikepdf.PdfError, ValueError, TypeError):
            raise _Refused() from None

    def scrub_pdf_object(self, item: Any) -> None:
        """One object of a PDF cleaned in place (:meth:`clean_pdf_in_place`) without:
        its ``/Metadata`` stream (the catalog's, a page's, a picture's or a font's,
        14.3.2), page-piece data and ``/LastModified`` (14.5); of an annotation but a
        form field, its author (``/T``, blanked: 12.5.6.2) and dates (``/M``,
        ``/CreationDate``); of a signature field, its value (the signer's name, place,
        contact and certificate, 12.8.1: a rewritten file breaks it anyway); and of a
        link or file specification, itself or in its action, a user's folder
        (:data:`officescrub.USER_FOLDER`), which becomes the file's name."""
        import pikepdf  # only once the process is confined

        if not isinstance(item, pikepdf.Dictionary | pikepdf.Stream):
            return
        for key in IN_PLACE_REMOVED_KEYS:
            if key in item:
                del item[key]
        if "/Rect" in item and item.get("/Subtype") not in (None, "/Widget"):
            for key in ANNOTATION_DATES:
                if key in item:
                    del item[key]
            if "/T" in item:
                item["/T"] = pikepdf.String("")
                self.scrubbed.add(Removed.AUTHOR)
        if item.get("/FT") == "/Sig" and "/V" in item:
            del item["/V"]
            self.scrubbed.add(Removed.AUTHOR)
        action = item.get("/A")
        named = [item, action] if isinstance(action, pikepdf.Dictionary) else [item]
        for holder in named + [
            h["/F"] for h in named if isinstance(h.get("/F"), pikepdf.Dictionary)
        ]:
            for key in PDF_LINK_KEYS:
                value = holder.get(key)
                if isinstance(value, pikepdf.String) and officescrub.USER_FOLDER.search(str(value)):
                    holder[key] = pikepdf.String(officescrub.file_name_of(str(value)))
                    self.scrubbed.add(Removed.AUTHOR)

    def check_pdf(self, original: str, clean: str, redrawn: bool) -> None:
        """Raise :class:`_Damaging` when the clean PDF lost what the original shows or
        holds: mat2's lightweight mode redraws every page through Poppler's printing
        path, which redraws a picture it does not copy as it came (all but JPEG and JPEG
        2000) at most 8,192 pixels on a side (a 1080 x 30000 screenshot of a chat becomes
        294 x 8192, unreadable), leaves out attached files (``/EmbeddedFiles`` and
        file-attachment annotations), every annotation's words, and the annotations
        shown on screen but not printed (a black box a reporter drew over their name,
        without the print flag). Compared: how many attachments ``pdfdetach -list``
        counts, the pictures drawn on each page at their size in pixels
        (:meth:`pdf_pictures`: each of the original's must be there, the redraw may add
        its own), the text (:meth:`pdf_text`), the annotations' words, and, if
        ``redrawn``, whether any annotation is shown but not printed
        (:meth:`pdf_annotations`)."""
        if self.pdf_attachments(clean) < self.pdf_attachments(original):
            raise _Damaging()
        if self.pdf_pictures(original) - self.pdf_pictures(clean):
            raise _Damaging()
        if self.pdf_text(original) != self.pdf_text(clean):
            raise _Damaging()
        notes, unprinted = self.pdf_annotations(original)
        if (redrawn and unprinted) or notes - self.pdf_annotations(clean)[0]:
            raise _Damaging()

    def pdf_annotations(self, path: str) -> tuple[Counter[bytes], int]:
        """The words of the PDF's annotations (``/Contents``, ISO 32000-2 12.5.2: a
        sticky note's, a highlight's, a free-text box's), counted, and how many
        annotations other than links and popups are shown on screen but not printed
        (flags, 12.5.3: neither Hidden, NoView nor Print). At most
        :data:`MAX_ANNOTATIONS` are read (more: :class:`_Costly`)."""
        import pikepdf  # only once the process is confined

        notes: Counter[bytes] = Counter()
        read = unprinted = 0
        try:
            with pikepdf.open(path) as pdf:
                for page in pdf.pages:
                    for annotation in page.obj.get("/Annots", pikepdf.Array()):
                        read += 1
                        if read > MAX_ANNOTATIONS:
                            raise _Costly()
                        if not isinstance(annotation, pikepdf.Dictionary):
                            continue
                        words = annotation.get("/Contents")
                        if isinstance(words, pikepdf.String) and bytes(words).strip():
                            notes[bytes(words)] += 1
                        flags = annotation.get("/F", 0)
                        flags = int(flags) if isinstance(flags, int | pikepdf.Object) else 0
                        if annotation.get("/Subtype") not in NOT_SHOWN and not flags & SHOWN_FLAGS:
                            unprinted += 1
        except (pikepdf.PdfError, ValueError, TypeError):
            raise _Refused() from None
        return notes, unprinted

    def pdf_attachments(self, path: str) -> int:
        """How many files are attached to the PDF at ``path`` (Poppler's ``pdfdetach
        -list``: its first line, "N embedded files", counts the document's and the
        file-attachment annotations')."""
        listing = self.tools.run(["pdfdetach", "-list", path])
        try:
            return int(listing.split(None, 1)[0])
        except (ValueError, IndexError):
            raise _Refused() from None

    def pdf_pictures(self, path: str) -> Counter[tuple[bytes, bytes, bytes]]:
        """The pictures Poppler draws in the PDF at ``path`` (``pdfimages -list``: a row
        per picture drawn, masks included, after two heading lines), counted by (page,
        width, height) as the listing spells them. The listing is read from a file
        (one row per picture drawn: it may be long)."""
        listing = os.path.join(self.scratch, "pictures.txt")
        self.tools.run(["pdfimages", "-list", path], output=listing)
        counted: Counter[tuple[bytes, bytes, bytes]] = Counter()
        with open(listing, "rb") as file:
            for line in file:
                columns = line.split(None, 5)
                if len(columns) > 5 and columns[0].isdigit():
                    counted[columns[0], columns[3], columns[4]] += 1
        os.remove(listing)
        return counted

    def video_codecs(self, path: str) -> list[str]:
        """The codec of each video stream (not cover pictures) of the file at ``path``,
        in order, as ffprobe names them (``h264``, ``hevc``, ``mpeg2video``...)."""
        listing = self.tools.run(
            [
                *("ffprobe", "-v", "error", "-select_streams", "V"),
                *("-show_entries", "stream=codec_name", "-of", "csv=p=0", path),
            ]
        )
        return [codec.strip(",") for codec in listing.split()]

    def sei_filters(self, path: str) -> list[str]:
        """ffmpeg's options that drop the SEI units (:data:`SEI_UNITS`: H.264, H.265)
        or user data (MPEG-2) of each video stream of the transport or program stream
        at ``path``; none for other kinds or codecs (``filter_units`` names other
        codecs' units otherwise: MPEG-2's type 6 is a slice)."""
        if self.kind not in ESTIMATED_DURATION_KINDS:
            return []
        options = []
        for index, codec in enumerate(self.video_codecs(path)):
            if codec in SEI_UNITS:
                options += [f"-bsf:v:{index}", f"filter_units=remove_types={SEI_UNITS[codec]}"]
        return options

    def program_stream_sei(self, path: str) -> list[tuple[str, str]]:
        """What exiftool reads in the H.264 SEI of the program stream at ``path`` (a
        camcorder's make, time and place), which it reads in transport streams only:
        the first :data:`SEI_SAMPLE_SECONDS` of the video copied into an M2TS sample in
        the scratch folder. None without H.264 video."""
        if "h264" not in self.video_codecs(path):
            return []
        sample = os.path.join(self.scratch, "sample.m2ts")
        self.tools.run(
            [
                *("ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-i", path),
                *("-map", "0:V", "-c", "copy", "-t", str(SEI_SAMPLE_SECONDS)),
                *("-f", "mpegts", "-mpegts_m2ts_mode", "1", "-y", sample),
            ]
        )
        try:
            return self.exiftool_fields(sample, ["-H264:all"])
        finally:
            os.remove(sample)

    def clean_package(self, path: str, output: str) -> None:
        """Clean the office or ODF file at ``path`` into ``output`` without mat2, whose
        rewrite destroys such documents (:mod:`sipadu.evidence.officeclean`), and check
        that its text is unchanged (:func:`officeclean.text_units`): else
        :class:`_Damaging`. What was found is counted among what was removed, with what
        the first pictures' metadata held; the pictures and recordings officeclean does
        not strip itself are cleaned by :meth:`clean_member`."""
        try:
            found = officeclean.clean_package(
                path, output, self.confinement.memory_bytes, MAX_LISTED_PHOTOS, self.clean_member
            )
            same = officeclean.text_units(path) == officeclean.text_units(output)
        except officeclean.Costly:
            raise _Costly() from None
        except officeclean.WouldDamage:
            raise _Damaging() from None
        except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError):
            raise _Refused() from None
        if not same:
            raise _Damaging()
        self.scrubbed |= found.removed
        for picture, suffix in found.pictures:
            self.photo_fields.extend(self.photo_metadata(picture, suffix))

    def clean_member(self, kind: Kind, data: bytes) -> tuple[bytes, set[Removed]]:
        """An embedded picture or recording of ``kind`` (:data:`officeclean.MEDIA_KINDS`)
        cleaned, and the categories it held (:data:`officeclean.CleanMedia`). Raises
        :class:`_Refused` (malformed), :class:`_TooLarge` or :class:`_Costly`: the
        whole file is then kept as sent, and said why."""
        if kind in kinds.IMAGE_KINDS:
            return self.clean_picture(kind, data)
        return self.clean_recording(kind, data)

    def clean_picture(self, kind: Kind, data: bytes) -> tuple[bytes, set[Removed]]:
        """The picture re-encoded with its pixels only, in this process
        (:func:`imagestrip.strip`: pixels counted from its header before any is
        decoded), within the memory this child has left: its address-space limit less
        what it holds now, Pillow's libraries loaded. A HEIF too large to be written
        back as one (imagestrip would make it a JPEG) is too large."""
        import PIL.Image  # noqa: F401 — loaded before the memory left is measured

        if kind == Kind.HEIF:
            import pillow_heif  # noqa: F401

        left = self.confinement.memory_bytes - _address_space()
        try:
            stripped = imagestrip.strip(data, MAX_PICTURE_PIXELS, MAX_PICTURE_PIXELS, left)
        except (imagestrip.TooLarge, imagestrip.OverBudget):
            raise _TooLarge() from None
        except imagecheck.Incomplete:
            raise _Damaging() from None
        except MemoryError:
            raise
        except Exception:  # noqa: BLE001 — Pillow's and its decoders' errors: malformed
            raise _Refused() from None
        if stripped.kind != kind:
            raise _TooLarge()
        return stripped.data, set(stripped.removed)

    def clean_recording(self, kind: Kind, data: bytes) -> tuple[bytes, set[Removed]]:
        """The recording cleaned as one sent alone (:meth:`fields` and :meth:`clean`:
        ffmpeg's or mat2's command, in a folder of its own in the scratch folder, within
        this file's time left), and the categories its tags held."""
        folder = os.path.join(self.scratch, "member")
        os.mkdir(folder)
        try:
            member = _Cleaning(kind, folder, self.confinement)
            member.tools.deadline = self.tools.deadline
            path = member.receive(io.BytesIO(data))
            before = member.fields(path)
            with open(member.clean(path), "rb") as file:
                cleaned = file.read()
        finally:
            shutil.rmtree(folder)
        removed = {category(key, kind) for key, value in before if _is_data(value)}
        return cleaned, removed

    def pdf_text(self, path: str) -> bytes:
        """A digest of the text Poppler reads from the PDF at ``path`` (``pdftotext``,
        its words in reading order, white space collapsed): mat2's lightweight mode
        redraws every page, and must not lose or garble any of its text."""
        text_path = os.path.join(self.scratch, "text.txt")
        self.tools.run(["pdftotext", "-q", "-enc", "UTF-8", path, text_path])
        digest = hashlib.blake2b(digest_size=32)
        rest = b""
        with open(text_path, "rb") as file:
            while piece := file.read(READ_BYTES):
                words = (rest + piece).split()
                rest = b"" if piece[-1:].isspace() else (words.pop() if words else b"")
                for word in words:
                    digest.update(word + b" ")
        digest.update(rest)
        os.remove(text_path)
        return digest.digest()

    def scrub_pdf_photos(self, path: str) -> None:
        """Strip the metadata of the JPEG and JPEG 2000 pictures in the PDF at ``path``
        (:mod:`sipadu.evidence.picturescrub`): Poppler hands cairo each picture's bytes,
        which mat2's lightweight mode writes back as they came, with their EXIF (camera,
        GPS, author), XMP, comments and whatever follows the picture; a PDF cleaned in
        place keeps its pictures as they were. A picture behind other filters
        (ReportLab writes ``[/ASCII85Decode /DCTDecode]``) is decoded to its JPEG first
        and written back with its last filter only. What the first few held is read with
        exiftool and counted among what was removed."""
        import pikepdf  # only once the process is confined

        strippers = {"/DCTDecode": (strip_jpeg, ".jpg"), "/JPXDecode": (strip_jpx, ".jp2")}
        try:
            with pikepdf.open(path, allow_overwriting_input=True) as pdf:
                changed = 0
                for stream in pdf.objects:
                    if not isinstance(stream, pikepdf.Stream):
                        continue
                    filters = stream.get("/Filter")
                    chain = list(filters) if isinstance(filters, pikepdf.Array) else [filters]
                    last = str(chain[-1]) if chain else ""
                    if stream.get("/Subtype") != "/Image" or last not in strippers:
                        continue
                    strip, suffix = strippers[last]
                    raw = self.pdf_picture(pdf, stream, chain)
                    stripped, dropped = strip(raw)
                    if not dropped:
                        continue
                    if changed < MAX_LISTED_PHOTOS:
                        self.photo_fields.extend(self.photo_metadata(raw, suffix))
                    parameters = stream.get("/DecodeParms")
                    if isinstance(parameters, pikepdf.Array):
                        parameters = parameters[-1] if len(parameters) else None
                    stream.write(
                        stripped,
                        filter=pikepdf.Name(last),
                        decode_parms=(
                            parameters if isinstance(parameters, pikepdf.Dictionary) else None
                        ),
                    )
                    changed += 1
                if changed:
                    pdf.save(path)
        except (pikepdf.PdfError, ValueError):
            raise _Refused() from None

    @staticmethod
    def pdf_picture(pdf: Any, stream: Any, chain: list[Any]) -> bytes:
        """A JPEG or JPEG 2000 picture stream's bytes as the picture file: as stored,
        or with the filters before its own (``chain[:-1]``: ASCII85, Flate…) decoded by
        qpdf."""
        import pikepdf  # only once the process is confined

        raw = stream.read_raw_bytes()
        if len(chain) == 1:
            return bytes(raw)
        leading = pikepdf.Stream(pdf, raw)
        leading.Filter = pikepdf.Array(chain[:-1])
        parameters = stream.get("/DecodeParms")
        if isinstance(parameters, pikepdf.Array):
            leading.DecodeParms = pikepdf.Array(list(parameters)[:-1])
        return bytes(leading.read_bytes())

    def photo_metadata(self, picture: bytes, suffix: str) -> list[tuple[str, str]]:
        """The metadata fields of a picture (exiftool's EXIF, XMP, IPTC and comment)."""
        photo = os.path.join(self.scratch, "photo" + suffix)
        with open(photo, "wb") as file:
            file.write(picture)
        found = self.exiftool_fields(photo, ["-EXIF:all", "-XMP:all", "-IPTC:all", "-Comment"])
        os.remove(photo)
        return found or [("photo metadata", "1")]

    def exiftool_fields(self, path: str, groups: list[str]) -> list[tuple[str, str]]:
        """The fields exiftool reads from the file at ``path`` in ``groups``."""
        if not groups:
            return []
        listing = self.tools.run(["exiftool", "-j", *groups, path])
        try:
            found = json.loads(listing or "[{}]")[0]
        except (ValueError, IndexError, KeyError):
            return [("metadata", "1")]
        return [(key, str(value)) for key, value in found.items() if key != "SourceFile"]

    def report(self, before: list[tuple[str, str]], after: list[tuple[str, str]]) -> str:
        # A photo's fields are a picture's (its XMP "Creator" is a person, not the
        # program Poppler calls a PDF's creator).
        fields = [(key, value, self.kind) for key, value in before]
        fields += [(key, value, Kind.JPEG) for key, value in self.photo_fields]
        removed = sorted(
            {category(key, kind).value for key, value, kind in fields if _is_data(value)}
            | {removed.value for removed in self.scrubbed}
        )
        report = {"kind": self.kind.value, "removed": removed, "remaining": self.named(after)}
        return json.dumps(report, ensure_ascii=False)

    def named(self, fields: list[tuple[str, str]]) -> list[list[str]]:
        """The identifying ones of ``fields`` (:func:`remaining_field`) as ``[field,
        value]``, each once, at most :data:`MAX_REMAINING`, values cut."""
        remaining: list[list[str]] = []
        for key, value in fields:
            field = remaining_field(key, category(key, self.kind))
            entry = [field or "", value[:MAX_VALUE_CHARS]]
            if field and _is_data(value) and entry not in remaining:
                remaining.append(entry)
        return remaining[:MAX_REMAINING]


def _is_data(value: str) -> bool:
    return value.strip().lower() not in EMPTY_VALUES


def _address_space() -> int:
    """The bytes of address space this process holds (what RLIMIT_AS caps)."""
    with open("/proc/self/statm", "rb") as statm:
        return int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")


def main() -> int:
    kind, scratch = Kind(sys.argv[1]), sys.argv[2]
    confinement = Confinement.from_argv(sys.argv[3:])
    confine(confinement, scratch)  # removed by this child if the server dies
    cleaning = _Cleaning(kind, scratch, confinement)
    status = _clean(cleaning)
    if status != 0:
        # What the ZIP was, and what the file kept as sent says of who made it.
        failed = {"kind": cleaning.kind.value, "remaining": cleaning.named(cleaning.before)}
        sys.stderr.write(json.dumps(failed, ensure_ascii=False))
    return status


def _clean(cleaning: _Cleaning) -> int:
    try:
        path = cleaning.receive(sys.stdin.buffer)
        before = cleaning.before = cleaning.fields(path)
        output = cleaning.clean(path)
        os.remove(path)  # the original is no longer needed: scratch is memory
        after = cleaning.fields(output) + cleaning.leftovers(output)
        report = cleaning.report(before, after)
        with open(output, "rb") as file:
            while piece := file.read(READ_BYTES):
                sys.stdout.buffer.write(piece)
        sys.stdout.flush()
    except (_Costly, MemoryError):
        return TOO_COSTLY
    except _TooLarge:
        return TOO_LARGE
    except _Refused:
        return NOT_CLEANABLE
    except _NotADocument:
        return NOT_A_DOCUMENT
    except _Damaging:
        return WOULD_DAMAGE
    except OSError as exc:
        return TOO_COSTLY if exc.errno in (errno.EFBIG, errno.ENOSPC, errno.ENOMEM) else 2
    except Exception as exc:  # noqa: BLE001 — any failure is a refusal, reported by kind
        sys.stderr.write(type(exc).__name__ + "\n")
        return NOT_CLEANABLE
    sys.stderr.write(report)
    sys.stderr.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
