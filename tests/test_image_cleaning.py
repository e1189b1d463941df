"""Pictures of every kind SIPADU cleans lose their metadata and keep their pixels (issue
21): real files carrying real metadata (written by exiftool and Pillow), cleaned in the
confined child, then read back with exiftool. Bombs and broken files of the new formats
(GIF, TIFF, HEIF) are refused within their budget."""

import io
import json
import struct
import subprocess
import time
from pathlib import Path

import pytest

from sipadu.evidence import imagecheck, imagestrip
from sipadu.evidence.outcome import Cleaned, Kind, Removed

MIB = 1024 * 1024
LIMITS = imagestrip.Confinement(1024 * MIB, 20)
SMALL = imagestrip.Confinement(256 * MIB, 5)  # the bombs' budget
MAX_PIXELS = 50_000_000
SECRETS = ("Budi Santoso", "Canon", "EOS 5D", "2024:01:02", "Adobe", "rahasia", "Inspektorat")
# exiftool's tag names for what identifies a picture's maker, place, moment or device.
IDENTIFYING = {
    "GPSLatitude", "GPSLongitude", "GPSPosition", "GPSAltitude", "Artist", "Creator",
    "Copyright", "Rights", "Make", "Model", "SerialNumber", "DateTimeOriginal",
    "CreateDate", "ModifyDate", "DateTime", "Software", "CreatorTool", "ImageDescription",
    "Description", "UserComment", "Comment", "XPAuthor", "XPComment", "ThumbnailImage",
    "By-line", "Caption-Abstract", "City",
}  # fmt: skip
HIDDEN_GROUPS = ("GPS", "ExifIFD", "XMP", "IPTC", "ICC", "IFD1", "MakerNotes", "Photoshop")
EXIF_ARGUMENTS = [
    "-GPSLatitude=6.2",
    "-GPSLatitudeRef=S",
    "-GPSLongitude=106.8",
    "-GPSLongitudeRef=E",
    "-Artist=Budi Santoso",
    "-Copyright=Inspektorat",
    "-Make=Canon",
    "-Model=EOS 5D",
    "-DateTimeOriginal=2024:01:02 03:04:05",
    "-Software=Adobe",
    "-ImageDescription=rahasia",
]
EVERY_CATEGORY = {
    Removed.GPS,
    Removed.AUTHOR,
    Removed.CAMERA,
    Removed.DATES,
    Removed.SOFTWARE,
    Removed.COMMENTS,
}


def exiftool(path: Path, *arguments: str) -> None:
    subprocess.run(
        ["exiftool", "-q", "-q", "-overwrite_original", *arguments, str(path)],
        check=True,
        timeout=60,
    )


def read_metadata(data: bytes, tmp_path: Path) -> dict[str, object]:
    path = tmp_path / "cleaned"
    path.write_bytes(data)
    output = subprocess.run(
        ["exiftool", "-j", "-G1", "-a", "-b", str(path)],
        check=True,
        capture_output=True,
        timeout=60,
    ).stdout
    (fields,) = json.loads(output)
    return {
        key: value
        for key, value in fields.items()
        if not key.startswith(("System:", "ExifTool:", "File:", "Composite:"))
    }


def assert_nothing_identifying(data: bytes, tmp_path: Path, pages: bool = False) -> None:
    """No identifying tag, no group of hidden data (of a TIFF, exiftool calls the second
    page IFD1: ``pages``), and none of the values anywhere in the bytes."""
    fields = read_metadata(data, tmp_path)
    hidden = tuple(group for group in HIDDEN_GROUPS if not (pages and group == "IFD1"))
    for key in fields:
        group, _, name = key.rpartition(":")
        assert name not in IDENTIFYING, key
        assert not group.startswith(hidden), key
    for secret in SECRETS:
        assert secret.encode() not in data, secret


def colourful(width: int, height: int, mode: str = "RGB"):
    from PIL import Image

    image = Image.linear_gradient("L").resize((width, height))
    return Image.merge("RGB", [image, image.rotate(90), image.rotate(180)]).convert(mode)


def differs(image, other) -> float:
    """The mean difference of two pictures' pixels, 0 to 255."""
    from PIL import ImageChops, ImageStat

    return sum(ImageStat.Stat(ImageChops.difference(image, other)).mean) / 3


def cleaned(data: bytes, confinement=LIMITS) -> tuple[Cleaned, bytes]:
    out = bytearray()
    middle = len(data) // 2  # pieces, as the server feeds them
    result = imagestrip.clean(
        [data[:middle], memoryview(data)[middle:]], MAX_PIXELS, MAX_PIXELS, confinement, out.extend
    )
    return result, bytes(out)


def open_image(data: bytes):
    from PIL import Image

    if data[4:8] == b"ftyp":
        import pillow_heif

        pillow_heif.register_heif_opener()
    return Image.open(io.BytesIO(data))


@pytest.mark.parametrize("pillow_format", ["JPEG", "PNG", "WEBP", "HEIF"])
def test_a_picture_loses_gps_author_camera_dates_software_and_comments(tmp_path, pillow_format):
    """Main cleaned JPEG, PNG and WebP only; a HEIC with GPS, camera and author reached
    the investigator intact. Each is written with real EXIF by exiftool."""
    if pillow_format == "HEIF":
        import pillow_heif

        pillow_heif.register_heif_opener()
    path = tmp_path / f"photo.{pillow_format.lower()}"
    colourful(96, 64).save(path, pillow_format)
    exiftool(path, *EXIF_ARGUMENTS)
    original = path.read_bytes()
    assert b"Budi Santoso" in original

    result, clean = cleaned(original)

    assert result.kind == Kind(pillow_format.lower())
    assert EVERY_CATEGORY <= result.removed
    assert result.pixels == 96 * 64
    assert_nothing_identifying(clean, tmp_path)
    with open_image(clean) as image:
        assert image.format == pillow_format and image.size == (96, 64)
        assert differs(image.convert("RGB"), colourful(96, 64)) < 8  # lossy, but the same


@pytest.mark.parametrize("orientation", range(2, 9))
@pytest.mark.parametrize("pillow_format", ["JPEG", "PNG", "WEBP"])
def test_a_turned_photo_with_gps_is_cleaned_and_stands_upright(
    tmp_path, pillow_format, orientation
):
    """A phone stores a portrait photo sideways with an EXIF Orientation tag (6 for an
    upright iPhone). Pillow's exif_transpose, after the EXIF had been read, failed to
    write the block back (struct.error), so every such photo was kept as sent, GPS,
    make and model included (issue 21 review). The clean copy has no EXIF: its pixels
    are turned upright, as a viewer shows the original."""
    from PIL import Image, ImageOps

    path = tmp_path / f"portrait.{pillow_format.lower()}"
    colourful(96, 64).save(path, pillow_format)
    exiftool(path, "-n", f"-Orientation={orientation}", *EXIF_ARGUMENTS)
    original = path.read_bytes()
    with Image.open(io.BytesIO(original)) as image:
        assert image.getexif()[0x0112] == orientation
        shown = ImageOps.exif_transpose(image).convert("RGB")  # what a viewer shows

    result, clean = cleaned(original)

    assert EVERY_CATEGORY <= result.removed
    assert_nothing_identifying(clean, tmp_path)
    with open_image(clean) as image:
        assert image.size == shown.size
        assert differs(image.convert("RGB"), shown) < 8


def test_a_jpeg_loses_its_exif_thumbnail_and_xmp_and_iptc(tmp_path):
    thumbnail = tmp_path / "thumb.jpg"
    colourful(32, 24).save(thumbnail, "JPEG")
    path = tmp_path / "photo.jpg"
    colourful(96, 64).save(path, "JPEG", comment=b"rahasia")
    exiftool(
        path,
        f"-ThumbnailImage<={thumbnail}",
        "-XMP:Creator=Budi Santoso",
        "-IPTC:By-line=Budi Santoso",
        "-IPTC:City=Jakarta",
        "-GPSLatitude=6.2",
    )
    result, clean = cleaned(path.read_bytes())
    assert {Removed.THUMBNAIL, Removed.AUTHOR, Removed.GPS, Removed.COMMENTS} <= result.removed
    assert Removed.OTHER in result.removed  # the XMP and IPTC themselves
    assert_nothing_identifying(clean, tmp_path)
    assert b"Jakarta" not in clean


def test_a_multi_page_tiff_keeps_every_page_losslessly_and_no_tag_but_its_own(tmp_path):
    """Main kept a TIFF with camera and author as sent."""
    from PIL import Image

    pages = [colourful(80, 60), colourful(40, 30, "L"), colourful(20, 10).convert("P")]
    path = tmp_path / "scan.tif"
    pages[0].save(path, "TIFF", save_all=True, append_images=pages[1:], compression="tiff_lzw")
    exiftool(path, *EXIF_ARGUMENTS)
    original = path.read_bytes()
    assert b"Budi Santoso" in original and imagecheck.tiff_pages(original) == 3

    result, clean = cleaned(original)

    assert result.kind == Kind.TIFF and EVERY_CATEGORY <= result.removed
    assert result.pixels == 80 * 60 + 40 * 30 + 20 * 10
    assert_nothing_identifying(clean, tmp_path, pages=True)
    with Image.open(io.BytesIO(clean)) as image:
        assert image.n_frames == 3
    for index, page in enumerate(pages):
        # Opened anew for each page: Pillow 12 fails to load a palette page after it has
        # seeked past it and back (n_frames) ("unrecognized image mode"), in any file.
        with Image.open(io.BytesIO(clean)) as image:
            image.seek(index)
            assert image.size == page.size and image.mode == page.mode
            assert image.tobytes() == page.tobytes()  # lossless, pixel for pixel
            assert set(image.tag_v2) <= imagecheck_own_tags(), index


def imagecheck_own_tags() -> set[int]:
    from sipadu.evidence import imagemeta

    return set(imagemeta._OWN_TAGS)


def test_an_animated_gif_keeps_its_frames_durations_and_loop_and_nothing_else(tmp_path):
    from PIL import Image

    frames = []
    for shade in range(4):
        frame = Image.new("P", (30, 20), shade)
        frame.putpalette([0, 0, 0, 255, 0, 0, 0, 255, 0, 0, 0, 255] + [0] * 756)
        frame.paste(3 - shade, (shade * 5, 0, shade * 5 + 5, 5))
        frames.append(frame)
    path = tmp_path / "anim.gif"
    frames[0].save(
        path,
        "GIF",
        save_all=True,
        append_images=frames[1:],
        duration=[100, 200, 300, 400],
        loop=0,
        comment=b"rahasia",
    )
    exiftool(path, "-XMP:Creator=Budi Santoso", "-XMP:GPSLatitude=6.2", "-XMP:Make=Canon")
    original = path.read_bytes()
    assert b"Budi Santoso" in original and b"rahasia" in original

    result, clean = cleaned(original)

    assert result.kind == Kind.GIF
    assert {Removed.AUTHOR, Removed.GPS, Removed.CAMERA, Removed.COMMENTS} <= result.removed
    assert result.pixels == 4 * 30 * 20
    assert_nothing_identifying(clean, tmp_path)
    walk = imagecheck.gif_walk(clean)
    assert walk.applications == {b"NETSCAPE2.0"} and not walk.comment and walk.frames == 4
    with Image.open(io.BytesIO(clean)) as image, Image.open(path) as before:
        assert image.n_frames == 4 and image.info["loop"] == 0
        for index in range(4):
            image.seek(index)
            before.seek(index)
            assert image.info["duration"] == (index + 1) * 100
            assert image.convert("RGB").tobytes() == before.convert("RGB").tobytes()


def test_a_gif_that_does_not_loop_still_does_not_loop(tmp_path):
    from PIL import Image

    frames = [Image.new("P", (8, 8), shade) for shade in range(2)]
    for frame in frames:
        frame.putpalette([0, 0, 0, 255, 255, 255])
    out = io.BytesIO()
    frames[0].save(out, "GIF", save_all=True, append_images=frames[1:], duration=50)
    result, clean = cleaned(out.getvalue())
    assert result.removed == frozenset()
    with Image.open(io.BytesIO(clean)) as image:
        assert "loop" not in image.info and image.n_frames == 2


def test_a_picture_without_metadata_says_nothing_was_removed():
    out = io.BytesIO()
    colourful(16, 16).save(out, "PNG")
    result, _ = cleaned(out.getvalue())
    assert result == Cleaned(Kind.PNG, frozenset(), pixels=256)


def test_the_report_of_the_child_is_read_strictly():
    good = b"kind=heif\nremoved=camera,gps\npixels=12\n"
    assert imagestrip.parse_report(good) == Cleaned(
        Kind.HEIF, frozenset({Removed.CAMERA, Removed.GPS}), pixels=12
    )
    # A GIF cleaned without decoding (imagestrip._strip_gif_blocks) cost no pixel.
    assert imagestrip.parse_report(b"kind=gif\nremoved=\npixels=0\n").pixels == 0
    for bad in (
        b"",
        good + b"x",
        good.replace(b"heif", b"pdf2"),
        good.replace(b"gps", b"gps,nothing"),
        good.replace(b"=12", b"=00"),
        good.replace(b"=12", b"=-1"),
        b"removed=gps\nkind=heif\npixels=12\n",
        good.replace(b"\n", b"\r\n"),
    ):
        with pytest.raises(imagestrip.NotCleanable):
            imagestrip.parse_report(bad)


# --- bombs and broken files of the new formats ------------------------------------------


def gif_screen(width: int, height: int, frames: int = 1) -> bytes:
    """A GIF whose logical screen is ``width`` x ``height``, of one-pixel frames."""
    frame = b"\x2c" + struct.pack("<HHHHB", 0, 0, 1, 1, 0) + b"\x02\x02\x44\x01\x00"
    screen = b"GIF89a" + struct.pack("<HHBBB", width, height, 0x80, 0, 0) + bytes(6)
    return screen + frame * frames + b"\x3b"


def tiff_of(width: int, height: int, pages: int = 1, loop: bool = False) -> bytes:
    """A little-endian TIFF of ``pages`` 8-bit grey pages of this size, one byte each."""
    out = bytearray(b"II*\x00" + struct.pack("<I", 8))
    entries = 8
    ifd_size = 2 + entries * 12 + 4
    for page in range(pages):
        start = len(out)
        data_at = start + ifd_size
        last = page == pages - 1
        following = 8 if loop and last else 0 if last else data_at + 1
        tags = [
            (256, 4, width),
            (257, 4, height),
            (258, 3, 8),
            (259, 3, 1),
            (262, 3, 1),
            (273, 4, data_at),
            (278, 4, height),
            (279, 4, 1),
        ]
        out += struct.pack("<H", entries)
        for tag, kind, value in tags:
            out += struct.pack("<HHII", tag, kind, 1, value)
        out += struct.pack("<I", following) + b"\x80"
    return bytes(out)


def heif_of_size(width: int, height: int) -> bytes:
    """A real HEIC whose image spatial extent ('ispe') claims ``width`` x ``height``."""
    import pillow_heif

    pillow_heif.register_heif_opener()
    out = io.BytesIO()
    colourful(64, 64).save(out, "HEIF")
    data = bytearray(out.getvalue())
    at = data.index(b"ispe") + 8  # size, "ispe", version and flags
    data[at : at + 8] = struct.pack(">II", width, height)
    return bytes(data)


def refused_within_budget(data: bytes, refusal: type[Exception]) -> None:
    started = time.monotonic()
    sink = bytearray()
    with pytest.raises(refusal):
        imagestrip.clean([data], MAX_PIXELS, MAX_PIXELS, SMALL, sink.extend)
    assert sink == b""
    assert time.monotonic() - started < 30  # a guard: the rlimits are the guarantee


@pytest.mark.parametrize(
    "bomb",
    [
        lambda: tiff_of(200_000, 200_000),
        lambda: tiff_of(8000, 8000, pages=20),  # 1.3 gigapixels over 20 small pages
        lambda: heif_of_size(60000, 60000),
    ],
    ids=["tiff-dimensions", "tiff-pages-of-pixels", "heif-extent"],
)
def test_a_decompression_bomb_is_too_large_from_its_header(bomb):
    """Huge dimensions in a tiny file: told from the header, before any pixel."""
    data = bomb()
    assert len(data) < 20_000
    refused_within_budget(data, imagestrip.TooLarge)


@pytest.mark.parametrize(
    "bomb",
    [
        lambda: tiff_of(1, 1, pages=3, loop=True),
    ],
    ids=["tiff-loop"],
)
def test_a_picture_built_to_cost_cpu_is_refused_before_decoding(bomb):
    """A TIFF's IFD chain is walked in Python, tag by tag: one that loops is refused."""
    refused_within_budget(bomb(), imagestrip.NotCleanable)


def test_a_tiff_of_more_pages_than_are_decoded_here_is_too_large_not_damaged():
    refused_within_budget(tiff_of(1, 1, pages=imagecheck.MAX_TIFF_PAGES + 1), imagestrip.TooLarge)


@pytest.mark.parametrize(
    "made",
    [
        lambda: gif_screen(65535, 65535),
        lambda: gif_screen(1, 1, frames=imagecheck.MAX_GIF_FRAMES + 1),
    ],
    ids=["gif-screen", "gif-frames"],
)
def test_a_gif_too_large_to_decode_is_cleaned_without_decoding(made):
    """A GIF of more pixels or frames than are decoded here (a bomb, or a long screen
    recording) loses its comments and extensions byte for byte: nothing is decoded, so
    it costs no pixel and little time."""
    data = made()[:-1] + b"\x21\xfe\x05Budi!\x00\x3b"  # a comment before the trailer
    started = time.monotonic()
    result, clean = cleaned(data, SMALL)
    assert time.monotonic() - started < 30
    assert result.kind == Kind.GIF and result.pixels == 0 and Removed.COMMENTS in result.removed
    assert clean == data[:-10] + b"\x3b" and b"Budi" not in clean


def test_real_animations_and_scans_are_within_the_frame_and_page_limits():
    assert imagecheck.gif_walk(gif_screen(2, 2, frames=750)).frames == 750
    assert imagecheck.tiff_pages(tiff_of(2, 2, pages=300)) == 300
    imagecheck.check(tiff_of(2, 2, pages=imagecheck.MAX_TIFF_PAGES), "TIFF")
    imagecheck.check(gif_screen(2, 2, frames=imagecheck.MAX_GIF_FRAMES), "GIF")


def real_file(pillow_format: str) -> bytes:
    from PIL import Image

    if pillow_format == "HEIF":
        import pillow_heif

        pillow_heif.register_heif_opener()
    out = io.BytesIO()
    if pillow_format == "GIF":
        frames = [colourful(120, 90).convert("P") for _ in range(3)]
        frames[0].save(out, "GIF", save_all=True, append_images=frames[1:])
    else:
        image = colourful(400, 300)
        image.save(
            out, pillow_format, **({"compression": "tiff_lzw"} if pillow_format == "TIFF" else {})
        )
    assert Image.open(io.BytesIO(out.getvalue())).size
    return out.getvalue()


@pytest.mark.parametrize("pillow_format", ["GIF", "TIFF", "HEIF"])
def test_a_truncated_or_malformed_picture_is_not_cleanable(pillow_format):
    data = real_file(pillow_format)
    refused_within_budget(data[: len(data) // 2], imagestrip.NotCleanable)
    header = 64 if pillow_format != "HEIF" else data.index(b"mdat") + 8
    garbage = data[:header] + bytes(range(256)) * 8 + data[header + 2048 :]
    refused_within_budget(garbage, imagestrip.NotCleanable)


@pytest.mark.parametrize("kept", [0.3, 0.95])
def test_a_cut_off_photo_loses_its_gps_and_keeps_its_picture_bytes(tmp_path, kept):
    """A photo cut off in the middle (an interrupted copy) cannot be decoded whole: its
    metadata segments go without decoding it, and its picture data stays as it was."""
    path = tmp_path / "photo.jpg"
    colourful(800, 600).save(path, "JPEG", quality=90)
    exiftool(path, *EXIF_ARGUMENTS)
    whole = path.read_bytes()
    data = whole[: int(len(whole) * kept)]
    result, clean = cleaned(data)
    assert result.kind == Kind.JPEG and EVERY_CATEGORY <= result.removed
    assert_nothing_identifying(clean, tmp_path)
    scan = data.index(b"\xff\xda")
    assert clean.endswith(data[scan:]) and len(clean) < len(data)


def test_a_heif_too_large_to_re_encode_as_heif_here_is_cleaned_to_a_jpeg(tmp_path):
    """x265 needs far more memory than decoding (imagestrip.HEIF_AS_JPEG): with little
    memory a photo is cleaned to a JPEG rather than kept as sent, and the kind says so."""
    import pillow_heif

    pillow_heif.register_heif_opener()
    path = tmp_path / "photo.heic"
    colourful(2000, 1500).save(path, "HEIF")
    exiftool(path, *EXIF_ARGUMENTS)
    data = path.read_bytes()
    tight = imagestrip.Confinement(160 * MIB, 20)
    assert imagestrip.largest_pixels("HEIF", tight.memory_bytes, MAX_PIXELS) < 3_000_000
    result, clean = cleaned(data, tight)
    assert result.kind == Kind.JPEG and EVERY_CATEGORY <= result.removed
    assert clean[:3] == b"\xff\xd8\xff"
    assert_nothing_identifying(clean, tmp_path)
    roomy, _ = cleaned(data, imagestrip.Confinement(400 * MIB, 20))
    assert roomy.kind == Kind.HEIF
