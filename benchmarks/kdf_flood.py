"""Argon2id under a flood of mailbox logins: what the derivation pool and its
low-priority threads buy (issue 13, item 4).

    .venv/bin/python benchmarks/kdf_flood.py [--seconds 10] [--attackers 32]

Starts both portals under gunicorn with ``make run``'s defaults (one worker per portal,
no Redis) on a fresh development instance with the *real* Argon2id parameters (t=3,
64 MiB, p=4), then, for each phase, probes ``GET /`` continuously, signs a real reporter
in a few times and a real staff member once:

- ``idle``: no flood;
- ``random``: ``--attackers`` threads send wrong mailbox logins with random codes (each
  one costs two Argon2id runs: the worst case for the CPU);
- ``one_code``: the same threads on one code (after 10 failures its counter is full and
  every further attempt is refused before any Argon2id).

The ``random`` phase runs twice: with the derivation threads at nice 10 (as shipped) and
at nice 0, to show what the nice value does for ``GET /``. Also measured: one Argon2id
derivation alone, and two at once.

Last line: key=value figures (seconds unless named otherwise).
"""

import argparse
import http.client
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pyotp

from sipadu.crypto import DEFAULT_PARAMS, lookup_id

TOKEN = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
# The one-time submission token of the reporter's report and reply forms (issue 16 item
# 3): read from the form's page and sent back with it, as a browser does.
SUBMISSION = re.compile(r'name="submission_token" value="([^"]+)"')


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def request(port, method, path, body=None, cookie=""):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    headers = {"Connection": "close"}
    if cookie:
        headers["Cookie"] = cookie
    if body is not None:
        headers["Content-Type"] = "application/x-www-form-urlencoded"
        body = urllib.parse.urlencode(body)
    try:
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        return (
            response.status,
            (response.getheader("Set-Cookie") or "").split(";")[0],
            (response.read().decode()),
        )
    finally:
        connection.close()


def submission_of(page: str) -> dict[str, str]:
    """The form's one-time submission token as a field, if it has one."""
    found = SUBMISSION.search(page)
    return {"submission_token": found.group(1)} if found else {}


def post_form(port, path, fields) -> tuple[int, float]:
    """GET the form (tokens, cookie), POST it; the POST's status, duration and page."""
    _, cookie, page = request(port, "GET", path)
    fields = {"csrf_token": TOKEN.search(page).group(1), **submission_of(page), **fields}
    started = time.perf_counter()
    status, _, text = request(port, "POST", path, fields, cookie)
    return status, time.perf_counter() - started, text


def random_code() -> str:
    return f"{uuid.uuid4().int % 10**16:016d}"


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1] if len(values) >= 2 else values[0]


class Servers:
    def __init__(self, env: dict, nice: int) -> None:
        self.reporter, self.staff = free_port(), free_port()
        env = {
            **env,
            "SIPADU_REPORTER_BIND": f"127.0.0.1:{self.reporter}",
            "SIPADU_STAFF_BIND": f"127.0.0.1:{self.staff}",
            "SIPADU_KDF_NICE": str(nice),
        }
        self.processes = [
            subprocess.Popen(
                [sys.executable, "-m", "sipadu.hosting.serve", portal],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            for portal in ("reporter", "staff")
        ]
        for port in (self.reporter, self.staff):
            for _ in range(150):
                try:
                    request(port, "GET", "/")
                    break
                except OSError:
                    time.sleep(0.2)

    def stop(self) -> None:
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            process.wait(timeout=60)


def phase(servers, seconds, attackers, attack, mailbox, staff) -> dict[str, float]:
    port = servers.reporter
    stop = threading.Event()
    statuses: dict[int, int] = {}
    lock = threading.Lock()

    def attacker():
        while not stop.is_set():
            try:
                status, _, _ = post_form(port, "/mailbox/login", attack())
            except OSError:
                status = 0
            with lock:
                statuses[status] = statuses.get(status, 0) + 1

    home: list[float] = []

    def prober():
        while not stop.is_set():
            started = time.perf_counter()
            request(port, "GET", "/")
            home.append(time.perf_counter() - started)
            time.sleep(0.05)

    threads = [threading.Thread(target=attacker) for _ in range(attackers if attack else 0)]
    threads.append(threading.Thread(target=prober))
    for thread in threads:
        thread.start()
    time.sleep(min(2.0, seconds / 4))  # let the flood reach its steady state
    code, passphrase = mailbox
    logins = []
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline or not logins:
        status, took, _ = post_form(
            port, "/mailbox/login", {"code": code, "passphrase": passphrase}
        )
        logins.append((status, took))
        time.sleep(0.5)
    staff_status, staff_took, _ = post_form(servers.staff, "/login", staff.fields())
    stop.set()
    for thread in threads:
        thread.join()
    ok = [took for status, took in logins if status == 303]
    return {
        "home_p50": statistics.median(home),
        "home_p95": p95(home),
        "login_ok_rate": len(ok) / len(logins),
        "login_busy_rate": sum(1 for s, _ in logins if s == 503) / len(logins),
        "login_max": max(took for _, took in logins),
        "login_ok_mean": statistics.mean(ok) if ok else float("nan"),
        "staff_signin_ok": float(staff_status == 303),
        "staff_signin": staff_took,
        "attacks_per_s": sum(statuses.values()) / seconds,
        "attacks_busy_share": statuses.get(503, 0) / max(1, sum(statuses.values())),
    }


class StaffMember:
    """A demo account; each sign-in uses a TOTP step not used before (codes count once)."""

    def __init__(self, username: str, password: str, secret: str) -> None:
        self.username, self.password, self.totp = username, password, pyotp.TOTP(secret)
        self.step = 0

    def fields(self) -> dict[str, str]:
        current = int(time.time()) // 30
        if self.step >= current + 1:
            time.sleep((current + 1) * 30 - time.time() + 0.5)
            current += 1
        self.step = max(self.step + 1, current)
        code = self.totp.generate_otp(self.step)
        return {"username": self.username, "password": self.password, "totp": code}


def argon2_alone() -> tuple[float, float]:
    def one():
        started = time.perf_counter()
        lookup_id(os.urandom(16), b"instance-salt-16", DEFAULT_PARAMS)
        return time.perf_counter() - started

    alone = statistics.median(one() for _ in range(5))
    with ThreadPoolExecutor(2) as pool:
        pairs = [max(pool.map(lambda _: one(), range(2))) for _ in range(3)]
    return alone, statistics.median(pairs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--attackers", type=int, default=32)
    args = parser.parse_args()
    figures: dict[str, float] = {}
    figures["argon2_s"], figures["argon2_two_at_once_s"] = argon2_alone()
    with (
        tempfile.TemporaryDirectory() as tmp,
        tempfile.TemporaryDirectory(dir="/dev/shm", prefix="sipadu-bench-") as volatile,
    ):
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("SIPADU_")},
            "SIPADU_ENV": "development",
            "SIPADU_INSTANCE_PATH": str(Path(tmp) / "instance"),
            "SIPADU_VOLATILE_PATH": volatile,  # sessions and slot files, removed at the end
        }
        sipadu = [sys.executable, "-m", "sipadu.cli"]
        demo = subprocess.run(
            [*sipadu, "init", "--demo"], env=env, check=True, capture_output=True, text=True
        ).stdout
        staff = StaffMember(*re.search(r"^demo auditor (\S+) (\S+) (\S+)$", demo, re.M).groups())
        for nice in (10, 0):
            servers = Servers(env, nice)
            try:
                if nice == 10:
                    _status, _, page = post_form(
                        servers.reporter,
                        "/report",
                        {
                            "category": "kkn",
                            "title": "Uji",
                            "what": "Uji beban",
                            "passphrase": "",
                            "passphrase_confirm": "",
                        },
                    )
                    code = re.search(r'id="report-code">([^<]+)<', page).group(1)
                    passphrase = re.search(r'id="report-passphrase">([^<]+)<', page).group(1)
                    mailbox = (code, passphrase)
                    one = {"code": random_code(), "passphrase": "salah sekali"}
                    plans = {
                        "idle": None,
                        "random": lambda: {"code": random_code(), "passphrase": "salah sekali"},
                        "one_code": one.copy,
                    }
                else:
                    plans = {"random_nice0": plans["random"]}
                for name, attack in plans.items():
                    for key, value in phase(
                        servers, args.seconds, args.attackers, attack, mailbox, staff
                    ).items():
                        figures[f"{name}_{key}"] = value
            finally:
                servers.stop()
    figures["cores"] = float(os.cpu_count() or 1)
    for key, value in figures.items():
        print(f"{key:32} {value:10.3f}")
    print(" ".join(f"{k}={v:.3f}" for k, v in figures.items()))


if __name__ == "__main__":
    main()
