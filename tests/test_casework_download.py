"""A 200 MiB evidence file, uploaded through the real reporter portal and downloaded by
an investigator through the real staff portal (both under gunicorn): every byte comes
back, and the staff worker's memory does not grow with the file."""

import hashlib
import http.client
import http.cookiejar
import re
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import config_env, serving
from tests.multipart import end, fields_part, file_head
from tests.staff import init_demo

MIB = 1024 * 1024
SIZE_MIB = 200
TOKEN = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def worker_of(master: int) -> int:
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == master:
                return int(entry.name)
    raise AssertionError("no worker")


def upload_big(base: str, block: bytes, blocks: int) -> None:
    """POST /report with one file of ``blocks`` times ``block``, streamed (never in memory)."""
    host, port = urllib.parse.urlsplit(base).netloc.split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=300)
    connection.request("GET", "/report")
    response = connection.getresponse()
    token = TOKEN.search(response.read().decode()).group(1)
    cookie = response.getheader("Set-Cookie").split(";")[0]
    boundary = "----big"
    fields = {"csrf_token": token, "category": "kkn", "title": "Berkas besar", "what": "Bukti"}
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


@pytest.fixture
def portals(empty_database_url, tmp_path, redis_url):
    env = config_env(
        tmp_path / "instance",
        empty_database_url,
        redis_url,
        SIPADU_WORKERS="1",
        SIPADU_THREADS="4",
        SIPADU_MAX_FILE_MIB=str(SIZE_MIB + 10),
        SIPADU_MAX_REQUEST_MIB=str(SIZE_MIB + 20),
    )
    people = init_demo(env)
    with serving("reporter", env) as (_r, reporter), serving("staff", env) as (staff_master, staff):
        yield reporter, staff, staff_master, people


def test_a_200_mib_download_keeps_the_worker_flat(portals):
    reporter, staff, master, people = portals
    block = hashlib.sha256(b"sipadu").digest() * (MIB // 32)  # 1 MiB, not compressible away
    upload_big(reporter, block, SIZE_MIB)
    expected = hashlib.sha256()
    for _ in range(SIZE_MIB):
        expected.update(block)

    jar = http.cookiejar.CookieJar()
    browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    page = browser.open(staff + "/login").read().decode()
    person = people["pemeriksa1"]
    form = {
        "csrf_token": TOKEN.search(page).group(1),
        "username": person.username,
        "password": person.password,
        "totp": person.code(),
    }
    browser.open(staff + "/login", data=urllib.parse.urlencode(form).encode()).read()
    listing = browser.open(staff + "/reports").read().decode()
    report = re.search(r'href="(/reports/[0-9a-f-]{36})"', listing).group(1)
    view = browser.open(staff + report).read().decode()
    link = re.search(r'href="(/reports/[0-9a-f-]{36}/attachments/[0-9a-f-]{36})"', view).group(1)

    worker = worker_of(master.pid)
    baseline = rss_mib(worker)
    peak = [baseline]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak.append(rss_mib(worker))
            time.sleep(0.02)

    sampler = threading.Thread(target=sample)
    sampler.start()
    digest, size = hashlib.sha256(), 0
    try:
        with browser.open(staff + link) as response:
            assert response.headers["Content-Type"] == "application/octet-stream"
            while chunk := response.read(MIB):
                digest.update(chunk)
                size += len(chunk)
    finally:
        done.set()
        sampler.join()
    assert size == SIZE_MIB * MIB and digest.hexdigest() == expected.hexdigest()
    growth = max(peak) - baseline
    print(f"download_mib={SIZE_MIB} worker_rss_baseline_mib={baseline:.1f} growth_mib={growth:.1f}")
    assert growth <= 64, f"the staff worker grew by {growth:.1f} MiB"
