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
  stall before the end of the body, 200 connections dribble their headers (slowloris,
  reopened when the server closes them), and one investigator's export stalls after
  its first bytes.

Legitimate users: a visitor loads `GET /` ten times a second; a reporter signs in to
their mailbox every 3 s with the right code and passphrase; a staff member signs in
with password and a fresh TOTP code every 5 s. Worker RSS is sampled every 0.2 s on
every worker of both portals (and their children).

Last line: key=value. ``*_p95_s`` are seconds; a probe that got no answer within 5 s
counts as 5 s. ``mailbox_login_busy_rate`` is the share of real logins answered with
the "busy, try again" page (503); ``staff_signin_ok`` the share of real sign-ins that
succeeded within 5 s; ``peak_worker_rss_growth_mib`` the largest growth of any one
worker (with its children) over its size when the phase began.
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
CODE = re.compile(r'id="report-code"[^>]*>\s*([0-9 ]+)<')
PASSPHRASE = re.compile(r'id="report-passphrase"[^>]*>\s*([^<]+?)\s*<')
REPORT_LINK = re.compile(r'href="/reports/([0-9a-f-]{36})"')
DEMO = re.compile(r"^demo (\S+) (\S+) (\S+) (\S+)$", re.M)
PROBE_TIMEOUT = 5.0
MIB = 1024 * 1024
AGE_RECIPIENT = "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p"


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
        match = TOKEN.search(page)
        data = {"csrf_token": match.group(1) if match else "", **fields}
        body = urllib.parse.urlencode(data).encode()
        return self._open(urllib.request.Request(self.base + path, data=body))[0]

    def post_page(self, path: str, fields: dict[str, str]) -> tuple[int, str]:
        _, page = self.get(path)
        data = {"csrf_token": TOKEN.search(page).group(1), **fields}
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
        time.sleep(seconds)
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
            self.signins.append((seconds, status == 303 and seconds < PROBE_TIMEOUT))
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
            f"{prefix}home_p95_s": _p95(home),
            f"{prefix}home_median_s": statistics.median(home) if home else PROBE_TIMEOUT,
            f"{prefix}mailbox_login_p95_s": _p95(sorted(s for s, _ in self.logins)),
            f"{prefix}mailbox_login_ok_rate": len(logins) / max(1, len(self.logins)),
            f"{prefix}mailbox_login_busy_rate": sum(1 for _, s in self.logins if s == 503)
            / max(1, len(self.logins)),
            f"{prefix}staff_signin_ok": sum(ok for _, ok in self.signins)
            / max(1, len(self.signins)),
            f"{prefix}peak_worker_rss_growth_mib": self.rss_growth,
        }


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

    def __init__(self, bases: dict[str, str], code: str, export: tuple[str, str]) -> None:
        self.bases, self.code, self.export = bases, code, export
        self.stop = threading.Event()
        self.created = 0
        self.wrong_logins = 0
        self.slow_opened = 0
        self.lock = threading.Lock()

    def start(self) -> list[threading.Thread]:
        targets = [self._wrong_logins] * 32 + [self._junk] * 6 + [self._stalled_image] * 3
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
            token = TOKEN.search(page).group(1) if TOKEN.search(page) else ""
            boundary = "stall"
            head = (
                f'--{boundary}\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\n'
                f"{token}\r\n"
                + "".join(
                    f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'
                    for k, v in report_fields("stalled").items()
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
                self.stop.wait()  # stalled before the closing boundary
                sock.close()
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


def _cookie_header(client: Client) -> str:
    for handler in client.opener.handlers:
        if isinstance(handler, urllib.request.HTTPCookieProcessor):
            return "; ".join(f"{c.name}={c.value}" for c in handler.cookiejar)
    return ""


def serve(portal: str, env: dict, port: int) -> subprocess.Popen:
    env = {**env, f"SIPADU_{portal.upper()}_BIND": f"127.0.0.1:{port}"}
    process = subprocess.Popen(
        [sys.executable, "-m", "sipadu.serve", portal],
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
    """``people``: username -> (role, password, TOTP secret)."""
    """Two real mailboxes (code + suggested passphrase: the measured one and the one
    whose code the flood attacks), a report with an 8 MiB file, and a signed-in
    investigator's cookie for the paused export."""
    mailboxes = []
    for title in ("real", "targeted"):
        client = Client(bases["reporter"], timeout=60)
        status, page = client.post_page("/report", report_fields(title))
        assert status == 200, page[:300]
        code = CODE.search(page).group(1).replace(" ", "")
        mailboxes.append((code, PASSPHRASE.search(page).group(1)))
    _submit_with_file(bases["reporter"], 8 * MIB)
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
    return mailboxes, (_cookie_header(staff), report_id), username


def _submit_with_file(base: str, size: int) -> None:
    client = Client(base, timeout=120)
    _, page = client.get("/report")
    token = TOKEN.search(page).group(1)
    boundary = "bench"
    fields = {"csrf_token": token, **report_fields("with file")}
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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=30)
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
        (mailbox, targeted), export, exporter = prepare(bases, people)
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
        flood = Flood(bases, targeted[0], export)
        threads = flood.start()
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
