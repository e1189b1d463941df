"""``sipadu serve`` runs both portals under gunicorn; nothing about a request is logged."""

import http.client
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

from sipadu.app import Portal
from sipadu.hosting.serve import gunicorn_options, uvicorn_options
from tests.helpers import (
    CANARY_IP,
    IDENTIFYING_HEADERS,
    config_env,
    free_port,
    init_demo_instance,
    serving,
    wait_for,
)


def fetch(url: str) -> tuple[int, http.client.HTTPMessage, str]:
    request = urllib.request.Request(url, headers=IDENTIFYING_HEADERS)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.headers, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read().decode()


def test_gunicorn_options_keep_no_access_log_and_suit_slow_uploads(config):
    for portal in Portal:
        options = gunicorn_options(portal, config)
        assert options["accesslog"] is None
        assert options["worker_class"] == "sipadu.hosting.serve.PortalWorker"  # event-driven
        assert options["forwarded_allow_ips"] == ""
    front = uvicorn_options(config, lambda status, lang: ([], b"busy"))
    assert front["limit_concurrency"] is None  # the cap is the front's: idle ones go first
    assert front["access_log"] is False and front["proxy_headers"] is False
    assert front["server_header"] is False and front["headers"] == [("server", "SIPADU")]
    assert gunicorn_options(Portal.REPORTER, config)["bind"] == [config.reporter_bind]
    assert gunicorn_options(Portal.STAFF, config)["bind"] == [config.staff_bind]


@pytest.fixture
def served(new_database_url, tmp_path, redis_url):
    reporter_port, staff_port = free_port(), free_port()
    env = {
        **os.environ,
        **config_env(
            tmp_path / "instance",
            new_database_url,
            redis_url,
            SIPADU_REPORTER_BIND=f"127.0.0.1:{reporter_port}",
            SIPADU_STAFF_BIND=f"127.0.0.1:{staff_port}",
            SIPADU_WORKERS="1",
            SIPADU_THREADS="2",
        ),
    }
    sipadu = [sys.executable, "-m", "sipadu.cli"]
    subprocess.run([*sipadu, "init"], env=env, check=True, capture_output=True)
    process = subprocess.Popen(
        [*sipadu, "serve"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    reporter, staff = f"http://127.0.0.1:{reporter_port}", f"http://127.0.0.1:{staff_port}"
    try:
        deadline = time.monotonic() + 30
        try:
            wait_for(reporter + "/", deadline)
            wait_for(staff + "/", deadline)
        except AssertionError as slow:  # say why: what the servers printed
            process.send_signal(signal.SIGTERM)
            printed = process.communicate(timeout=30)[0].decode(errors="replace")
            raise AssertionError(f"{slow}; the servers printed:\n{printed[-3000:]}") from None
        yield process, reporter, staff
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)


def test_serve_runs_both_portals_and_logs_nothing_of_requests(served):
    process, reporter, staff = served
    for base, marker in ((reporter, "Buat laporan"), (staff, "Portal petugas")):
        status, headers, body = fetch(base + "/")
        assert status == 200 and marker in body
        assert headers["Content-Security-Policy"].startswith("default-src 'none'")
        assert headers["Cache-Control"] == "no-store"
        assert headers["Server"] == "SIPADU"  # not gunicorn and its version
        assert fetch(base + "/no-such-page-canary")[0] == 404
    assert fetch(reporter + "/login")[0] == 404  # no staff route on the reporter portal
    client_ports = []
    for base in (reporter, staff):  # requests the server can only log as broken
        for raw_request in (
            f"GET /broken-canary {CANARY_IP} HTTP/1.1\r\n\r\n".encode(),
            b"GET / HTTP/1.1\r\nX-Canary: " + b"x" * 20_000 + b"\r\n\r\n",  # head too big
        ):
            with socket.create_connection(("127.0.0.1", int(base.rsplit(":", 1)[1]))) as raw:
                client_ports.append(raw.getsockname()[1])
                raw.sendall(raw_request)
                assert raw.recv(100).startswith(b"HTTP/1.1 400 ")
    process.send_signal(signal.SIGTERM)
    output = process.communicate(timeout=30)[0].decode()
    assert process.returncode == 0, output
    for canary in (CANARY_IP, "CanaryAgent", "no-such-page-canary", "search.example", "canary"):
        assert canary not in output, output
    for port in client_ports:
        assert f"127.0.0.1:{port}" not in output and f"', {port})" not in output, output


ONION = "2gzyxa5ihm7nsggfxnu52rck2vv4rvmdlkiu3zzui5du4xyclen53wid.onion"  # a valid v3


def _exchange(port: int, raw_request: bytes) -> tuple[int, bytes]:
    """Send ``raw_request`` on a connection of its own; the client's port and the
    response head (empty if the server closed without an answer)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        client_port = raw.getsockname()[1]
        raw.sendall(raw_request)
        received = b""
        while b"\r\n\r\n" not in received:
            chunk = raw.recv(4096)
            if not chunk:
                break
            received += chunk
    return client_port, received.split(b"\r\n\r\n")[0]


def test_no_address_path_or_typed_text_reaches_the_servers_log(
    new_database_url, tmp_path, redis_url
):
    """Issue 15: with SIPADU_ONION_ADDRESS set, ``GET /%0d%0aSet-Cookie:%20x=1`` was a 500
    and wrote ``Exception on /`` and a ``Set-Cookie: x=1`` line into the log; any error
    in Flask wrote its path (``/mailbox/attachments/<uuid>``), and an exception's
    message the value that broke it. The server runs with two routes that fail the way
    a bug would (tests/failing_serve.py); its whole output is scanned."""
    env = config_env(
        tmp_path / "instance",
        new_database_url,
        redis_url,
        SIPADU_WORKERS="1",
        SIPADU_THREADS="2",
        SIPADU_ONION_ADDRESS=ONION,
    )
    init_demo_instance(env)
    log = tmp_path / "server.log"
    client_ports = []
    with serving("reporter", env, log, module="tests.failing_serve") as (_process, base):
        port = int(base.rsplit(":", 1)[1])

        def send(raw_request: bytes) -> bytes:
            client_port, head = _exchange(port, raw_request)
            client_ports.append(client_port)
            return head

        head = send(b"GET /%0d%0aSet-Cookie:%20x=1 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 404 "), head  # not a 500
        lines = head.lower().split(b"\r\n")
        assert f"onion-location: http://{ONION}/%0D%0ASet-Cookie:%20x=1".lower().encode() in lines
        assert b"set-cookie: x=1" not in lines
        head = send(b"GET /?lang=en&q=%0d%0aX:canary HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        assert f"onion-location: http://{ONION}/?lang=en&q=%0d%0aX:canary".lower().encode() in (
            head.lower().split(b"\r\n")
        )
        attachment = "/mailbox/attachments/5d6b8e00-0000-4000-8000-00000000ca4a"
        assert send(f"GET {attachment} HTTP/1.1\r\nHost: x\r\n\r\n".encode()).startswith(
            b"HTTP/1.1 303 "  # to the mailbox sign-in
        )
        failing = f"/_fails/canary-{CANARY_IP}-Injected?q=canary%0d%0aInjected"
        assert send(f"GET {failing} HTTP/1.1\r\nHost: x\r\n\r\n".encode()).startswith(
            b"HTTP/1.1 500 "
        )
        send(b"GET /_bad-header/canary-header HTTP/1.1\r\nHost: x\r\n\r\n")
        for malformed in (
            f"GET /broken-canary {CANARY_IP} HTTP/1.1\r\n\r\n".encode(),
            b"GET / HTTP/1.1\r\nBad Header canary: x\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: x\r\nX: a\x00canary\r\n\r\n",
            b"GET /\xffcanary HTTP/1.1\r\nHost: x\r\n\r\n",
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: canary\r\n\r\n",
            b"CANARY\r\n\r\n",
        ):
            assert send(malformed).startswith(b"HTTP/1.1 400 ")
        time.sleep(0.5)
    output = log.read_text(errors="replace")
    # The failures are logged, by class and place (this proves the scan sees them).
    assert "ValueError" in output and "LocalProtocolError" in output, output
    assert "Exception on …" in output, output
    for request_value in (
        CANARY_IP,
        "canary",
        "Injected",
        "Set-Cookie",
        "x=1",
        "attachments",
        "ca4a",
        "_fails",
        "_bad-header",
        "GET",
    ):
        assert request_value.lower() not in output.lower(), (request_value, output)
    for client_port in client_ports:
        assert f"127.0.0.1:{client_port}" not in output and f", {client_port})" not in output


MALFORMED_FRAMINGS = [
    # bad chunk size (the review's)
    b"Transfer-Encoding: chunked\r\n\r\nzz\r\n",
    # chunked and a length at once (request smuggling's shape)
    b"Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    # a chunk that ends before its size
    b"Transfer-Encoding: chunked\r\n\r\n10\r\nabc",
    # a chunk size no server could hold
    b"Transfer-Encoding: chunked\r\n\r\nffffffffffffffffffffffff\r\nabc\r\n",
    # Transfer-Encoding values that are not (only) chunked
    b"Transfer-Encoding: gzip\r\n\r\nabc",
    b"Transfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n",
    b"Transfer-Encoding: xchunked\r\n\r\n0\r\n\r\n",
    b"Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n0\r\n\r\n",
]


def _framed(port: int, path: str, framing: bytes) -> bytes:
    """A POST to ``path`` with a malformed body framing; the first bytes of the answer
    (none if the server only closed). The client stops sending, as ``nc`` does."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        raw.sendall(f"POST {path} HTTP/1.1\r\nHost: x\r\n".encode() + framing)
        raw.shutdown(socket.SHUT_WR)
        try:
            return raw.recv(100)
        except ConnectionResetError:
            return b""


def test_malformed_body_framing_is_refused_without_a_traceback_in_the_log(
    new_database_url, tmp_path, redis_url
):
    """Issue 15 item 10: ``Transfer-Encoding: chunked`` with a bad chunk size (or with a
    ``Content-Length``) got a 400, but each wrote a 12-line timestamped traceback
    ("Exception in ASGI application … refuse … LocalProtocolError") into the server's
    log, on both portals, as often as anyone sent one. Now: refused, nothing logged."""
    env = config_env(
        tmp_path / "instance", new_database_url, redis_url, SIPADU_WORKERS="1", SIPADU_THREADS="2"
    )
    init_demo_instance(env)
    for portal, paths in (("reporter", ("/mailbox/login", "/report")), ("staff", ("/login",))):
        log = tmp_path / f"{portal}.log"
        with serving(portal, env, log) as (_process, base):
            port = int(base.rsplit(":", 1)[1])
            for path in paths:
                for framing in MALFORMED_FRAMINGS * 2:  # repeatable: no flood either way
                    answer = _framed(port, path, framing)
                    assert answer == b"" or answer.startswith(b"HTTP/1.1 4"), (framing, answer)
            assert fetch(base + "/")[0] == 200  # the worker is fine
            time.sleep(0.5)
        output = log.read_text(errors="replace")
        assert "Traceback" not in output, output
        assert "Exception in ASGI application" not in output, output
        assert "ERROR" not in output, output


def test_a_portal_whose_port_was_taken_meanwhile_is_served_on_another(tmp_path, monkeypatch):
    """The port free_port found may be taken before gunicorn binds it (another test's
    client socket given the same ephemeral port): gunicorn gives up after five tries and
    the test waited 30 s for a server that had ended ("did not come up", PostgreSQL run
    of 2026-12-02). The helper now starts it again on another port, its log holding
    only the server that answered."""
    env = config_env(tmp_path / "instance", f"sqlite:///{tmp_path / 'sipadu.db'}", None)
    init_demo_instance(env)
    with socket.socket() as holder:  # bound, not listening: refuses connections
        holder.bind(("127.0.0.1", 0))
        taken = holder.getsockname()[1]
        ports = iter([taken])
        real = free_port
        monkeypatch.setattr("tests.helpers.free_port", lambda: next(ports, None) or real())
        log = tmp_path / "server.log"
        with serving("reporter", env, log=log) as (_process, base):
            assert fetch(base + "/")[0] == 200
            assert not base.endswith(f":{taken}")
    assert str(taken) not in log.read_text()
