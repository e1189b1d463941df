"""Slow clients cannot take the portal down (issue 13, item 10).

The reporter portal under real gunicorn with ``make run``'s defaults. 200 connections
stall it every way a slow client can: a head dribbled a byte at a time, a body dribbled
a byte every two seconds (an upload and a small form), a head and then nothing, one
packet and then nothing, nothing at all. With them, uploads that hold the front's upload
slots: bodies over ``SIPADU_SMALL_BODY_KIB`` (so each streams to a thread of the worker)
with a valid form token, sent at just above the minimum pace, as many as there are
slots and a few more waiting for one; and 32 clients sending wrong mailbox logins as
fast as they are answered. Meanwhile ``GET /`` is answered within 1 s and a real report
with a file is submitted; the front's deadlines then close every stalled connection,
and the server's output names none of them.

Found in review: before requests without a body had threads of their own, 4 paced
uploads and 32 wrong logins made ``GET /`` take 4.4 s (p50): the uploads held half the
threads and the logins queued for the rest, pages behind them. The paced uploads only
ever hold the ``SIPADU_UPLOAD_SLOTS`` threads of their own pool, so the real
submission finds a thread too; its file is small enough (under 64 KiB with the form) to
need no upload slot, since the paced uploads hold all of them: a larger file would
wait for a slot (``SIPADU_UPLOAD_WAIT_SECONDS``) and then get the "busy" page.
"""

import http.client
import os
import re
import selectors
import socket
import threading
import time
from dataclasses import dataclass

import pytest

from sipadu.settings.config import load_config
from tests.helpers import (
    CANARY_IP,
    SLOWER_ARGON2,
    Browser,
    config_env,
    end,
    fields_part,
    file_head,
    flood,
    init_demo_instance,
    random_code,
    serving,
    submission_of,
)

TOKEN = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
DRIBBLE_SECONDS = 2.0
BOUND_SECONDS = 1.0  # the bound for GET / under the stall
SLACK_SECONDS = 6.0  # the machine is shared: deadlines are checked with this margin
PACED_EXTRA = 2  # paced uploads beyond the upload slots (they wait for one, threadless)
PACED_FIRST = 80 * 1024  # sent at once: more than the small body, so a slot is needed
PACED_LENGTH = 4 * 1024 * 1024  # the announced body: far more than the test lasts
LOGIN_FLOODERS = 32


@dataclass
class Stalled:
    kind: str
    first: bytes  # sent at once
    dribble: bytes  # then one byte every DRIBBLE_SECONDS
    deadline: str  # which of the front's timeouts must close it: "head" or "body"
    sock: socket.socket | None = None
    opened: float = 0.0
    closed: float | None = None
    reply: bytes = b""
    sent: int = 0
    next_send: float = 0.0
    local_port: int = 0


def stalled_mix(port: int) -> list[Stalled]:
    host = f"Host: 127.0.0.1:{port}\r\n"
    upload = (
        f"POST /report HTTP/1.1\r\n{host}Content-Type: multipart/form-data; boundary=x\r\n"
        f"Content-Length: 5000000\r\n\r\n"
    ).encode()
    small = (
        f"POST /mailbox/login HTTP/1.1\r\n{host}"
        f"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 400\r\n\r\n"
    ).encode()
    kinds = [
        # slowloris: the head a byte at a time (a forwarding header as a canary)
        (
            50,
            "dribbled head",
            f"GET / HTTP/1.1\r\n{host}".encode(),
            f"X-Forwarded-For: {CANARY_IP}\r\nX-Padding: {'a' * 200}\r\n".encode(),
            "head",
        ),
        # slow body: an upload, and a small form, a byte every two seconds
        (50, "dribbled upload", upload, b"--x\r\n" + b"b" * 200, "body"),
        (25, "dribbled form", small, b"code=" + b"1" * 200, "body"),
        # one packet, then nothing: part of a head; a whole head and no body
        (25, "one packet", b"POST /report HTTP/1.1\r\nHost: 127.0", b"", "head"),
        (25, "head only", upload, b"", "body"),
        (25, "silent", b"", b"", "head"),
    ]
    return [
        Stalled(kind, first, dribble, deadline)
        for count, kind, first, dribble, deadline in kinds
        for _ in range(count)
    ]


class Staller(threading.Thread):
    """Holds the stalled connections, dribbling, until the server closes each or the
    time is up; records when each was closed."""

    def __init__(self, port: int, until: float) -> None:
        super().__init__(daemon=True)
        self.port, self.until = port, until
        self.connections = stalled_mix(port)
        self.ready = threading.Event()

    def run(self) -> None:
        selector = selectors.DefaultSelector()
        for conn in self.connections:
            conn.sock = socket.create_connection(("127.0.0.1", self.port), timeout=10)
            conn.opened = time.monotonic()
            conn.local_port = conn.sock.getsockname()[1]
            if conn.first:
                conn.sock.sendall(conn.first)
            conn.sock.setblocking(False)
            conn.next_send = conn.opened + DRIBBLE_SECONDS
            selector.register(conn.sock, selectors.EVENT_READ, conn)
        self.ready.set()
        try:
            while time.monotonic() < self.until and any(c.closed is None for c in self.connections):
                for key, _ in selector.select(timeout=0.1):
                    self._read(selector, key.data)
                now = time.monotonic()
                for conn in self.connections:
                    due = conn.sent < len(conn.dribble) and now >= conn.next_send
                    if conn.closed is None and due:
                        try:
                            conn.sock.send(conn.dribble[conn.sent : conn.sent + 1])
                            conn.sent += 1
                        except OSError:
                            self._close(selector, conn)
                        conn.next_send = now + DRIBBLE_SECONDS
        finally:
            for conn in self.connections:
                conn.sock.close()
            selector.close()

    def _read(self, selector: selectors.BaseSelector, conn: Stalled) -> None:
        try:
            data = conn.sock.recv(65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if data:
            conn.reply += data
        else:
            self._close(selector, conn)

    def _close(self, selector: selectors.BaseSelector, conn: Stalled) -> None:
        if conn.closed is None:
            conn.closed = time.monotonic()
            selector.unregister(conn.sock)


class PacedUploads(threading.Thread):
    """``count`` real-looking submissions (each with its own form token and cookie) whose
    file is sent at 1.5 KiB/s after a first burst over the small-body size: above the
    front's minimum pace (1 KiB/s), so no deadline closes them, and each one given an
    upload slot holds a thread of the worker for as long as it lasts."""

    def __init__(self, base: str, count: int) -> None:
        super().__init__(daemon=True)
        self.base, self.count = base, count
        self.stop = threading.Event()
        self.ready = threading.Event()
        self.replies: list[bytes] = []

    def _open(self) -> socket.socket:
        browser = Browser(self.base)
        _, page = browser.request("GET", "/report")
        token = TOKEN.search(page).group(1)
        boundary = "paced"
        fields = {"csrf_token": token, **submission_of(page)}
        fields |= {"category": "kkn", "title": "Pelan", "what": "Uji"}
        body = fields_part(boundary, fields) + file_head(boundary, "besar.bin")
        body += os.urandom(PACED_FIRST)
        cookie = "; ".join(f"{k}={v}" for k, v in browser.cookies.items())
        head = (
            f"POST /report HTTP/1.1\r\nHost: {browser.host}:{browser.port}\r\n"
            f"Cookie: {cookie}\r\nContent-Type: multipart/form-data; boundary={boundary}\r\n"
            f"Content-Length: {len(body) + PACED_LENGTH}\r\n\r\n"
        ).encode()
        sock = socket.create_connection((browser.host, browser.port), timeout=10)
        sock.sendall(head + body)
        sock.setblocking(False)
        return sock

    def run(self) -> None:
        socks = [self._open() for _ in range(self.count)]
        replies = [b""] * self.count
        self.ready.set()
        try:
            while not self.stop.wait(1.0):
                for i, sock in enumerate(socks):
                    try:
                        replies[i] += sock.recv(65536)
                    except BlockingIOError:
                        pass
                    try:
                        sock.send(os.urandom(1536))
                    except BlockingIOError:
                        pass  # waiting for a slot: the front does not read yet
        finally:
            self.replies = replies
            for sock in socks:
                sock.close()


def get_home(base: str) -> float:
    host, port = base.removeprefix("http://").split(":")
    started = time.monotonic()
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    connection.request("GET", "/")
    response = connection.getresponse()
    assert response.status == 200 and b"Buat laporan" in response.read()
    connection.close()
    return time.monotonic() - started


def submit_with_file(base: str, size: int) -> bytes:
    """A real report with a file of ``size`` random bytes."""
    host, port = base.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    connection.request("GET", "/report")
    response = connection.getresponse()
    page = response.read().decode()
    token = TOKEN.search(page).group(1)
    cookie = response.getheader("Set-Cookie").split(";")[0]
    boundary = "slowclients"
    fields = {"csrf_token": token, **submission_of(page)}
    fields |= {"category": "kkn", "title": "Lambat", "what": "Uji"}
    fields |= {"passphrase": "", "passphrase_confirm": ""}
    body = fields_part(boundary, fields) + file_head(boundary, "bukti.bin")
    body += os.urandom(size) + b"\r\n" + end(boundary)
    connection.request(
        "POST",
        "/report",
        body=body,
        headers={"Cookie": cookie, "Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    reply = connection.getresponse()
    page = reply.read()
    assert reply.status == 200, page[:300]
    return page


@pytest.fixture
def portal(new_database_url, tmp_path, redis_url):
    """The reporter portal as ``make run`` serves it: every front and gunicorn setting
    at its default. Argon2id slower than in other tests (still far below production's),
    so that the login flood keeps its derivation lane full, as the real parameters do."""
    slower = {
        f"SIPADU_{kind}ARGON2_{k}": v for kind in ("", "LOOKUP_") for k, v in SLOWER_ARGON2.items()
    }
    env = config_env(tmp_path / "instance", new_database_url, redis_url, **slower)
    init_demo_instance(env)
    log = tmp_path / "server.log"
    with serving("reporter", env, log=log) as (_process, base):
        yield base, log, load_config(env)


def test_stalled_connections_never_take_the_threads_that_serve_others(portal):
    base, log, config = portal
    port = int(base.rsplit(":", 1)[1])
    baseline = max(get_home(base) for _ in range(5))

    started = time.monotonic()
    staller = Staller(port, until=started + config.body_timeout_seconds + SLACK_SECONDS + 4)
    staller.start()
    assert staller.ready.wait(20), "could not open the stalled connections"

    paced = PacedUploads(base, config.upload_slots + PACED_EXTRA)
    paced.start()
    assert paced.ready.wait(20), "could not start the paced uploads"

    def wrong_login() -> int:
        return Browser(base).post_form(
            "/mailbox/login", code=random_code(), passphrase="tebakan acak sekali"
        )[0]

    latencies = []
    with flood(wrong_login, clients=LOGIN_FLOODERS) as attack:
        for _ in range(8):
            latencies.append(get_home(base))
            time.sleep(0.4)
        page = submit_with_file(base, 30_000)
        assert b'id="report-code"' in page
        latencies.append(get_home(base))
    paced.stop.set()
    paced.join(timeout=20)
    assert max(latencies) < BOUND_SECONDS, (baseline, latencies, attack)
    assert sum(attack.values()) > LOGIN_FLOODERS, attack  # the flood was answered, at pace
    # Above the pace, a holder is refused only to hand its slot to a waiting upload (the
    # contended rule: under SIPADU_CONTENDED_KIB_PER_SECOND after 5 s measured), and told
    # so with a 408; on a loaded machine the test lasts long enough for that (CI, stop 28).
    refused = [reply for reply in paced.replies if reply]
    assert len(refused) <= PACED_EXTRA, refused
    assert all(reply.startswith(b"HTTP/1.1 408 ") for reply in refused), refused
    # Their slots given back, an upload (over the small body) goes through.
    assert b'id="report-code"' in submit_with_file(base, 300_000)

    staller.join(timeout=config.body_timeout_seconds + SLACK_SECONDS + 10)
    assert not staller.is_alive()
    limits = {"head": config.head_timeout_seconds, "body": config.body_timeout_seconds}
    late = {}
    for conn in staller.connections:
        held = (conn.closed or time.monotonic()) - conn.opened
        if conn.closed is None or held > limits[conn.deadline] + SLACK_SECONDS:
            late[conn.kind] = late.get(conn.kind, 0) + 1
    assert late == {}, f"stalled connections the front did not close in time: {late}"
    # A body too slow is told so before its connection closes.
    bodies = [c for c in staller.connections if c.deadline == "body"]
    assert all(c.reply.startswith(b"HTTP/1.1 408 ") for c in bodies)

    output = log.read_text()
    for conn in staller.connections:
        assert f"127.0.0.1:{conn.local_port}" not in output
        assert f"'127.0.0.1', {conn.local_port})" not in output
    assert CANARY_IP not in output
