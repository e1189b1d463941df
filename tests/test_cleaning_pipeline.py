"""Every evidence file is cleaned by its content, whatever its name, declared type or size
(issue 21, part A3: sipadu.evidence.cleaning and sipadu.web.uploads): streamed and
encrypted as it arrives, read back from its staged blob into the confined child, the
child's output stored in its place; a file that cannot be cleaned is kept as sent and
said so, never refused. Through the real reporter portal, real database, real children."""

import html
import io
import json
import os
import re
import subprocess
import time
import uuid
import zipfile
from types import SimpleNamespace

import pytest
from flask import jsonify, request

from sipadu import create_app
from sipadu.evidence import storage
from sipadu.evidence.outcome import Cleaned, KeptAsSent, KeptReason, Kind
from sipadu.settings.config import load_config
from sipadu.web.context import dispose
from sipadu.web.formdata import UploadRefused, receives_files
from sipadu.web.uploads import evidence_part, spare, uploaded_files
from tests.helpers import (
    jpeg_with_exif,
    report_id_of,
    report_with_files,
    unlinked_blobs,
)

MIB = 1024 * 1024
OCTETS = "application/octet-stream"


def exif_of(data: bytes, tmp_path) -> dict:
    """What exiftool finds in ``data`` (numbers as numbers)."""
    path = tmp_path / f"{uuid.uuid4().hex}.bin"
    path.write_bytes(data)
    out = subprocess.run(
        ["exiftool", "-j", "-n", str(path)], capture_output=True, check=True, text=True
    ).stdout
    return json.loads(out)[0]


def gps_fields(found: dict) -> list[str]:
    return [name for name in found if name.startswith("GPS")]


def big_noisy_jpeg(tag: str) -> bytes:
    """A photo-like JPEG of about 22 MiB (5.4 megapixels of noise at quality 100) with
    a GPS position and an artist: over main's 20 MiB cleaning limit."""
    from PIL import Image

    exif = Image.Exif()
    exif[0x013B] = f"EXIF-ARTIST-{tag}"
    exif[0x8825] = {1: "S", 2: (6.0, 10.0, 30.0), 3: "E", 4: (106.0, 49.0, 12.0)}
    width, height = 2700, 2000
    image = Image.frombytes("RGB", (width, height), os.urandom(width * height * 3))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=100, subsampling=0, exif=exif.tobytes())
    return out.getvalue()


def a_zip(tag: str) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("catatan.txt", f"isi {tag}")
    return out.getvalue()


def unreadable_jpeg() -> bytes:
    """A JPEG signature (and a JFIF segment), then garbage."""
    return b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + (
        b"\x17\x2a" * 5000
    )


def investigator_files(clients, database_url, marker: str) -> dict[str, bytes]:
    """The files of the report titled ``marker``, as the investigator downloads them."""
    investigator = clients["pemeriksa1"]
    report_id = report_id_of(database_url, marker, investigator)
    page = investigator.get(f"/reports/{report_id}").get_data(as_text=True)
    links = re.findall(rf'href="(/reports/{report_id}/attachments/[0-9a-f-]{{36}})">([^<]+)<', page)
    files = {}
    for link, name in links:
        response = investigator.get(link)
        try:
            assert response.status_code == 200
            files[name] = response.get_data()
        finally:
            response.close()
    return files


def test_a_photo_sent_without_an_image_type_or_name_is_cleaned(
    reporter_app, clients, database_url, tmp_path
):
    """Main cleaned only what was declared (or named) an image: a JPEG called "bukti",
    sent as application/octet-stream, reached the investigator with its GPS."""
    tag = uuid.uuid4().hex
    photo = jpeg_with_exif(tag)
    assert gps_fields(exif_of(photo, tmp_path))  # the position is really there
    marker = f"Tanpa jenis {tag[:8]}"
    response = report_with_files(
        reporter_app.test_client(), [("bukti", photo, OCTETS)], title=marker
    )
    assert response.status_code == 200
    received = investigator_files(clients, database_url, marker)["bukti"]
    assert received[:3] == b"\xff\xd8\xff" and received != photo
    found = exif_of(received, tmp_path)
    assert not gps_fields(found) and "Artist" not in found, found
    assert tag.encode() not in received


def test_a_photo_over_20_mib_is_cleaned(reporter_app, clients, database_url, tmp_path):
    """Main stored any image over SIPADU_IMAGE_STRIP_MAX_MIB (20) as sent, GPS included:
    it was held in memory to be cleaned. Now it is streamed to the child from its staged
    blob, never held whole by the server."""
    tag = uuid.uuid4().hex
    photo = big_noisy_jpeg(tag)
    assert len(photo) > 21 * MIB and gps_fields(exif_of(photo, tmp_path))
    marker = f"Besar {tag[:8]}"
    started = time.monotonic()
    response = report_with_files(
        reporter_app.test_client(), [("besar.jpg", photo, "image/jpeg")], title=marker
    )
    assert response.status_code == 200
    assert time.monotonic() - started < 20
    received = investigator_files(clients, database_url, marker)["besar.jpg"]
    found = exif_of(received, tmp_path)
    assert found["ImageWidth"] == 2700 and found["ImageHeight"] == 2000
    assert not gps_fields(found) and "Artist" not in found
    assert tag.encode() not in received
    assert unlinked_blobs(database_url) == 0  # the original is gone


def test_files_that_cannot_be_cleaned_are_kept_as_sent_not_refused(
    reporter_app, clients, database_url
):
    """An unreadable "JPEG" (main: refused, 400) and a ZIP (not a type SIPADU cleans)
    are stored byte for byte beside a cleaned photo."""
    tag = uuid.uuid4().hex
    broken, archive = unreadable_jpeg(), a_zip(tag)
    marker = f"Apa adanya {tag[:8]}"
    response = report_with_files(
        reporter_app.test_client(),
        [
            ("rusak.jpg", broken, "image/jpeg"),
            ("arsip.zip", archive, "application/zip"),
            ("foto.jpg", jpeg_with_exif(tag), "image/jpeg"),
        ],
        title=marker,
        send_anyway="1",  # the unreadable one is warned about first (test_identifying_warning)
    )
    assert response.status_code == 200
    files = investigator_files(clients, database_url, marker)
    assert files["rusak.jpg"] == broken and files["arsip.zip"] == archive
    assert tag.encode() not in files["foto.jpg"]
    assert unlinked_blobs(database_url) == 0


W_MAIN = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
RELATIONSHIPS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PACKAGE = "http://schemas.openxmlformats.org/package/2006"
SMALL_DOCX = {
    "[Content_Types].xml": f'<?xml version="1.0"?><Types xmlns="{PACKAGE}/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
    'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-'
    'officedocument.wordprocessingml.document.main+xml"/></Types>',
    "_rels/.rels": f'<?xml version="1.0"?><Relationships xmlns="{PACKAGE}/relationships">'
    f'<Relationship Id="rId1" Type="{RELATIONSHIPS}/officeDocument" '
    'Target="word/document.xml"/></Relationships>',
    "word/document.xml": f'<?xml version="1.0"?><w:document xmlns:w="{W_MAIN}"><w:body>'
    "<w:p><w:r><w:t>Isi laporan</w:t></w:r></w:p></w:body></w:document>",
}


def a_large_zip(tag: str, document: bool) -> bytes:
    """A ZIP whose first member (15 KB) fills the head the server keeps: a Word
    document (``[Content_Types].xml`` and ``word/`` after it, the author ``tag``) or a
    plain archive with a ``word/`` folder and a note naming ``tag``."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("media.bin", os.urandom(15_000), zipfile.ZIP_STORED)
        if document:
            for name, text in SMALL_DOCX.items():
                archive.writestr(name, text)
            archive.writestr(
                "docProps/core.xml",
                f'<?xml version="1.0"?><cp:coreProperties xmlns:cp="{PACKAGE}/metadata/'
                'core-properties" xmlns:dc="http://purl.org/dc/elements/1.1/">'
                f"<dc:creator>{tag}</dc:creator></cp:coreProperties>",
            )
        else:
            archive.writestr("word/catatan.txt", f"dibuat oleh {tag}")
    return out.getvalue()


def test_a_zip_told_by_its_directory_is_cleaned_or_said_to_be_an_archive(
    reporter_app, clients, database_url
):
    """Two ZIPs whose heads cannot tell them apart (kinds.detect: Kind.ZIP): the Word
    document is cleaned (its author gone, its name kept), the plain archive is stored
    byte for byte and its notice says archives are stored as sent."""
    tag = f"NAMA{uuid.uuid4().hex[:10].upper()}"
    document, archive = a_large_zip(tag, document=True), a_large_zip(tag, document=False)
    marker = f"Arsip {tag}"
    response = report_with_files(
        reporter_app.test_client(),
        [("laporan.docx", document, OCTETS), ("arsip.zip", archive, OCTETS)],
        title=marker,
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 200, page[:400]
    notices = dict(re.findall(r"<li>\u201c(.+?)\u201d: (.*?)</li>", html.unescape(page)))
    assert "(ZIP)" in notices["arsip.zip"] and "(ZIP)" not in notices["laporan.docx"]
    files = investigator_files(clients, database_url, marker)
    assert files["arsip.zip"] == archive
    with zipfile.ZipFile(io.BytesIO(files["laporan.docx"])) as cleaned:
        assert "word/document.xml" in cleaned.namelist()
        assert not any(tag.encode() in cleaned.read(name) for name in cleaned.namelist())


# --- what a view gets ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def outcomes_app(people, env):
    """The reporter portal with one more route that takes files like the report form
    and answers what :func:`uploaded_files` returned (nothing linked: the teardown
    deletes it all)."""
    app = create_app("reporter", load_config({**env, "SIPADU_IMAGE_MEGAPIXELS_PER_REQUEST": "1"}))
    app.config["TESTING"] = True
    app.config["WTF_CSRF_ENABLED"] = False

    @receives_files("attachments", evidence_part)
    def outcomes():
        field = SimpleNamespace(name="attachments", errors=[])
        try:
            files = uploaded_files(field)
        except UploadRefused as refused:
            return jsonify(refused=refused.reason.value, errors=field.errors), refused.status
        if request.args.get("spare"):
            assert spare(files[1:])  # within the budget for kept files
        return jsonify(
            [
                {
                    "name": file.name,
                    "outcome": type(file.outcome).__name__,
                    "kind": file.outcome.kind,
                    "why": getattr(file.outcome, "why", None),
                    "pixels": getattr(file.outcome, "pixels", None),
                    "size": file.stored.size,
                    "blob": str(file.stored.blob_id),
                }
                for file in files
            ]
        )

    app.add_url_rule("/test-outcomes", "test_outcomes", outcomes, methods=["POST"])
    yield app
    dispose(app)


def post_files(app, files, path="/test-outcomes"):
    return app.test_client().post(
        path,
        data={"attachments": [(io.BytesIO(data), name, kind) for name, data, kind in files]},
        content_type="multipart/form-data",
    )


def test_uploaded_files_returns_the_outcome_of_every_file(outcomes_app, database_url):
    tag = uuid.uuid4().hex
    photo, archive, broken = jpeg_with_exif(tag), a_zip(tag), unreadable_jpeg()
    response = post_files(
        outcomes_app,
        [
            ("bukti", photo, OCTETS),
            ("rusak.jpg", broken, "image/jpeg"),
            ("arsip.zip", archive, "application/zip"),
            ("kosong.txt", b"", "text/plain"),
        ],
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    got = response.get_json()
    assert [(f["name"], f["outcome"], f["kind"], f["why"]) for f in got] == [
        ("bukti", Cleaned.__name__, Kind.JPEG.value, None),
        ("rusak.jpg", KeptAsSent.__name__, Kind.JPEG.value, KeptReason.UNREADABLE.value),
        ("arsip.zip", KeptAsSent.__name__, Kind.ZIP.value, KeptReason.UNKNOWN_TYPE.value),
        ("kosong.txt", KeptAsSent.__name__, None, KeptReason.UNKNOWN_TYPE.value),
    ]
    assert got[0]["pixels"] == 64 * 48 and got[0]["size"] != len(photo)  # the clean copy
    assert [f["size"] for f in got[1:]] == [len(broken), len(archive), 0]  # as sent
    assert unlinked_blobs(database_url) == 0  # not linked: gone with the request


def test_a_request_over_its_pixel_budget_is_refused_and_leaves_no_staged_blob(
    outcomes_app, database_url
):
    """One megapixel per request here: a small photo is cleaned, a 1200 x 1000 one is
    refused from its header; the request keeps nothing, whatever was staged or cleaned
    before the refusal."""
    response = post_files(
        outcomes_app,
        [
            ("kecil.jpg", jpeg_with_exif("a"), "image/jpeg"),
            ("arsip.zip", a_zip("b"), OCTETS),
            ("besar", jpeg_with_exif("c", size=(1200, 1000)), OCTETS),
        ],
    )
    assert response.status_code == 413
    assert response.get_json()["refused"] == "pixel-budget"
    assert "besar" in response.get_json()["errors"][0]
    assert unlinked_blobs(database_url) == 0


def test_spared_blobs_outlive_the_request_and_no_other(outcomes_app, database_url):
    """uploads.spare (issue 21, part D: files carried to the next request of a warning
    round-trip): the teardown keeps the spared staged blobs, deletes the rest."""
    response = post_files(
        outcomes_app,
        [
            ("dibuang.jpg", jpeg_with_exif("a"), "image/jpeg"),
            ("foto.jpg", jpeg_with_exif("b"), "image/jpeg"),
            ("arsip.zip", a_zip("c"), OCTETS),
        ],
        path="/test-outcomes?spare=1",
    )
    assert response.status_code == 200
    kept = [uuid.UUID(f["blob"]) for f in response.get_json()[1:]]
    try:
        assert unlinked_blobs(database_url) == 2  # the clean copy and the ZIP, nothing else
    finally:
        storage.discard(outcomes_app.extensions["sipadu.write_sessionmaker"], kept)
    assert unlinked_blobs(database_url) == 0


def test_a_heif_cleaned_to_a_jpeg_is_named_and_typed_as_one(env, database_url):
    """A HEIF too large to re-encode as HEIF within the child's memory comes back a JPEG
    (sipadu.evidence.imagestrip.HEIF_AS_JPEG): before, it kept its ".heic" name and
    type, and an investigator's PC opened a JPEG as a HEIC (or not at all)."""
    import pillow_heif
    from PIL import Image

    app = create_app("reporter", load_config({**env, "SIPADU_IMAGE_CLEANER_MEMORY_MIB": "256"}))
    app.config["TESTING"] = True
    app.config["WTF_CSRF_ENABLED"] = False

    @receives_files("attachments", evidence_part)
    def names():
        files = uploaded_files(SimpleNamespace(name="attachments", errors=[]))
        return jsonify([[f.name, f.content_type, f.outcome.kind] for f in files])

    app.add_url_rule("/test-names", "test_names", names, methods=["POST"])
    out = io.BytesIO()
    pillow_heif.from_pillow(Image.new("RGB", (2400, 1800), (90, 30, 200))).save(
        out, quality=50, enc_params={"preset": "ultrafast"}
    )
    try:
        response = post_files(app, [("foto.HEIC", out.getvalue(), "image/heic")], "/test-names")
    finally:
        dispose(app)
    assert response.get_json() == [["foto.jpg", "image/jpeg", Kind.JPEG.value]]
