"""Files to the reporter (issue 17 item 5): an investigator attaches files to a message;
they are encrypted as they arrive through the reporter uploads' path, cleaned of image
metadata, refused over the same limits with the typed text kept, audited; the reporter
downloads exactly the bytes, as a download that cannot render in the portal's origin,
from their own mailbox only, and leaves no trace of having downloaded (G2)."""

import html
import io
import json
import os
import re
import uuid

import pytest
from sqlalchemy import func, select

from sipadu.persistence.models import Attachment, AuditEvent, Message
from tests.chromium import chromium, loaded_html, reporter_in_process
from tests.helpers import (
    config_env,
    csrf,
    database,
    every_database_value,
    init_demo,
    jpeg_with_exif,
    report_id_of,
    signed_in,
    submit,
    unlinked_blobs,
)
from tests.helpers import login as mailbox_login

MIB = 1024 * 1024
FILE_LINK = re.compile(r'href="(/mailbox/attachments/[0-9a-f-]{36})"[^>]*>([^<]+)<')


@pytest.fixture(scope="module")
def env(instance_path, database_url, redis_url) -> dict:
    """Small limits, so a refusal costs little: the staff form takes the reporter's."""
    return config_env(
        instance_path,
        database_url,
        redis_url,
        SIPADU_MAX_FILE_MIB="1",
        SIPADU_MAX_REQUEST_MIB="3",
        SIPADU_MAX_FILES="2",
    )


@pytest.fixture(scope="module")
def investigator(staff_app, env):
    return signed_in(staff_app, init_demo(env)["pemeriksa1"])


def new_case(reporter_app, database_url, investigator) -> tuple[uuid.UUID, str, str]:
    """A fresh report: its id, code and passphrase."""
    marker = f"Berkas ke pelapor {uuid.uuid4().hex[:8]}"
    code, passphrase, _ = submit(reporter_app.test_client(), title=marker)
    return report_id_of(database_url, marker, investigator), code, passphrase


def send(investigator, report_id: uuid.UUID, body: str, files: list[tuple[str, bytes, str]]):
    """The investigator's reply form, as a browser sends it: text first, files last."""
    data: dict = {"csrf_token": csrf(investigator, "/reports"), "body": body}
    data["attachments"] = [(io.BytesIO(content), name, kind) for name, content, kind in files]
    return investigator.post(
        f"/reports/{report_id}/messages", data=data, content_type="multipart/form-data"
    )


def mailbox(reporter_app, code: str, passphrase: str):
    client = reporter_app.test_client()
    assert mailbox_login(client, code, passphrase).status_code == 303
    return client


def fetch(client, href: str):
    """GET a file, read it whole, and close the response as a WSGI server would."""
    response = client.get(href)
    try:
        return response.status_code, dict(response.headers), response.get_data()
    finally:
        response.close()


def test_a_file_sent_with_a_message_reaches_the_reporter_byte_for_byte(
    reporter_app, investigator, database_url
):
    report_id, code, passphrase = new_case(reporter_app, database_url, investigator)
    content = os.urandom(700 * 1024)  # several stream chunks
    page = b"<html><script>alert(document.cookie)</script></html>"
    body = f"Mohon periksa lampiran {uuid.uuid4().hex[:6]}"
    sent = send(
        investigator,
        report_id,
        body,
        [
            ("../surat balasan; ñ.pdf", content, "application/pdf"),
            ("halaman.html", page, "text/html"),
        ],
    )
    assert sent.status_code == 303, sent.get_data(as_text=True)[:500]
    with database(database_url) as session:
        staff_files = session.scalars(
            select(Attachment).where(Attachment.report_id == report_id)
        ).all()
        assert {f.uploader for f in staff_files} == {"staff"} and len(staff_files) == 2
        message = session.get(Message, staff_files[0].message_id)
        assert message is not None and message.author == "staff"
        sends = session.scalars(
            select(AuditEvent).where(
                AuditEvent.report_id == report_id, AuditEvent.action == "message.send"
            )
        ).all()
        assert [json.loads(e.detail) for e in sends] == [{"files": 2}]
    # The investigator sees them under the message too.
    case = investigator.get(f"/reports/{report_id}").get_data(as_text=True)
    assert f"/reports/{report_id}/attachments/" in case

    client = mailbox(reporter_app, code, passphrase)
    box = client.get("/mailbox").get_data(as_text=True)
    thread = box[box.index(html.escape(body)) :]  # the files follow the staff message
    links = {html.unescape(name): href for href, name in FILE_LINK.findall(thread)}
    assert set(links) == {"surat balasan; ñ.pdf", "halaman.html"}
    status, headers, data = fetch(client, links["surat balasan; ñ.pdf"])
    assert status == 200 and data == content
    assert headers["Content-Type"] == "application/octet-stream"
    assert headers["X-Content-Type-Options"] == "nosniff"
    disposition = headers["Content-Disposition"]
    assert disposition.startswith('attachment; filename="surat balasan_ _.pdf";')
    assert "\r" not in disposition and "\n" not in disposition and "/" not in disposition
    # A page sent by staff is never a page in the reporter portal's origin.
    status, headers, data = fetch(client, links["halaman.html"])
    assert status == 200 and data == page
    assert headers["Content-Type"] == "application/octet-stream"
    assert headers["Content-Disposition"].startswith("attachment;")


def test_a_picture_sent_to_the_reporter_loses_its_metadata(
    reporter_app, investigator, database_url
):
    """A photo an investigator sends would tell the reporter where and when it was taken
    and with which camera: it is cleaned as the reporter's own pictures are."""
    from PIL import Image

    report_id, code, passphrase = new_case(reporter_app, database_url, investigator)
    tag = uuid.uuid4().hex
    jpeg = jpeg_with_exif(tag)
    assert tag.encode() in jpeg
    sent = send(investigator, report_id, "Foto lokasi", [("lokasi.jpg", jpeg, "image/jpeg")])
    assert sent.status_code == 303
    client = mailbox(reporter_app, code, passphrase)
    (href, _name), *_ = FILE_LINK.findall(client.get("/mailbox").get_data(as_text=True))
    status, _headers, data = fetch(client, href)
    assert status == 200 and tag.encode() not in data
    image = Image.open(io.BytesIO(data))
    assert image.size == (64, 48) and not image.getexif() and "comment" not in image.info


def test_another_mailbox_cannot_fetch_it(reporter_app, investigator, database_url):
    """A reporter who guesses (or was given) the id of a file of another report gets the
    same answer as for an id that does not exist."""
    report_id, code, passphrase = new_case(reporter_app, database_url, investigator)
    sent = send(investigator, report_id, "Lampiran", [("a.txt", b"rahasia", "text/plain")])
    assert sent.status_code == 303
    owner = mailbox(reporter_app, code, passphrase)
    (href, _name), *_ = FILE_LINK.findall(owner.get("/mailbox").get_data(as_text=True))
    assert fetch(owner, href)[2] == b"rahasia"

    _other_id, other_code, other_passphrase = new_case(reporter_app, database_url, investigator)
    stranger = mailbox(reporter_app, other_code, other_passphrase)
    status, headers, data = fetch(stranger, href)
    missing = fetch(stranger, f"/mailbox/attachments/{uuid.uuid4()}")
    assert status == missing[0] == 404
    assert data == missing[2] and b"rahasia" not in data
    assert headers["Content-Type"] == missing[1]["Content-Type"]
    signed_out = reporter_app.test_client().get(href)
    assert signed_out.status_code == 303 and "/mailbox/login" in signed_out.headers["Location"]


@pytest.mark.parametrize(
    "files, words",
    [
        ([("besar.bin", b"x" * (MIB + 1), "application/octet-stream")], "lebih besar dari 1 MB"),
        ([(f"{n}.txt", b"isi", "text/plain") for n in range(3)], "paling banyak memuat 2"),
    ],
    ids=["too-large", "too-many"],
)
def test_a_refused_file_keeps_the_typed_message(
    reporter_app, investigator, database_url, files, words
):
    report_id, code, passphrase = new_case(reporter_app, database_url, investigator)
    typed = f"Pesan yang <panjang> & penting {uuid.uuid4().hex[:6]}"
    refused = send(investigator, report_id, typed, files)
    page = refused.get_data(as_text=True)
    assert refused.status_code == 413
    assert html.escape(typed, quote=False) in page  # in the reply box, ready to send again
    assert words in page and "dipilih lagi" in page
    with database(database_url) as session:
        assert not session.scalar(
            select(func.count()).select_from(Message).where(Message.report_id == report_id)
        )
        assert not session.scalar(
            select(func.count()).select_from(Attachment).where(Attachment.report_id == report_id)
        )
    assert unlinked_blobs(database_url) == 0  # nothing half-stored remains
    box = mailbox(reporter_app, code, passphrase).get("/mailbox").get_data(as_text=True)
    assert typed not in html.unescape(box)


def test_no_file_is_read_for_a_report_one_does_not_hold(
    reporter_app, investigator, database_url, monkeypatch
):
    """Nothing is stored before the request is authorized: for a report the investigator
    does not hold (here: none with that id) the answer is a 404 and no file is begun."""
    from sipadu.web import uploads

    begun = []
    real = uploads._Evidence.new_upload

    def counted(self):
        begun.append(1)
        return real(self)

    monkeypatch.setattr(uploads._Evidence, "new_upload", counted)
    files = [("a.txt", b"isi", "text/plain")]
    refused = send(investigator, uuid.uuid4(), "Bukan kasus saya", files)
    assert refused.status_code == 404 and begun == []
    report_id, _code, _passphrase = new_case(reporter_app, database_url, investigator)
    assert send(investigator, report_id, "Kasus saya", files).status_code == 303
    assert begun == [1]  # the count sees a file that is read


def test_a_reporter_download_leaves_nothing_at_rest(reporter_app, investigator, database_url):
    """G2: no time of a reporter's download is stored, nor that it happened."""
    report_id, code, passphrase = new_case(reporter_app, database_url, investigator)
    sent = send(investigator, report_id, "Lampiran", [("b.txt", b"isi b", "text/plain")])
    assert sent.status_code == 303
    client = mailbox(reporter_app, code, passphrase)
    (href, _name), *_ = FILE_LINK.findall(client.get("/mailbox").get_data(as_text=True))
    before = sorted(every_database_value(database_url))
    assert fetch(client, href)[2] == b"isi b"
    assert sorted(every_database_value(database_url)) == before


def test_the_reporter_downloads_it_in_a_browser_without_javascript(
    reporter_app, investigator, database_url, config
):
    report_id, code, passphrase = new_case(reporter_app, database_url, investigator)
    content = os.urandom(200 * 1024)
    sent = send(
        investigator, report_id, "Salinan surat", [("surat.pdf", content, "application/pdf")]
    )
    assert sent.status_code == 303
    with reporter_in_process(config) as base, chromium() as browser:
        page = browser.new_context(java_script_enabled=False).new_page()
        page.goto(base + "/mailbox/login")
        page.fill("#code", code)
        page.fill("#passphrase", passphrase)
        page.click("button[type=submit]")
        assert len(loaded_html(page).encode()) <= 100 * 1024
        with page.expect_download() as started:
            page.click("article.message.staff >> text=surat.pdf")
        download = started.value
        assert download.suggested_filename == "surat.pdf"
        with open(download.path(), "rb") as received:
            assert received.read() == content
