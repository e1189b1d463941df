"""Strip an image of its metadata, in a child process that can do little harm.

    python -m sipadu.evidence.imagestrip MAX_PIXELS BUDGET_PIXELS MEMORY_BYTES CPU_SECONDS 0
        < image > clean-image

Reads a JPEG, PNG, WebP, GIF, TIFF or HEIF/HEIC on standard input (the format told from
its content, :mod:`sipadu.evidence.kinds`) and writes the same picture, re-encoded in
the same format (a HEIF too large to re-encode as HEIF within the memory limit: as a
JPEG, :data:`HEIF_AS_JPEG`), with its pixels only: no EXIF (camera, GPS position, time), XMP, IPTC,
ICC profile, comments, text chunks or thumbnails. What is kept: of a GIF every frame
with its duration and the loop count; of a TIFF every page, re-encoded losslessly
(Deflate) with no tag but those of its own pixels; of a multi-picture JPEG or a HEIF
with several pictures, the first (primary) one. An animated PNG (APNG) or WebP loses
its metadata chunks byte for byte, every frame kept as sent (:func:`_strip_animation`).
A JPEG whose pixels cannot all be decoded (cut off, its scan data damaged) loses its
metadata segments without being decoded (:func:`_strip_damaged_jpeg`). A picture whose
pixels are not all it holds (a DNG's photo behind its preview, a phone's motion photo
with its clip after the JPEG: :class:`~sipadu.evidence.imagecheck.Incomplete`) is not
cleaned: exit 5, kept as sent ("cleaning would damage it").

Before Pillow is even imported the process confines itself
(:mod:`sipadu.evidence.confinement`: it may create no file at all), so a malicious
image, a decompression bomb or a parser bug costs one short-lived, contained process.
The file's structure is walked cheaply (:mod:`sipadu.evidence.imagecheck`: scans,
markers, chunks, frames, pages that cost CPU out of proportion to the pixels) before any
decoder sees it. The size is read from the header (every frame's or page's) before any
pixel is decoded: over ``MAX_PIXELS``, or more than this format can be cleaned in within
``MEMORY_BYTES`` (:data:`BYTES_PER_PIXEL`), the image is refused as too large to clean;
over ``BUDGET_PIXELS`` (what is left of the request's budget) as too large for this
request. Before stripping, the child reads which categories of hidden data the picture
carries (:mod:`sipadu.evidence.imagemeta`).

Exit 0 with the clean image on stdout and a report on stderr, exactly three lines::

    kind=heif
    removed=camera,dates,gps
    pixels=12000000

(the kind of the clean image, :class:`~sipadu.evidence.outcome.Kind`; the categories
removed, :class:`~sipadu.evidence.outcome.Removed`, sorted, comma-separated, possibly
none; the pixels decoded, every frame and page counted). Exit 2 (not cleanable), 3 (over
the budget), 4 (too large to clean) or 5 (would damage) with nothing on stdout.

:func:`clean` runs the child from the server, streams its output to a writer and parses
the report strictly.
"""

import io
import re
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sipadu.evidence import imagecheck, imagemeta, picturescrub
from sipadu.evidence.confinement import Confinement, confine, run
from sipadu.evidence.outcome import Cleaned, Kind, Removed

if TYPE_CHECKING:  # Pillow is imported only once the process is confined
    import PIL.Image

NOT_CLEANABLE, OVER_BUDGET, TOO_LARGE, WOULD_DAMAGE = 2, 3, 4, 5
MIB = 1024 * 1024
READ_BYTES = 1024 * 1024
# What cleaning costs in address space (what RLIMIT_AS caps): the interpreter and Pillow
# (and a file of up to INPUT_IN_BASE bytes), plus so many bytes per pixel. Measured with
# benchmarks/image_clean.py (Pillow 12, libjpeg-turbo 3, libwebp 1.6, pillow-heif 1.8 with
# libheif 1.23, x265 4.3) at 12 and 50 megapixels: 39 MiB + 8.0 bytes per pixel for RGB
# JPEG and PNG, 13.2 for a progressive CMYK JPEG (its coefficients are held whole), 16.5
# for WebP (libwebp's animation decoder, which Pillow uses for every WebP, keeps two RGBA
# canvases besides the picture); at 50 megapixels 5.1 for a GIF, 5.8 for a GIF of 100
# frames (Pillow's GIF writer holds every frame), 9.0 for a Deflate TIFF, 16.9 for an
# uncompressed 143 MiB one (its input held twice, see strip); at 12 megapixels 17 for a
# HEIF decoded and written as JPEG, 43 for one re-encoded by x265. Rounded up here, so a
# 50-megapixel picture of every format but HEIF fits the default 1024 MiB.
BASE_BYTES = 64 * MIB
INPUT_IN_BASE = 20 * MIB
BYTES_PER_PIXEL = {
    "JPEG": 14,
    "PNG": 10,
    "WEBP": 20,
    "GIF": 8,
    "TIFF": 12,
    "HEIF": 48,
    "HEIF-AS-JPEG": 20,
}
# Of a file larger than INPUT_IN_BASE, every further byte is held too: it takes from the
# pixels. A file larger than this share of the memory limit is too large to clean at all.
MAX_INPUT_SHARE = 2
# x265 (HEIF's encoder) with its "ultrafast" preset, one thread pool and one frame
# thread: 3.8 s of CPU for a 12-megapixel photo instead of 12 s at its default
# ("medium"), for a file 1.75 times as large; 560 MiB of address space instead of 630.
HEIF_ENCODING = {
    "quality": 90,
    "enc_params": {
        "preset": "ultrafast",
        "x265:pools": "1",
        "x265:frame-threads": "1",
        "x265:lookahead-slices": "0",
    },
}
# Re-encoding as HEIF costs x265's buffers besides the decoded picture (43 bytes per
# pixel in all at 12 megapixels): a HEIF too large for that within the memory limit but
# not for decoding alone is cleaned to a JPEG (17 bytes per pixel), and its Cleaned.kind
# says so. With the default 1024 MiB: HEIF up to 20 megapixels, JPEG beyond.
HEIF_AS_JPEG = "HEIF-AS-JPEG"

_REPORT = re.compile(rb"kind=([a-z]+)\nremoved=([a-z,-]*)\npixels=(0|[1-9][0-9]{0,15})\n")


class NotCleanable(Exception):
    """Not a picture Pillow can read within the limits, or built to cost CPU out of
    proportion to its pixels (:mod:`sipadu.evidence.imagecheck`)."""


class TooCostly(NotCleanable):
    """Killed by its CPU limit or the watchdog, or out of memory: built to cost more
    than its pixels (a bomb the structural checks missed)."""


# The child ran out of memory (Python names MemoryError on stderr, :func:`main`)
OUT_OF_MEMORY = b"MemoryError"


class WouldDamage(NotCleanable):
    """Pillow would read only part of the picture (a DNG's preview, not its photo; a
    motion photo's still, not its clip: :class:`~sipadu.evidence.imagecheck.Incomplete`);
    re-encoded, the rest is lost."""


class OverBudget(Exception):
    """More pixels than the request has left to clean."""


class TooLarge(Exception):
    """More pixels than one picture may have (all its frames or pages together), or than
    its format can be cleaned in within the child's memory limit."""


def largest_pixels(kind: str, memory_bytes: int, max_pixels: int) -> int:
    """The most pixels a picture of ``kind`` (Pillow's format name, as in
    :data:`BYTES_PER_PIXEL`) may have to be cleaned within ``memory_bytes`` of address
    space (and ``max_pixels``)."""
    return max(0, min(max_pixels, (memory_bytes - BASE_BYTES) // BYTES_PER_PIXEL[kind]))


def clean(
    pieces: Iterable[bytes | memoryview],
    max_pixels: int,
    budget: int,
    confinement: Confinement,
    write: Callable[[bytes], object],
) -> Cleaned:
    """Clean the image whose bytes are ``pieces`` in a confined child; the clean picture
    goes to ``write`` in pieces as the child produces it (nothing of it is held here).
    Returns what was done: the clean picture's kind, the categories of hidden data it
    had, and the pixels decoded (every frame and page). ``max_pixels`` bounds one
    picture, ``budget`` is what the request has left. Raises :class:`NotCleanable`
    (:class:`WouldDamage`, :class:`TooCostly`), :class:`OverBudget` or
    :class:`TooLarge`; whatever ``write`` raises stops the child."""
    finished = run(
        "sipadu.evidence.imagestrip", [str(max_pixels), str(budget)], pieces, confinement, write
    )
    if finished.status == OVER_BUDGET:
        raise OverBudget()
    if finished.status == TOO_LARGE:
        raise TooLarge()
    if finished.status == WOULD_DAMAGE:
        raise WouldDamage()
    if finished.status < 0 or OUT_OF_MEMORY in finished.report:
        raise TooCostly()  # its CPU limit, the watchdog, or its address space
    if finished.status != 0:
        raise NotCleanable()
    return parse_report(finished.report)


def parse_report(report: bytes) -> Cleaned:
    """The child's report (the three lines above) as :class:`Cleaned`. Raises
    :class:`NotCleanable` for anything else."""
    match = _REPORT.fullmatch(report)
    if match is None:
        raise NotCleanable()
    try:
        kind = Kind(match[1].decode())
        removed = frozenset(Removed(name) for name in match[2].decode().split(",") if name)
    except ValueError:
        raise NotCleanable() from None
    return Cleaned(kind=kind, removed=removed, pixels=int(match[3]))


def report(stripped: "Stripped") -> str:
    """The report line format :func:`parse_report` reads."""
    removed = ",".join(sorted(category.value for category in stripped.removed))
    return f"kind={stripped.kind.value}\nremoved={removed}\npixels={stripped.pixels}\n"


# --- the child --------------------------------------------------------------------------


@dataclass(frozen=True)
class Stripped:
    """The clean picture (``data``, of ``kind``), what was removed, the pixels decoded."""

    kind: Kind
    removed: frozenset[Removed]
    pixels: int
    data: bytes


def strip(data: bytes, max_pixels: int, budget: int, memory_bytes: int) -> Stripped:
    """The clean picture and what cleaning it found. Raises :class:`OverBudget`,
    :class:`TooLarge`, or anything else for a picture that cannot be cleaned."""
    pillow_format = imagecheck.kind(data)
    try:
        imagecheck.check(data, pillow_format)
    except imagecheck.TooMany:
        if pillow_format == "GIF":
            return _strip_gif_blocks(data)
        raise TooLarge() from None
    # Beyond what BASE_BYTES covers, the input is held twice while it is read (its pieces,
    # then the joined bytes): it takes from the memory the pixels may have.
    available = memory_bytes - 2 * max(0, len(data) - INPUT_IN_BASE)
    # A HEIF is refused only if it is too large to be cleaned even to a JPEG.
    cheapest = HEIF_AS_JPEG if pillow_format == "HEIF" else pillow_format
    largest = largest_pixels(cheapest, available, max_pixels)
    _set_up_pillow(largest, pillow_format)
    if pillow_format == "GIF":
        try:
            return _strip_gif(data, largest, budget)
        except TooLarge:
            return _strip_gif_blocks(data)
    if pillow_format == "TIFF":
        return _strip_tiff(data, largest, budget)
    if imagecheck.animated(data, pillow_format):
        return _strip_animation(data, pillow_format)
    if pillow_format == "JPEG" and imagecheck.motion_photo(data):
        raise imagecheck.Incomplete("a motion photo's clip")
    try:
        removed, pixels, clean = _pixels_only(data, pillow_format, largest, budget)
    except (OSError, SyntaxError, ValueError):
        if pillow_format != "JPEG":
            raise
        return _strip_damaged_jpeg(data, largest, budget)
    # The original (and its decoder's buffers) is gone: only the copy is encoded.
    out = io.BytesIO()
    if pillow_format == "HEIF" and pixels > largest_pixels("HEIF", available, max_pixels):
        pillow_format = "JPEG"  # too large to re-encode as HEIF here: see HEIF_AS_JPEG
    if pillow_format == "JPEG":
        if clean.mode != "RGB":
            clean = clean.convert("RGB")
        clean.save(out, "JPEG", quality=92, optimize=True)
    elif pillow_format == "PNG":
        # zlib's default level: optimize=True took 38 s instead of 3 s for a noisy
        # 50-megapixel picture, for 1 % less.
        clean.save(out, "PNG", compress_level=6)
    elif pillow_format == "WEBP":
        clean.save(out, "WEBP", quality=92, method=2)  # method 4 (default): twice the CPU
    else:
        if clean.mode not in ("RGB", "RGBA"):
            clean = clean.convert("RGBA" if "A" in clean.mode else "RGB")
        clean.save(out, "HEIF", **HEIF_ENCODING)
    return Stripped(Kind(pillow_format.lower()), frozenset(removed), pixels, out.getvalue())


def _strip_damaged_jpeg(data: bytes, largest: int, budget: int) -> Stripped:
    """A JPEG whose pixels cannot all be decoded (cut off, or its scan data damaged:
    Pillow refuses it, a viewer shows what it can) without its metadata segments, its
    picture bytes as they are (:func:`picturescrub.strip_jpeg`), and what its header
    said it carried. The EXIF Orientation goes with the EXIF: a photo stored sideways
    shows sideways. Raises ValueError (or Pillow's errors) for a header that cannot be
    read, :class:`TooLarge` or :class:`OverBudget`."""
    with _open(data, ["JPEG", "MPO"]) as image:
        pixels = image.size[0] * image.size[1]
        _within(pixels, largest, budget)
        removed = imagemeta.found(image, image.format or "JPEG")
    stripped, dropped = picturescrub.strip_jpeg(data)
    if dropped and not removed:
        removed.add(Removed.OTHER)
    return Stripped(Kind.JPEG, frozenset(removed), pixels, stripped)


def _set_up_pillow(largest: int, pillow_format: str) -> None:
    import warnings

    from PIL import GifImagePlugin, Image

    Image.MAX_IMAGE_PIXELS = largest
    warnings.simplefilter("error", Image.DecompressionBombWarning)
    # Frames keep their palette (no quantising on the way back) unless it changes.
    strategy = GifImagePlugin.LoadingStrategy.RGB_AFTER_DIFFERENT_PALETTE_ONLY
    GifImagePlugin.LOADING_STRATEGY = strategy
    if pillow_format == "HEIF":
        import pillow_heif

        # One decoding thread: each thread's stack and malloc arena take address space.
        pillow_heif.options.DECODE_THREADS = 1
        pillow_heif.register_heif_opener()


def _open(data: bytes, formats: list[str]) -> "PIL.Image.Image":
    """The picture, its header read (no pixel decoded). Raises :class:`TooLarge` for
    one over Pillow's decompression bomb limit."""
    from PIL import Image

    try:
        return Image.open(io.BytesIO(data), formats=formats)
    except (Image.DecompressionBombWarning, Image.DecompressionBombError):
        raise TooLarge() from None


def _within(pixels: int, largest: int, budget: int) -> None:
    if pixels > largest:
        raise TooLarge()
    if pixels > budget:
        raise OverBudget()


def _pixels_only(
    data: bytes, pillow_format: str, largest: int, budget: int
) -> "tuple[set[Removed], int, PIL.Image.Image]":
    """What hidden data the picture carries, its pixel count and a new image holding its
    pixels only, turned the way its EXIF says; everything of the original is freed on
    return."""
    # MPO: a JPEG with further pictures after the first (phones' depth or HDR maps).
    formats = ["JPEG", "MPO"] if pillow_format == "JPEG" else [pillow_format]
    with _open(data, formats) as image:
        pixels = image.size[0] * image.size[1]
        _within(pixels, largest, budget)
        removed = imagemeta.found(image, image.format or pillow_format)
        if pillow_format == "PNG":
            removed |= imagemeta.png_chunk_categories(imagecheck.png_chunk_names(data))
        if getattr(image, "n_frames", 1) > 1 and pillow_format != "WEBP":
            removed.add(Removed.OTHER)  # further pictures (depth, HDR, burst) dropped
        image.load()
        return removed, pixels, _copy(image)


def _copy(image: "PIL.Image.Image") -> "PIL.Image.Image":
    """A new image with ``image``'s pixels (and palette, and transparent colour: a PNG's
    or GIF's ``tRNS``/transparent index, without which black writing on a transparent
    background becomes a black rectangle) only, turned the way its EXIF says
    (:func:`imagemeta.upright`; the clean picture has no EXIF to say it): nothing else of
    the original's info travels."""
    from PIL import Image

    transparency = image.info.get("transparency")
    image = imagemeta.upright(image)
    clean = Image.new(image.mode, image.size)
    if image.mode in ("P", "PA"):
        clean.putpalette(image.getpalette() or [])
    clean.paste(image)
    # an index or grey level of a one-band picture, a colour of an RGB one
    if isinstance(transparency, tuple if image.mode == "RGB" else int) and image.mode in (
        "P", "L", "RGB", "I", "I;16"
    ):  # fmt: skip
        clean.info["transparency"] = transparency
    return clean


def _strip_animation(data: bytes, pillow_format: str) -> Stripped:
    """An animated PNG (APNG) or WebP without its metadata chunks, byte for byte
    (:func:`picturescrub.strip_png`, :func:`picturescrub.strip_webp`): every frame, its
    timing and blending stay as sent, and nothing is decoded. (Re-encoded from its
    pixels, only the first frame was kept: found in review.)"""
    if pillow_format == "PNG":
        stripped, dropped = picturescrub.strip_png(data)
        removed = imagemeta.png_chunk_categories(imagecheck.png_chunk_names(data))
    else:
        stripped, dropped = picturescrub.strip_webp(data)
        with _open(data, ["WEBP"]) as image:  # the EXIF and XMP it holds, read
            removed = imagemeta.found(image, "WEBP")
    if dropped and not removed:
        removed.add(Removed.OTHER)
    return Stripped(Kind(pillow_format.lower()), frozenset(removed), 0, stripped)


def _strip_gif(data: bytes, largest: int, budget: int) -> Stripped:
    """Every frame (as Pillow composes it on the canvas) with its duration, and the loop
    count; no comment, XMP or other extension."""
    walk = imagecheck.gif_walk(data)
    removed = imagemeta.gif_categories(walk.comment, walk.plain_text, walk.applications, walk.xmp)
    with _open(data, ["GIF"]) as image:
        width, height = image.size
        pixels = width * height * max(1, walk.frames)
        _within(pixels, largest, budget)
        loop = image.info.get("loop")
        frames, durations, decoded = [], [], 0
        for index in range(max(1, walk.frames)):
            image.seek(index)  # decodes the frames before it
            image.load()
            decoded += image.size[0] * image.size[1]
            _within(decoded, largest, budget)
            frames.append(_copy(image))
            durations.append(int(image.info.get("duration", 0)))
    out = io.BytesIO()
    options = {} if loop is None else {"loop": loop}
    frames[0].save(
        out, "GIF", save_all=True, append_images=frames[1:], duration=durations, **options
    )
    return Stripped(Kind.GIF, frozenset(removed), decoded, out.getvalue())


def _strip_gif_blocks(data: bytes) -> Stripped:
    """A GIF with more pixels or frames than are decoded here (a long screen recording)
    without its comments and extensions, its frames byte for byte
    (:func:`picturescrub.strip_gif`: nothing is decoded, no pixel is counted). Raises
    ValueError for a GIF that is cut off or broken."""
    stripped, dropped = picturescrub.strip_gif(data)
    walk = imagecheck.gif_walk(data, max_frames=imagecheck.MAX_GIF_BLOCKS)
    removed = imagemeta.gif_categories(walk.comment, walk.plain_text, walk.applications, walk.xmp)
    if dropped and not removed:
        removed.add(Removed.OTHER)
    return Stripped(Kind.GIF, frozenset(removed), 0, stripped)


def _strip_tiff(data: bytes, largest: int, budget: int) -> Stripped:
    """Every page, its pixels only, compressed losslessly (Deflate), one at a time: the
    largest page within ``largest`` pixels, all of them within ``budget``."""
    from PIL import TiffImagePlugin

    pages = imagecheck.tiff_pages(data)
    removed: set[Removed] = set()
    sizes = []
    with _open(data, ["TIFF"]) as image:
        for index in range(pages):  # headers only: seeking a TIFF decodes nothing
            try:
                image.seek(index)
            except EOFError:
                break
            sizes.append(image.size[0] * image.size[1])
            removed |= imagemeta.found(image, "TIFF")
    # Decoded and written a page at a time: the largest page must fit, and all of them
    # count against the request's budget.
    pixels = sum(sizes)
    _within(max(sizes, default=0), largest, budget)
    if pixels > budget:
        raise OverBudget()
    out = io.BytesIO()
    # Opened anew: Pillow keeps a later page's palette when seeking back to an earlier one.
    with _open(data, ["TIFF"]) as image, TiffImagePlugin.AppendingTiffWriter(out, True) as writer:
        for index in range(len(sizes)):
            image.seek(index)
            image.load()
            page = _copy(image)
            page.save(writer, "TIFF", compression="tiff_adobe_deflate")
            writer.newFrame()
            del page
    return Stripped(Kind.TIFF, frozenset(removed), pixels, out.getvalue())


def _read_input(limit: int) -> bytes:
    """Standard input, read to its end, if it is at most ``limit`` bytes. (One read of
    ``limit`` bytes would reserve them all at once, from the address space the pixels
    need.)"""
    pieces, total = [], 0
    while piece := sys.stdin.buffer.read(READ_BYTES):
        total += len(piece)
        if total > limit:
            raise TooLarge()
        pieces.append(piece)
    return b"".join(pieces)


def main() -> int:
    max_pixels, budget = (int(arg) for arg in sys.argv[1:3])
    confinement = Confinement.from_argv(sys.argv[3:])
    confine(confinement)
    try:
        data = _read_input(confinement.memory_bytes // MAX_INPUT_SHARE)
        stripped = strip(data, max_pixels, budget, confinement.memory_bytes)
    except OverBudget:
        return OVER_BUDGET
    except TooLarge:
        return TOO_LARGE
    except imagecheck.Incomplete:
        return WOULD_DAMAGE
    except Exception as exc:  # noqa: BLE001 — any failure is a refusal, reported by kind
        sys.stderr.write(type(exc).__name__ + "\n")
        return NOT_CLEANABLE
    sys.stdout.buffer.write(stripped.data)
    sys.stdout.flush()
    sys.stderr.write(report(stripped))
    return 0


if __name__ == "__main__":
    sys.exit(main())
