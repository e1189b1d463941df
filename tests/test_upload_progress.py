"""Upload progress on the reporter's forms (issue 16 item 6), in Debian's Chromium under
gunicorn. With JavaScript on, sipadu/static/upload.js sends the form with
XMLHttpRequest over a connection throttled by Chromium's own network emulation: the bar
moves, the percentage and the time left change, the send buttons are disabled, a second
press sends nothing, and the page ends on the server's answer with one report (or one
message). If the script's request fails, the form goes the usual way with the same
submission token: still one report. With JavaScript off the forms say how long a large
file takes over Tor, and work as before."""

import os
import time
from itertools import pairwise

import pytest
from playwright.sync_api import Error as PlaywrightError

from sipadu.persistence.models import Attachment, Message, Report
from tests.chromium import SEND_REPORT, chromium, loaded_html, throttle
from tests.helpers import reporter_under_gunicorn
from tests.test_browser import count, fill_report

UPLOAD_BYTES_PER_SECOND = 200 * 1024  # Chromium's emulated upload speed
SEND_MESSAGE = "#message-form .actions button[type=submit]"


@pytest.fixture(scope="module")
def served(database_url, tmp_path_factory, redis_url):
    """One portal for the module: each test counts the rows its own journey adds."""
    root = tmp_path_factory.mktemp("served")
    with reporter_under_gunicorn(database_url, root, redis_url) as (_, base):
        yield base, database_url


@pytest.fixture(scope="module")
def browser():
    with chromium() as browser:
        yield browser


def counts(database_url: str, *models) -> tuple[int, ...]:
    return tuple(count(database_url, model) for model in models)


@pytest.fixture
def evidence(tmp_path):
    path = tmp_path / "rekaman.bin"
    path.write_bytes(os.urandom(1024 * 1024))  # incompressible: about 5 s at the pace above
    return path


def posts_to(page, path: str) -> list:
    posts: list = []
    page.on(
        "request",
        lambda r: (
            posts.append(r) if r.method == "POST" and r.url.split("?")[0].endswith(path) else None
        ),
    )
    return posts


def upload_state(page, form: str) -> dict | None:
    """The progress box of ``form``: hidden, value, text, and whether every send button
    is disabled; None when the page has no such box."""
    return page.evaluate(
        """(form) => {
            const box = document.querySelector(form + " [data-upload]");
            if (!box) return null;
            const buttons = [...document.querySelector(form).elements]
                .filter((e) => e.type === "submit");
            return {
                hidden: box.hidden,
                value: box.querySelector("progress").value,
                text: box.querySelector("[data-upload-status]").textContent,
                disabled: buttons.length > 0 && buttons.every((b) => b.disabled),
            };
        }""",
        form,
    )


def watch_upload(page, form: str, done: str, second_press) -> tuple[list[int], list[str]]:
    """The progress bar's values and texts, sampled until ``done`` is on the page; while
    the upload runs, the send buttons are disabled and ``second_press`` is tried."""
    values: list[int] = []
    texts: list[str] = []
    pressed = False
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            if page.locator(done).count():
                return values, texts
            state = upload_state(page, form)
        except PlaywrightError as error:  # the answer page replaced this one mid-sample
            if "context was destroyed" not in str(error):
                raise
            page.wait_for_load_state()
            continue
        if state is not None and not state["hidden"]:
            if state["value"] < 100:
                assert state["disabled"], "a send button stays enabled during the upload"
            if not values or values[-1] != state["value"]:
                values.append(state["value"])
            if not texts or texts[-1] != state["text"]:
                texts.append(state["text"])
            if not pressed and 10 < state["value"] < 60:
                second_press()
                pressed = True
        page.wait_for_timeout(150)
    raise AssertionError(f"no answer page; progress seen: {values} {texts}")


def assert_moved(values: list[int], texts: list[str]) -> None:
    rising = [b for a, b in pairwise(values) if b > a]
    assert len(rising) >= 2, values  # the bar moved at least twice
    assert values == sorted(values), values
    percents = [t for t in texts if "%" in t]
    assert len(set(percents)) >= 2, texts  # its percentage text changed
    assert any("sisa" in t for t in texts), texts  # with the time left


def press_again(page, form: str, button: str):
    """A second click, Enter in a text field and a scripted submit: none sends again."""

    def press() -> None:
        page.click(button, force=True, timeout=2000)
        page.evaluate("(f) => document.querySelector(f).requestSubmit()", form)

    return press


def test_the_report_upload_shows_its_progress_and_is_sent_once(served, browser, evidence):
    base, database_url = served
    before = counts(database_url, Report, Attachment)
    page = browser.new_context(java_script_enabled=True).new_page()
    posts = posts_to(page, "/report")
    fill_report(page, base, "Bukti rekaman yang besar")
    assert page.is_hidden("#report-form [data-upload]")  # nothing shows before sending
    page.set_input_files("#attachments", str(evidence))
    throttle(page, UPLOAD_BYTES_PER_SECOND)
    started = time.monotonic()
    page.click(SEND_REPORT)
    values, texts = watch_upload(
        page, "#report-form", "#report-code", press_again(page, "#report-form", SEND_REPORT)
    )
    took = time.monotonic() - started
    assert_moved(values, texts)
    assert page.inner_text("#report-code") and page.inner_text("#report-passphrase")
    assert len(posts) == 1 and posts[0].resource_type == "xhr"
    assert counts(database_url, Report, Attachment) == (before[0] + 1, before[1] + 1)
    print(f"upload_seconds={took:.1f} progress_values={len(values)} texts={len(texts)}")
    print("progress_texts=" + " / ".join(texts[:: max(1, len(texts) // 6)]))


def test_a_reply_upload_shows_its_progress_and_is_sent_once(served, browser, evidence):
    base, database_url = served
    before = counts(database_url, Message, Attachment)
    page = browser.new_context(java_script_enabled=True).new_page()
    fill_report(page, base, "Laporan untuk balasan")
    page.click(SEND_REPORT)  # a report without files, through the script unthrottled
    page.wait_for_url(base + "/report/receipt")  # written in place, then loaded again
    code, passphrase = page.inner_text("#report-code"), page.inner_text("#report-passphrase")
    page.check("#written")
    page.click("text=Buka kotak surat saya")
    page.fill("#code", code)
    page.fill("#passphrase", passphrase)
    page.click("button[type=submit]")
    assert page.inner_text("#report-status") == "Diterima"

    posts = posts_to(page, "/mailbox/messages")
    page.fill("#body", "Rekaman percakapan terlampir.")
    page.set_input_files("#attachments", str(evidence))
    throttle(page, UPLOAD_BYTES_PER_SECOND)
    page.click(SEND_MESSAGE)
    values, texts = watch_upload(
        page,
        "#message-form",
        "text=Pesan Anda sudah terkirim.",
        press_again(page, "#message-form", SEND_MESSAGE),
    )
    assert_moved(values, texts)
    # The answer is the mailbox itself, with what was done to each file (issue 21)
    assert page.url.endswith("/mailbox")
    assert "rekaman.bin" in loaded_html(page)
    assert len(posts) == 1 and posts[0].resource_type == "xhr"
    assert counts(database_url, Message, Attachment) == (before[0] + 1, before[1] + 1)


def test_a_failed_script_upload_falls_back_to_the_usual_form(served, browser, tmp_path):
    base, database_url = served
    before = counts(database_url, Report, Attachment)
    evidence = tmp_path / "bukti.bin"
    evidence.write_bytes(os.urandom(300 * 1024))
    page = browser.new_context(java_script_enabled=True).new_page()
    posts = posts_to(page, "/report")
    aborted: list[str] = []

    def fail_the_script(route) -> None:
        if route.request.method == "POST" and route.request.resource_type == "xhr":
            aborted.append(route.request.url)
            route.abort("connectionreset")
        else:
            route.continue_()

    page.route("**/report*", fail_the_script)
    fill_report(page, base, "Tetap terkirim")
    page.set_input_files("#attachments", str(evidence))
    page.click(SEND_REPORT)
    page.wait_for_selector("#report-code", timeout=30000)
    assert len(aborted) == 1  # the script's request failed ...
    assert [p.resource_type for p in posts] == ["xhr", "document"]  # ... and the form went
    assert page.locator("#already-received").count() == 0  # a first, ordinary receipt
    assert counts(database_url, Report, Attachment) == (before[0] + 1, before[1] + 1)


def test_a_refusal_through_the_script_keeps_the_form_and_the_script(served, browser):
    base, database_url = served
    (before,) = counts(database_url, Report)
    page = browser.new_context(java_script_enabled=True).new_page()
    posts = posts_to(page, "/report")
    fill_report(page, base, "")  # no title: refused after the upload
    page.click(SEND_REPORT)
    page.wait_for_selector(".error-summary")
    assert page.input_value("#what") == "Petugas meminta uang tambahan di luar tarif resmi."
    assert page.url == base + "/report"  # a reload loads the form, never resends
    # Review: a reload of the refusal written in place loaded the empty form: the
    # browser now asks first.
    asked: list[str] = []
    page.on("dialog", lambda dialog: (asked.append(dialog.type), dialog.dismiss()))
    with pytest.raises(PlaywrightError):
        page.reload(timeout=3000)  # dismissed: the browser stays
    assert asked == ["beforeunload"]
    assert page.input_value("#what") == "Petugas meminta uang tambahan di luar tarif resmi."
    page.fill("#title", "Judul yang terlupa")
    page.click(SEND_REPORT)  # the page written in place is enhanced again
    page.wait_for_selector("#report-code")
    assert [p.resource_type for p in posts] == ["xhr", "xhr"]
    assert count(database_url, Report) == before + 1
    # Review: the code page was only written in place at /report, where Reload (after a
    # "leave site?" question) loaded an empty form: the code was gone. It is now loaded
    # again as an ordinary POST of its own form, which a reload sends again.
    code = page.inner_text("#report-code")
    page.wait_for_url(base + "/report/receipt")
    assert page.inner_text("#report-code") == code
    page.reload()
    assert page.inner_text("#report-code") == code
    assert count(database_url, Report) == before + 1


def test_without_javascript_the_forms_say_large_files_take_long(served, browser, tmp_path):
    base, database_url = served
    before = counts(database_url, Report, Message)
    evidence = tmp_path / "bukti.txt"
    evidence.write_bytes(b"bukti\n")
    page = browser.new_context(java_script_enabled=False).new_page()
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    fill_report(page, base, "Tanpa JavaScript")
    notice = page.inner_text("#tor-time")
    assert "Tor" in notice and "45 MB" in notice and "15 menit" in notice
    assert page.is_hidden("#report-form [data-upload]")
    page.set_input_files("#attachments", str(evidence))
    page.click(SEND_REPORT)
    code, passphrase = page.inner_text("#report-code"), page.inner_text("#report-passphrase")
    assert count(database_url, Report) == before[0] + 1
    page.check("#written")
    page.click("text=Buka kotak surat saya")
    page.fill("#code", code)
    page.fill("#passphrase", passphrase)
    page.click("button[type=submit]")
    assert "15 menit" in page.inner_text("#tor-time")
    page.fill("#body", "Tanpa skrip.")
    page.set_input_files("#attachments", str(evidence))
    page.click(SEND_MESSAGE)
    assert "Pesan Anda sudah terkirim." in loaded_html(page)
    assert count(database_url, Message) == before[1] + 1
    assert not any(url.endswith("upload.js") for url in requests)  # never loaded


def test_the_report_form_with_its_script_stays_small(served, browser):
    base, _ = served
    page = browser.new_context(java_script_enabled=True).new_page()
    sizes: dict[str, int] = {}
    page.on("response", lambda r: sizes.__setitem__(r.url, len(r.body())))
    page.goto(base + "/report?lang=en")
    page.wait_for_load_state("networkidle")
    assert "Over Tor large files take long" in page.inner_text("#tor-time")
    total = sum(sizes.values())
    print(f"report_form_requests={len(sizes)} report_form_bytes={total}")
    assert len(sizes) == 3  # the page, its style sheet, its script
    assert total <= 100 * 1024
    assert all(url.startswith(base) for url in sizes)
