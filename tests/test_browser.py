"""The reporter's whole journey in a real browser with JavaScript switched off, as in Tor
Browser's "Safest" level: Debian's Chromium driven by Playwright, the portal under
gunicorn. Report with evidence, keep the code, open the mailbox, reply, leave."""

import pytest
from sqlalchemy import func, select

from sipadu.persistence.models import Message, Report
from tests.chromium import SEND_REPORT, chromium, loaded_html
from tests.helpers import database, reporter_under_gunicorn


@pytest.fixture(scope="module")
def served(database_url, tmp_path_factory, redis_url):
    """One portal for the module (each test counts the rows its own journey adds)."""
    root = tmp_path_factory.mktemp("served")
    with reporter_under_gunicorn(database_url, root, redis_url) as (_, base):
        yield base, database_url


@pytest.fixture(scope="module")
def portal(served):
    return served[0]


@pytest.fixture(scope="module")
def browser():
    with chromium() as launched:
        yield launched


def test_the_reporter_journey_works_without_javascript(portal, browser, tmp_path):
    evidence = tmp_path / "bukti.txt"
    evidence.write_bytes(b"isi bukti yang dikirim lewat peramban\n")
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))

    page.goto(portal + "/")
    assert "Laporkan penyimpangan" in loaded_html(page)
    page.click("text=Buat laporan")
    page.check("input[name=category][value=kkn]")
    page.fill("#title", "Pungutan liar di loket perizinan")
    page.fill("#what", "Petugas meminta uang tambahan di luar tarif resmi.")
    page.fill("#who", "Petugas loket 3")
    page.fill("#identity", "")
    page.set_input_files("#attachments", str(evidence))
    page.click(SEND_REPORT)

    code = page.inner_text("#report-code")
    passphrase = page.inner_text("#report-passphrase")
    assert len(code.replace(" ", "")) == 16 and len(passphrase.split()) == 7

    page.check("#written")  # "I have written it down" before leaving the code page
    page.click("text=Buka kotak surat saya")
    page.fill("#code", code)
    page.fill("#passphrase", passphrase)
    page.click("button[type=submit]")
    assert page.inner_text("#report-status") == "Diterima"
    assert "Pungutan liar di loket perizinan" in loaded_html(page)
    assert "bukti.txt" in loaded_html(page)

    page.fill("#body", "Saya bisa menambahkan keterangan bila diperlukan.")
    page.click("text=Kirim pesan")
    assert "Pesan Anda sudah terkirim." in loaded_html(page)

    page.click("text=Keluar dari kotak surat")
    assert "Anda sudah keluar" in loaded_html(page)
    page.goto(portal + "/mailbox")
    assert "/mailbox/login" in page.url  # the session is gone

    page.goto(portal + "/?lang=en")
    assert "Make a report" in loaded_html(page)
    context.close()
    assert requests and all(url.startswith(portal) for url in requests)  # nothing from elsewhere


# --- issue 16 items 1-3: the code, the words and one report per form ----------------------


@pytest.fixture
def browser_page(browser):
    context = browser.new_context(java_script_enabled=False)
    yield context.new_page()
    context.close()


def count(database_url: str, model) -> int:
    with database(database_url) as session:
        return session.scalar(select(func.count()).select_from(model))


def fill_report(page, base: str, title: str) -> None:
    page.goto(base + "/report")
    page.check("input[name=category][value=kkn]")
    page.fill("#title", title)
    page.fill("#what", "Petugas meminta uang tambahan di luar tarif resmi.")


def test_the_code_page_cannot_be_left_without_the_code(served, browser_page):
    base, database_url = served
    before = count(database_url, Report)
    page = browser_page
    fill_report(page, base, "Kode tidak boleh hilang")
    page.click(SEND_REPORT)
    code, passphrase = page.inner_text("#report-code"), page.inner_text("#report-passphrase")
    assert page.locator("a").count() == 0  # no link anywhere leads away

    page.click("header >> text=English")  # the language switch keeps the code
    assert "Your report has been received" in loaded_html(page)
    assert page.inner_text("#report-code") == code
    assert page.inner_text("#report-passphrase") == passphrase

    page.click("text=Open my mailbox")  # not ticked: the browser does not leave
    assert page.inner_text("#report-code") == code

    page.emulate_media(media="print")  # the slip: the code only, unless asked
    assert page.is_visible("#report-code") and not page.is_visible("#report-passphrase")
    assert not page.is_visible("header") and not page.is_visible("#leave-form")
    page.emulate_media(media="screen")
    page.check("#print-passphrase")
    page.emulate_media(media="print")
    assert page.is_visible("#report-passphrase") and page.is_visible("#report-code")
    page.emulate_media(media="screen")

    page.check("#written")
    page.click("text=Open my mailbox")
    assert "/mailbox/login" in page.url and "lang=en" in page.url
    assert count(database_url, Report) == before + 1


def test_switching_language_keeps_what_was_typed(served, browser_page, tmp_path):
    base, _ = served
    page = browser_page
    evidence = tmp_path / "bukti.txt"
    evidence.write_bytes(b"bukti\n")
    fill_report(page, base, "Judul yang diketik")
    page.fill("#who", "Petugas loket 3")
    page.fill("#passphrase", "sebuah frasa sandi pilihan saya sendiri")
    page.fill("#passphrase_confirm", "sebuah frasa sandi pilihan saya sendiri")
    page.set_input_files("#attachments", str(evidence))
    page.click("header >> text=English")
    assert "Make a report" in loaded_html(page)
    assert page.input_value("#title") == "Judul yang diketik"
    assert page.input_value("#what") == "Petugas meminta uang tambahan di luar tarif resmi."
    assert page.input_value("#who") == "Petugas loket 3"
    assert page.input_value("#passphrase") == "sebuah frasa sandi pilihan saya sendiri"
    assert page.is_checked("input[name=category][value=kkn]")
    assert "Choose your files again" in page.inner_text("#notice")
    page.press("#title", "Enter")  # Enter sends the report, not the language switch
    assert page.inner_text("#report-code")

    code, passphrase = page.inner_text("#report-code"), "sebuah frasa sandi pilihan saya sendiri"
    page.check("#written")
    page.click("text=Open my mailbox")
    page.fill("#code", code)
    page.fill("#passphrase", passphrase)
    page.click("button[type=submit]")
    page.fill("#body", "Balasan yang belum terkirim")
    page.set_input_files("#attachments", str(evidence))
    page.click("header >> text=Bahasa Indonesia")
    assert "Kotak surat saya" in loaded_html(page)
    assert page.input_value("#body") == "Balasan yang belum terkirim"
    assert "Pilih berkas Anda lagi" in page.inner_text("#notice")
    assert (
        "Balasan yang belum terkirim" not in page.inner_text(".thread article")
        if page.locator(".thread article").count()
        else True
    )


def test_the_same_form_sent_again_makes_one_report_and_one_message(served, browser_page):
    base, database_url = served
    reports, messages = count(database_url, Report), count(database_url, Message)
    page = browser_page
    posts = []
    page.on("request", lambda r: posts.append(r) if r.method == "POST" else None)
    fill_report(page, base, "Sekali saja")
    page.click(SEND_REPORT)
    code, passphrase = page.inner_text("#report-code"), page.inner_text("#report-passphrase")

    page.reload()  # the browser sends the same form again
    assert page.inner_text("#report-code") == code
    assert page.inner_text("#report-passphrase") == passphrase
    assert "sudah diterima" in loaded_html(page)
    assert count(database_url, Report) == reports + 1

    page.check("#written")
    page.click("text=Buka kotak surat saya")
    page.fill("#code", code)
    page.fill("#passphrase", passphrase)
    page.click("button[type=submit]")
    page.fill("#body", "Pesan satu kali")
    page.click("text=Kirim pesan")
    sent = next(r for r in reversed(posts) if r.url.endswith("/mailbox/messages"))
    again = page.context.request.post(
        sent.url, headers={"Content-Type": sent.headers["content-type"]}, data=sent.post_data_buffer
    )  # the same body again, with the browser's cookies (Back and resend)
    assert again.ok and "sudah terkirim sebelumnya" in again.text()
    assert count(database_url, Message) == messages + 1
