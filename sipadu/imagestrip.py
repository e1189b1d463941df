"""Strip an image of its metadata, in a child process that can do little harm.

    python -m sipadu.imagestrip MAX_PIXELS BUDGET_PIXELS MEMORY_BYTES CPU_SECONDS
        < image > clean-image

Reads a JPEG, PNG or WebP on standard input and writes the same picture, re-encoded,
without EXIF (camera, GPS position, time), XMP, IPTC, ICC profile, comments or text
chunks. Before Pillow is even imported the process lowers its priority and caps its own
address space, CPU time and file size (it may create no file at all), so a malicious
image, a decompression bomb or a parser bug costs one short-lived, contained process.
The size is read from the header before any pixel is decoded: over ``MAX_PIXELS`` the
image is refused as a bomb, over ``BUDGET_PIXELS`` (what is left of the request's
budget) as too large for this request. Exit 0 with the clean image on stdout and its
pixel count on stderr; 2 (not cleanable) or 3 (over the budget) with nothing on stdout.

:func:`clean` runs the child from the server and streams its output to a writer.
"""

import io
import os
import resource
import subprocess
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass

FORMATS = {"JPEG", "PNG", "WEBP"}
NOT_CLEANABLE, OVER_BUDGET = 2, 3
READ_BYTES = 64 * 1024


class NotCleanable(Exception):
    """Not a JPEG, PNG or WebP Pillow can read within the limits (or a bomb)."""


class OverBudget(Exception):
    """More pixels than the request has left to clean."""


@dataclass(frozen=True)
class Confinement:
    """The child's limits: address space (bytes), CPU time (seconds)."""

    memory_bytes: int
    cpu_seconds: int


def clean(
    image: bytes | memoryview,
    max_pixels: int,
    budget: int,
    confinement: Confinement,
    write: Callable[[bytes], object],
) -> int:
    """Clean ``image`` in a confined child; the clean picture goes to ``write`` in pieces
    as the child produces it (nothing of it is held here). Returns its pixel count.
    Raises :class:`NotCleanable` or :class:`OverBudget`; whatever ``write`` raises
    stops the child."""
    argv = [sys.executable, "-m", "sipadu.imagestrip", str(max_pixels), str(budget)]
    argv += [str(confinement.memory_bytes), str(confinement.cpu_seconds)]
    # No environment: the server's secrets (given as SIPADU_* variables) never reach the
    # one process that parses hostile bytes.
    child = subprocess.Popen(  # noqa: S603 — fixed argv; the image goes through stdin
        argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={}
    )
    # The CPU limit ends a busy child; this ends one that waits (wall clock).
    watchdog = threading.Timer(confinement.cpu_seconds * 3 + 5, child.kill)
    watchdog.start()
    try:
        try:
            child.stdin.write(image)  # type: ignore[union-attr]
            child.stdin.close()  # type: ignore[union-attr]
        except BrokenPipeError:
            pass  # the child stopped reading: its exit status says why
        while piece := child.stdout.read(READ_BYTES):  # type: ignore[union-attr]
            write(piece)
        status = child.wait()
        report = child.stderr.read(256)  # type: ignore[union-attr]
    finally:
        watchdog.cancel()
        if child.poll() is None:
            child.kill()
            child.wait()
        for pipe in (child.stdin, child.stdout, child.stderr):
            try:
                pipe.close()  # type: ignore[union-attr]
            except BrokenPipeError:
                pass
    if status == OVER_BUDGET:
        raise OverBudget()
    try:
        pixels = int(report)
    except ValueError:
        pixels = 0
    if status != 0 or pixels <= 0:
        raise NotCleanable()
    return pixels


# --- the child --------------------------------------------------------------------------


def _confine(confinement: Confinement) -> None:
    os.nice(10)  # cleaning yields the CPU to the portal's own requests
    memory, cpu = confinement.memory_bytes, confinement.cpu_seconds
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def strip(data: bytes, max_pixels: int, budget: int) -> tuple[int, bytes]:
    """The pixel count and the clean picture. Raises :class:`OverBudget`, or anything
    else for a picture that cannot be cleaned."""
    import warnings

    from PIL import Image, ImageOps

    Image.MAX_IMAGE_PIXELS = max_pixels
    warnings.simplefilter("error", Image.DecompressionBombWarning)
    with Image.open(io.BytesIO(data)) as image:  # the header only: nothing decoded yet
        kind = image.format
        if kind not in FORMATS:
            raise ValueError("format")
        pixels = image.size[0] * image.size[1]
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
    # The original's pixels are freed here: at most two copies are ever held.
    if kind == "JPEG" and clean.mode != "RGB":
        clean = clean.convert("RGB")
    out = io.BytesIO()
    if kind == "JPEG":
        clean.save(out, "JPEG", quality=92, optimize=True)
    elif kind == "PNG":
        clean.save(out, "PNG", optimize=True)
    else:
        clean.save(out, "WEBP", quality=92)
    return pixels, out.getvalue()


def main() -> int:
    max_pixels, budget, memory, cpu = (int(arg) for arg in sys.argv[1:5])
    _confine(Confinement(memory, cpu))
    try:
        pixels, clean_image = strip(sys.stdin.buffer.read(), max_pixels, budget)
    except OverBudget:
        return OVER_BUDGET
    except Exception as exc:  # noqa: BLE001 — any failure is a refusal, reported by kind
        sys.stderr.write(type(exc).__name__ + "\n")
        return NOT_CLEANABLE
    sys.stdout.buffer.write(clean_image)
    sys.stdout.flush()
    sys.stderr.write(f"{pixels}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
