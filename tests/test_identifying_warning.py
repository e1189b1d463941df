"""The warning about identifying details before anything is stored (issue 21 item 3),
through the real reporter portal (real app, database, crypto): the form comes back with
everything kept and its files staged and carried sealed; "send anyway" stores it once;
the identity field is never warned about; a forged or replayed kept-files field attaches
nothing."""

import dataclasses
import io
import re
import time
import uuid

import pytest
from click.testing import CliRunner
from sqlalchemy import text

import sipadu.reporter.mailbox as mailbox_views
import sipadu.reporter.views as report_views
from sipadu.cli import main as cli
from sipadu.evidence.outcome import Cleaned, Kind, Remaining, Removed
from sipadu.evidence.storage import STALE_AFTER_SECONDS, purge_stale
from tests.helpers import TOKEN, database, form_tokens, login, receipt, report_with_files

NIK_TEXT = "Bendahara meminta setoran. NIK saya 3201014508900003, saya saksinya."
KEPT = re.compile(r'name="kept_files" value="([^"]+)"')


@pytest.fixture(scope="module")
def demo(env):
    result = CliRunner().invoke(cli, ["init", "--demo"], env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output


@pytest.fixture(autouse=True)
def hourly_purge(database_url):
    """After each test, what the hourly purge does to files warned forms left staged
    (they outlive their request by design): later tests of the same database count
    staged files from zero."""
    yield
    with database(database_url) as session:
        purge_stale(session, now=time.time() + 2 * STALE_AFTER_SECONDS)
        session.commit()


def counts(database_url) -> tuple[int, int, int]:
    """Reports, linked blobs, attachments."""
    with database(database_url) as session:
        return (
            session.scalar(text("SELECT count(*) FROM report")),
            session.scalar(text("SELECT count(*) FROM blob WHERE linked = true")),
            session.scalar(text("SELECT count(*) FROM attachment")),
        )


def staged(database_url) -> int:
    with database(database_url) as session:
        return session.scalar(text("SELECT count(*) FROM blob WHERE linked = false"))


def fields_of(page: str) -> dict[str, str]:
    """The hidden fields a warned page carries forward (tokens, kept files, warned)."""
    found = dict(re.findall(r'<input type="hidden" name="([a-z_]+)" value="([^"]*)"', page))
    found["csrf_token"] = TOKEN.search(page).group(1)
    return {k: v for k, v in found.items() if k != "file_notices"}


def report_data(**extra):
    return {
        "category": "kkn",
        "title": "Pungli di loket",
        "what": NIK_TEXT,
        "passphrase": "",
        "passphrase_confirm": "",
        **extra,
    }


def post_report(client, data, files=()):
    body = {**data, "attachments": [(io.BytesIO(c), n, t) for n, c, t in files]}
    if not files:
        body["attachments"] = [(io.BytesIO(b""), "", "application/octet-stream")]
    return client.post("/report", data=body, content_type="multipart/form-data")


def test_a_nik_in_the_chronology_is_warned_about_and_nothing_is_stored_until_sent_anyway(
    demo, reporter_app, database_url
):
    client = reporter_app.test_client()
    before = counts(database_url)
    first = report_with_files(
        client, [("bukti.pdf", b"%PDF-1.4 bukti " * 100, "application/pdf")], what=NIK_TEXT
    )
    page = first.get_data(as_text=True)
    assert first.status_code == 200
    assert 'id="identifying-warning"' in page
    assert "NIK" in page and "…0003" in page
    assert NIK_TEXT in page  # the text kept, as typed
    assert "bukti.pdf" in page and 'id="kept-file-0"' in page
    assert 'id="send-anyway"' in page and 'href="#what"' in page  # let me edit: the field
    assert counts(database_url) == before  # nothing stored, no file linked
    assert staged(database_url) >= 1  # the file is kept, staged (not discarded)
    assert len(first.get_data()) <= 100 * 1024
    assert "<script" not in page.split('id="identifying-warning"')[1].split("</section>")[0]

    carried = fields_of(page)
    assert carried["warned"] == "1" and carried["kept_files"]
    sent = post_report(client, {**report_data(), **carried, "send_anyway": "1"})
    code, _passphrase = receipt(sent)
    reports, linked, attachments = counts(database_url)
    assert (reports, linked, attachments) == (before[0] + 1, before[1] + 1, before[2] + 1)

    # The same page sent again: the report exists once, no file attached twice.
    again = post_report(client, {**report_data(), **carried, "send_anyway": "1"})
    assert again.status_code == 200 and 'id="already-received"' in again.get_data(as_text=True)
    assert counts(database_url) == (reports, linked, attachments)
    # The kept-files field replayed in a fresh form: said plainly, nothing attached.
    fresh = {**report_data(what="Tanpa nomor"), **form_tokens(client, "/report")}
    replayed = post_report(client, {**fresh, "kept_files": carried["kept_files"]})
    said = replayed.get_data(as_text=True)
    assert replayed.status_code == 409 and "bukti.pdf" in said
    assert counts(database_url) == (reports, linked, attachments)
    assert code


def test_let_me_edit_then_send_without_the_number_sends_without_a_warning(
    demo, reporter_app, database_url
):
    client = reporter_app.test_client()
    first = report_with_files(client, [("a.txt", b"catatan", "text/plain")], what=NIK_TEXT)
    carried = fields_of(first.get_data(as_text=True))
    before = counts(database_url)
    edited = report_data(what="Bendahara meminta setoran, saya saksinya.")
    sent = post_report(client, {**edited, **carried}, [("b.txt", b"lagi", "text/plain")])
    receipt(sent)
    assert counts(database_url) == (before[0] + 1, before[1] + 2, before[2] + 2)


def test_the_identity_field_is_never_warned_about(demo, reporter_app):
    client = reporter_app.test_client()
    identity = "Budi, NIK 3201014508900003, HP 0812-3456-7890, budi@mail.com"
    sent = report_with_files(client, [], what="Tanpa nomor", identity=identity)
    receipt(sent)


def test_a_dropped_kept_file_is_deleted_at_once(demo, reporter_app, database_url):
    client = reporter_app.test_client()
    first = report_with_files(client, [("hapus.txt", b"x" * 50, "text/plain")], what=NIK_TEXT)
    carried = fields_of(first.get_data(as_text=True))
    waiting = staged(database_url)
    before = counts(database_url)
    sent = post_report(client, {**report_data(), **carried, "send_anyway": "1", "drop_file": "0"})
    receipt(sent)
    assert counts(database_url) == (before[0] + 1, before[1], before[2])
    assert staged(database_url) == waiting - 1


def test_an_altered_or_foreign_kept_files_field_is_refused_plainly(
    demo, reporter_app, database_url
):
    client = reporter_app.test_client()
    first = report_with_files(client, [("asli.txt", b"asli", "text/plain")], what=NIK_TEXT)
    carried = fields_of(first.get_data(as_text=True))
    token = carried["kept_files"]
    flipped = token[:20] + ("A" if token[20] != "A" else "B") + token[21:]
    before = counts(database_url)
    for forged in (flipped, "bm90IGEgdG9rZW4=", "x" * 100):
        answer = post_report(client, {**report_data(), **carried, "kept_files": forged})
        page = answer.get_data(as_text=True)
        assert answer.status_code == 400, page[:500]
        assert "tidak dapat diambil dari halaman ini" in page
        assert NIK_TEXT in page
    # Another browser session's page: its token does not open here.
    other = reporter_app.test_client()
    theirs = {**report_data(), **form_tokens(other, "/report"), "kept_files": token}
    assert post_report(other, theirs).status_code == 400
    assert counts(database_url) == before


def test_the_language_switch_during_the_warning_keeps_text_files_and_warning(
    demo, reporter_app, database_url
):
    client = reporter_app.test_client()
    first = report_with_files(
        client, [("bukti.pdf", b"%PDF bukti", "application/pdf")], what=NIK_TEXT
    )
    carried = fields_of(first.get_data(as_text=True))
    switched = client.post(
        "/report?lang=en",
        data={**report_data(), **carried, "switch_language": "en"},
        content_type="multipart/form-data",
    )
    page = switched.get_data(as_text=True)
    assert switched.status_code == 200
    assert NIK_TEXT in page and "bukti.pdf" in page
    assert "looks like a NIK" in page and 'id="identifying-warning"' in page
    carried = fields_of(page)
    before = counts(database_url)
    sent = post_report(client, {**report_data(), **carried, "send_anyway": "1"})
    receipt(sent)
    assert counts(database_url) == (before[0] + 1, before[1] + 1, before[2] + 1)


def with_author(uploaded_files):
    """The real upload path, each file's outcome as a cleaner that could not remove
    the author would report it (what Part A3's cleaning returns)."""

    def received(field):
        outcome = Cleaned(Kind.DOCX, frozenset({Removed.DATES}), (Remaining("author", "Siti A."),))
        return [dataclasses.replace(f, outcome=outcome) for f in uploaded_files(field)]

    return received


def test_a_file_whose_author_remains_is_named_and_its_notice_shown_after_sending(
    demo, reporter_app, database_url, monkeypatch
):
    monkeypatch.setattr(report_views, "uploaded_files", with_author(report_views.uploaded_files))
    client = reporter_app.test_client()
    first = report_with_files(client, [("surat.docx", b"PK docx", "application/zip")], what="Biasa")
    page = first.get_data(as_text=True)
    assert first.status_code == 200 and 'id="identifying-warning"' in page
    assert "surat.docx" in page and "Siti A." in page and 'href="#kept-file-0"' in page
    carried = fields_of(page)
    sent = post_report(client, {**report_data(what="Biasa"), **carried, "send_anyway": "1"})
    done = sent.get_data(as_text=True)
    receipt(sent)
    assert 'id="file-notices"' in done and "surat.docx" in done
    assert "dibersihkan (yang dihapus: tanggal)" in done and "dates" not in done
    # ...and still says, after sending, what could not be removed.
    assert "masih ada dalam data tersembunyinya: seorang penulis (Siti A.)" in done
    # The code page's language switch keeps the notices, in the other language.
    notices = re.search(r'name="file_notices" value="([^"]+)"', done).group(1)
    code = re.search(r'id="report-code">([^<]+)<', done).group(1)
    tokens = form_tokens(client, "/report")
    other = client.post(
        "/report/receipt?lang=en",
        data={"csrf_token": tokens["csrf_token"], "code": code, "file_notices": notices},
    )
    assert "cleaned (removed: dates); still in its hidden details: an author (Siti A.)" in (
        other.get_data(as_text=True)
    )


def with_gps(uploaded_files):
    """Each uploaded file comes back cleaned but for the GPS position cleaning could not
    remove, told field by field as a clean file's reading lists it."""

    def received(field):
        left = (
            Remaining("gps", "6 deg 10' 30.00\" S"),
            Remaining("gps", "106 deg 49' 0.00\" E"),
            Remaining("gps", "12 m Above Sea Level"),
            Remaining("camera", "Samsung SM-A525F"),
        )
        outcome = Cleaned(Kind.DOCX, frozenset({Removed.AUTHOR}), left)
        return [dataclasses.replace(f, outcome=outcome) for f in uploaded_files(field)]

    return received


def test_a_gps_position_left_in_a_file_is_one_place_not_a_person(demo, reporter_app, monkeypatch):
    monkeypatch.setattr(report_views, "uploaded_files", with_gps(report_views.uploaded_files))
    client = reporter_app.test_client()
    first = report_with_files(client, [("foto.docx", b"PK docx", "application/zip")], what="Biasa")
    page = first.get_data(as_text=True)
    assert first.status_code == 200 and 'id="identifying-warning"' in page
    assert page.count("masih memuat lokasi GPS dalam data tersembunyinya") == 1
    assert "106 deg 49" in page and "seseorang atau sebuah kantor" not in page
    assert "masih memuat kamera atau perangkat dalam data tersembunyinya: Samsung" in page


def test_a_mailbox_message_with_a_phone_number_is_warned_then_sent_anyway(
    demo, reporter_app, database_url
):
    client = reporter_app.test_client()
    code, passphrase = receipt(report_with_files(client, []))
    assert login(client, code, passphrase).status_code == 303
    body = "Hubungi saya di 0812-3456-7890 kalau perlu."
    data = {
        **form_tokens(client, "/mailbox"),
        "body": body,
        "attachments": [(io.BytesIO(b"lampiran"), "lampiran.txt", "text/plain")],
    }
    before = counts(database_url)
    warned = client.post("/mailbox/messages", data=data, content_type="multipart/form-data")
    page = warned.get_data(as_text=True)
    assert warned.status_code == 200 and 'id="identifying-warning"' in page
    assert "…7890" in page and body in page and "lampiran.txt" in page
    assert 'id="metadata-warning"' in page and "video" in page
    assert counts(database_url) == before
    carried = fields_of(page)
    sent = client.post(
        "/mailbox/messages",
        data={**carried, "body": body, "send_anyway": "1"},
        content_type="multipart/form-data",
    )
    assert sent.status_code in (200, 303)
    assert counts(database_url) == (before[0], before[1] + 1, before[2] + 1)
    thread = client.get("/mailbox").get_data(as_text=True)
    assert "lampiran.txt" in thread and thread.count(body) == 1


def test_mailbox_notices_after_a_message_with_files(demo, reporter_app, monkeypatch):
    monkeypatch.setattr(mailbox_views, "uploaded_files", with_author(mailbox_views.uploaded_files))
    client = reporter_app.test_client()
    code, passphrase = receipt(report_with_files(client, []))
    assert login(client, code, passphrase).status_code == 303
    data = {
        **form_tokens(client, "/mailbox"),
        "body": "Berkas tambahan",
        "attachments": [(io.BytesIO(b"PK"), "nota.docx", "application/zip")],
    }
    warned = client.post("/mailbox/messages", data=data, content_type="multipart/form-data")
    page = warned.get_data(as_text=True)
    assert "Siti A." in page
    sent = client.post(
        "/mailbox/messages",
        data={**fields_of(page), "body": "Berkas tambahan", "send_anyway": "1"},
        content_type="multipart/form-data",
    )
    done = sent.get_data(as_text=True)
    assert sent.status_code == 200 and 'id="file-notices"' in done and "nota.docx" in done


def test_a_token_from_the_report_form_does_not_open_on_the_mailbox(demo, reporter_app):
    client = reporter_app.test_client()
    first = report_with_files(client, [("x.txt", b"x", "text/plain")], what=NIK_TEXT)
    token = fields_of(first.get_data(as_text=True))["kept_files"]
    code, passphrase = receipt(report_with_files(client, []))
    assert login(client, code, passphrase).status_code == 303
    data = {**form_tokens(client, "/mailbox"), "body": "Biasa saja", "kept_files": token}
    answer = client.post("/mailbox/messages", data=data, content_type="multipart/form-data")
    assert answer.status_code == 400
    assert str(uuid.UUID(int=0)) not in answer.get_data(as_text=True)


def test_kept_files_purged_after_an_idle_hour_are_named_and_must_be_chosen_again(
    demo, reporter_app, database_url
):
    client = reporter_app.test_client()
    first = report_with_files(client, [("lama.txt", b"lama", "text/plain")], what=NIK_TEXT)
    carried = fields_of(first.get_data(as_text=True))
    with database(database_url) as session:  # every staged blob idle for two hours
        session.execute(text("UPDATE blob SET active_bucket = active_bucket - 12 WHERE NOT linked"))
        session.commit()
        assert purge_stale(session) >= 1
        session.commit()
    before = counts(database_url)
    answer = post_report(client, {**report_data(), **carried, "send_anyway": "1"})
    page = answer.get_data(as_text=True)
    assert answer.status_code == 409 and "lama.txt" in page and NIK_TEXT in page
    assert 'name="kept_files"' not in page  # nothing left to carry
    assert counts(database_url) == before


def test_each_round_restarts_the_kept_files_idle_hour(demo, reporter_app, database_url):
    client = reporter_app.test_client()
    first = report_with_files(client, [("aktif.txt", b"aktif", "text/plain")], what=NIK_TEXT)
    carried = fields_of(first.get_data(as_text=True))
    with database(database_url) as session:
        session.execute(text("UPDATE blob SET active_bucket = active_bucket - 5 WHERE NOT linked"))
        session.commit()
    again = post_report(client, {**report_data(), **carried})  # warned again: a round
    assert again.status_code == 200 and "aktif.txt" in again.get_data(as_text=True)
    with database(database_url) as session:
        purge_stale(session, time.time() + 3000)  # 50 minutes later: this one still kept
        session.commit()
    before = counts(database_url)
    carried = fields_of(again.get_data(as_text=True))
    receipt(post_report(client, {**report_data(), **carried, "send_anyway": "1"}))
    assert counts(database_url) == (before[0] + 1, before[1] + 1, before[2] + 1)


def test_kept_and_new_files_together_obey_the_count_limit(demo, reporter_app, config):
    client = reporter_app.test_client()
    kept = [(f"k{i}.txt", b"k", "text/plain") for i in range(config.max_files)]
    first = report_with_files(client, kept, what=NIK_TEXT)
    carried = fields_of(first.get_data(as_text=True))
    answer = post_report(
        client, {**report_data(), **carried, "send_anyway": "1"}, [("baru.txt", b"b", "text/plain")]
    )
    page = answer.get_data(as_text=True)
    assert answer.status_code == 400 and "k0.txt" in page  # the kept ones still listed
