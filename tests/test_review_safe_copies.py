"""Review of issue 21, point 4 (safe copies for investigators): faults found, each a
test that fails now and passes once fixed. Real app, real database, real files and real
converters; no mocks."""

import io
import os
import re
import time
import uuid
import zipfile
from pathlib import Path

import pikepdf
import pytest
from PIL import Image
from sqlalchemy import select

from sipadu.evidence import safe_copy
from sipadu.evidence.confinement import SCRATCH_ROOT, Confinement
from sipadu.evidence.safe_copy import CannotConvert, Limits, Refused
from sipadu.persistence.models import Attachment, BlobChunk, SafeCopy
from tests.helpers import config_env, database, receipt, report_id_of, report_with_files

MIB = 1024 * 1024
CPU_SECONDS = 3  # the portal's children here: watchdog after 3 * 3 + 5 = 14 s


@pytest.fixture(scope="module")
def env(instance_path, database_url, redis_url) -> dict:
    """This module's instance, with safe-copy children of a few seconds."""
    return config_env(
        instance_path,
        database_url,
        redis_url,
        SIPADU_SAFE_COPY_CPU_SECONDS=str(CPU_SECONDS),
    )


def _limits(cpu: int) -> Limits:
    return Limits(
        max_pages=500,
        dpi=100,
        max_page_pixels=16_000_000,
        max_total_pixels=1_500_000_000,
        max_input_bytes=200 * MIB,
        render=Confinement(768 * MIB, cpu),
        office=Confinement(1024 * MIB, cpu, 400 * MIB),
        build=Confinement(768 * MIB, cpu),
    )


def _docx_linking(picture_url: str) -> bytes:
    """A minimal DOCX (WordprocessingML written here) whose only picture is *linked*
    (``TargetMode="External"``) at ``picture_url``, as Word writes "Insert > Picture >
    Link to file"."""
    body = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'
        ' xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"'
        ' xmlns:wp="http://schemas.openxmlformats.org/drawingml/2006/wordprocessingDrawing"'
        ' xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main"'
        ' xmlns:pic="http://schemas.openxmlformats.org/drawingml/2006/picture">'
        "<w:body><w:p><w:r><w:t>Lampiran</w:t></w:r></w:p><w:p><w:r><w:drawing>"
        '<wp:inline><wp:extent cx="3810000" cy="3810000"/><wp:docPr id="1" name="g"/>'
        "<a:graphic><a:graphicData"
        ' uri="http://schemas.openxmlformats.org/drawingml/2006/picture"><pic:pic>'
        '<pic:nvPicPr><pic:cNvPr id="1" name="g"/><pic:cNvPicPr/></pic:nvPicPr>'
        '<pic:blipFill><a:blip r:link="rIdPic"/><a:stretch><a:fillRect/></a:stretch>'
        '</pic:blipFill><pic:spPr><a:xfrm><a:off x="0" y="0"/><a:ext cx="3810000"'
        ' cy="3810000"/></a:xfrm><a:prstGeom prst="rect"/></pic:spPr></pic:pic>'
        "</a:graphicData></a:graphic></wp:inline></w:drawing></w:r></w:p></w:body>"
        "</w:document>"
    )
    parts = {
        "[Content_Types].xml": (
            '<?xml version="1.0" encoding="UTF-8"?><Types xmlns='
            '"http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" ContentType='
            '"application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/word/document.xml" ContentType="application/'
            'vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>'
        ),
        "_rels/.rels": (
            '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns='
            '"http://schemas.openxmlformats.org/package/2006/relationships"><Relationship'
            ' Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
            'relationships/officeDocument" Target="word/document.xml"/></Relationships>'
        ),
        "word/_rels/document.xml.rels": (
            '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns='
            '"http://schemas.openxmlformats.org/package/2006/relationships"><Relationship'
            ' Id="rIdPic" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
            f'relationships/image" Target="{picture_url}" TargetMode="External"/>'
            "</Relationships>"
        ),
        "word/document.xml": body,
    }
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in parts.items():
            archive.writestr(name, text)
    return out.getvalue()


def _convert(data: bytes, limits: Limits, pieces=None) -> bytes:
    out = io.BytesIO()
    safe_copy.make(pieces or [data], data[:8192], len(data), limits, out.write)
    return out.getvalue()


def _red_pixels(pdf: bytes) -> int:
    count = 0
    with pikepdf.open(io.BytesIO(pdf)) as document:
        for page in document.pages:
            for image in page.Resources.XObject.values():
                picture = pikepdf.PdfImage(image).as_pil_image().convert("RGB")
                red, green, blue = picture.split()
                mask = Image.eval(red, lambda v: 255 if v > 200 else 0)
                mask = Image.composite(
                    mask,
                    Image.new("L", picture.size, 0),
                    Image.eval(green, lambda v: v < 60).point(lambda v: 255 if v else 0),
                )
                mask = Image.composite(
                    mask,
                    Image.new("L", picture.size, 0),
                    Image.eval(blue, lambda v: v < 60).point(lambda v: 255 if v else 0),
                )
                count += mask.histogram()[255]
    return count


def _left_in_scratch(data: bytes) -> list[str]:
    """Files under the scratch root (/dev/shm) holding ``data``."""
    found = []
    for root, _dirs, files in os.walk(SCRATCH_ROOT):
        for name in files:
            path = os.path.join(root, name)
            try:
                if os.path.getsize(path) == len(data) and Path(path).read_bytes() == data:
                    found.append(path)
            except OSError:
                pass
    return found


# --- fault 1: the reporter's document left in /dev/shm when the watchdog kills ---------


def _docx_of_many_lines(lines: int) -> bytes:
    """A DOCX of ``lines`` paragraphs (unique: a random word in each), whose layout
    costs LibreOffice seconds of CPU."""
    marker = uuid.uuid4().hex
    paragraphs = "".join(
        f"<w:p><w:r><w:t>Lampiran {marker} baris {i} yang panjang untuk tata letak</w:t>"
        "</w:r></w:p>"
        for i in range(lines)
    )
    source = zipfile.ZipFile(io.BytesIO(_docx_linking("https://example.invalid/g.png")))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in source.namelist():
            text = source.read(name).decode()
            if name == "word/document.xml":
                text = text.replace("<w:body>", "<w:body>" + paragraphs)
            archive.writestr(name, text)
    return out.getvalue()


def test_the_scratch_folder_goes_even_when_the_watchdog_kills_the_render_child():
    """The watchdog (confinement.run: ``child.kill()``, SIGKILL) ends a render child
    while LibreOffice works: the child's ``finally`` never runs, so its scratch folder
    with the reporter's document in plaintext stays in /dev/shm until the next reboot.
    Here the file reaches the child slowly (as from a busy database), so that
    LibreOffice starts ~1 s before the watchdog fires, and the document keeps it busy
    for its whole CPU budget (2 s): the watchdog kills the child while LibreOffice
    works on the document in the scratch folder.

    (Corrected from the review's version, where LibreOffice waited on a linked picture
    that was a FIFO in the test's own temporary folder: LibreOffice no longer sees any
    file of the server, nor loads linked pictures, so it never waited.)"""
    data = _docx_of_many_lines(20_000)
    cpu = 2  # watchdog after 11 s; LibreOffice starts at ~10 s, busy until ~12 s

    def slowly():
        yield data
        time.sleep(10)

    started = time.monotonic()
    with pytest.raises(Refused) as refused:
        _convert(data, _limits(cpu), slowly())
    assert refused.value.reason == CannotConvert.TOO_COSTLY
    assert time.monotonic() - started < 25
    time.sleep(1)
    left = _left_in_scratch(data)
    for path in left:  # leave the machine clean whatever the verdict
        import shutil

        shutil.rmtree(os.path.dirname(path), ignore_errors=True)
    assert left == [], "the reporter's document stayed in the memory file system"


# --- fault 2: LibreOffice reads the server's own files -----------------------------------


def test_a_document_cannot_pull_a_file_of_the_server_into_its_safe_copy(tmp_path):
    """No network, but the whole file system: a DOCX whose picture is linked at
    ``file:///…`` gets a file of the server (here a red picture; any picture the portal's
    user can read) drawn into the safe copy."""
    secret = tmp_path / "server-secret.png"
    Image.new("RGB", (200, 200), (255, 0, 0)).save(secret)
    pdf = _convert(_docx_linking(secret.as_uri()), _limits(10))
    assert _red_pixels(pdf) == 0, "a file of the server was drawn into the safe copy"


# --- fault 3: a file altered in the database ------------------------------------------


def _noise_jpeg(side: int = 1400) -> bytes:
    out = io.BytesIO()
    Image.frombytes("RGB", (side, side), os.urandom(side * side * 3)).save(out, "JPEG", quality=95)
    return out.getvalue()


def _safe_copy_form(client, report_id: uuid.UUID) -> tuple[str, str]:
    page = client.get(f"/reports/{report_id}").get_data(as_text=True)
    [form] = re.findall(
        rf'action="(/reports/{report_id}/attachments/[0-9a-f-]{{36}}/safe-copy)"', page
    )
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    return form, token


def test_a_file_altered_in_the_database_gets_the_integrity_page_at_once(
    reporter_app, clients, database_url
):
    """One chunk of a stored file altered (the attachment's own check, G-integrity): its
    download says "integrity check failed" (409). Its safe copy instead feeds the render
    child until the altered chunk, where the feeding thread dies without closing the
    child's stdin: the child waits for the rest until the watchdog kills it, the file is
    remembered as a "bomb" (too costly) and the investigator waits for the watchdog
    (3 x CPU + 5 s: over three minutes with the defaults)."""
    marker = f"Diubah {uuid.uuid4().hex[:8]}"
    receipt(
        report_with_files(
            reporter_app.test_client(),
            [("foto.jpg", _noise_jpeg(), "image/jpeg")],
            title=marker,
        )
    )
    investigator = clients["pemeriksa1"]
    report_id = report_id_of(database_url, marker, investigator)
    form, token = _safe_copy_form(investigator, report_id)
    attachment_id = uuid.UUID(form.split("/")[-2])
    with database(database_url) as session:
        blob_id = session.get_one(Attachment, attachment_id).blob_id
        chunks = list(
            session.scalars(
                select(BlobChunk).where(BlobChunk.blob_id == blob_id).order_by(BlobChunk.seq)
            )
        )
        assert len(chunks) >= 3, len(chunks)
        altered = chunks[len(chunks) // 2]
        data = bytearray(altered.data)
        data[len(data) // 2] ^= 0x01
        altered.data = bytes(data)
        session.commit()
    started = time.monotonic()
    response = investigator.post(form, data={"csrf_token": token})
    took = time.monotonic() - started
    assert response.status_code == 409, (response.status_code, took)
    assert took < 5, took
    with database(database_url) as session:
        row = session.get(SafeCopy, attachment_id)
    assert row is None  # an altered file is not remembered as a "bomb"
