"""Availability under anonymous floods (issue 13): what real users get while attacked.

    .venv/bin/python benchmarks/hostile.py [--seconds 30]

Both portals run under gunicorn with `make run`'s defaults (development, SQLite, no
Redis, the real Argon2 parameters) on a fresh demo instance. Two phases of the same
length, measured the same way:

- baseline: only the legitimate users below;
- flood: the same users while, together, 32 clients try wrong passphrases on another
  reporter's real code (whoever holds a code can lock it for an hour by design, see
  docs/reporter.md; the measured reporter's code is not theirs), 6 clients submit
  junk reports as fast as they can, 3 clients start uploads of 19 MiB images and
  stall before the end of the body (each starts again once the server closes it), 4
  uploads with a valid form token send their file at 1.5 KiB/s (just above the
  front's minimum pace, so each holds an upload slot and its thread), 200 connections
  dribble their headers (slowloris, reopened when the server closes them), 8 clients
  start downloading an 8 MiB attachment of their own mailbox and never read it
  (reopened when the server drops them), and one investigator's export stalls after
  its first bytes.

Legitimate users: a visitor loads `GET /` ten times a second; a reporter signs in to
their mailbox every 3 s with the right code and passphrase; a staff member signs in
with password and a fresh TOTP code every 5 s. Worker RSS is sampled every 0.2 s on
every worker of both portals (and their children).

Last line: key=value. ``*_p95_s`` are seconds; a probe that got no answer within 5 s
counts as 5 s. ``mailbox_login_busy_rate`` is the share of real logins answered with
the "busy, try again" page (503); ``mailbox_login_answered_rate`` the share that
succeeded or got the busy page within 5 s (the issue's target: 1); ``staff_signin_ok``
the share of real sign-ins that succeeded within 5 s (``staff_signin_answered_rate``:
succeeded or busy); ``peak_worker_rss_growth_mib`` the largest growth of any one
worker (with its children) over its size when the phase began. The flood's own
counts follow: reports it created, wrong logins answered, slowloris connections
opened, paced uploads and unread downloads started (``*_busy``: answered "busy").
"""

import argparse
import http.client
import http.cookiejar
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pyotp

TOKEN = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
# The one-time submission token of the reporter's report and reply forms (issue 16 item
# 3): read from the form's page and sent back with it, as a browser does.
SUBMISSION = re.compile(r'name="submission_token" value="([^"]+)"')
CODE = re.compile(r'id="report-code"[^>]*>\s*([0-9 ]+)<')
PASSPHRASE = re.compile(r'id="report-passphrase"[^>]*>\s*([^<]+?)\s*<')
REPORT_LINK = re.compile(r'href="/reports/([0-9a-f-]{36})"')
DEMO = re.compile(r"^demo (\S+) (\S+) (\S+) (\S+)$", re.M)
ATTACHMENT_LINK = re.compile(r'href="(/mailbox/attachments/[0-9a-f-]{36})"')
PROBE_TIMEOUT = 5.0
MIB = 1024 * 1024
AGE_RECIPIENT = "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p"


def form_tokens(page: str) -> dict[str, str]:
    """The form's CSRF token ("" if none) and, on the reporter's report and reply forms,
    its one-time submission token: the fields a browser sends back first."""
    match = TOKEN.search(page)
    tokens = {"csrf_token": match.group(1) if match else ""}
    if found := SUBMISSION.search(page):
        tokens["submission_token"] = found.group(1)
    return tokens


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Client:
    """A browser-like client: its own cookies, a form token per page."""

    def __init__(self, base: str, timeout: float = PROBE_TIMEOUT) -> None:
        self.base = base
        self.timeout = timeout
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()),
            _NoRedirect(),
        )

    def get(self, path: str) -> tuple[int, str]:
        return self._open(urllib.request.Request(self.base + path))

    def post(self, path: str, fields: dict[str, str], token_page: str | None = None) -> int:
        _, page = self.get(token_page or path)
        data = {**form_tokens(page), **fields}
        body = urllib.parse.urlencode(data).encode()
        return self._open(urllib.request.Request(self.base + path, data=body))[0]

    def post_page(self, path: str, fields: dict[str, str]) -> tuple[int, str]:
        _, page = self.get(path)
        data = {**form_tokens(page), **fields}
        body = urllib.parse.urlencode(data).encode()
        return self._open(urllib.request.Request(self.base + path, data=body))

    def _open(self, request: urllib.request.Request) -> tuple[int, str]:
        try:
            with self.opener.open(request, timeout=self.timeout) as response:
                return response.status, response.read().decode(errors="replace")
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode(errors="replace")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def report_fields(title: str) -> dict[str, str]:
    return {
        "category": "kkn",
        "title": title,
        "what": "Benchmark report. " * 20,
        "who": "",
        "where": "",
        "when": "",
        "how": "",
        "estimated_loss": "",
        "identity": "",
        "passphrase": "",
        "passphrase_confirm": "",
    }


def timed(action) -> tuple[float, object]:
    started = time.monotonic()
    try:
        outcome = action()
    except (OSError, http.client.HTTPException):
        outcome = None
    return min(time.monotonic() - started, PROBE_TIMEOUT), outcome


def process_tree_rss_mib(pid: int) -> float:
    total = 0
    for child in [pid, *_children(pid)]:
        try:
            for line in Path(f"/proc/{child}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total / 1024


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except OSError:
            continue
        if ppid == pid:
            found += [int(entry.name), *_children(int(entry.name))]
    return found


class Phase:
    """The legitimate users' probes and the RSS sampler, for one phase."""

    def __init__(self, bases: dict[str, str], masters: list[int], mailbox, staff) -> None:
        self.bases, self.masters = bases, masters
        self.mailbox, self.staff = mailbox, staff
        self.stop = threading.Event()
        self.home: list[float] = []
        self.logins: list[tuple[float, int | None]] = []
        self.signins: list[tuple[float, bool]] = []
        self.rss_growth = 0.0

    def run(self, seconds: float) -> None:
        threads = [
            threading.Thread(target=target, daemon=True)
            for target in (self._home, self._mailbox, self._signin, self._rss)
        ]
        for thread in threads:
            thread.start()
        workers = [pid for master in self.masters for pid in _direct_children(master)]
        server, own = sum(map(_cpu_seconds, workers)), time.process_time()
        time.sleep(seconds)
        self.server_cpu = (sum(map(_cpu_seconds, workers)) - server) / seconds
        self.load_cpu = (time.process_time() - own) / seconds
        self.stop.set()
        for thread in threads:
            thread.join(timeout=PROBE_TIMEOUT + 5)

    def _home(self) -> None:
        client = Client(self.bases["reporter"])
        while not self.stop.is_set():
            seconds, outcome = timed(lambda: client.get("/")[0])
            self.home.append(seconds if outcome == 200 else PROBE_TIMEOUT)
            self.stop.wait(0.1)

    def _mailbox(self) -> None:
        code, passphrase = self.mailbox
        while not self.stop.is_set():
            client = Client(self.bases["reporter"])
            seconds, status = timed(
                lambda client=client: client.post(
                    "/mailbox/login", {"code": code, "passphrase": passphrase}
                )
            )
            self.logins.append((seconds, status))
            self.stop.wait(3)

    def _signin(self) -> None:
        while not self.stop.is_set():
            person = self.staff.next()
            if person is None:
                self.stop.wait(1)
                continue
            username, password, code = person
            fields = {"username": username, "password": password, "totp": code}
            client = Client(self.bases["staff"])
            seconds, status = timed(lambda c=client, f=fields: c.post("/login", f))
            self.signins.append((seconds, status))
            self.stop.wait(5)

    def _rss(self) -> None:
        workers = [pid for master in self.masters for pid in _direct_children(master)]
        start = {pid: process_tree_rss_mib(pid) for pid in workers}
        while not self.stop.is_set():
            for pid in workers:
                self.rss_growth = max(self.rss_growth, process_tree_rss_mib(pid) - start[pid])
            self.stop.wait(0.2)

    def figures(self, prefix: str) -> dict[str, float]:
        home = sorted(self.home)
        logins = [seconds for seconds, status in self.logins if status == 303]
        return {
            **self._answered(prefix, "mailbox_login", self.logins, 303),
            **self._answered(prefix, "staff_signin", self.signins, 303),
            f"{prefix}home_p95_s": _p95(home),
            f"{prefix}home_median_s": statistics.median(home) if home else PROBE_TIMEOUT,
            f"{prefix}mailbox_login_p95_s": _p95(sorted(s for s, _ in self.logins)),
            f"{prefix}mailbox_login_ok_rate": len(logins) / max(1, len(self.logins)),
            f"{prefix}mailbox_login_busy_rate": sum(1 for _, s in self.logins if s == 503)
            / max(1, len(self.logins)),
            f"{prefix}staff_signin_ok": sum(
                1 for seconds, status in self.signins if status == 303 and seconds < PROBE_TIMEOUT
            )
            / max(1, len(self.signins)),
            f"{prefix}peak_worker_rss_growth_mib": self.rss_growth,
            f"{prefix}server_cpu_cores": self.server_cpu,
            f"{prefix}load_generator_cpu_cores": self.load_cpu,
        }

    @staticmethod
    def _answered(prefix: str, name: str, tries: list, ok: int) -> dict[str, float]:
        """The share of ``tries`` (seconds, status) that succeeded or got the busy page
        within the probe timeout, and the slowest of them."""
        answered = [s for s, status in tries if status in (ok, 503) and s < PROBE_TIMEOUT]
        return {
            f"{prefix}{name}_answered_rate": len(answered) / max(1, len(tries)),
            f"{prefix}{name}_max_s": max((s for s, _ in tries), default=PROBE_TIMEOUT),
        }


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and its waited-for children, in seconds."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return sum(int(f) for f in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def _direct_children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []


def _p95(values: list[float]) -> float:
    if not values:
        return PROBE_TIMEOUT
    return sorted(values)[max(0, int(len(values) * 0.95) - 1)]


class StaffPeople:
    """Demo accounts signing in in turn; each TOTP step counts once per account."""

    def __init__(self, people: list[tuple[str, str, str]]) -> None:
        self.people = people
        self.last_step = {username: 0 for username, _, _ in people}
        self.lock = threading.Lock()

    def next(self) -> tuple[str, str, str] | None:
        step = int(time.time()) // 30
        with self.lock:
            for username, password, secret in self.people:
                if self.last_step[username] < step:
                    self.last_step[username] = step
                    return username, password, pyotp.TOTP(secret).generate_otp(step)
        return None


class Flood:
    """Every attacker of the flood phase, started together and stopped together."""

    def __init__(
        self, bases: dict[str, str], code: str, export: tuple[str, str], download: tuple[str, str]
    ) -> None:
        self.bases, self.code, self.export, self.download = bases, code, export, download
        self.stop = threading.Event()
        self.created = 0
        self.wrong_logins = 0
        self.slow_opened = 0
        self.paced_started = 0
        self.paced_busy = 0
        self.unread_started = 0
        self.unread_busy = 0
        self.lock = threading.Lock()

    def start(self) -> list[threading.Thread]:
        targets = [self._wrong_logins] * 32 + [self._junk] * 6 + [self._stalled_image] * 3
        targets += [self._paced_upload] * 4 + [self._unread_download] * 8
        targets += [self._slowloris_pool, self._paused_export]
        threads = [threading.Thread(target=t, daemon=True) for t in targets]
        for thread in threads:
            thread.start()
        return threads

    def _wrong_logins(self) -> None:
        while not self.stop.is_set():
            client = Client(self.bases["reporter"], timeout=30)
            timed(
                lambda c=client: c.post(
                    "/mailbox/login", {"code": self.code, "passphrase": "x" * 12}
                )
            )
            with self.lock:
                self.wrong_logins += 1

    def _junk(self) -> None:
        while not self.stop.is_set():
            client = Client(self.bases["reporter"], timeout=30)
            _, outcome = timed(lambda c=client: c.post_page("/report", report_fields("junk")))
            if outcome and outcome[0] == 200 and 'id="report-code"' in outcome[1]:
                with self.lock:
                    self.created += 1

    def _stalled_image(self) -> None:
        """A valid form token, then a 19 MiB 'image' of which all but the last bytes are
        sent; the connection then stalls until the phase ends (or the server closes it)."""
        host, port = urllib.parse.urlsplit(self.bases["reporter"]).netloc.split(":")
        while not self.stop.is_set():
            client = Client(self.bases["reporter"], timeout=30)
            try:
                _, page = client.get("/report")
            except OSError:
                continue
            boundary = "stall"
            head = (
                "".join(
                    f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'
                    for k, v in {**form_tokens(page), **report_fields("stalled")}.items()
                )
                + f'--{boundary}\r\nContent-Disposition: form-data; name="attachments"; '
                'filename="photo.jpg"\r\nContent-Type: image/jpeg\r\n\r\n'
            ).encode()
            total = len(head) + 19 * MIB + 64
            try:
                sock = socket.create_connection((host, int(port)), timeout=5)
                sock.sendall(
                    (
                        f"POST /report HTTP/1.1\r\nHost: {host}\r\n"
                        f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
                        f"Content-Length: {total}\r\nCookie: {_cookie_header(client)}\r\n\r\n"
                    ).encode()
                    + head
                )
                chunk = b"\xff\xd8\xff" + os.urandom(MIB - 3)
                for _ in range(19):
                    sock.sendall(chunk)
                _hold_until_closed(sock, self.stop)  # stalled before the closing boundary
            except OSError:
                self.stop.wait(0.5)

    def _paced_upload(self) -> None:
        """A submission with a valid form token whose file, after a first 80 KiB (over
        the front's small body), comes at 1.5 KiB/s: just above the minimum pace, so
        no deadline ends it, and it holds an upload slot (and a thread) as long as it
        goes on. Started again when the server answers or closes it."""
        host, port = urllib.parse.urlsplit(self.bases["reporter"]).netloc.split(":")
        while not self.stop.is_set():
            client = Client(self.bases["reporter"], timeout=30)
            try:
                _, page = client.get("/report")
                tokens = form_tokens(page)
            except OSError:
                self.stop.wait(0.5)
                continue
            if not tokens["csrf_token"]:
                self.stop.wait(0.5)
                continue
            head = _form_head("paced", {**tokens, **report_fields("paced")})
            head += _file_head("paced", "bukti.bin", "application/octet-stream")
            first = head + os.urandom(80 * 1024)
            try:
                sock = socket.create_connection((host, int(port)), timeout=5)
                sock.sendall(
                    (
                        f"POST /report HTTP/1.1\r\nHost: {host}\r\n"
                        "Content-Type: multipart/form-data; boundary=paced\r\n"
                        f"Content-Length: {len(first) + 64 * MIB}\r\n"
                        f"Cookie: {_cookie_header(client)}\r\n\r\n"
                    ).encode()
                    + first
                )
                with self.lock:
                    self.paced_started += 1
                sock.setblocking(False)
                reply = b""
                while not self.stop.wait(1.0):
                    try:
                        data = sock.recv(4096)
                        if not data:
                            break
                        reply += data
                    except BlockingIOError:
                        pass
                    try:
                        sock.send(os.urandom(1536))
                    except BlockingIOError:
                        pass  # waiting for a slot: the server does not read yet
                if reply.startswith(b"HTTP/1.1 503"):
                    with self.lock:
                        self.paced_busy += 1
                sock.close()
            except OSError:
                self.stop.wait(0.5)

    def _unread_download(self) -> None:
        """Asks for an 8 MiB attachment of a mailbox it holds (an attacker's own report),
        takes the first 4 KiB and then nothing; asks again once the server drops it."""
        cookie, path = self.download
        host, port = urllib.parse.urlsplit(self.bases["reporter"]).netloc.split(":")
        while not self.stop.is_set():
            try:
                sock = socket.create_connection((host, int(port)), timeout=10)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
                sock.sendall(
                    f"GET {path} HTTP/1.1\r\nHost: {host}\r\nCookie: {cookie}\r\n\r\n".encode()
                )
                first = sock.recv(4096)
                with self.lock:
                    self.unread_started += 1
                    self.unread_busy += first.startswith(b"HTTP/1.1 503")
                if first.startswith(b"HTTP/1.1 200"):
                    _hold_until_closed(sock, self.stop, peek=True)
                else:
                    sock.close()
                    self.stop.wait(1)
            except OSError:
                self.stop.wait(0.5)

    def _slowloris_pool(self) -> None:
        host, port = urllib.parse.urlsplit(self.bases["reporter"]).netloc.split(":")
        sockets: list[socket.socket] = []
        while not self.stop.is_set():
            while len(sockets) < 200:
                try:
                    sock = socket.create_connection((host, int(port)), timeout=2)
                    sock.sendall(f"GET / HTTP/1.1\r\nHost: {host}\r\n".encode())
                    sockets.append(sock)
                    self.slow_opened += 1
                except OSError:
                    break
            for sock in list(sockets):
                try:
                    sock.sendall(b"X-a: b\r\n")
                except OSError:
                    sockets.remove(sock)
                    sock.close()
            self.stop.wait(5)
        for sock in sockets:
            sock.close()

    def _paused_export(self) -> None:
        cookie, report_id = self.export
        host, port = urllib.parse.urlsplit(self.bases["staff"]).netloc.split(":")
        query = urllib.parse.urlencode({"recipient": AGE_RECIPIENT})
        try:
            sock = socket.create_connection((host, int(port)), timeout=10)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            sock.sendall(
                f"GET /reports/{report_id}/export?{query} HTTP/1.1\r\nHost: {host}\r\n"
                f"Cookie: {cookie}\r\n\r\n".encode()
            )
            sock.recv(4096)
            self.stop.wait()  # paused: reads nothing more until the phase ends
            sock.close()
        except OSError:
            pass


def _hold_until_closed(sock: socket.socket, stop: threading.Event, peek: bool = False) -> None:
    """Keep ``sock`` open, sending nothing, until ``stop`` or until the server closes
    it. ``peek``: never take the bytes waiting (a reader that reads nothing); a closed
    connection still shows, as a reset."""
    sock.setblocking(False)
    try:
        while not stop.wait(1.0):
            try:
                data = sock.recv(4096, socket.MSG_PEEK if peek else 0)
            except BlockingIOError:
                continue
            if not data:
                return
    except OSError:
        return
    finally:
        sock.close()


def _form_head(boundary: str, fields: dict[str, str]) -> bytes:
    return "".join(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'
        for k, v in fields.items()
    ).encode()


def _file_head(boundary: str, filename: str, kind: str) -> bytes:
    return (
        f'--{boundary}\r\nContent-Disposition: form-data; name="attachments"; '
        f'filename="{filename}"\r\nContent-Type: {kind}\r\n\r\n'
    ).encode()


def _cookie_header(client: Client) -> str:
    for handler in client.opener.handlers:
        if isinstance(handler, urllib.request.HTTPCookieProcessor):
            return "; ".join(f"{c.name}={c.value}" for c in handler.cookiejar)
    return ""


def serve(portal: str, env: dict, port: int) -> subprocess.Popen:
    env = {**env, f"SIPADU_{portal.upper()}_BIND": f"127.0.0.1:{port}"}
    process = subprocess.Popen(
        [sys.executable, "-m", "sipadu.hosting.serve", portal],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1).close()
            return process
        except (urllib.error.URLError, OSError):
            time.sleep(0.2)
    raise RuntimeError(f"{portal} did not start")


def prepare(bases: dict[str, str], people: dict[str, tuple[str, str, str]]):
    """``people``: username -> (role, password, TOTP secret).

    Two real mailboxes (code + suggested passphrase: the measured one and the one whose
    code the flood attacks), a report with an 8 MiB file whose mailbox the flood's
    unread downloads hold (cookie and attachment path), and a signed-in
    investigator's cookie for the paused export."""
    mailboxes = []
    for title in ("real", "targeted"):
        client = Client(bases["reporter"], timeout=60)
        status, page = client.post_page("/report", report_fields(title))
        assert status == 200, page[:300]
        code = CODE.search(page).group(1).replace(" ", "")
        mailboxes.append((code, PASSPHRASE.search(page).group(1)))
    own_code, own_passphrase = _submit_with_file(bases["reporter"], 8 * MIB)
    attacker = Client(bases["reporter"], timeout=60)
    assert attacker.post("/mailbox/login", {"code": own_code, "passphrase": own_passphrase}) == 303
    _, page = attacker.get("/mailbox")
    download = (_cookie_header(attacker), ATTACHMENT_LINK.search(page).group(1))
    username, (_, password, secret) = next(
        (name, p) for name, p in people.items() if p[0] == "investigator"
    )
    staff = Client(bases["staff"], timeout=60)
    step = int(time.time()) // 30
    assert (
        staff.post(
            "/login",
            {
                "username": username,
                "password": password,
                "totp": pyotp.TOTP(secret).generate_otp(step),
            },
        )
        == 303
    )
    _, listing = staff.get("/reports")
    report_id = REPORT_LINK.search(listing).group(1)
    return mailboxes, (_cookie_header(staff), report_id), username, download


def _submit_with_file(base: str, size: int) -> tuple[str, str]:
    """A report with one file of ``size`` random bytes; its code and passphrase."""
    client = Client(base, timeout=120)
    _, page = client.get("/report")
    boundary = "bench"
    fields = {**form_tokens(page), **report_fields("with file")}
    body = b"".join(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
        for k, v in fields.items()
    )
    body += (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="attachments"; '
            'filename="evidence.bin"\r\nContent-Type: application/octet-stream\r\n\r\n'
        ).encode()
        + os.urandom(size)
        + f"\r\n--{boundary}--\r\n".encode()
    )
    request = urllib.request.Request(
        base + "/report",
        data=body,
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    status, page = client._open(request)
    assert status == 200 and 'id="report-code"' in page, page[:300]
    return CODE.search(page).group(1).replace(" ", ""), PASSPHRASE.search(page).group(1)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a SIPADU_ setting for both portals instead of its default (comparisons)",
    )
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="sipadu-hostile-"))
    env = {
        **os.environ,
        "SIPADU_ENV": "development",
        "SIPADU_INSTANCE_PATH": str(root / "instance"),
    }
    for name in [
        n
        for n in env
        if n.startswith("SIPADU_") and n not in ("SIPADU_ENV", "SIPADU_INSTANCE_PATH")
    ]:
        del env[name]  # make run's defaults, whatever this shell has set
    env |= dict(setting.split("=", 1) for setting in args.set)
    output = subprocess.run(
        [sys.executable, "-m", "sipadu.cli", "init", "--demo"],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    people = {m.group(2): (m.group(1), m.group(3), m.group(4)) for m in DEMO.finditer(output)}
    ports = {"reporter": free_port(), "staff": free_port()}
    processes = {portal: serve(portal, env, port) for portal, port in ports.items()}
    bases = {portal: f"http://127.0.0.1:{port}" for portal, port in ports.items()}
    try:
        (mailbox, targeted), export, exporter, download = prepare(bases, people)
        signers = StaffPeople(
            [
                (name, password, secret)
                for name, (_, password, secret) in people.items()
                if name != exporter
            ]
        )
        masters = [p.pid for p in processes.values()]
        figures: dict[str, float] = {}
        baseline = Phase(bases, masters, mailbox, signers)
        baseline.run(args.seconds)
        figures |= baseline.figures("baseline_")
        flood = Flood(bases, targeted[0], export, download)
        threads = flood.start()
        print("flood started", file=sys.stderr, flush=True)
        time.sleep(3)  # let the flood build up before measuring
        attacked = Phase(bases, masters, mailbox, signers)
        attacked.run(args.seconds)
        flood.stop.set()
        for thread in threads:
            thread.join(timeout=35)
        figures |= attacked.figures("legit_")
        figures["home_p95_ratio"] = figures["legit_home_p95_s"] / max(
            figures["baseline_home_p95_s"], 1e-6
        )
        figures["reports_created_by_flood"] = flood.created
        figures["flood_wrong_logins"] = flood.wrong_logins
        figures["slow_connections_opened"] = flood.slow_opened
        figures["paced_uploads_started"] = flood.paced_started
        figures["paced_uploads_busy"] = flood.paced_busy
        figures["unread_downloads_started"] = flood.unread_started
        figures["unread_downloads_busy"] = flood.unread_busy
        figures["load_1min"] = os.getloadavg()[0]
        print(
            " ".join(
                f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in figures.items()
            )
        )
    finally:
        for process in processes.values():
            process.send_signal(signal.SIGTERM)
        for process in processes.values():
            try:
                process.wait(timeout=40)
            except subprocess.TimeoutExpired:
                process.kill()


if __name__ == "__main__":
    main()
