"""The intake operator's journey in a real browser (issue 18 items 1 and 4): Debian's
Chromium driven by Playwright, JavaScript off, Bahasa Indonesia, both portals served in
this process on one demo instance.

An admin proposes the operator role for a colleague, a second admin approves it; the
operator signs in, sees only the intake form, takes in a walk-in report with a scanned
file and prints the slip (the code, the passphrase, and a QR code of the portal's
address, never of the code); the reporter signs in to the mailbox with the slip's code
and passphrase and finds the report and its file. Pages pass axe-core (no serious or
critical violation).
"""

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from playwright.sync_api import Browser, expect

from sipadu.services.totp import qr_svg
from tests.chromium import AXE, chromium, loaded_html, new_page, portal_in_process, staff_signed_in
from tests.helpers import OFFICE, ONION_ADDRESS, WEB_ADDRESS, Person, init_demo, intake_env

TITLE = "Pungutan liar di loket KTP-el Kecamatan"
WHAT = "Petugas loket meminta Rp 50.000 tanpa kuitansi agar KTP-el selesai hari itu."
SCAN = ("pindaian-kuitansi.pdf", b"%PDF-1.4\n% kuitansi tulisan tangan\n" * 30)
RUN_AXE = """() => axe.run(document, {resultTypes: ['violations']}).then(r => r.violations
  .filter(v => v.impact === 'serious' || v.impact === 'critical')
  .map(v => v.id + ' ' + v.nodes.map(n => n.target.join(' ')).join(', ')))"""


@pytest.fixture(scope="module")
def env(instance_path, database_url, redis_url) -> dict:
    return intake_env(instance_path, database_url, redis_url)


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


def axe_violations(browser: Browser, html: str) -> list[str]:
    """Serious or critical axe-core findings on ``html`` (the page as the operator's
    browser received it), in a scratch context where axe may run."""
    assert AXE.exists(), "axe-core: make tests/browser/node_modules/.installed-sipadu"
    context = browser.new_context(bypass_csp=True)
    try:
        page = context.new_page()
        page.set_content(html)
        page.add_script_tag(path=str(AXE))
        return page.evaluate(RUN_AXE)
    finally:
        context.close()


def test_the_operator_journey(browser, portals, tmp_path):
    # An admin proposes the operator role for a colleague (the demo auditor, who holds
    # no report); it takes effect only when a second admin approves.
    admin = staff_signed_in(browser, portals.staff, portals.people["admin"])
    admin.goto(portals.staff + "/admin")
    admin.click("tbody >> text=auditor")
    grant = admin.locator("main form[action$='/roles']")
    grant.locator("select").select_option(label="Petugas penerimaan laporan")
    grant.locator("input[type=checkbox][name=confirm]").check()
    grant.locator("button[type=submit]").click()
    expect(admin.locator("main")).to_contain_text("Menunggu admin kedua")

    operator = staff_signed_in(browser, portals.staff, portals.people["auditor"])
    expect(operator.locator("nav.staff-nav")).not_to_contain_text("Terima laporan")
    assert operator.goto(portals.staff + "/intake/report").status == 403

    admin2 = staff_signed_in(browser, portals.staff, portals.people["admin2"])
    admin2.goto(portals.staff + "/admin/proposals")
    row = admin2.locator("tbody tr", has_text="Petugas penerimaan laporan")
    expect(row).to_have_count(1)
    row.locator("input[type=checkbox][name=confirm]").check()
    row.locator("form[action$='/approve'] button[type=submit]").first.click()
    expect(admin2.locator("tbody tr", has_text="Petugas penerimaan laporan")).to_have_count(0)

    # The operator (signed in again: roles are read at sign-in and on each request)
    # finds the form from the menu, and takes in a walk-in report with a scanned file.
    operator.goto(portals.staff + "/")
    operator.click("nav.staff-nav >> text=Terima laporan")
    expect(operator.locator("h1")).to_have_text("Terima laporan")
    assert axe_violations(browser, loaded_html(operator)) == []
    operator.check("input[name=channel][value=walk_in]")
    operator.select_option("#office", label=OFFICE)
    operator.check("input[name=category][value=kkn]")
    operator.fill("#title", TITLE)
    operator.fill("#what", WHAT)
    operator.fill("#identity", "Siti, 0812 0000 0000")
    scan = tmp_path / SCAN[0]
    scan.write_bytes(SCAN[1])
    operator.set_input_files("#attachments", str(scan))
    with operator.expect_response(
        lambda r: r.url.endswith("/intake/report") and r.request.method == "POST"
    ) as answered:
        operator.click("main form#intake-form .actions button[type=submit]")
    body = answered.value.text()
    assert answered.value.status == 200
    assert answered.value.headers["cache-control"] == "no-store"

    # The slip: code, passphrase, addresses, and the QR code of the address alone.
    code = operator.inner_text("#report-code").strip()
    passphrase = operator.inner_text("#report-passphrase").strip()
    assert len(code.replace(" ", "")) == 16 and len(passphrase.split()) == 7
    expect(operator.locator("#slip-web")).to_have_text(WEB_ADDRESS)
    expect(operator.locator("#slip-onion")).to_have_text(ONION_ADDRESS)
    expect(operator.locator("#slip-qr svg")).to_have_count(1)
    assert qr_svg(WEB_ADDRESS) in body
    assert qr_svg(code) not in body and qr_svg(code.replace(" ", "")) not in body
    expect(operator.locator("#slip-id")).to_contain_text("kode laporan baru")
    expect(operator.locator("#slip-en")).to_contain_text("you get a new report code")
    expect(operator.locator("#slip-en")).to_contain_text("the code on this slip no longer works")
    assert axe_violations(browser, loaded_html(operator)) == []

    # Reloaded (the browser sends the form again): the same slip, nothing more stored.
    with operator.expect_response(
        lambda r: r.url.endswith("/intake/report") and r.request.method == "POST"
    ) as reloaded:
        operator.reload()
    assert reloaded.value.status == 200
    expect(operator.locator("#intake-again")).to_be_visible()
    assert operator.inner_text("#report-code").strip() == code
    assert operator.inner_text("#report-passphrase").strip() == passphrase

    # The language switch (a button, JavaScript off) shows the same slip in English.
    operator.click("nav.languages button[value=en]")
    expect(operator.locator("h1")).to_have_text("The report is stored: print the slip")
    assert operator.inner_text("#report-code").strip() == code
    expect(operator.locator("#intake-again")).to_have_count(0)
    operator.click("nav.languages button[value=id]")
    assert operator.inner_text("#report-code").strip() == code

    # Printed: the slip alone; the menu and the operator's instructions stay off paper.
    operator.emulate_media(media="print")
    expect(operator.locator("#intake-slip")).to_be_visible()
    expect(operator.locator("#slip-instructions")).to_be_hidden()
    expect(operator.locator("nav.staff-nav")).to_be_hidden()
    operator.screenshot(path=str(tmp_path / "slip-print.png"), full_page=True)
    operator.emulate_media(media="screen")

    # Nothing leads back: the form again, no code, no report list.
    operator.click("text=Terima laporan lain")
    expect(operator.locator("h1")).to_have_text("Terima laporan")
    assert code not in loaded_html(operator)
    assert operator.goto(portals.staff + "/reports").status == 403

    # The reporter signs in with the slip's code and passphrase, and first takes a new
    # code of their own (the operator saw the slip): then the mailbox opens.
    reporter = new_page(browser)
    reporter.goto(portals.reporter + "/mailbox/login")
    reporter.fill("#code", code)
    reporter.fill("#passphrase", passphrase)
    reporter.click("main form button[type=submit]")
    expect(reporter.locator("h1")).to_have_text("Ambil kode laporan Anda sendiri")
    assert TITLE not in loaded_html(reporter)
    reporter.click("#new-code-form .actions button[type=submit]")
    new_code = reporter.inner_text("#report-code").strip()
    assert new_code != code and len(new_code.replace(" ", "")) == 16
    reporter.check("#written")
    reporter.click("#leave-form .actions button[type=submit]")
    expect(reporter.locator("h1")).to_have_text("Kotak surat saya")
    expect(reporter.locator("main")).to_contain_text(TITLE)
    expect(reporter.locator("main")).to_contain_text(WHAT)
    expect(reporter.locator("main")).to_contain_text(SCAN[0])
