"""What the browser tests share: Debian's Chromium driven by Playwright, and a portal
served in this process (for a config no environment variable can give, such as
an idle limit of seconds), plainly or behind the real front (sipadu.hosting.front)."""

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import uvicorn
from playwright.sync_api import Browser, Page, expect, sync_playwright
from werkzeug.serving import WSGIRequestHandler, make_server

from sipadu import create_app
from sipadu.hosting.serve import Portal, portal_asgi, uvicorn_options
from sipadu.settings.config import Config
from sipadu.web.context import dispose
from tests.helpers import Person

AXE = Path(__file__).parent / "browser" / "node_modules" / "axe-core" / "axe.min.js"
SEND_REPORT = "#report-form .actions button[type=submit]"
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


@contextmanager
def chromium() -> Iterator[Browser]:
    """Debian's Chromium, headless; closed on leaving."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        try:
            yield browser
        finally:
            browser.close()


def loaded_html(page: Page) -> str:
    """The page's HTML once its document has loaded.

    ``page.click`` returns once a navigation commits, before the new document is parsed:
    ``page.content()`` read then is ``""``, which fails a "text in page" assertion and
    passes a "text not in page" one vacuously. Raises ``AssertionError`` on an empty page.
    """
    page.wait_for_load_state("load")
    content = page.content()
    assert content, "the page has no document"
    return content


def throttle(page: Page, upload: int) -> None:
    """Chromium's network emulation: uploads at ``upload`` bytes per second."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 20, "downloadThroughput": -1, "uploadThroughput": upload},
    )


def new_page(browser: Browser, *, javascript: bool = False) -> Page:
    """A page in a context of its own (its own cookies), in Bahasa Indonesia, waiting at
    most 10 s for anything; with ``javascript``, axe-core loaded into every page (make
    tests/browser/node_modules/.installed-sipadu)."""
    context = browser.new_context(java_script_enabled=javascript, locale="id-ID")
    context.set_default_timeout(10_000)
    if javascript:
        context.add_init_script(path=str(AXE))
    return context.new_page()


def staff_signed_in(
    browser: Browser, staff: str, person: Person, *, javascript: bool = False
) -> Page:
    """A :func:`new_page` of ``person``'s own, signed in to the staff portal at ``staff``
    with password and the code their authenticator app shows; on the home page."""
    page = new_page(browser, javascript=javascript)
    page.goto(staff + "/login")
    page.fill("#username", person.username)
    page.fill("#password", person.password)
    page.fill("#totp", person.code())
    page.click("main form button[type=submit]")
    expect(page.locator("h1")).to_contain_text("Selamat datang")
    return page


class NoAccessLog(WSGIRequestHandler):
    """The portal logs no request (and its anonymizing layer removes the address
    Werkzeug's access log would print)."""

    def log_request(self, *args: object, **kwargs: object) -> None:
        pass


@contextmanager
def reporter_in_process(config: Config) -> Iterator[str]:
    """The reporter portal under Werkzeug's threaded server; yields its base URL."""
    with portal_in_process("reporter", config) as base:
        yield base


@contextmanager
def portal_in_process(portal: str, config: Config) -> Iterator[str]:
    """One portal (``"reporter"`` or ``"staff"``) under Werkzeug's threaded server, in
    this process; yields its base URL."""
    app = create_app(portal, config)
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=NoAccessLog)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        dispose(app)


@contextmanager
def reporter_behind_the_front(config: Config) -> Iterator[str]:
    """The reporter portal as ``sipadu serve`` runs it in a worker (uvicorn, the front,
    its thread pools), on an event loop of its own thread; yields its base URL."""
    asgi = portal_asgi(Portal.REPORTER, config)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    options = uvicorn_options(config, asgi.pages)
    server = uvicorn.Server(
        uvicorn.Config(asgi, host="127.0.0.1", port=port, log_config=None, **options)
    )
    thread = threading.Thread(target=asyncio.run, args=(server.serve(),), daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the portal did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
