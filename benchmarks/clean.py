"""What cleaning evidence costs, per type: wall time per MiB, the children's CPU seconds,
their peak memory (RSS, and address space: what ``RLIMIT_AS`` caps).

    .venv/bin/python benchmarks/clean.py [--mib 8] [--only pdf,docx,...]

Each sample is made here with real metadata (LibreOffice for office and ODF, pikepdf for
PDF, ffmpeg for audio and video, Pillow for images; AMR, which no ffmpeg here encodes, as
speech frames), about ``--mib`` MiB where the
format allows it, and cleaned exactly as the server cleans it: documents, audio and
video by :func:`sipadu.evidence.docclean.clean` (mat2 and ffmpeg in the confined child),
images (JPEG, PNG, WebP, GIF, TIFF, HEIF: 12 megapixels with an author, a camera and a
GPS position) by :func:`sipadu.evidence.imagestrip.clean`. Each cleaning runs in a
process of its own (this script, ``--one``), so that ``getrusage(RUSAGE_CHILDREN)``
there gives that cleaning's CPU time and the peak RSS of its largest process (the child,
mat2, mat2's workers, ffmpeg, exiftool); a thread samples ``/proc`` for the highest
``VmPeak`` of those processes (short-lived ones may be missed).

The baseline, measured in the same run on the largest sample: the same bytes through the
same child machinery (:func:`confinement.run` of a child that confines itself and copies
stdin to stdout), and SHA-256 of them in this process. Last line: key=value figures
(ms per MiB, MiB, seconds).
"""

import argparse
import hashlib
import io
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from pathlib import Path

MIB = 1024 * 1024
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sipadu.evidence import docclean, imagestrip  # noqa: E402
from sipadu.evidence.confinement import Confinement, confine, run  # noqa: E402
from sipadu.evidence.outcome import Kind  # noqa: E402
from tests.office_files import FLAT_HEAD, soffice  # noqa: E402

MEMORY = 4096 * MIB  # far above need: what is measured is the need
CPU_SECONDS = 600
TAGS = ["-metadata", "artist=Budi Santoso", "-metadata", "location=+06.2146-106.8451/"]


def noise_jpeg(width: int, height: int) -> bytes:
    from PIL import Image

    image = Image.frombytes("RGB", (width // 4, height // 4), os.urandom(width * height * 3 // 16))
    out = io.BytesIO()
    image.resize((width, height)).save(out, "JPEG", quality=90, exif=b"Exif\x00\x00")
    return out.getvalue()


def office(folder: Path, target: str, mib: int) -> bytes:
    """A document LibreOffice wrote (2,000 paragraphs, a table or slides), with photos
    added to its media folder up to about ``mib`` MiB, and an author."""
    flat_kind = {"docx": "text", "odt": "text", "xlsx": "spreadsheet", "ods": "spreadsheet"}
    kind = flat_kind.get(target, "presentation")
    paragraph = "<text:p>Laporan dana desa tahun anggaran berjalan, halaman {n}.</text:p>"
    if kind == "text":
        body = "<office:text>" + "".join(paragraph.format(n=n) for n in range(2000))
        body += "</office:text>"
    elif kind == "spreadsheet":
        cell = "<table:table-cell office:value-type='float' office:value='{n}'/>"
        rows = "".join(
            "<table:table-row>" + cell.format(n=n) * 20 + "</table:table-row>" for n in range(2000)
        )
        body = f"<office:spreadsheet><table:table table:name='A'>{rows}</table:table>"
        body += "</office:spreadsheet>"
    else:
        page = (
            "<draw:page draw:name='p{n}'><draw:frame svg:x='1cm' svg:y='1cm' svg:width='20cm'"
            " svg:height='3cm'><draw:text-box>" + paragraph + "</draw:text-box></draw:frame>"
            "</draw:page>"
        )
        body = "<office:presentation>" + "".join(page.format(n=n) for n in range(200))
        body += "</office:presentation>"
    flat = (
        folder / f"{kind}.f{'odt' if kind == 'text' else 'ods' if kind == 'spreadsheet' else 'odp'}"
    )
    flat.write_text(
        FLAT_HEAD.format(kind=kind)
        + "<office:meta><meta:initial-creator>Budi Santoso</meta:initial-creator></office:meta>"
        f"<office:body>{body}</office:body></office:document>"
    )
    soffice(folder, target, [flat], folder, timeout=300)
    made = folder / f"{kind}.{target}"
    media = {"docx": "word/media", "xlsx": "xl/media", "pptx": "ppt/media"}.get(target, "Pictures")
    with zipfile.ZipFile(made, "a") as archive:
        number = 0
        while made.stat().st_size < mib * MIB:
            archive.writestr(f"{media}/photo{number}.jpeg", noise_jpeg(1600, 1200))
            archive.fp.flush()  # type: ignore[union-attr]
            number += 1
    return made.read_bytes()


def pdf(mib: int, ocr: bool = False) -> bytes:
    """Text pages, each with a photo, about ``mib`` MiB; an author in /Info and XMP.
    ``ocr``: the text invisible (render mode 3), as a searchable scan's OCR layer: the
    lightweight redraw loses it, so the PDF is cleaned in place (docclean)."""
    import pikepdf

    document = pikepdf.new()
    photo = noise_jpeg(1200, 900)
    while True:
        document.add_blank_page(page_size=(595, 842))
        page = document.pages[-1]
        image = pikepdf.Stream(document, photo)
        image.Type, image.Subtype = pikepdf.Name.XObject, pikepdf.Name.Image
        image.Width, image.Height, image.BitsPerComponent = 1200, 900, 8
        image.ColorSpace, image.Filter = pikepdf.Name.DeviceRGB, pikepdf.Name.DCTDecode
        font = pikepdf.Dictionary(
            Type=pikepdf.Name.Font, Subtype=pikepdf.Name.Type1, BaseFont=pikepdf.Name.Helvetica
        )
        page.Resources = pikepdf.Dictionary(
            Font=pikepdf.Dictionary(F1=font), XObject=pikepdf.Dictionary(Im1=image)
        )
        mode = b"3 Tr " if ocr else b""
        text = b"".join(
            b"BT /F1 10 Tf %s40 %d Td (Laporan dana desa) Tj ET " % (mode, y)
            for y in range(60, 800, 14)
        )
        page.Contents = document.make_stream(text + b"q 500 0 0 375 40 400 cm /Im1 Do Q")
        if len(document.pages) * len(photo) >= mib * MIB:
            break
    document.docinfo["/Author"] = "Budi Santoso"
    with document.open_metadata() as meta:
        meta["dc:creator"] = ["Budi Santoso"]
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def media(folder: Path, name: str, mib: int) -> bytes:
    """About ``mib`` MiB of audio (a tone) or video (a test picture), tagged."""
    sine = ["-f", "lavfi", "-i", "sine=frequency=440:duration=3600"]
    picture = ["-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=30:duration=3600"]
    codecs = {
        "mp3": [*sine, "-b:a", "128k"],
        "m4a": [*sine, "-c:a", "aac", "-b:a", "128k"],
        "ogg": [*sine, "-c:a", "libvorbis", "-b:a", "128k"],
        "flac": [*sine],
        "wav": [*sine],
        "mp4": [*picture, *sine, "-c:v", "libx264", "-preset", "ultrafast", "-b:v", "4M"],
        "webm": [*picture, *sine, "-c:v", "libvpx", "-deadline", "realtime", "-cpu-used", "8",
                 "-b:v", "4M", "-c:a", "libopus"],
        "avi": [*picture, *sine, "-c:v", "mpeg4", "-b:v", "4M", "-c:a", "mp3"],
        "aac": [*sine, "-c:a", "aac", "-b:a", "128k", "-write_id3v2", "1"],
        "wma": [*sine, "-c:a", "wmav2", "-b:a", "128k"],
        "aiff": [*sine, "-write_id3v2", "1"],
        "caf": [*sine, "-c:a", "pcm_s16le"],
        "wmv": [*picture, *sine, "-c:v", "wmv2", "-b:v", "4M", "-c:a", "wmav2"],
        "flv": [*picture, *sine, "-c:v", "flv", "-b:v", "4M", "-c:a", "mp3", "-ar", "44100"],
        "ts": [*picture, *sine, "-c:v", "libx264", "-preset", "ultrafast", "-b:v", "4M",
               "-c:a", "aac"],
        "vob": [*picture, *sine, "-c:v", "mpeg2video", "-b:v", "4M", "-c:a", "ac3"],
    }  # fmt: skip
    path = folder / f"sample.{name}"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", *codecs[name], "-fs", str(mib * MIB), *TAGS, str(path)],
        check=True,
        timeout=600,
    )
    return path.read_bytes()


IMAGE_FORMATS = {"jpeg": "JPEG", "png": "PNG", "webp": "WEBP", "gif": "GIF", "tiff": "TIFF",
                 "heif": "HEIF"}  # fmt: skip


def image(name: str) -> bytes:
    """A 12-megapixel photo of noise (a GIF: 8 frames of 1.5 megapixels) carrying an
    author, a camera and a GPS position in its EXIF."""
    import pillow_heif
    from PIL import Image

    pillow_heif.register_heif_opener()
    exif = Image.Exif()
    exif[0x013B] = "Budi Santoso"  # Artist
    exif[0x010F], exif[0x0110] = "Samsung", "SM-A546E"  # Make, Model
    exif[0x8825] = {1: "S", 2: (6.0, 10.0, 30.0), 3: "E", 4: (106.0, 49.0, 12.0)}
    photo = Image.open(io.BytesIO(noise_jpeg(4000, 3000)))
    out = io.BytesIO()
    if name == "gif":
        frames = [photo.resize((1500, 1000)).rotate(i).quantize() for i in range(8)]
        frames[0].save(out, "GIF", save_all=True, append_images=frames[1:], duration=200,
                       comment=b"Budi Santoso")  # fmt: skip
        return out.getvalue()
    options = {"quality": 90, "exif": exif.tobytes()}
    if name == "heif":
        options["enc_params"] = {"preset": "ultrafast"}
    photo.save(out, IMAGE_FORMATS[name], **options)
    return out.getvalue()


KINDS = {
    "pdf": Kind.PDF,
    "pdfscan": Kind.PDF,  # a searchable scan: cleaned in place
    "docx": Kind.DOCX,
    "xlsx": Kind.XLSX,
    "pptx": Kind.PPTX,
    "odt": Kind.ODT,
    "ods": Kind.ODS,
    "odp": Kind.ODP,
    "mp3": Kind.MP3,
    "m4a": Kind.M4A,
    "ogg": Kind.OGG,
    "flac": Kind.FLAC,
    "wav": Kind.WAV,
    "mp4": Kind.MP4,
    "webm": Kind.WEBM,
    "avi": Kind.AVI,
    "aac": Kind.AAC,
    "amr": Kind.AMR,
    "wma": Kind.ASF,
    "aiff": Kind.AIFF,
    "caf": Kind.CAF,
    "wmv": Kind.ASF,
    "flv": Kind.FLV,
    "ts": Kind.MPEGTS,
    "vob": Kind.MPEGPS,
    "jpeg": Kind.JPEG,
    "png": Kind.PNG,
    "webp": Kind.WEBP,
    "gif": Kind.GIF,
    "tiff": Kind.TIFF,
    "heif": Kind.HEIF,
}


def amr(mib: int) -> bytes:
    """About ``mib`` MiB of AMR speech frames (mode 7, 12.2 kbit/s: 32 bytes each; no
    ffmpeg here encodes AMR), with an ID3v1 tag appended as taggers do."""
    frames = b"".join(b"\x3c" + random.Random(i).randbytes(31) for i in range(1000))
    tag = b"TAG" + b"Rekaman".ljust(30, b"\0") + b"Budi Santoso".ljust(30, b"\0") + bytes(65)
    return b"#!AMR\n" + frames * (mib * MIB // len(frames)) + tag


def sample(name: str, folder: Path, mib: int) -> bytes:
    if name in ("pdf", "pdfscan"):
        return pdf(mib, ocr=name == "pdfscan")
    if name == "amr":
        return amr(mib)
    if name in ("docx", "xlsx", "pptx", "odt", "ods", "odp"):
        return office(folder, name, mib)
    if name in IMAGE_FORMATS:
        return image(name)
    return media(folder, name, mib)


# --- one cleaning, in a process of its own ---------------------------------------------


class PeakSampler(threading.Thread):
    """The highest VmPeak (address space) of this process's descendants, from /proc."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.peak = 0
        self.stopped = threading.Event()

    def run(self) -> None:
        me = os.getpid()
        while not self.stopped.wait(0.01):
            parents = {}
            for entry in os.listdir("/proc"):
                if entry.isdigit():
                    try:
                        with open(f"/proc/{entry}/stat") as stat:
                            parents[int(entry)] = int(stat.read().rsplit(")", 1)[1].split()[1])
                    except (OSError, IndexError, ValueError):
                        continue
            for pid in parents:
                ancestor, hops = parents.get(pid), 0
                while ancestor and ancestor != me and hops < 10:
                    ancestor, hops = parents.get(ancestor), hops + 1
                if ancestor == me:
                    try:
                        with open(f"/proc/{pid}/status") as status:
                            for line in status:
                                if line.startswith("VmPeak:"):
                                    self.peak = max(self.peak, int(line.split()[1]) * 1024)
                    except OSError:
                        pass


def one(name: str, path: str) -> dict:
    data = Path(path).read_bytes()
    kind = KINDS.get(name)
    confinement = Confinement(MEMORY, CPU_SECONDS, docclean.file_bytes_for(len(data)))
    written = [0]

    def write(piece: bytes) -> None:
        written[0] += len(piece)

    sampler = PeakSampler()
    sampler.start()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    if name == "copy":
        run("benchmarks.clean", ["--copy-child"], [data], confinement, write)
        removed: list[str] = []
    elif kind in docclean.KINDS:
        removed = sorted(docclean.clean([data], kind, confinement, write).removed)
    else:
        removed = sorted(imagestrip.clean([data], 10**9, 10**9, confinement, write).removed)
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    sampler.stopped.set()
    sampler.join()
    return {
        "seconds": seconds,
        "cpu": (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime),
        "rss": after.ru_maxrss * 1024,
        "vm": sampler.peak,
        "out": written[0],
        "removed": removed,
    }


def copy_child() -> int:
    """The baseline child: confines itself as every converter does, copies stdin."""
    confine(Confinement.from_argv(sys.argv[2:]))
    while piece := sys.stdin.buffer.read(64 * 1024):
        sys.stdout.buffer.write(piece)
    return 0


def main() -> int:
    if sys.argv[1:2] == ["--copy-child"]:
        return copy_child()
    if sys.argv[1:2] == ["--one"]:
        print(json.dumps(one(sys.argv[2], sys.argv[3])))
        return 0
    parser = argparse.ArgumentParser()
    parser.add_argument("--mib", type=int, default=8)
    parser.add_argument("--only", default=",".join(KINDS))
    args = parser.parse_args()
    figures = {}
    largest = b""
    with tempfile.TemporaryDirectory() as folder:
        for name in args.only.split(","):
            data = sample(name, Path(folder), args.mib)
            largest = max(largest, data, key=len)
            path = Path(folder) / f"input.{name}"
            path.write_bytes(data)
            result = measure(name, path)
            mib = len(data) / MIB
            print(
                f"{name:5} {mib:6.1f} MiB -> {result['out'] / MIB:6.1f} MiB"
                f"  {result['seconds'] * 1000 / mib:7.0f} ms/MiB  cpu {result['cpu']:5.1f} s"
                f"  peak RSS {result['rss'] / MIB:5.0f} MiB  VmPeak {result['vm'] / MIB:5.0f} MiB"
                f"  removed {','.join(result['removed'])}",
                flush=True,
            )
            figures[f"{name}_ms_per_mib"] = round(result["seconds"] * 1000 / mib)
            figures[f"{name}_rss_mib"] = round(result["rss"] / MIB)
            figures[f"{name}_vm_mib"] = round(result["vm"] / MIB)
        path = Path(folder) / "input.copy"
        path.write_bytes(largest)
        copy = measure("copy", path)
        started = time.perf_counter()
        hashlib.sha256(largest).digest()
        sha = time.perf_counter() - started
    mib = len(largest) / MIB
    figures["copy_child_ms_per_mib"] = round(copy["seconds"] * 1000 / mib, 1)
    figures["copy_child_rss_mib"] = round(copy["rss"] / MIB)
    figures["sha256_ms_per_mib"] = round(sha * 1000 / mib, 2)
    print(
        f"baseline: the same {mib:.1f} MiB through a copying child "
        f"{copy['seconds'] * 1000 / mib:.1f} ms/MiB (RSS {copy['rss'] / MIB:.0f} MiB), "
        f"SHA-256 {sha * 1000 / mib:.2f} ms/MiB"
    )
    print(" ".join(f"{key}={value}" for key, value in figures.items()))
    return 0


def measure(name: str, path: Path) -> dict:
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.clean", "--one", name, str(path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return json.loads(out)


if __name__ == "__main__":
    sys.exit(main())
