"""Remove the metadata of documents, audio and video, in a confined child process.

    python -m sipadu.evidence.docclean KIND SCRATCH MEMORY_BYTES CPU_SECONDS FILE_BYTES
        < file > clean-file

Reads a PDF, Office (DOCX/XLSX/PPTX), ODF (ODT/ODS/ODP), audio (MP3, M4A, OGG, FLAC,
WAV) or video (MP4/MOV/3GP, WebM/Matroska, AVI) file on standard input and writes it
back without its metadata. The work is done by Debian's ``mat2`` (0.13.3: PDF in its
lightweight mode ``-L``, which redraws every page through Poppler and cairo and so keeps
the text selectable; OGG, FLAC with mutagen; WAV and AVI with ffmpeg), for office and
ODF files by :mod:`sipadu.evidence.officeclean` (mat2's rewrite of them destroys the
document: see that module), and, for the containers mat2 does not take (M4A, MP4/MOV/3GP,
WebM/Matroska) and for MP3 (mat2 keeps an APEv2 tag at its end), by ``ffmpeg`` with the
options mat2 itself uses for video (``-map_metadata -1 -map_chapters -1 -c copy`` and
bit-exact muxing, so no encoder name is written), keeping only video, audio and
subtitle streams: data streams (GPS telemetry of action cameras), attachments and cover
pictures are dropped.

What mat2 leaves in a PDF is removed after it, in the same child: the metadata of the
JPEG and JPEG 2000 pictures Poppler passes through (:mod:`sipadu.evidence.picturescrub`).

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

What was there is read before cleaning (``mat2 --show``; ffprobe's container and stream
tags for the ffmpeg kinds, and exiftool's reading of the tags ffmpeg skips at the end of
an MP3), each field sorted into a :class:`Removed` category by its name
(:func:`category`), with what the steps after it found; what is still there is read
again from the result (for office and ODF files also every XML member, by
:func:`officescrub.leftovers`) and any author, company or place left is reported as
:class:`Remaining`.

Exit 0 with the clean file on stdout and a JSON report on stderr (``{"kind": KIND,
"removed": [...], "remaining": [[field, value], ...]}``, ``kind`` the kind it was
cleaned as); 2 (not cleanable: malformed, or mat2/ffmpeg refused it; also when mutagen
ran out of memory reading a tag whose length lies, :func:`_tag_length_lies`), 3 (a ZIP
that is no document) or 5 (too costly: a tool ran out of its memory, CPU time, file size
or time left) with nothing on stdout, and ``{"kind": KIND}`` on stderr once a ZIP's kind is
known.

:func:`clean` runs the child from the server and streams its output to a writer.
"""

import contextlib
import ctypes
import dataclasses
import errno
import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, BinaryIO

from sipadu.evidence import kinds, officeclean, officescrub
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

NOT_CLEANABLE, NOT_A_DOCUMENT, WOULD_DAMAGE, TOO_COSTLY = 2, 3, 4, 5
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

# Kinds mat2 cleans, with the extension it recognises them by.
MAT2_EXTENSIONS = {
    Kind.PDF: ".pdf",
    Kind.DOCX: ".docx",
    Kind.XLSX: ".xlsx",
    Kind.PPTX: ".pptx",
    Kind.ODT: ".odt",
    Kind.ODS: ".ods",
    Kind.ODP: ".odp",
    Kind.OGG: ".ogg",
    Kind.FLAC: ".flac",
    Kind.WAV: ".wav",
    Kind.AVI: ".avi",
}
# Kinds cleaned by ffmpeg here (mat2 takes none of MOV, 3GP, M4A, WebM or Matroska; its
# MP4 cleaning is this same ffmpeg command, which keeps data streams). MP3 too: mat2
# removes its ID3 tags with mutagen and keeps everything else, an APEv2 or Lyrics3 tag
# at the end included, where foobar2000, Mp3tag and mp3gain write the artist; ffmpeg
# copies the MPEG audio frames and nothing else.
FFMPEG_KINDS = frozenset({Kind.MP4, Kind.M4A, Kind.WEBM, Kind.MP3})
# Options of ffmpeg's muxer: an MP3 gets no ID3v2 or ID3v1 tag at all (an empty ID3v2
# tag would still say which version wrote it).
MUXER_OPTIONS = {Kind.MP3: ["-id3v2_version", "0", "-write_id3v1", "0"]}
# Tags ffprobe does not list (ffmpeg's MP3 reader skips them), read with exiftool.
EXIFTOOL_TAGS = {Kind.MP3: ["-APE:all", "-Lyrics3:all", "-ID3v1:all"]}
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

    def __init__(self, kind: Kind) -> None:
        super().__init__(kind.value)
        self.kind = kind


class NotCleanable(_Failed):
    """Malformed, or mat2/ffmpeg refused or failed to clean it."""


class WouldDamage(_Failed):
    """Cleaning would change what the document says (its text), not only its metadata:
    the original is to be kept as sent."""


class TooCostly(_Failed):
    """The child or a tool it started ran out of its memory, CPU time or file size
    limit, or of time (a decompression bomb or a file built to cost; not a tag whose
    length lies, which is :class:`NotCleanable`)."""


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
    kind). Raises :class:`NotCleanable`, :class:`WouldDamage` (the clean copy's text would
    differ from the original's), :class:`TooCostly` or (for a ZIP that is no document)
    :class:`NotADocument`, each with the file's kind (after which what was
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
    if finished.status == TOO_COSTLY or finished.status < 0:
        # Negative: killed by a signal (SIGXCPU, SIGXFSZ, or the watchdog's SIGKILL).
        shortened = limits.cpu_seconds < confinement.cpu_seconds
        if shortened and finished.cost >= SPENT_SHARE * limits.cpu_seconds:
            raise OverBudget(found)
        raise TooCostly(found)
    if finished.status == NOT_A_DOCUMENT and kind == Kind.ZIP:
        raise NotADocument(kind)
    if finished.status == WOULD_DAMAGE:
        raise WouldDamage(found)
    if finished.status != 0:
        raise NotCleanable(found)
    try:
        removed = frozenset(Removed(name) for name in report["removed"])
        remaining = tuple(Remaining(str(f), str(v)) for f, v in report["remaining"])
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


def category(key: str, kind: Kind) -> Removed:
    """The :class:`Removed` category of a metadata field named ``key`` (as mat2, ffprobe
    or exiftool name it) in a file of ``kind``: its ID3 frame, else the first of
    :data:`CATEGORY_WORDS` found in the name, else :attr:`Removed.OTHER`."""
    if kind == Kind.MP3:
        frame, _, described = key.partition(":")
        if frame == "TXXX" and described:
            key = described  # a user-defined frame: its description names it
        elif frame.upper() in ID3_FRAMES:
            return ID3_FRAMES[frame.upper()]
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
    """The :class:`Remaining` field (``author``, ``company`` or ``gps``) a field left in
    a clean file is reported as, or None when it does not identify a person or place."""
    if removed == Removed.GPS:
        return "gps"
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

    def run(self, argv: list[str]) -> str:
        """Run ``argv``; its standard output (the first :data:`LISTING_BYTES`). Raises
        :class:`_Costly` when it was killed by a limit or ran out of time or memory,
        :class:`_Refused` when it failed otherwise, or when mutagen ran out of memory
        reading a tag (:func:`_tag_length_lies`)."""
        out_path = os.path.join(self.scratch, "tool.out")
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
        if status != 0 or errors.startswith("[-]") or output.startswith("[-]"):
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
    """The fields ffprobe's JSON names: container and stream tags (less
    :data:`TECHNICAL_TAGS`), and a ``cover picture`` or ``data stream`` field for each
    attached picture, data stream or attachment (which the cleaning drops)."""
    found = json.loads(text or "{}")
    fields = []
    for key, value in ((found.get("format") or {}).get("tags") or {}).items():
        fields.append((key, str(value)))
    for stream in found.get("streams") or []:
        for key, value in (stream.get("tags") or {}).items():
            fields.append((key, str(value)))
        if (stream.get("disposition") or {}).get("attached_pic"):
            fields.append(("cover picture", "1"))
        elif stream.get("codec_type") in ("data", "attachment"):
            fields.append(("data stream", "1"))
    return [
        (key, value)
        for key, value in fields
        if key.lower() not in TECHNICAL_TAGS and not key.lower().startswith("_statistics_tags")
    ]


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
    """The extension (so ffmpeg's muxer) that keeps the file's own container."""
    if kind == Kind.M4A:
        return ".m4a"
    if kind == Kind.MP3:
        return ".mp3"
    if kind == Kind.WEBM:
        return ".webm" if b"webm" in head[:64] else ".mkv"
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
                    "format_tags:stream_tags:stream=codec_type:stream_disposition=attached_pic",
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
            return fields + self.exiftool_fields(path, EXIFTOOL_TAGS.get(self.kind, []))
        return mat2_listing(self.tools.run(["mat2", "--show", path]))

    def leftovers(self, path: str) -> list[tuple[str, str]]:
        """What still names a person in the clean office or ODF file at ``path``
        (:func:`officescrub.leftovers`), as ``("author", value)`` fields."""
        if self.kind not in ARCHIVE_KINDS:
            return []
        try:
            return officescrub.leftovers(path)
        except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError):
            raise _Refused() from None

    def clean(self, path: str) -> str:
        """Clean ``path`` into a new file; its path."""
        stem, extension = os.path.splitext(path)
        output = stem + ".cleaned" + extension
        if self.kind in FFMPEG_KINDS:
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
                    "-map",
                    "0:s?",
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
            if self.pdf_text(path) != self.pdf_text(output):
                raise _Damaging()
        return output

    def clean_package(self, path: str, output: str) -> None:
        """Clean the office or ODF file at ``path`` into ``output`` without mat2, whose
        rewrite destroys such documents (:mod:`sipadu.evidence.officeclean`), and check
        that its text is unchanged (:func:`officeclean.text_units`): else
        :class:`_Damaging`. What was found is counted among what was removed, with what
        the first pictures' metadata held."""
        try:
            found = officeclean.clean_package(
                path, output, self.confinement.memory_bytes, MAX_LISTED_PHOTOS
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
        GPS, author), XMP, comments and whatever follows the picture. What the first
        few held is read with exiftool and counted among what was removed."""
        import pikepdf  # only once the process is confined

        strippers = {"/DCTDecode": (strip_jpeg, ".jpg"), "/JPXDecode": (strip_jpx, ".jp2")}
        try:
            with pikepdf.open(path, allow_overwriting_input=True) as pdf:
                changed = 0
                for stream in pdf.objects:
                    if not isinstance(stream, pikepdf.Stream):
                        continue
                    filters = stream.get("/Filter")
                    if isinstance(filters, pikepdf.Array) and len(filters) == 1:
                        filters = filters[0]
                    if stream.get("/Subtype") != "/Image" or str(filters) not in strippers:
                        continue
                    strip, suffix = strippers[str(filters)]
                    raw = stream.read_raw_bytes()
                    stripped, dropped = strip(raw)
                    if not dropped:
                        continue
                    if changed < MAX_LISTED_PHOTOS:
                        self.photo_fields.extend(self.photo_metadata(raw, suffix))
                    stream.write(stripped, filter=pikepdf.Name(str(filters)))
                    changed += 1
                if changed:
                    pdf.save(path)
        except (pikepdf.PdfError, ValueError):
            raise _Refused() from None

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
        remaining: list[list[str]] = []
        for key, value in after:
            field = remaining_field(key, category(key, self.kind))
            if field and _is_data(value) and len(remaining) < MAX_REMAINING:
                remaining.append([field, value[:MAX_VALUE_CHARS]])
        report = {"kind": self.kind.value, "removed": removed, "remaining": remaining}
        return json.dumps(report, ensure_ascii=False)


def _is_data(value: str) -> bool:
    return value.strip().lower() not in EMPTY_VALUES


def main() -> int:
    kind, scratch = Kind(sys.argv[1]), sys.argv[2]
    confinement = Confinement.from_argv(sys.argv[3:])
    confine(confinement, scratch)  # removed by this child if the server dies
    cleaning = _Cleaning(kind, scratch, confinement)
    status = _clean(cleaning)
    if status != 0 and cleaning.kind != kind:
        sys.stderr.write(json.dumps({"kind": cleaning.kind.value}))  # what the ZIP was
    return status


def _clean(cleaning: _Cleaning) -> int:
    try:
        path = cleaning.receive(sys.stdin.buffer)
        before = cleaning.fields(path)
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
