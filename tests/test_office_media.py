"""Issue 21: every picture and recording inside an office or ODF file loses its metadata
(sipadu.evidence.officeclean, through the confined docclean child), or the reporter is
told what stays.

The reviewer found TIFF, WebP, GIF and HEIC pictures and MOV/MP4 recordings inside
DOCX, PPTX and ODT files keeping their GPS position, camera and author while the file
was called "cleaned". Here LibreOffice makes the documents (it keeps a TIFF's and a
GIF's bytes as they were inserted), and the pictures and recordings other editors add
(``word/media/``, ``ppt/media/``, ODF ``Pictures/`` and ``Media/``, a chart's workbook)
are added to the archive; each carries a place, a camera and a name written by exiftool,
ffmpeg or the encoder. After cleaning, exiftool and ffprobe read every member: none of
it may remain, the pictures are the same pictures (the same pixels where the format is
lossless), the recordings the same streams, and LibreOffice still opens the document
with its text. A member that cannot be cleaned (malformed, or a pixel bomb) keeps the
whole file as sent, and says why; a member of no kind SIPADU cleans is read by exiftool
and what it still says is reported.
"""

import base64
import io
import subprocess
import time
import zipfile
from pathlib import Path

import pillow_heif
import pytest
from PIL import Image

from sipadu.evidence import cleaning, docclean, picturescrub
from sipadu.evidence.cleaning import CleaningLimits
from sipadu.evidence.confinement import Confinement
from sipadu.evidence.outcome import Cleaned, KeptAsSent, KeptReason, Kind, Removed
from tests.office_files import FLAT_HEAD, soffice

MIB = 1024 * 1024
NAME = "Budi Santoso Perekam"
MAKE, MODEL = "KameraRahasia", "Seri Rahasia"
TEXT = "Laporan dana desa dengan lampiran"
# What the planted values look like in exiftool's and ffprobe's readings, and as bytes.
SECRETS = ("Santoso", "KameraRahasia", "Rahasia", "40 deg 42", "40.712", "74 deg 0", "74.006")
LIMITS = Confinement(768 * MIB, 20, 0)
EXIF_TAGS = [
    "-GPSLatitude=40.7128", "-GPSLatitudeRef=N", "-GPSLongitude=74.006",
    "-GPSLongitudeRef=W", f"-Make={MAKE}", f"-Model={MODEL}", f"-Artist={NAME}",
    f"-XMP-dc:Creator={NAME}",
]  # fmt: skip
XMP_TAGS = [
    "-XMP-exif:GPSLatitude=40.7128", "-XMP-exif:GPSLongitude=-74.006",
    f"-XMP-tiff:Make={MAKE}", f"-XMP-tiff:Model={MODEL}", f"-XMP-dc:Creator={NAME}",
    f"-Comment={NAME}",
]  # fmt: skip
MOV_TAGS = [
    "-Keys:GPSCoordinates=40.7128, -74.006", f"-Keys:Make={MAKE}", f"-Keys:Model={MODEL}",
    f"-Keys:Author={NAME}",
]  # fmt: skip
MP4_TAGS = [
    "-UserData:GPSCoordinates=40.7128, -74.006", f"-UserData:Make={MAKE}",
    f"-UserData:Model={MODEL}", f"-UserData:Artist={NAME}",
]  # fmt: skip
VIDEO = [
    "-f", "lavfi", "-i", "testsrc=duration=1:size=64x48:rate=10", "-f", "lavfi", "-i",
    "sine=duration=1", "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", "-t", "1",
]  # fmt: skip


RECORDINGS = ("mov", "mp4", "mp3", "wma")


def planted(secret: str, data: bytes) -> bool:
    """Whether ``secret`` is in ``data`` as bytes (UTF-8, or UTF-16 as ASF writes it)."""
    return secret.encode() in data or secret.encode("utf-16-le") in data


def exiftool(path: Path, tags: list[str]) -> bytes:
    subprocess.run(
        ["exiftool", "-q", "-overwrite_original", *tags, str(path)], check=True, timeout=60
    )
    return path.read_bytes()


def picture() -> Image.Image:
    return Image.frombytes("RGB", (48, 32), bytes(range(256)) * 18)


def make_picture(folder: Path, extension: str, tags: list[str], **options) -> bytes:
    path = folder / f"picture{extension}"
    picture().save(path, **options)
    return exiftool(path, tags)


def make_recording(folder: Path, name: str, inputs: list[str], tags: list[str]) -> bytes:
    path = folder / name
    subprocess.run(["ffmpeg", "-v", "error", "-y", *inputs, str(path)], check=True, timeout=60)
    return exiftool(path, tags) if tags else path.read_bytes()


@pytest.fixture(scope="module")
def media(tmp_path_factory) -> dict[str, bytes]:
    """A picture of each kind and two recordings, each with a place, a camera and a name."""
    folder = tmp_path_factory.mktemp("media")
    pillow_heif.register_heif_opener()
    made = {
        "tif": make_picture(folder, ".tif", EXIF_TAGS),
        "webp": make_picture(folder, ".webp", EXIF_TAGS, lossless=True),
        "gif": make_picture(folder, ".gif", XMP_TAGS),
        "heic": make_picture(folder, ".heic", EXIF_TAGS),
        "mov": make_recording(folder, "video.mov", VIDEO, MOV_TAGS),
        "mp4": make_recording(folder, "video.mp4", VIDEO, MP4_TAGS),
        "mp3": make_recording(
            folder,
            "sound.mp3",
            [
                "-f",
                "lavfi",
                "-i",
                "sine=duration=1",
                "-metadata",
                f"artist={NAME}",
                "-metadata",
                "location=+40.7128-074.0060/",
            ],
            [],
        ),
        # PowerPoint's own sound format (ASF), of the kinds recognised later.
        "wma": make_recording(
            folder,
            "sound.wma",
            [
                "-f",
                "lavfi",
                "-i",
                "sine=duration=1",
                "-c:a",
                "wmav2",
                "-metadata",
                f"artist={NAME}",
                "-metadata",
                "location=+40.7128-074.0060/",
            ],
            [],
        ),
    }
    for kind, data in made.items():
        assert any(planted(secret, data) for secret in SECRETS), kind  # there to be removed
    return made


def flat_document(kind: str, pictures: list[bytes]) -> str:
    frames = "".join(
        f'<draw:frame draw:name="p{index}" svg:width="2cm" svg:height="1.5cm"'
        ' text:anchor-type="as-char"><draw:image><office:binary-data>'
        f"{base64.b64encode(data).decode()}</office:binary-data></draw:image></draw:frame>"
        for index, data in enumerate(pictures)
    )
    meta = f"<office:meta><dc:creator>{NAME}</dc:creator></office:meta>"
    if kind == "text":
        body = f"<office:text><text:p>{TEXT}{frames}</text:p></office:text>"
    else:
        body = (
            '<office:presentation><draw:page draw:name="s1"><draw:frame svg:x="1cm"'
            ' svg:y="1cm" svg:width="20cm" svg:height="3cm"><draw:text-box>'
            f"<text:p>{TEXT}</text:p></draw:text-box></draw:frame></draw:page>"
            "</office:presentation>"
        )
    return (
        FLAT_HEAD.format(kind=kind) + meta + f"<office:body>{body}</office:body></office:document>"
    )


def with_members(document: bytes, added: dict[str, bytes]) -> bytes:
    """The package ``document`` with the ``added`` members, each declared as its format
    asks (OPC content types by extension, ECMA-376 part 2 10.1.2.2; ODF manifest
    entries, ODF 1.3 part 2 4.3: LibreOffice refuses a package whose manifest misses
    one)."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(document)) as original, zipfile.ZipFile(out, "w") as made:
        for info in original.infolist():
            data = original.read(info)
            if info.filename == "META-INF/manifest.xml":
                entries = "".join(
                    f'<manifest:file-entry manifest:full-path="{name}"'
                    ' manifest:media-type="application/octet-stream"/>'
                    for name in added
                )
                data = data.replace(
                    b"</manifest:manifest>", entries.encode() + b"</manifest:manifest>"
                )
            elif info.filename == "[Content_Types].xml":
                extensions = {name.rpartition(".")[2] for name in added}
                defaults = "".join(
                    f'<Default Extension="{extension}" ContentType="application/octet-stream"/>'
                    for extension in sorted(extensions)
                    if f'Extension="{extension}"'.encode() not in data
                )
                data = data.replace(b"</Types>", defaults.encode() + b"</Types>")
            made.writestr(info, data)
        for name, data in added.items():
            made.writestr(name, data, compress_type=zipfile.ZIP_DEFLATED)
    return out.getvalue()


def workbook(media: dict[str, bytes]) -> bytes:
    """A chart's workbook (an XLSX inside the document) holding a TIFF of its own."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as made:
        made.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types/>')
        made.writestr("xl/workbook.xml", '<?xml version="1.0"?><workbook><t>angka</t></workbook>')
        made.writestr("xl/media/image1.tif", media["tif"])
    return out.getvalue()


@pytest.fixture(scope="module")
def documents(media, tmp_path_factory) -> dict[str, dict]:
    """A DOCX, an ODT and a PPTX as LibreOffice made them, with pictures and recordings
    added, each as sent and as cleaned (and the cleaned ones converted back to PDF)."""
    folder = tmp_path_factory.mktemp("documents")
    (folder / "text.fodt").write_text(flat_document("text", [media["tif"], media["gif"]]))
    (folder / "slides.fodp").write_text(flat_document("presentation", []))
    soffice(folder, "docx:MS Word 2007 XML", [folder / "text.fodt"], folder)
    soffice(folder, "odt", [folder / "text.fodt"], folder)
    soffice(folder, "pptx:Impress MS PowerPoint 2007 XML", [folder / "slides.fodp"], folder)
    added = {
        "docx": {
            "word/media/image8.webp": media["webp"],
            "word/media/image9.heic": media["heic"],
            "word/media/media1.mov": media["mov"],
            "word/media/media2.mp4": media["mp4"],
            "word/embeddings/Microsoft_Excel_Worksheet.xlsx": workbook(media),
        },
        "odt": {
            "Pictures/foto.webp": media["webp"],
            "Pictures/foto.heic": media["heic"],
            "Media/video.mov": media["mov"],
            "Media/rekaman.mp3": media["mp3"],
        },
        # No picture LibreOffice keeps: what is removed comes from these members only.
        "pptx": {
            "ppt/media/media1.mov": media["mov"],
            "ppt/media/image1.webp": media["webp"],
            "ppt/media/media2.wma": media["wma"],
        },
    }
    made = {}
    for target, members in added.items():
        stem = "slides" if target == "pptx" else "text"
        original = with_members((folder / f"{stem}.{target}").read_bytes(), members)
        outcome, clean = clean_document(original, Kind(target))
        (folder / "clean").mkdir(exist_ok=True)
        (folder / "clean" / f"{target}.{target}").write_bytes(clean)
        made[target] = {"original": original, "clean": clean, "outcome": outcome}
    soffice(folder, "pdf", [folder / "clean" / f"{t}.{t}" for t in made], folder / "clean")
    for target in made:
        pdf = folder / "clean" / f"{target}.pdf"
        made[target]["text"] = subprocess.run(
            ["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True
        ).stdout
    return made


def clean_document(data: bytes, kind: Kind) -> tuple[object, bytes]:
    """Clean through the server's dispatch (cleaning.clean) and the real confined child."""
    out = io.BytesIO()
    document = Confinement(
        LIMITS.memory_bytes, LIMITS.cpu_seconds, docclean.file_bytes_for(len(data))
    )
    limits = CleaningLimits(image=LIMITS, document=document)
    outcome = cleaning.clean([data], kind, 10**9, limits, out.write)
    return outcome, out.getvalue()


def members(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {info.filename: archive.read(info) for info in archive.infolist()}


def media_members(data: bytes) -> dict[str, bytes]:
    """The members that are pictures or recordings, those of an embedded workbook too."""
    found = {}
    for name, content in members(data).items():
        if name.endswith(".xlsx"):
            found |= {f"{name}/{n}": c for n, c in media_members(content).items()}
        elif name.rpartition(".")[2] in ("tif", "gif", "webp", "heic", *RECORDINGS):
            found[name] = content
    return found


def readings(folder: Path, name: str, data: bytes) -> str:
    """What exiftool (every tag, every group) and ffprobe read in one member."""
    path = folder / name.replace("/", "_")
    path.write_bytes(data)
    tags = subprocess.run(
        ["exiftool", "-j", "-a", "-u", "-G1", str(path)], capture_output=True, text=True
    ).stdout
    probe = subprocess.run(
        ["ffprobe", "-v", "error", "-show_format", "-show_streams", "-of", "json", str(path)],
        capture_output=True,
        text=True,
    ).stdout
    return tags + probe


def same_picture(before: bytes, after: bytes, lossless: bool) -> bool:
    with Image.open(io.BytesIO(before)) as old, Image.open(io.BytesIO(after)) as new:
        if old.size != new.size:
            return False
        return not lossless or old.convert("RGB").tobytes() == new.convert("RGB").tobytes()


def stream_digest(folder: Path, data: bytes) -> str:
    """The MD5 of a recording's audio and video packets as ffmpeg copies them."""
    path = folder / "recording"
    path.write_bytes(data)
    return subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(path), "-map", "0:v?", "-map", "0:a?", "-c", "copy",
         "-f", "md5", "-"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip


@pytest.mark.parametrize("target", ["docx", "odt", "pptx"])
def test_every_picture_and_recording_inside_loses_its_place_camera_and_author(
    documents, target, tmp_path
):
    """Nothing of the place, camera or name is left in any picture or recording (as
    exiftool and ffprobe read them, or as bytes), none is told as remaining; each is the
    same picture (the same pixels, but for the HEIC: re-encoded) or the same recording
    (the same audio and video packets), and LibreOffice opens the document with its
    text (the cleaning's own text check passed: the file is cleaned)."""
    made = documents[target]
    outcome = made["outcome"]
    assert isinstance(outcome, Cleaned), outcome
    assert {Removed.GPS, Removed.CAMERA, Removed.AUTHOR} <= outcome.removed
    assert outcome.remaining == ()
    before, after = media_members(made["original"]), media_members(made["clean"])
    assert before.keys() == after.keys() and len(after) >= 2
    for name, data in after.items():
        read = readings(tmp_path, name, data)
        for secret in SECRETS:
            assert secret not in read, (name, secret)
            assert not planted(secret, data), (name, secret)
        extension = name.rpartition(".")[2]
        if extension in RECORDINGS:
            assert stream_digest(tmp_path, data) == stream_digest(tmp_path, before[name]), name
        else:
            assert same_picture(before[name], data, lossless=extension != "heic"), name
    assert TEXT in " ".join(made["text"].split())


# --- what cannot be cleaned -------------------------------------------------------------------


@pytest.fixture(scope="module")
def plain_docx(tmp_path_factory) -> bytes:
    folder = tmp_path_factory.mktemp("plain")
    (folder / "text.fodt").write_text(flat_document("text", []))
    soffice(folder, "docx:MS Word 2007 XML", [folder / "text.fodt"], folder)
    return (folder / "text.docx").read_bytes()


def test_a_malformed_picture_inside_keeps_the_file_as_sent_and_says_so(plain_docx, media):
    """A WebP cut off in its picture data, its EXIF (place, camera, author) before the
    cut: no byte walker nor decoder can clean it, so the document is not called clean."""
    broken = media["webp"][: len(media["webp"]) - 40]
    assert b"KameraRahasia" in broken
    document = with_members(plain_docx, {"word/media/image1.webp": broken})
    outcome, clean = clean_document(document, Kind.DOCX)
    assert isinstance(outcome, KeptAsSent) and outcome.why is KeptReason.UNREADABLE
    # what it still says of who made it is named, to be warned about
    assert outcome.kind is Kind.DOCX and ("author", NAME) in [
        (r.field, r.value) for r in outcome.remaining
    ]
    assert clean == b"" or b"KameraRahasia" not in clean


def heic_claiming(data: bytes, width: int, height: int) -> bytes:
    """The HEIC with its image spatial extents (``ispe``, ISO/IEC 23008-12 6.5.3) saying
    ``width`` by ``height``: a decoder would allocate that many pixels."""
    at = data.index(b"ispe") + 8  # type, version and flags
    return data[:at] + width.to_bytes(4, "big") + height.to_bytes(4, "big") + data[at + 8 :]


def test_a_pixel_bomb_heic_inside_is_too_large_to_clean_and_costs_nothing(plain_docx, tmp_path):
    """400 megapixels claimed by a HEIC of a few hundred bytes carrying a place and a
    camera: refused from its header, before any pixel is decoded, within seconds; the
    document is kept as sent, too large to clean (and not called clean)."""
    import pillow_heif

    pillow_heif.register_heif_opener()  # whichever test ran before in this worker
    path = tmp_path / "bomb.heic"
    Image.new("RGB", (64, 64), "red").save(path, "HEIF")  # 64 by 64: no clean aperture
    bomb = heic_claiming(exiftool(path, EXIF_TAGS), 20_000, 20_000)
    document = with_members(plain_docx, {"word/media/image1.heic": bomb})
    started = time.monotonic()
    outcome, _ = clean_document(document, Kind.DOCX)
    assert isinstance(outcome, KeptAsSent) and outcome.why is KeptReason.TOO_LARGE
    # what it still says of who made it is named, to be warned about
    assert outcome.kind is Kind.DOCX and ("author", NAME) in [
        (r.field, r.value) for r in outcome.remaining
    ]
    assert time.monotonic() - started < 10


def webp_claiming(data: bytes, width: int, height: int) -> bytes:
    """The extended WebP with its canvas (VP8X, RFC 9649 2.7) and its lossless bitstream
    (VP8L header, RFC 9649 3.2.1) saying ``width`` by ``height``."""
    at = data.index(b"VP8X") + 8 + 4
    canvas = (width - 1).to_bytes(3, "little") + (height - 1).to_bytes(3, "little")
    data = data[:at] + canvas + data[at + 6 :]
    at = data.index(b"VP8L") + 8 + 1  # after the signature byte 0x2f
    bits = (width - 1) | (height - 1) << 14 | 1 << 28  # with alpha, version 0
    return data[:at] + bits.to_bytes(4, "little") + data[at + 4 :]


def test_a_pixel_bomb_webp_inside_is_cleaned_without_being_decoded(plain_docx, media):
    """A WebP claiming 16383 by 16383 pixels (268 megapixels, a gigabyte decoded) loses
    its EXIF without a decoder ever seeing it: quickly, within the child's limits."""
    bomb = webp_claiming(media["webp"], 16383, 16383)
    document = with_members(plain_docx, {"word/media/image1.webp": bomb})
    started = time.monotonic()
    outcome, clean = clean_document(document, Kind.DOCX)
    assert isinstance(outcome, Cleaned) and {Removed.GPS, Removed.CAMERA} <= outcome.removed
    stripped = members(clean)["word/media/image1.webp"]
    assert b"KameraRahasia" not in stripped and b"EXIF" not in stripped
    assert time.monotonic() - started < 10


def test_a_picture_of_a_kind_not_cleaned_is_read_and_what_stays_is_told(plain_docx, tmp_path):
    """An AVIF (no cleaner here) with a place, a camera and an author in its EXIF stays
    as it is, and the reporter is told each of them stays."""
    path = tmp_path / "foto.avif"
    picture().save(path)
    avif = exiftool(path, EXIF_TAGS)
    document = with_members(plain_docx, {"word/media/image1.avif": avif})
    outcome, clean = clean_document(document, Kind.DOCX)
    assert isinstance(outcome, Cleaned)
    assert members(clean)["word/media/image1.avif"] == avif
    fields = {(remaining.field, remaining.value) for remaining in outcome.remaining}
    assert ("camera", MAKE) in fields and ("author", NAME) in fields
    assert any(field == "gps" and "40 deg 42" in value for field, value in fields)


# --- the byte walkers -------------------------------------------------------------------------


def animation(kind: str, **options) -> bytes:
    frames = [Image.new("RGB", (20, 10), colour) for colour in ("red", "green", "blue")]
    out = io.BytesIO()
    frames[0].save(
        out, kind, save_all=True, append_images=frames[1:], loop=3, duration=100, **options
    )
    return out.getvalue()


def frames_of(data: bytes) -> list[tuple[bytes, int]]:
    with Image.open(io.BytesIO(data)) as image:
        found = []
        for index in range(image.n_frames):
            image.seek(index)
            found.append((image.convert("RGBA").tobytes(), image.info.get("duration")))
        return [*found, (b"loop", image.info.get("loop"))]


def test_a_webp_keeps_its_animation_and_loses_exif_xmp_and_unknown_chunks():
    exif = Image.Exif()
    exif[0x010F] = MAKE
    data = animation("WEBP", lossless=True, exif=exif.tobytes(), xmp=NAME.encode())
    assert MAKE.encode() in data and NAME.encode() in data
    # An unknown chunk inside the first frame and one after the RIFF chunk.
    at = data.index(b"ANMF")
    size = int.from_bytes(data[at + 4 : at + 8], "little")
    frame = data[at + 8 : at + 8 + size] + b"ZZZZ\x04\0\0\0Budi"
    data = data[:at] + b"ANMF" + len(frame).to_bytes(4, "little") + frame + data[at + 8 + size :]
    data = b"RIFF" + (len(data) - 8).to_bytes(4, "little") + data[8:] + b"Santoso"

    stripped, dropped = picturescrub.strip_webp(data)

    assert dropped and frames_of(stripped) == frames_of(data)
    for secret in (MAKE, NAME, "Budi", "Santoso", "EXIF", "XMP "):
        assert secret.encode() not in stripped
    assert stripped[20] & picturescrub.WEBP_METADATA_FLAGS == 0  # VP8X says none
    assert picturescrub.strip_webp(stripped) == (stripped, False)
    for broken in (stripped[:-3], b"RIFF\0\0\0\0WEBX", stripped[:30]):
        with pytest.raises(ValueError):
            picturescrub.strip_webp(broken)


def test_a_gif_keeps_its_frames_timing_and_loop_and_loses_comments_and_xmp(tmp_path):
    path = tmp_path / "a.gif"
    path.write_bytes(animation("GIF", comment=NAME.encode()))
    data = exiftool(path, [f"-XMP-dc:Creator={NAME}", f"-XMP-tiff:Make={MAKE}"])
    data = data[:-1] + b"\x21\x01\x0c" + b"Santoso Budi" + b"\0;after the trailer"

    stripped, dropped = picturescrub.strip_gif(data)

    assert dropped and frames_of(stripped) == frames_of(data)
    for secret in (MAKE, NAME, "Santoso", "XMP", "after"):
        assert secret.encode() not in stripped
    assert b"NETSCAPE2.0\x03\x01\x03\x00\x00" in stripped  # the loop count, alone
    assert picturescrub.strip_gif(stripped) == (stripped, False)
    for broken in (stripped[:-1], stripped[:20], b"GIF89a"):
        with pytest.raises(ValueError):
            picturescrub.strip_gif(broken)
