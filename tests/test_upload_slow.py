"""A slow upload through the real server (gunicorn) never touches a disk in plaintext:
while the body trickles in, the worker has no temporary file open and creates none; and
an upload lasting longer than the worker heartbeat timeout is not killed."""

import http.client
import os
import re
import socket
import time
import uuid

import pytest

from tests.helpers import (
    children,
    end,
    fields_part,
    file_head,
    open_files,
    reporter_under_gunicorn,
    submission_of,
)

TOKEN = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


def start_post(port: int, cookie: str, boundary: str, length: int) -> socket.socket:
    """Open a raw connection and send the headers of a multipart POST /report; the body
    follows at the caller's pace."""
    raw = socket.create_connection(("127.0.0.1", port), timeout=60)
    raw.sendall(
        (
            f"POST /report HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nCookie: {cookie}\r\n"
            f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
            f"Content-Length: {length}\r\nConnection: close\r\n\r\n"
        ).encode()
    )
    return raw


def read_reply(raw: socket.socket) -> bytes:
    reply = b""
    while chunk := raw.recv(65536):
        reply += chunk
    raw.close()
    return reply


@pytest.fixture
def server(new_database_url, tmp_path, redis_url):
    tmpdir = tmp_path / "tmpdir"
    tmpdir.mkdir()
    with reporter_under_gunicorn(new_database_url, tmp_path, redis_url, TMPDIR=str(tmpdir)) as (
        process,
        base,
    ):
        yield process, int(base.rsplit(":", 1)[1]), tmpdir, new_database_url


def test_a_slowed_upload_creates_and_opens_no_temporary_file(server):
    process, port, tmpdir, database_url = server
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    connection.request("GET", "/report")
    response = connection.getresponse()
    page = response.read().decode()
    token = TOKEN.search(page).group(1)
    cookie = response.getheader("Set-Cookie").split(";")[0]

    tag = uuid.uuid4().hex
    boundary = f"----slow{tag}"
    fields = {
        "csrf_token": token,
        **submission_of(page),
        "category": "kkn",
        "title": "Lambat",
        "what": "Unggahan",
        "passphrase": "",
        "passphrase_confirm": "",
    }
    head = fields_part(boundary, fields) + file_head(boundary, f"slow-{tag}.bin")
    content = (f"SLOW-CANARY-{tag}-".encode()) * 60_000  # ~3 MB
    tail = b"\r\n" + end(boundary)
    body = head + content + tail

    raw = start_post(port, cookie, boundary, len(body))
    workers = children(process.pid)
    assert workers, "no gunicorn worker found"
    seen: set[str] = set()
    step = 64 * 1024
    for index, start in enumerate(range(0, len(body), step)):
        raw.sendall(body[start : start + step])
        time.sleep(0.02)
        if index % 8 == 4:  # look while the body is still arriving
            for worker in workers:
                seen.update(open_files(worker))
            assert list(tmpdir.iterdir()) == []
    reply = read_reply(raw)
    assert b" 200 " in reply.split(b"\r\n", 1)[0] and b'id="report-code"' in reply
    assert list(tmpdir.iterdir()) == []
    database_file = (
        database_url.removeprefix("sqlite:///") if database_url.startswith("sqlite") else None
    )
    regular = {
        t.replace(" (deleted)", "")
        for t in seen
        if t.startswith("/") and not t.startswith(("/dev/", "/proc/"))
    }
    # The only regular files a worker may hold: the SQLite database and its WAL and SHM.
    unexpected = {t for t in regular if not (database_file and t.startswith(database_file))}
    assert unexpected == set(), unexpected
    assert not any(str(tmpdir) in t for t in seen), seen


@pytest.fixture
def short_heartbeat(new_database_url, tmp_path, redis_url):
    with reporter_under_gunicorn(
        new_database_url, tmp_path, redis_url, SIPADU_HEARTBEAT_SECONDS="2"
    ) as (process, base):
        yield process, int(base.rsplit(":", 1)[1])


def test_an_upload_outlasting_the_worker_heartbeat_completes(short_heartbeat):
    """A 500 MiB upload over Tor may take an hour: gunicorn's timeout (here 2 s instead
    of 120 s) must restart hung workers only, never the one receiving a slow body."""
    process, port = short_heartbeat
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    connection.request("GET", "/report")
    response = connection.getresponse()
    page = response.read().decode()
    token = TOKEN.search(page).group(1)
    cookie = response.getheader("Set-Cookie").split(";")[0]
    boundary = "----heartbeat"
    fields = {"csrf_token": token, **submission_of(page)}
    fields |= {"category": "kkn", "title": "Lama", "what": "Unggahan"}
    fields |= {"passphrase": "", "passphrase_confirm": ""}
    head = fields_part(boundary, fields) + file_head(boundary, "lama.bin")
    body = head + os.urandom(700_000) + b"\r\n" + end(boundary)
    workers_before = children(process.pid)
    raw = start_post(port, cookie, boundary, len(body))
    started = time.monotonic()
    step = 20_000
    for start in range(0, len(body), step):  # 35 pieces over ~7 s: 3.5 heartbeat timeouts
        raw.sendall(body[start : start + step])
        time.sleep(0.2)
    reply = read_reply(raw)
    assert time.monotonic() - started > 6
    assert b" 200 " in reply.split(b"\r\n", 1)[0] and b'id="report-code"' in reply
    assert children(process.pid) == workers_before  # the same worker, never restarted
