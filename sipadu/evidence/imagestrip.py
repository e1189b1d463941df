"""Strip an image of its metadata, in a child process that can do little harm.

    python -m sipadu.evidence.imagestrip MAX_PIXELS BUDGET_PIXELS MEMORY_BYTES CPU_SECONDS 0
        < image > clean-image

Reads a JPEG, PNG or WebP on standard input and writes the same picture, re-encoded,
without EXIF (camera, GPS position, time), XMP, IPTC, ICC profile, comments or text
chunks (of a multi-picture JPEG, the first picture only). Before Pillow is even imported
the process confines itself (:mod:`sipadu.evidence.confinement`: it may create no file
at all), so a malicious image, a decompression bomb or a parser bug costs one
short-lived, contained process. The format is named from the file's
signature, and the file's structure is walked cheaply (:mod:`sipadu.evidence.imagecheck`: scan,
marker and chunk counts that cost CPU out of proportion to the pixels) before any
decoder sees it. The size is read from the header before any pixel is decoded: over
``MAX_PIXELS``, or more than this format can be cleaned in within ``MEMORY_BYTES``
(:data:`BYTES_PER_PIXEL`), the image is refused as too large to clean; over
``BUDGET_PIXELS`` (what is left of the request's budget) as too large for this request.
Exit 0 with the clean image on stdout and its pixel count on stderr; 2 (not cleanable),
3 (over the budget) or 4 (too large to clean) with nothing on stdout.

:func:`clean` runs the child from the server and streams its output to a writer.
"""

import io
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

from sipadu.evidence import imagecheck
from sipadu.evidence.confinement import Confinement, confine, run

if TYPE_CHECKING:  # Pillow is imported only once the process is confined
    import PIL.Image

NOT_CLEANABLE, OVER_BUDGET, TOO_LARGE = 2, 3, 4
READ_BYTES = 64 * 1024
MIB = 1024 * 1024
# What cleaning costs in address space (what RLIMIT_AS caps): the interpreter and Pillow,
# plus so many bytes per pixel. Measured with benchmarks/image_clean.py (Pillow 12,
# libjpeg-turbo 3, libwebp 1.6) at 12 and 50 megapixels: 39 MiB + 8.0 bytes per pixel for
# RGB JPEG and PNG, 13.2 for a progressive CMYK JPEG (its coefficients are held whole),
# 16.5 for WebP (libwebp's animation decoder, which Pillow uses for every WebP, keeps two
# RGBA canvases besides the picture). Rounded up here, so a 50-megapixel picture of any
# format fits the default 1024 MiB.
BASE_BYTES = 64 * MIB
BYTES_PER_PIXEL = {"JPEG": 14, "PNG": 10, "WEBP": 20}


class NotCleanable(Exception):
    """Not a JPEG, PNG or WebP Pillow can read within the limits, or built to cost CPU
    out of proportion to its pixels (:mod:`sipadu.evidence.imagecheck`)."""


class OverBudget(Exception):
    """More pixels than the request has left to clean."""


class TooLarge(Exception):
    """More pixels than one picture may have, or than its format can be cleaned in
    within the child's memory limit."""


def largest_pixels(kind: str, memory_bytes: int, max_pixels: int) -> int:
    """The most pixels a picture of ``kind`` may have to be cleaned within
    ``memory_bytes`` of address space (and ``max_pixels``)."""
    return max(0, min(max_pixels, (memory_bytes - BASE_BYTES) // BYTES_PER_PIXEL[kind]))


def clean(
    image: bytes | memoryview,
    max_pixels: int,
    budget: int,
    confinement: Confinement,
    write: Callable[[bytes], object],
) -> int:
    """Clean ``image`` in a confined child; the clean picture goes to ``write`` in pieces
    as the child produces it (nothing of it is held here). Returns its pixel count.
    Raises :class:`NotCleanable`, :class:`OverBudget` or :class:`TooLarge`; whatever
    ``write`` raises stops the child."""
    finished = run(
        "sipadu.evidence.imagestrip", [str(max_pixels), str(budget)], [image], confinement, write
    )
    if finished.status == OVER_BUDGET:
        raise OverBudget()
    if finished.status == TOO_LARGE:
        raise TooLarge()
    try:
        pixels = int(finished.report)
    except ValueError:
        pixels = 0
    if finished.status != 0 or pixels <= 0:
        raise NotCleanable()
    return pixels


# --- the child --------------------------------------------------------------------------


def strip(data: bytes, max_pixels: int, budget: int, memory_bytes: int) -> tuple[int, bytes]:
    """The pixel count and the clean picture. Raises :class:`OverBudget`,
    :class:`TooLarge`, or anything else for a picture that cannot be cleaned."""
    kind = imagecheck.kind(data)
    imagecheck.check(data, kind)
    pixels, clean = _pixels_only(data, kind, largest_pixels(kind, memory_bytes, max_pixels), budget)
    # The original (and its decoder's buffers) is gone: only the copy is encoded.
    if kind == "JPEG" and clean.mode != "RGB":
        clean = clean.convert("RGB")
    out = io.BytesIO()
    if kind == "JPEG":
        clean.save(out, "JPEG", quality=92, optimize=True)
    elif kind == "PNG":
        # zlib's default level: optimize=True took 38 s instead of 3 s for a noisy
        # 50-megapixel picture, for 1 % less.
        clean.save(out, "PNG", compress_level=6)
    else:
        clean.save(out, "WEBP", quality=92, method=2)  # method 4 (default): twice the CPU
    return pixels, out.getvalue()


def _pixels_only(
    data: bytes, kind: str, largest: int, budget: int
) -> "tuple[int, PIL.Image.Image]":
    """The picture's pixel count and a new image holding its pixels only, turned the way
    its EXIF says; everything of the original is freed on return."""
    import warnings

    from PIL import Image, ImageOps

    Image.MAX_IMAGE_PIXELS = largest
    warnings.simplefilter("error", Image.DecompressionBombWarning)
    # MPO: a JPEG with further pictures after the first (phones' depth or HDR maps).
    formats = ["JPEG", "MPO"] if kind == "JPEG" else [kind]
    try:
        image = Image.open(io.BytesIO(data), formats=formats)  # the header only
    except (Image.DecompressionBombWarning, Image.DecompressionBombError):
        raise TooLarge() from None
    with image:
        pixels = image.size[0] * image.size[1]
        if pixels > largest:
            raise TooLarge()
        if pixels > budget:
            raise OverBudget()
        image.load()
        # Turn the picture the way its EXIF says before the EXIF goes away.
        ImageOps.exif_transpose(image, in_place=True)
        # A new image receives the pixels only: nothing of the original's info travels.
        clean = Image.new(image.mode, image.size)
        if image.mode == "P":
            clean.putpalette(image.getpalette() or [])
        clean.paste(image)
    return pixels, clean


def main() -> int:
    max_pixels, budget = (int(arg) for arg in sys.argv[1:3])
    confinement = Confinement.from_argv(sys.argv[3:])
    confine(confinement)
    try:
        pixels, clean_image = strip(
            sys.stdin.buffer.read(), max_pixels, budget, confinement.memory_bytes
        )
    except OverBudget:
        return OVER_BUDGET
    except TooLarge:
        return TOO_LARGE
    except Exception as exc:  # noqa: BLE001 — any failure is a refusal, reported by kind
        sys.stderr.write(type(exc).__name__ + "\n")
        return NOT_CLEANABLE
    sys.stdout.buffer.write(clean_image)
    sys.stdout.flush()
    sys.stderr.write(f"{pixels}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
