"""Load test: both portals under gunicorn (4 workers each) on PostgreSQL and Redis.

    .venv/bin/python -m tests.load.run [--reports 500] [--reporters 50] [--investigators 5]

50 concurrent reporters submit 500 reports (a third with a 1 to 20 MiB attachment), each
then opening its mailbox; meanwhile 5 investigators sign in and keep listing, reading
and answering reports. Loopback only; a fresh throw-away database; bounded by a
deadline. Argon2 is made cheap by config (like the test suite): the real cost is
measured in benchmarks/crypto_ops.py and would only measure the two cores here.

Passes only if: every code shown is distinct; the reports stored equal the codes shown;
every reporter read their own report in the mailbox; every report opens for an
investigator; no response was a 5xx other than the "busy, try again" page of a full
derivation pool (503 with Retry-After: the client sends the same form again, as the page
asks, and their number is reported); the audit chain verifies. Run by .ci/run after the
PostgreSQL + Redis suite. Last line: throughput and p50/p95 per endpoint, key=value.
"""

import argparse
import http.client
import os
import random
import re
import shutil
import statistics
import sys
import threading
import time
import urllib.parse
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import func, select

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from sipadu.accountability import audit
from sipadu.cli import main as cli
from sipadu.persistence.models import Report
from tests.helpers import (
    VOLATILE_ROOT,
    Person,
    Postgres,
    config_env,
    database,
    end,
    fields_part,
    file_head,
    init_demo,
    serving,
    submission_of,
)

TOKEN = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
MIB = 1024 * 1024
BLOCK = os.urandom(MIB)
CATEGORIES = ["abuse_of_authority", "administrative_violation", "kkn", "staff_discipline"]


class Failed(Exception):
    pass


class Stats:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.times: dict[str, list[float]] = defaultdict(list)
        self.server_errors: list[str] = []
        self.busy = 0  # "busy, try again" answers (503 + Retry-After): a bounded pool full

    def record(self, endpoint: str, seconds: float, status: int, busy: bool = False) -> None:
        with self.lock:
            self.times[endpoint].append(seconds)
            if busy:
                self.busy += 1
            elif status >= 500:
                self.server_errors.append(f"{endpoint} {status}")


class Client:
    """One browser: a connection and a cookie, every request timed and checked."""

    def __init__(self, base: str, stats: Stats) -> None:
        parts = urllib.parse.urlsplit(base)
        self.host, self.port = parts.hostname, parts.port
        self.stats = stats
        self.cookies: dict[str, str] = {}  # every cookie set, as a browser keeps them

    def request(
        self, method: str, path: str, endpoint: str, body=None, headers=None, stream=False
    ) -> tuple[int, bytes]:
        connection = http.client.HTTPConnection(self.host, self.port, timeout=300)
        headers = dict(headers or {})
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        start = time.perf_counter()
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        data = response.read()
        busy = response.status == 503 and response.getheader("Retry-After") is not None
        self.stats.record(endpoint, time.perf_counter() - start, response.status, busy)
        for cookie in response.headers.get_all("Set-Cookie") or []:
            name, _, value = cookie.split(";")[0].partition("=")
            self.cookies[name.strip()] = value  # the staff sign-in sets two (session, device)
        connection.close()
        return response.status, data

    def form(self, path: str, endpoint: str, fields: dict, token_page: str) -> tuple[int, bytes]:
        page_name = re.sub(r"[0-9a-f-]{36}", "<id>", token_page.split("?")[0])
        _status, page = self.request("GET", token_page, "GET " + page_name)
        token = TOKEN.search(page.decode()).group(1)
        fields = {"csrf_token": token, **submission_of(page), **fields}
        body = urllib.parse.urlencode(fields).encode()
        return self.request(
            "POST", path, endpoint, body, {"Content-Type": "application/x-www-form-urlencoded"}
        )


def until_served(send) -> tuple[int, bytes]:
    """What a person does with a "busy, try again in a minute" page (503): send the same
    form again later — here after a short pause, since this test measures the rest."""
    for _ in range(100):
        status, data = send()
        if status != 503:
            break
        time.sleep(random.uniform(0.2, 0.6))
    return status, data


def submit(base: str, stats: Stats, index: int, rng: random.Random) -> tuple[str, str, str]:
    """A reporter: submit (maybe with a file), then read the report in the mailbox."""
    client = Client(base, stats)
    _status, page = client.request("GET", "/report", "GET /report")
    token = TOKEN.search(page.decode()).group(1)
    # Glued to a letter: "beban 62 812345678" reads as a telephone number, and the form
    # would come back with the warning about identifying details (issue 21 item 3).
    marker = f"Laporan beban {index} r{rng.randrange(10**9)}"
    fields = {
        "csrf_token": token,
        **submission_of(page),
        "category": rng.choice(CATEGORIES),
        "title": marker,
        "what": f"Uraian kejadian nomor {index}",
        "passphrase": "",
        "passphrase_confirm": "",
    }
    size = rng.randint(1, 20) * MIB if index % 3 == 0 else 0
    boundary = f"load{index}"
    head = fields_part(boundary, fields)
    if size:
        head += file_head(boundary, f"bukti-{index}.bin")
    tail = (b"\r\n" if size else b"") + end(boundary)

    def body():
        yield head
        left = size
        while left:
            piece = BLOCK[: min(left, MIB)]
            left -= len(piece)
            yield piece
        yield tail

    length = len(head) + size + len(tail)
    status, page = until_served(
        lambda: client.request(
            "POST",
            "/report",
            "POST /report" + (" (file)" if size else ""),
            body(),
            {
                "Content-Type": f"multipart/form-data; boundary={boundary}",
                "Content-Length": str(length),
            },
        )
    )
    text = page.decode()
    code_match = re.search(r'id="report-code">([^<]+)<', text)
    if status != 200 or not code_match:
        raise Failed(f"submission {index}: {status}")
    code = code_match.group(1)
    passphrase = re.search(r'id="report-passphrase">([^<]+)<', text).group(1)
    reader = Client(base, stats)
    status, _ = until_served(
        lambda: reader.form(
            "/mailbox/login",
            "POST /mailbox/login",
            {"code": code, "passphrase": passphrase},
            "/mailbox/login",
        )
    )
    if status != 303:
        raise Failed(f"mailbox login {index}: {status}")
    status, box = reader.request("GET", "/mailbox", "GET /mailbox")
    if status != 200 or marker.encode() not in box:
        raise Failed(f"mailbox {index} does not show its report")
    return code, marker, passphrase


def investigate(base: str, stats: Stats, person: Person, stop: threading.Event) -> int:
    """An investigator: sign in, then list, open and answer reports until told to stop."""
    client = Client(base, stats)
    fields = {"username": person.username, "password": person.password, "totp": person.code()}
    status, _ = until_served(lambda: client.form("/login", "POST /login", fields, "/login"))
    if status != 303:
        raise Failed(f"{person.username} could not sign in: {status}")
    answered = 0
    rng = random.Random(person.username)
    while not stop.is_set():
        status, listing = client.request("GET", "/reports", "GET /reports")
        ids = re.findall(r'href="/reports/([0-9a-f-]{36})"', listing.decode())
        if not ids:
            time.sleep(0.2)
            continue
        report = rng.choice(ids)
        status, _ = client.request("GET", f"/reports/{report}", "GET /reports/<id>")
        if rng.random() < 0.5:
            client.form(
                f"/reports/{report}/messages",
                "POST /reports/<id>/messages",
                {"body": f"Terima kasih, laporan {report[:8]} kami telaah."},
                f"/reports/{report}",
            )
            answered += 1
    return answered


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports", type=int, default=500)
    parser.add_argument("--reporters", type=int, default=50)
    parser.add_argument("--investigators", type=int, default=5)
    parser.add_argument("--deadline", type=int, default=900, help="seconds before giving up")
    parser.add_argument(
        "--postgres",
        default=os.environ.get("SIPADU_TEST_DATABASE_URL")
        or "postgresql+psycopg://postgres@127.0.0.1:5432/test",
    )
    parser.add_argument(
        "--redis", default=os.environ.get("SIPADU_TEST_REDIS_URL") or "redis://127.0.0.1:6379/0"
    )
    args = parser.parse_args()
    server = Postgres(args.postgres)
    name = server.create()
    url = server.url_for(name)
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        env = config_env(
            Path(tmp) / "instance",
            url,
            args.redis,
            SIPADU_WORKERS="4",
            SIPADU_THREADS="8",
            SIPADU_REPORTS_PER_HOUR="100000",  # a load of real reports, not a flood
        )
        args.role = f"sipadu_load_{os.urandom(4).hex()}"
        try:
            return run(args, env, url)
        finally:
            server.drop(name)
            shutil.rmtree(VOLATILE_ROOT, ignore_errors=True)  # sessions and slot files
            with server.admin.connect() as connection:  # the role outlives no database
                connection.exec_driver_sql(f'DROP ROLE IF EXISTS "{args.role}"')
            server.admin.dispose()


def run(args, env: dict, url: str) -> int:
    people = init_demo(env)
    # The reporter portal connects as its least-privileged role, under row-level security.
    result = CliRunner().invoke(cli, ["db", "reporter-role", args.role], env=env)
    if result.exit_code != 0:
        raise Failed(f"reporter role: {result.output}")
    return _run(args, env, url, people, args.role)


def _run(args, env: dict, url: str, people: dict, role: str) -> int:
    from sqlalchemy.engine import make_url

    reporter_env = {
        **env,
        "SIPADU_DATABASE_URL": make_url(url)
        .set(username=role)
        .render_as_string(hide_password=False),
    }
    investigators = [people["pemeriksa1"], people["pemeriksa2"]]
    for number in range(3, args.investigators + 1):
        username = f"pemeriksa{number}"
        password = f"kata sandi beban {number} {os.urandom(4).hex()}"
        result = CliRunner().invoke(
            cli,
            [
                "user",
                "create",
                "--username",
                username,
                "--role",
                "investigator",
                "--password-stdin",
            ],
            env=env,
            input=password + "\n",
        )
        secret = re.search(r"totp_secret: (\S+)", result.stdout).group(1)
        for category in CATEGORIES:
            CliRunner().invoke(cli, ["route", "add", category, username], env=env)
        investigators.append(Person(username, password, secret, 0, url))
    stats = Stats()
    started = time.perf_counter()
    with (
        serving("reporter", reporter_env) as (_r, reporter),
        serving("staff", env) as (_s, staff),
    ):
        stop = threading.Event()
        with ThreadPoolExecutor(args.investigators) as staff_pool:
            working = [staff_pool.submit(investigate, staff, stats, p, stop) for p in investigators]
            rng = random.Random(2026)
            seeds = [random.Random(rng.random()) for _ in range(args.reports)]
            try:
                with ThreadPoolExecutor(args.reporters) as pool:
                    receipts = list(
                        pool.map(
                            lambda i: submit(reporter, stats, i, seeds[i]), range(args.reports)
                        )
                    )
            finally:  # a failed reporter must not leave the investigators working forever
                stop.set()
            answered = sum(future.result() for future in working)
        elapsed = time.perf_counter() - started
        if elapsed > args.deadline:
            raise Failed(f"took {elapsed:.0f} s, over the {args.deadline} s deadline")

        codes = [code for code, _, _ in receipts]
        if len(set(codes)) != len(codes):
            raise Failed("two reports were given the same code")
        with database(url) as session:
            stored = session.scalar(select(func.count()).select_from(Report))
            report_ids = [str(r) for r in session.scalars(select(Report.id))]
        if stored != len(codes):
            raise Failed(f"{stored} reports stored, {len(codes)} codes shown")
        # Every report opens for an investigator (all are routed everywhere).
        checker = Client(staff, stats)
        person = investigators[0]
        fields = {"username": person.username, "password": person.password, "totp": person.code()}
        until_served(lambda: checker.form("/login", "POST /login", fields, "/login"))
        markers = {marker for _, marker, _ in receipts}
        seen = set()
        for report_id in report_ids:
            status, page = checker.request("GET", f"/reports/{report_id}", "GET /reports/<id>")
            found = re.search(r"<h1>(Laporan beban [^<]+)</h1>", page.decode())
            if status != 200 or not found:
                raise Failed(f"report {report_id} does not open for an investigator")
            seen.add(found.group(1))
        if seen != markers:
            raise Failed("the reports investigators read are not the reports submitted")
    if stats.server_errors:
        raise Failed(f"{len(stats.server_errors)} server errors: {stats.server_errors[:5]}")
    with database(url) as session:
        verdict = audit.verify_chain(session.connection())
    if not verdict.ok:
        raise Failed(f"audit chain: {verdict.line()}")

    figures = {
        "reports": len(codes),
        "with_files": sum(1 for i in range(args.reports) if i % 3 == 0),
        "replies": answered,
        "seconds": elapsed,
        "reports_per_s": len(codes) / elapsed,
        "audit_entries": verdict.count,
        "server_errors": 0,
        "busy_answers": stats.busy,
    }
    for endpoint, samples in sorted(stats.times.items()):
        key = re.sub(r"[^a-z0-9]+", "_", endpoint.lower()).strip("_")
        ordered = sorted(samples)
        figures[f"{key}_n"] = len(samples)
        figures[f"{key}_p50_ms"] = statistics.median(ordered) * 1000
        figures[f"{key}_p95_ms"] = ordered[int(0.95 * (len(ordered) - 1))] * 1000
    for key, value in figures.items():
        print(f"{key:42} {value:10.1f}")
    print(" ".join(f"{k}={v:.1f}" for k, v in figures.items()))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Failed as failure:
        print(f"LOAD TEST FAILED: {failure}", file=sys.stderr)
        sys.exit(1)
