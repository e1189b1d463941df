"""A fresh review of issue 21 (evidence that cannot betray its reporter or harm its
reader): faults found by sending real files through the real reporter portal (and, by
hand, over HTTP under gunicorn), and reading them back as the investigator does. Each
test fails on the reviewed checkout and passes once the fault is fixed. Real app, real
database, real cleaning children, real LibreOffice, exiftool and Pillow; no mocks."""

import base64
import html
import io
import re
import subprocess
import uuid
import zipfile
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

from tests.helpers import (
    TOKEN,
    form_tokens,
    login,
    made_up_word,
    receipt,
    report_id_of,
    report_with_files,
)
from tests.office_files import FLAT_HEAD, soffice
from tests.test_cleaning_pipeline import investigator_files
from tests.test_review_cleaning import carries, notices

OCTETS = "application/octet-stream"
CLEANED = ("dibersihkan", "cleaned")


def exiftool(data: bytes, folder: Path, name: str = "file") -> str:
    """What exiftool reads in ``data`` (every group, embedded documents too)."""
    path = folder / f"{name}-{uuid.uuid4().hex[:6]}"
    path.write_bytes(data)
    return subprocess.run(
        ["exiftool", "-a", "-u", "-G1", "-ee", str(path)], capture_output=True, text=True
    ).stdout


def send(reporter_app, clients, database_url, files, **fields):
    """Send ``files`` ((name, bytes) each, as application/octet-stream) in a new report,
    "send anyway" if warned; (the reporter's notices by name, what the investigator
    downloads by name)."""
    marker = f"Tinjauan segar {made_up_word()}"
    response = report_with_files(
        reporter_app.test_client(),
        [(name, data, OCTETS) for name, data in files],
        title=marker,
        send_anyway="1",
        **fields,
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 200, page[:400]
    return notices(page), investigator_files(clients, database_url, marker)


# --- 1. a Windows user's folder survives in office files told "cleaned" ------------------

USER = "Siti.Rahmawati"  # the Windows account folder: C:\Users\<name>
_XLINK = 'xmlns:xlink="http://www.w3.org/1999/xlink" office:version="1.3"'
_LINKED_PICTURE = (
    "<office:body><office:text><text:p>Anggaran fiktif dinas</text:p><text:p>"
    "<draw:frame draw:name='g1' svg:width='4cm' svg:height='3cm' text:anchor-type='as-char'>"
    f"<draw:image xlink:href='file:///C:/Users/{USER}/Documents/foto-lokasi.jpg'"
    " xlink:type='simple' xlink:show='embed' xlink:actuate='onLoad'/></draw:frame></text:p>"
    "</office:text></office:body>"
)
_EXTERNAL_CELL = (
    "<office:body><office:spreadsheet><table:table table:name='A'><table:table-row>"
    "<table:table-cell table:formula=\"of:=['file:///C:/Users/"
    f"{USER}/Documents/anggaran-asli.ods'#$Sheet1.A1]\" office:value-type='float'"
    " office:value='5'><text:p>5</text:p></table:table-cell>"
    "<table:table-cell office:value-type='string'><text:p>Anggaran fiktif dinas</text:p>"
    "</table:table-cell></table:table-row></table:table></office:spreadsheet></office:body>"
)


@pytest.fixture(scope="module")
def linked_office_files(tmp_path_factory) -> dict[str, bytes]:
    """A letter with a picture linked from the writer's Documents folder (Insert >
    Picture > "Link"), and a workbook with a cell taken from another workbook of theirs
    (an external reference): as LibreOffice saves them in DOCX and XLSX."""
    folder = tmp_path_factory.mktemp("linked")
    head = FLAT_HEAD.replace('office:version="1.3"', _XLINK)
    letter, sheet = folder / "surat.fodt", folder / "rekap.fods"
    letter.write_text(head.format(kind="text") + _LINKED_PICTURE + "</office:document>")
    sheet.write_text(head.format(kind="spreadsheet") + _EXTERNAL_CELL + "</office:document>")
    soffice(folder, "docx:MS Word 2007 XML", [letter], folder)
    soffice(folder, "xlsx:Calc MS Excel 2007 XML", [sheet], folder)
    return {
        "surat.docx": (folder / "surat.docx").read_bytes(),
        "rekap.xlsx": (folder / "rekap.xlsx").read_bytes(),
    }


@pytest.mark.parametrize("name", ["surat.docx", "rekap.xlsx"])
def test_the_windows_user_folder_in_an_office_file_is_removed_or_told(
    name, linked_office_files, reporter_app, clients, database_url
):
    """A linked picture (word/_rels/document.xml.rels, ``Target="file:///C:/Users/
    <name>/Documents/…" TargetMode="External"``) and an external workbook reference
    (xl/externalLinks/_rels/externalLink1.xml.rels, ``externalLinkPath``) keep the
    Windows account folder, which is usually the person's name: the same thing
    officescrub removes from Excel's saved-in folder (``x15ac:absPath``, "holds the
    Windows user's name", told as an author). The investigator receives it; the reporter
    is told "cleaned" with nothing left and gets no warning before storing."""
    data = linked_office_files[name]
    assert carries(data, USER)  # the test's own file holds the folder
    told, received = send(reporter_app, clients, database_url, [(name, data)])
    if carries(received[name], USER):
        notice = told[name]
        assert not notice.startswith(CLEANED) or "masih ada" in notice, (
            f"{name} still names C:\\Users\\{USER} and the reporter was told: {notice}"
        )


# --- 2. a scanned multi-page TIFF and a screen-recording GIF are not cleaned ----------------


def scanned_tiff(pages: int = 20) -> bytes:
    """A scanner's multi-page TIFF of a letter (200 dpi A4, black and white, CCITT G4),
    carrying the scanner's make, model and serial number and the operator's name."""
    drawn = []
    for number in range(pages):
        page = Image.new("1", (1700, 2200), 1)
        draw = ImageDraw.Draw(page)
        for y in range(100, 2100, 60):
            draw.text((100, y), f"Halaman {number} baris {y}: anggaran dinas fiktif", fill=0)
        drawn.append(page)
    out = io.BytesIO()
    drawn[0].save(out, "TIFF", save_all=True, append_images=drawn[1:], compression="group4")
    return out.getvalue()


def screen_recording_gif(frames: int = 750) -> bytes:
    """A 30-second screen recording saved as an animated GIF (480 x 270, 25 frames a
    second: what imagecheck itself calls a real animation)."""
    drawn = []
    for number in range(frames):
        frame = Image.new("P", (480, 270), 0)
        draw = ImageDraw.Draw(frame)
        draw.rectangle([number % 400, 50, number % 400 + 60, 120], fill=1 + number % 200)
        draw.text((10, 10), f"frame {number}", fill=255)
        drawn.append(frame)
    out = io.BytesIO()
    drawn[0].save(out, "GIF", save_all=True, append_images=drawn[1:], duration=40)
    return out.getvalue()


def with_tags(data: bytes, folder: Path, suffix: str, tag: str) -> bytes:
    path = folder / f"tagged{suffix}"
    path.write_bytes(data)
    subprocess.run(
        ["exiftool", "-q", "-overwrite_original", f"-Artist=Operator {tag}",
         f"-Make=Pemindai {tag}", f"-Model=Model {tag}", str(path)],
        check=True,
    )  # fmt: skip
    return path.read_bytes()


@pytest.mark.parametrize(
    ("name", "make"), [("pindaian.tif", scanned_tiff), ("rekaman-layar.gif", screen_recording_gif)]
)
def test_a_scanned_document_and_a_screen_recording_are_cleaned(
    name, make, reporter_app, clients, database_url, tmp_path
):
    """A 20-page scanned letter (TIFF, 75 megapixels over all its pages, 250 KB) and a
    30-second screen recording (GIF, 750 frames, 97 megapixels) are kept as sent with
    the scanner's make and model and the operator's name: "too large to be cleaned
    here". The 50-megapixel limit counts every page and frame together, so ordinary
    multi-page scans (the usual TIFF) and ordinary animations (imagecheck allows 2,000
    frames) are never cleaned, though a page or frame at a time fits easily in the
    child's memory, and a GIF's metadata blocks can be dropped without decoding it (as
    officeclean already does for a GIF inside an office file)."""
    tag = made_up_word(8)
    data = with_tags(make(), tmp_path, Path(name).suffix, tag)
    assert tag in exiftool(data, tmp_path)
    told, received = send(reporter_app, clients, database_url, [(name, data)])
    assert told[name].startswith(CLEANED), f"{name}: {told[name]}"
    assert tag not in exiftool(received[name], tmp_path)
    assert not carries(received[name], tag)


# --- 3. an office picture whose name is not its type: "too costly" --------------------------


def test_an_office_picture_named_png_that_is_a_jpeg_is_cleaned(
    reporter_app, clients, database_url, tmp_path
):
    """Detection by content stops at the office file's door: a picture member named
    ``word/media/image1.png`` that holds a JPEG (an editor that renamed, converted or
    pasted it) makes ``mat2 --show`` (run to list what the file held) fail in cairo
    with "out of memory", which is taken for the child running out of memory: the whole
    DOCX is kept as sent, with its author and the photo's GPS position, and the reporter
    is told "cleaning it took more memory or time than allowed" for a 100 KB file.
    officeclean itself tells members by content."""
    tag = made_up_word(8)
    photo = Image.new("RGB", (320, 240), (120, 30, 30))
    exif = Image.Exif()
    exif[0x013B] = f"Fotografer {tag}"
    exif[0x8825] = {1: "S", 2: (6.0, 12.0, 0.0), 3: "E", 4: (106.0, 48.0, 0.0)}
    jpeg = io.BytesIO()
    photo.save(jpeg, "JPEG", exif=exif.tobytes())
    png = io.BytesIO()
    photo.save(png, "PNG")
    folder = tmp_path / "docx"
    folder.mkdir()
    flat = folder / "surat.fodt"

    flat.write_text(
        FLAT_HEAD.format(kind="text")
        + f"<office:meta><dc:creator>Penulis {tag}</dc:creator></office:meta>"
        "<office:body><office:text><text:p>Anggaran fiktif dinas</text:p><text:p>"
        "<draw:frame draw:name='g1' svg:width='4cm' svg:height='3cm' text:anchor-type='as-char'>"
        f"<draw:image><office:binary-data>{base64.b64encode(png.getvalue()).decode()}"
        "</office:binary-data></draw:image></draw:frame></text:p></office:text></office:body>"
        "</office:document>"
    )
    soffice(folder, "docx:MS Word 2007 XML", [flat], folder)
    made = io.BytesIO()
    with (
        zipfile.ZipFile(folder / "surat.docx") as source,
        zipfile.ZipFile(made, "w", zipfile.ZIP_DEFLATED) as target,
    ):
        for member in source.infolist():
            content = source.read(member)
            if member.filename == "word/media/image1.png":
                content = jpeg.getvalue()
            target.writestr(member.filename, content)
    data = made.getvalue()
    told, received = send(reporter_app, clients, database_url, [("surat.docx", data)])
    assert told["surat.docx"].startswith(CLEANED), told["surat.docx"]
    assert not carries(received["surat.docx"], tag)


# --- 4. the mailbox's language switch loses the files' notices -----------------------------


def _hidden(page: str) -> dict[str, str]:
    hidden = re.findall(r'<input type="hidden" name="([a-z_]+)" value="([^"]*)"', page)
    found = {name: html.unescape(value) for name, value in hidden}
    found["csrf_token"] = TOKEN.search(page).group(1)
    return found


def test_the_mailbox_language_switch_keeps_the_files_notices(reporter_app, people):
    """Issue 21 item 2: the page after a mailbox upload lists each file as cleaned or
    kept as sent. The code page's language switch carries its notices (a sealed
    ``file_notices`` field); the mailbox's does not: after "Bahasa Indonesia → English"
    the notice for the photo just sent is gone, so a reporter who reads English cannot
    learn what was removed from it."""
    client = reporter_app.test_client()
    code, passphrase = receipt(report_with_files(client, []))
    assert login(client, code, passphrase).status_code == 303
    photo = Image.new("RGB", (64, 48), (10, 120, 40))
    exif = Image.Exif()
    exif[0x013B] = "Fotografer Rahasia"
    out = io.BytesIO()
    photo.save(out, "JPEG", exif=exif.tobytes())
    sent = client.post(
        "/mailbox/messages",
        data={
            **form_tokens(client, "/mailbox"),
            "body": "Foto tambahan dari lokasi",
            "attachments": [(io.BytesIO(out.getvalue()), "foto-lokasi.jpg", "image/jpeg")],
        },
        content_type="multipart/form-data",
    )
    page = sent.get_data(as_text=True)
    assert sent.status_code == 200 and "foto-lokasi.jpg" in notices(page)
    form = re.search(r'<form[^>]*id="message-form".*?</form>', page, re.DOTALL).group(0)
    switched = client.post(
        "/mailbox/messages?lang=en",
        data={**_hidden(form), "body": "", "switch_language": "en"},
        content_type="multipart/form-data",
    )
    english = switched.get_data(as_text=True)
    assert switched.status_code == 200 and 'lang="en"' in english
    assert 'id="file-notices"' in english, "the notices are gone after the language switch"
    assert notices(english)["foto-lokasi.jpg"].startswith("cleaned")


# --- 5. what the notice says about a GIF or TIFF over the frame or page count --------------


def test_a_gif_with_many_frames_is_not_called_damaged(reporter_app, clients, database_url):
    """A valid animated GIF of 2,500 tiny frames (a long, small animation, 95 KB) is
    refused by imagecheck for its frame count, and the reporter is told the file "seems
    damaged and cannot be read": a false reason (Pillow and every browser play it). It
    is too costly or too large to clean here, not damaged."""
    frames = []
    for index in range(2500):  # a dot moving over an 8 x 8 square
        frame = Image.new("L", (8, 8), 0)
        frame.putpixel((index % 8, index // 8 % 8), 255)
        frames.append(frame)
    out = io.BytesIO()
    frames[0].save(out, "GIF", save_all=True, append_images=frames[1:], duration=20)
    assert Image.open(io.BytesIO(out.getvalue())).n_frames == 2500  # a readable GIF
    told, _received = send(reporter_app, clients, database_url, [("animasi.gif", out.getvalue())])
    notice = told["animasi.gif"]
    assert "rusak" not in notice and "damaged" not in notice, notice


# --- 6. the safe-copy button is offered by the file's name, not its content -----------------


def test_a_recording_named_docx_is_offered_no_safe_copy(
    reporter_app, clients, database_url, tmp_path
):
    """Issue 21 item 4: the safe copy is offered by content. A voice recording named
    "rekaman.docx" is told an MP3 from its bytes and cleaned as one, yet the case page
    offers "Download safe copy (PDF)" by its name; pressing it says the file, by its
    content, is no PDF, office document or picture. Its kind was known since the
    upload."""
    sound = tmp_path / "rekaman.mp3"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "sine=d=1", str(sound)], check=True
    )
    marker = f"Rekaman {made_up_word(8)}"
    receipt(
        report_with_files(
            reporter_app.test_client(),
            [("rekaman.docx", sound.read_bytes(), OCTETS)],
            title=marker,
        )
    )
    investigator = clients["pemeriksa1"]
    report_id = report_id_of(database_url, marker, investigator)
    page = investigator.get(f"/reports/{report_id}").get_data(as_text=True)
    item = re.search(r"<li><a [^>]*>rekaman\.docx</a>.*?</li>", page, re.DOTALL).group(0)
    assert "safe-copy" not in item, "a safe copy is offered for a sound recording"


# --- 7. an address written with spaced dots is not warned about -----------------------------


def test_an_email_address_with_spaced_dots_is_warned_about(reporter_app, people):
    """docs/reporter.md: ``budi @ mail.com`` is read as an address, but ``budi @ gmail
    . com`` (the same address with the dot spaced too, as people write it to dodge
    harvesters) is stored without a warning."""
    response = report_with_files(
        reporter_app.test_client(), [], what="Hubungi saya lewat budi.santoso @ gmail . com"
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'id="identifying-warning"' in page, "the address was stored without a warning"
