"""The G1/G2 canary, at scale: both portals under gunicorn on PostgreSQL and Redis, a
reporter and the staff doing their whole work with unique canary strings, then a search
of a pg_dump of the database, every Redis key and value, every file created in /tmp and
in the servers' TMPDIR, and every log (the servers' and PostgreSQL's own): no canary, no
code, no passphrase, no IP address, no user agent anywhere.

PostgreSQL and Redis run on every developer and CI machine, so this runs in both halves
of the suite (the configured servers, or the default ones)."""

import http.cookiejar
import os
import re
import subprocess
import time
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

import pytest
import redis

from tests.helpers import (
    ALWAYS_REDIS_URL,
    config_env,
    end,
    fields_part,
    file_head,
    files_under,
    init_demo,
    jpeg_with_exif,
    made_up_word,
    redis_contents,
    serving,
    submission_of,
)

TOKEN = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
CANARY_IP = "203.0.113.77"


class Browser:
    """A cookie-keeping client that always sends identifying headers (to be dropped)."""

    def __init__(self, base: str, agent: str) -> None:
        self.base = base
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
        )
        self.headers = {
            "User-Agent": agent,
            "X-Forwarded-For": CANARY_IP,
            "X-Real-IP": CANARY_IP,
            "Forwarded": f"for={CANARY_IP}",
        }

    def get(self, path: str) -> str:
        request = urllib.request.Request(self.base + path, headers=self.headers)
        with self.opener.open(request) as response:
            return response.read().decode("utf-8", "replace")

    def get_bytes(self, path: str) -> bytes:
        request = urllib.request.Request(self.base + path, headers=self.headers)
        with self.opener.open(request) as response:
            return response.read()

    def post(
        self, path: str, fields: dict, files: list | None = None, token_from: str | None = None
    ) -> str:
        page = self.get(token_from or path)
        fields = {"csrf_token": TOKEN.search(page).group(1), **submission_of(page), **fields}
        if files is None:
            data = urllib.parse.urlencode(fields).encode()
            content_type = "application/x-www-form-urlencoded"
        else:
            boundary = uuid.uuid4().hex
            data = fields_part(boundary, fields)
            for filename, content, kind in files:
                data += file_head(boundary, filename, kind) + content + b"\r\n"
            data += end(boundary)
            content_type = f"multipart/form-data; boundary={boundary}"
        request = urllib.request.Request(
            self.base + path, data=data, headers={**self.headers, "Content-Type": content_type}
        )
        with self.opener.open(request) as response:
            return response.read().decode("utf-8", "replace")


@pytest.fixture
def deployment(tmp_path, fresh_postgres):
    redis.Redis.from_url(ALWAYS_REDIS_URL).ping()
    tmpdir = tmp_path / "tmpdir"
    tmpdir.mkdir()
    env = config_env(
        tmp_path / "instance",
        fresh_postgres,
        ALWAYS_REDIS_URL,
        SIPADU_WORKERS="2",
        SIPADU_THREADS="4",
        TMPDIR=str(tmpdir),
    )
    people = init_demo(env)
    logs = tmp_path / "logs"
    logs.mkdir()
    with serving("reporter", env, log=logs / "reporter.log") as (_r, reporter):
        with serving("staff", env, log=logs / "staff.log") as (_s, staff):
            yield reporter, staff, people, fresh_postgres, ALWAYS_REDIS_URL, tmpdir, logs


def test_nothing_anyone_types_is_found_at_rest_on_postgresql_and_redis(deployment):
    reporter, staff, people, database_url, redis_url, tmpdir, logs = deployment
    started = time.time()
    tag = made_up_word(12)
    canary = {
        name: f"canary-{name}-{tag}"
        for name in ("title", "what", "who", "where", "when", "how", "estimated_loss", "identity")
    }
    agent = f"CanaryAgent/{tag}"
    passphrase = f"frasa sandi rahasia {tag}"
    file_name = f"canary-file-{tag}.pdf"
    file_bytes = f"CANARY-FILE-BYTES-{tag}-".encode() * 500
    image = jpeg_with_exif(tag)

    who = Browser(reporter, agent)
    done = who.post(
        "/report",
        {**canary, "category": "kkn", "passphrase": passphrase, "passphrase_confirm": passphrase},
        files=[
            (file_name, file_bytes, "application/pdf"),
            (f"photo-{tag}.jpg", image, "image/jpeg"),
        ],
    )
    code = re.search(r'id="report-code">([^<]+)<', done).group(1)
    who.post("/mailbox/login", {"code": code, "passphrase": passphrase})
    message = f"canary-message-{tag}"
    who.post("/mailbox/messages", {"body": message}, token_from="/mailbox")

    investigator = Browser(staff, agent)
    person = people["pemeriksa1"]
    investigator.post(
        "/login", {"username": person.username, "password": person.password, "totp": person.code()}
    )
    report = re.search(r'href="(/reports/[0-9a-f-]{36})"', investigator.get("/reports")).group(1)
    page = investigator.get(report)
    assert canary["what"] in page and message in page
    reply, note, reason = (f"canary-{kind}-{tag}" for kind in ("reply", "note", "reason"))
    investigator.post(report + "/messages", {"body": reply}, token_from=report)
    investigator.post(report + "/notes", {"body": note}, token_from=report)
    investigator.post(report + "/identity-requests", {"reason": reason}, token_from=report)
    custodian = Browser(staff, agent)
    keeper = people["inspektur"]
    custodian.post(
        "/login", {"username": keeper.username, "password": keeper.password, "totp": keeper.code()}
    )
    requests_page = custodian.get("/identity-requests")
    request_id = re.search(r'id="request-([0-9a-f-]{36})"', requests_page).group(1)
    custodian.post(
        f"/identity-requests/{request_id}/approve",
        {"confirm": "y"},
        token_from="/identity-requests",
    )
    assert canary["identity"] in investigator.get(report)
    for link in re.findall(r'href="(/reports/[0-9a-f-]{36}/attachments/[0-9a-f-]{36})"', page):
        investigator.get_bytes(link)
    investigator.get_bytes(report + "/export?plaintext=y&confirm=y")
    assert reply in who.get("/mailbox")

    secrets = [
        *canary.values(),
        message,
        reply,
        note,
        reason,
        passphrase,
        code,
        code.replace(" ", ""),
        file_name,
        f"CANARY-FILE-BYTES-{tag}",
        f"EXIF-DESCRIPTION-{tag}",
        f"EXIF-ARTIST-{tag}",
        f"photo-{tag}",
        agent,
        CANARY_IP,
        tag,
        person.password,
        keeper.password,
    ]
    url = urllib.parse.urlsplit(database_url.replace("postgresql+psycopg", "postgresql"))
    dump = subprocess.run(
        [
            "pg_dump",
            "-h",
            url.hostname,
            "-p",
            str(url.port or 5432),
            "-U",
            url.username,
            "-d",
            url.path.lstrip("/"),
        ],
        capture_output=True,
        check=True,
    ).stdout
    assert b"CREATE TABLE public.report" in dump and len(dump) > 100_000
    stored = [dump, *redis_contents(redis_url)]
    stored += files_under(Path("/tmp"), since=started)
    stored += files_under(tmpdir)
    server_logs = [path.read_bytes() for path in logs.iterdir()]
    postgres_logs = [
        path.read_bytes()[-2_000_000:]
        for path in Path("/var/log/postgresql").glob("*.log")
        if os.access(path, os.R_OK)
    ]
    everything = stored + server_logs + postgres_logs
    for secret in secrets:
        for needle in (secret.encode(), secret.encode().hex().encode()):
            assert not any(needle in blob for blob in everything), secret
