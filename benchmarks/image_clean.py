"""What cleaning one image costs the confined child, per format, at the largest size
SIPADU cleans: peak address space (what ``RLIMIT_AS`` caps), peak RSS and CPU seconds.

    .venv/bin/python benchmarks/image_clean.py [--megapixels 50] [--max-mib 20]

Each picture is the worst a real sender can make within the limits: as many pixels as
one image may have (``MAX_PIXELS``) and, where the encoder allows it, as close to
``--max-mib`` as possible (photo-like noise costs the encoders most; main held images up
to 20 MiB in memory to clean them, the default here; now any size is cleaned).
Each is cleaned by ``python -m sipadu.evidence.imagestrip`` exactly as the server runs it, but
with a memory limit far above need, and ``/proc/<pid>/status`` is sampled for VmPeak
(address space) while it runs. Last line: key=value figures (MiB, seconds).
"""

import argparse
import io
import os
import subprocess
import sys
import threading
import time

from PIL import Image

MIB = 1024 * 1024


def noisy(width: int, height: int, mode: str, grain: int) -> Image.Image:
    """A picture with a smooth background and noise in ``grain`` x ``grain`` cells:
    large ``grain`` compresses well, 1 is incompressible."""
    small = Image.frombytes(
        mode,
        (width // grain, height // grain),
        os.urandom((width // grain) * (height // grain) * len(mode)),
    )
    return small.resize((width, height), Image.Resampling.NEAREST)


def animation(width: int, height: int, frames: int) -> bytes:
    """A GIF of ``frames`` noisy palette frames of ``width`` x ``height``."""
    pictures = []
    for _ in range(frames):
        frame = noisy(width, height, "L", 4).convert("P")
        frame.putpalette([value for index in range(256) for value in (index, 255 - index, 0)])
        pictures.append(frame)
    out = io.BytesIO()
    pictures[0].save(out, "GIF", save_all=True, append_images=pictures[1:], duration=40, loop=0)
    return out.getvalue()


def largest(kind: str, width: int, height: int, max_bytes: int) -> bytes:
    """The noisiest picture of ``kind`` at this size that still fits ``max_bytes``."""
    if kind == "HEIF":
        import pillow_heif

        pillow_heif.register_heif_opener()
    # libde265 1.0 fails to decode x265's picture of pure noise ("did not give a
    # decompressed image"); noise in 2x2 cells decodes.
    grains = (1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 64, 128)[1 if kind == "HEIF" else 0 :]
    for grain in grains:
        mode = {"PNG-RGBA": "RGBA", "GIF": "L"}.get(kind, "RGB")
        image = noisy(width, height, mode, grain)
        out = io.BytesIO()
        if kind == "GIF":
            image = image.convert("P")
            image.save(out, "GIF")
        elif kind == "TIFF":
            image.save(out, "TIFF", compression="tiff_adobe_deflate")
        elif kind == "TIFF-raw":
            image.save(out, "TIFF")
            return out.getvalue()  # uncompressed: as large as it is
        elif kind == "HEIF":
            image.save(out, "HEIF", quality=90)
        elif kind == "JPEG":
            image.save(out, "JPEG", quality=92)
        elif kind == "JPEG-progressive":
            image.save(out, "JPEG", quality=92, progressive=True)
        elif kind.startswith("PNG"):
            image.save(out, "PNG", compress_level=6)
        else:
            image.save(out, "WEBP", quality=92)
        if out.tell() <= max_bytes:
            return out.getvalue()
    raise SystemExit(f"no {kind} of {width}x{height} fits {max_bytes} bytes")


def vm_peak(pid: int) -> tuple[int, int]:
    with open(f"/proc/{pid}/status") as status:
        fields = dict(line.split(":", 1) for line in status)
    return int(fields["VmPeak"].split()[0]) * 1024, int(fields["VmHWM"].split()[0]) * 1024


def clean(image: bytes, pixels: int) -> tuple[int, float, float, float]:
    """(exit status, VmPeak MiB, VmHWM MiB, CPU seconds) of one cleaning child."""
    argv = [sys.executable, "-m", "sipadu.evidence.imagestrip", str(pixels + 1), str(pixels + 1)]
    argv += [str(8 * 1024 * MIB), "600", "0"]
    child = subprocess.Popen(
        argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    peak = [0, 0]

    def sample() -> None:
        while child.poll() is None:
            try:
                vm, rss = vm_peak(child.pid)
            except (OSError, KeyError, ValueError):
                break
            peak[0], peak[1] = max(peak[0], vm), max(peak[1], rss)
            time.sleep(0.005)

    sampler = threading.Thread(target=sample)
    sampler.start()
    before = os.times()
    child.communicate(image)
    after = os.times()
    sampler.join()
    cpu = (after.children_user - before.children_user) + (
        after.children_system - before.children_system
    )
    return child.returncode, peak[0] / MIB, peak[1] / MIB, cpu


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--megapixels", type=float, default=50)
    parser.add_argument("--max-mib", type=int, default=20)
    parser.add_argument(
        "--kinds",
        default="JPEG,JPEG-progressive,PNG,PNG-RGBA,WEBP,GIF,GIF-animated,TIFF,TIFF-raw,HEIF",
    )
    args = parser.parse_args()
    pixels = int(args.megapixels * 1_000_000)
    width = int((pixels * 4 / 3) ** 0.5) // 16 * 16  # a 4:3 photo, whole JPEG blocks
    height = pixels // width // 16 * 16
    if "WEBP" in args.kinds:
        width = min(width, 16383)
    figures = {}
    for kind in args.kinds.split(","):
        if kind == "GIF-animated":  # the same pixels in 100 frames
            frame_height = height // 100
            image = animation(width, frame_height, 100)
            pixels = width * frame_height * 100
        else:
            image = largest(kind, width, height, args.max_mib * MIB)
            pixels = width * height
        status, vm, rss, cpu = clean(image, pixels)
        print(
            f"{kind:18} {pixels / 1e6:4.1f} MP {len(image) / MIB:5.1f} MiB: exit {status}, "
            f"VmPeak {vm:6.0f} MiB, VmHWM {rss:6.0f} MiB, CPU {cpu:5.2f} s, "
            f"{(vm * MIB - 39 * MIB) / pixels:5.1f} B/px over 39 MiB",
            flush=True,
        )
        key = kind.lower().replace("-", "_")
        figures[f"{key}_vmpeak_mib"] = round(vm)
        figures[f"{key}_cpu_s"] = round(cpu, 2)
    print(" ".join(f"{key}={value}" for key, value in figures.items()))


if __name__ == "__main__":
    main()
