"""Safe copies: a document or picture turned into pixels and rebuilt as a new PDF from
those pixels only, in two confined children (the Dangerzone approach).

Investigators open anonymous evidence on office PCs. A *safe copy* keeps what a page
shows and nothing else: no fonts, scripts, links, forms, embedded files, layers or
metadata survive, because nothing of the original reaches the copy but RGB pixels.

Two children, each confined (:mod:`sipadu.evidence.confinement`) and joined by a pipe
through the server::

    file ──stdin──▶ render child ──pixels──▶ build child ──PDF──▶ write
                    (PDF/office/image)        (pixels → JPEG pages)

* The **render child** (``python -m sipadu.evidence.safe_copy render KIND …``) reads the
  file and writes a plain stream of pages (:data:`MAGIC`, then per page ``PAGE``, width,
  height, dots per inch and the RGB rows; ``DONE`` and the page count at the end). A PDF
  is rendered with PDFium (pypdfium2); a picture decoded with Pillow (+ pillow-heif);
  an office document (OOXML, ODF, and legacy DOC/XLS/PPT/RTF) is first converted to PDF
  by LibreOffice headless, in a private folder on a memory file system
  (:func:`~sipadu.evidence.confinement.scratch_directory`, made and removed by the
  server) with a fresh profile that loads no linked content, inside bubblewrap
  (:data:`ISOLATE`): no network at all and no file of the server (a linked picture,
  section or template is never fetched), and nothing it starts outlives it.
* The **build child** (``python -m sipadu.evidence.safe_copy build …``) trusts nothing of
  that stream: it checks every page's size against the same limits, encodes the pixels
  as JPEG and writes a new PDF (PDFium's writer) to stdout. A render child taken over
  by a malicious file can only send pixels.

Bounds (:class:`Limits`): at most ``max_pages`` pages; each page rendered at ``dpi``,
fewer for a large page so that it holds at most ``max_page_pixels`` (below
:data:`MIN_DPI` the page is refused as too large); at most ``max_total_pixels`` for the
whole file, counted from the page sizes before the first page is rendered. Each child
runs under its own address-space, CPU and file-size limits (LibreOffice needs far more
address space than PDFium: measured in docs/casework.md, "Safe copies").

The kind of a file is told from its first bytes (:func:`source_of`), never its name.
"""

import contextlib
import enum
import io
import math
import os
import queue
import resource
import shutil
import signal
import struct
import subprocess
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from typing import BinaryIO

from sipadu.evidence import imagemeta, kinds
from sipadu.evidence.confinement import Confinement, Finished, confine, run, scratch_directory
from sipadu.evidence.kinds import IMAGE_KINDS
from sipadu.evidence.outcome import Kind

MIB = 1024 * 1024
MAGIC = b"SIPADU-PIXELS-1\n"
PAGE = b"PAGE"
DONE = b"DONE"
_PAGE_HEAD = struct.Struct(">4sIIH")  # tag, width, height, dots per inch
_DONE = struct.Struct(">4sI")  # tag, pages
MIN_DPI = 36  # below this a page's text is unreadable: such a page is refused instead
JPEG_QUALITY = 85
HEAD_BYTES = 8192  # what source_of looks at (kinds.HEAD_BYTES)
QUEUE_PIECES = 64  # pieces of pixels in flight between the children (64 KiB each)

# Exit statuses of both children besides 0 (done).
UNREADABLE_EXIT, TOO_COSTLY_EXIT, TOO_LARGE_EXIT, NO_ISOLATION_EXIT = 2, 3, 4, 5
UNSUPPORTED_EXIT = 6

SOFFICE = "/usr/bin/soffice"
BWRAP = "/usr/bin/bwrap"  # bubblewrap (Debian: bubblewrap)
# bubblewrap: new user, mount, network (nothing but a loopback that is down), PID, IPC,
# UTS and cgroup namespaces, killed when the render child dies. The file system it sees
# is built from nothing: /usr read-only (programs, libraries, fonts), the few files of
# /etc LibreOffice reads, fresh /proc, /dev and /tmp, and the scratch folder (added per
# document). No file of the server (instance folder, keys, configuration, other
# reports' files in /tmp or /dev/shm) can be linked into a document.
ISOLATE = [
    BWRAP, "--unshare-all", "--unshare-user", "--die-with-parent",
    "--ro-bind", "/usr", "/usr",
    "--symlink", "usr/bin", "/bin", "--symlink", "usr/lib", "/lib",
    "--symlink", "usr/lib64", "/lib64", "--symlink", "usr/sbin", "/sbin",
    "--ro-bind", "/etc/fonts", "/etc/fonts",
    "--ro-bind-try", "/etc/libreoffice", "/etc/libreoffice",
    "--ro-bind-try", "/etc/ld.so.cache", "/etc/ld.so.cache",
    "--ro-bind-try", "/var/cache/fontconfig", "/var/cache/fontconfig",
    "--proc", "/proc", "--dev", "/dev",
    "--tmpfs", "/tmp",  # noqa: S108 — a new empty one, inside the sandbox only
]  # fmt: skip
# LibreOffice's own settings, in the fresh profile: load nothing a document links to
# (a picture, a section or an OLE object at file://… or http://…), the second guard
# behind the empty file system above. Checked by a test (a linked picture of the server
# is not drawn).
PROFILE_SETTINGS = """<?xml version="1.0" encoding="UTF-8"?>
<oor:items xmlns:oor="http://openoffice.org/2001/registry"
 xmlns:xs="http://www.w3.org/2001/XMLSchema"
 xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
<item oor:path="/org.openoffice.Office.Common/Security/Scripting"><prop
 oor:name="BlockUntrustedRefererLinks" oor:op="fuse"><value>true</value></prop></item>
<item oor:path="/org.openoffice.Office.Common/Security/Scripting"><prop
 oor:name="MacroSecurityLevel" oor:op="fuse"><value>3</value></prop></item>
<item oor:path="/org.openoffice.Office.Common/Security/Scripting"><prop
 oor:name="DisableMacrosExecution" oor:op="fuse"><value>true</value></prop></item>
</oor:items>
"""


class Source(enum.StrEnum):
    """What the render child does with a file."""

    PDF = "pdf"
    OFFICE = "office"  # converted to PDF by LibreOffice first
    IMAGE = "image"


class CannotConvert(enum.StrEnum):
    """Why a file has no safe copy (values are stable: they are sealed and remembered)."""

    UNSUPPORTED = "unsupported"  # not a PDF, office document or picture (by content)
    UNREADABLE = "unreadable"  # looks like one but is damaged, encrypted or malformed
    TOO_LARGE = "too-large"  # too many pages or pixels, or too big a file
    TOO_COSTLY = "too-costly"  # ran out of its memory or time budget (a "bomb")
    NO_ISOLATION = "no-isolation"  # office file; this host cannot cut LibreOffice off the net


class Refused(Exception):
    """No safe copy of this file, for ``reason``."""

    def __init__(self, reason: CannotConvert) -> None:
        super().__init__(reason.value)
        self.reason = reason


@dataclass(frozen=True)
class Limits:
    """What one safe copy may cost: pages, dots per inch, pixels of one page and of the
    whole file; the render child's limits for a PDF or picture (``render``) and for an
    office document (``office``: LibreOffice's address space and its files in the scratch
    folder), and the build child's (``build``)."""

    max_pages: int
    dpi: int
    max_page_pixels: int
    max_total_pixels: int
    max_input_bytes: int
    render: Confinement
    office: Confinement
    build: Confinement

    def argv(self) -> list[str]:
        return [str(self.max_pages), str(self.dpi), str(self.max_page_pixels),
                str(self.max_total_pixels)]  # fmt: skip


@dataclass(frozen=True)
class Made:
    """A safe copy written: its page count and the pixels rendered for it."""

    pages: int
    pixels: int


# --- what a file is, from its first bytes -------------------------------------------------

OFFICE_KINDS = frozenset({Kind.DOCX, Kind.XLSX, Kind.PPTX, Kind.ODT, Kind.ODS, Kind.ODP})


def source_of(head: bytes) -> tuple[Source, str] | None:
    """What to do with a file whose first bytes are ``head``, and the name extension
    LibreOffice is given (it reads the content; the extension only picks the filter it
    tries first); ``None`` for a file that has no safe copy."""
    kind = kinds.detect(head)
    if kind is Kind.OLE:
        return Source.OFFICE, ".doc"  # or XLS, PPT: LibreOffice tells them apart
    if kind is Kind.RTF:
        return Source.OFFICE, ".rtf"
    if kind == Kind.PDF:
        return Source.PDF, ".pdf"
    if kind in OFFICE_KINDS or kind is Kind.ZIP:  # a ZIP: told from its directory
        return Source.OFFICE, "." + kind.value
    if kind in IMAGE_KINDS:
        return Source.IMAGE, "." + kind.value
    return None


_OFFERED_TYPES = ("application/pdf", "image/", "application/vnd.openxmlformats-officedocument.",
                  "application/vnd.oasis.opendocument.", "application/msword",
                  "application/vnd.ms-", "application/rtf", "text/rtf")  # fmt: skip
_OFFERED_EXTENSIONS = frozenset(
    "pdf jpg jpeg png webp gif tif tiff heic heif".split()
    + "docx xlsx pptx odt ods odp doc xls ppt rtf".split()
)


def offered_for(name: str, content_type: str) -> bool:
    """Whether a page offers a safe copy of a file with this (stored) name and declared
    type: a hint only, so that sound or video gets no useless button. Whether a copy
    can be made is told by the file's content when it is asked for."""
    if content_type.lower().startswith(("audio/", "video/")):
        return False  # a recording (stored typed by its content: sipadu.web.uploads)
    extension = name.rpartition(".")[2].lower() if "." in name else ""
    if not extension and content_type.lower() in ("", "application/octet-stream"):
        return True  # nothing says what it is (a photo named "bukti"): its content will
    return extension in _OFFERED_EXTENSIONS or content_type.lower().startswith(_OFFERED_TYPES)


@cache
def isolation_available() -> bool:
    """Whether this host lets the portal's user make the namespaces LibreOffice runs in
    with bubblewrap (checked once per process by running ``true`` so). Without them
    office documents get no safe copy (:attr:`CannotConvert.NO_ISOLATION`), rather than
    a LibreOffice that could reach the network or the server's files."""
    if not (os.path.exists(BWRAP) and os.path.exists(SOFFICE)):
        return False
    try:
        done = subprocess.run(  # noqa: S603 — fixed argv
            [*ISOLATE, "true"], capture_output=True, timeout=10, env={}, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return False
    return done.returncode == 0


# --- server side --------------------------------------------------------------------------


def make(
    pieces: Iterable[bytes | memoryview],
    head: bytes,
    size: int,
    limits: Limits,
    write: Callable[[bytes], object],
) -> Made:
    """Make the safe copy of a file of ``size`` bytes whose first bytes are ``head`` and
    whose whole content ``pieces`` yields; the new PDF goes to ``write`` piece by piece
    as the build child writes it (a caller discards what it wrote if this raises).

    Raises :class:`Refused` (``UNSUPPORTED`` before any child starts; ``NO_ISOLATION``
    for an office file on a host without user namespaces; ``TOO_LARGE``; ``UNREADABLE``;
    ``TOO_COSTLY`` when a child was killed by its limits). Whatever ``write`` raises
    stops both children and is raised here."""
    found = source_of(head[:HEAD_BYTES])
    if found is None:
        raise Refused(CannotConvert.UNSUPPORTED)
    source, extension = found
    if size > limits.max_input_bytes:
        raise Refused(CannotConvert.TOO_LARGE)
    if source == Source.OFFICE and not isolation_available():
        raise Refused(CannotConvert.NO_ISOLATION)
    render = limits.office if source == Source.OFFICE else limits.render
    pixels: queue.Queue[bytes | None] = queue.Queue(QUEUE_PIECES)
    built = threading.Event()
    rendered: list[Finished] = []
    failed: list[BaseException] = []

    def send(piece: bytes) -> None:
        while True:
            try:
                pixels.put(bytes(piece), timeout=0.2)
                return
            except queue.Full:
                if built.is_set():  # the build child stopped reading: stop rendering
                    raise _Stopped() from None

    def render_all() -> None:
        try:
            argv = ["render", source.value, extension, *limits.argv()]
            if source != Source.OFFICE:
                rendered.append(run(__name__, [*argv, "-"], pieces, render, send))
                return
            # The server makes and removes LibreOffice's folder (the reporter's file in
            # plaintext), after run has ended the child and all it started: a child
            # killed by the watchdog cannot leave it behind.
            with scratch_directory() as folder:
                rendered.append(run(__name__, [*argv, folder], pieces, render, send))
        except _Stopped:
            rendered.append(Finished(-signal.SIGKILL, b""))
        except BaseException as exc:  # noqa: BLE001 — raised again below
            failed.append(exc)
        finally:
            while True:  # the end mark, even if the build child no longer reads
                try:
                    pixels.put(None, timeout=0.2)
                    break
                except queue.Full:
                    if built.is_set():
                        break

    renderer = threading.Thread(target=render_all, daemon=True)
    renderer.start()
    try:
        finished = run(__name__, ["build", *limits.argv()], _drain(pixels), limits.build, write)
    finally:
        built.set()
        renderer.join()
    if failed:
        raise failed[0]
    _check(rendered[0])
    _check(finished)
    try:
        pages, total = (int(n) for n in finished.report.split()[:2])
    except ValueError:
        raise Refused(CannotConvert.UNREADABLE) from None
    return Made(pages, total)


class _Stopped(Exception):
    pass


def _drain(pixels: "queue.Queue[bytes | None]") -> Iterator[bytes]:
    while (piece := pixels.get()) is not None:
        yield piece


def _check(finished: Finished) -> None:
    if finished.status == 0:
        return
    reason = {
        UNREADABLE_EXIT: CannotConvert.UNREADABLE,
        TOO_LARGE_EXIT: CannotConvert.TOO_LARGE,
        NO_ISOLATION_EXIT: CannotConvert.NO_ISOLATION,
        UNSUPPORTED_EXIT: CannotConvert.UNSUPPORTED,
    }.get(finished.status, CannotConvert.TOO_COSTLY)  # killed, or out of memory
    raise Refused(reason)


# --- the render child ---------------------------------------------------------------------


class _TooLarge(Exception):
    pass


class _TooCostly(Exception):
    pass


class _NoIsolation(Exception):
    pass


def _page_dpi(width_in: float, height_in: float, dpi: int, max_page_pixels: int) -> int:
    """The resolution a page of this size (inches) is rendered at: ``dpi``, or less so
    that it holds at most ``max_page_pixels``. Raises :class:`_TooLarge` below
    :data:`MIN_DPI`."""
    area = max(width_in * height_in, 1e-6)
    fitted = min(dpi, int(math.sqrt(max_page_pixels / area)))
    if fitted < MIN_DPI:
        raise _TooLarge()
    return fitted


class _Pages:
    """Writes the pixel stream, counting pages and pixels against the limits."""

    def __init__(self, out: BinaryIO, max_pages: int, max_total: int) -> None:
        self.out, self.max_pages, self.max_total = out, max_pages, max_total
        self.count = 0
        self.pixels = 0
        out.write(MAGIC)

    def reserve(self, pages: int, pixels: int) -> None:
        """Refuse before any rendering what would exceed the limits."""
        if pages > self.max_pages or pixels > self.max_total:
            raise _TooLarge()

    def page(self, rgb: bytes, width: int, height: int, dpi: int) -> None:
        self.count += 1
        self.pixels += width * height
        if self.count > self.max_pages or self.pixels > self.max_total:
            raise _TooLarge()
        if len(rgb) != width * height * 3:
            raise ValueError("not RGB")
        self.out.write(_PAGE_HEAD.pack(PAGE, width, height, dpi))
        self.out.write(rgb)

    def done(self) -> None:
        if self.count == 0:
            raise ValueError("no page")
        self.out.write(_DONE.pack(DONE, self.count))
        self.out.flush()


def render_pdf(data: bytes, pages: _Pages, dpi: int, max_page_pixels: int) -> None:
    """Every page of a PDF as RGB pixels. Page sizes are read first, so a file of too
    many pages or pixels is refused before anything is rendered."""
    import pypdfium2 as pdfium

    try:
        pdf = pdfium.PdfDocument(data)
    except pdfium.PdfiumError:
        raise ValueError("not a PDF PDFium reads") from None
    count = len(pdf)
    pages.reserve(count, 0)
    plan = []
    for index in range(count):
        width, height = pdf.get_page_size(index)  # points, 1/72 inch
        page_dpi = _page_dpi(width / 72, height / 72, dpi, max_page_pixels)
        plan.append(page_dpi)
    pages.reserve(
        count,
        sum(
            math.ceil(w * d / 72) * math.ceil(h * d / 72)
            for (w, h), d in ((pdf.get_page_size(i), plan[i]) for i in range(count))
        ),
    )
    for index, page_dpi in enumerate(plan):
        page = pdf[index]
        try:
            # Forms are not initialised: no form script runs (and PDFium is built without
            # a JavaScript engine); annotations are drawn as they look.
            bitmap = page.render(scale=page_dpi / 72, may_draw_forms=False, rev_byteorder=True)
            image = bitmap.to_pil().convert("RGB")
            bitmap.close()
        finally:
            page.close()
        pages.page(image.tobytes(), image.width, image.height, page_dpi)
        image.close()
    pdf.close()


def render_image(data: bytes, pages: _Pages, dpi: int, max_page_pixels: int) -> None:
    """A picture as one page (each page of a multi-page TIFF as its own), turned the way
    its EXIF says, scaled down to ``max_page_pixels``; shown at ``dpi``. The size is read
    from the header first: a picture of more than four times ``max_page_pixels`` is
    refused as too large before any pixel is decoded."""
    import warnings

    from PIL import Image, ImageSequence

    try:
        from pillow_heif import register_heif_opener
    except ImportError:  # pragma: no cover — then HEIF pictures are unreadable here
        pass
    else:
        register_heif_opener()
    largest = max_page_pixels * 4
    Image.MAX_IMAGE_PIXELS = largest
    warnings.simplefilter("error", Image.DecompressionBombWarning)
    try:
        image = Image.open(io.BytesIO(data))
    except (Image.DecompressionBombWarning, Image.DecompressionBombError):
        raise _TooLarge() from None
    with image:
        frames = getattr(image, "n_frames", 1) if image.format == "TIFF" else 1
        pages.reserve(frames, 0)
        for frame in ImageSequence.Iterator(image):
            if pages.count >= frames:
                break
            if frame.size[0] * frame.size[1] > largest:
                raise _TooLarge()
            if image.format == "JPEG":
                frame.draft("RGB", _fit(frame.size, max_page_pixels))  # decode smaller
            picture = imagemeta.upright(frame.convert("RGBA"))
            flat = Image.new("RGB", picture.size, (255, 255, 255))
            flat.paste(picture, mask=picture.getchannel("A"))
            picture.close()
            if flat.width * flat.height > max_page_pixels:
                flat.thumbnail(_fit(flat.size, max_page_pixels))
            pages.page(flat.tobytes(), flat.width, flat.height, dpi)
            flat.close()


def _fit(size: tuple[int, int], max_pixels: int) -> tuple[int, int]:
    width, height = size
    if width * height <= max_pixels:
        return size
    scale = math.sqrt(max_pixels / (width * height))
    return max(1, int(width * scale)), max(1, int(height * scale))


class _NotADocument(Exception):
    """A ZIP that is no OOXML or ODF document (told from its central directory)."""


def _check_unpacked(data: bytes, memory_bytes: int, extension: str) -> str:
    """A ZIP-based document (OOXML, ODF) whose parts unpack to more than a quarter of
    the address space LibreOffice may use (it holds the document's XML several times
    over) is refused as too large before LibreOffice starts: a "zip bomb" costs nothing.
    The sizes are those the ZIP's directory states; a part that unpacks to more than
    it states fails LibreOffice's own check, and the memory limit holds anyway. A ZIP
    whose first bytes did not tell its kind (``.zip``) is told from its directory
    (:func:`sipadu.evidence.kinds.archive_kind`): returns the extension LibreOffice is
    given; raises :class:`_NotADocument` for a plain archive."""
    if not data.startswith(b"PK\x03\x04"):
        return extension
    import zipfile

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = archive.infolist()
            unpacked = sum(item.file_size for item in members)
            if extension == ".zip":
                first = members[0] if members else None
                small = first is not None and first.file_size <= 256
                mimetype = archive.read(first) if small and first is not None else None
                kind = kinds.archive_kind([m.filename for m in members], mimetype)
    except (zipfile.BadZipFile, ValueError, OSError):
        raise ValueError("not a ZIP") from None
    if unpacked > memory_bytes // 4:
        raise _TooLarge()
    if extension == ".zip":
        if kind is None:
            raise _NotADocument()
        return "." + kind.value
    return extension


def office_to_pdf(
    data: bytes, extension: str, folder: str, seconds: int, memory_bytes: int
) -> bytes:
    """An office document as PDF, by LibreOffice headless in bubblewrap (:data:`ISOLATE`:
    no network, no file of the server), with a fresh profile that loads no linked
    content (:data:`PROFILE_SETTINGS`) and its files in ``folder`` (a private folder on
    a memory file system, made and removed by the server). Raises :class:`_TooCostly`
    when it was killed (its limits, or ``seconds`` of wall time), :class:`_NoIsolation`
    when the sandbox cannot be made, ``ValueError`` when it made no PDF."""
    extension = _check_unpacked(data, memory_bytes, extension)
    source = os.path.join(folder, "document" + extension)
    with open(source, "wb") as handle:
        handle.write(data)
    out = os.path.join(folder, "out")
    settings = os.path.join(folder, "profile", "user")
    os.makedirs(settings, mode=0o700)
    with open(os.path.join(settings, "registrymodifications.xcu"), "w") as handle:
        handle.write(PROFILE_SETTINGS)
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": folder,
        "TMPDIR": folder,  # LibreOffice's own temporary files stay in the scratch folder
        "LANG": "C.UTF-8",
        "SAL_USE_VCLPLUGIN": "svp",
    }
    argv = [
        *ISOLATE,
        "--bind",
        folder,
        folder,
        "--chdir",
        folder,
        SOFFICE,
        "--headless",
        "--norestore",
        "--nolockcheck",
        "--nologo",
        "--nodefault",
        f"-env:UserInstallation=file://{folder}/profile",
        "--convert-to",
        "pdf",
        "--outdir",
        out,
        source,
    ]
    office = subprocess.Popen(  # noqa: S603 — fixed argv
        argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=env,
        cwd=folder,
        # A group of its own (killed together on a timeout), in the render child's
        # session (which the server ends: confinement.end_session).
        process_group=0,
        preexec_fn=_die_with_parent,  # one thread in the child: safe
    )
    try:
        _out, report = office.communicate(timeout=seconds)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(office.pid, signal.SIGKILL)
        office.wait()
        raise _TooCostly() from None
    if office.returncode < 0 or office.returncode == 137:
        raise _TooCostly()
    if b"bwrap" in report[:200] and office.returncode != 0:
        raise _NoIsolation()
    made = os.path.join(out, "document.pdf")
    if not os.path.exists(made):
        # LibreOffice says only "could not be loaded", for a damaged file and for one
        # that ran out of memory alike (it catches the failed allocation). A descendant
        # that used more than half the address space it may have tells the two apart.
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
        if office.returncode in (134, 139) or peak > memory_bytes // 2:
            raise _TooCostly()
        raise ValueError("LibreOffice made no PDF")
    os.remove(source)
    with open(made, "rb") as handle:
        pdf = handle.read()
    shutil.rmtree(out, ignore_errors=True)
    return pdf


def _die_with_parent() -> None:
    """Child of the render child: killed when the render child dies (its watchdog)."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def _render_main(args: list[str]) -> int:
    source, extension = Source(args[0]), args[1]
    max_pages, dpi, max_page_pixels, max_total = (int(a) for a in args[2:6])
    folder = args[6]  # the scratch folder the server made, for LibreOffice ("-": none)
    confinement = Confinement.from_argv(args[7:])
    confine(confinement, folder if folder != "-" else None)  # removed if the server dies
    out = sys.stdout.buffer
    try:
        data = sys.stdin.buffer.read()
        pages = _Pages(out, max_pages, max_total)
        if source == Source.IMAGE:
            render_image(data, pages, dpi, max_page_pixels)
        else:
            if source == Source.OFFICE:
                seconds, memory = confinement.cpu_seconds * 2, confinement.memory_bytes
                data = office_to_pdf(data, extension, folder, seconds, memory)
            render_pdf(data, pages, dpi, max_page_pixels)
        pages.done()
    except _TooLarge:
        return TOO_LARGE_EXIT
    except (_TooCostly, MemoryError):
        return TOO_COSTLY_EXIT
    except _NoIsolation:
        return NO_ISOLATION_EXIT
    except _NotADocument:
        return UNSUPPORTED_EXIT
    except BrokenPipeError:
        return TOO_COSTLY_EXIT  # the build child stopped reading
    except Exception as exc:  # noqa: BLE001 — any failure is a refusal, reported by kind
        sys.stderr.write(type(exc).__name__ + "\n")
        return UNREADABLE_EXIT
    return 0


# --- the build child ----------------------------------------------------------------------


def _read_exactly(stream: BinaryIO, size: int) -> bytes:
    data = stream.read(size)
    if len(data) != size:
        raise ValueError("the pixel stream ended early")
    return data


def build(
    stream: BinaryIO, out: BinaryIO, max_pages: int, max_page_pixels: int, max_total: int
) -> tuple[int, int]:
    """A new PDF from the pixel stream on ``stream``: each page one JPEG picture on a
    page of its size at its resolution, nothing else. Checks every size against the
    limits before reading its pixels. Returns pages and pixels."""
    import pypdfium2 as pdfium
    from PIL import Image

    if _read_exactly(stream, len(MAGIC)) != MAGIC:
        raise ValueError("not a pixel stream")
    pdf = pdfium.PdfDocument.new()
    count = total = 0
    while True:
        tag = _read_exactly(stream, 4)
        if tag == DONE:
            (declared,) = struct.unpack(">I", _read_exactly(stream, 4))
            if declared != count or count == 0 or stream.read(1):
                raise ValueError("the pixel stream does not end as it should")
            break
        if tag != PAGE:
            raise ValueError("not a page")
        width, height, dpi = struct.unpack(">IIH", _read_exactly(stream, _PAGE_HEAD.size - 4))
        count += 1
        total += width * height
        if (
            not (0 < width and 0 < height and MIN_DPI <= dpi <= 1200)
            or width * height > max_page_pixels
            or count > max_pages
            or total > max_total
        ):
            raise _TooLarge()
        picture = Image.frombytes("RGB", (width, height), _read_exactly(stream, width * height * 3))
        encoded = io.BytesIO()
        picture.save(encoded, "JPEG", quality=JPEG_QUALITY)
        picture.close()
        encoded.seek(0)
        page_width, page_height = width * 72 / dpi, height * 72 / dpi
        page = pdf.new_page(page_width, page_height)
        image = pdfium.PdfImage.new(pdf)
        image.load_jpeg(encoded, inline=True)
        image.set_matrix(pdfium.PdfMatrix().scale(page_width, page_height))
        page.insert_obj(image)
        page.gen_content()
        page.close()
    pdf.save(out)
    pdf.close()
    out.flush()
    return count, total


def _build_main(args: list[str]) -> int:
    max_pages, _dpi, max_page_pixels, max_total = (int(a) for a in args[:4])
    confine(Confinement.from_argv(args[4:]))
    try:
        pages, pixels = build(
            sys.stdin.buffer, sys.stdout.buffer, max_pages, max_page_pixels, max_total
        )
    except _TooLarge:
        return TOO_LARGE_EXIT
    except MemoryError:
        return TOO_COSTLY_EXIT
    except Exception as exc:  # noqa: BLE001 — any failure is a refusal, reported by kind
        sys.stderr.write(type(exc).__name__ + "\n")
        return UNREADABLE_EXIT
    sys.stderr.write(f"{pages} {pixels}\n")
    return 0


def main() -> int:
    mode, args = sys.argv[1], sys.argv[2:]
    if mode == "render":
        return _render_main(args)
    if mode == "build":
        return _build_main(args)
    return UNREADABLE_EXIT


if __name__ == "__main__":
    sys.exit(main())
