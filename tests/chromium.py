"""What the browser tests share: Debian's Chromium driven by Playwright, and a portal
served in this process (for a config no environment variable can give, such as
an idle limit of seconds), plainly or behind the real front (sipadu.hosting.front)."""

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from playwright.sync_api import Browser, Page, sync_playwright
from werkzeug.serving import WSGIRequestHandler, make_server

from sipadu import create_app
from sipadu.hosting.serve import Portal, portal_asgi, uvicorn_options
from sipadu.settings.config import Config
from sipadu.web.context import dispose

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


def throttle(page: Page, upload: int) -> None:
    """Chromium's network emulation: uploads at ``upload`` bytes per second."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 20, "downloadThroughput": -1, "uploadThroughput": upload},
    )


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
