"""Nothing the reporter typed is lost to an ended session or a refused form, in a real
browser with JavaScript off (issue 16, items 4 and 5): Debian's Chromium driven by
Playwright against the reporter portal, with a mailbox idle limit of a few seconds and
files of at most 1 MiB (config), served in this process."""

import time
from dataclasses import replace

import pytest

from sipadu.settings.config import load_config
from tests.chromium import SEND_REPORT, chromium, loaded_html, reporter_in_process
from tests.helpers import init_demo

IDLE_SECONDS = 3
OPEN_MAILBOX = "#login-form .actions button[type=submit]"  # not the hidden Enter button
REPLY = "Saya menulis balasan ini lama sekali.\nBaris kedua balasan saya."


@pytest.fixture(scope="module")
def portal(env):
    init_demo(env)
    limits = {"SIPADU_MAX_FILE_MIB": "1", "SIPADU_MAX_REQUEST_MIB": "3"}
    config = replace(load_config({**env, **limits}), mailbox_idle_seconds=IDLE_SECONDS)
    with reporter_in_process(config) as base:
        yield base


@pytest.fixture(scope="module")
def page():
    with chromium() as browser:
        yield browser.new_context(java_script_enabled=False).new_page()


def fill_report(page, portal: str, **fields: str) -> None:
    page.goto(portal + "/report")
    page.check("input[name=category][value=kkn]")
    page.fill("#title", fields.get("title", "Pungutan liar di loket"))
    page.fill("#what", fields.get("what", "Petugas meminta uang tambahan."))
    page.fill("#who", "Petugas loket 3")
    page.fill("#passphrase", "kalimat rahasia saya sendiri")
    page.fill("#passphrase_confirm", "kalimat rahasia saya sendiri")


def assert_kept(page) -> None:
    assert page.input_value("#title") == "Pungutan liar di loket"
    assert page.input_value("#who") == "Petugas loket 3"
    assert page.input_value("#passphrase") == "kalimat rahasia saya sendiri"
    assert page.is_checked("input[name=category][value=kkn]")


def test_a_reply_after_the_idle_limit_is_kept_and_sent_after_signing_in(portal, page, tmp_path):
    fill_report(page, portal)
    page.click(SEND_REPORT)
    code = page.inner_text("#report-code")
    page.goto(portal + "/mailbox/login")
    page.fill("#code", code)
    page.fill("#passphrase", "kalimat rahasia saya sendiri")
    page.click(OPEN_MAILBOX)

    page.fill("#body", REPLY)
    time.sleep(IDLE_SECONDS + 1.5)  # writing for longer than the idle limit
    page.click("button:has-text('Kirim pesan')")
    assert "/mailbox/login" in page.url or page.query_selector("#code") is not None
    assert "tertutup sendiri" in page.inner_text("#notice")
    assert page.input_value("#reply") == REPLY  # in the sign-in form, not lost

    page.fill("#code", code)
    page.fill("#passphrase", "kalimat rahasia saya sendiri")
    page.click(OPEN_MAILBOX)
    assert page.query_selector("#kept-reply") is not None
    assert page.input_value("#body") == REPLY
    page.click("button:has-text('Kirim pesan')")  # one press
    assert "Pesan Anda sudah terkirim." in loaded_html(page)
    assert "Baris kedua balasan saya." in page.inner_text(".thread")
    assert "menit tidak digunakan" in page.inner_text("#idle-limit")  # said above the box


def test_too_many_files_keep_the_form_and_name_the_files(portal, page, tmp_path):
    files = []
    for n in range(21):
        path = tmp_path / f"lampiran-{n:02d}.txt"
        path.write_text(f"bukti {n}\n")
        files.append(str(path))
    fill_report(page, portal)
    page.set_input_files("#attachments", files)
    page.click(SEND_REPORT)
    assert page.query_selector("#report-code") is None
    assert_kept(page)
    error = page.inner_text(".has-error .error-text")
    assert "Anda memilih 21 berkas" in error and "“lampiran-00.txt”" in error
    assert "dan 1 lainnya" in error  # the list is bounded
    page.goto(portal + "/report")
    assert "Paling banyak 20 berkas" in page.inner_text("#file-limits")  # said before


def test_an_oversize_file_keeps_the_form_and_is_named(portal, page, tmp_path):
    big = tmp_path / ("rekaman-rapat-dinas-" * 8 + "lengkap.mp4")
    big.write_bytes(b"\x00" * (1024 * 1024 + 1))
    small = tmp_path / "surat.pdf"
    small.write_bytes(b"%PDF-1.4\n")
    fill_report(page, portal)
    page.set_input_files("#attachments", [str(small), str(big)])
    page.click(SEND_REPORT)
    assert_kept(page)
    error = page.inner_text(".has-error .error-text")
    assert "….mp4” lebih besar dari 1 MB" in error
    assert "“surat.pdf”" in error and "dipilih lagi" in error


def test_a_text_at_its_limit_with_line_breaks_is_accepted(portal, page):
    what = ("Baris laporan yang panjang.\n" * 1000)[:20_000]  # as the browser counts: 20,000
    fill_report(page, portal, what=what)
    assert page.get_attribute("#what", "maxlength") == "20000"
    page.click(SEND_REPORT)
    assert page.query_selector("#report-code") is not None, page.inner_text("main")[:500]
