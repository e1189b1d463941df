"""Strip an image of its metadata, in a child process that can do little harm.

    python -m sipadu.imagestrip MAX_PIXELS < image > clean-image

Reads a JPEG, PNG or WebP on standard input and writes the same picture, re-encoded,
without EXIF (camera, GPS position, time), XMP, IPTC, ICC profile, comments or text
chunks. Before Pillow is even imported the process caps its own address space, CPU time
and file size (it may create no file at all), so a malicious image, a decompression bomb
or a parser bug costs one short-lived, contained process. Exit 0 with the clean image,
or non-zero with a one-word reason on stderr.
"""

import io
import resource
import sys

MEMORY_BYTES = 768 * 1024 * 1024
CPU_SECONDS = 20
FORMATS = {"JPEG", "PNG", "WEBP"}


def _confine() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_BYTES, MEMORY_BYTES))
    resource.setrlimit(resource.RLIMIT_CPU, (CPU_SECONDS, CPU_SECONDS))
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def strip(data: bytes, max_pixels: int) -> bytes:
    import warnings

    from PIL import Image, ImageOps

    Image.MAX_IMAGE_PIXELS = max_pixels
    warnings.simplefilter("error", Image.DecompressionBombWarning)
    with Image.open(io.BytesIO(data)) as image:
        kind = image.format
        if kind not in FORMATS:
            raise ValueError("format")
        image.load()
        # Turn the picture the way its EXIF says before the EXIF goes away.
        upright = ImageOps.exif_transpose(image)
        # A new image receives the pixels only: nothing of the original's info travels.
        clean = Image.new(upright.mode, upright.size)
        if upright.mode == "P":
            clean.putpalette(upright.getpalette() or [])
        clean.paste(upright)
        out = io.BytesIO()
        if kind == "JPEG":
            clean.convert("RGB").save(out, "JPEG", quality=92, optimize=True)
        elif kind == "PNG":
            clean.save(out, "PNG", optimize=True)
        else:
            clean.save(out, "WEBP", quality=92)
        return out.getvalue()


def main() -> int:
    _confine()
    max_pixels = int(sys.argv[1])
    try:
        clean = strip(sys.stdin.buffer.read(), max_pixels)
    except Exception as exc:  # noqa: BLE001 — any failure is a refusal, reported by kind
        sys.stderr.write(type(exc).__name__ + "\n")
        return 2
    sys.stdout.buffer.write(clean)
    return 0


if __name__ == "__main__":
    sys.exit(main())
