"""Issue 21: documents, audio and video lose their metadata (sipadu.evidence.docclean).

Every file here is real and carries real metadata, made in the test: office and ODF
documents by LibreOffice from flat ODF files, with their properties then set by editing
the archive's XML as an office suite writes it; PDFs by pikepdf (document information
and XMP); audio and video by ffmpeg (container and stream tags, a GPS position). Each is
cleaned through :func:`docclean.clean` in its confined child, then read back with
exiftool, ffprobe, pdftotext and zipfile: none of the planted values may remain
anywhere in the bytes, the file must still open with its content, and ``removed`` must
name what was there. A decompression bomb and a malformed file for each converter must
be refused within the child's memory and time budget.
"""

import io
import json
import os
import random
import re
import struct
import subprocess
import time
import zipfile
import zlib
from pathlib import Path

import pikepdf
import pytest
from PIL import Image

from sipadu.evidence import cleaning, docclean, kinds
from sipadu.evidence.confinement import Confinement
from sipadu.evidence.docclean import NotADocument, NotCleanable, TooCostly, WouldDamage
from sipadu.evidence.outcome import Cleaned, KeptAsSent, KeptReason, Kind, Remaining, Removed
from tests.office_files import FLAT_HEAD, soffice

MIB = 1024 * 1024
AUTHOR = "Budi Santoso Pelapor"
COMPANY = "Dinas Pekerjaan Umum Kabupaten Contoh"
TITLE = "Judul Rahasia Laporan"
KEYWORDS = "katakunci-rahasia"
PLACE = "+06.2146-106.8451/"
DEVICE = "KameraRahasia X9"
SECRETS = (AUTHOR, COMPANY, TITLE, KEYWORDS, "Santoso", "106.8451", "KameraRahasia")
CONTENT = "Laporan dana desa tahun ini"
# What one cleaning may cost in these tests (the defaults are 1024 MiB and 60 s).
LIMITS = Confinement(768 * MIB, 20, 0)


def confinement_for(data: bytes, limits: Confinement = LIMITS) -> Confinement:
    return Confinement(limits.memory_bytes, limits.cpu_seconds, docclean.file_bytes_for(len(data)))


def clean(data: bytes, kind: Kind, limits: Confinement = LIMITS) -> tuple[bytes, object]:
    out = io.BytesIO()
    cleaned = docclean.clean([data], kind, confinement_for(data, limits), out.write)
    return out.getvalue(), cleaned


def exiftool_text(path: Path) -> str:
    """What exiftool reads in the file at ``path`` (nothing of a type it does not know:
    ADTS without an ID3 tag, CAF, AMR)."""
    read = subprocess.run(
        ["exiftool", "-j", "-a", "-u", "-G1", str(path)], capture_output=True, text=True
    )
    assert read.returncode == 0 or "Unknown file type" in read.stdout, read.stdout
    return read.stdout


def assert_no_secret(text: str | bytes, where: str) -> None:
    if isinstance(text, bytes):
        text = text.decode("latin-1")
    for secret in SECRETS:
        assert secret not in text, f"{secret!r} left in {where}"


# --- office and ODF ----------------------------------------------------------------------

FLAT = {
    "text": (
        "fodt",
        "<office:body><office:text><text:p>{content}</text:p></office:text></office:body>",
    ),
    "spreadsheet": (
        "fods",
        "<office:body><office:spreadsheet><table:table table:name='A'><table:table-row>"
        "<table:table-cell office:value-type='string'><text:p>{content}</text:p>"
        "</table:table-cell></table:table-row></table:table></office:spreadsheet></office:body>",
    ),
    "presentation": (
        "fodp",
        "<office:body><office:presentation><draw:page draw:name='p1'>"
        "<draw:frame svg:x='1cm' svg:y='1cm' svg:width='20cm' svg:height='3cm'>"
        "<draw:text-box><text:p>{content}</text:p></draw:text-box></draw:frame>"
        "</draw:page></office:presentation></office:body>",
    ),
}
# Targets per kind of flat file: (LibreOffice filter, Kind).
TARGETS = {
    "text": {"docx": ("docx:MS Word 2007 XML", Kind.DOCX), "odt": ("odt", Kind.ODT)},
    "spreadsheet": {"xlsx": ("xlsx:Calc MS Excel 2007 XML", Kind.XLSX), "ods": ("ods", Kind.ODS)},
    "presentation": {
        "pptx": ("pptx:Impress MS PowerPoint 2007 XML", Kind.PPTX),
        "odp": ("odp", Kind.ODP),
    },
}
ODF_META = (
    '<?xml version="1.0" encoding="UTF-8"?><office:document-meta'
    ' xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0"'
    ' xmlns:meta="urn:oasis:names:tc:opendocument:xmlns:meta:1.0"'
    ' xmlns:dc="http://purl.org/dc/elements/1.1/" office:version="1.3"><office:meta>'
    f"<meta:initial-creator>{AUTHOR}</meta:initial-creator><dc:creator>{AUTHOR}</dc:creator>"
    f"<dc:title>{TITLE}</dc:title><meta:keyword>{KEYWORDS}</meta:keyword>"
    "<meta:creation-date>2024-05-01T10:00:00</meta:creation-date>"
    "<meta:editing-cycles>7</meta:editing-cycles>"
    f'<meta:user-defined meta:name="Company">{COMPANY}</meta:user-defined>'
    "<meta:generator>LibreOffice/7.4</meta:generator></office:meta></office:document-meta>"
)
CORE = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?><cp:coreProperties'
    ' xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties"'
    ' xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/"'
    ' xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
    f"<dc:creator>{AUTHOR}</dc:creator><cp:lastModifiedBy>{AUTHOR}</cp:lastModifiedBy>"
    f"<dc:title>{TITLE}</dc:title><cp:keywords>{KEYWORDS}</cp:keywords>"
    "<cp:revision>7</cp:revision>"
    '<dcterms:created xsi:type="dcterms:W3CDTF">2024-05-01T10:00:00Z</dcterms:created>'
    "</cp:coreProperties>"
)
APP = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Properties'
    ' xmlns="http://schemas.openxmlformats.org/officeDocument/2006/extended-properties">'
    f"<Template>Normal.dotm</Template><Application>Microsoft Office Word</Application>"
    f"<Company>{COMPANY}</Company><Manager>{AUTHOR}</Manager></Properties>"
)


def replace_members(path: Path, replacements: dict[str, str]) -> None:
    """Rewrite the archive at ``path`` with ``replacements`` (member name: text), as an
    office suite would have written them (ODF's ``mimetype`` first and stored)."""
    with zipfile.ZipFile(path) as source:
        members = [(info, source.read(info)) for info in source.infolist()]
    with zipfile.ZipFile(path, "w") as target:
        for info, data in members:
            body = replacements.get(info.filename, data)
            compression = (
                zipfile.ZIP_STORED if info.filename == "mimetype" else zipfile.ZIP_DEFLATED
            )
            target.writestr(info.filename, body, compress_type=compression)


@pytest.fixture(scope="module")
def office_files(tmp_path_factory) -> dict[str, Path]:
    """A DOCX, XLSX, PPTX, ODT, ODS and ODP made by LibreOffice, carrying an author, a
    company, a title, keywords, dates and revision counts."""
    folder = tmp_path_factory.mktemp("office")
    files = {}
    for kind, (extension, body) in FLAT.items():
        flat = folder / f"{kind}.{extension}"
        flat.write_text(
            FLAT_HEAD.format(kind=kind) + body.format(content=CONTENT) + "</office:document>"
        )
        for target, (conversion, _) in TARGETS[kind].items():
            soffice(folder, conversion, [flat], folder, timeout=60)
            made = folder / f"{kind}.{target}"
            if target.startswith("od"):
                replace_members(made, {"meta.xml": ODF_META})
            else:
                replace_members(made, {"docProps/core.xml": CORE, "docProps/app.xml": APP})
            files[target] = made
    return files


def archive_text(data: bytes) -> str:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.testzip() is None
        return "".join(archive.read(name).decode("utf-8", "replace") for name in archive.namelist())


@pytest.mark.parametrize("target", ["docx", "xlsx", "pptx", "odt", "ods", "odp"])
def test_office_documents_lose_author_company_title_and_history(office_files, target, tmp_path):
    original = office_files[target].read_bytes()
    kind = {k: v for targets in TARGETS.values() for k, (_, v) in targets.items()}[target]
    assert AUTHOR in archive_text(original) and COMPANY in archive_text(original)

    data, cleaned = clean(original, kind)

    text = archive_text(data)
    assert_no_secret(text, f"the {target}'s members")
    assert CONTENT in text  # the document itself is kept
    path = tmp_path / f"clean.{target}"
    path.write_bytes(data)
    assert_no_secret(exiftool_text(path), f"exiftool's reading of the {target}")
    assert cleaned.kind is kind
    assert {Removed.AUTHOR, Removed.COMMENTS, Removed.DATES} <= cleaned.removed
    assert Removed.EDIT_HISTORY in cleaned.removed  # revision / editing cycles
    assert cleaned.remaining == ()


def with_first_member(path: Path, name: str, data: bytes) -> bytes:
    """The archive at ``path`` with a stored member ``name`` written before all others
    (Word for Mac and other writers put a thumbnail first)."""
    out = io.BytesIO()
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(out, "w") as target:
        target.writestr(name, data, compress_type=zipfile.ZIP_STORED)
        for info in source.infolist():
            target.writestr(info.filename, source.read(info), zipfile.ZIP_DEFLATED)
    return out.getvalue()


@pytest.mark.parametrize("target", ["docx", "xlsx", "pptx"])
def test_a_zip_the_head_cannot_tell_is_cleaned_as_the_document_it_is(office_files, target):
    """The child reads the central directory of a :attr:`Kind.ZIP` and cleans it as the
    office document it is, reporting that kind."""
    thumbnail = io.BytesIO()  # a 15 KB picture: noise does not compress
    Image.frombytes("RGB", (128, 128), os.urandom(128 * 128 * 3)).save(thumbnail, "JPEG")
    original = with_first_member(
        office_files[target], "docProps/thumbnail.jpeg", thumbnail.getvalue()
    )
    assert kinds.detect(original[: kinds.HEAD_BYTES]) == Kind.ZIP
    assert AUTHOR in archive_text(original)

    data, cleaned = clean(original, Kind.ZIP)

    assert_no_secret(archive_text(data), f"the {target}'s members")
    assert cleaned.kind == Kind(target)
    assert Removed.AUTHOR in cleaned.removed


def test_a_plain_zip_or_a_lone_word_folder_is_not_a_document():
    """Kept as sent without mat2 ever seeing it: :class:`NotADocument`, nothing written."""
    for members in (
        [("foto.jpg", os.urandom(15_000)), ("catatan.txt", b"Budi")],
        [("foto.jpg", os.urandom(15_000)), ("word/document.xml", b"<w:document/>")],
    ):
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w") as archive:
            for name, member in members:
                archive.writestr(name, member)
        refused(out.getvalue(), Kind.ZIP, NotADocument)


def test_a_zip_of_too_many_members_or_damaged_is_not_cleaned_and_says_why():
    refused(zip_with_members(100_000), Kind.ZIP, TooCostly)
    refused(b"PK\x03\x04" + noise(20_000), Kind.ZIP, NotCleanable)


# --- PDF ------------------------------------------------------------------------------------


def make_pdf(pages: int = 1, runs: int = 1) -> bytes:
    """A PDF of ``pages`` pages (one content stream shared by all, ``runs`` runs of text
    long) carrying an author, a company, a title, keywords, the program that made it,
    in its document information and its XMP."""
    pdf = pikepdf.new()
    font = pikepdf.Dictionary(
        Type=pikepdf.Name.Font, Subtype=pikepdf.Name.Type1, BaseFont=pikepdf.Name.Helvetica
    )
    run = f"1 0 0 1 20 100 Tm ({CONTENT}) Tj "
    contents = pdf.make_stream(f"BT /F1 12 Tf {run * runs}ET".encode())
    resources = pikepdf.Dictionary(Font=pikepdf.Dictionary(F1=font))
    root_pages = pdf.Root.Pages
    kids = [
        pdf.make_indirect(
            pikepdf.Dictionary(
                Type=pikepdf.Name.Page,
                Parent=root_pages,
                MediaBox=[0, 0, 300, 200],
                Contents=contents,
                Resources=resources,
            )
        )
        for _ in range(pages)
    ]
    root_pages.Kids = pikepdf.Array(kids)
    root_pages.Count = pages
    pdf.docinfo["/Author"] = AUTHOR
    pdf.docinfo["/Creator"] = DEVICE
    pdf.docinfo["/Title"] = TITLE
    pdf.docinfo["/Keywords"] = KEYWORDS
    pdf.docinfo["/Company"] = COMPANY
    with pdf.open_metadata(set_pikepdf_as_editor=False) as meta:
        meta["dc:creator"] = [AUTHOR]
        meta["dc:title"] = TITLE
        meta["pdf:Producer"] = COMPANY
        meta["xmp:CreatorTool"] = DEVICE
    out = io.BytesIO()
    pdf.save(out)
    return out.getvalue()


def test_pdf_loses_its_information_and_xmp_and_keeps_its_text(tmp_path):
    original = make_pdf()
    assert AUTHOR.encode() in original

    data, cleaned = clean(original, Kind.PDF)

    assert_no_secret(data, "the PDF's bytes")
    with pikepdf.open(io.BytesIO(data)) as pdf:
        assert len(pdf.pages) == 1
        assert not {"/Author", "/Creator", "/Title", "/Keywords", "/Company"} & set(pdf.docinfo)
        assert "dc:creator" not in pdf.open_metadata()
    path = tmp_path / "clean.pdf"
    path.write_bytes(data)
    assert_no_secret(exiftool_text(path), "exiftool's reading of the PDF")
    text = subprocess.run(
        ["pdftotext", str(path), "-"], capture_output=True, text=True, check=True
    ).stdout
    assert CONTENT in text  # -L redraws the page as vectors and text, not as a picture
    assert {Removed.AUTHOR, Removed.COMMENTS, Removed.SOFTWARE} <= cleaned.removed
    assert cleaned.remaining == ()


def test_the_photos_inside_a_pdf_lose_their_exif(tmp_path):
    """mat2's lightweight mode writes each JPEG back as it came, EXIF and all (camera,
    author, GPS position): docclean strips them (issue 21 review of part A2)."""
    from PIL import Image

    exif = Image.Exif()
    exif[0x010F] = DEVICE  # Make
    exif[0x013B] = AUTHOR  # Artist
    exif.get_ifd(0x8825).update({1: "S", 2: (6.0, 12.0, 52.56)})  # GPS latitude
    photo = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 10, 10)).save(photo, "JPEG", exif=exif, comment=KEYWORDS)
    with pikepdf.open(io.BytesIO(make_pdf())) as pdf:
        image = pikepdf.Stream(pdf, photo.getvalue())
        image.Type, image.Subtype = pikepdf.Name.XObject, pikepdf.Name.Image
        image.Width, image.Height, image.BitsPerComponent = 64, 48, 8
        image.ColorSpace, image.Filter = pikepdf.Name.DeviceRGB, pikepdf.Name.DCTDecode
        page = pdf.pages[0]
        page.Resources.XObject = pikepdf.Dictionary(Im1=image)
        page.Contents = pdf.make_stream(
            page.Contents.read_bytes() + b" q 64 0 0 48 20 20 cm /Im1 Do Q"
        )
        out = io.BytesIO()
        pdf.save(out)
    assert AUTHOR.encode() in photo.getvalue()

    data, cleaned = clean(out.getvalue(), Kind.PDF)

    assert_no_secret(data, "the PDF's bytes")
    with pikepdf.open(io.BytesIO(data)) as pdf:
        (picture,) = pdf.pages[0].get_images().values()
        jpeg = picture.read_raw_bytes()
    assert jpeg.startswith(b"\xff\xd8") and Image.open(io.BytesIO(jpeg)).size == (64, 48)
    path = tmp_path / "photo.jpg"
    path.write_bytes(jpeg)
    assert_no_secret(exiftool_text(path), "the photo inside the PDF")
    assert {Removed.AUTHOR, Removed.CAMERA, Removed.GPS} <= cleaned.removed


def pdf_with_pictures(*pictures: tuple[str, int, int, str]) -> pikepdf.Pdf:
    """:func:`make_pdf`'s PDF (its author, title…) with pictures drawn on its page, each
    (Pillow mode, width, height, filter): ``flate`` (the pixels, compressed) or ``jpeg``."""
    pdf = pikepdf.open(io.BytesIO(make_pdf()))
    page = pdf.pages[0]
    drawn = page.Contents.read_bytes()
    names = {}
    for number, (mode, width, height, filter_name) in enumerate(pictures):
        picture = Image.new(mode, (width, height), 90 if mode == "L" else (200, 10, 10))
        if filter_name == "jpeg":
            out = io.BytesIO()
            picture.save(out, "JPEG")
            image = pikepdf.Stream(pdf, out.getvalue())
            image.Filter = pikepdf.Name.DCTDecode
        else:
            image = pikepdf.Stream(pdf, zlib.compress(picture.tobytes()))
            image.Filter = pikepdf.Name.FlateDecode
        image.Type, image.Subtype = pikepdf.Name.XObject, pikepdf.Name.Image
        image.Width, image.Height, image.BitsPerComponent = width, height, 8
        space = "/DeviceGray" if mode == "L" else "/DeviceRGB"
        image.ColorSpace = pikepdf.Name(space)
        names[f"/Im{number}"] = image
        drawn += f" q 40 0 0 {min(150, 40 * height / width):.2f} {20 + 50 * number} 20 cm".encode()
        drawn += f" /Im{number} Do Q".encode()
    page.Resources.XObject = pikepdf.Dictionary(names)
    page.Contents = pdf.make_stream(drawn)
    return pdf


def saved(pdf: pikepdf.Pdf) -> bytes:
    out = io.BytesIO()
    pdf.save(out)
    return out.getvalue()


def pictures_drawn(data: bytes, tmp_path: Path) -> list[list[str]]:
    """(page, type, width, height) of each picture Poppler draws (pdfimages -list)."""
    path = tmp_path / "pictures.pdf"
    path.write_bytes(data)
    listing = subprocess.run(
        ["pdfimages", "-list", str(path)], capture_output=True, text=True, check=True
    ).stdout
    return [line.split()[:5] for line in listing.splitlines()[2:]]


DOCUMENT_LIMITS = cleaning.CleaningLimits(
    image=LIMITS, document=Confinement(768 * MIB, 20, docclean.file_bytes_for(64 * MIB))
)


def outcome_of(data: bytes, kind: Kind) -> tuple[object, bytes]:
    """What :func:`cleaning.clean` says of ``data``, and what it wrote."""
    written: list[bytes] = []
    outcome = cleaning.clean([data], kind, 0, DOCUMENT_LIMITS, written.append)
    return outcome, b"".join(written)


def test_a_pdf_whose_tall_picture_would_shrink_is_cleaned_without_redrawing(tmp_path):
    """mat2's lightweight mode redraws a picture it does not copy as it came at most
    8,192 pixels on a side: a 1080 x 30000 screenshot of a chat became 294 x 8192,
    unreadable, and the reporter was told "cleaned". The damage check now sees it, and
    the metadata are removed from the original's own objects instead (it was kept as
    sent, with its author, until the last review of issue 21)."""
    original = saved(pdf_with_pictures(("L", 1080, 30000, "flate")))
    assert [row[3:] for row in pictures_drawn(original, tmp_path)] == [["1080", "30000"]]

    outcome, clean = outcome_of(original, Kind.PDF)

    assert isinstance(outcome, Cleaned) and Removed.AUTHOR in outcome.removed
    assert [row[3:] for row in pictures_drawn(clean, tmp_path)] == [["1080", "30000"]]
    with pikepdf.open(io.BytesIO(clean)) as pdf:
        assert AUTHOR not in str(pdf.docinfo) and "/Metadata" not in pdf.Root


def attach_file(pdf: pikepdf.Pdf) -> None:
    pdf.attachments["bukti-transfer.txt"] = pikepdf.AttachedFileSpec(pdf, CONTENT.encode())


def annotate_file(pdf: pikepdf.Pdf) -> None:
    attached = pikepdf.AttachedFileSpec(pdf, CONTENT.encode(), filename="bukti.txt")
    annotation = pikepdf.Dictionary(
        Type=pikepdf.Name.Annot,
        Subtype=pikepdf.Name.FileAttachment,
        Rect=[10, 10, 30, 30],
        FS=attached.obj,
    )
    pdf.pages[0].Annots = pdf.make_indirect(pikepdf.Array([pdf.make_indirect(annotation)]))


@pytest.mark.parametrize("attach", [attach_file, annotate_file], ids=["embedded", "annotation"])
def test_a_pdf_with_an_attached_file_is_kept_as_sent(attach):
    """mat2's lightweight mode leaves out the files attached to a PDF (the document's
    /EmbeddedFiles and file-attachment annotations): the evidence in them was lost
    while the reporter was told "cleaned"."""
    pdf = pdf_with_pictures(("RGB", 64, 48, "jpeg"))
    attach(pdf)
    original = saved(pdf)
    assert AUTHOR.encode() in original

    outcome, _ = outcome_of(original, Kind.PDF)

    assert isinstance(outcome, KeptAsSent) and outcome.why is KeptReason.WOULD_DAMAGE
    assert outcome.kind is Kind.PDF and Remaining("author", AUTHOR) in outcome.remaining


def test_a_pdf_with_pictures_is_still_cleaned_with_each_at_its_size(tmp_path):
    """Pictures Poppler redraws at their size (8,192 pixels on a side or less, any
    filter) and JPEGs it copies (whatever their size) pass the check."""
    pictures = [
        ("RGB", 640, 480, "flate"),
        ("L", 8192, 20, "flate"),
        ("RGB", 64, 48, "jpeg"),
        ("L", 200, 9000, "jpeg"),
    ]
    original = saved(pdf_with_pictures(*pictures))

    outcome, data = outcome_of(original, Kind.PDF)

    assert isinstance(outcome, Cleaned) and Removed.AUTHOR in outcome.removed
    assert outcome.remaining == ()
    assert AUTHOR.encode() not in data
    sizes = [[page, width, height] for page, _, _, width, height in pictures_drawn(data, tmp_path)]
    assert sizes == [["1", str(w), str(h)] for _, w, h, _ in pictures]


def test_a_jpeg_keeps_its_picture_and_loses_its_segments():
    """Metadata segments go before the first scan and between scans, and whatever
    follows the end of the picture (a phone's second JPEG with its own EXIF); the
    scans' data (stuffed bytes, restart markers) is kept byte for byte."""
    app1 = b"\xff\xe1\x00\x08Exif\x00\x00"
    comment = b"\xff\xfe\x00\x05abc"
    jfif = b"\xff\xe0\x00\x04\x00\x00"
    scan = b"\xff\xda\x00\x04\x00\x00" + b"\x12\xff\x00\x34\xff\xd0\x56"
    table = b"\xff\xc4\x00\x04\x00\x00"  # a table between scans stays
    end = b"\xff\xd9"
    appended = b"\xff\xd8" + app1 + scan + end
    stripped, dropped = docclean.strip_jpeg(
        b"\xff\xd8" + jfif + app1 + comment + scan + comment + table + app1 + scan + end + appended
    )
    assert (stripped, dropped) == (b"\xff\xd8" + jfif + scan + table + scan + end, True)
    plain = b"\xff\xd8" + jfif + scan + end
    assert docclean.strip_jpeg(plain) == (plain, False)
    assert docclean.strip_jpeg(plain + b"\0")[1]  # even one byte after the end
    for broken in (b"GIF89a", b"\xff\xd8\xff\xe1\x00\xff", b"\xff\xd8\x00"):
        with pytest.raises(ValueError):
            docclean.strip_jpeg(broken)


# --- audio and video --------------------------------------------------------------------------

TAGS = [
    "-metadata", f"artist={AUTHOR}",
    "-metadata", f"comment={KEYWORDS}",
    "-metadata", f"title={TITLE}",
    "-metadata", f"location={PLACE}",
    "-metadata", f"make={DEVICE}",
    "-metadata", f"copyright={COMPANY}",
]  # fmt: skip
SINE = ["-f", "lavfi", "-i", "sine=frequency=440:duration=1"]
PICTURE = ["-f", "lavfi", "-i", "testsrc=duration=1:size=64x48:rate=10"]
# file name: (Kind, ffmpeg inputs and codecs, metadata the container keeps)
MEDIA = {
    "a.mp3": (Kind.MP3, [*SINE], {Removed.AUTHOR, Removed.GPS, Removed.COMMENTS}),
    "a.m4a": (Kind.M4A, [*SINE, "-c:a", "aac"], {Removed.AUTHOR, Removed.GPS}),
    "a.ogg": (Kind.OGG, [*SINE, "-c:a", "libopus"], {Removed.AUTHOR, Removed.GPS}),
    "a.flac": (Kind.FLAC, [*SINE], {Removed.AUTHOR, Removed.GPS, Removed.CAMERA}),
    "a.wav": (Kind.WAV, [*SINE], {Removed.AUTHOR, Removed.COMMENTS}),
    "v.mp4": (Kind.MP4, [*PICTURE, *SINE, "-c:v", "libx264", "-c:a", "aac"], {Removed.GPS}),
    "v.mov": (Kind.MP4, [*PICTURE, *SINE, "-c:v", "libx264", "-c:a", "aac"], {Removed.CAMERA}),
    "v.3gp": (Kind.MP4, [*PICTURE, *SINE, "-c:v", "mpeg4", "-c:a", "aac"], {Removed.GPS}),
    "v.webm": (Kind.WEBM, [*PICTURE, *SINE, "-c:v", "libvpx", "-c:a", "libopus"], {Removed.GPS}),
    "v.mkv": (Kind.WEBM, [*PICTURE, *SINE, "-c:v", "libx264", "-c:a", "aac"], {Removed.AUTHOR}),
    "v.avi": (Kind.AVI, [*PICTURE, *SINE, "-c:v", "mpeg4", "-c:a", "mp3"], {Removed.AUTHOR}),
    # Recognised and cleaned since the review of issue 21: before, "a type that cannot
    # be cleaned" (a WMA's author reached the investigator).
    "a.aac": (Kind.AAC, [*SINE, "-c:a", "aac", "-write_id3v2", "1"], {Removed.AUTHOR}),
    "a.wma": (Kind.ASF, [*SINE, "-c:a", "wmav2"], {Removed.AUTHOR, Removed.GPS}),
    "v.wmv": (Kind.ASF, [*PICTURE, *SINE, "-c:v", "wmv2", "-c:a", "wmav2"], {Removed.AUTHOR}),
    "v.ts": (Kind.MPEGTS, [*PICTURE, *SINE, "-c:v", "libx264", "-c:a", "aac"], {Removed.OTHER}),
    "v.m2ts": (Kind.MPEGTS, [*PICTURE, *SINE, "-c:v", "libx264", "-c:a", "ac3"], {Removed.OTHER}),
    "v.flv": (Kind.FLV, [*PICTURE, *SINE, "-c:v", "flv", "-c:a", "mp3"], {Removed.GPS}),
    "a.caf": (Kind.CAF, [*SINE, "-c:a", "pcm_s16le"], {Removed.AUTHOR, Removed.GPS}),
    "a.aiff": (Kind.AIFF, [*SINE], {Removed.AUTHOR, Removed.COMMENTS}),
    "a.mka": (Kind.WEBM, [*SINE, "-c:a", "libopus"], {Removed.AUTHOR, Removed.GPS}),
}


def make_media(path: Path, inputs: list[str]) -> bytes:
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", *inputs, "-t", "1", *TAGS, str(path)],
        check=True,
        timeout=60,
    )
    return path.read_bytes()


def probe(path: Path) -> dict:
    return json.loads(
        subprocess.run(
            [
                *("ffprobe", "-v", "error", "-show_format", "-show_programs", "-show_streams"),
                *("-of", "json", str(path)),
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )


@pytest.mark.parametrize("name", sorted(MEDIA))
def test_audio_and_video_lose_their_tags_and_place(name, tmp_path):
    kind, inputs, expected = MEDIA[name]
    original = make_media(tmp_path / name, inputs)
    before = probe(tmp_path / name)
    assert any(secret in json.dumps(before) for secret in SECRETS), "no metadata planted"

    data, cleaned = clean(original, kind)

    after = assert_clean_recording(data, name, tmp_path)
    # The recording is kept: the same streams, the same length.
    assert [s["codec_name"] for s in after["streams"]] == [
        s["codec_name"] for s in before["streams"]
    ]
    assert float(after["format"]["duration"]) == pytest.approx(
        float(before["format"]["duration"]), abs=0.1
    )
    assert cleaned.kind is kind
    assert expected <= cleaned.removed, cleaned.removed
    assert cleaned.remaining == ()
    # In its own container (a camcorder's 192-byte transport packets stay so).
    assert kinds.detect(data[: kinds.HEAD_BYTES]) is kind
    assert data[4] == original[4] if name.endswith(".m2ts") else True
    # No program named beyond the least a format needs (Matroska's "Lavf", Ogg's and
    # FLAC's vendor "ffmpeg"), and a transport stream's service names no one.
    assert b"Lavf5" not in data and b"FFmpeg" not in data


def assert_clean_recording(data: bytes, name: str, tmp_path: Path) -> dict:
    """No secret in the bytes, exiftool's or ffprobe's reading of ``data``; ffprobe's."""
    path = tmp_path / f"clean-{name}"
    path.write_bytes(data)
    assert_no_secret(data, f"the bytes of {name}")
    assert_no_secret(exiftool_text(path), f"exiftool's reading of {name}")
    after = probe(path)
    assert_no_secret(json.dumps(after), f"ffprobe's reading of {name}")
    return after


SECOND_STREAM_TAGS = ["-metadata:s:1", f"artist={AUTHOR}", "-metadata:s:1", f"location={PLACE}"]


@pytest.mark.parametrize(
    "name, inputs",
    [
        # An .ogv: Theora video, then Vorbis sound (a phone's or a screen recorder's).
        ("v.ogv", [*PICTURE, *SINE, "-map", "0", "-map", "1", "-c:v", "libtheora"]),
        # Two Opus sound streams in one Ogg file.
        ("a.opus", [*SINE, *SINE, "-map", "0", "-map", "1", "-c:a", "libopus"]),
    ],
)
def test_every_stream_of_an_ogg_loses_its_comments(name, inputs, tmp_path):
    """mat2 (mutagen) cleaned the comments of an Ogg file's first logical stream only,
    and read only those: the second stream's ARTIST and LOCATION stayed while the
    reporter was told "cleaned"."""
    original = make_media(tmp_path / name, [*inputs, *SECOND_STREAM_TAGS])
    before = probe(tmp_path / name)
    assert AUTHOR in json.dumps(before["streams"][1]) and AUTHOR.encode() in original

    data, cleaned = clean(original, Kind.OGG)

    after = assert_clean_recording(data, name, tmp_path)
    assert [s["codec_name"] for s in after["streams"]] == [
        s["codec_name"] for s in before["streams"]
    ]
    for stream in ("0:0", "0:1"):  # each stream holds the same pictures or sound
        assert decoded(data, tmp_path, stream) == decoded(original, tmp_path, stream)
    assert after["format"]["duration"] == before["format"]["duration"]
    assert b"Lavf" not in data and b"Lavc" not in data  # each vendor is "ffmpeg" only
    assert {Removed.AUTHOR, Removed.GPS} <= cleaned.removed and cleaned.remaining == ()


# H.264 "user data unregistered" SEI (ITU-T H.264 D.1.6), where a camcorder may write
# its make and the time and place: ffmpeg's h264_metadata filter plants one.
CAMERA_SEI = f"h264_metadata=sei_user_data=086f3693-b7b3-4f2c-9653-21492feee5b8+{DEVICE}"
MPEG_PICTURE = ["-f", "lavfi", "-i", "testsrc=duration=1:size=64x48:rate=25"]


@pytest.mark.parametrize(
    "name, codecs",
    [
        ("v.mpg", ["-c:v", "libx264", "-bsf:v", CAMERA_SEI, "-c:a", "mp2"]),  # MPEG-1 packs
        ("v.vob", ["-c:v", "mpeg2video", "-c:a", "ac3"]),  # MPEG-2 packs, as on a DVD
        ("h264.vob", ["-c:v", "libx264", "-bsf:v", CAMERA_SEI, "-c:a", "mp2"]),
    ],
)
def test_a_program_stream_is_cleaned_in_its_own_container(name, codecs, tmp_path):
    """An MPEG program stream (.mpg, a DVD's .vob, a camcorder's .mod) was "a type that
    cannot be cleaned", kept as sent with whatever its video carried: now ffmpeg copies
    its pictures and sound into the same kind of pack (MPEG-1 or MPEG-2) without the
    SEI units of its H.264 video, nor any stream but video and audio."""
    path = tmp_path / name
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", *MPEG_PICTURE, *SINE, *codecs, "-t", "1", str(path)],
        check=True,
        timeout=60,
    )
    original = path.read_bytes()
    before = probe(path)
    assert (DEVICE.encode() in original) == ("bsf:v" in " ".join(codecs)), "SEI not planted"

    data, cleaned = clean(original, Kind.MPEGPS)

    after = assert_clean_recording(data, name, tmp_path)
    assert cleaned.kind is Kind.MPEGPS and cleaned.remaining == ()
    assert data[4] >> 6 == original[4] >> 6  # the same version of pack header
    assert [s["codec_name"] for s in after["streams"]] == [
        s["codec_name"] for s in before["streams"]
    ]
    assert decoded(data, tmp_path, "0:a") == decoded(original, tmp_path, "0:a")
    assert decoded(data, tmp_path, "0:v") == decoded(original, tmp_path, "0:v")
    assert after["format"]["duration"] == before["format"]["duration"]


def test_an_ogg_of_two_vorbis_streams_is_not_said_clean_while_named(tmp_path):
    """Two Vorbis streams: mat2 left the second one's ARTIST. ffmpeg 5.1's copy of
    such a file writes a last page whose position wraps (one second said to last 27
    hours) and no longer trims the end of the second stream, so the clean copy is
    refused as damaged and the file kept as sent, said so; a copy that keeps both
    streams whole is as good."""
    inputs = [*SINE, "-f", "lavfi", "-i", "sine=frequency=880:duration=1"]
    original = make_media(
        tmp_path / "a.ogg",
        [*inputs, "-map", "0", "-map", "1", "-c:a", "libvorbis", *SECOND_STREAM_TAGS],
    )
    assert AUTHOR.encode() in original
    try:
        data, cleaned = clean(original, Kind.OGG)
    except WouldDamage:
        return
    after = assert_clean_recording(data, "a.ogg", tmp_path)
    assert after["format"]["duration"] == probe(tmp_path / "a.ogg")["format"]["duration"]
    for stream in ("0:0", "0:1"):
        assert decoded(data, tmp_path, stream) == decoded(original, tmp_path, stream)
    assert {Removed.AUTHOR, Removed.GPS} <= cleaned.removed


# A dashcam's or drone's subtitle track: where it was, each second.
SUBTITLES = (
    "1\n00:00:00,000 --> 00:00:00,500\nGPS (106.8451, -6.2146, 19) 42 km/h\n\n"
    "2\n00:00:00,500 --> 00:00:01,000\nGPS (106.8452, -6.2147, 19) 43 km/h\n"
)


@pytest.mark.parametrize(
    "name, kind, codecs",
    [
        ("v.mp4", Kind.MP4, ["-c:v", "libx264", "-c:a", "aac", "-c:s", "mov_text"]),
        ("v.mkv", Kind.WEBM, ["-c:v", "libx264", "-c:a", "aac", "-c:s", "srt"]),
    ],
)
def test_subtitle_streams_are_dropped_and_said(name, kind, codecs, tmp_path):
    """Drones and dashcams write their position into a subtitle track (DJI's SRT text,
    as mov_text in an MP4 or SRT in Matroska): it was copied as it came."""
    track = tmp_path / "track.srt"
    track.write_text(SUBTITLES)
    inputs = [*PICTURE, *SINE, "-i", str(track), "-map", "0", "-map", "1", "-map", "2"]
    original = make_media(tmp_path / name, [*inputs, *codecs])
    before = probe(tmp_path / name)
    assert [s["codec_type"] for s in before["streams"]] == ["video", "audio", "subtitle"]
    assert b"106.8451" in original

    data, cleaned = clean(original, kind)

    after = assert_clean_recording(data, name, tmp_path)
    assert b"106.845" not in data
    assert [s["codec_type"] for s in after["streams"]] == ["video", "audio"]
    assert Removed.OTHER in cleaned.removed  # the notice says something was removed
    assert cleaned.remaining == ()


def ape_tag(items: dict[str, str]) -> bytes:
    """An APEv2 tag (header, items, footer), as foobar2000 and Mp3tag write them."""
    body = b"".join(
        len(value.encode()).to_bytes(4, "little") + bytes(4) + key.encode() + b"\0" + value.encode()
        for key, value in items.items()
    )

    def frame(flags: int) -> bytes:
        size = (len(body) + 32).to_bytes(4, "little")
        count = len(items).to_bytes(4, "little")
        return (
            b"APETAGEX"
            + (2000).to_bytes(4, "little")
            + size
            + count
            + flags.to_bytes(4, "little")
            + bytes(8)
        )

    return frame(0xA000_0000) + body + frame(0x8000_0000)


def id3v1_tag(title: str, artist: str) -> bytes:
    return b"TAG" + title.encode().ljust(30, b"\0") + artist.encode().ljust(30, b"\0") + bytes(65)


def lyrics3_tag(text: str) -> bytes:
    block = b"LYRICSBEGIN" + b"IND00002" + b"10" + b"LYR" + b"%05d" % len(text) + text.encode()
    return block + b"%06d" % len(block) + b"LYRICS200"


APPENDED = ape_tag({"Artist": AUTHOR}) + lyrics3_tag(COMPANY) + id3v1_tag(TITLE, AUTHOR)


def id3v2_tag(*frames: tuple[bytes, bytes]) -> bytes:
    """An ID3v2.3 tag of these (frame id, content) frames (id3.org, ID3v2.3.0 3.1, 3.3)."""
    body = b"".join(name + len(data).to_bytes(4, "big") + bytes(2) + data for name, data in frames)
    size = bytes((len(body) >> shift) & 0x7F for shift in (21, 14, 7, 0))  # synchsafe
    return b"ID3\x03\x00\x00" + size + body


def test_an_mp3_whose_only_tags_ffprobe_does_not_list_is_not_said_to_hold_nothing(tmp_path):
    """A recorder's or Windows Media Player's frames that ffprobe does not list (an
    object carrying a name, GEOB; a private frame, PRIV) are dropped with the rest of the
    tag, and the notice says something was removed, not "no hidden data was found"."""
    path = tmp_path / "sound.mp3"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "sine=duration=1", "-id3v2_version", "0",
         "-write_id3v1", "0", str(path)],
        check=True, timeout=60,
    )  # fmt: skip
    sound = path.read_bytes()
    geob = b"\x00text/plain\x00rekaman.txt\x00x\x00" + AUTHOR.encode()
    priv = b"WM/MediaClassPrimaryID\x00" + bytes(range(16))
    for frames in ([(b"GEOB", geob)], [(b"PRIV", priv)]):
        data = id3v2_tag(*frames) + sound
        clean_data, cleaned = clean(data, Kind.MP3)
        assert isinstance(cleaned, Cleaned) and Removed.OTHER in cleaned.removed, frames
        assert AUTHOR.encode() not in clean_data and b"WM/Media" not in clean_data


def test_tags_appended_after_the_sound_are_measured(tmp_path):
    """ID3v1 (and its enhanced block), Lyrics3 v1 and v2 and APEv2, stacked as taggers
    write them, are all measured; sound that merely holds "TAG" is not a tag."""
    sound = b"\xff\xf8" + bytes(500) + b"TAG" + bytes(200)
    enhanced = b"TAG+" + bytes(223) + id3v1_tag(TITLE, AUTHOR)
    lyrics1 = b"LYRICSBEGIN" + COMPANY.encode() + b"LYRICSEND" + id3v1_tag(TITLE, AUTHOR)
    cases = (b"", id3v1_tag(TITLE, AUTHOR), ape_tag({"Artist": AUTHOR}), APPENDED, enhanced)
    path = tmp_path / "sound"
    for tags in (*cases, lyrics1):
        path.write_bytes(sound + tags)
        assert docclean.trailing_tags(str(path)) == len(tags), tags[:12]


def flac_with_foreign_blocks(tmp_path: Path) -> tuple[bytes, bytes]:
    """(a FLAC made by ffmpeg with tags, the same with an APPLICATION block holding a
    WAV's LIST/INFO chunk naming the artist, as ``flac --keep-foreign-metadata`` keeps
    it, and an APEv2, a Lyrics3 and an ID3v1 tag appended)."""
    plain = make_media(tmp_path / "a.flac", SINE)
    assert plain[:4] == b"fLaC" and plain[4] & 0x80 == 0  # STREAMINFO is not the last block
    end = 8 + int.from_bytes(plain[5:8], "big")
    name = AUTHOR.encode() + b"\0"
    info = b"INFO" + b"IART" + struct.pack("<I", len(name)) + name
    riff = b"riff" + b"LIST" + struct.pack("<I", len(info)) + info
    block = bytes([2]) + len(riff).to_bytes(3, "big") + riff  # APPLICATION
    return plain, plain[:end] + block + plain[end:] + APPENDED


def decoded(data: bytes, tmp_path: Path, stream: str = "0:a") -> str:
    """The MD5 of what ffmpeg decodes from ``stream`` of ``data``."""
    path = tmp_path / "decoded.input"
    path.write_bytes(data)
    return subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(path), "-map", stream, "-f", "md5", "-"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def test_a_flac_loses_its_foreign_blocks_vendor_and_appended_tags(tmp_path):
    """mat2 (mutagen) kept a FLAC's APPLICATION blocks (a WAV's LIST/INFO or bext chunk
    kept by flac --keep-foreign-metadata: artist, originator), the comment's vendor
    (the encoder's name and version) and an APEv2 tag at the end, and said "cleaned";
    ffmpeg kept the tags at the end (its FLAC reader takes them for sound)."""
    plain, original = flac_with_foreign_blocks(tmp_path)
    assert b"Lavf5" in original

    data, cleaned = clean(original, Kind.FLAC)

    assert_clean_recording(data, "a.flac", tmp_path)
    assert b"Lavf" not in data and b"APETAGEX" not in data and b"LYRICS" not in data
    assert decoded(data, tmp_path) == decoded(plain, tmp_path)  # the same sound
    assert {Removed.AUTHOR, Removed.GPS, Removed.OTHER} <= cleaned.removed
    assert cleaned.remaining == ()


def test_an_amr_recording_loses_the_tags_appended_to_it(tmp_path):
    """AMR (a phone's voice recorder) has no tags of its own (RFC 4867 §5), but taggers
    append them; ffmpeg's AMR reader took them for speech frames and copied them. No
    ffmpeg here encodes AMR: frames of mode 7 (12.2 kbit/s, 31 bytes each)."""
    frames = b"".join(b"\x3c" + random.Random(i).randbytes(31) for i in range(50))
    plain = b"#!AMR\n" + frames
    assert kinds.detect(plain + APPENDED) is Kind.AMR

    data, cleaned = clean(plain + APPENDED, Kind.AMR)

    assert data == plain  # every frame, nothing else
    assert_clean_recording(data, "a.amr", tmp_path)
    assert cleaned.kind is Kind.AMR and Removed.OTHER in cleaned.removed


def camcorder_mts(tmp_path: Path) -> bytes:
    """A camcorder's AVCHD recording (.mts: H.264 in 192-byte transport packets) whose
    video carries the maker's SEI user data "MDPM" with the time, the GPS position and
    the make, as Sony and Panasonic write it (exiftool's H264 group reads it)."""
    stream = tmp_path / "v.h264"
    subprocess.run(
        [
            *("ffmpeg", "-v", "error", "-y", *PICTURE, "-t", "1", "-c:v", "libx264", "-bf", "0"),
            *("-bsf:v", "filter_units=remove_types=6", str(stream)),  # x264's own SEI
        ],
        check=True,
        timeout=60,
    )
    entries = [
        (0x18, bytes([0x00, 0x20, 0x24, 0x05])),  # DateTimeOriginal (BCD)
        (0x19, bytes([0x02, 0x09, 0x30, 0x00])),
        (0xB0, bytes([2, 2, 0, 0])),  # GPSVersionID
        (0xB1, b"S\0\0\0"),
        (0xB2, struct.pack(">HH", 6, 1)),  # latitude: degrees, minutes, seconds
        (0xB3, struct.pack(">HH", 12, 1)),
        (0xB4, struct.pack(">HH", 5256, 100)),
        (0xB5, b"E\0\0\0"),
        (0xB6, struct.pack(">HH", 106, 1)),
        (0xB7, struct.pack(">HH", 50, 1)),
        (0xB8, struct.pack(">HH", 4200, 100)),
        (0xE0, struct.pack(">HH", 0x0103, 0)),  # MakeModel: Panasonic
    ]
    uuid = bytes.fromhex("17ee8c60f84d11d98cd60800200c9a66")
    payload = uuid + b"MDPM" + bytes([len(entries)]) + b"".join(bytes([t]) + v for t, v in entries)
    sei, zeros = bytearray(), 0
    for byte in bytes([5, len(payload)]) + payload + b"\x80":  # user data unregistered
        if zeros >= 2 and byte <= 3:
            sei.append(3)  # emulation prevention (H.264 §7.4.1)
            zeros = 0
        sei.append(byte)
        zeros = zeros + 1 if byte == 0 else 0
    unit = b"\x00\x00\x00\x01\x06" + bytes(sei)
    video = stream.read_bytes()
    # Before each IDR picture's first slice (NAL unit type 5, after a 3- or 4-byte start).
    video = re.sub(rb"\x00?\x00\x00\x01\x65", lambda found: unit + found[0], video)
    stream.write_bytes(video)
    path = tmp_path / "v.mts"
    subprocess.run(
        [
            *("ffmpeg", "-v", "error", "-y", "-framerate", "10", "-f", "h264", "-i", str(stream)),
            *("-c", "copy", "-mpegts_m2ts_mode", "1", "-f", "mpegts", str(path)),
        ],
        check=True,
        timeout=60,
    )
    return path.read_bytes()


def test_a_camcorders_place_in_its_video_stream_is_removed(tmp_path):
    """A transport stream's H.264 video is copied as it is: the camcorder's time, place
    and make in its SEI stayed. The SEI units go; the pictures decode the same."""
    original = camcorder_mts(tmp_path)
    (tmp_path / "v.mts").write_bytes(original)
    assert "GPSLatitude" in exiftool_text(tmp_path / "v.mts")

    data, cleaned = clean(original, Kind.MPEGTS)

    path = tmp_path / "clean.mts"
    path.write_bytes(data)
    read = exiftool_text(path)
    assert "GPS" not in read and "Panasonic" not in read and "2024" not in read
    assert b"MDPM" not in data and data[4] == 0x47  # still 192-byte packets

    def pictures(path: Path) -> str:
        return subprocess.run(
            ["ffmpeg", "-v", "error", "-i", str(path), "-map", "0:v", "-f", "md5", "-"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout

    assert pictures(path) == pictures(tmp_path / "v.mts")
    assert {Removed.GPS, Removed.CAMERA, Removed.DATES} <= cleaned.removed
    assert cleaned.remaining == ()


# --- bombs and malformed files -----------------------------------------------------------------

# A bomb's budget: the child's limits here, and the wall-clock time it may take at most.
BOMB_LIMITS = Confinement(512 * MIB, 3, 0)
BOMB_SECONDS = 15


def refused(data: bytes, kind: Kind, expected: type[Exception], **options) -> None:
    started = time.monotonic()
    written = io.BytesIO()
    with pytest.raises(expected):
        limits = confinement_for(data, BOMB_LIMITS)
        docclean.clean([data], kind, limits, written.write, **options)
    assert time.monotonic() - started < BOMB_SECONDS
    assert written.getvalue() == b""  # nothing of it went to the writer


def zip_with_inflating_member(kind: Kind, unpacked: int) -> bytes:
    """An office (or ODF) archive with one member of ``unpacked`` zero bytes, deflated
    to about a thousandth of that."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        if kind == Kind.ODT:
            archive.writestr("mimetype", "application/vnd.oasis.opendocument.text")
        else:
            archive.writestr("[Content_Types].xml", "<Types/>")
        with archive.open("word/document.xml" if kind == Kind.DOCX else "content.xml", "w") as m:
            zeros = bytes(MIB)
            for _ in range(unpacked // MIB):
                m.write(zeros)
    return out.getvalue()


def zip_with_members(count: int) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        for number in range(count):
            archive.writestr(f"word/m{number}.xml", b"")
    return out.getvalue()


@pytest.mark.parametrize("kind", [Kind.DOCX, Kind.ODT])
def test_an_office_member_that_inflates_past_the_memory_limit_is_too_costly(kind):
    bomb = zip_with_inflating_member(kind, BOMB_LIMITS.memory_bytes + 64 * MIB)
    assert len(bomb) < 4 * MIB
    refused(bomb, kind, TooCostly)


def test_an_office_archive_of_100k_members_is_too_costly():
    refused(zip_with_members(100_000), Kind.DOCX, TooCostly)


def test_a_pdf_of_many_pages_runs_out_of_its_time_and_leaves_no_file(tmp_path):
    """2,000 pages of 2,000 runs of text each; a child killed by its limits cannot
    remove its own files: the server removes the scratch folder."""
    refused(make_pdf(pages=2_000, runs=2_000), Kind.PDF, TooCostly, scratch_root=tmp_path)
    assert list(tmp_path.iterdir()) == []


def within_budget(data: bytes, kind: Kind) -> None:
    """Cleaned, or refused as not cleanable or too costly: either way within the
    bomb's budget, and a clean result still opens."""
    started = time.monotonic()
    written = io.BytesIO()
    try:
        docclean.clean([data], kind, confinement_for(data, BOMB_LIMITS), written.write)
    except (NotCleanable, TooCostly):
        assert written.getvalue() == b""
    else:
        with pikepdf.open(io.BytesIO(written.getvalue())):
            pass
    assert time.monotonic() - started < BOMB_SECONDS


def test_a_pdf_nested_past_any_parser_stays_within_its_budget():
    """An object nested 50,000 arrays deep (the stack of a recursive parser): Poppler
    stops at its own depth limit."""
    head = b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R /X " + b"[" * 50_000
    body = b"]" * 50_000 + b" >> endobj\n2 0 obj << /Type /Pages /Kids [] /Count 0 >> endobj\n"
    within_budget(head + body + b"trailer << /Root 1 0 R >>\n%%EOF\n", Kind.PDF)


def test_a_pdf_page_of_a_billion_square_inches_stays_within_its_budget():
    """The largest page size (14,400 units) times the largest UserUnit: a picture of
    it would take exabytes; mat2's lightweight mode redraws vectors, not pixels."""
    with pikepdf.open(io.BytesIO(make_pdf())) as pdf:
        pdf.pages[0].MediaBox = [0, 0, 14_400, 14_400]
        pdf.pages[0].UserUnit = 75_000
        out = io.BytesIO()
        pdf.save(out)
    within_budget(out.getvalue(), Kind.PDF)


def stsz_claiming(data: bytes, samples: int) -> bytes:
    """An MP4 whose sample-size tables claim ``samples`` samples of one byte each."""
    patched = bytearray(data)
    at = patched.find(b"stsz")
    while at != -1:
        struct.pack_into(">II", patched, at + 8, 1, samples)
        at = patched.find(b"stsz", at + 4)
    return bytes(patched)


@pytest.mark.parametrize("name", ["a.m4a", "v.mp4"])
def test_a_recording_claiming_200_million_frames_is_refused(name, tmp_path):
    kind, inputs, _ = MEDIA[name]
    refused(stsz_claiming(make_media(tmp_path / name, inputs), 200_000_000), kind, NotCleanable)


def test_an_ogg_claiming_two_billion_comments_is_refused():
    """A Vorbis comment block claiming 2**31 comments (mutagen reads them one by one)."""
    comments = struct.pack("<I", 6) + b"vendor" + struct.pack("<I", 2**31)
    packet = b"\x03vorbis" + comments + struct.pack("<I", 10) + b"ARTIST=Bud" * 10_000
    page = b"OggS\x00\x02" + bytes(8) + b"\x01\x00\x00\x00" + bytes(8) + b"\x01\xff" + packet
    refused(page, Kind.OGG, NotCleanable)


def test_a_flac_whose_comment_claims_two_gigabytes_is_not_cleanable():
    """A Vorbis comment whose vendor string claims 2 GiB in a 2 KB file: mutagen asks for
    it all and runs out of memory; that is a malformed file, not a costly one (CI found it
    with random bytes after "fLaC")."""
    streaminfo = (
        b"\x00"
        + (34).to_bytes(3, "big")
        + bytes.fromhex(
            "1000100000000e00000e0ac442f00000ac44" + "00" * 16  # 44.1 kHz, two channels, 16 bits
        )
    )
    comment = struct.pack("<I", 0x7FFF_FFF0) + b"x" * 96
    block = b"\x84" + len(comment).to_bytes(3, "big") + comment
    refused(b"fLaC" + streaminfo + block + bytes(2000), Kind.FLAC, NotCleanable)


def noise(size: int) -> bytes:
    """``size`` random-looking bytes, the same in every run (a test that fails fails
    again)."""
    return random.Random(size).randbytes(size)


@pytest.mark.parametrize(
    "kind, make",
    [
        (Kind.PDF, lambda tmp: make_pdf()[:700]),
        (Kind.DOCX, lambda tmp: zip_with_members(3)[:-30]),
        (Kind.ODS, lambda tmp: b"PK\x03\x04" + noise(2000)),
        (Kind.MP3, lambda tmp: b"ID3\x04\x00\x00\x00\x00\x00\x10" + noise(3000)),
        (Kind.FLAC, lambda tmp: b"fLaC" + noise(3000)),
        (Kind.MP4, lambda tmp: make_media(tmp / "v.mp4", MEDIA["v.mp4"][1])[:5000]),
        (Kind.M4A, lambda tmp: make_media(tmp / "a.m4a", MEDIA["a.m4a"][1])[:2000]),
        (Kind.WEBM, lambda tmp: b"\x1a\x45\xdf\xa3" + noise(3000)),
        (Kind.AVI, lambda tmp: b"RIFF\x00\x10\x00\x00AVI " + noise(3000)),
        # The kinds ffmpeg cleans since the review of issue 21: their signature, then noise
        # (not AMR: every byte string after "#!AMR" reads as speech frames, each told its
        # length by its first byte, and is copied as such: there is nothing to refuse).
        (Kind.MPEGPS, lambda tmp: b"\x00\x00\x01\xba\x44" + noise(3000)),
        (Kind.MPEGTS, lambda tmp: b"".join(b"\x47" + noise(187) for _ in range(20))),
        (Kind.FLV, lambda tmp: b"FLV\x01\x05\x00\x00\x00\x09" + noise(3000)),
        (Kind.ASF, lambda tmp: bytes.fromhex("3026b2758e66cf11a6d900aa0062ce6c") + noise(3000)),
        (Kind.CAF, lambda tmp: b"caff\x00\x01\x00\x00" + noise(3000)),
        (Kind.AIFF, lambda tmp: b"FORM\x00\x00\x10\x00AIFF" + noise(3000)),
    ],
)
def test_a_malformed_file_is_not_cleanable(kind, make, tmp_path):
    refused(make(tmp_path), kind, NotCleanable)


# --- what a field is, what is left -----------------------------------------------------------


@pytest.mark.parametrize(
    "key, kind, expected",
    [
        ("dc:creator", Kind.DOCX, Removed.AUTHOR),
        ("cp:lastModifiedBy", Kind.DOCX, Removed.AUTHOR),
        ("Company", Kind.XLSX, Removed.AUTHOR),
        ("meta:initial-creator", Kind.ODT, Removed.AUTHOR),
        ("meta:generator", Kind.ODT, Removed.SOFTWARE),
        ("creator", Kind.PDF, Removed.SOFTWARE),
        ("xmp:CreatorTool", Kind.PDF, Removed.SOFTWARE),
        ("producer", Kind.PDF, Removed.SOFTWARE),
        ("mod-date", Kind.PDF, Removed.DATES),
        ("date_time", Kind.DOCX, Removed.DATES),
        ("create_system", Kind.DOCX, Removed.OTHER),
        ("cp:revision", Kind.DOCX, Removed.EDIT_HISTORY),
        ("Template", Kind.DOCX, Removed.EDIT_HISTORY),
        ("dc:title", Kind.DOCX, Removed.COMMENTS),
        ("TPE1", Kind.MP3, Removed.AUTHOR),
        ("TSSE", Kind.MP3, Removed.SOFTWARE),
        ("TXXX:location", Kind.MP3, Removed.GPS),
        ("APIC:cover", Kind.MP3, Removed.THUMBNAIL),
        ("com.apple.quicktime.location.ISO6709", Kind.MP4, Removed.GPS),
        ("com.apple.quicktime.model", Kind.MP4, Removed.CAMERA),
        ("encoder", Kind.WEBM, Removed.SOFTWARE),
        ("creation_time", Kind.MP4, Removed.DATES),
        ("cover picture", Kind.MP4, Removed.THUMBNAIL),
        ("data stream", Kind.MP4, Removed.OTHER),
        ("subtitle stream", Kind.MP4, Removed.OTHER),  # not "titles": what it says is not read
        ("appended tag", Kind.FLAC, Removed.OTHER),
        ("TPE1", Kind.AAC, Removed.AUTHOR),  # an ADTS file's ID3v2 frames
        ("ID3_GEOB", Kind.MP3, Removed.OTHER),  # exiftool's unknown frame: not "geo"
        ("ID3_TPE1", Kind.MP3, Removed.AUTHOR),
        ("GPSLatitude", Kind.MPEGTS, Removed.GPS),  # a camcorder's H.264 SEI
        ("service_name", Kind.MPEGTS, Removed.OTHER),
    ],
)
def test_fields_are_sorted_into_what_was_removed(key, kind, expected):
    assert docclean.category(key, kind) is expected


def test_identifying_fields_left_after_cleaning_are_reported():
    cleaning = docclean._Cleaning(Kind.DOCX, "/nonexistent", LIMITS)
    listing = docclean.mat2_listing(
        "[+] Metadata for input.docx:\n"
        "[++] Metadata for docProps/app.xml:\n"
        f"      Company: {COMPANY}\n"
        "      Application: Word\n"
        f"      dc:creator: {AUTHOR}\n"
        "      TotalTime: 12\n"
        "      cp:lastModifiedBy: \n"
    )
    report = json.loads(cleaning.report(listing, listing))
    assert sorted(report["removed"]) == ["author", "edit-history", "software"]
    assert report["remaining"] == [["company", COMPANY], ["author", AUTHOR]]
    assert Remaining("company", COMPANY) == Remaining(*report["remaining"][0])


def test_a_kind_it_does_not_clean_is_a_programming_error():
    with pytest.raises(ValueError):
        docclean.clean([b"\xff\xd8\xff"], Kind.JPEG, LIMITS, lambda piece: None)


def test_the_child_is_given_only_what_its_tools_need():
    tools = docclean._Tools("/dev/shm/sipadu-x", 0.0)
    assert tools.env() == {
        "PATH": "/usr/bin:/bin",
        "HOME": "/dev/shm/sipadu-x",
        "TMPDIR": "/dev/shm/sipadu-x",
        "LC_ALL": "C.UTF-8",
    }
    assert docclean.file_bytes_for(10 * MIB) == 84 * MIB
