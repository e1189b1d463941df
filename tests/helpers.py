"""Helpers shared by the test modules: the test databases and instances, real servers
and their processes, forms and sign-in on both portals, demo staff, files to upload,
places plaintext must never reach.

Test modules import plain helpers and constants from here and fixtures from
``conftest`` (which builds its fixtures on these), never from one another. The service
tests (no HTTP) have their own helpers in ``tests/services/helpers.py``."""

import html
import http.client
import io
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pyotp
import pyrage
import redis
from click.testing import CliRunner
from sqlalchemy import create_engine, delete, select, text, update
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from sipadu.accountability import audit
from sipadu.cli import main as cli
from sipadu.crypto import kdf as kdf_module
from sipadu.crypto import new_keypair
from sipadu.persistence.db import make_engine, make_sessionmaker
from sipadu.persistence.models import (
    AuditCheckpoint,
    AuditEvent,
    AuditHead,
    Base,
    Proposal,
    StaffAccount,
)
from sipadu.reporter.blueprint import make_runtime
from sipadu.services.passphrases import format_code
from sipadu.services.reports import ReportForm, submit_report
from sipadu.settings.config import Config, load_config
from sipadu.web.derivations import Derivations

MIB = 1024 * 1024


# --- databases, instances and servers --------------------------------------------------

# Every program this test process starts, by name (the first argv element or the
# executable): `tests/test_make.py` checks them against the Makefile's PROGRAMS at the end
# of the run, whatever way a test built its argv (test_make's source scan sees only list
# literals). conftest.py installs the audit hook that fills it.
PROGRAMS_STARTED: set[str] = set()


def this_workers_redis(url: str | None) -> str | None:
    """``url`` (``redis://host:port/N``) with a Redis database of this pytest-xdist
    worker's own: N + 1 for worker gw1, N + 2 for gw2 (Redis has 16 by default), ``url``
    itself for gw0 and outside xdist. Rate-limit counters, mailbox sessions and the scans
    of everything stored in Redis then never see another worker's keys."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    if not url or not worker.startswith("gw"):
        return url
    parts = urllib.parse.urlsplit(url)
    number = int(parts.path.strip("/") or 0) + int(worker.removeprefix("gw"))
    return urllib.parse.urlunsplit(parts._replace(path=f"/{number}"))


# Each module's PostgreSQL database (and each template) has a name of its own
# (Postgres.create), so pytest-xdist workers never share one; Redis is split by database
# number (this_workers_redis).
POSTGRES_URL = os.environ.get("SIPADU_TEST_DATABASE_URL") or None
REDIS_URL = this_workers_redis(os.environ.get("SIPADU_TEST_REDIS_URL") or None)
CHEAP_ARGON2 = {"TIME_COST": "1", "MEMORY_KIB": "256", "PARALLELISM": "1"}


class Postgres:
    """Creates and drops throw-away databases next to the configured one."""

    def __init__(self, url: str) -> None:
        self.url = make_url(url)
        self.admin = create_engine(self.url, isolation_level="AUTOCOMMIT")

    def url_for(self, name: str) -> str:
        return self.url.set(database=name).render_as_string(hide_password=False)

    def create(self, template: str | None = None) -> str:
        name = f"sipadu_t_{uuid.uuid4().hex[:12]}"
        clause = f' TEMPLATE "{template}"' if template else ' TEMPLATE "template0"'
        with self.admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"{clause}'))
        return name

    def drop(self, name: str) -> None:
        with self.admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


# A few tests need PostgreSQL and Redis even in the SQLite half of the suite (database
# roles, two hosts, crashes, the canary at scale): both run on every developer and CI
# machine, at these addresses unless the run names others.
ALWAYS_POSTGRES_URL = POSTGRES_URL or "postgresql+psycopg://postgres@127.0.0.1:5432/test"
ALWAYS_REDIS_URL = REDIS_URL or this_workers_redis("redis://127.0.0.1:6379/0")


@contextmanager
def database(url: str) -> Iterator[Session]:
    """A session on ``url`` for a test to look at what the application stored."""
    engine = make_engine(url)
    session = make_sessionmaker(engine)()
    try:
        yield session
    finally:
        session.close()
        engine.dispose()


# Mailbox sessions need a memory-backed folder; this run's, removed when it ends.
VOLATILE_ROOT = Path("/dev/shm") / f"sipadu-tests-{uuid.uuid4().hex[:12]}"


def config_env(instance: Path, database_url: str, redis_url: str | None, **extra: str) -> dict:
    env = {
        "SIPADU_ENV": "development",
        "SIPADU_INSTANCE_PATH": str(instance),
        "SIPADU_DATABASE_URL": database_url,
        "SIPADU_VOLATILE_PATH": str(VOLATILE_ROOT / uuid.uuid4().hex[:12]),
        **{f"SIPADU_ARGON2_{k}": v for k, v in CHEAP_ARGON2.items()},
        **{f"SIPADU_LOOKUP_ARGON2_{k}": v for k, v in CHEAP_ARGON2.items()},
    }
    if redis_url:
        env["SIPADU_REDIS_URL"] = redis_url
    env.update(extra)
    return env


# An instance whose operators take in reports (issue 18): the addresses the slip gives
# (and its QR code holds), and two offices.
WEB_ADDRESS = "https://lapor.example.go.id"
ONION_ADDRESS = "2gzyxa5ihm7nsggfxnu52rck2vv4rvmdlkiu3zzui5du4xyclen53wid.onion"
OFFICE = "Kecamatan Menteng, Jakarta Pusat"


def intake_env(instance: Path, database_url: str, redis_url: str | None, **extra: str) -> dict:
    """:func:`config_env` of an instance that takes in reports at its counters."""
    return config_env(
        instance,
        database_url,
        redis_url,
        SIPADU_WEB_ADDRESS=WEB_ADDRESS,
        SIPADU_ONION_ADDRESS=ONION_ADDRESS,
        SIPADU_INTAKE_OFFICES=f"Kantor Inspektorat;{OFFICE}",
        **extra,
    )


# A recovery public key for production-mode configs in tests (its private half unused).
RECOVERY_HEX = new_keypair().public_key().to_bytes().hex()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(url: str, deadline: float, process: subprocess.Popen | None = None) -> bool:
    """Wait until ``url`` answers; False if ``process`` (the server) ends first. Raises
    AssertionError at ``deadline``."""
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=1).close()
            return True
        except (urllib.error.URLError, ConnectionError):
            if process is not None and process.poll() is not None:
                return False
            time.sleep(0.2)
    raise AssertionError(f"{url} did not come up")


# A server that ends before it answers is started again on another port, this many times
# at most: the port free_port found may be taken before gunicorn binds it (by a client
# socket of another test, given the same ephemeral port), and gunicorn then gives up.
SERVING_TRIES = 3


@contextmanager
def serving(
    portal: str, env: dict, log: Path | None = None, module: str = "sipadu.hosting.serve"
) -> Iterator[tuple[subprocess.Popen, str]]:
    """One portal of an existing instance served by real gunicorn; yields the master
    process and the base URL. ``log`` keeps the server's output (for log scans);
    ``module`` is what ``python -m`` runs (a test's variant of the server)."""
    output = log.open("wb") if log is not None else subprocess.DEVNULL
    for _ in range(SERVING_TRIES):
        port = free_port()
        process = subprocess.Popen(
            [sys.executable, "-m", module, portal],
            env={**os.environ, **env, f"SIPADU_{portal.upper()}_BIND": f"127.0.0.1:{port}"},
            stdout=output,
            stderr=output,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            if wait_for(base + "/", time.monotonic() + 30, process):
                break
        except AssertionError:
            process.kill()
            process.wait(timeout=10)
            raise
        if log is not None:  # the log holds this server's lines only, not gunicorn's
            output.seek(0)  # complaint about the port it could not take
            output.truncate()
    else:
        raise AssertionError(f"the {portal} portal ended {SERVING_TRIES} times before answering")
    try:
        yield process, base
    finally:
        process.terminate()
        try:
            # gunicorn's graceful shutdown may take its whole graceful_timeout (30 s)
            # after a test killed a worker; past that, stop it hard.
            process.wait(timeout=45)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        if log is not None:
            output.close()


def init_demo_instance(env: dict) -> None:
    """``sipadu init --demo`` for the instance ``env`` describes, in a process of its own
    (as ``make run`` does), before a server is started on it."""
    subprocess.run(
        [sys.executable, "-m", "sipadu.cli", "init", "--demo"],
        env={**os.environ, **env},
        check=True,
        capture_output=True,
    )


@contextmanager
def reporter_under_gunicorn(
    database_url: str, root: Path, redis_url: str | None, **extra_env: str
) -> Iterator[tuple[subprocess.Popen, str]]:
    """A fresh demo instance with its reporter portal served by real gunicorn (1 worker);
    yields the master process and the base URL."""
    env = {
        **config_env(
            root / "instance",
            database_url,
            redis_url,
            SIPADU_WORKERS="1",
            SIPADU_THREADS="4",
        ),
        **extra_env,
    }
    init_demo_instance(env)
    with serving("reporter", env) as served:
        yield served


# --- forms -----------------------------------------------------------------------------

TOKEN = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
SUBMISSION = re.compile(r'name="submission_token" value="([^"]+)"')


def csrf(client, path: str) -> str:
    """The CSRF token of the form at ``path`` (either portal)."""
    return TOKEN.search(client.get(path).get_data(as_text=True)).group(1)


TOTP_KEY = re.compile(r'id="totp-key">([A-Z2-7 ]{32,40})<')


def totp_key(page: str) -> str:
    """The TOTP seed an enrollment page shows (grouped by four for typing), as one word.
    The server keeps it: no form field carries it (issue 15)."""
    return TOTP_KEY.search(page).group(1).replace(" ", "")


def submission_of(page: str | bytes) -> dict[str, str]:
    """The one-time submission token of the form on ``page``, as a field (or nothing)."""
    text = page.decode() if isinstance(page, bytes) else page
    found = SUBMISSION.search(text)
    return {"submission_token": found.group(1)} if found else {}


def form_tokens(client, path: str) -> dict[str, str]:
    """The CSRF token and, if the form has one, the one-time submission token of the
    form at ``path`` (reporter portal: report and mailbox reply forms)."""
    page = client.get(path).get_data(as_text=True)
    tokens = {"csrf_token": TOKEN.search(page).group(1)}
    if found := SUBMISSION.search(page):
        tokens["submission_token"] = found.group(1)
    return tokens


def post(client, path: str, form_page: str = "/", **data):
    """POST with a CSRF token taken from ``form_page``."""
    return client.post(path, data={"csrf_token": csrf(client, form_page), **data})


# --- the reporter portal ---------------------------------------------------------------


def submit(client, **fields) -> tuple[str, str | None, str]:
    """Send a report; its code, the passphrase (suggested or chosen) and the page."""
    data = {
        "category": "kkn",
        "title": "Judul",
        "what": "Kejadian",
        "passphrase": "",
        "passphrase_confirm": "",
        **fields,
    }
    data.update(form_tokens(client, "/report"))
    for _ in range(50):  # what a person does with "busy, try again": sends it again
        response = client.post("/report", data=data)
        if response.status_code != 503:
            break
        time.sleep(0.1)
    body = response.get_data(as_text=True)
    assert response.status_code == 200, body
    code = re.search(r'id="report-code">([^<]+)<', body).group(1)
    suggested = re.search(r'id="report-passphrase">([^<]+)<', body)
    return code, suggested.group(1) if suggested else fields.get("passphrase"), body


def typed_report(env: dict, title: str = "Diketik petugas") -> tuple[str, str]:
    """A report an operator typed for someone (``transcribed``, issue 18), made through
    the service layer with the instance's own settings (the operator's intake form is
    another part's); its code (grouped) and suggested passphrase."""
    settings = make_runtime(load_config(env)).submission
    form = ReportForm(
        category="kkn",
        title=title,
        what="Petugas loket meminta uang Rp 50.000 untuk mempercepat izin.",
        who="Petugas loket 3",
        transcribed=True,
    )
    with database(env["SIPADU_DATABASE_URL"]) as session:
        receipt = submit_report(session, form, None, settings, date.today())
        session.commit()
    assert receipt.suggested_passphrase is not None
    return format_code(receipt.code), receipt.suggested_passphrase


def dated_report(env: dict, day: date, title: str = "Laporan bertanggal") -> tuple[str, str]:
    """A web report (not typed) received on ``day``, made through the service layer with
    the instance's own settings, as a submission on that day would have stored it (a
    receipt needs its day over, issue 20); its code (grouped) and suggested passphrase."""
    settings = make_runtime(load_config(env)).submission
    form = ReportForm(category="kkn", title=title, what="Pungutan tanpa kuitansi di loket.")
    with database(env["SIPADU_DATABASE_URL"]) as session:
        made = submit_report(session, form, None, settings, day)
        session.commit()
    assert made.suggested_passphrase is not None
    return format_code(made.code), made.suggested_passphrase


def take_new_code(client, passphrase: str = "") -> tuple[str, str]:
    """The first sign-in of a typed report (``client`` signed in with the slip): take
    the new code (issue 18). Its code (grouped) and passphrase: ``passphrase``, or the
    suggested one when it is ""."""
    data = {
        **form_tokens(client, "/mailbox/passphrase"),
        "passphrase": passphrase,
        "passphrase_confirm": passphrase,
    }
    taken = client.post("/mailbox/passphrase", data=data)
    page = taken.get_data(as_text=True)
    assert taken.status_code == 200 and 'id="new-code-taken"' in page, page[:2000]
    code = re.search(r'id="report-code">([^<]+)<', page).group(1)
    if passphrase:
        return code, passphrase
    return code, html.unescape(re.search(r'id="report-passphrase">([^<]+)<', page).group(1))


def login(client, code: str, passphrase: str):
    token = csrf(client, "/mailbox/login")
    return client.post(
        "/mailbox/login", data={"csrf_token": token, "code": code, "passphrase": passphrase}
    )


def mailbox_client(app, code: str, passphrase: str):
    """A test client of the reporter portal ``app``, signed in to the mailbox."""
    client = app.test_client()
    assert login(client, code, passphrase).status_code == 303
    return client


NEW_PASSPHRASE = "layang layang merah di atas sawah"


def change_passphrase(
    client, code: str, current: str, new: str = NEW_PASSPHRASE, again: str | None = None
):
    """POST the mailbox's passphrase change (issue 18) from a signed-in ``client``;
    ``again`` is the repeated new passphrase (default: ``new``)."""
    return client.post(
        "/mailbox/passphrase",
        data={
            **form_tokens(client, "/mailbox/passphrase"),
            "code": code,
            "current_passphrase": current,
            "passphrase": new,
            "passphrase_confirm": new if again is None else again,
        },
    )


def answer_transcript(client, answer: str, correction: str = ""):
    """POST the reporter's answer to a typed report's transcript (issue 18) from a
    signed-in ``client``: ``confirm``, or ``correct`` with the ``correction``."""
    data = {"csrf_token": csrf(client, "/mailbox"), "answer": answer}
    if answer == "correct":
        data["correction"] = correction
    return client.post("/mailbox/transcript", data=data)


def report_with_files(client, files, **fields):
    """POST a report with ``files``: ``(name, bytes, content type)`` each."""
    data = {
        "category": "kkn",
        "title": "Dengan bukti",
        "what": "Lihat lampiran",
        "passphrase": "",
        "passphrase_confirm": "",
        **fields,
    }
    data.update(form_tokens(client, "/report"))
    data["attachments"] = [(io.BytesIO(content), name, kind) for name, content, kind in files]
    return client.post("/report", data=data, content_type="multipart/form-data")


def receipt(response) -> tuple[str, str]:
    """The code and suggested passphrase of a submitted report's page."""
    body = response.get_data(as_text=True)
    assert response.status_code == 200, body[:400]
    return (
        re.search(r'id="report-code">([^<]+)<', body).group(1),
        re.search(r'id="report-passphrase">([^<]+)<', body).group(1),
    )


def jpeg_with_exif(tag: str, size: tuple[int, int] = (64, 48)) -> bytes:
    """A JPEG carrying an EXIF description, artist, GPS position and comment: ``tag``."""
    from PIL import Image

    exif = Image.Exif()
    exif[0x010E] = f"EXIF-DESCRIPTION-{tag}"
    exif[0x013B] = f"EXIF-ARTIST-{tag}"
    exif[0x8825] = {1: "S", 2: (6.0, 10.0, 30.0), 3: "E", 4: (106.0, 49.0, 12.0)}
    out = io.BytesIO()
    Image.new("RGB", size, (180, 40, 40)).save(
        out, "JPEG", exif=exif.tobytes(), comment=f"COMMENT-{tag}".encode()
    )
    return out.getvalue()


def png_with_text(tag: str, size: tuple[int, int] = (32, 32), noise: bool = False) -> bytes:
    from PIL import Image, PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("Author", f"PNG-AUTHOR-{tag}")
    image = (
        Image.frombytes("RGB", size, os.urandom(size[0] * size[1] * 3))
        if noise
        else Image.new("RGB", size, (0, 90, 200))
    )
    out = io.BytesIO()
    image.save(out, "PNG", pnginfo=info)
    return out.getvalue()


# --- the staff portal ------------------------------------------------------------------


@dataclass
class Person:
    username: str
    password: str
    totp_secret: str
    step: int = 0  # the last TOTP step used: each code counts once
    database_url: str | None = None

    def code(self) -> str:
        """A code for a time step not used yet (the server refuses replays: only three
        steps are valid at any moment). Tests sign the same people in far more often
        than three times in 30 seconds, so when the fresh steps run out this helper
        forgets the account's last used step in the database — a test shortcut; the
        replay test itself never takes it. Never the step before the current one: a
        half-minute boundary between making the code and checking it would void it."""
        current = int(time.time()) // 30
        self.step = max(self.step + 1, current, self._last_step() + 1)
        if self.step > current + 1:
            if self.database_url is None:
                raise AssertionError("out of fresh TOTP codes for this half-minute")
            self._forget_last_step()
            self.step = current
        return pyotp.TOTP(self.totp_secret).generate_otp(self.step)

    def two_codes(self) -> tuple[str, str]:
        """Codes of two consecutive steps, both valid now and never used: the current
        step's and the next one's (the server allows one step of drift either side, so
        a half-minute boundary in between still leaves both valid)."""
        current = int(time.time()) // 30
        if max(self.step, self._last_step()) >= current:
            if self.database_url is None:
                raise AssertionError("out of fresh TOTP codes for this half-minute")
            self._forget_last_step()
        self.step = current + 1
        totp = pyotp.TOTP(self.totp_secret)
        return totp.generate_otp(current), totp.generate_otp(current + 1)

    def _last_step(self) -> int:
        if self.database_url is None:
            return 0
        engine = make_engine(self.database_url)
        with engine.connect() as connection:
            last = connection.scalar(
                select(StaffAccount.totp_last_step).where(StaffAccount.username == self.username)
            )
        engine.dispose()
        return last or 0

    def _forget_last_step(self) -> None:
        engine = make_engine(self.database_url)
        with engine.begin() as connection:
            connection.execute(
                update(StaffAccount)
                .where(StaffAccount.username == self.username)
                .values(totp_last_step=0)
            )
        engine.dispose()


def invoke(env, *args, stdin=None):
    """``sipadu <args>`` in this process, for the instance ``env`` describes."""
    return CliRunner().invoke(cli, list(args), env=env, input=stdin, catch_exceptions=False)


def forge_history(session: Session, seq: int) -> None:
    """What someone with write access to the database but not the signing key can do
    (issue 15, item 8): rewrite entry ``seq`` (its action becomes ``report.read``),
    recompute every hash after it and the head, delete the stored checkpoints and store
    one over the forged head, signed by a key of their own. The caller commits."""
    session.flush()
    prev = audit.GENESIS
    for row in session.scalars(select(AuditEvent).order_by(AuditEvent.seq)):
        if row.seq == seq:
            row.action = audit.Action.REPORT_READ.value
        record = {
            "seq": row.seq,
            "at": row.at,
            "actor": row.actor,
            "role": row.role,
            "action": row.action,
            "report_id": str(row.report_id) if row.report_id else None,
            "detail": json.loads(row.detail) if row.detail else None,
        }
        row.prev_hash, row.hash = prev, audit.entry_hash(prev, audit.canonical(record))
        prev = row.hash
    session.execute(update(AuditHead).where(AuditHead.id == 1).values(hash=prev))
    session.execute(delete(AuditCheckpoint))
    audit.make_checkpoint(session, os.urandom(32))
    session.flush()


def open_session(env):
    engine = make_engine(env["SIPADU_DATABASE_URL"])
    return engine, make_sessionmaker(engine)()


def init_demo(env: dict) -> dict[str, Person]:
    """``sipadu init --demo``: the demo staff, by role."""
    result = invoke(env, "init", "--demo")
    assert result.exit_code == 0, result.output
    return {
        m.group(2): Person(m.group(2), m.group(3), m.group(4), 0, env["SIPADU_DATABASE_URL"])
        for m in re.finditer(r"^demo (\S+) (\S+) (\S+) (\S+)$", result.stdout, re.M)
    }


def sign_in(
    client,
    person: Person,
    *,
    password: str | None = None,
    code: str | None = None,
    next_code: str | None = None,
):
    data = {
        "csrf_token": csrf(client, "/login"),
        "username": person.username,
        "password": person.password if password is None else password,
        "totp": person.code() if code is None else code,
    }
    if next_code is not None:
        data["totp_next"] = next_code
    return client.post("/login", data=data)


def signed_in(app, person: Person):
    client = app.test_client()
    response = sign_in(client, person)
    assert response.status_code == 303, response.get_data(as_text=True)[:500]
    return client


def account_of(database_url: str, username: str) -> StaffAccount:
    """The stored account, detached (for looking at what the portal wrote)."""
    with database(database_url) as session:
        account = session.scalar(select(StaffAccount).where(StaffAccount.username == username))
        session.expunge_all()
        return account


def sample_path(rule) -> str:
    """A path for a staff route with made-up values: random ids, the first choice."""
    values = {}
    for name in rule.arguments:
        converter = rule._converters[name]
        kind = type(converter).__name__
        if kind == "UUIDConverter":
            values[name] = uuid.uuid4()
        elif kind == "AnyConverter":
            values[name] = sorted(converter.items)[0]
        else:
            values[name] = "no-such-thing"
    return rule.build(values, append_unknown=False)[1]


def report_id_of(database_url: str, title_marker: str, staff_client) -> uuid.UUID:
    """The id of the report whose title starts with ``title_marker`` in the case list."""
    page = staff_client.get("/reports").get_data(as_text=True)
    match = re.search(r'href="/reports/([0-9a-f-]{36})">' + re.escape(title_marker), page)
    assert match, "report not in the list"
    return uuid.UUID(match.group(1))


def sample_audit_details(ids: dict[str, str]) -> dict[audit.Action, tuple[str, str, dict]]:
    """(actor, role, detail) of each audit action as its service records it, for pages
    that show the log; ``ids`` maps the demo usernames to account ids."""
    someone = {"account": ids["pemeriksa2"], "username": "pemeriksa2", "fingerprint": "ab" * 16}
    admin = ids["admin"]
    A = audit.Action
    return {
        A.SYSTEM_INIT: ("operator", "operator", {"version": "1.0", "demo": True}),
        A.CATEGORY_CREATE: ("operator", "operator", {"category": "kkn"}),
        A.CATEGORY_UPDATE: (
            admin,
            "admin",
            {"category": "staff_discipline", "accepting_reports": False},
        ),
        A.ACCOUNT_CREATE: (admin, "admin", {**someone, "roles": ["custodian", "investigator"]}),
        A.ACCOUNT_ACTIVATE: (admin, "admin", someone),
        A.ACCOUNT_DEACTIVATE: (
            admin,
            "admin",
            {**someone, "sessions_ended": 2, "grants_dropped": 3, "wraps_dropped": 6},
        ),
        A.ROLE_GRANT: (admin, "admin", {**someone, "role": "custodian"}),
        A.ROLE_REVOKE: (
            admin,
            "admin",
            {**someone, "role": "auditor", "grants_dropped": 0, "wraps_dropped": 0},
        ),
        A.PERMISSION_CHANGE: (admin, "admin", {**someone, "may_grant": True}),
        A.KEY_REGISTER: ("operator", "operator", someone),
        A.PASSWORD_CHANGE: (ids["pemeriksa2"], "none", someone),
        A.PASSWORD_RESET: (admin, "admin", {**someone, "link": "activation"}),
        A.TOTP_RESET: (admin, "admin", {**someone, "sessions_ended": 1}),
        A.LOGIN_SUCCESS: (ids["pemeriksa2"], "none", {}),
        A.LOGIN_FAILURE: ("unknown", "none", {"reason": "second_factor"}),
        A.PASSWORD_PROOF_FAILURE: (
            ids["pemeriksa2"],
            "none",
            {**someone, "proof": "password_change"},
        ),
        A.LOGOUT: (ids["pemeriksa2"], "none", {}),
        A.PROPOSAL_CREATE: (
            admin,
            "admin",
            {"proposal": str(uuid.uuid4()), "kind": "route_add", **someone, "category": "kkn"},
        ),
        A.PROPOSAL_APPROVE: (
            ids["admin2"],
            "admin",
            {"proposal": str(uuid.uuid4()), "kind": "role_grant", **someone, "role": "custodian"},
        ),
        A.PROPOSAL_REJECT: (
            ids["admin2"],
            "admin",
            {"proposal": str(uuid.uuid4()), "kind": "hold_set"},
        ),
        A.ROUTE_ADD: ("operator", "operator", {"category": "abuse_of_authority", **someone}),
        A.ROUTE_REMOVE: (admin, "admin", {"category": "administrative_violation", **someone}),
        A.REPORT_LIST: (
            ids["pemeriksa1"],
            "investigator",
            {"filters": ["status", "category"], "page_after": None},
        ),
        A.REPORT_READ: (ids["pemeriksa1"], "investigator", {}),
        A.REPORT_SEARCH: (
            ids["pemeriksa1"],
            "investigator",
            {"reports": [str(uuid.uuid4()), str(uuid.uuid4())], "found": 1, "page_after": None},
        ),
        A.REPORT_EXPORT: (
            ids["pemeriksa1"],
            "investigator",
            {"encrypted": True, "identity_included": True},
        ),
        A.REPORT_EXPORT_PLAINTEXT: (
            ids["pemeriksa1"],
            "investigator",
            {"encrypted": False, "identity_included": False},
        ),
        A.REPORT_PRINT: (
            ids["pemeriksa1"],
            "investigator",
            {"notes_included": True, "identity_included": False},
        ),
        A.RECIPIENT_ADD: (
            admin,
            "admin",
            {"recipient": "Arsip Inspektorat", "fingerprint": "ab" * 32},
        ),
        A.RECIPIENT_REMOVE: (admin, "admin", {"recipient": "BPKP", "fingerprint": "cd" * 32}),
        A.ATTACHMENT_DOWNLOAD: (
            ids["pemeriksa1"],
            "investigator",
            {"attachment": str(uuid.uuid4()), "size": 123456},
        ),
        A.SAFE_COPY_MAKE: (
            ids["pemeriksa1"],
            "investigator",
            {"attachment": str(uuid.uuid4()), "outcome": "too-costly"},
        ),
        A.SAFE_COPY_DOWNLOAD: (
            ids["pemeriksa1"],
            "investigator",
            {"attachment": str(uuid.uuid4()), "size": 654321},
        ),
        A.MESSAGE_SEND: (ids["pemeriksa1"], "investigator", {"files": 1}),
        A.NOTE_ADD: (ids["pemeriksa1"], "investigator", {"note": str(uuid.uuid4())}),
        A.STATUS_CHANGE: (
            ids["pemeriksa1"],
            "investigator",
            {"from": "in_review", "to": "closed_substantiated", "acknowledged": True},
        ),
        A.SPAM_MARK: (ids["pemeriksa1"], "investigator", {}),
        A.SPAM_UNMARK: (ids["pemeriksa1"], "investigator", {}),
        A.REPORT_REOPEN: (
            ids["pemeriksa1"],
            "investigator",
            {"from": "closed_unsubstantiated", "to": "in_review"},
        ),
        A.CASE_LABELS: (ids["pemeriksa1"], "investigator", {"labels": 2}),
        A.CASE_LEAD: (
            ids["pemeriksa1"],
            "investigator",
            {"account": ids["pemeriksa2"], "username": "pemeriksa2"},
        ),
        A.CASE_LINK: (
            ids["pemeriksa1"],
            "investigator",
            {"other": str(uuid.uuid4()), "kind": "duplicate"},
        ),
        A.CASE_UNLINK: (ids["pemeriksa1"], "investigator", {"other": str(uuid.uuid4())}),
        A.GRANT_RECUSE: (
            ids["pemeriksa2"],
            "investigator",
            {**someone, "wraps_removed": 4, "new_epoch": 2, "was_lead": True},
        ),
        A.GRANT_ADD: (ids["pemeriksa1"], "investigator", {**someone, "keys": 3}),
        A.GRANT_REVOKE: (
            ids["pemeriksa1"],
            "investigator",
            {**someone, "wraps_removed": 3, "new_epoch": 1},
        ),
        A.IDENTITY_REQUEST: (ids["pemeriksa1"], "investigator", {"request": str(uuid.uuid4())}),
        A.IDENTITY_APPROVE: (
            ids["inspektur"],
            "custodian",
            {"request": str(uuid.uuid4()), **someone},
        ),
        A.IDENTITY_REFUSE: (
            ids["inspektur"],
            "custodian",
            {"request": str(uuid.uuid4()), **someone},
        ),
        A.IDENTITY_READ: (
            ids["pemeriksa1"],
            "investigator",
            {"via": "export", "encrypted": False},
        ),
        A.IDENTITY_REQUEST_READ: (ids["inspektur"], "custodian", {"request": str(uuid.uuid4())}),
        A.INTEGRITY_FAILURE: (
            ids["pemeriksa1"],
            "investigator",
            {"kind": "identity_request", "id": str(uuid.uuid4())},
        ),
        A.RECOVERY_GRANT: ("operator", "operator", {**someone, "keys": 2}),
        A.AUDIT_VIEW: (ids["auditor"], "auditor", {"filters": ["action"], "before": None}),
        A.AUDIT_EXPORT: (ids["auditor"], "auditor", {"format": "jsonl", "since": 0}),
        A.AUDIT_CHECKPOINT: (ids["auditor"], "auditor", {"seq": 40}),
        A.AUDIT_VERIFY: (
            ids["auditor"],
            "auditor",
            {"ok": False, "entries": 40, "checkpoints": 1, "bad_entry": 12},
        ),
        A.RETENTION_SHRED: ("operator", "operator", {"reports": 2, "keys": 9}),
        A.RETENTION_PURGE: ("system", "system", {"reports": 2, "files": 1}),
        A.ROW_ORDER_RESHUFFLE: ("operator", "operator", {"tables": 9, "ms": 41}),
        A.REPORT_INTAKE: (
            ids["petugas1"],
            "operator",
            {"channel": "walk_in", "office": "Kantor Kecamatan"},
        ),
        # coi (issue 18)
        A.COI_MEMBER_ADD: (admin, "admin", {"member": "investigator", **someone}),
        A.COI_MEMBER_REMOVE: (
            admin,
            "admin",
            {"member": "external", "recipient": "BPKP Perwakilan", "fingerprint": "cd" * 32},
        ),
        A.COI_EXTERNAL_EXPORT: (
            "operator",
            "operator",
            {"recipient": "BPKP Perwakilan", "fingerprint": "cd" * 32},
        ),
        # units (issue 18)
        A.UNIT_CREATE: (
            admin,
            "admin",
            {"unit": ids["admin"], "kind": "kelurahan", "name": "Gambir", "parent": None},
        ),
        A.UNIT_UPDATE: (
            admin,
            "admin",
            {
                "unit": ids["admin"],
                "renamed_from": "Gambir",
                "name": "Gambir Baru",
                "active": False,
            },
        ),
        A.NOTIFY_SETTINGS: (
            ids["pemeriksa2"],
            "none",
            {
                **someone,
                "registered": True,
                "always_send": True,
                "openpgp": True,
                "confirmed": False,
            },
        ),
        A.DIGEST_SENT: (
            "system",
            "system",
            {
                "account": ids["pemeriksa2"],
                "need_action": 3,
                "overdue": 1,
                "pending_requests": 0,
                "late_acknowledgements": 2,
                "late_feedback": 0,
                "proposals": 1,
                "encrypted": True,
            },
        ),
        A.DIGEST_FAILED: (
            "system",
            "system",
            {"account": ids["pemeriksa2"], "error": "SMTPRecipientsRefused"},
        ),
        A.CONFIRMATION_SENT: (
            "system",
            "system",
            {"account": ids["pemeriksa2"], "encrypted": False},
        ),
        A.CONFIRMATION_FAILED: (
            "system",
            "system",
            {"account": ids["pemeriksa2"], "error": "SMTPRecipientsRefused"},
        ),
        A.CONFIRMATION_REQUESTED: (ids["pemeriksa2"], "none", someone),
        A.ADDRESS_CONFIRMED: (ids["pemeriksa2"], "none", someone),
        # statistics (issue 19)
        A.STATISTICS_VIEW: (
            ids["auditor"],
            "auditor",
            {"kind": "month", "year": 2025, "reports": 40},
        ),
        A.STATISTICS_EXPORT: (
            ids["inspektur"],
            "custodian",
            {"kind": "quarter", "year": 2025, "reports": 40},
        ),
        # transparency (issue 19)
        A.TRANSPARENCY_PUBLISH: (
            "operator",
            "operator",
            {"month": "2026-11", "sha256": "ab" * 32, "replaces": "cd" * 32},
        ),
        A.TRANSPARENCY_FACTS: ("operator", "operator", {"month": "2026-11"}),
        # receipts (issue 20)
        A.RECEIPT_DAY: (
            "system",
            "system",
            {"day": "2026-11-27", "last": "2026-11-27", "root": "ef" * 32, "size": 3},
        ),
        A.RECIPIENT_OFFER: (  # escalation (issue 20)
            admin,
            "admin",
            {
                "recipient": "KPK",
                "fingerprint": "ef" * 32,
                "offered_to_reporters": True,
                "reporter_channel": "https://kws.kpk.go.id",
            },
        ),
        # referral (issue 20)
        A.REPORT_REFER: (
            ids["pemeriksa1"],
            "investigator",
            {
                "referral": str(uuid.uuid4()),
                "recipient": "KPK",
                "recipient_fingerprint": "ef" * 32,
                "profile": ["field:who", "identity", "notes"],
                "identity_included": False,
                "follow_up_due_on": "2026-12-15",
                "with_reason": True,
                "from": "in_review",
                "to": "referred",
                "acknowledged": False,
            },
        ),
        A.REFERRAL_BUNDLE: (
            ids["pemeriksa1"],
            "investigator",
            {
                "referral": str(uuid.uuid4()),
                "recipient": "KPK",
                "recipient_fingerprint": "ef" * 32,
                "identity_included": False,
            },
        ),
        A.REFERRAL_RESPONSE: (
            ids["pemeriksa1"],
            "investigator",
            {"referral": str(uuid.uuid4()), "recipient": "KPK", "after_follow_up": True},
        ),
    }


# --- where plaintext must never be found -------------------------------------------------

# What a reporter's browser sends about them: no log, table or store may keep any of it.
CANARY_IP = "203.0.113.77"
CANARY_UA = "CanaryAgent/9.9 (reporter-device-fingerprint)"
IDENTIFYING_HEADERS = {
    "User-Agent": CANARY_UA,
    "X-Forwarded-For": CANARY_IP,
    "X-Real-IP": CANARY_IP,
    "Forwarded": f"for={CANARY_IP}",
    "CF-Connecting-IP": CANARY_IP,
    "True-Client-IP": CANARY_IP,
    "Referer": "https://search.example/?q=lapor+korupsi",
}


def every_database_value(database_url: str) -> list[bytes]:
    engine = make_engine(database_url)
    values: list[bytes] = []
    try:
        with engine.connect() as connection:
            tables = [*Base.metadata.tables, "alembic_version"]
            for table in tables:
                for row in connection.execute(text(f'SELECT * FROM "{table}"')):
                    for value in row:
                        if isinstance(value, bytes | memoryview):
                            values.append(bytes(value))
                        elif value is not None:
                            values.append(str(value).encode())
    finally:
        engine.dispose()
    return values


def files_under(*roots: Path, since: float = 0) -> list[bytes]:
    """The bytes of every file below ``roots`` changed at or after ``since`` (a
    ``time.time()``), as they are when read. A file gone between listing and reading
    (another test worker's SQLite journal or session file in a shared folder such as
    /tmp or /dev/shm), file or folder, holds nothing at rest any more: skipped, as it
    would be had it gone a moment before the listing."""
    found = []
    for root in roots:
        # os.walk, not Path.rglob: a folder gone while it is listed (a browser's profile
        # in /tmp) is skipped (onerror), where rglob raises.
        for folder, _dirs, names in os.walk(root, onerror=lambda _error: None):
            for name in names:
                path = Path(folder, name)
                try:
                    if path.is_file() and path.stat().st_mtime >= since:
                        found.append(path.read_bytes())
                except OSError:
                    continue
    return found


def redis_contents(url: str | None) -> list[bytes]:
    if not url:
        return []
    client = redis.Redis.from_url(url)
    out = []
    for key in client.scan_iter("*"):
        out.append(key)
        kind = client.type(key)
        if kind == b"string":
            out.append(client.get(key) or b"")
        elif kind == b"zset":
            out.extend(member for member, _ in client.zrange(key, 0, -1, withscores=True))
        elif kind == b"list":
            out.extend(client.lrange(key, 0, -1))
        elif kind == b"hash":
            out.extend(b"".join(pair) for pair in client.hgetall(key).items())
    return out


def end_mailbox_sessions(redis_url: str | None, volatile_path: Path) -> int:
    """Remove every mailbox session's stored half, as the idle limit does: the cookies
    still name their sessions, which are gone. Returns how many were removed."""
    if redis_url:
        client = redis.Redis.from_url(redis_url)
        keys = list(client.scan_iter("sipadu:mailbox-sessions:*"))
        return int(client.delete(*keys)) if keys else 0
    files = list((volatile_path / "mailbox-sessions").glob("*"))
    for path in files:
        path.unlink()
    return len(files)


def unlinked_blobs(database_url) -> int:
    """Staged files never linked to a report, and chunks whose file is gone."""
    with database(database_url) as session:
        return session.scalar(text("SELECT count(*) FROM blob WHERE linked = false")) + (
            session.scalar(
                text("SELECT count(*) FROM blob_chunk WHERE blob_id NOT IN (SELECT id FROM blob)")
            )
        )


# --- Argon2id ----------------------------------------------------------------------------

# Raised parameters (SIPADU_ARGON2_*): records made before are re-hashed at sign-in.
STRONGER = {
    "SIPADU_ARGON2_TIME_COST": "2",
    "SIPADU_ARGON2_MEMORY_KIB": "512",
    "SIPADU_ARGON2_PARALLELISM": "1",
}
# Slower than the other tests' (far below production's): a few clients fill the pool.
SLOWER_ARGON2 = {"TIME_COST": "2", "MEMORY_KIB": str(16 * 1024), "PARALLELISM": "1"}


def kdf_calls(monkeypatch) -> list[tuple]:
    """Every Argon2id derivation from now on, as (salt length, parameters)."""
    calls: list[tuple] = []
    real = kdf_module.argon2id

    def recording(secret: bytes, salt: bytes, params):
        calls.append((len(salt), params))
        return real(secret, salt, params)

    monkeypatch.setattr(kdf_module, "argon2id", recording)
    return calls


@contextmanager
def every_slot_held(config: Config, portal: str, lanes: tuple[str, ...] = ()) -> Iterator[None]:
    """Take every slot of a portal's pool (or of the named lanes) from this test
    process, as other workers of the host would: the pool is shared through lock
    files, not through the app."""
    pools = Derivations.for_portal(config, portal).lanes
    with ExitStack() as stack:
        for name, pool in pools.items():
            if lanes and name not in lanes:
                continue
            while pool.in_use() < pool.size:
                stack.enter_context(pool.slot(wait_seconds=1))
        yield


# --- real servers, byte by byte ----------------------------------------------------------


def fields_part(boundary: str, fields: dict[str, str]) -> bytes:
    """Plain form fields of a raw multipart body, each as its own part."""
    return "".join(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
        for name, value in fields.items()
    ).encode()


def file_head(
    boundary: str, filename: str, kind: str = "application/octet-stream", name: str = "attachments"
) -> bytes:
    """The headers of a file part; its bytes follow, then ``b"\\r\\n"``."""
    return (
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; '
        f'filename="{filename}"\r\nContent-Type: {kind}\r\n\r\n'
    ).encode()


def end(boundary: str) -> bytes:
    return f"--{boundary}--\r\n".encode()


def post_report(base: str, file_size: int = 0) -> tuple[int | None, bytes]:
    """Submit a report (with a file of ``file_size`` bytes); (status, body), or
    (None, b"") when the connection died with the worker."""
    host, port = urllib.parse.urlsplit(base).netloc.split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=60)
    connection.request("GET", "/report")
    response = connection.getresponse()
    page = response.read().decode()
    token, submission = TOKEN.search(page).group(1), SUBMISSION.search(page).group(1)
    cookie = response.getheader("Set-Cookie").split(";")[0]
    boundary = "crash"
    fields = {"csrf_token": token, "submission_token": submission}
    fields |= {"category": "kkn", "title": "Tabrakan", "what": "Uji"}
    fields |= {"passphrase": "", "passphrase_confirm": ""}
    body = fields_part(boundary, fields)
    if file_size:
        body += file_head(boundary, "besar.bin") + os.urandom(file_size) + b"\r\n"
    body += end(boundary)
    connection = http.client.HTTPConnection(host, int(port), timeout=60)
    try:
        connection.request(
            "POST",
            "/report",
            body=body,
            headers={
                "Cookie": cookie,
                "Content-Type": f"multipart/form-data; boundary={boundary}",
            },
        )
        reply = connection.getresponse()
        return reply.status, reply.read()
    except (ConnectionError, http.client.RemoteDisconnected, http.client.IncompleteRead):
        return None, b""


def upload_big(base: str, block: bytes, blocks: int) -> None:
    """POST /report with one file of ``blocks`` times ``block``, streamed (never in memory)."""
    host, port = urllib.parse.urlsplit(base).netloc.split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=300)
    connection.request("GET", "/report")
    response = connection.getresponse()
    page = response.read().decode()
    token, submission = TOKEN.search(page).group(1), SUBMISSION.search(page).group(1)
    cookie = response.getheader("Set-Cookie").split(";")[0]
    boundary = "----big"
    fields = {"csrf_token": token, "submission_token": submission}
    fields |= {"category": "kkn", "title": "Berkas besar", "what": "Bukti"}
    fields |= {"passphrase": "", "passphrase_confirm": ""}
    head = fields_part(boundary, fields) + file_head(boundary, "besar.bin")
    tail = b"\r\n" + end(boundary)

    def body():
        yield head
        for _ in range(blocks):
            yield block
        yield tail

    connection = http.client.HTTPConnection(host, int(port), timeout=300)
    connection.request(
        "POST",
        "/report",
        body=body(),
        headers={
            "Cookie": cookie,
            "Content-Type": f"multipart/form-data; boundary={boundary}",
            "Content-Length": str(len(head) + len(block) * blocks + len(tail)),
        },
    )
    reply = connection.getresponse()
    assert reply.status == 200 and b'id="report-code"' in reply.read()


class Browser:
    """A client that keeps its cookies; one connection per request, as separate people
    would (gunicorn's workers each accept connections)."""

    def __init__(self, base: str) -> None:
        url = urllib.parse.urlsplit(base)
        self.host, self.port = url.hostname, url.port
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, form: dict | None = None) -> tuple[int, str]:
        connection = http.client.HTTPConnection(self.host, self.port, timeout=60)
        headers = {"Connection": "close"}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = None
        if form is not None:
            body = urllib.parse.urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            for name, value in response.getheaders():
                if name.lower() == "set-cookie":
                    cookie, _, _ = value.partition(";")
                    key, _, val = cookie.partition("=")
                    self.cookies[key.strip()] = val.strip()
            return response.status, response.read().decode()
        finally:
            connection.close()

    def post_form(self, path: str, **fields: str) -> tuple[int, str]:
        _, page = self.request("GET", path)
        tokens = {"csrf_token": TOKEN.search(page).group(1)}
        if found := SUBMISSION.search(page):
            tokens["submission_token"] = found.group(1)
        return self.request("POST", path, {**tokens, **fields})


@contextmanager
def flood(attack: Callable[[], int], clients: int) -> Iterator[Counter]:
    """``clients`` threads each running ``attack`` in a loop until the block ends;
    yields the count of the statuses they got."""
    statuses: Counter = Counter()
    stop = threading.Event()

    def loop() -> None:
        while not stop.is_set():
            statuses[attack()] += 1

    threads = [threading.Thread(target=loop, daemon=True) for _ in range(clients)]
    for thread in threads:
        thread.start()
    try:
        time.sleep(1.5)  # let the flood fill the pool
        yield statuses
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=60)


def made_up_word(letters: int = 10) -> str:
    """A word of ``letters`` random lowercase letters, in no other report: a marker that
    never reads as a number (hex digits can spell a phone number or a NIK, and the
    warning about identifying details would send the form back)."""
    return "".join(chr(ord("a") + byte % 26) for byte in uuid.uuid4().bytes[:letters])


def random_code() -> str:
    return f"{uuid.uuid4().int % 10**16:016d}"


# --- processes (Linux /proc) -----------------------------------------------------------


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def worker_of(master: int) -> int:
    """A gunicorn master's (first) worker."""
    workers = children(master)
    if not workers:
        raise AssertionError("no worker")
    return workers[0]


def open_files(pid: int) -> list[str]:
    targets = []
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            targets.append(os.readlink(fd))
        except OSError:
            continue
    return targets


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


# --- a staff portal with something on every page ----------------------------------------------

LINK = re.compile(r'id="link">https?://[^/]+([^<]+)<')


def create_account(admin_client, username: str, *roles: str) -> str:
    """An admin creates an account; the path of its one-time activation link."""
    response = admin_client.post(
        "/admin/accounts",
        data={
            "csrf_token": csrf(admin_client, "/admin"),
            "username": username,
            "roles": list(roles),
        },
    )
    assert response.status_code == 200, response.get_data(as_text=True)[:800]
    return LINK.search(response.get_data(as_text=True)).group(1)


def activate_by_link(app, path: str, password: str) -> str:
    """Whoever holds the link sets a password and an authenticator app; its TOTP seed."""
    client = app.test_client()
    secret = totp_key(client.get(path).get_data(as_text=True))
    response = client.post(
        path,
        data={
            "csrf_token": csrf(client, path),
            "password": password,
            "password_confirm": password,
            "totp": pyotp.TOTP(secret).now(),
        },
    )
    assert response.status_code == 200, response.get_data(as_text=True)[:800]
    return secret


@dataclass
class StaffWorld:
    """What :func:`staff_world` made: the report ids by the status they reached, and
    one-time links nobody opened (an activation and an authenticator enrollment)."""

    reports: dict[str, uuid.UUID]
    activation_link: str
    enrollment_link: str


def staff_world(app, reporter_app, people: dict[str, "Person"], database_url: str) -> StaffWorld:
    """A demo instance with something in every list a staff page shows: reports in every
    status and category (with a file, messages, a note, one marked as spam, one held),
    identity requests waiting, approved and refused, proposals waiting, approved and
    rejected, accounts in every state, a checkpoint, and an audit entry of every action.
    Every change goes through the portals, as staff and reporters make it (confirmed
    where a page asks for it)."""
    from sipadu.persistence.models import IdentityRequest, Report

    reporter = reporter_app.test_client()
    categories = ["kkn", "abuse_of_authority", "administrative_violation", "staff_discipline"]
    steps = {
        "received": [],
        "in_review": ["in_review"],
        "investigating": ["in_review", "investigating"],
        "closed_substantiated": ["in_review", "investigating", "closed_substantiated"],
        "closed_unsubstantiated": ["in_review", "closed_unsubstantiated"],
        "rejected": ["rejected"],
    }
    investigator = signed_in(app, people["pemeriksa1"])
    reports: dict[str, uuid.UUID] = {}
    for number, (status, path) in enumerate(steps.items()):
        marker = f"Dunia {number} {uuid.uuid4().hex[:6]}"
        files = [("bukti.txt", b"isi bukti", "text/plain")] if number == 0 else []
        response = report_with_files(
            reporter, files, category=categories[number % 4], title=marker, identity="Budi"
        )
        receipt(response)
        report_id = report_id_of(database_url, marker, investigator)
        case = f"/reports/{report_id}"
        for step in path:
            response = post(
                investigator, f"{case}/status", case, status=step, reason="Alasan", confirm="y"
            )
            assert response.status_code == 303, response.get_data(as_text=True)[:800]
        reports[status] = report_id
    case = f"/reports/{reports['received']}"
    assert post(investigator, f"{case}/messages", case, body="Terima kasih").status_code == 303
    assert post(investigator, f"{case}/notes", case, body="Catatan").status_code == 303
    # Labels and a link: the page then offers to erase the labels and remove the link.
    linked = str(reports["in_review"])
    link = post(investigator, f"{case}/links", case, other=linked, kind="related")
    assert link.status_code == 303
    labels = post(investigator, f"{case}/labels", case, labels="Dinas PU", priority="high")
    assert labels.status_code == 303
    spam = f"/reports/{reports['rejected']}"
    assert post(investigator, f"{spam}/spam", spam, confirm="y").status_code == 303
    for status in ("received", "in_review", "investigating"):
        case = f"/reports/{reports[status]}"
        response = post(investigator, f"{case}/identity-requests", case, reason="Saksi kunci")
        assert response.status_code == 303
    with database(database_url) as session:
        requests = {r.report_id: r.id for r in session.scalars(select(IdentityRequest))}
        accounts = {a.username: a.id for a in session.scalars(select(StaffAccount))}
    custodian = signed_in(app, people["inspektur"])
    for status, decision in (("in_review", "approve"), ("investigating", "refuse")):
        path = f"/identity-requests/{requests[reports[status]]}/{decision}"
        response = post(custodian, path, "/identity-requests", confirm="y")
        assert response.status_code == 303, response.get_data(as_text=True)[:800]

    admin = signed_in(app, people["admin"])
    admin2 = signed_in(app, people["admin2"])
    colleague = f"/admin/accounts/{accounts['pemeriksa2']}"
    for path, page, fields in (
        (f"{colleague}/roles", colleague, {"role": "custodian"}),
        (
            "/admin/categories/kkn/routes",
            "/admin/categories",
            {"change": "remove", "account": str(accounts["pemeriksa2"])},
        ),
        (
            "/admin/holds",
            "/admin/holds",
            {"report": str(reports["investigating"]), "change": "set"},
        ),
        (
            "/admin/holds",
            "/admin/holds",
            {"report": str(reports["closed_substantiated"]), "change": "set"},
        ),
        (f"{colleague}/reset-totp", colleague, {}),
    ):
        response = post(admin, path, page, confirm="y", **fields)
        assert response.status_code == 303, response.get_data(as_text=True)[:800]
    with database(database_url) as session:
        proposals = list(session.scalars(select(Proposal).where(Proposal.state == "pending")))
        held = next(p.id for p in proposals if p.report_id == reports["closed_substantiated"])
        reset = next(p.id for p in proposals if p.kind == "totp_reset")
    for proposal, decision in ((held, "approve"), (reset, "reject")):
        path = f"/admin/proposals/{proposal}/{decision}"
        response = post(admin2, path, "/admin/proposals", confirm="y")
        assert response.status_code in (200, 303), response.get_data(as_text=True)[:800]
    _configured_world(admin, admin2, database_url, accounts)

    # The conflict-of-interest team (coi, issue 18): an outside keyholder approved, a
    # staff member proposed and waiting.
    team = "/admin/conflict-of-interest"
    outside = str(pyrage.x25519.Identity.generate().to_public())
    response = post(admin, f"{team}/external", team, name="BPKP Perwakilan", recipient=outside)
    assert response.status_code == 303, response.get_data(as_text=True)[:800]
    with database(database_url) as session:
        (external,) = session.scalars(
            select(Proposal).where(Proposal.state == "pending", Proposal.coi_member_id.is_not(None))
        )
    response = post(
        admin2, f"/admin/proposals/{external.id}/approve", "/admin/proposals", confirm="y"
    )
    assert response.status_code == 303, response.get_data(as_text=True)[:800]
    response = post(
        admin, f"{team}/staff", team, account=str(accounts["pemeriksa1"]), kind="investigator"
    )
    assert response.status_code == 303, response.get_data(as_text=True)[:800]

    suffix = uuid.uuid4().hex[:6]
    activation = create_account(admin, f"calon-{suffix}", "auditor")  # stays invited
    waiting = create_account(admin, f"baru-{suffix}", "investigator")
    activate_by_link(app, waiting, "kata sandi panjang sekali 1")  # pending: a second admin
    gone = create_account(admin, f"mantan-{suffix}", "auditor")
    activate_by_link(app, gone, "kata sandi panjang sekali 2")
    watcher = create_account(admin, f"pengamat-{suffix}", "auditor")
    activate_by_link(app, watcher, "kata sandi panjang sekali 3")
    with database(database_url) as session:
        ids = {a.username: a.id for a in session.scalars(select(StaffAccount))}
    page = f"/admin/accounts/{ids[f'mantan-{suffix}']}"
    assert post(admin, f"{page}/deactivate", page, confirm="y").status_code == 303
    page = f"/admin/accounts/{ids[f'pengamat-{suffix}']}"
    response = post(admin, f"{page}/reset-totp", page, confirm="y")
    enrollment = LINK.search(response.get_data(as_text=True)).group(1)

    auditor = signed_in(app, people["auditor"])
    assert post(auditor, "/audit/checkpoints", "/audit/checkpoints").status_code == 200
    with database(database_url) as session:
        names = {a.username: str(a.id) for a in session.scalars(select(StaffAccount))}
        for action, (actor, role, detail) in sample_audit_details(names).items():
            audit.append(session, actor, role, action, report_id=reports["received"], detail=detail)
        assert session.scalar(select(Report).where(Report.legal_hold.is_(True))) is not None
        session.commit()
    return StaffWorld(reports, activation, enrollment)


def _configured_world(admin, admin2, database_url: str, accounts: dict) -> None:
    """Issue 18: a sub-category and units of every kind, approved; a routing by unit, a
    unit's rename and an import waiting for the second admin."""
    from sipadu.persistence.models import Category, Unit

    with database(database_url) as session:
        kkn = session.scalar(select(Category.id).where(Category.slug == "kkn"))
    units = (
        "kind,name,parent\nKota Administrasi,Kota Dunia,\nKecamatan,Kecamatan Dunia,Kota Dunia\n"
        "Kelurahan,Kelurahan Dunia,Kecamatan Dunia\nSKPD,Dinas Dunia,\n"
    )
    words = {"label_id": "Subkategori Dunia", "label_en": "World sub-category", "offered": "y"}
    for path, page, fields in (
        ("/admin/units/import", "/admin/units", {"text": units}),
        ("/admin/categories/new", "/admin/categories", {"parent": str(kkn), **words}),
    ):
        assert post(admin, path, page, **fields).status_code == 303
    with database(database_url) as session:
        waiting = session.scalars(
            select(Proposal.id).where(
                Proposal.state == "pending", Proposal.kind.in_(["unit_import", "category_add"])
            )
        ).all()
    for proposal in waiting:
        response = post(
            admin2, f"/admin/proposals/{proposal}/approve", "/admin/proposals", confirm="y"
        )
        assert response.status_code == 303
    with database(database_url) as session:
        unit = {u.name: str(u.id) for u in session.scalars(select(Unit))}
    for path, page, fields in (
        (
            "/admin/categories/unit-routes",
            "/admin/categories",
            {
                "unit": unit["Kelurahan Dunia"],
                "category": "",
                "account": str(accounts["pemeriksa1"]),
                "change": "add",
                "confirm": "y",
            },
        ),
        (
            "/admin/units/change",
            "/admin/units",
            {"unit": unit["Dinas Dunia"], "name": "Dinas Baru"},
        ),
        ("/admin/units/import", "/admin/units", {"text": "jenis,nama,induk\nSKPD,Dinas Tunggu,\n"}),
    ):
        response = post(admin, path, page, **fields)
        assert response.status_code == 303, response.get_data(as_text=True)[:800]


STAFF_PAGES_MAX = 400  # per person and language: far above what a test's world has


def _get_forms(page: str, lang: str) -> list[str]:
    """The actions of a page's GET forms (a filter, the print view's "open"), sent with
    their fields empty: in English with the hidden ``lang`` field they carry."""
    actions = []
    for form in re.findall(r"<form\b[^>]*>", page):
        method = re.search(r'method="([^"]*)"', form)
        action = re.search(r'action="([^"]*)"', form)
        if action and (method is None or method.group(1).lower() == "get"):
            actions.append(action.group(1) + ("" if lang == "id" else f"?lang={lang}"))
    return actions


def staff_pages(client, lang: str, seeds: list[str]) -> Iterator[tuple[str, object]]:
    """Every page a Flask test ``client`` reaches from ``seeds`` by following links, in
    ``lang`` (links to the other language are not followed): (path, response), each path
    once, downloads included."""
    start = [s if lang == "id" else f"{s}{'&' if '?' in s else '?'}lang={lang}" for s in seeds]
    queue, seen = list(start), set(start)
    while queue:
        path = queue.pop(0)
        response = client.get(path)
        yield path, response
        if not response.mimetype == "text/html":
            continue
        body = response.get_data(as_text=True)
        for href in re.findall(r'href="([^"#]*)"', body) + _get_forms(body, lang):
            href = html.unescape(href)
            url = urlsplit(href)
            if url.scheme or url.netloc or href.startswith("/static/") or not href:
                continue
            target = (url.path or urlsplit(path).path) + (f"?{url.query}" if url.query else "")
            if parse_qs(url.query).get("lang", ["id"])[0] != lang:
                continue
            if target not in seen:
                seen.add(target)
                queue.append(target)
        assert len(seen) < STAFF_PAGES_MAX, "the crawl does not end"


def without_summary(page: str) -> str:
    """A staff page without its error summary (the case page repeats each refusal there,
    at the top, linking to the field)."""
    return re.sub(r'<section class="error-summary".*?</section>', " ", page, flags=re.S)


def page_forms(page: str) -> list[str]:
    """The HTML of a page's own forms: not the hidden copy of a POST that the language
    switch sends again (``id="language-switch"``)."""
    forms = re.findall(r"<form .*?</form>", page, re.S)
    return [f for f in forms if 'id="language-switch"' not in f]
