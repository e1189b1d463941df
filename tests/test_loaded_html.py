"""The browser tests read a page's HTML only once its document has loaded: ``page.click``
returns when a navigation commits, and a document whose body is still on its way reads
as ``""`` (CI failed once on this: "Pesan Anda sudah terkirim." in ``""``)."""

import threading
import time
from collections.abc import Iterator

import pytest
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from tests.chromium import NoAccessLog, chromium, loaded_html

BODY = "<!doctype html><title>t</title><p>Pesan Anda sudah terkirim.</p>"


@Request.application
def slow_page(request: Request) -> Response:
    """A form at ``/``; the page it posts to sends its headers, then its body 1.5 s later."""
    if request.method == "GET":
        form = "<!doctype html><form method=post action=/sent><button id=send>Kirim</button></form>"
        return Response(form, content_type="text/html")

    def late() -> Iterator[bytes]:
        yield b" " * 16  # the headers and a first byte: the navigation commits
        time.sleep(1.5)
        yield BODY.encode()

    return Response(late(), content_type="text/html")


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    httpd = make_server("127.0.0.1", 0, slow_page, threaded=True, request_handler=NoAccessLog)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{httpd.server_port}"
    finally:
        httpd.shutdown()


def test_a_page_read_right_after_a_click_may_have_no_document_yet_but_loaded_html_waits(server):
    with chromium() as browser:
        page = browser.new_context(java_script_enabled=False).new_page()
        page.goto(server + "/")
        page.click("#send")
        assert "terkirim" not in page.content()  # the race the helper exists for
        assert "Pesan Anda sudah terkirim." in loaded_html(page)
