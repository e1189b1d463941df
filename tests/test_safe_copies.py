"""Safe copies for investigators (issue 21, item 4): real files with scripts, embedded
files, links and metadata come back as PDFs of pictures only; office documents go
through LibreOffice without network; bombs and malformed files are refused clearly
within their budgets; through the staff portal a copy is made once, audited when read,
and given to nobody who may not read the file."""

import http.server
import io
import json
import random
import re
import struct
import subprocess
import threading
import time
import uuid
import zipfile
import zlib

import pikepdf
import pytest
from PIL import Image
from sqlalchemy import select

from sipadu.evidence import safe_copy
from sipadu.evidence.confinement import Confinement
from sipadu.evidence.safe_copy import CannotConvert, Limits, Refused
from sipadu.persistence.models import Blob, SafeCopy
from tests.helpers import database, receipt, report_id_of, report_with_files

MIB = 1024 * 1024
# The tests' budgets: small enough that a bomb is refused in seconds.
LIMITS = Limits(
    max_pages=500,
    dpi=100,
    max_page_pixels=16_000_000,
    max_total_pixels=1_500_000_000,
    max_input_bytes=200 * MIB,
    render=Confinement(768 * MIB, 10),
    office=Confinement(1024 * MIB, 10, 400 * MIB),
    build=Confinement(768 * MIB, 10),
)
FORBIDDEN = (
    b"/JavaScript",
    b"/JS",
    b"/EmbeddedFile",
    b"/URI",
    b"/Metadata",
    b"/Font",
    b"/Annots",
    b"/AcroForm",
    b"/OpenAction",
    b"Budi",
    b"/Author",
)
# Office documents need LibreOffice and user namespaces (Makefile PROGRAMS; docs/deploy.md):
# their tests fail, not skip, on a host without them.
office = pytest.mark.usefixtures("isolated")


@pytest.fixture(scope="module")
def isolated() -> None:
    assert safe_copy.isolation_available(), "soffice and bwrap (user namespaces) needed"


def convert(data: bytes, limits: Limits = LIMITS) -> tuple[safe_copy.Made, bytes]:
    out = io.BytesIO()
    made = safe_copy.make([data], data[:8192], len(data), limits, out.write)
    return made, out.getvalue()


def assert_pictures_only(pdf: bytes, pages: int) -> None:
    """A PDF whose every page is one JPEG picture and nothing else, with ``pages``
    pages, and none of the names that carry scripts, files, links or metadata."""
    for name in FORBIDDEN:
        assert name not in pdf, name
    with pikepdf.open(io.BytesIO(pdf)) as document:
        assert len(document.pages) == pages
        assert set(document.Root.keys()) == {"/Type", "/Pages"}
        assert set(document.docinfo.keys()) <= {"/Creator", "/CreationDate"}
        assert document.docinfo.get("/Creator") in (None, "PDFium")
        for page in document.pages:
            assert "/Annots" not in page
            objects = page.Resources.get("/XObject", {})
            assert set(page.Resources.keys()) <= {"/XObject", "/ExtGState"}
            assert len(objects) == 1
            [image] = objects.values()
            assert (image.Subtype, image.Filter) == ("/Image", "/DCTDecode")
            content = b"".join(
                c.read_bytes()
                for c in (
                    page.Contents if isinstance(page.Contents, pikepdf.Array) else [page.Contents]
                )
            )
            assert b"BT" not in content and b"Tj" not in content  # no text object


def evil_pdf(pages: int = 2) -> bytes:
    """A PDF with text in a font, a JavaScript open action, an embedded file, a link,
    an author in its Info and an XMP packet."""
    pdf = pikepdf.new()
    font = pdf.make_indirect(
        pikepdf.Dictionary(
            Type=pikepdf.Name.Font, Subtype=pikepdf.Name.Type1, BaseFont=pikepdf.Name.Helvetica
        )
    )
    for index in range(pages):
        page = pdf.add_blank_page(page_size=(595, 842))
        page.Resources = pikepdf.Dictionary(Font=pikepdf.Dictionary(F1=font))
        page.Contents = pdf.make_stream(f"BT /F1 24 Tf 72 720 Td (Halaman {index}) Tj ET".encode())
        page.Annots = pdf.make_indirect(
            pikepdf.Array(
                [
                    pikepdf.Dictionary(
                        Type=pikepdf.Name.Annot,
                        Subtype=pikepdf.Name.Link,
                        Rect=[72, 700, 300, 740],
                        A=pikepdf.Dictionary(S=pikepdf.Name.URI, URI="http://example.invalid/x"),
                    )
                ]
            )
        )
    pdf.Root.OpenAction = pikepdf.Dictionary(
        S=pikepdf.Name.JavaScript, JS=pikepdf.String("app.alert('hai')")
    )
    pdf.attachments["rahasia.txt"] = pikepdf.AttachedFileSpec(pdf, b"isi rahasia")
    pdf.docinfo["/Author"] = "Budi Santoso"
    with pdf.open_metadata() as meta:
        meta["dc:creator"] = ["Budi Santoso"]
    out = io.BytesIO()
    pdf.save(out)
    data = out.getvalue()
    assert b"/JavaScript" in data and b"Budi" in data and b"/EmbeddedFile" in data
    return data


def jpeg_with_exif() -> bytes:
    image = Image.new("RGB", (640, 480), (30, 120, 200))
    exif = Image.Exif()
    exif[0x013B] = "Budi Santoso"  # Artist
    exif[0x010F] = "KameraKu"  # Make
    gps = {1: "S", 2: (6.0, 10.0, 30.0), 3: "E", 4: (106.0, 49.0, 0.0)}
    exif[0x8825] = gps
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif.tobytes())
    data = out.getvalue()
    assert b"Budi" in data
    return data


# --- the converter ------------------------------------------------------------------------


def test_a_pdf_with_script_file_link_and_metadata_becomes_pictures_only():
    made, pdf = convert(evil_pdf(pages=3))
    assert made.pages == 3
    assert_pictures_only(pdf, 3)


def test_a_photo_with_exif_becomes_one_page_without_it():
    made, pdf = convert(jpeg_with_exif())
    assert made.pages == 1
    assert_pictures_only(pdf, 1)
    assert b"KameraKu" not in pdf and b"Exif" not in pdf


def test_a_photo_stored_sideways_is_a_page_standing_upright(tmp_path):
    """A phone's portrait photo: stored 300 x 200 with EXIF Orientation 6 and GPS (as
    exiftool writes them), shown 200 x 300; its page is as tall as the photo is shown."""
    path = tmp_path / "portrait.jpg"
    Image.new("RGB", (300, 200), "red").save(path, "JPEG")
    subprocess.run(
        ["exiftool", "-q", "-overwrite_original", "-n", "-Orientation=6",
         "-GPSLatitude=6.2", "-GPSLatitudeRef=S", "-Make=Samsung", str(path)],
        check=True, timeout=60,
    )  # fmt: skip
    made, pdf = convert(path.read_bytes())
    assert made.pages == 1
    assert_pictures_only(pdf, 1)
    with pikepdf.open(io.BytesIO(pdf)) as document:
        _, _, width, height = (float(v) for v in document.pages[0].MediaBox)
    assert height / width == pytest.approx(1.5, rel=0.02)


def test_a_multi_page_tiff_is_one_page_each():
    frames = [Image.new("RGB", (300, 200), colour) for colour in ("red", "green", "blue")]
    out = io.BytesIO()
    frames[0].save(out, "TIFF", save_all=True, append_images=frames[1:])
    made, pdf = convert(out.getvalue())
    assert made.pages == 3
    assert_pictures_only(pdf, 3)


def test_what_has_no_pages_is_refused_before_any_child():
    for data in (b"Halo, ini teks biasa.\n", b"ID3\x04\x00" + b"\0" * 100):
        with pytest.raises(Refused) as refused:
            convert(data)
        assert refused.value.reason == CannotConvert.UNSUPPORTED


class _Server:
    """A web server on 127.0.0.1 that counts the requests it gets."""

    def __init__(self) -> None:
        self.hits: list[str] = []
        hits = self.hits
        picture = io.BytesIO()
        Image.new("RGB", (20, 20), (255, 0, 0)).save(picture, "PNG")

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                hits.append(self.path)
                self.send_response(200)
                self.send_header("Content-Type", "image/png")
                self.end_headers()
                self.wfile.write(picture.getvalue())

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture(scope="module")
def documents(tmp_path_factory):
    """A DOCX and an ODT made by LibreOffice from HTML with an author and a picture
    linked at a local web server (made before the test looks, so the server's count is
    reset after), and the server."""
    import subprocess

    server = _Server()
    folder = tmp_path_factory.mktemp("office")
    (folder / "surat.html").write_text(
        "<html><head><title>Surat</title><meta name='author' content='Budi Santoso'></head>"
        f"<body><p>Halo dunia</p><p><img src='http://127.0.0.1:{server.port}/tertaut.png'"
        " width='100' height='100'></p></body></html>"
    )
    made = {}
    for extension, filter_name in (("docx", "MS Word 2007 XML"), ("odt", "writer8")):
        subprocess.run(
            [
                "soffice",
                "--headless",
                f"-env:UserInstallation=file://{folder}/profile",
                "--convert-to",
                f"{extension}:{filter_name}",
                "--outdir",
                str(folder),
                str(folder / "surat.html"),
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )
        made[extension] = (folder / f"surat.{extension}").read_bytes()
    yield made, server
    server.server.shutdown()


@office
@pytest.mark.parametrize("extension", ["docx", "odt"])
def test_an_office_document_is_converted_without_network(documents, extension):
    made, server = documents
    data = made[extension]
    assert f"127.0.0.1:{server.port}".encode() in _unpacked(data)  # the link is there
    server.hits.clear()
    started = time.monotonic()
    result, pdf = convert(data)
    assert time.monotonic() - started < 30
    assert result.pages >= 1
    assert_pictures_only(pdf, result.pages)
    assert server.hits == []  # LibreOffice never reached the linked picture


def _unpacked(data: bytes) -> bytes:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return b"".join(archive.read(name) for name in archive.namelist())


def _png_header_only(width: int, height: int) -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\0" * 1000))
        + chunk(b"IEND", b"")
    )


def _pdf_of_pages(count: int, size: float = 612) -> bytes:
    pdf = pikepdf.new()
    for _ in range(count):
        pdf.add_blank_page(page_size=(size, size))
    out = io.BytesIO()
    pdf.save(out)
    return out.getvalue()


def _docx_bomb(template: bytes, rows: int) -> bytes:
    """``template`` with its text replaced by ``rows`` x 16,384 paragraphs (~1 MiB of
    XML each row): a few hundred KiB packed."""
    out = io.BytesIO()
    paragraph = b"<w:p><w:r><w:t>" + b"a" * 44 + b"</w:t></w:r></w:p>"
    with (
        zipfile.ZipFile(io.BytesIO(template)) as source,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as bomb,
    ):
        for item in source.infolist():
            if item.filename != "word/document.xml":
                bomb.writestr(item, source.read(item.filename))
                continue
            with bomb.open("word/document.xml", "w", force_zip64=True) as part:
                part.write(
                    b'<?xml version="1.0" encoding="UTF-8"?><w:document xmlns:w='
                    b'"http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
                    b"<w:body>"
                )
                block = paragraph * 16384
                for _ in range(rows):
                    part.write(block)
                part.write(b"</w:body></w:document>")
    return out.getvalue()


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        ("picture of 10 gigapixels", _png_header_only(100_000, 100_000), CannotConvert.TOO_LARGE),
        ("PDF page of 200 x 200 inches", _pdf_of_pages(1, 14_400), CannotConvert.TOO_LARGE),
        ("PDF of 10,000 pages", _pdf_of_pages(10_000), CannotConvert.TOO_LARGE),
        ("truncated PDF", b"%PDF-1.7\n1 0 obj <<" + b"x" * 100, CannotConvert.UNREADABLE),
        ("PNG of garbage", b"\x89PNG\r\n\x1a\n" + b"garbage" * 100, CannotConvert.UNREADABLE),
        ("JPEG cut short", jpeg_with_exif()[:2000], CannotConvert.UNREADABLE),
    ],
)
def test_bombs_and_malformed_files_are_refused_within_budget(name, data, reason):
    started = time.monotonic()
    with pytest.raises(Refused) as refused:
        convert(data)
    assert refused.value.reason == reason, name
    assert time.monotonic() - started < 15, name


@office
def test_office_bombs_and_malformed_documents_are_refused_within_budget(documents):
    made, _server = documents
    cases = [
        # ~400 MiB of XML in 1.7 MB: refused from the ZIP's directory, LibreOffice unstarted
        (_docx_bomb(made["docx"], 400), CannotConvert.TOO_LARGE, 5),
        # ~100 MiB of XML: under that check, LibreOffice runs out of its 1 GiB. It says
        # only "could not be loaded" then, as for a damaged file; safe_copy tells the two
        # apart by the peak memory of its descendants, which under load may be read
        # before LibreOffice's own peak: either refusal is within budget.
        (
            _docx_bomb(made["docx"], 100),
            {CannotConvert.TOO_COSTLY, CannotConvert.UNREADABLE},
            3 * 10 + 5,
        ),
        (
            # no valid ZIP entry: not told to be a DOCX at all (sipadu.evidence.kinds)
            b"PK\x03\x04" + b"\0" * 26 + b"word/document.xml" + b"x" * 500,
            CannotConvert.UNSUPPORTED,
            30,
        ),
        (made["odt"][:3000], CannotConvert.UNREADABLE, 30),
    ]
    for data, reason, seconds in cases:
        started = time.monotonic()
        with pytest.raises(Refused) as refused:
            convert(data)
        assert refused.value.reason in (reason if isinstance(reason, set) else {reason})
        assert time.monotonic() - started < seconds


def test_a_huge_photo_is_scaled_into_the_page_limit():
    limits = Limits(**{**LIMITS.__dict__, "max_page_pixels": 2_000_000})
    picture = io.BytesIO()
    Image.new("RGB", (3000, 2000), (10, 200, 10)).save(picture, "JPEG")
    made, pdf = convert(picture.getvalue(), limits)
    assert made.pages == 1 and 1_900_000 < made.pixels <= 2_000_000
    assert_pictures_only(pdf, 1)


# --- through the staff portal -------------------------------------------------------------


def _safe_copy_forms(page: str, report_id: uuid.UUID) -> list[str]:
    return re.findall(
        rf'action="(/reports/{report_id}/attachments/[0-9a-f-]{{36}}/safe-copy)"', page
    )


def test_an_investigator_gets_one_audited_safe_copy_and_the_original_unchanged(
    reporter_app, clients, database_url
):
    from tests.test_casework import actions

    marker = f"Salinan aman {uuid.uuid4().hex[:8]}"
    original = evil_pdf(pages=2)
    receipt(
        report_with_files(
            reporter_app.test_client(),
            [
                ("laporan.pdf", original, "application/pdf"),
                ("catatan.txt", b"hanya teks", "text/plain"),
            ],
            title=marker,
            # Cleaning would lose its attached file: kept as sent, warned about first.
            send_anyway="1",
        )
    )
    investigator = clients["pemeriksa1"]
    report_id = report_id_of(database_url, marker, investigator)
    page = investigator.get(f"/reports/{report_id}").get_data(as_text=True)
    [form] = _safe_copy_forms(page, report_id)  # the PDF has one; the text file none
    assert "Pages turned into pictures" in page or "dijadikan gambar" in page
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    attachment_id = uuid.UUID(form.split("/")[-2])
    link = f"/reports/{report_id}/attachments/{attachment_id}"
    stored = investigator.get(link).get_data()  # as sent, its JavaScript and attachment

    first = investigator.post(form, data={"csrf_token": token})
    assert first.status_code == 200, first.get_data(as_text=True)[:500]
    assert first.mimetype == "application/pdf"
    assert "salinan-aman.pdf" in first.headers["Content-Disposition"]
    assert_pictures_only(first.get_data(), 2)
    with database(database_url) as session:
        [row] = session.scalars(select(SafeCopy).where(SafeCopy.attachment_id == attachment_id))
        blob_id = row.blob_id
        assert session.get(Blob, blob_id).linked

    second = investigator.post(form, data={"csrf_token": token})
    assert second.status_code == 200 and second.get_data() == first.get_data()
    with database(database_url) as session:
        rows = list(
            session.scalars(select(SafeCopy).where(SafeCopy.attachment_id == attachment_id))
        )
        assert [r.blob_id for r in rows] == [blob_id]  # made once

    assert investigator.get(link).get_data() == stored  # the original, unchanged

    entries = [e for e in actions(database_url, report_id) if e.action.startswith("attachment.")]
    made = [json.loads(e.detail) for e in entries if e.action == "attachment.safe_copy_make"]
    read = [json.loads(e.detail) for e in entries if e.action == "attachment.safe_copy"]
    assert made == [{"attachment": str(attachment_id), "outcome": "made"}]
    assert read == [{"attachment": str(attachment_id), "size": len(first.get_data())}] * 2
    for entry in entries:  # no name, no content in the log
        assert "laporan" not in str(entry.detail) and "Budi" not in str(entry.detail)


def test_a_file_without_a_safe_copy_says_why_and_keeps_the_original(
    reporter_app, clients, database_url
):
    from tests.test_casework import actions

    marker = f"Tanpa salinan {uuid.uuid4().hex[:8]}"
    receipt(
        report_with_files(
            reporter_app.test_client(),
            [("rusak.pdf", b"%PDF-1.7\n1 0 obj <<" + b"x" * 100, "application/pdf")],
            title=marker,
            send_anyway="1",  # it cannot be cleaned either: warned about first
        )
    )
    investigator = clients["pemeriksa1"]
    report_id = report_id_of(database_url, marker, investigator)
    page = investigator.get(f"/reports/{report_id}").get_data(as_text=True)
    [form] = _safe_copy_forms(page, report_id)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    for language, words in (("en", "damaged"), ("id", "rusak")):
        refused = investigator.post(f"{form}?lang={language}", data={"csrf_token": token})
        body = refused.get_data(as_text=True)
        assert refused.status_code == 422
        assert words in body
        assert f'href="{form.rsplit("/", 1)[0]}' in body  # the original, still offered
        assert "unreadable" not in body  # no internal value on the page
    made = [
        json.loads(e.detail)
        for e in actions(database_url, report_id)
        if e.action == "attachment.safe_copy_make"
    ]
    assert [d["outcome"] for d in made] == ["unreadable"]  # remembered: tried once
    again = investigator.post(form, data={"csrf_token": token, "retry": "1"})
    assert again.status_code == 422
    made = [
        json.loads(e.detail)
        for e in actions(database_url, report_id)
        if e.action == "attachment.safe_copy_make"
    ]
    assert len(made) == 2  # an explicit retry tries again


def test_whoever_may_not_read_the_file_gets_no_safe_copy(reporter_app, clients, database_url):
    marker = f"Bukan milikmu {uuid.uuid4().hex[:8]}"
    receipt(
        report_with_files(
            reporter_app.test_client(),
            [("foto.jpg", jpeg_with_exif(), "image/jpeg")],
            title=marker,
        )
    )
    report_id = report_id_of(database_url, marker, clients["pemeriksa1"])
    page = clients["pemeriksa1"].get(f"/reports/{report_id}").get_data(as_text=True)
    [form] = _safe_copy_forms(page, report_id)
    for name in ("auditor", "admin"):
        outsider = clients[name]
        token = re.search(
            r'name="csrf_token" value="([^"]+)"', outsider.get("/").get_data(as_text=True)
        )
        response = outsider.post(form, data={"csrf_token": token.group(1) if token else ""})
        assert response.status_code in (302, 303, 403, 404), name
        assert response.mimetype != "application/pdf"
    with database(database_url) as session:
        attachment_id = uuid.UUID(form.split("/")[-2])
        assert session.get(SafeCopy, attachment_id) is None  # nothing was made


# --- migration 0029 -----------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_the_migration_goes_up_and_down(kind, request, tmp_path):
    import sqlalchemy as sa
    from alembic import command
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from sipadu.persistence.db import make_engine
    from sipadu.persistence.migrate import alembic_config, upgrade
    from sipadu.persistence.models import Base

    url = (
        f"sqlite:///{tmp_path / 'safe_copy.db'}"
        if kind == "sqlite"
        else request.getfixturevalue("fresh_postgres")
    )
    upgrade(url)
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            assert compare_metadata(context, Base.metadata) == []
        command.downgrade(alembic_config(url), "0028_first_closed")
        assert "safe_copy" not in sa.inspect(engine).get_table_names()
        upgrade(url)
        assert "safe_copy" in sa.inspect(engine).get_table_names()
    finally:
        engine.dispose()


@office
def test_a_document_whose_first_bytes_do_not_tell_its_kind_is_told_from_its_directory(
    documents,
):
    """A DOCX whose first member is a large thumbnail reads as a ZIP of no kind from its
    first 8 KiB (sipadu.evidence.kinds: Kind.ZIP): before, it got no safe copy
    ("unsupported"); a plain archive still gets none."""
    made, _server = documents
    moved = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(made["docx"])) as source,
        zipfile.ZipFile(moved, "w", zipfile.ZIP_STORED) as target,
    ):
        target.writestr("docProps/thumbnail.jpeg", random.randbytes(16 * 1024))
        for item in source.infolist():
            target.writestr(item, source.read(item))
    assert safe_copy.source_of(moved.getvalue()[:8192])[0] == safe_copy.Source.OFFICE
    result, pdf = convert(moved.getvalue())
    assert result.pages == 1
    assert_pictures_only(pdf, 1)
    plain = io.BytesIO()
    with zipfile.ZipFile(plain, "w") as archive:
        archive.writestr("foto.bin", random.randbytes(16 * 1024))
        archive.writestr("word/catatan.txt", b"bukan dokumen")
    with pytest.raises(Refused) as refused:
        convert(plain.getvalue())
    assert refused.value.reason == CannotConvert.UNSUPPORTED
