"""The printable case file (issue 17, item 6): fields, messages, files with the SHA-256
of their plaintext, status history, notes only when asked, and the SHA-256 of the
manifest an export of the same case state holds; recorded as a plaintext read; laid out
for A4 paper."""

import hashlib
import html
import io
import json
import re
import uuid
import zipfile
from pathlib import Path

import pytest
from sqlalchemy import select

from sipadu.persistence.models import AuditEvent
from tests.chromium import chromium
from tests.helpers import (
    account_of,
    database,
    post,
    receipt,
    report_id_of,
    report_with_files,
)

FILES = [
    ("bukti-transfer.txt", b"transfer Rp 5.000.000 " * 3000, "text/plain"),
    ("foto.bin", bytes(range(256)) * 700, "application/octet-stream"),
]


@pytest.fixture(scope="module")
def case(reporter_app, clients, database_url) -> dict:
    """A report with two files, a reply, a note and a status change."""
    marker = f"Berkas {uuid.uuid4().hex[:8]}"
    receipt(
        report_with_files(
            reporter_app.test_client(), FILES, title=marker, what="Uang pelicin di loket 3"
        )
    )
    investigator = clients["pemeriksa1"]
    report_id = report_id_of(database_url, marker, investigator)
    page = f"/reports/{report_id}"
    reply = f"Kami menelaah laporan ini {uuid.uuid4().hex[:6]}"
    note = f"Catatan rahasia {uuid.uuid4().hex[:6]}"
    assert post(investigator, f"{page}/messages", page, body=reply).status_code == 303
    assert post(investigator, f"{page}/notes", page, body=note).status_code == 303
    changed = post(investigator, f"{page}/status", page, status="in_review", reason="")
    assert changed.status_code == 303
    return {"id": report_id, "marker": marker, "reply": reply, "note": note}


def _actions(database_url: str, report_id: uuid.UUID) -> list[AuditEvent]:
    with database(database_url) as session:
        return list(
            session.scalars(
                select(AuditEvent).where(AuditEvent.report_id == report_id).order_by(AuditEvent.seq)
            )
        )


def test_the_case_file_holds_the_report_its_files_and_its_history(clients, case, database_url):
    investigator = clients["pemeriksa1"]
    report_page = investigator.get(f"/reports/{case['id']}?lang=en").get_data(as_text=True)
    assert f'action="/reports/{case["id"]}/print?lang=en"' in report_page
    assert '<input type="hidden" name="lang" value="en">' in report_page
    before = len(_actions(database_url, case["id"]))
    response = investigator.get(f"/reports/{case['id']}/print?lang=en")
    assert response.status_code == 200
    page = html.unescape(response.get_data(as_text=True))
    assert case["marker"] in page and "Uang pelicin di loket 3" in page
    assert case["reply"] in page
    assert case["note"] not in page  # notes only when asked
    for name, content, _kind in FILES:
        assert name in page and hashlib.sha256(content).hexdigest() in page
    # The history: received, then the change to "in review" by the investigator.
    history = page.split("Status history", 1)[1]
    assert (
        "Received" in history and "pemeriksa1" in history and "Received → Being reviewed" in history
    )
    assert "(acknowledged)" in history
    # Recorded as a plaintext read, once, before the page left.
    new = _actions(database_url, case["id"])[before:]
    assert [e.action for e in new] == ["report.print"]
    assert json.loads(new[0].detail) == {"notes_included": False, "identity_included": False}

    with_notes = investigator.get(f"/reports/{case['id']}/print?notes=y").get_data(as_text=True)
    assert case["note"] in html.unescape(with_notes)
    assert json.loads(_actions(database_url, case["id"])[-1].detail)["notes_included"] is True


def test_a_web_report_says_it_came_through_the_portal(clients, case):
    """How a report came in (issue 18), on the case page and in the case file: a web
    report names the reporter portal and no operator."""
    investigator = clients["pemeriksa1"]
    for path in (f"/reports/{case['id']}", f"/reports/{case['id']}/print"):
        page = investigator.get(path).get_data(as_text=True)
        came_in = re.search(r'<dd id="intake">(.*?)</dd>', page, re.S).group(1)
        assert came_in.strip() in ("On the reporter portal", "Lewat portal pelapor"), came_in


def test_the_printed_manifest_hash_is_the_exports(clients, case, tmp_path):
    """Paper and export are tied: the hash printed is the SHA-256 of the export's
    ``manifest.json``, whether notes are printed or not, encrypted or not."""
    import pyrage

    investigator = clients["pemeriksa1"]
    printed = {
        re.search(
            r'id="manifest-sha256">([0-9a-f]{64})<', investigator.get(path).get_data(True)
        ).group(1)
        for path in (f"/reports/{case['id']}/print", f"/reports/{case['id']}/print?notes=y")
    }
    assert len(printed) == 1
    plain = investigator.get(f"/reports/{case['id']}/export?plaintext=y&confirm=y").get_data()
    manifest = zipfile.ZipFile(io.BytesIO(plain)).read("manifest.json")
    assert printed == {hashlib.sha256(manifest).hexdigest()}
    identity = pyrage.x25519.Identity.generate()
    sealed = investigator.get(f"/reports/{case['id']}/export?recipient={identity.to_public()}")
    opened = zipfile.ZipFile(io.BytesIO(pyrage.decrypt(sealed.get_data(), [identity])))
    assert printed == {hashlib.sha256(opened.read("manifest.json")).hexdigest()}

    # A new message changes the case, so the hash: paper made before no longer matches.
    page = f"/reports/{case['id']}"
    assert post(investigator, f"{page}/messages", page, body="Tindak lanjut").status_code == 303
    later = investigator.get(f"/reports/{case['id']}/print").get_data(as_text=True)
    assert re.search(r'id="manifest-sha256">([0-9a-f]{64})<', later).group(1) not in printed


def test_the_identity_is_printed_exactly_when_the_export_holds_it(
    reporter_app, clients, database_url
):
    """A hash over a name left off the paper could be checked against guessed names: the
    case file holds the identity when (and only when) the same person's export does, and
    records reading it."""
    marker = f"Berkas identitas {uuid.uuid4().hex[:8]}"
    who = f"Sri Wahyuni {uuid.uuid4().hex[:6]}"
    receipt(report_with_files(reporter_app.test_client(), FILES[:1], title=marker, identity=who))
    investigator, custodian = clients["pemeriksa1"], clients["inspektur"]
    report_id = report_id_of(database_url, marker, investigator)
    page = f"/reports/{report_id}"
    printed = investigator.get(f"{page}/print").get_data(as_text=True)
    assert who not in printed  # not approved: neither on paper nor in an export
    assert post(investigator, f"{page}/identity-requests", page, reason="Saksi").status_code == 303
    waiting = custodian.get("/identity-requests").get_data(as_text=True)
    request_id = re.findall(r'id="request-([0-9a-f-]{36})"', waiting)[-1]
    approve = f"/identity-requests/{request_id}/approve"
    assert post(custodian, approve, "/identity-requests", confirm="y").status_code == 303
    before = len(_actions(database_url, report_id))
    printed = investigator.get(f"{page}/print").get_data(as_text=True)
    assert who in printed
    new = _actions(database_url, report_id)[before:]
    assert [e.action for e in new] == ["report.print", "identity.read"]
    assert json.loads(new[1].detail) == {"via": "print"}
    export = investigator.get(f"{page}/export?plaintext=y&confirm=y").get_data()
    archive = zipfile.ZipFile(io.BytesIO(export))
    assert json.loads(archive.read("report.json"))["identity"] == who
    manifest = hashlib.sha256(archive.read("manifest.json")).hexdigest()
    assert f'id="manifest-sha256">{manifest}<' in printed


def test_without_a_grant_the_case_file_is_not_found_and_nothing_is_read(
    clients, case, database_url
):
    page = f"/reports/{case['id']}"
    colleague = account_of(database_url, "pemeriksa2").id  # routed too: revoked here
    assert (
        post(
            clients["pemeriksa1"], f"{page}/grants/{colleague}/revoke", page, confirm="y"
        ).status_code
        == 303
    )
    before = len(_actions(database_url, case["id"]))
    for name in ("pemeriksa2", "admin", "auditor", "inspektur"):
        response = clients[name].get(f"/reports/{case['id']}/print")
        assert response.status_code in (403, 404), name
        assert case["marker"] not in response.get_data(as_text=True)
    assert len(_actions(database_url, case["id"])) == before


STYLESHEET = Path(__file__).resolve().parent.parent / "sipadu" / "static" / "sipadu.css"
A4_CONTENT_WIDTH = 680  # CSS px: 210 mm less the 15 mm margins, at 96 px per inch


def test_the_case_file_prints_on_a4_without_the_portal_around_it(clients, case):
    """In print media, at the width of an A4 page's text: no menu, language links or
    buttons; nothing wider than the page (the long hashes wrap); every part there."""
    page_html = clients["pemeriksa1"].get(f"/reports/{case['id']}/print").get_data(as_text=True)
    inline = page_html.replace(
        '<link rel="stylesheet" href="/static/sipadu.css">',
        f"<style>{STYLESHEET.read_text()}</style>",
    )
    assert inline != page_html
    with chromium() as browser:
        page = browser.new_page(viewport={"width": A4_CONTENT_WIDTH, "height": 1000})
        page.set_content(inline)
        page.emulate_media(media="print")
        assert not page.is_visible(".top") and not page.is_visible(".no-print")
        assert page.is_visible("#manifest-sha256")
        widest = page.evaluate("document.documentElement.scrollWidth")
        assert widest <= A4_CONTENT_WIDTH, widest
