"""Investigator casework: a report submitted on the reporter portal is routed, read,
answered and worked; access follows grants; the identity waits for a custodian; every
step is audited exactly once; exports are streamed, signed and encrypted."""

import hashlib
import html
import io
import json
import re
import subprocess
import uuid
import zipfile
from collections import Counter
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select, text

from sipadu.accountability import audit
from sipadu.crypto import PublicKey, SecretRecord, signing_public_key, verify_secret
from sipadu.crypto.binding import bind
from sipadu.persistence.models import (
    Attachment,
    AuditEvent,
    IdentityRequest,
    IdentityRequestState,
    Message,
    Report,
    ReportGrant,
    ReportKey,
    StaffAccount,
)
from sipadu.services import key_ring, reports
from sipadu.services.staff import password_bytes, unlock
from tests.helpers import (
    Person,
    account_of,
    csrf,
    database,
    form_tokens,
    invoke,
    post,
    receipt,
    report_id_of,
    report_with_files,
    sample_path,
    signed_in,
    submit,
)
from tests.helpers import login as mailbox_login


def actions(database_url: str, report_id: uuid.UUID | None = None) -> list[AuditEvent]:
    with database(database_url) as session:
        query = select(AuditEvent).order_by(AuditEvent.seq)
        if report_id is not None:
            query = query.where(AuditEvent.report_id == report_id)
        return list(session.scalars(query))


def test_a_report_is_routed_read_answered_and_the_answer_reaches_the_mailbox(
    reporter_app, clients, database_url
):
    marker = f"Pungli izin {uuid.uuid4().hex[:8]}"
    code, passphrase, _ = submit(
        reporter_app.test_client(), title=marker, what="Diminta uang", identity="Budi, 0812"
    )
    investigator = clients["pemeriksa1"]
    report_id = report_id_of(database_url, marker, investigator)
    page = investigator.get(f"/reports/{report_id}").get_data(as_text=True)
    assert "Diminta uang" in page and marker in page
    assert "Budi, 0812" not in page  # the identity waits for a custodian
    # The reply's files are cleaned as the reporter's are, and the help says so.
    assert "dihapus dari gambar, PDF dan dokumen perkantoran, audio dan video" in page

    reply = f"Terima kasih, kami menelaah {uuid.uuid4().hex[:6]}"
    response = post(
        investigator, f"/reports/{report_id}/messages", f"/reports/{report_id}", body=reply
    )
    assert response.status_code == 303
    note = f"Catatan internal {uuid.uuid4().hex[:6]}"
    assert (
        post(
            investigator, f"/reports/{report_id}/notes", f"/reports/{report_id}", body=note
        ).status_code
        == 303
    )
    response = post(
        investigator,
        f"/reports/{report_id}/status",
        f"/reports/{report_id}",
        status="in_review",
        reason="",
        confirm="y",
    )
    assert response.status_code == 303

    mailbox = reporter_app.test_client()
    assert mailbox_login(mailbox, code, passphrase).status_code == 303
    box = mailbox.get("/mailbox").get_data(as_text=True)
    assert reply in box  # the reporter reads the answer
    assert note not in box  # never the internal note

    # Closing needs a reason, and the reporter reads it.
    refused = post(
        investigator,
        f"/reports/{report_id}/status",
        f"/reports/{report_id}",
        status="investigating",
        reason="",
        confirm="y",
    )
    assert refused.status_code == 303
    missing = post(
        investigator,
        f"/reports/{report_id}/status",
        f"/reports/{report_id}",
        status="closed_substantiated",
        reason="",
        confirm="y",
    )
    assert missing.status_code == 400
    reason = f"Terbukti, sanksi dijatuhkan {uuid.uuid4().hex[:6]}"
    closed = post(
        investigator,
        f"/reports/{report_id}/status",
        f"/reports/{report_id}",
        status="closed_substantiated",
        reason=reason,
        confirm="y",
    )
    assert closed.status_code == 303
    assert reason in mailbox.get("/mailbox").get_data(as_text=True)
    invalid = post(
        investigator,
        f"/reports/{report_id}/status",
        f"/reports/{report_id}",
        status="in_review",
        reason="x",
        confirm="y",
    )
    assert invalid.status_code == 400

    changes = [
        json.loads(e.detail)
        for e in actions(database_url, report_id)
        if e.action == "status.change"
    ]
    assert [(c["from"], c["to"]) for c in changes] == [
        ("received", "in_review"),
        ("in_review", "investigating"),
        ("investigating", "closed_substantiated"),
    ]
    assert changes[0]["acknowledged"] is True and not changes[1]["acknowledged"]


def test_every_casework_action_is_audited_exactly_once(reporter_app, clients, database_url):
    marker = f"Audit sekali {uuid.uuid4().hex[:8]}"
    submit(reporter_app.test_client(), title=marker)
    investigator = clients["pemeriksa1"]
    before = len(actions(database_url))
    report_id = report_id_of(database_url, marker, investigator)  # one list page
    investigator.get(f"/reports/{report_id}")  # one read
    post(investigator, f"/reports/{report_id}/messages", f"/reports/{report_id}", body="Halo")
    post(investigator, f"/reports/{report_id}/notes", f"/reports/{report_id}", body="Catatan")
    post(
        investigator,
        f"/reports/{report_id}/status",
        f"/reports/{report_id}",
        status="in_review",
        reason="",
        confirm="y",
    )
    new = [
        e.action
        for e in actions(database_url)[before:]
        if e.actor == str(account_of(database_url, "pemeriksa1").id)
    ]
    counts = Counter(new)
    # The pages shown after each change (303 → GET) are reads too: 1 + 3 redirects + csrf pages.
    assert counts["report.list"] == 1
    assert counts["message.send"] == 1 and counts["note.add"] == 1 and counts["status.change"] == 1
    reads_requested = 1 + 3  # the GET above, and the page each post's csrf token came from
    assert counts["report.read"] == reads_requested


def test_without_a_grant_a_report_its_files_and_its_export_are_not_found(
    reporter_app, clients, database_url, monkeypatch
):
    marker = f"Rahasia {uuid.uuid4().hex[:8]}"
    response = report_with_files(
        reporter_app.test_client(),
        [("bukti.pdf", b"%PDF-1.4 bukti", "application/pdf")],
        title=marker,
        send_anyway="1",  # not a readable PDF: warned about first
    )
    receipt(response)
    report_id = report_id_of(database_url, marker, clients["pemeriksa1"])
    with database(database_url) as session:
        attachment_id = session.scalar(
            select(Attachment.id).where(Attachment.report_id == report_id)
        )
    assert attachment_id is not None
    # A newcomer investigator, routed nowhere, and every non-investigator role.
    import sys

    import sipadu.crypto.envelope as envelope

    calls = []
    real = envelope.unwrap_key

    def counted(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    # Every module that imported unwrap_key holds its own reference: count them all.
    for name, module in list(sys.modules.items()):
        if name.startswith("sipadu") and getattr(module, "unwrap_key", None) is real:
            monkeypatch.setattr(module, "unwrap_key", counted)
    outsider = clients["pemeriksa2"]
    with database(database_url) as session:
        grant = session.get(ReportGrant, (report_id, account_of(database_url, "pemeriksa2").id))
    assert grant is not None  # demo routes both investigators; take pemeriksa2's away
    post(
        clients["pemeriksa1"],
        f"/reports/{report_id}/grants/{account_of(database_url, 'pemeriksa2').id}/revoke",
        f"/reports/{report_id}",
        confirm="y",
    )
    clients["pemeriksa1"].get(f"/reports/{report_id}")
    assert calls  # the counting works: the holder's page unwrapped keys
    calls.clear()
    for path in (
        f"/reports/{report_id}",
        f"/reports/{report_id}/attachments/{attachment_id}",
        f"/reports/{report_id}/export",
        f"/reports/{report_id}/export?recipient=age1x",
    ):
        assert outsider.get(path).status_code == 404, path
    assert post(outsider, f"/reports/{report_id}/messages", "/", body="x").status_code == 404
    assert calls == []  # nothing was decrypted for them
    for name in ("admin", "auditor", "inspektur"):
        assert clients[name].get(f"/reports/{report_id}").status_code == 403


def test_grant_gives_access_and_revoke_removes_it_for_everything_written_after(
    reporter_app, clients, database_url, people, staff_app
):
    marker = f"Berbagi {uuid.uuid4().hex[:8]}"
    code, passphrase, _ = submit(reporter_app.test_client(), title=marker, category="kkn")
    owner, colleague = clients["pemeriksa1"], clients["pemeriksa2"]
    report_id = report_id_of(database_url, marker, owner)
    colleague_id = account_of(database_url, "pemeriksa2").id
    # Revoke first (demo routing gave it to both), then grant back, then revoke again.
    page = f"/reports/{report_id}"
    assert post(owner, f"{page}/grants/{colleague_id}/revoke", page, confirm="y").status_code == 303
    assert colleague.get(page).status_code == 404
    assert (
        post(owner, f"{page}/grants", page, colleague=str(colleague_id), confirm="y").status_code
        == 303
    )
    assert marker in colleague.get(page).get_data(as_text=True)
    assert post(owner, f"{page}/grants/{colleague_id}/revoke", page, confirm="y").status_code == 303
    assert colleague.get(page).status_code == 404
    revocations = [e for e in actions(database_url, report_id) if e.action == "grant.revoke"]
    assert json.loads(revocations[-1].detail)["new_epoch"] == 2

    # A message written after the revocation is under epoch 2, which the colleague's
    # key never received: even with their private key, nothing opens it.
    later = f"Sesudah pencabutan {uuid.uuid4().hex[:6]}"
    mailbox = reporter_app.test_client()
    assert mailbox_login(mailbox, code, passphrase).status_code == 303
    response = mailbox.post(
        "/mailbox/messages", data={**form_tokens(mailbox, "/mailbox"), "body": later}
    )
    assert response.status_code == 303
    assert later in owner.get(page).get_data(as_text=True)  # the remaining holder reads it
    with database(database_url) as session:
        epochs = set(
            session.scalars(
                select(ReportKey.epoch).where(
                    ReportKey.report_id == report_id, ReportKey.recipient_id == colleague_id
                )
            )
        )
        mailbox_epochs = set(
            session.scalars(
                select(ReportKey.epoch).where(
                    ReportKey.report_id == report_id, ReportKey.recipient_kind == "mailbox"
                )
            )
        )
    assert epochs == set() and {0, 1, 2} <= mailbox_epochs
    with database(database_url) as session:
        keys = _staff_keys(session, people["pemeriksa1"], report_id)
        opened = [
            reports.open_message(keys, m)
            for m in session.scalars(select(Message).where(Message.report_id == report_id))
        ]
    # Sealed under a key the colleague never held (the epoch is bound, not stored).
    assert [(text, epoch) for _position, text, epoch in opened] == [(later, 2)]
    # The page said what revocation cannot do.
    assert "tidak dapat" in owner.get(page).get_data(as_text=True)


def test_only_permitted_investigators_share(reporter_app, clients, database_url):
    marker = f"Izin berbagi {uuid.uuid4().hex[:8]}"
    submit(reporter_app.test_client(), title=marker)
    report_id = report_id_of(database_url, marker, clients["pemeriksa2"])
    someone = account_of(database_url, "pemeriksa1").id
    page = f"/reports/{report_id}"
    refused = post(clients["pemeriksa2"], f"{page}/grants/{someone}/revoke", page, confirm="y")
    assert refused.status_code == 400  # pemeriksa2 may not share or revoke
    assert "tidak diizinkan" in refused.get_data(as_text=True)  # the reason, in Indonesian


def test_the_identity_stays_hidden_until_a_custodian_approves(reporter_app, clients, database_url):
    marker = f"Identitas {uuid.uuid4().hex[:8]}"
    who = f"Siti Aminah {uuid.uuid4().hex[:6]}"
    submit(reporter_app.test_client(), title=marker, identity=who)
    investigator, custodian = clients["pemeriksa1"], clients["inspektur"]
    report_id = report_id_of(database_url, marker, investigator)
    page = f"/reports/{report_id}"
    assert who not in investigator.get(page).get_data(as_text=True)
    reason = f"Perlu wawancara saksi {uuid.uuid4().hex[:6]}"
    assert post(investigator, f"{page}/identity-requests", page, reason=reason).status_code == 303
    assert who not in investigator.get(page).get_data(as_text=True)  # still waiting
    waiting = custodian.get("/identity-requests").get_data(as_text=True)
    assert reason in waiting  # the custodian reads why
    assert who not in waiting  # but the custodian page never shows the identity
    request_id = re.search(r'id="request-([0-9a-f-]{36})"', waiting).group(1)
    assert (
        post(
            custodian, f"/identity-requests/{request_id}/approve", "/identity-requests", confirm="y"
        ).status_code
        == 303
    )
    assert who in investigator.get(page).get_data(as_text=True)
    trail = [e.action for e in actions(database_url, report_id)]
    assert trail.count("identity.request") == 1 and trail.count("identity.approve") == 1
    assert "identity.read" in trail


def test_an_investigator_who_is_also_a_custodian_needs_another_custodian(
    reporter_app, staff_app, clients, env, database_url
):
    """Issue 15: an account holding both roles saw every identity on the case page
    (``identity.read``, nobody deciding), and its own identity request was a 500."""
    result = invoke(
        env,
        "user",
        "create",
        "--username",
        "dua.peran",
        "--role",
        "investigator",
        "--role",
        "custodian",
        "--password-stdin",
        stdin="Kuda-Laut-Berenang-Jauh-2026\n",
    )
    assert result.exit_code == 0, result.output
    secret = re.search(r"totp_secret: (\S+)", result.output).group(1)
    assert invoke(env, "route", "add", "kkn", "dua.peran").exit_code == 0
    both = signed_in(
        staff_app, Person("dua.peran", "Kuda-Laut-Berenang-Jauh-2026", secret, 0, database_url)
    )
    marker = f"Dua peran {uuid.uuid4().hex[:8]}"
    who = f"Rahmat Hidayat {uuid.uuid4().hex[:6]}"
    submit(reporter_app.test_client(), title=marker, identity=who)
    report_id = report_id_of(database_url, marker, both)
    page = f"/reports/{report_id}"

    assert who not in both.get(page).get_data(as_text=True)
    assert "identity.read" not in [e.action for e in actions(database_url, report_id)]
    reason = f"Perlu klarifikasi {uuid.uuid4().hex[:6]}"
    assert post(both, f"{page}/identity-requests", page, reason=reason).status_code == 303
    waiting = both.get("/identity-requests").get_data(as_text=True)
    request_id = re.search(r'id="request-([0-9a-f-]{36})"', waiting).group(1)
    # Not offered (the review: Approve and Refuse were, and gave a 409): said instead.
    assert f"/identity-requests/{request_id}/" not in waiting
    assert "kustodian lain yang harus memutuskannya" in waiting
    own = post(both, f"/identity-requests/{request_id}/approve", page, confirm="y")
    assert own.status_code == 409  # nobody decides their own request
    assert who not in both.get(page).get_data(as_text=True)
    assert "identity.read" not in [e.action for e in actions(database_url, report_id)]

    custodian = clients["inspektur"]
    approved = post(
        custodian, f"/identity-requests/{request_id}/approve", "/identity-requests", confirm="y"
    )
    assert approved.status_code == 303
    assert who in both.get(page).get_data(as_text=True)
    trail = [e.action for e in actions(database_url, report_id)]
    assert trail.count("identity.approve") == 1 and trail.count("identity.read") == 1


def test_a_refused_identity_request_shows_nothing(reporter_app, clients, database_url):
    marker = f"Ditolak {uuid.uuid4().hex[:8]}"
    who = f"Rahasia {uuid.uuid4().hex[:6]}"
    submit(reporter_app.test_client(), title=marker, identity=who)
    investigator, custodian = clients["pemeriksa1"], clients["inspektur"]
    report_id = report_id_of(database_url, marker, investigator)
    page = f"/reports/{report_id}"
    post(investigator, f"{page}/identity-requests", page, reason="Ingin tahu saja")
    waiting = custodian.get("/identity-requests").get_data(as_text=True)
    request_id = re.search(r'id="request-([0-9a-f-]{36})"[^<]*<td>[^<]*pemeriksa1', waiting, re.S)
    request_id = re.findall(r'id="request-([0-9a-f-]{36})"', waiting)[-1]
    assert (
        post(
            custodian, f"/identity-requests/{request_id}/refuse", "/identity-requests", confirm="y"
        ).status_code
        == 303
    )
    assert who not in investigator.get(page).get_data(as_text=True)
    assert "identity.refuse" in [e.action for e in actions(database_url, report_id)]


def test_admin_auditor_and_custodian_see_no_content(reporter_app, clients, database_url):
    marker = f"KONTEN-{uuid.uuid4().hex}"
    submit(reporter_app.test_client(), title=marker, what=marker, identity=marker)
    for name in ("admin", "auditor", "inspektur"):
        client = clients[name]
        pages = [
            client.get(path).get_data()
            for path in ("/", "/reports", "/identity-requests", "/audit", "/routing")
        ]
        assert not any(marker.encode() in page for page in pages), name


def png_bytes() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (8, 8), (0, 90, 60)).save(out, "PNG")
    return out.getvalue()


def test_downloads_are_audited_first_and_safely_typed(reporter_app, clients, database_url):
    marker = f"Unduh {uuid.uuid4().hex[:8]}"
    receipt(
        report_with_files(
            reporter_app.test_client(),
            [
                ('la"po;ran.html', b"<script>alert(1)</script>", "text/html"),
                ("foto.png", png_bytes(), "image/png"),
            ],
            title=marker,
        )
    )
    investigator = clients["pemeriksa1"]
    report_id = report_id_of(database_url, marker, investigator)
    page = investigator.get(f"/reports/{report_id}").get_data(as_text=True)
    links = re.findall(rf'href="(/reports/{report_id}/attachments/[0-9a-f-]{{36}})">([^<]+)<', page)
    assert len(links) == 2
    for link, name in links:
        response = investigator.get(link)
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Content-Disposition"].startswith("attachment;")
        if "html" in name:
            assert response.mimetype == "application/octet-stream"
            assert response.get_data() == b"<script>alert(1)</script>"
            assert (
                '"'
                not in response.headers["Content-Disposition"]
                .split("filename=")[1]
                .split(";")[0][1:-1]
            )
        if name == "foto.png":
            assert response.mimetype == "image/png"  # a known-safe image type
    downloads = [e for e in actions(database_url, report_id) if e.action == "attachment.download"]
    assert len(downloads) == 2


def test_a_download_is_recorded_before_its_first_byte(
    reporter_app, clients, database_url, monkeypatch
):
    """When the first plaintext chunk is read, the audit entry is already committed:
    another connection sees it."""
    from sipadu.evidence import storage

    marker = f"Dulu {uuid.uuid4().hex[:8]}"
    receipt(
        report_with_files(
            reporter_app.test_client(), [("a.txt", b"isi", "text/plain")], title=marker
        )
    )
    investigator = clients["pemeriksa1"]
    report_id = report_id_of(database_url, marker, investigator)
    link = re.search(
        rf'href="(/reports/{report_id}/attachments/[0-9a-f-]{{36}})"',
        investigator.get(f"/reports/{report_id}").get_data(as_text=True),
    ).group(1)
    seen: list[int] = []
    real = storage.read_plaintext

    def watched(*args, **kwargs):
        for piece in real(*args, **kwargs):
            seen.append(
                sum(
                    1 for e in actions(database_url, report_id) if e.action == "attachment.download"
                )
            )
            yield piece

    monkeypatch.setattr(storage, "read_plaintext", watched)
    assert investigator.get(link).get_data() == b"isi"
    assert seen and seen[0] == 1


def test_no_stream_begins_before_its_record_is_committed(staff_app):
    """Record, commit, then stream has one owner (sipadu.web.context.stream): while the request's
    write transaction, where a download's audit entry is written, is still open, no
    stream begins and nothing is read; once it is committed, the stream reads."""
    from sipadu.web.context import db_session, stream, transaction

    begun = []

    def begin(reader):
        begun.append(reader)
        return None, iter([b"isi"])

    with staff_app.test_request_context():
        db_session(write=True).execute(text("SELECT 1"))  # the record, not yet committed
        with pytest.raises(RuntimeError, match="commit"):
            stream(begin)
        assert not begun
        with transaction(write=True) as writing:
            writing.execute(text("SELECT 1"))
        _none, body = stream(begin)
        assert b"".join(body) == b"isi" and begun
        body.close()


def test_the_export_is_a_signed_zip_encrypted_to_an_age_recipient(
    reporter_app, clients, database_url, tmp_path, config
):
    import pyrage

    marker = f"Ekspor {uuid.uuid4().hex[:8]}"
    content = b"isi bukti " * 1000
    receipt(
        report_with_files(
            reporter_app.test_client(), [("bukti.txt", content, "text/plain")], title=marker
        )
    )
    investigator = clients["pemeriksa1"]
    report_id = report_id_of(database_url, marker, investigator)
    identity = pyrage.x25519.Identity.generate()
    response = investigator.get(f"/reports/{report_id}/export?recipient={identity.to_public()}")
    assert response.status_code == 200
    sealed = response.get_data()
    assert marker.encode() not in sealed and sealed.startswith(b"age-encryption.org/v1")
    archive = zipfile.ZipFile(io.BytesIO(pyrage.decrypt(sealed, [identity])))
    names = archive.namelist()
    assert names[-2:] == ["manifest.json", "manifest.sig"]
    report = json.loads(archive.read("report.json"))
    assert report["fields"]["title"] == marker
    manifest_bytes = archive.read("manifest.json")
    manifest = json.loads(manifest_bytes)
    for name, digest in manifest["sha256"].items():
        assert hashlib.sha256(archive.read(name)).hexdigest() == digest
    attachment = [n for n in names if n.startswith("attachments/")]
    assert archive.read(attachment[0]) == content
    signature = json.loads(archive.read("manifest.sig"))
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    from sipadu.settings.instance import load_secret

    expected = signing_public_key(load_secret(config, "audit_signing_key")).hex()
    assert signature["public_key"] == expected
    Ed25519PublicKey.from_public_bytes(bytes.fromhex(expected)).verify(
        bytes.fromhex(signature["signature"]), bind("sipadu.export.manifest.v1", manifest_bytes)
    )
    # The standard age tool opens it offline.
    key_file = tmp_path / "key.txt"
    key_file.write_text(str(identity) + "\n")
    sealed_file = tmp_path / "export.zip.age"
    sealed_file.write_bytes(sealed)
    opened = subprocess.run(
        ["age", "-d", "-i", str(key_file), str(sealed_file)], capture_output=True, check=False
    )
    if opened.returncode == 127:  # pragma: no cover
        pytest.fail("the age tool is not installed (apt-get install age)")
    assert opened.returncode == 0 and zipfile.ZipFile(io.BytesIO(opened.stdout)).namelist() == names

    # Plaintext only with the confirmation, recorded as its own action.
    assert investigator.get(f"/reports/{report_id}/export?plaintext=y").status_code == 400
    plain = investigator.get(f"/reports/{report_id}/export?plaintext=y&confirm=y")
    assert (
        plain.status_code == 200
        and zipfile.ZipFile(io.BytesIO(plain.get_data())).namelist() == names
    )
    trail = [e.action for e in actions(database_url, report_id)]
    assert trail.count("report.export") == 1 and trail.count("report.export_plaintext") == 1


def test_the_list_filters_by_status_deadline_and_unread(reporter_app, clients, database_url):
    marker = f"Saring {uuid.uuid4().hex[:8]}"
    code, passphrase, _ = submit(reporter_app.test_client(), title=marker)
    investigator = clients["pemeriksa2"]
    listing = investigator.get("/reports?status=received").get_data(as_text=True)
    assert marker in listing
    assert marker not in investigator.get("/reports?status=rejected").get_data(as_text=True)
    assert marker not in investigator.get("/reports?deadline=ack_overdue").get_data(as_text=True)
    assert marker in investigator.get("/reports?deadline=on_time").get_data(as_text=True)
    mailbox = reporter_app.test_client()
    mailbox_login(mailbox, code, passphrase)
    mailbox.post("/mailbox/messages", data={**form_tokens(mailbox, "/mailbox"), "body": "Tambahan"})
    assert marker in investigator.get("/reports?unread=y").get_data(as_text=True)
    report_id = report_id_of(database_url, marker, investigator)
    investigator.get(f"/reports/{report_id}")  # reading clears it
    assert marker not in investigator.get("/reports?unread=y").get_data(as_text=True)
    assert investigator.get("/reports?status=nonsense").status_code == 400


def test_a_link_a_reporter_sends_reaches_staff_as_text_never_as_a_link(
    reporter_app, clients, database_url
):
    """A click on a reporter's link would show its author the investigator's network
    address and when the message was read: addresses are text, selectable to copy."""
    marker = f"Tautan {uuid.uuid4().hex[:8]}"
    code, passphrase, _ = submit(reporter_app.test_client(), title=marker)
    investigator = clients["pemeriksa1"]
    report_id = report_id_of(database_url, marker, investigator)
    mailbox = reporter_app.test_client()
    assert mailbox_login(mailbox, code, passphrase).status_code == 303
    body = (
        "Lihat https://jejak.example.com/t?id=7&x=1, juga "
        "http://abcdefghijklmnopqrstuvwxyz234567abcdefghijklmnopqrstuvwx.onion/berkas "
        'dan (www.contoh.go.id/a_(b)). "><a href="http://x.example.com">klik</a>'
    )
    response = mailbox.post(
        "/mailbox/messages", data={**form_tokens(mailbox, "/mailbox"), "body": body}
    )
    assert response.status_code == 303
    page = f"/reports/{report_id}"
    post(clients["pemeriksa1"], f"{page}/notes", page, body="catatan: https://catatan.example.com")
    shown = investigator.get(page).get_data(as_text=True)
    for address in (
        "https://jejak.example.com/t?id=7&amp;x=1",
        "http://abcdefghijklmnopqrstuvwxyz234567abcdefghijklmnopqrstuvwx.onion/berkas",
        "www.contoh.go.id/a_(b)",
        "https://catatan.example.com",
    ):
        assert f'<code class="address" translate="no">{address}</code>' in shown
    assert '<a href="http' not in shown and 'href="www' not in shown
    assert "&lt;a href=&#34;" in shown  # a typed tag stays text


def test_the_older_reports_link_carries_the_filters_and_nothing_else(
    reporter_app, clients, monkeypatch
):
    """The query string is not url_for's options: ``?endpoint=``, ``?_method=POST`` or a
    lone ``?_scheme=`` made the page a 500, ``?_external=1&_anchor=`` changed the link.
    The link keeps the list's filters and its own position only."""
    from sipadu.services import cases

    for _ in range(2):
        submit(reporter_app.test_client(), title=f"Halaman {uuid.uuid4().hex[:8]}")
    monkeypatch.setattr(cases, "PAGE_SIZE", 1)
    investigator = clients["pemeriksa2"]
    query = "status=received&_external=1&_scheme=https&_anchor=x&_method=POST"
    page = investigator.get(f"/reports?{query}")
    assert page.status_code == 200
    older = re.search(r'href="([^"]+)" rel="next"', page.get_data(as_text=True)).group(1)
    link = urlsplit(html.unescape(older))
    assert (link.scheme, link.netloc, link.path, link.fragment) == ("", "", "/reports", "")
    assert sorted(parse_qs(link.query)) == ["after", "status"]
    assert investigator.get("/reports?endpoint=x").status_code == 200
    assert investigator.get("/reports?_scheme=https").status_code == 200


def test_recovery_grant_gives_a_report_back_after_a_password_reset(
    reporter_app, clients, database_url, env, config
):
    from click.testing import CliRunner

    from sipadu.accountability import recovery
    from sipadu.cli import main as cli

    marker = f"Pulih {uuid.uuid4().hex[:8]}"
    submit(reporter_app.test_client(), title=marker)
    report_id = report_id_of(database_url, marker, clients["pemeriksa2"])
    demo_key = config.instance_path / recovery.DEMO_PRIVATE_FILE
    # Take it away from pemeriksa2 (as a reset would), then re-grant from recovery.
    colleague = account_of(database_url, "pemeriksa2")
    page = f"/reports/{report_id}"
    post(clients["pemeriksa1"], f"{page}/grants/{colleague.id}/revoke", page, confirm="y")
    assert clients["pemeriksa2"].get(page).status_code == 404
    result = CliRunner().invoke(
        cli,
        [
            "recovery",
            "grant",
            "--key",
            str(demo_key),
            "--report",
            str(report_id),
            "--to",
            "pemeriksa2",
            "--passphrase-stdin",
        ],
        env=env,
        input=recovery.DEMO_PASSPHRASE + "\n",
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    assert marker in clients["pemeriksa2"].get(page).get_data(as_text=True)
    assert [e.action for e in actions(database_url, report_id)].count("recovery.grant") == 1


def test_the_audit_chain_verifies_after_casework(clients, database_url):
    with database(database_url) as session:
        assert audit.verify_chain(session.connection()).ok


def test_only_wrapped_keys_open_reports(database_url):
    """No report key exists unwrapped: every report_key row is an HPKE wrap to a public
    key the database names by fingerprint."""
    with database(database_url) as session:
        for row in session.scalars(select(ReportKey)).all()[:200]:
            assert row.wrapped[0] == 0x01 and len(row.wrapped) > 80
            if row.recipient_kind == "staff":
                holder = session.get(StaffAccount, row.recipient_id)
                assert holder is not None
                from sipadu.crypto import fingerprint

                assert (
                    fingerprint(PublicKey.from_bytes(holder.public_key)).replace(" ", "").lower()
                    == row.recipient_fingerprint
                )


def test_the_documented_export_check_works_offline(
    reporter_app, clients, database_url, config, tmp_path
):
    """docs/casework.md's recipe, run as a separate isolated Python, accepts a real
    export and rejects one with an altered file."""
    import subprocess
    import sys
    from pathlib import Path

    from sipadu.settings.instance import load_secret

    marker = f"Resep {uuid.uuid4().hex[:8]}"
    submit(reporter_app.test_client(), title=marker)
    investigator = clients["pemeriksa1"]
    report_id = report_id_of(database_url, marker, investigator)
    data = investigator.get(f"/reports/{report_id}/export?plaintext=y&confirm=y").get_data()
    export = tmp_path / "export.zip"
    export.write_bytes(data)
    doc = (Path(__file__).resolve().parent.parent / "docs" / "casework.md").read_text()
    script = tmp_path / "check.py"
    script.write_text(doc.split("```python\n", 1)[1].split("```", 1)[0])
    pinned = signing_public_key(load_secret(config, "audit_signing_key")).hex()
    run = subprocess.run(
        [sys.executable, "-I", str(script), str(export), pinned], capture_output=True, text=True
    )
    assert run.returncode == 0 and run.stdout == "OK\n", run.stderr
    altered = tmp_path / "altered.zip"
    with zipfile.ZipFile(export) as source, zipfile.ZipFile(altered, "w") as target:
        for name in source.namelist():
            content = source.read(name)
            target.writestr(
                name,
                content.replace(marker.encode(), b"Diubah") if name == "report.json" else content,
            )
    run = subprocess.run(
        [sys.executable, "-I", str(script), str(altered), pinned], capture_output=True, text=True
    )
    assert run.returncode != 0 and "report.json" in run.stderr


def _staff_keys(session, person, report_id: uuid.UUID) -> key_ring.HeldKeys:
    """The report keys a demo person's password opens (as their sign-in does)."""
    account = session.scalar(select(StaffAccount).where(StaffAccount.username == person.username))
    record = SecretRecord.from_bytes(account.password_record)
    kek = verify_secret(password_bytes(person.password), record)
    return key_ring.staff_keys(session, report_id, account.id, unlock(account, kek).private_key)


def test_concurrent_messages_on_one_report_all_land_in_order(
    reporter_app, clients, database_url, people
):
    """Reporter messages and investigator replies at the same moment: each gets its own
    position (the report row is locked for the write), none is lost, no 5xx."""
    from concurrent.futures import ThreadPoolExecutor

    marker = f"Serentak {uuid.uuid4().hex[:8]}"
    code, passphrase, _ = submit(reporter_app.test_client(), title=marker)
    report_id = report_id_of(database_url, marker, clients["pemeriksa1"])
    page = f"/reports/{report_id}"
    boxes = []
    for _ in range(4):
        box = reporter_app.test_client()
        assert mailbox_login(box, code, passphrase).status_code == 303
        boxes.append((box, form_tokens(box, "/mailbox")))
    staff_token = csrf(clients["pemeriksa1"], page)

    def reporter_writes(args):
        index, (box, tokens) = args
        return box.post(
            "/mailbox/messages", data={**tokens, "body": f"dari pelapor {index}"}
        ).status_code

    def investigator_writes(index):
        return (
            clients["pemeriksa1"]
            .post(
                f"{page}/messages",
                data={"csrf_token": staff_token, "body": f"dari pemeriksa {index}"},
            )
            .status_code
        )

    with ThreadPoolExecutor(8) as pool:
        reporter_done = pool.map(reporter_writes, enumerate(boxes))
        staff_done = pool.map(investigator_writes, range(4))
        statuses = list(reporter_done) + list(staff_done)
    assert statuses == [303] * 8
    with database(database_url) as session:
        keys = _staff_keys(session, people["pemeriksa1"], report_id)
        rows = list(session.scalars(select(Message).where(Message.report_id == report_id)))
        positions = sorted(reports.open_message(keys, m)[0] for m in rows)
        counted = session.scalar(select(Report.reporter_messages).where(Report.id == report_id))
    assert positions == list(range(1, 9)) and counted == 4  # sealed, each its own
    assert {m.position for m in rows} == {None}


# --- every plaintext read is logged (issue 15, item 5) -----------------------------------

# What each staff page that shows decrypted content records (docs/audit.md). A GET route
# that decrypts anything and is not here fails the walk below.
READS = {
    "staff.reports": {"report.list"},
    "staff.report": {"report.read", "identity.read"},  # the identity was approved
    "staff.report_attachment": {"attachment.download"},
    "staff.report_print": {"report.print", "identity.read"},  # the case file (issue 17)
    "staff.identity_requests": {"identity_request.read"},
    # The home page's unread count opens the viewer's own read marks (sealed message
    # counts, no report content, shown as one number): nothing to record (docs/staff.md).
    "staff.index": set(),
}
EXPORT_READS = {
    "recipient": {"report.export", "identity.read"},
    "plaintext": {"report.export_plaintext", "identity.read"},
}


def _count_decryption(monkeypatch) -> list[str]:
    """Every key unwrapped and field opened by any sipadu module, by name."""
    import sys

    import sipadu.crypto.envelope as envelope
    import sipadu.crypto.fields as fields

    calls: list[str] = []
    for real in (envelope.unwrap_key, fields.open_field):

        def counted(*args, _real=real, **kwargs):
            calls.append(_real.__name__)
            return _real(*args, **kwargs)

        # Every module that imported the function holds its own reference: patch them all.
        for name, module in list(sys.modules.items()):
            if name.startswith("sipadu") and getattr(module, real.__name__, None) is real:
                monkeypatch.setattr(module, real.__name__, counted)
    return calls


def test_every_staff_route_that_decrypts_records_the_read(
    reporter_app, staff_app, clients, people, database_url, monkeypatch
):
    """Issue 15: the custodian's page decrypted every pending reason and wrote nothing,
    and an export holding the reporter's identity wrote no ``identity.read``. Every GET
    route, as every role, with real ids: whatever decrypts must append its entries."""
    import pyrage

    marker = f"Baca tercatat {uuid.uuid4().hex[:8]}"
    who = f"Dewi Lestari {uuid.uuid4().hex[:6]}"
    receipt(
        report_with_files(
            reporter_app.test_client(),
            [("bukti.txt", b"isi bukti", "text/plain")],
            title=marker,
            identity=who,
        )
    )
    investigator, custodian = clients["pemeriksa1"], clients["inspektur"]
    report_id = report_id_of(database_url, marker, investigator)
    page = f"/reports/{report_id}"
    assert post(investigator, f"{page}/identity-requests", page, reason="Saksi").status_code == 303
    waiting = custodian.get("/identity-requests").get_data(as_text=True)
    mine = re.findall(r'id="request-([0-9a-f-]{36})"', waiting)[-1]
    assert post(
        custodian, f"/identity-requests/{mine}/approve", "/identity-requests", confirm="y"
    ).status_code
    # A second request, left pending: the custodian's page has a reason to decrypt.
    second = clients["pemeriksa2"]
    assert post(second, f"{page}/identity-requests", page, reason="Konfirmasi").status_code == 303
    with database(database_url) as session:
        attachment_id = session.scalar(
            select(Attachment.id).where(Attachment.report_id == report_id)
        )
        pending = {
            str(r)
            for r in session.scalars(
                select(IdentityRequest.id).where(
                    IdentityRequest.state == IdentityRequestState.PENDING.value
                )
            )
        }
    assert attachment_id is not None and pending
    values = {"report_id": report_id, "attachment_id": attachment_id}

    paths: list[tuple[str, str]] = []
    for rule in staff_app.url_map.iter_rules():
        if rule.endpoint == "static" or "GET" not in rule.methods:
            continue
        sample = {name: values.get(name) for name in rule.arguments}
        if None in sample.values():
            path = sample_path(rule)
        else:
            path = rule.build(sample, append_unknown=False)[1]
        paths.append((rule.endpoint, path))
    recipient = pyrage.x25519.Identity.generate().to_public()
    paths += [
        ("staff.report_export", f"{page}/export?recipient={recipient}"),
        ("staff.report_export", f"{page}/export?plaintext=y&confirm=y"),
    ]
    names = ("admin", "auditor", "inspektur", "pemeriksa1")
    ids = {name: str(account_of(database_url, name).id) for name in names}
    calls = _count_decryption(monkeypatch)
    decrypted: dict[tuple[str, str], set[str]] = {}
    for endpoint, path in paths:
        for name in names:
            before = len(actions(database_url))
            calls.clear()
            response = clients[name].get(path)
            response.get_data()  # a streamed body is read to its end
            new = [e for e in actions(database_url)[before:] if e.actor == ids[name]]
            if not calls:
                continue
            where = f"GET {path} as {name} (decrypted: {Counter(calls)})"
            expected = READS.get(endpoint)
            if endpoint == "staff.report_export":
                expected = EXPORT_READS["recipient" if "recipient=" in path else "plaintext"]
            assert expected is not None, f"{where}: a route that decrypts records nothing known"
            assert expected <= {e.action for e in new}, f"{where}: recorded {new}"
            decrypted[endpoint, name] = {e.action for e in new}
            if endpoint == "staff.identity_requests":
                shown = [e for e in new if e.action == "identity_request.read"]
                assert {json.loads(e.detail)["request"] for e in shown} == pending, where
                assert {e.role for e in shown} == {"custodian"}, where
    # The walk reached every page that decrypts, as the role that may see it.
    # (The home page opens read marks only when a report with reporter messages was opened
    # before by the viewer: whether it did here depends on the tests run before.)
    assert set(decrypted) - {("staff.index", "pemeriksa1")} == {
        ("staff.reports", "pemeriksa1"),
        ("staff.report", "pemeriksa1"),
        ("staff.report_attachment", "pemeriksa1"),
        ("staff.report_export", "pemeriksa1"),
        ("staff.report_print", "pemeriksa1"),
        ("staff.identity_requests", "inspektur"),
    }
    # An export says whether the identity was in it, and holds it only then.
    exports = [
        e
        for e in actions(database_url, report_id)
        if e.action in ("report.export", "report.export_plaintext")
    ]
    assert exports and all(json.loads(e.detail)["identity_included"] is True for e in exports)
    reads = [e for e in actions(database_url, report_id) if e.action == "identity.read"]
    assert sum(1 for e in reads if json.loads(e.detail or "{}").get("via") == "export") == len(
        exports
    )


def test_an_export_without_the_identity_says_so_and_reads_none(reporter_app, clients, database_url):
    marker = f"Tanpa identitas {uuid.uuid4().hex[:8]}"
    who = f"Agus Salim {uuid.uuid4().hex[:6]}"
    submit(reporter_app.test_client(), title=marker, identity=who)
    investigator = clients["pemeriksa1"]
    report_id = report_id_of(database_url, marker, investigator)
    plain = investigator.get(f"/reports/{report_id}/export?plaintext=y&confirm=y")
    assert plain.status_code == 200
    report = json.loads(zipfile.ZipFile(io.BytesIO(plain.get_data())).read("report.json"))
    assert report["identity"] is None and who not in json.dumps(report)
    trail = actions(database_url, report_id)
    (export,) = [e for e in trail if e.action == "report.export_plaintext"]
    assert json.loads(export.detail)["identity_included"] is False
    assert "identity.read" not in [e.action for e in trail]


FAILED_WORDS = re.compile("failed its integrity check|gagal pemeriksaan keutuhan")


def test_tampered_rows_are_shown_as_failed_never_as_a_500_and_recorded(
    reporter_app, clients, database_url
):
    """Issue 15 item 9 over HTTP: a reply relabelled as the reporter's and a file moved
    onto it, in the database. Both portals answer with the page, saying which items
    failed their integrity check; the file's download is a 409 page for both; staff
    encounters are in the log."""
    marker = f"Utuh {uuid.uuid4().hex[:8]}"
    code, passphrase = receipt(
        report_with_files(
            reporter_app.test_client(), [("bukti.txt", b"isi bukti", "text/plain")], title=marker
        )
    )
    investigator = clients["pemeriksa1"]
    report_id = report_id_of(database_url, marker, investigator)
    reply = f"Balasan asli {uuid.uuid4().hex[:6]}"
    post(investigator, f"/reports/{report_id}/messages", f"/reports/{report_id}", body=reply)
    with database(database_url) as session:
        message = session.scalar(select(Message).where(Message.report_id == report_id))
        file = session.scalar(select(Attachment).where(Attachment.report_id == report_id))
        message.author, message.author_account_id = "reporter", None
        file.message_id = message.id
        file_id = file.id
        session.commit()

    page = investigator.get(f"/reports/{report_id}")
    assert page.status_code == 200
    text_ = page.get_data(as_text=True)
    assert FAILED_WORDS.search(text_) and reply not in text_
    download = investigator.get(f"/reports/{report_id}/attachments/{file_id}")
    assert download.status_code == 409 and b"isi bukti" not in download.get_data()
    failures = [
        json.loads(e.detail)
        for e in actions(database_url, report_id)
        if e.action == "record.integrity_failure"
    ]
    assert {"kind": "message", "id": str(message.id)} in failures
    assert {"kind": "attachment", "id": str(file_id)} in failures

    mailbox = reporter_app.test_client()
    assert mailbox_login(mailbox, code, passphrase).status_code == 303
    box = mailbox.get("/mailbox")
    assert box.status_code == 200
    assert FAILED_WORDS.search(box.get_data(as_text=True))
    assert reply not in box.get_data(as_text=True)
    refused = mailbox.get(f"/mailbox/attachments/{file_id}")
    assert refused.status_code == 409 and b"isi bukti" not in refused.get_data()


def test_a_sealed_value_stored_as_text_is_a_failed_item_on_every_page_never_a_500(
    reporter_app, clients, database_url
):
    """Issue 15 item 9, the review's reproduction: ``update message set
    body=X'02'||substr(body,2)`` stores TEXT that is not UTF-8, and the case page, the
    mailbox and the export were 500s ("Could not decode to UTF-8"). Each now shows the
    message as failed; staff encounters are in the log."""
    marker = f"Teks {uuid.uuid4().hex[:8]}"
    code, passphrase, _page = submit(reporter_app.test_client(), title=marker)
    investigator = clients["pemeriksa1"]
    report_id = report_id_of(database_url, marker, investigator)
    reply = f"Balasan {uuid.uuid4().hex[:6]}"
    post(investigator, f"/reports/{report_id}/messages", f"/reports/{report_id}", body=reply)
    with database(database_url) as session:
        if session.get_bind().dialect.name != "sqlite":
            pytest.skip("PostgreSQL refuses a value of the wrong type in a column")
        message_id = session.scalar(select(Message.id).where(Message.report_id == report_id))
        session.execute(
            text("UPDATE message SET body = X'02' || substr(body, 2) WHERE id = :id"),
            {"id": message_id.hex},
        )
        session.commit()

    page = investigator.get(f"/reports/{report_id}")
    assert page.status_code == 200
    assert FAILED_WORDS.search(page.get_data(as_text=True))
    plain = investigator.get(f"/reports/{report_id}/export?plaintext=y&confirm=y")
    assert plain.status_code == 200
    exported = json.loads(zipfile.ZipFile(io.BytesIO(plain.get_data())).read("messages.json"))
    assert [(m["intact"], m["body"]) for m in exported] == [(False, "")]
    failures = [
        json.loads(e.detail)
        for e in actions(database_url, report_id)
        if e.action == "record.integrity_failure"
    ]
    assert {"kind": "message", "id": str(message_id)} in failures

    mailbox = reporter_app.test_client()
    assert mailbox_login(mailbox, code, passphrase).status_code == 303
    box = mailbox.get("/mailbox")
    assert box.status_code == 200
    assert FAILED_WORDS.search(box.get_data(as_text=True)) and reply not in box.get_data(
        as_text=True
    )


TAMPERINGS = [
    # the reviewer's statements, after a page view sealed a read mark
    "UPDATE report_grant SET read_mark = CAST(read_mark AS TEXT) WHERE report_id = :id",
    "UPDATE report_grant SET read_mark = 42 WHERE report_id = :id",
    "UPDATE report_field SET epoch = 42 WHERE report_id = :id AND name = 'title'",
    "UPDATE report_key SET epoch = 42 WHERE report_id = :id AND recipient_kind = 'mailbox'"
    " AND purpose = 'identity'",
    "UPDATE attachment SET sealed_key = X'00' WHERE report_id = :id",
    "UPDATE attachment SET sealed_key = CAST(sealed_key AS TEXT) WHERE report_id = :id",
    "UPDATE attachment SET sealed_key = 42 WHERE report_id = :id",
]


@pytest.mark.parametrize("statement", TAMPERINGS)
def test_a_changed_mark_key_row_or_file_key_is_never_a_500(
    reporter_app, clients, database_url, statement
):
    """Issue 15 item 9, the second review: each statement made the list, the case page,
    the export (cut off mid-archive for a file key) or the reporter's mailbox fail."""
    marker = f"Ubah {uuid.uuid4().hex[:8]}"
    code, passphrase = receipt(
        report_with_files(
            reporter_app.test_client(),
            [("bukti.txt", b"isi bukti", "text/plain")],
            title=marker,
            identity="Budi, 0812",
        )
    )
    investigator = clients["pemeriksa1"]
    report_id = report_id_of(database_url, marker, investigator)
    assert investigator.get(f"/reports/{report_id}").status_code == 200  # seals a read mark
    with database(database_url) as session:
        if session.get_bind().dialect.name != "sqlite":
            pytest.skip("PostgreSQL refuses a value of the wrong type in a column")
        session.execute(text("PRAGMA defer_foreign_keys = ON"))
        session.execute(text(statement), {"id": report_id.hex})
        session.commit()

    assert investigator.get("/reports").status_code == 200
    assert investigator.get("/reports?unread=y").status_code == 200
    assert investigator.get(f"/reports/{report_id}").status_code == 200
    plain = investigator.get(f"/reports/{report_id}/export?plaintext=y&confirm=y")
    assert plain.status_code == 200
    archive = zipfile.ZipFile(io.BytesIO(plain.get_data()))  # whole: it did not break off
    assert archive.testzip() is None
    failed_files = json.loads(archive.read("report.json"))["failed_attachments"]
    assert len(failed_files) == (1 if "attachment" in statement else 0)
    mailbox = reporter_app.test_client()
    assert mailbox_login(mailbox, code, passphrase).status_code == 303
    box = mailbox.get("/mailbox")
    assert box.status_code == 200
    if "report_field" in statement or "report_key" in statement or "attachment" in statement:
        assert FAILED_WORDS.search(box.get_data(as_text=True))


def test_without_the_audit_signing_key_an_export_is_refused_in_the_readers_words(
    staff_app, reporter_app, clients, database_url
):
    """Review 17b: a staff portal whose audit signing key is kept on another host (the
    runtime allows it: ``signing_seed`` None) refused exports with an English sentence
    on an Indonesian page that called an export a "change"."""
    import dataclasses

    marker = f"Tanpa kunci tanda tangan {uuid.uuid4().hex[:8]}"
    submit(reporter_app.test_client(), title=marker)
    investigator = clients["pemeriksa1"]
    report_id = report_id_of(database_url, marker, investigator)
    kept = staff_app.extensions["sipadu.staff"]
    staff_app.extensions["sipadu.staff"] = dataclasses.replace(kept, signing_seed=None)
    try:
        response = investigator.get(f"/reports/{report_id}/export?plaintext=y&confirm=y")
    finally:
        staff_app.extensions["sipadu.staff"] = kept
    page = html.unescape(response.get_data(as_text=True))
    assert response.status_code == 409
    assert "Ekspor tidak dapat dibuat di server ini" in page
    assert "signing key" not in page and "Perubahan ini" not in page
    assert not [e for e in actions(database_url, report_id) if e.action.startswith("report.export")]
