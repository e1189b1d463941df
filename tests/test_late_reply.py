"""A reply with a large file sent after the mailbox session ended is not lost (issue 16,
item 4, found in review), with JavaScript off and on: Debian's Chromium, its upload
throttled, against the reporter portal behind the real front (uvicorn and
sipadu.hosting.front, as ``sipadu serve`` runs it) with an idle limit of 3 seconds.

The session has ended, so the app answers before the file has arrived: the sign-in page
keeping the reply's text. The front used to drain the rest of the body for at most 60
seconds and then close; a browser still sending got "connection reset", and with
JavaScript on the script's fallback sent the whole file again into the same reset. Now
the rest is drained at the body's pace however long it takes, and the browser shows the
sign-in page with the reply kept (tests/test_front.py shows the drain itself)."""

import os
import time
from dataclasses import replace

import pytest

from sipadu.settings.config import load_config
from tests.chromium import SEND_REPORT, chromium, reporter_behind_the_front, throttle
from tests.helpers import init_demo
from tests.test_browser_refusals import OPEN_MAILBOX, fill_report

IDLE_SECONDS = 3
UPLOAD_BYTES_PER_SECOND = 150 * 1024
REPLY = "Balasan yang saya tulis lama, dengan rekaman.\nBaris kedua."
PASSPHRASE = "kalimat rahasia saya sendiri"


@pytest.fixture(scope="module")
def portal(env):
    init_demo(env)
    config = replace(load_config(env), mailbox_idle_seconds=IDLE_SECONDS)
    with reporter_behind_the_front(config) as base:
        yield base


@pytest.fixture(scope="module")
def browser():
    with chromium() as browser:
        yield browser


@pytest.mark.parametrize("javascript", [False, True], ids=["js-off", "js-on"])
def test_a_late_reply_with_a_slow_file_comes_back_in_the_sign_in_page(
    portal, browser, tmp_path, javascript
):
    evidence = tmp_path / "rekaman-rapat.bin"
    evidence.write_bytes(os.urandom(1024 * 1024))  # ~7 s at the throttled speed
    page = browser.new_context(java_script_enabled=javascript).new_page()
    fill_report(page, portal)
    page.click(SEND_REPORT)
    if javascript:  # the script writes the code page, then loads it again as a POST
        page.wait_for_url(portal + "/report/receipt")
    code = page.inner_text("#report-code")
    page.goto(portal + "/mailbox/login")
    page.fill("#code", code)
    page.fill("#passphrase", PASSPHRASE)
    page.click(OPEN_MAILBOX)
    assert page.inner_text("#report-status")

    page.fill("#body", REPLY)
    page.set_input_files("#attachments", str(evidence))
    time.sleep(IDLE_SECONDS + 1.5)  # writing for longer than the idle limit
    throttle(page, UPLOAD_BYTES_PER_SECOND)
    started = time.monotonic()
    page.click("#message-form .actions button[type=submit]", no_wait_after=True)
    page.wait_for_selector("#reply", timeout=60_000)  # not "connection reset"
    assert time.monotonic() - started > 5  # the whole file was sent first
    assert page.input_value("#reply") == REPLY
    notice = page.inner_text("#notice")
    assert "tertutup sendiri" in notice and "pilih berkas itu lagi" in notice

    page.fill("#code", code)
    page.fill("#passphrase", PASSPHRASE)
    page.click(OPEN_MAILBOX)
    assert page.input_value("#body") == REPLY
    page.click("#message-form .actions button[type=submit]")
    page.wait_for_selector("text=Pesan Anda sudah terkirim.")
    page.wait_for_load_state("load")  # the whole thread, not the part parsed so far
    assert "Baris kedua." in page.inner_text(".thread")
    page.context.close()
