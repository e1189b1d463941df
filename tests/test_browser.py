"""The reporter's whole journey in a real browser with JavaScript switched off, as in Tor
Browser's "Safest" level: Debian's Chromium driven by Playwright, the portal under
gunicorn. Report with evidence, keep the code, open the mailbox, reply, leave."""

import pytest
from playwright.sync_api import sync_playwright

from tests.helpers import reporter_under_gunicorn

CHROMIUM = "/usr/bin/chromium"  # Debian's package (the Makefile installs it)
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
def portal(empty_database_url, tmp_path, redis_url):
    with reporter_under_gunicorn(empty_database_url, tmp_path, redis_url) as (_, base):
        yield base


def test_the_reporter_journey_works_without_javascript(portal, tmp_path):
    evidence = tmp_path / "bukti.txt"
    evidence.write_bytes(b"isi bukti yang dikirim lewat peramban\n")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        context = browser.new_context(java_script_enabled=False)
        page = context.new_page()
        requests: list[str] = []
        page.on("request", lambda request: requests.append(request.url))

        page.goto(portal + "/")
        assert "Laporkan penyimpangan" in page.content()
        page.click("text=Buat laporan")
        page.check("input[name=category][value=kkn]")
        page.fill("#title", "Pungutan liar di loket perizinan")
        page.fill("#what", "Petugas meminta uang tambahan di luar tarif resmi.")
        page.fill("#who", "Petugas loket 3")
        page.fill("#identity", "")
        page.set_input_files("#attachments", str(evidence))
        page.click("button[type=submit]")

        code = page.inner_text("#report-code")
        passphrase = page.inner_text("#report-passphrase")
        assert len(code.replace(" ", "")) == 16 and len(passphrase.split()) == 6

        page.click("text=Buka kotak surat saya")
        page.fill("#code", code)
        page.fill("#passphrase", passphrase)
        page.click("button[type=submit]")
        assert page.inner_text("#report-status") == "Diterima"
        assert "Pungutan liar di loket perizinan" in page.content()
        assert "bukti.txt" in page.content()

        page.fill("#body", "Saya bisa menambahkan keterangan bila diperlukan.")
        page.click("text=Kirim pesan")
        assert "Pesan Anda sudah terkirim." in page.content()

        page.click("text=Keluar dari kotak surat")
        assert "Anda sudah keluar" in page.content()
        page.goto(portal + "/mailbox")
        assert "/mailbox/login" in page.url  # the session is gone

        page.goto(portal + "/?lang=en")
        assert "Make a report" in page.content()
        browser.close()
    assert requests and all(url.startswith(portal) for url in requests)  # nothing from elsewhere
