"""Text-only report submissions per second through the real reporter portal.

    .venv/bin/python benchmarks/submit.py [--seconds 15]

Starts the reporter portal under gunicorn (``sipadu serve --portal reporter``, the
default workers and threads: one worker x 8 threads without Redis) on a fresh
development instance with the *real* Argon2id parameters and demo staff (two
investigators routed to every category), then drives it
with 1, 2 and 4 concurrent clients, each doing GET /report (CSRF and submission tokens)
and POST /report.

Each submission must pay two Argon2id derivations (the code's lookup id and the mailbox
key). The bound is measured alone in the same run: the same pairs of derivations, with
the same number of concurrent threads and nothing else. ``ratio_vs_argon2_bound`` is
submissions/s divided by that; the rest of the cost is HTTP, HPKE, sealing and the
database.

Last line: key=value figures.
"""

import argparse
import http.client
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path

from sipadu.crypto import DEFAULT_PARAMS, hash_secret, lookup_id

TOKEN = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
# The one-time submission token of the reporter's report and reply forms (issue 16 item
# 3): read from the form's page and sent back with it, as a browser does.
SUBMISSION = re.compile(r'name="submission_token" value="([^"]+)"')


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def submit_once(port: int) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    connection.request("GET", "/report")
    response = connection.getresponse()
    page = response.read().decode()
    cookie = response.getheader("Set-Cookie").split(";")[0]
    body = urllib.parse.urlencode(
        {
            "csrf_token": TOKEN.search(page).group(1),
            "submission_token": SUBMISSION.search(page).group(1),
            "category": "kkn",
            "title": "Pungutan liar izin usaha",
            "what": "Diminta uang pelicin " * 40,
            "who": "Kepala seksi",
            "where": "Kantor kelurahan",
            "when": "Oktober",
            "how": "Diminta langsung",
            "passphrase": "",
            "passphrase_confirm": "",
        }
    )
    connection.request(
        "POST",
        "/report",
        body=body,
        headers={"Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"},
    )
    response = connection.getresponse()
    text = response.read().decode()
    if response.status != 200 or 'id="report-code"' not in text:
        raise RuntimeError(f"submission failed: {response.status}")
    connection.close()


def run_clients(clients: int, seconds: float, work) -> float:
    """Operations per second with ``clients`` threads looping ``work`` for ``seconds``."""
    counts = [0] * clients
    deadline = time.perf_counter() + seconds
    errors: list[BaseException] = []

    def loop(index: int) -> None:
        try:
            while time.perf_counter() < deadline:
                work()
                counts[index] += 1
        except BaseException as exc:  # noqa: BLE001 — reported below
            errors.append(exc)

    start = time.perf_counter()
    threads = [threading.Thread(target=loop, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return sum(counts) / (time.perf_counter() - start)


def argon2_pair() -> None:
    lookup_id(b"1234567890123456", b"instance-salt-16", DEFAULT_PARAMS)
    hash_secret(b"1234567890123456 kata sandi enam", DEFAULT_PARAMS)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=15)
    args = parser.parse_args()
    figures: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        env = {
            **os.environ,
            "SIPADU_ENV": "development",
            "SIPADU_INSTANCE_PATH": str(Path(tmp) / "instance"),
            "SIPADU_REPORTER_BIND": f"127.0.0.1:{port}",
            "SIPADU_REPORTS_PER_HOUR": "100000",  # the cost of a submission, not the ceiling
        }
        for key in [k for k in env if "ARGON2" in k]:
            del env[key]  # the real parameters
        sipadu = [sys.executable, "-m", "sipadu.cli"]
        subprocess.run([*sipadu, "init", "--demo"], env=env, check=True, capture_output=True)
        server = subprocess.Popen(
            [*sipadu, "serve", "--portal", "reporter"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            for _ in range(100):
                try:
                    submit_once(port)
                    break
                except (OSError, RuntimeError):
                    time.sleep(0.2)
            for clients in (1, 2, 4):
                bound = run_clients(clients, args.seconds, argon2_pair)
                measured = run_clients(clients, args.seconds, lambda: submit_once(port))
                figures[f"submit_s_c{clients}"] = measured
                figures[f"argon2_bound_s_c{clients}"] = bound
                figures[f"ratio_vs_argon2_bound_c{clients}"] = measured / bound
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=30)
    figures["ratio_vs_argon2_bound"] = min(
        v for k, v in figures.items() if k.startswith("ratio_vs_argon2_bound_c")
    )
    figures["cores"] = float(os.cpu_count() or 1)
    for key, value in figures.items():
        print(f"{key:28} {value:10.3f}")
    print(" ".join(f"{k}={v:.3f}" for k, v in figures.items()))


if __name__ == "__main__":
    main()
