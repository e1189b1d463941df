"""The staff portal's journeys in a real browser (issue 17, item 9): Debian's Chromium
driven by Playwright, JavaScript on as the staff portal normally runs, Bahasa Indonesia,
both portals served in this process on one demo instance.

- an invited investigator activates their account from the one-time link, a second admin
  approves it, and new reports of a category are routed to them (two admins again);
- the investigator's day: sign in with password and TOTP, the dashboard, search, open a
  report a reporter sent with a file, download it, reply with a file the reporter then
  downloads in the mailbox, labels and priority, close and reopen with a reason, the
  print view, share with a colleague, step down;
- the custodian approves an investigator's identity request, and the investigator sees
  the identity;
- an admin's proposal takes effect only when a second admin approves it;
- the auditor reads the log, keeps a checkpoint, verifies the log against it and exports
  the log.

Every step checks what the person sees on the page (or in the file they download), so a
broken step fails here. Cheap by construction: one browser, one pair of servers and one
set of demo accounts for the whole module; a browser context per person.
"""

import hashlib
import json
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pyotp
import pyrage
import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from tests.chromium import SEND_REPORT, chromium, loaded_html, portal_in_process
from tests.helpers import Person, init_demo

# What the reporter sends, and what an investigator searches for.
MARKER = uuid.uuid4().hex[:6]
TITLE = f"Pungutan liar di loket perizinan {MARKER}"
WHAT = "Petugas loket meminta uang tambahan tanpa kuitansi agar izin cepat diproses."
IDENTITY = "Budi Santoso, 0812-3456-7890"
EVIDENCE = ("bukti-transfer.txt", b"Transfer Rp 500.000 ke rekening pribadi petugas\n" * 40)
REPLY = "Terima kasih. Mohon periksa surat terlampir dan kirim bukti lain bila ada."
REPLY_FILE = ("surat-permintaan.txt", b"Surat permintaan keterangan tambahan\n" * 20)


@dataclass
class Portals:
    reporter: str
    staff: str
    people: dict[str, Person]
    database_url: str


@pytest.fixture(scope="module")
def portals(env, config, database_url) -> Iterator[Portals]:
    people = init_demo(env)
    with (
        portal_in_process("reporter", config) as reporter,
        portal_in_process("staff", config) as staff,
    ):
        yield Portals(reporter, staff, people, database_url)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


def new_page(browser: Browser, *, javascript: bool = True) -> Page:
    context = browser.new_context(
        java_script_enabled=javascript, locale="id-ID", accept_downloads=True
    )
    context.set_default_timeout(10_000)
    return context.new_page()


def text_of(page: Page, selector: str = "main") -> str:
    return page.locator(selector).first.inner_text()


DUPLICATE_IDS = """() => {
  const seen = {};
  for (const element of document.querySelectorAll("[id]:not([type=hidden])")) {
    seen[element.id] = (seen[element.id] || 0) + 1;
  }
  return Object.keys(seen).filter((id) => seen[id] > 1);
}"""


def ids_unique(page: Page) -> Page:
    """Fails if two elements of the page share an id (hidden form tokens aside): a label
    would then name, and a click on it fill or tick, another form's field (a note typed
    into the reply box)."""
    assert page.evaluate(DUPLICATE_IDS) == [], page.url
    return page


def send(form: Locator) -> None:
    """Press ``form``'s button, ticking its confirmation box first if it has one (a
    button that gives or takes access asks for that tick)."""
    boxes = form.locator("input[type=checkbox][name=confirm]")
    for index in range(boxes.count()):
        boxes.nth(index).check()
    form.locator("button[type=submit]").first.click()


def sign_in(browser: Browser, portals: Portals, person: Person) -> Page:
    """A browser of ``person``'s own, signed in to the staff portal with password and
    the code their authenticator app shows; on the home page."""
    page = new_page(browser)
    page.goto(portals.staff + "/login")
    ids_unique(page).fill("#username", person.username)
    page.fill("#password", person.password)
    page.fill("#totp", person.code())
    page.click("main form button[type=submit]")
    expect(page.locator("h1")).to_contain_text("Selamat datang")
    return ids_unique(page)


def form_of(page: Page, action_ends: str) -> Locator:
    return page.locator(f"main form[action$='{action_ends}']")


def approve(page: Page, portals: Portals, row_text: str) -> str:
    """The second admin approves the one waiting proposal whose row says ``row_text``;
    returns what that row said before the button was pressed."""
    page.goto(portals.staff + "/admin/proposals")
    row = ids_unique(page).locator("tbody tr", has_text=row_text)
    expect(row).to_have_count(1)
    seen = row.inner_text()
    send(row.locator("form[action$='/approve']"))
    expect(page.locator("tbody tr", has_text=row_text)).to_have_count(0)
    return seen


# --- the admins bring in a new investigator ----------------------------------------------


@dataclass
class Admins:
    first: Page
    second: Page


@pytest.fixture(scope="module")
def admins(browser, portals) -> Admins:
    return Admins(
        sign_in(browser, portals, portals.people["admin"]),
        sign_in(browser, portals, portals.people["admin2"]),
    )


def _hex(text: str) -> str:
    """The hexadecimal digits of ``text``: a fingerprint however the page groups it."""
    return re.sub(r"[^0-9a-f]", "", text.lower())


@pytest.fixture(scope="module")
def newcomer(browser, portals, admins) -> Person:
    """``pemeriksa3``, invited by one admin, activated from the one-time link with their
    own password and authenticator app, approved by the second admin after comparing
    the key fingerprint; KKN reports are routed to them (and no longer to pemeriksa2),
    and they may share reports. All through the pages."""
    admin, admin2 = admins.first, admins.second
    admin.goto(portals.staff + "/admin")
    ids_unique(admin).fill("#username", "pemeriksa3")
    admin.fill("#display_name", "Rina Pemeriksa")
    admin.check("input[name=roles][value=investigator]")
    send(form_of(admin, "/admin/accounts"))
    expect(ids_unique(admin).locator("h1")).to_have_text("Tautan sekali pakai untuk pemeriksa3")
    link = admin.inner_text("#link").strip()
    assert link.startswith(portals.staff + "/activate/")

    page = new_page(browser)
    page.goto(link)
    expect(ids_unique(page).locator("h1")).to_contain_text("Aktifkan akun Anda: pemeriksa3")
    password = "kata sandi rahasia Rina yang panjang"
    secret = page.inner_text("#totp-key").replace(" ", "")
    page.fill("#password", password)
    page.fill("#password_confirm", password)
    page.fill("#totp", pyotp.TOTP(secret).now())
    page.click("main form button[type=submit]")
    expect(page.locator("h1")).to_have_text("Kata sandi dan kunci Anda sudah dibuat")
    assert "admin kedua" in text_of(page)  # not yet: a second admin must approve
    fingerprint = page.inner_text("#fingerprint")
    person = Person("pemeriksa3", password, secret, 0, portals.database_url)

    page.goto(portals.staff + "/login")  # before the approval, no way in
    page.fill("#username", "pemeriksa3")
    page.fill("#password", password)
    page.fill("#totp", person.code())
    page.click("main form button[type=submit]")
    expect(page.locator("h1")).to_have_text("Masuk")
    page.context.close()

    admin2.goto(portals.staff + "/")
    expect(admin2.locator("#dash-admin + p")).to_contain_text("1 usulan")
    row = approve(admin2, portals, "pemeriksa3")
    assert _hex(fingerprint) in _hex(row)  # the key they compared

    admin.goto(portals.staff + "/admin")
    admin.click("tbody >> text=pemeriksa3")
    expect(ids_unique(admin).locator("#state")).to_have_text("Aktif")
    expect(admin.locator("#may-grant")).to_have_text(re.compile(r": tidak$"))
    send(form_of(admin, "/may-grant"))
    expect(admin.locator("#may-grant")).to_have_text(re.compile(r": ya$"))

    admin.goto(portals.staff + "/admin/categories")
    kkn = ids_unique(admin).locator("main section", has=admin.locator("h2", has_text="KKN"))
    add = kkn.locator("form:has(input[name=change][value=add])")
    add.locator("select").select_option(label="pemeriksa3")
    send(add)
    remove = kkn.locator("form:has(input[name=change][value=remove])")
    remove.locator("select").select_option(label="pemeriksa2")
    send(remove)
    expect(admin.locator("main")).to_contain_text("Menunggu admin kedua")
    for name in ("pemeriksa3", "pemeriksa2"):
        approve(admin2, portals, name)
    admin2.goto(portals.staff + "/routing")
    routed = admin2.locator("tr", has_text="KKN").inner_text()
    assert "pemeriksa3" in routed and "pemeriksa2" not in routed
    return person


# --- a reporter sends a report with a file ---------------------------------------------------


@dataclass
class Reporter:
    page: Page
    code: str
    passphrase: str


@pytest.fixture(scope="module")
def reporter(browser, portals, newcomer, tmp_path_factory) -> Reporter:
    """A report with evidence and an identity, sent through the reporter portal with
    JavaScript off (Tor Browser's "Safest"), after KKN reports reach pemeriksa3."""
    evidence = tmp_path_factory.mktemp("evidence") / EVIDENCE[0]
    evidence.write_bytes(EVIDENCE[1])
    page = new_page(browser, javascript=False)
    page.goto(portals.reporter + "/report")
    page.check("input[name=category][value=kkn]")
    page.fill("#title", TITLE)
    page.fill("#what", WHAT)
    page.fill("#who", "Petugas loket 3")
    page.fill("#identity", IDENTITY)
    page.set_input_files("#attachments", str(evidence))
    page.click(SEND_REPORT)
    code, passphrase = page.inner_text("#report-code"), page.inner_text("#report-passphrase")
    return Reporter(page, code, passphrase)


def open_mailbox(portals: Portals, reporter: Reporter) -> Page:
    page = reporter.page
    page.goto(portals.reporter + "/mailbox/login")
    page.fill("#code", reporter.code)
    page.fill("#passphrase", reporter.passphrase)
    page.click("main form button[type=submit]")
    expect(page.locator("h1")).to_have_text("Kotak surat saya")
    return page


# --- the journeys ------------------------------------------------------------------------------


def download(page: Page, target: Locator) -> tuple[str, bytes]:
    with page.expect_download() as started:
        target.click()
    got = started.value
    return got.suggested_filename, Path(got.path()).read_bytes()


def change_status(page: Page, status: str, reason: str = "") -> None:
    form = form_of(page, "/status")
    form.locator("select").select_option(label=status)
    form.locator("textarea").fill(reason)
    send(form)
    expect(page.locator("#status")).to_have_text(status)


def test_the_investigator_journey(browser, portals, newcomer, reporter, tmp_path):
    page = sign_in(browser, portals, newcomer)
    expect(page.locator("h1")).to_have_text("Selamat datang, Rina Pemeriksa")
    dashboard = page.locator("section.dashboard", has_text="Laporan Anda")
    expect(dashboard).to_contain_text("1 laporan dalam daftar Anda")
    expect(page.locator("#dash-status")).to_contain_text("Diterima: 1")

    # Search: a word of the report's text finds it; a word in no report finds nothing.
    page.click("nav >> text=Laporan")
    page.fill("#q", "kuitansi")
    page.click("form[role=search] button[type=submit]")
    expect(page.locator("h2")).to_have_text("1 laporan ditemukan di sini")
    ids_unique(page)
    expect(page.locator("tbody tr")).to_contain_text(TITLE)
    page.fill("#q", "jembatan")
    page.click("form[role=search] button[type=submit]")
    expect(page.locator("h2")).to_have_text("0 laporan ditemukan di sini")

    # Open the report from the list; download the reporter's file.
    page.click("nav >> text=Laporan")
    page.click(f"tbody >> text={TITLE}")
    expect(ids_unique(page).locator("h1")).to_have_text(TITLE)
    expect(page.locator("#field-what")).to_have_text(WHAT)
    expect(page.locator("main")).to_contain_text("Kustodian harus menyetujui")  # identity hidden
    name, content = download(page, page.locator(f"main a >> text={EVIDENCE[0]}"))
    assert (name, content) == EVIDENCE

    # Reply with a file: the reporter reads the reply and downloads the file.
    letter = tmp_path / REPLY_FILE[0]
    letter.write_bytes(REPLY_FILE[1])
    reply = form_of(page, "/messages")
    reply.locator("textarea").fill(REPLY)
    reply.locator("input[type=file]").set_input_files(str(letter))
    send(reply)
    sent = page.locator(".message", has_text=REPLY)
    expect(sent).to_contain_text(REPLY_FILE[0])
    case_url = page.url.split("?")[0]

    mailbox = open_mailbox(portals, reporter)
    from_staff = mailbox.locator("article.message.staff", has_text=REPLY)
    expect(from_staff).to_have_count(1)
    assert download(mailbox, from_staff.locator(f"text={REPLY_FILE[0]}")) == REPLY_FILE

    # Labels and a priority, shown on the report and in the list, and filterable.
    labels = form_of(page, "/labels")
    labels.locator("input[name=labels]").fill("pungli, loket 3")
    labels.locator("select[name=priority]").select_option(label="Tinggi")
    send(labels)
    expect(page.locator("#case-labels")).to_have_text("pungli, loket 3")
    expect(page.locator("#case-priority")).to_have_text("Tinggi")
    page.goto(portals.staff + "/reports")
    page.fill("#label", "pungli")
    page.click("form.filters:not(.search) button[type=submit]")
    row = ids_unique(page).locator("tbody tr", has_text=TITLE)
    expect(row).to_contain_text("Tinggi")
    expect(row).to_contain_text("pungli, loket 3")
    page.fill("#label", "tidak-ada")
    page.click("form.filters:not(.search) button[type=submit]")
    expect(page.locator("tbody")).to_contain_text("Tidak ada laporan yang cocok")

    # Reviewed, followed up, closed with a reason, then reopened with another: the
    # reporter reads each reason.
    page.goto(case_url)
    change_status(page, "Sedang ditelaah")
    change_status(page, "Sedang ditindaklanjuti")
    change_status(page, "Selesai: terbukti", "Terbukti; berkas diteruskan ke Inspektur.")
    expect(page.locator("main")).to_contain_text("Laporan ini sudah ditutup")
    mailbox.reload()
    expect(mailbox.locator("main")).to_contain_text("Terbukti; berkas diteruskan ke Inspektur.")
    reopen = form_of(page, "/reopen")
    reopen.locator("textarea").fill("Ada bukti baru dari pelapor lain.")
    send(reopen)
    expect(page.locator("#status")).to_have_text("Sedang ditelaah")
    expect(form_of(page, "/status")).to_have_count(1)
    mailbox.reload()
    expect(mailbox.locator("#report-status")).to_have_text("Sedang ditelaah")
    expect(mailbox.locator("main")).to_contain_text("Ada bukti baru dari pelapor lain.")

    # The print view: the case file with each file's SHA-256 and the reopening.
    page.click("main form[action$='/print'] button[type=submit]")
    expect(ids_unique(page).locator("h1")).to_contain_text(TITLE)
    printed = text_of(page)
    assert hashlib.sha256(EVIDENCE[1]).hexdigest() in _hex(printed)
    assert hashlib.sha256(REPLY_FILE[1]).hexdigest() in _hex(printed)
    assert "Ada bukti baru dari pelapor lain." in printed
    expect(page.locator("#manifest-sha256")).to_have_text(re.compile(r"[0-9a-f]{64}"))

    # Share with pemeriksa2, who then finds it in their own list.
    page.goto(case_url)
    share = form_of(page, "/grants")
    share.locator("select").select_option(label="pemeriksa2")
    expect(page.locator("main li", has_text="(pemeriksa2)")).to_have_count(0)
    send(share)
    expect(page.locator("main li", has_text="(pemeriksa2)")).to_have_count(1)  # holds it
    colleague = sign_in(browser, portals, portals.people["pemeriksa2"])
    colleague.click("nav >> text=Laporan")
    expect(colleague.locator("tbody")).to_contain_text(TITLE)
    colleague.context.close()

    # Step down: the report leaves the list and its page is gone for this investigator.
    send(form_of(page, "/recuse"))
    expect(page.locator("h1")).to_have_text("Laporan Anda")
    expect(page.locator("tbody")).not_to_contain_text(TITLE)
    page.goto(case_url)
    expect(page.locator("h1")).to_have_text("Halaman tidak ditemukan")
    assert TITLE not in loaded_html(page)
    page.context.close()


def test_the_custodian_approves_an_identity_request(browser, portals, reporter):
    investigator = sign_in(browser, portals, portals.people["pemeriksa1"])
    investigator.click("nav >> text=Laporan")
    investigator.click(f"tbody >> text={TITLE}")
    assert IDENTITY not in text_of(investigator)
    ask = form_of(investigator, "/identity-requests")
    ask.locator("textarea").fill("Pelapor perlu dipanggil sebagai saksi.")
    send(ask)
    expect(investigator.locator("main")).to_contain_text("Permintaan Anda: menunggu kustodian")
    assert IDENTITY not in text_of(investigator)

    custodian = sign_in(browser, portals, portals.people["inspektur"])
    expect(custodian.locator("#dash-custodian + p")).to_contain_text(
        "1 permintaan menunggu keputusan Anda"
    )
    custodian.click("#dash-custodian + p a")
    request = ids_unique(custodian).locator("tbody tr", has_text="pemeriksa1")
    expect(request).to_contain_text("Pelapor perlu dipanggil sebagai saksi.")
    send(request.locator("form[action$='/approve']"))
    expect(custodian.locator("tbody")).to_have_text("Tidak ada yang menunggu.")
    custodian.context.close()

    investigator.reload()
    expect(investigator.locator("#identity")).to_have_text(IDENTITY)
    investigator.context.close()


def test_a_proposal_takes_effect_only_when_a_second_admin_approves(browser, portals, admins):
    """An export recipient: proposed by one admin, not approvable by them, approved by
    the second after reading out the fingerprint anyone can compute with sha256sum."""
    admin, admin2 = admins.first, admins.second
    recipient = str(pyrage.x25519.Identity.generate().to_public())
    fingerprint = hashlib.sha256(recipient.encode()).hexdigest()

    admin.goto(portals.staff + "/admin/recipients")
    ids_unique(admin).fill("#name", "Arsip Inspektorat")
    admin.fill("#recipient", recipient)
    send(form_of(admin, "/admin/recipients"))
    waiting = admin.locator("main li", has_text="Arsip Inspektorat")
    expect(admin.locator("main")).to_contain_text("Menunggu admin kedua")
    assert fingerprint in _hex(waiting.inner_text())
    expect(admin.locator("tbody")).not_to_contain_text("Arsip Inspektorat")  # not yet offered

    admin.goto(portals.staff + "/admin/proposals")
    mine = admin.locator("tbody tr", has_text="Arsip Inspektorat")
    expect(mine).to_contain_text("usulan Anda")
    expect(mine.locator("button")).to_have_count(0)  # no one approves their own

    row = approve(admin2, portals, "Arsip Inspektorat")
    assert fingerprint in _hex(row)
    expect(admin2.locator("main ul").last).to_contain_text("Arsip Inspektorat")  # decided

    admin.goto(portals.staff + "/admin/recipients")
    registered = admin.locator("tbody tr", has_text="Arsip Inspektorat")
    expect(registered).to_contain_text(recipient)
    assert fingerprint in _hex(registered.inner_text())


def test_the_auditor_verifies_the_log_against_a_kept_checkpoint_and_exports_it(
    browser, portals, newcomer, tmp_path
):
    page = sign_in(browser, portals, portals.people["auditor"])
    expect(page.locator("#dash-chain")).to_contain_text("Belum diverifikasi.")

    page.click("nav >> text=Log audit")
    page.fill("#actor", "admin2")
    page.click("main form.filters button[type=submit]")
    rows = ids_unique(page).locator("tbody tr")
    expect(rows.filter(has_text="Akun pemeriksa3 sekarang dapat masuk.")).to_have_count(1)
    expect(rows.filter(has_text="Akun diaktifkan")).to_have_count(1)
    assert "account.activate" not in text_of(page)

    page.goto(portals.staff + "/audit/checkpoints")
    name, kept = download(ids_unique(page), page.locator("main form button[type=submit]"))
    checkpoint = tmp_path / name
    checkpoint.write_bytes(kept)

    page.goto(portals.staff + "/audit/verify")
    ids_unique(page).set_input_files("#checkpoints", str(checkpoint))
    page.click("main form button[type=submit]")
    expect(page.locator("#verdict")).to_contain_text("Utuh:")
    entries = int(re.search(r"Utuh: (\d+) entri", page.inner_text("#verdict")).group(1))
    assert entries >= json.loads(kept)["seq"]

    # A checkpoint that does not match the log is caught: the verdict is not "Utuh".
    forged = json.loads(kept)
    forged["hash"] = hashlib.sha256(b"another history").hexdigest()
    other = tmp_path / "forged.json"
    other.write_text(json.dumps(forged))
    page.set_input_files("#checkpoints", str(other))
    page.click("main form button[type=submit]")
    expect(page.locator("#verdict")).not_to_contain_text("Utuh")
    expect(ids_unique(page).locator("#verdict")).to_have_class(re.compile("warning"))

    page.goto(portals.staff + "/")
    expect(page.locator("#dash-chain")).not_to_contain_text("Belum diverifikasi.")

    page.goto(portals.staff + "/audit/checkpoints")
    name, exported = download(page, page.locator("main a", has_text="JSON Lines"))
    assert name == "sipadu-audit.jsonl"
    header, *lines = [json.loads(line) for line in exported.decode().splitlines()]
    assert header["checkpoint"]["seq"] >= json.loads(kept)["seq"]
    assert [e["seq"] for e in lines] == list(range(1, len(lines) + 1))
    assert {"audit.checkpoint", "audit.verify", "audit.export"} <= {e["action"] for e in lines}
    page.context.close()
