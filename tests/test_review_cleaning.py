# ruff: noqa: E501 — Office XML content types and relationships are one line each
"""Review of issue 21, point 1 (metadata removed from every common type, detected by
content) and the per-file outcome: identifying data that survives cleaning while the
reporter is told the file was cleaned, a document kept as sent unrecognised, and a
reporter's plaintext left on the memory file system. Each test fails on the reviewed
code and passes once the fault is fixed. Real files made here (zipfile, pikepdf, Pillow,
exiftool, ffmpeg), the real reporter and staff portals, the real database and the real
confined children; no mock.

A leak is judged as the issue words it: nothing may reach the investigator with
metadata the product says it removed. A file that still carries the planted value passes
only if the reporter was told it was kept as sent (a fix may clean it, or say so)."""

import html
import io
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import uuid
import zipfile
from pathlib import Path

import pikepdf
import pytest
from PIL import Image

from tests.helpers import jpeg_with_exif, made_up_word, report_with_files
from tests.test_cleaning_pipeline import investigator_files

MIB = 1024 * 1024
OCTETS = "application/octet-stream"

# --- what a file still carries -------------------------------------------------------------


def carries(data: bytes, tag: str) -> bool:
    """Whether ``tag`` is anywhere in ``data``: its bytes, the members of a ZIP (office
    and ODF files), or the streams of a PDF, raw and decoded."""
    needle = tag.encode()
    if needle in data:
        return True
    if data.startswith(b"PK"):
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return any(needle in archive.read(name) for name in archive.namelist())
    if data.startswith(b"%PDF-"):
        with pikepdf.open(io.BytesIO(data)) as pdf:
            for item in pdf.objects:
                if isinstance(item, pikepdf.Stream):
                    if needle in item.read_raw_bytes():
                        return True
                    try:
                        if needle in item.read_bytes():
                            return True
                    except pikepdf.PdfError:
                        pass
    return False


def notices(page: str) -> dict[str, str]:
    """The receipt page's per-file notices: name -> notice."""
    section = re.search(r'<section class="file-notices".*?</section>', page, re.DOTALL)
    assert section, "the receipt lists no file notice"
    found = {}
    for item in re.findall(r"<li>(.*?)</li>", section.group(0), re.DOTALL):
        text = html.unescape(item)
        match = re.match(r"\u201c(.+?)\u201d: (.*)", text, re.DOTALL)
        if match:
            found[match.group(1)] = match.group(2)
    return found


KEPT_WORDS = ("disimpan apa adanya", "kept as sent")


def send_and_receive(reporter_app, clients, database_url, name: str, data: bytes):
    """Send ``data`` as ``name`` in a new report; (the reporter's notice for it, what the
    investigator downloads)."""
    marker = f"Tinjauan {made_up_word()}"
    response = report_with_files(
        reporter_app.test_client(), [(name, data, OCTETS)], title=marker, send_anyway="1"
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 200, page[:400]
    notice = notices(page)[name]
    received = investigator_files(clients, database_url, marker)[name]
    return notice, received


def assert_clean_or_said_kept(notice: str, received: bytes, tag: str) -> None:
    if carries(received, tag):
        assert any(word in notice for word in KEPT_WORDS), (
            f"the investigator's copy still carries {tag!r}, and the reporter was told: {notice}"
        )


# --- files with metadata where the cleaners do not look ------------------------------------

W_NS = (
    'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main" '
    'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"'
)
DOCX_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Default Extension="jpeg" ContentType="image/jpeg"/>'
    '<Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/>'
    '<Override PartName="/word/header1.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.header+xml"/>'
    '<Override PartName="/word/settings.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.settings+xml"/>'
    '<Override PartName="/docProps/core.xml" ContentType="application/vnd.openxmlformats-package.core-properties+xml"/>'
    "</Types>"
)  # fmt: skip
PACKAGE_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/>'
    '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/package/2006/relationships/metadata/core-properties" Target="docProps/core.xml"/>'
    "</Relationships>"
)  # fmt: skip
DOCUMENT_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/header" Target="header1.xml"/>'
    '<Relationship Id="rId3" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/settings" Target="settings.xml"/>'
    "</Relationships>"
)  # fmt: skip


def docx(
    tag: str, body: str, header: str = "<w:p/>", settings: str = "", first: bytes = b""
) -> bytes:
    """A Word document whose core properties name ``CORE-tag`` as author; ``body``,
    ``header`` and ``settings`` are the XML inside those parts; ``first``, if given, a
    stored thumbnail written before every other part."""
    xml = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        if first:
            archive.writestr("docProps/thumbnail.jpeg", first, zipfile.ZIP_STORED)
        archive.writestr("[Content_Types].xml", DOCX_TYPES)
        archive.writestr("_rels/.rels", PACKAGE_RELS)
        archive.writestr("word/_rels/document.xml.rels", DOCUMENT_RELS)
        archive.writestr(
            "word/document.xml", f"{xml}<w:document {W_NS}><w:body>{body}</w:body></w:document>"
        )
        archive.writestr("word/header1.xml", f"{xml}<w:hdr {W_NS}>{header}</w:hdr>")
        archive.writestr("word/settings.xml", f"{xml}<w:settings {W_NS}>{settings}</w:settings>")
        archive.writestr(
            "docProps/core.xml",
            f"{xml}<cp:coreProperties xmlns:cp="
            '"http://schemas.openxmlformats.org/package/2006/metadata/core-properties" '
            'xmlns:dc="http://purl.org/dc/elements/1.1/">'
            f"<dc:creator>CORE-{tag}</dc:creator></cp:coreProperties>",
        )
    return out.getvalue()


PARAGRAPH = "<w:p><w:r><w:t>Isi laporan</w:t></w:r></w:p>"


def docx_formatting_change(tag: str) -> bytes:
    """Word with "Track Changes" on records who made text bold (w:rPrChange w:author)."""
    return docx(
        tag,
        "<w:p><w:r><w:rPr><w:b/>"
        f'<w:rPrChange w:id="1" w:author="{tag}" w:date="2024-05-02T09:00:00Z"><w:rPr/>'
        "</w:rPrChange></w:rPr><w:t>Isi laporan</w:t></w:r></w:p>",
    )


def docx_tracked_header(tag: str) -> bytes:
    """A tracked insertion in the page header (w:ins w:author in word/header1.xml)."""
    return docx(
        tag,
        PARAGRAPH,
        header=f'<w:p><w:ins w:id="2" w:author="{tag}" w:date="2024-05-02T09:00:00Z">'
        "<w:r><w:t>Kop surat</w:t></w:r></w:ins></w:p>",
    )


def docx_document_variable(tag: str) -> bytes:
    """A document variable (w:docVars, kept by templates and mail merges) naming the
    author."""
    return docx(
        tag,
        PARAGRAPH,
        settings=f'<w:docVars><w:docVar w:name="penyusun" w:val="{tag}"/></w:docVars>',
    )


def xlsx_saved_path(tag: str) -> bytes:
    """Excel (2013 on) writes the folder the workbook was saved in, with the Windows
    user's name, into xl/workbook.xml (x15ac:absPath); and the user who reserved it
    (fileSharing userName)."""
    types = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
        '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
        "</Types>"
    )  # fmt: skip
    rels = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/>'
        "</Relationships>"
    )  # fmt: skip
    workbook_rels = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/>'
        "</Relationships>"
    )  # fmt: skip
    workbook = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
        'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships" '
        'xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006" '
        'mc:Ignorable="x15" '
        'xmlns:x15="http://schemas.microsoft.com/office/spreadsheetml/2010/11/main">'
        '<fileVersion appName="xl" lastEdited="7" lowestEdited="7" rupBuild="27328"/>'
        f'<fileSharing userName="{tag}"/>'
        '<mc:AlternateContent><mc:Choice Requires="x15">'
        f'<x15ac:absPath url="C:\\Users\\{tag}\\Documents\\Laporan\\" '
        'xmlns:x15ac="http://schemas.microsoft.com/office/spreadsheetml/2010/11/ac"/>'
        "</mc:Choice></mc:AlternateContent>"
        '<sheets><sheet name="Data" sheetId="1" r:id="rId1"/></sheets></workbook>'
    )
    sheet = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        '<sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>1</t></is></c></row>'
        "</sheetData></worksheet>"
    )
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in [
            ("[Content_Types].xml", types),
            ("_rels/.rels", rels),
            ("xl/_rels/workbook.xml.rels", workbook_rels),
            ("xl/workbook.xml", workbook),
            ("xl/worksheets/sheet1.xml", sheet),
        ]:
            archive.writestr(name, text)
    return out.getvalue()


ODF_NS = (
    'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
    'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" '
    'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
    'xmlns:dc="http://purl.org/dc/elements/1.1/" '
    'xmlns:meta="urn:oasis:names:tc:opendocument:xmlns:meta:1.0"'
)


def odf(media_type: str, body: str) -> bytes:
    """An OpenDocument file (mimetype first, stored) with ``body`` in content.xml."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr(zipfile.ZipInfo("mimetype"), media_type)
        archive.writestr(
            "META-INF/manifest.xml",
            '<?xml version="1.0" encoding="UTF-8"?><manifest:manifest xmlns:manifest='
            '"urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.2">'
            f'<manifest:file-entry manifest:full-path="/" manifest:media-type="{media_type}"/>'
            '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>'
            "</manifest:manifest>",
            zipfile.ZIP_DEFLATED,
        )
        archive.writestr(
            "content.xml",
            f'<?xml version="1.0" encoding="UTF-8"?><office:document-content {ODF_NS} '
            f'office:version="1.2"><office:body>{body}</office:body></office:document-content>',
            zipfile.ZIP_DEFLATED,
        )
    return out.getvalue()


def odt_comment(tag: str) -> bytes:
    """A comment in a Writer document: LibreOffice stores its author (dc:creator) and
    date in content.xml."""
    return odf(
        "application/vnd.oasis.opendocument.text",
        "<office:text><text:p>Isi laporan<office:annotation>"
        f"<dc:creator>{tag}</dc:creator><dc:date>2024-05-02T09:00:00</dc:date>"
        "<text:p>cek lagi</text:p></office:annotation></text:p></office:text>",
    )


def ods_tracked_change(tag: str) -> bytes:
    """A tracked change in a Calc spreadsheet: its author (dc:creator) in content.xml
    (table:tracked-changes; mat2 removes text:tracked-changes of Writer only)."""
    return odf(
        "application/vnd.oasis.opendocument.spreadsheet",
        "<office:spreadsheet><table:tracked-changes>"
        '<table:cell-content-change table:id="ct1">'
        '<table:cell-address table:column="0" table:row="0" table:table="0"/>'
        f"<office:change-info><dc:creator>{tag}</dc:creator>"
        "<dc:date>2024-05-02T09:00:00</dc:date></office:change-info>"
        "<table:previous><table:change-track-table-cell/></table:previous>"
        "</table:cell-content-change></table:tracked-changes>"
        '<table:table table:name="Data"><table:table-row><table:table-cell>'
        "<text:p>1</text:p></table:table-cell></table:table-row></table:table>"
        "</office:spreadsheet>",
    )


def pdf_with_picture(picture: bytes, filter_name: str, width: int = 64, height: int = 48) -> bytes:
    """A one-page PDF drawing ``picture`` (an image XObject of that filter)."""
    pdf = pikepdf.new()
    page = pdf.add_blank_page(page_size=(200, 200))
    image = pikepdf.Stream(pdf, picture)
    image.Type = pikepdf.Name.XObject
    image.Subtype = pikepdf.Name.Image
    image.Width, image.Height = width, height
    image.BitsPerComponent = 8
    image.Filter = pikepdf.Name(filter_name)
    if filter_name == "/DCTDecode":
        image.ColorSpace = pikepdf.Name.DeviceRGB
    page.Resources = pikepdf.Dictionary(XObject=pikepdf.Dictionary(Im0=image))
    page.Contents = pdf.make_stream(b"q 128 0 0 96 10 10 cm /Im0 Do Q")
    out = io.BytesIO()
    pdf.save(out)
    return out.getvalue()


def pdf_with_jpeg2000(tag: str, tmp_path: Path) -> bytes:
    """A PDF whose picture is a JPEG 2000 (scanners' PDFs) carrying XMP (dc:creator)
    and a codestream comment: Poppler hands cairo the JPX bytes as they are."""
    path = tmp_path / f"{uuid.uuid4().hex}.jp2"
    Image.new("RGB", (64, 48), (10, 200, 30)).save(path, "JPEG2000", comment=tag.encode())
    subprocess.run(
        ["exiftool", "-q", "-overwrite_original", f"-XMP-dc:Creator={tag}", str(path)],
        check=True,
    )
    picture = path.read_bytes()
    assert tag.encode() in picture
    return pdf_with_picture(picture, "/JPXDecode")


def pdf_with_appended_photo(tag: str) -> bytes:
    """A PDF whose JPEG carries a second JPEG after its end (as phones' multi-picture
    and motion photos do), that one with EXIF GPS and artist: strip_jpeg keeps
    everything from the first scan on."""
    return pdf_with_picture(jpeg_with_exif(tag) + jpeg_with_exif(tag), "/DCTDecode")


def ape_tag(items: dict[str, str]) -> bytes:
    """An APEv2 tag (header, items, footer), as foobar2000, Mp3tag and mp3gain write
    at the end of MP3 files."""
    body = b"".join(
        len(value.encode()).to_bytes(4, "little")
        + b"\0\0\0\0"
        + key.encode()
        + b"\0"
        + value.encode()
        for key, value in items.items()
    )
    size = len(body) + 32

    def frame(flags: int) -> bytes:
        return (
            b"APETAGEX"
            + (2000).to_bytes(4, "little")
            + size.to_bytes(4, "little")
            + len(items).to_bytes(4, "little")
            + flags.to_bytes(4, "little")
            + bytes(8)
        )

    return frame(0xA0000000) + body + frame(0x80000000)


def mp3_with_ape(tag: str, tmp_path: Path) -> bytes:
    path = tmp_path / f"{uuid.uuid4().hex}.mp3"
    subprocess.run(
        [
            *("ffmpeg", "-v", "error", "-f", "lavfi", "-i", "sine=duration=1"),
            *("-c:a", "libmp3lame", "-id3v2_version", "0", "-fflags", "+bitexact", str(path)),
        ],
        check=True,
    )
    return path.read_bytes() + ape_tag({"Artist": tag, "Comment": f"direkam oleh {tag}"})


def recording(path: Path, arguments: list[str]) -> bytes:
    """A one-second recording made by ffmpeg at ``path`` (its extension picks the
    container) from a tone and a test picture, with ``arguments`` (codecs, tags)."""
    subprocess.run(
        [
            *("ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "sine=duration=1"),
            *("-f", "lavfi", "-i", "testsrc=duration=1:size=64x48:rate=10"),
            *arguments,
            *("-t", "1", str(path)),
        ],
        check=True,
        timeout=60,
    )
    return path.read_bytes()


def ogv_second_stream(tag: str, tmp_path: Path) -> bytes:
    """An .ogv (Theora, then Vorbis) whose second stream's comments name the artist:
    mat2 read and cleaned the first stream's only."""
    return recording(
        tmp_path / f"{uuid.uuid4().hex}.ogv",
        [
            *("-map", "1", "-map", "0", "-c:v", "libtheora", "-c:a", "libvorbis"),
            *("-metadata:s:1", f"artist={tag}", "-metadata:s:1", f"comment=direkam oleh {tag}"),
        ],
    )


def mp4_subtitle_track(tag: str, tmp_path: Path) -> bytes:
    """An MP4 with a subtitle track (mov_text) saying where it was, as drones and
    dashcams write: it was copied as it came."""
    track = tmp_path / "track.srt"
    track.write_text(f"1\n00:00:00,000 --> 00:00:01,000\nGPS (106.8451, -6.2146) {tag}\n")
    return recording(
        tmp_path / f"{uuid.uuid4().hex}.mp4",
        [
            *("-i", str(track), "-map", "1", "-map", "0", "-map", "2"),
            *("-c:v", "libx264", "-c:a", "aac", "-c:s", "mov_text"),
        ],
    )


LEAKS = {
    "docx-formatting-change": lambda tag, _: docx_formatting_change(tag),
    "docx-tracked-header": lambda tag, _: docx_tracked_header(tag),
    "docx-document-variable": lambda tag, _: docx_document_variable(tag),
    "xlsx-saved-path": lambda tag, _: xlsx_saved_path(tag),
    "odt-comment": lambda tag, _: odt_comment(tag),
    "ods-tracked-change": lambda tag, _: ods_tracked_change(tag),
    "pdf-jpeg2000-xmp": pdf_with_jpeg2000,
    "pdf-photo-appended-exif": lambda tag, _: pdf_with_appended_photo(tag),
    "mp3-ape-tag": mp3_with_ape,
    "ogv-second-stream": ogv_second_stream,
    "mp4-subtitle-track": mp4_subtitle_track,
}


@pytest.mark.parametrize("case", sorted(LEAKS))
def test_what_a_cleaned_file_still_says_about_its_author_reaches_no_investigator(
    case, reporter_app, clients, database_url, tmp_path
):
    """Each file carries a name (``tag``) where mat2 or docclean does not look. The
    reporter is told "cleaned (removed: …)"; the investigator's copy must then not
    carry the name (or the reporter must be told it was kept as sent)."""
    tag = f"NAMA{uuid.uuid4().hex[:10].upper()}"
    data = LEAKS[case](tag, tmp_path)
    assert carries(data, tag)  # the name is really there
    notice, received = send_and_receive(reporter_app, clients, database_url, "bukti", data)
    assert_clean_or_said_kept(notice, received, tag)


# --- detection by content ------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, arguments",
    [
        ("suara.wma", ["-map", "0", "-c:a", "wmav2"]),
        ("video.wmv", ["-map", "1", "-map", "0", "-c:v", "wmv2", "-c:a", "wmav2"]),
        ("video.flv", ["-map", "1", "-map", "0", "-c:v", "flv", "-c:a", "mp3"]),
        ("video.mts", ["-map", "1", "-map", "0", "-c:v", "libx264", "-f", "mpegts"]),
        ("suara.caf", ["-map", "0"]),
        ("suara.aiff", ["-map", "0"]),
        ("suara.aac", ["-map", "0", "-c:a", "aac", "-write_id3v2", "1"]),
    ],
)
def test_a_recording_of_a_type_once_unrecognised_is_cleaned(
    name, arguments, reporter_app, clients, database_url, tmp_path
):
    """Windows Media, Flash, transport stream (a camcorder's .mts), CAF, AIFF and ADTS
    recordings were "a type that cannot be cleaned": stored as sent, a WMA's author
    reached the investigator. They are told from their bytes and cleaned."""
    tag = f"NAMA{uuid.uuid4().hex[:10].upper()}"
    tags = ("-metadata", f"artist={tag}", "-metadata", f"author={tag}", "-metadata")
    data = recording(tmp_path / name, [*arguments, *tags, f"title={tag}"])

    def named(data: bytes) -> bool:  # ASF writes its strings in UTF-16
        return tag.encode() in data or tag.encode("utf-16-le") in data

    assert named(data)
    notice, received = send_and_receive(reporter_app, clients, database_url, name, data)
    assert notice.startswith("dibersihkan"), notice
    assert not named(received)


def test_a_word_document_with_a_thumbnail_first_is_cleaned_or_warned_about(
    reporter_app, clients, database_url
):
    """kinds.detect walks only the ZIP local headers within the first 8 KiB: a valid
    DOCX whose first member (here a 15 KB thumbnail, as Word for Mac and other writers
    save) fills them is "a type that cannot be cleaned", stored with its author, and
    the warning before storing does not mention it (file_flags skips unknown types). A
    DOCX must be told by its content (the central directory, or more of the head)."""
    tag = f"NAMA{uuid.uuid4().hex[:10].upper()}"
    thumbnail = io.BytesIO()
    Image.frombytes("RGB", (128, 128), os.urandom(128 * 128 * 3)).save(
        thumbnail, "JPEG", quality=90
    )
    data = docx(tag, PARAGRAPH, first=thumbnail.getvalue())
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.testzip() is None and "word/document.xml" in archive.namelist()
    marker = f"Tinjauan {made_up_word()}"
    response = report_with_files(
        reporter_app.test_client(), [("laporan.docx", data, OCTETS)], title=marker
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 200, page[:400]
    if "laporan.docx" not in notices(page):
        return  # the warning came back first: the reporter was told before storing
    received = investigator_files(clients, database_url, marker)["laporan.docx"]
    assert not carries(received, tag), notices(page)["laporan.docx"]


# --- the reporter's plaintext on the memory file system ------------------------------------

SCRATCH_ROOT = Path("/dev/shm")  # where docclean's scratch folders are made

CLEAN_IN_A_CHILD = """
import sys
from sipadu.evidence import docclean
from sipadu.evidence.confinement import Confinement
from sipadu.evidence.outcome import Kind
data = sys.stdin.buffer.read()
docclean.clean([data], Kind.DOCX, Confinement(1024 << 20, 60, 256 << 20), lambda piece: None)
"""


def slow_docx(tag: str) -> bytes:
    """A 90 KB DOCX whose 60 MB document.xml takes mat2 some 20 s, its author ``tag``."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr("[Content_Types].xml", DOCX_TYPES)
        archive.writestr("_rels/.rels", PACKAGE_RELS)
        archive.writestr(
            "docProps/core.xml",
            '<?xml version="1.0"?><cp:coreProperties xmlns:cp="http://schemas.openxmlformats.'
            'org/package/2006/metadata/core-properties" xmlns:dc="http://purl.org/dc/elements'
            f'/1.1/"><dc:creator>{tag}</dc:creator></cp:coreProperties>',
            zipfile.ZIP_STORED,  # the name readable in the scratch copy as it is
        )
        with archive.open("word/document.xml", "w", force_zip64=True) as member:
            member.write(f"<?xml version='1.0'?><w:document {W_NS}><w:body>".encode())
            chunk = b"<w:p/>" * 100_000
            for _ in range(60 * MIB // len(chunk)):
                member.write(chunk)
            member.write(b"</w:body></w:document>")
    return out.getvalue()


def folders_holding(tag: str) -> list[Path]:
    found = []
    for folder in SCRATCH_ROOT.glob("sipadu-*"):
        try:
            for path in folder.iterdir():
                if path.is_file() and tag.encode() in path.read_bytes():
                    found.append(folder)
                    break
        except OSError:
            continue  # another test's folder, going away, or not ours to read
    return found


def test_a_worker_killed_while_cleaning_leaves_no_plaintext_on_the_memory_file_system():
    """The scratch folder is removed by the server process (confinement.scratch_
    directory's ``finally``), and the docclean child has no death signal: when the
    worker dies hard (SIGKILL after gunicorn's 30 s graceful stop on a restart, the
    kernel's OOM killer), the child goes on alone and the reporter's file stays, in
    plaintext, in /dev/shm until the host reboots (nothing sweeps sipadu-* folders)."""
    tag = f"NAMA{uuid.uuid4().hex[:10].upper()}"
    data = slow_docx(tag)
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    server = subprocess.Popen(
        [sys.executable, "-c", CLEAN_IN_A_CHILD],
        stdin=subprocess.PIPE,
        cwd=Path(__file__).resolve().parents[1],
        env=env,
    )
    children: list[int] = []
    try:
        server.stdin.write(data)
        server.stdin.close()
        deadline = time.monotonic() + 10
        while not folders_holding(tag):
            assert time.monotonic() < deadline, "the file never reached a scratch folder"
            time.sleep(0.05)
        children_file = Path(f"/proc/{server.pid}/task/{server.pid}/children")
        children = [int(pid) for pid in children_file.read_text().split()]
        server.send_signal(signal.SIGKILL)  # the worker dies hard
        server.wait()
        deadline = time.monotonic() + 10
        while folders_holding(tag) and time.monotonic() < deadline:
            time.sleep(0.2)
        left = folders_holding(tag)
        assert not left, "the reporter's file is still in the memory file system"
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
        for pid in children:  # the cleaning child this test started, if still running
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        for folder in folders_holding(tag):
            shutil.rmtree(folder, ignore_errors=True)


# --- what one anonymous request may cost ---------------------------------------------------

FILES_IN_ONE_REQUEST = 6
CHILD_CPU_SECONDS = 1


@pytest.fixture(scope="module")
def cheap_children_app(env):
    """The reporter portal with document children limited to 1 CPU second each."""
    from sipadu import create_app
    from sipadu.settings.config import load_config
    from sipadu.web.context import dispose

    app = create_app(
        "reporter",
        load_config({**env, "SIPADU_DOCUMENT_CLEANER_CPU_SECONDS": str(CHILD_CPU_SECONDS)}),
    )
    app.config["TESTING"] = True
    yield app
    dispose(app)


def test_one_request_of_costly_documents_costs_a_bounded_share_of_cleaning(
    cheap_children_app, people
):
    """Pictures have a budget per request (SIPADU_IMAGE_MEGAPIXELS_PER_REQUEST: three of
    the largest picture); documents have none: every file of a request may cost its
    child's whole CPU limit (60 s by default), so one anonymous form of 20 small DOCX
    (90 KB each, 60 MB of XML inside: 16 CPU seconds each here) costs 20 children's
    worth. Here six such files, children of 1 CPU second: the CPU the request's
    children may use together should be bounded like the pictures', at most three
    children's worth, then the rest kept as sent (too costly) or the request refused."""
    import resource

    files = [(f"bom{i}.docx", slow_docx(f"X{i}"), OCTETS) for i in range(FILES_IN_ONE_REQUEST)]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    response = report_with_files(
        cheap_children_app.test_client(), files, title="Mahal", send_anyway="1"
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    used = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    assert response.status_code in (200, 413, 503)
    assert used <= 3 * CHILD_CPU_SECONDS + 1, (
        f"one request's children used {used:.1f} CPU s in {time.monotonic() - started:.1f} s"
    )


def test_the_check_passes_a_file_cleaned_where_mat2_looks(reporter_app, clients, database_url):
    """The control of the leak test: the author in docProps/core.xml is removed, so the
    same check passes (the leak tests fail for what they plant, not for the harness)."""
    tag = f"NAMA{uuid.uuid4().hex[:10].upper()}"
    data = docx(tag, PARAGRAPH)
    assert carries(data, tag)
    notice, received = send_and_receive(reporter_app, clients, database_url, "bukti", data)
    assert not carries(received, tag) and not any(word in notice for word in KEPT_WORDS)
