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

import pytest

from tests.helpers import (
    MIB,
    TOKEN,
    config_env,
    init_demo,
    rss_mib,
    serving,
    upload_big,
    worker_of,
)

SIZE_MIB = 200


@pytest.fixture
def portals(new_database_url, tmp_path, redis_url):
    env = config_env(
        tmp_path / "instance",
        new_database_url,
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
