"""Referral (pelimpahan) in a real browser (issue 20, item 1): Debian's Chromium driven by
Playwright, both portals served in this process on one demo instance, Bahasa Indonesia.

A reporter sends a report with their name and a file (JavaScript off, as Tor Browser's
"Safest"); an investigator (JavaScript off too: the staff pages need none) refers it to
KPK, whose age key two admins registered: without the tick nothing happens and the
typed words stay; with it the status changes, the page offers the encrypted bundle, the
download opens with the real ``age`` tool and holds only what was ticked; the agency's
response is recorded and the follow-up ends. The reporter (JavaScript off) reads
"Dilimpahkan ke KPK pada …" in the mailbox, and that their name was not passed on. axe-core
finds no violation on the case page or the mailbox (each in a JavaScript-on context of
its own, as the other browser tests run it)."""

import io
import json
import re
import subprocess
import uuid
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from sipadu.accountability.audit import Actor
from sipadu.persistence.models import StaffAccount
from sipadu.services import proposals
from tests.chromium import (
    AXE,
    SEND_REPORT,
    chromium,
    loaded_html,
    portal_in_process,
)
from tests.helpers import Person, database, init_demo

RUN_AXE = """() => axe.run(document, {resultTypes: ['violations']}).then(r => r.violations.map(
  v => ({id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map(n => n.target.join(' '))})
))"""
MARKER = uuid.uuid4().hex[:6]
TITLE = f"Suap pengadaan alat kesehatan {MARKER}"
WHAT = "Pemenang lelang memberi uang kepada panitia sebelum pengumuman."
WHO = "Ketua panitia Hendra Gunawan"
IDENTITY = "Sri Lestari, 0811 2233 4455"
EVIDENCE = ("kuitansi Hendra.txt", b"Kuitansi Rp 250.000.000\n" * 30)
WORDS = "Perkara ini kewenangan KPK; Anda tetap dapat menulis di sini."


@dataclass
class Portals:
    reporter: str
    staff: str
    people: dict[str, Person]


@pytest.fixture(scope="module")
def portals(env, config) -> Iterator[Portals]:
    people = init_demo(env)
    with (
        portal_in_process("reporter", config) as reporter,
        portal_in_process("staff", config) as staff,
    ):
        yield Portals(reporter, staff, people)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


def new_page(browser: Browser, *, javascript: bool) -> Page:
    context = browser.new_context(
        java_script_enabled=javascript, locale="id-ID", accept_downloads=True
    )
    context.set_default_timeout(10_000)
    if javascript:
        context.add_init_script(path=str(AXE))
    return context.new_page()


def signed_in(browser: Browser, portals: Portals, person: Person, *, javascript: bool) -> Page:
    page = new_page(browser, javascript=javascript)
    page.goto(portals.staff + "/login")
    page.fill("#username", person.username)
    page.fill("#password", person.password)
    page.fill("#totp", person.code())
    page.click("main form button[type=submit]")
    expect(page.locator("h1")).to_contain_text("Selamat datang")
    return page


@pytest.fixture(scope="module")
def kpk_key(portals, database_url, tmp_path_factory) -> Path:
    """KPK's key, made with age-keygen; its public half registered by two admins."""
    key_file = tmp_path_factory.mktemp("kpk") / "kpk.key"
    made = subprocess.run(
        ["age-keygen", "-o", str(key_file)], capture_output=True, text=True, check=False
    )
    if made.returncode == 127:  # pragma: no cover
        pytest.fail("the age tool is not installed (make programs)")
    public = re.search(r"Public key: (age1[0-9a-z]+)", made.stderr).group(1)
    with database(database_url) as session:
        ids = {a.username: a.id for a in session.scalars(select(StaffAccount))}
        proposal = proposals.propose_recipient(
            session, "KPK", public, Actor(str(ids["admin"]), "admin")
        )
        proposals.approve(
            session, proposal.id, Actor(str(ids["admin2"]), "admin"), datetime.now(UTC)
        )
        session.commit()
    return key_file


@dataclass
class Reporter:
    page: Page
    code: str
    passphrase: str


@pytest.fixture(scope="module")
def reporter(browser, portals, tmp_path_factory) -> Reporter:
    evidence = tmp_path_factory.mktemp("evidence") / EVIDENCE[0]
    evidence.write_bytes(EVIDENCE[1])
    page = new_page(browser, javascript=False)
    page.goto(portals.reporter + "/report")
    page.check("input[name=category][value=kkn]")
    page.fill("#title", TITLE)
    page.fill("#what", WHAT)
    page.fill("#who", WHO)
    page.fill("#identity", IDENTITY)
    page.set_input_files("#attachments", str(evidence))
    page.click(SEND_REPORT)
    return Reporter(page, page.inner_text("#report-code"), page.inner_text("#report-passphrase"))


def test_an_investigator_refers_a_report_and_the_reporter_reads_it(
    browser, portals, kpk_key, reporter, tmp_path
):
    page = signed_in(browser, portals, portals.people["pemeriksa1"], javascript=False)
    page.click("nav >> text=Laporan")
    page.click(f"tbody >> text={TITLE}")
    expect(page.locator("h1")).to_have_text(TITLE)
    case_url = page.url.split("#")[0]
    form = page.locator("#refer-form")
    expect(form).not_to_be_visible()  # folded until asked for: the case page stays short
    page.locator("#refer-details > summary").click()
    expect(form.locator("label", has_text="KPK")).to_have_count(1)
    # Not approved to see the reporter's identity: it is not even offered.
    expect(form.locator("input[value=identity]")).to_have_count(0)
    expect(form.locator("input[value=notes]")).not_to_be_checked()
    form.locator("label", has_text="KPK").click()
    form.locator("label", has_text="Yang terlibat").click()  # untick "who"
    form.locator("label", has_text="Nama asli berkas").click()  # untick the files' names
    form.locator("textarea[name=refer_reason]").fill(WORDS)

    # Without the tick nothing happens (the browser asks for it; the server would refuse
    # too: tests/test_referral.py), and what was typed stays.
    form.locator("button[type=submit]").click()
    refused = page.locator("#refer-form")
    expect(refused.locator("textarea[name=refer_reason]")).to_have_value(WORDS)
    expect(page.locator("#status")).not_to_have_text("Dilimpahkan ke instansi lain")
    expect(page.locator("#part-referral .referral")).to_have_count(0)

    refused.locator("input[name=confirm]").check()
    refused.locator("button[type=submit]").click()
    expect(page.locator("#status")).to_have_text("Dilimpahkan ke instansi lain")
    referral = page.locator("#part-referral .referral")
    expect(referral).to_have_count(1)
    expect(referral).to_contain_text("belum diunduh")

    with page.expect_download() as started:
        referral.locator("button", has_text="Unduh paket terenkripsi untuk KPK").click()
    got = started.value
    assert got.suggested_filename.startswith("sipadu-pelimpahan-")
    assert got.suggested_filename.endswith(".zip.age")
    sealed = Path(got.path()).read_bytes()
    assert TITLE.encode() not in sealed
    bundle = tmp_path / "bundle.zip.age"
    bundle.write_bytes(sealed)
    opened = subprocess.run(
        ["age", "-d", "-i", str(kpk_key), str(bundle)], capture_output=True, check=True
    ).stdout
    archive = zipfile.ZipFile(io.BytesIO(opened))
    report = json.loads(archive.read("report.json"))
    assert report["fields"]["title"] == TITLE and "who" not in report["fields"]
    assert report["identity"] is None
    assert archive.read("attachments/001-file.txt") == EVIDENCE[1]
    everything = opened + b"".join(archive.read(n) for n in archive.namelist())
    for gone in ("Hendra", "Sri Lestari"):
        assert gone.encode() not in everything, gone
    manifest = json.loads(archive.read("manifest.json"))
    assert manifest["referral"]["agency"] == "KPK"
    assert "field:who" in manifest["referral"]["profile"]["dropped"]

    page.goto(case_url)
    referral = page.locator("#part-referral .referral")
    expect(referral).to_contain_text("sudah diunduh 1 kali")
    expect(referral).to_contain_text("Tindak lanjut paling lambat")
    referral.locator("textarea[name=response]").fill("KPK menerima dan menelaah laporan.")
    referral.locator("button", has_text="Catat tanggapan instansi").click()
    referral = page.locator("#part-referral .referral")
    expect(referral).to_contain_text("KPK menerima dan menelaah laporan.")
    expect(referral).not_to_contain_text("Tindak lanjut paling lambat")

    # axe-core over the case page with its referral, in a JavaScript-on context.
    checker = signed_in(browser, portals, portals.people["pemeriksa1"], javascript=True)
    checker.goto(case_url)
    expect(checker.locator("#part-referral .referral")).to_have_count(1)
    assert checker.evaluate(RUN_AXE) == []
    checker.context.close()
    page.context.close()

    # The reporter, JavaScript off, reads the referral in the mailbox.
    mailbox = reporter.page
    mailbox.goto(portals.reporter + "/mailbox/login")
    mailbox.fill("#code", reporter.code)
    mailbox.fill("#passphrase", reporter.passphrase)
    mailbox.click("main form button[type=submit]")
    expect(mailbox.locator("h1")).to_have_text("Kotak surat saya")
    expect(mailbox.locator("#report-status")).to_have_text("Dilimpahkan ke instansi lain")
    told = mailbox.locator("#referral-1")
    expect(told).to_contain_text(re.compile(r"Dilimpahkan ke KPK pada \d{1,2} \w+ \d{4}\."))
    expect(told).to_contain_text("Nama atau kontak Anda tidak diteruskan.")
    expect(mailbox.locator("main")).to_contain_text(WORDS)
    html = loaded_html(mailbox)
    assert "KPK menerima" not in html  # the agency's answer is the holders'
    assert len(html.encode()) <= 100 * 1024
    mailbox.goto(portals.reporter + "/mailbox?lang=en")
    expect(mailbox.locator("#referral-1")).to_contain_text("Referred to KPK on ")

    # axe-core over the mailbox, signed in in a JavaScript-on context of its own.
    checked = new_page(browser, javascript=True)
    checked.goto(portals.reporter + "/mailbox/login")
    checked.fill("#code", reporter.code)
    checked.fill("#passphrase", reporter.passphrase)
    checked.click("main form button[type=submit]")
    expect(checked.locator("#referral-1")).to_have_count(1)
    assert checked.evaluate(RUN_AXE) == []
    checked.context.close()
