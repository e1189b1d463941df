"""Escalation by the reporter in a real browser with JavaScript off (issue 20, item 3):
Debian's Chromium driven by Playwright, both portals served in this process.

An agency (its key made by the real ``age-keygen``) is offered to reporters by two
admins. A reporter whose report's acknowledgement date has passed finds the offer in
the mailbox, with the agency's upload address and the steps, presses one button and
gets a download; the real ``age`` tool opens it with the agency's key only, and it holds
the report, the reporter's file and the agency's name in its manifest, without the
identity (not ticked). The page stays the mailbox, under 100 KB, and passes axe. A
report within its deadlines offers nothing. The investigator reads on the case page
that the reporter forwarded it, not to whom."""

import io
import json
import os
import subprocess
import tempfile
import time
import uuid
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect
from sqlalchemy import select

from sipadu.persistence.models import Report, Role
from sipadu.services import proposals
from sipadu.services.dates import today
from sipadu.settings.instance import load_secret
from tests.chromium import (
    AXE,
    SEND_REPORT,
    chromium,
    loaded_html,
    new_page,
    portal_in_process,
    staff_signed_in,
)
from tests.helpers import Person, database, init_demo
from tests.services.helpers import person

RUN_AXE = """() => axe.run(document, {resultTypes: ['violations']}).then(r => r.violations.map(
  v => ({id: v.id, impact: v.impact, help: v.help})))"""
CHANNEL = "https://kws.kpk.go.id"
IDENTITY = "Budi, 0812 3456 7890"
CANARY = f"kanari-{uuid.uuid4().hex}"
EVIDENCE = f"foto kuitansi pungutan liar {CANARY} ".encode() * 200
MAX_BYTES = 100 * 1000


@pytest.fixture(scope="module")
def portals(env, config) -> Iterator[tuple[str, str, dict[str, Person]]]:
    people = init_demo(env)
    with (
        portal_in_process("reporter", config) as reporter,
        portal_in_process("staff", config) as staff,
    ):
        yield reporter, staff, people


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


def age_key(folder) -> tuple[str, str]:
    """A key pair made by the real age-keygen: its file and its public recipient."""
    key_file = folder / "kpk-key.txt"
    made = subprocess.run(["age-keygen", "-o", str(key_file)], capture_output=True, check=False)
    if made.returncode == 127:  # pragma: no cover
        pytest.fail("the age tool is not installed (make programs)")
    public = subprocess.run(
        ["age-keygen", "-y", str(key_file)], capture_output=True, check=True, text=True
    ).stdout.strip()
    return str(key_file), public


def offer_agency(database_url: str, public: str, seed: bytes) -> None:
    """KPK offered to reporters, approved by a second admin and signed with the
    instance's audit signing key ``seed``, as the staff portal does."""
    with database(database_url) as session:
        first = person(session, "admin.kpk1", Role.ADMIN)
        second = person(session, "admin.kpk2", Role.ADMIN)
        proposal = proposals.propose_recipient(
            session,
            "KPK",
            public,
            first.actor(),
            offered_to_reporters=True,
            reporter_channel=CHANNEL,
        )
        proposals.approve(
            session, proposal.id, second.actor(), datetime.now(UTC), signing_seed=seed
        )
        session.commit()


def report(page, reporter: str, title: str, tmp_path, *, identity: str = "") -> tuple[str, str]:
    """A report sent without JavaScript, with a file: its code and suggested passphrase."""
    evidence = tmp_path / "kuitansi.txt"
    evidence.write_bytes(EVIDENCE)
    page.goto(reporter + "/report")
    page.check("input[name=category][value=kkn]")
    page.fill("#title", title)
    page.fill("#what", "Petugas meminta uang di luar tarif resmi.")
    if identity:
        page.fill("#identity", identity)
    page.set_input_files("#attachments", str(evidence))
    page.click(SEND_REPORT)
    expect(page.locator("#report-code")).to_be_visible()
    return page.inner_text("#report-code"), page.inner_text("#report-passphrase")


def sign_in(page, reporter: str, code: str, passphrase: str) -> None:
    page.goto(reporter + "/mailbox/login")
    page.fill("#code", code)
    page.fill("#passphrase", passphrase)
    page.click("#login-form .actions button[type=submit]")
    expect(page.locator("#report-status")).to_be_visible()


def overdue_all(database_url: str) -> None:
    """Every report so far: its acknowledgement date passed (as if days had gone by)."""
    with database(database_url) as session:
        for row in session.scalars(select(Report)):
            row.ack_due_on = row.received_on - timedelta(days=1)
        session.commit()


def plaintext_in_temporary_files(since: float, mine: Path) -> list[str]:
    """Files of the temporary folder written since ``since`` that hold the canary: none
    may (G1). The browser's own profile and downloads (Playwright's folders: the
    reporter's device, not the server) and this test's folder are not the server's."""
    found = []
    # os.walk, not Path.rglob: a folder another test worker removes while it is listed
    # (a browser profile, a scratch folder) is skipped, where rglob raised (CI, 2026-12-01)
    walked = os.walk(tempfile.gettempdir(), onerror=lambda _error: None)
    for path in (Path(folder, name) for folder, _dirs, names in walked for name in names):
        try:
            if (
                mine in path.parents
                or any("playwright" in part for part in path.parts)
                or not path.is_file()
                or path.stat().st_mtime < since
                or path.stat().st_size > 256 * 1024 * 1024
            ):
                continue
            if CANARY.encode() in path.read_bytes():
                found.append(str(path))
        except OSError:
            continue
    return found


def test_a_reporter_past_a_deadline_downloads_a_bundle_the_agency_opens_with_age(
    browser, portals, database_url, tmp_path, config
):
    assert AXE.exists(), "axe-core is missing: `make test` installs it (tests/browser)"
    started = time.time()
    reporter, staff, people = portals
    key_file, public = age_key(tmp_path)
    offer_agency(database_url, public, load_secret(config, "audit_signing_key"))
    page = new_page(browser)  # JavaScript off
    late = report(page, reporter, f"Pungli di loket izin {CANARY}", tmp_path, identity=IDENTITY)
    overdue_all(database_url)
    on_time = report(page, reporter, "Laporan yang masih dalam batas waktu", tmp_path)

    # Within its deadlines: nothing is offered.
    sign_in(page, reporter, *on_time)
    assert page.locator("#escalation").count() == 0
    assert "/mailbox/escalate" not in loaded_html(page)
    page.click("form[action*=logout] button[type=submit]")

    # Past its acknowledgement date: the offer, the address, the steps.
    sign_in(page, reporter, *late)
    section = page.locator("#escalation")
    expect(section).to_be_visible()
    text = section.inner_text()
    assert "Teruskan laporan saya ke instansi lain" in text
    assert "KPK" in text and CHANNEL in text and "KPK.age" in text
    assert "tidak kepada instansi mana" in page.inner_text("#escalation-seen")
    assert "belum melakukannya" in page.inner_text("#missed-acknowledgement")
    assert page.locator("#escalation-identity").is_checked() is False
    html = loaded_html(page)
    assert len(html.encode()) <= MAX_BYTES, len(html.encode())

    with page.expect_download() as pressed:
        page.click("#escalation-form .actions button[type=submit]")
    download = pressed.value
    assert download.suggested_filename == "KPK.age"
    saved = tmp_path / "KPK.age"
    download.save_as(saved)
    assert page.url.endswith("/mailbox")  # the page stays: the steps are still on it

    opened = subprocess.run(
        ["age", "-d", "-i", key_file, str(saved)], capture_output=True, check=True
    )
    zipped = zipfile.ZipFile(io.BytesIO(opened.stdout))
    manifest = json.loads(zipped.read("manifest.json"))
    assert manifest["agency"]["name"] == "KPK" and manifest["identity_included"] is False
    body = json.loads(zipped.read("report.json"))
    assert body["fields"]["title"] == f"Pungli di loket izin {CANARY}" and body["identity"] is None
    assert EVIDENCE in {zipped.read(n) for n in zipped.namelist()}
    assert IDENTITY.encode() not in opened.stdout

    page.reload()
    assert page.locator("#escalated-on").count() == 1
    # The file was made in memory and streamed: no temporary file holds its plaintext.
    assert plaintext_in_temporary_files(started, tmp_path) == []

    # axe runs where scripts may run (the reporter's own browser runs none).
    checked = new_page(browser, javascript=True)
    sign_in(checked, reporter, *late)
    expect(checked.locator("#escalation-form")).to_be_visible()
    violations = checked.evaluate(RUN_AXE)
    assert [v for v in violations if v["impact"] in ("serious", "critical")] == []
    checked.context.close()

    # The investigator reads that the reporter forwarded it, and when; not to whom.
    investigator = staff_signed_in(browser, staff, people["pemeriksa1"])
    investigator.goto(staff + "/reports")
    investigator.locator("tr", has_text=f"Pungli di loket izin {CANARY}").locator("a").first.click()
    said = investigator.inner_text("#case-escalated")
    assert "Pelapor meneruskan laporan ini" in said and today().isoformat() in said
    assert "KPK" not in said
