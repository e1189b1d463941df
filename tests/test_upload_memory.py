"""Every request costs the server bounded memory whatever its body (DESIGN.md G8), measured
on the real server: the resident memory of gunicorn's worker processes (VmHWM of the
master's children, reset before each hostile request) and what they read and opened.

The bodies are the issue's: an image flood and a nameless 300 MiB part without a form
token, three hostile uploads stalled before their closing boundary, a large body sent
to the staff portal's checkpoint verification without signing in; and a large file an
investigator sends the reporter (issue 17 item 5), streamed like the reporter's.
"""

import http.client
import http.cookiejar
import io
import os
import re
import socket
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import text

from tests.helpers import (
    SUBMISSION,
    children,
    config_env,
    database,
    end,
    fields_part,
    file_head,
    init_demo,
    init_demo_instance,
    open_files,
    post_report,
    reporter_under_gunicorn,
    serving,
)

MIB = 1024 * 1024
PER_REQUEST_MIB = 64  # the bound per in-flight request (issue 13, item 2)
STALLED_MIB = 200  # three stalled hostile uploads together
TOKEN = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
TEXT = {"category": "kkn", "title": "Judul tetap", "what": "Teks yang diketik tetap ada"}


# --- measuring the workers -----------------------------------------------------------


def status_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(f"{field} missing for {pid}")


def unread(connections: list["Upload"]) -> int:
    """Bytes sent on these connections that the server has not read yet: what waits in
    the client's send queue and in the server's receive queue (``/proc/net/tcp``)."""
    ports = {upload.sock.getsockname()[1] for upload in connections}
    waiting = 0
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote = (int(address.split(":")[1], 16) for address in fields[1:3])
        send_queue, receive_queue = (int(size, 16) for size in fields[4].split(":"))
        waiting += send_queue if local in ports else receive_queue if remote in ports else 0
    return waiting


class Workers:
    """The worker processes of one gunicorn master: their peak resident memory since
    :meth:`reset`."""

    def __init__(self, master: int) -> None:
        self.pids = children(master)
        assert self.pids, "no gunicorn worker found"

    def reset(self) -> None:
        self.baseline = {pid: status_kib(pid, "VmRSS") for pid in self.pids}
        for pid in self.pids:
            Path(f"/proc/{pid}/clear_refs").write_text("5")  # VmHWM := VmRSS

    def growth_mib(self) -> float:
        """The largest peak growth of any worker since :meth:`reset`."""
        return max(status_kib(p, "VmHWM") - self.baseline[p] for p in self.pids) / 1024


# --- raw HTTP ------------------------------------------------------------------------


def page_token(base: str, path: str) -> tuple[str, str]:
    """A form token and the session cookie it belongs to."""
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as raw:
        raw.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
        reply = b""
        while chunk := raw.recv(65536):
            reply += chunk
    head, _, body = reply.partition(b"\r\n\r\n")
    cookie = re.search(rb"set-cookie: ([^;]+);", head, re.I).group(1).decode()
    return TOKEN.search(body.decode()).group(1), cookie


class Upload:
    """One multipart POST sent piece by piece on a raw socket, its answer read by a
    thread as soon as it comes (a server may answer, and close, before the body ends)."""

    def __init__(self, base: str, path: str, boundary: str, length: int, cookie: str = ""):
        host, port = base.removeprefix("http://").split(":")
        self.sock = socket.create_connection((host, int(port)), timeout=120)
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {host}\r\n"
            f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
            f"Content-Length: {length}\r\nConnection: close\r\n"
        )
        if cookie:
            head += f"Cookie: {cookie}\r\n"
        self.sock.sendall((head + "\r\n").encode())
        self.reply = b""
        self.answered = threading.Event()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        try:
            while chunk := self.sock.recv(65536):
                self.reply += chunk
                if b"\r\n\r\n" in self.reply:
                    self.answered.set()
        except OSError:
            pass
        self.answered.set()

    def send(self, pieces: Iterable[bytes]) -> int:
        """Send until the pieces run out or the server stops reading; bytes sent."""
        sent = 0
        try:
            for piece in pieces:
                if self.answered.is_set():
                    break
                self.sock.sendall(piece)
                sent += len(piece)
        except (BrokenPipeError, ConnectionResetError):
            pass
        return sent

    def finish(self, timeout: float = 120) -> bytes:
        self._reader.join(timeout)
        self.sock.close()
        return self.reply

    @property
    def status(self) -> int:
        return int(self.reply.split(b" ", 2)[1]) if self.reply else 0


def repeated(part: bytes, times: int, piece: int = MIB) -> Iterator[bytes]:
    for _ in range(times):
        for start in range(0, len(part), piece):
            yield part[start : start + piece]


def images_body(boundary: str, fields: dict[str, str], image: bytes, count: int) -> list[bytes]:
    """``count`` image parts after ``fields``: the pieces and, last, the closing."""
    head = fields_part(boundary, fields)
    parts = [
        file_head(boundary, f"foto-{i}.jpg", "image/jpeg") + image + b"\r\n" for i in range(count)
    ]
    return [head, *parts, end(boundary)]


def padded_jpeg(size: int) -> bytes:
    """A real (small) JPEG followed by junk up to ``size`` bytes: a decoder reads the
    picture and ignores the rest, so it is cleaned like a large photo."""
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 30, 30)).save(out, "JPEG")
    return out.getvalue() + os.urandom(size - len(out.getvalue()))


@pytest.fixture
def reporter(new_database_url, tmp_path, redis_url):
    # Three uploads at once need three upload slots (the front gives half the threads).
    with reporter_under_gunicorn(new_database_url, tmp_path, redis_url, SIPADU_THREADS="8") as (
        process,
        base,
    ):
        workers = Workers(process.pid)
        token, cookie = page_token(base, "/report")  # warm up: templates, the database
        yield base, workers, token, cookie


# --- the reporter portal -------------------------------------------------------------


def test_an_image_flood_without_a_token_costs_no_memory(reporter):
    """20 parts of 19 MiB labelled image/jpeg, no form token: today's main held them all
    (+300 MiB) before answering 400."""
    base, workers, _token, cookie = reporter
    boundary = "----flood"
    image = os.urandom(19 * MIB)
    pieces = images_body(boundary, TEXT, image, 20)
    length = sum(map(len, pieces))
    upload = Upload(base, "/report", boundary, length, cookie)
    workers.reset()
    sent = upload.send(repeated_pieces(pieces))
    upload.finish()
    assert upload.status == 400
    assert workers.growth_mib() <= PER_REQUEST_MIB, workers.growth_mib()
    assert sent < length / 4  # refused at the first file part, not after reading it all


def repeated_pieces(pieces: list[bytes]) -> Iterator[bytes]:
    for part in pieces:
        yield from repeated(part, 1)


@pytest.mark.parametrize("with_token", [False, True], ids=["no-token", "token"])
def test_a_nameless_file_part_is_never_held_in_memory(reporter, with_token):
    """A 300 MiB part with ``filename=""`` (an empty file input carries no byte): main
    held it whole (+322 MiB). Without a token it is refused at once; with one, it is
    read and dropped, and the form comes back with the text."""
    base, workers, token, cookie = reporter
    boundary = "----nameless"
    fields = {**TEXT, "csrf_token": token} if with_token else TEXT
    head = fields_part(boundary, fields) + file_head(boundary, "")
    tail = b"\r\n" + end(boundary)
    block = os.urandom(MIB)
    length = len(head) + 300 * MIB + len(tail)
    upload = Upload(base, "/report", boundary, length, cookie)
    workers.reset()
    sent = upload.send([head, *repeated(block, 300), tail])
    reply = upload.finish()
    assert upload.status == 400
    assert workers.growth_mib() <= PER_REQUEST_MIB, workers.growth_mib()
    if not with_token:
        assert sent < length / 4  # refused at the file part, not after reading it
    else:
        page = reply.decode(errors="replace")
        assert "Judul tetap" in page and "Teks yang diketik tetap ada" in page
        assert "berkas harus dipilih lagi" in page


def test_three_stalled_image_uploads_hold_at_most_200_mib(reporter):
    """Three uploads with valid tokens, each 19 complete images of 19 MiB and half of a
    twentieth, then silence (no closing boundary). Main held every image of every
    request (+1.1 GiB); now each image is cleaned as its part ends, so a request holds
    at most the one it is receiving."""
    base, workers, _, _ = reporter
    image = padded_jpeg(19 * MIB)
    uploads, senders = [], []
    workers.reset()
    for n in range(3):
        token, cookie = page_token(base, "/report")
        boundary = f"----stalled{n}"
        pieces = images_body(boundary, {**TEXT, "csrf_token": token}, image, 20)
        body = b"".join(pieces[:-2]) + pieces[-2][: 10 * MIB]  # stops mid-image
        uploads.append(Upload(base, "/report", boundary, sum(map(len, pieces)), cookie))
        senders.append(threading.Thread(target=uploads[-1].send, args=(repeated(body, 1),)))
        senders[-1].start()
    deadline = time.monotonic() + 240
    while any(s.is_alive() for s in senders) or unread(uploads):  # until all sent is read
        assert time.monotonic() < deadline, unread(uploads)
        time.sleep(0.2)
    time.sleep(1)
    assert not any(u.answered.is_set() for u in uploads), [u.reply[:200] for u in uploads]
    growth = workers.growth_mib()
    for upload in uploads:
        upload.sock.shutdown(socket.SHUT_RDWR)
        upload.finish()
    assert growth <= STALLED_MIB, growth


def test_a_200_mib_picture_is_cleaned_without_being_held(reporter, new_database_url):
    """Issue 21: every file of a type SIPADU cleans is cleaned whatever its size (main
    held an image in memory to clean it, so stored any over 20 MiB as sent). A 200 MiB
    JPEG named "bukti", sent as application/octet-stream (a small picture, then junk its
    decoder ignores), is staged as it arrives, read back from its blob and streamed to
    the cleaning child, its clean copy written in its place: the worker grows by no
    more than any request may (the child is not a worker)."""
    base, workers, _, _ = reporter
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as raw:
        raw.sendall(f"GET /report HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
        page = b""
        while chunk := raw.recv(65536):
            page += chunk
    head, _, body = page.partition(b"\r\n\r\n")
    cookie = re.search(rb"set-cookie: ([^;]+);", head, re.I).group(1).decode()
    fields = {**TEXT, "csrf_token": TOKEN.search(body.decode()).group(1)}
    fields["submission_token"] = SUBMISSION.search(body.decode()).group(1)
    fields |= {"passphrase": "", "passphrase_confirm": ""}
    boundary = "----big-picture"
    picture = padded_jpeg(MIB)
    pieces = [
        fields_part(boundary, fields) + file_head(boundary, "bukti"),
        picture,
        *repeated(os.urandom(MIB), 199),
        b"\r\n" + end(boundary),
    ]
    upload = Upload(base, "/report", boundary, sum(map(len, pieces)), cookie)
    workers.reset()
    upload.send(pieces)
    reply = upload.finish(timeout=300)
    assert upload.status == 200 and b'id="report-code"' in reply, reply[:300]
    growth = workers.growth_mib()
    print(f"cleaned_mib=200 worker_growth_mib={growth:.1f}")
    assert growth <= PER_REQUEST_MIB, growth
    with database(new_database_url) as session:  # the clean copy, not the 200 MiB sent
        stored = session.scalars(text("SELECT stored_bytes FROM blob WHERE linked")).all()
    assert len(stored) == 1 and stored[0] < MIB


# --- the staff portal ----------------------------------------------------------------


@pytest.fixture
def staff(new_database_url, tmp_path, redis_url):
    tmpdir = tmp_path / "tmpdir"
    tmpdir.mkdir()
    env = config_env(
        tmp_path / "instance",
        new_database_url,
        redis_url,
        SIPADU_WORKERS="1",
        SIPADU_THREADS="4",
        TMPDIR=str(tmpdir),
    )
    init_demo_instance(env)
    with serving("staff", env) as (process, base):
        workers = Workers(process.pid)
        page_token(base, "/login")  # warm up
        yield base, workers, tmpdir


@contextmanager
def watching_files(workers: Workers, tmpdir: Path) -> Iterator[set[str]]:
    """Every file the workers hold open under ``tmpdir`` while the block runs."""
    seen: set[str] = set()
    stop = threading.Event()

    def watch() -> None:
        while not stop.is_set():
            for pid in workers.pids:
                seen.update(t for t in open_files(pid) if t.startswith(str(tmpdir)))
            time.sleep(0.01)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        yield seen
    finally:
        stop.set()
        watcher.join()


@pytest.mark.parametrize("with_token", [False, True], ids=["no-token", "anonymous-token"])
def test_an_anonymous_checkpoint_upload_is_neither_read_nor_spooled(staff, with_token):
    """63 MiB to /audit/verify without signing in: main spooled it to a temporary file
    before answering. Now the file part is not even read: without a token it is a 400
    at once, with an anonymous token the sign-in page (the files are read only in the
    view, after the sign-in and role checks)."""
    base, workers, tmpdir = staff
    token, cookie = page_token(base, "/login")
    boundary = "----verify"
    fields = {"csrf_token": token} if with_token else {}
    head = fields_part(boundary, fields) + file_head(
        boundary, "kept.json", "application/json", "checkpoints"
    )
    tail = b"\r\n" + end(boundary)
    block = os.urandom(MIB)
    length = len(head) + 63 * MIB + len(tail)
    upload = Upload(base, "/audit/verify", boundary, length, cookie)
    workers.reset()
    with watching_files(workers, tmpdir) as seen:
        sent = upload.send([head, *repeated(block, 63, piece=256 * 1024), tail])
        upload.finish()
    assert upload.status == (303 if with_token else 400)
    assert seen == set() and list(tmpdir.iterdir()) == []
    assert workers.growth_mib() <= PER_REQUEST_MIB, workers.growth_mib()
    assert sent < length / 2  # answered without waiting for the body


# --- the staff portal's files to the reporter (issue 17 item 5) ------------------------

STAFF_FILE_MIB = 160


@pytest.fixture
def both_portals(new_database_url, tmp_path, redis_url):
    env = config_env(
        tmp_path / "instance", new_database_url, redis_url, SIPADU_WORKERS="1", SIPADU_THREADS="4"
    )
    people = init_demo(env)
    with serving("reporter", env) as (_r, reporter), serving("staff", env) as (master, staff):
        yield reporter, staff, Workers(master.pid), people["pemeriksa1"]


def test_a_file_an_investigator_sends_the_reporter_is_streamed(both_portals):
    """A 160 MiB file attached to a message to the reporter, through the real staff
    portal: encrypted as it arrives (sipadu.web.uploads), never held whole, so the
    worker grows by no more than any request may."""
    reporter, staff, workers, person = both_portals
    assert post_report(reporter)[0] == 200
    jar = http.cookiejar.CookieJar()
    browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    page = browser.open(staff + "/login").read().decode()
    form = {"csrf_token": TOKEN.search(page).group(1), "username": person.username}
    form |= {"password": person.password, "totp": person.code()}
    browser.open(staff + "/login", data=urllib.parse.urlencode(form).encode()).read()
    listing = browser.open(staff + "/reports").read().decode()
    report = re.search(r'href="(/reports/[0-9a-f-]{36})"', listing).group(1)
    token = TOKEN.search(browser.open(staff + report).read().decode()).group(1)

    boundary = "----reply"
    head = fields_part(boundary, {"csrf_token": token, "body": "Salinan berkas untuk Anda"})
    head += file_head(boundary, "salinan.bin")
    tail = b"\r\n" + end(boundary)
    block = os.urandom(MIB)
    host, port = staff.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=300)
    workers.reset()
    connection.request(
        "POST",
        report + "/messages",
        body=iter([head, *repeated(block, STAFF_FILE_MIB), tail]),
        headers={
            "Cookie": "; ".join(f"{c.name}={c.value}" for c in jar),
            "Content-Type": f"multipart/form-data; boundary={boundary}",
            "Content-Length": str(len(head) + STAFF_FILE_MIB * MIB + len(tail)),
        },
    )
    reply = connection.getresponse()
    reply.read()
    growth = workers.growth_mib()
    assert reply.status == 303, reply.status
    print(f"staff_upload_mib={STAFF_FILE_MIB} worker_growth_mib={growth:.1f}")
    assert growth <= PER_REQUEST_MIB, growth
    assert "salinan.bin" in browser.open(staff + report).read().decode()
