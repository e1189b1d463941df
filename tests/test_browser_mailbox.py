"""The reporter's side of issue 18 item 1 in a real browser with JavaScript off (Tor
Browser "Safest"): Debian's Chromium driven by Playwright, the portal under gunicorn.
The reporter of a report an operator typed first takes a new code of their own (the
slip's code then opens nothing), signs in with it and confirms the report, or corrects
it; then changes the passphrase and signs in with the new one (the old one no longer
opens)."""

from playwright.sync_api import expect

from tests.chromium import chromium, loaded_html
from tests.helpers import config_env, reporter_under_gunicorn, typed_report

OPEN_MAILBOX = "#login-form .actions button[type=submit]"
LEAVE_MAILBOX = "form[action*=logout] button[type=submit]"


def sign_in(page, base: str, code: str, passphrase: str) -> None:
    page.goto(base + "/mailbox/login")
    page.fill("#code", code)
    page.fill("#passphrase", passphrase)
    page.click(OPEN_MAILBOX)


def take_new_code(page, passphrase: str = "") -> tuple[str, str]:
    """The new-code page of a typed report's first sign-in: nothing of the report on
    it; the new code (and a suggested passphrase) shown on the next page."""
    assert page.url.endswith("/mailbox/passphrase")
    assert page.inner_text("h1") == "Ambil kode laporan Anda sendiri"
    assert "Petugas loket" not in loaded_html(page)
    if passphrase:
        page.fill("#passphrase", passphrase)
        page.fill("#passphrase_confirm", passphrase)
    page.click("#new-code-form .actions button[type=submit]")
    assert page.inner_text("h1") == "Kode laporan baru Anda"
    assert "Kode pada slip dari loket tidak berlaku lagi" in page.inner_text("#new-code-taken")
    code = page.inner_text("#report-code")
    return code, passphrase or page.inner_text("#report-passphrase")


def open_mailbox_after_new_code(page) -> None:
    page.check("#written")
    page.click("#leave-form .actions button[type=submit]")
    expect(page.locator("#report-status")).to_have_count(1)


def test_confirming_correcting_and_a_new_passphrase_work_without_javascript(
    new_database_url, tmp_path, redis_url
):
    with reporter_under_gunicorn(new_database_url, tmp_path, redis_url) as (_, base):
        env = config_env(tmp_path / "instance", new_database_url, redis_url)
        confirmed = typed_report(env, "Diketik petugas: dikonfirmasi")
        corrected = typed_report(env, "Diketik petugas: dikoreksi")
        with chromium() as browser:
            context = browser.new_context(java_script_enabled=False)
            page = context.new_page()
            requests: list[str] = []
            page.on("request", lambda request: requests.append(request.url))

            sign_in(page, base, *confirmed)  # the slip's code: the new-code page only
            page.goto(base + "/mailbox")
            assert page.url.endswith("/mailbox/passphrase")
            new_code, new_passphrase = take_new_code(page)
            assert new_code != confirmed[0] and len(new_passphrase.split()) == 7
            open_mailbox_after_new_code(page)
            page.click(LEAVE_MAILBOX)
            sign_in(page, base, *confirmed)  # the slip no longer opens anything
            assert "/mailbox/login" in page.url and "tidak benar" in loaded_html(page)
            sign_in(page, base, new_code, new_passphrase)
            assert page.inner_text("#transcript-title") == (
                "Apakah ini yang Anda sampaikan kepada kami?"
            )
            assert "Petugas loket meminta uang Rp 50.000" in page.inner_text("#transcript")
            page.click("text=Ya, ini yang saya sampaikan")
            assert "mengonfirmasi" in page.inner_text("#transcript-answered")
            assert page.locator("#transcript").count() == 0
            assert "Anda telah mengonfirmasi" in page.inner_text("#transcript-state")
            page.click(LEAVE_MAILBOX)

            sign_in(page, base, *corrected)
            code, passphrase = take_new_code(page, "kupu kupu kuning di taman kota")
            open_mailbox_after_new_code(page)
            page.fill("#correction", "Bukan Rp 50.000, tetapi Rp 75.000.")
            page.fill("#body", "Satu hal lagi: ada saksi.")
            # The language switch keeps both the correction and the reply (issue 18).
            for language in ("en", "id"):
                page.click(f"button[name=switch_language][value={language}]")
                assert page.input_value("#correction") == "Bukan Rp 50.000, tetapi Rp 75.000."
                assert page.input_value("#body") == "Satu hal lagi: ada saksi."
            page.click("text=Kirim koreksi saya")
            assert "koreksi Anda sudah dikirim" in page.inner_text("#transcript-answered")
            assert page.input_value("#body") == "Satu hal lagi: ada saksi."  # kept, not sent
            assert "Satu hal lagi" not in page.inner_text(".thread")
            thread = page.inner_text(".thread")
            assert "Bukan Rp 50.000, tetapi Rp 75.000." in thread
            assert "Koreksi Anda atas laporan yang diketik" in thread

            page.click("#change-passphrase")
            page.fill("#code", code)
            page.fill("#current_passphrase", passphrase)
            page.click("#passphrase-form .actions button[type=submit]")  # both new ones blank
            new = page.inner_text("#new-passphrase")
            assert len(new.split()) == 7 and new != passphrase
            assert "Frasa sandi Anda sudah diganti" in loaded_html(page)
            page.click("text=Kembali ke kotak surat saya")
            expect(page.locator("#report-status")).to_have_count(1)  # still signed in here
            page.click(LEAVE_MAILBOX)

            sign_in(page, base, code, passphrase)  # the old one no longer opens
            assert "/mailbox/login" in page.url
            assert "tidak benar" in loaded_html(page)
            sign_in(page, base, code, new)
            assert page.inner_text("#report-status") == "Diterima"
            assert "Bukan Rp 50.000, tetapi Rp 75.000." in loaded_html(page)
        assert requests and all(url.startswith(base) for url in requests)
