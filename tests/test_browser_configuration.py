"""An admin configures what reporters choose, in a real browser with JavaScript off
(issue 18, item 4): Debian's Chromium driven by Playwright, both portals served in this
process on one demo instance.

One admin proposes a sub-category and a CSV import of units (a file with a bad line is
first refused, every line kept in the page, corrected there); a second admin reads both
proposals as they will apply and approves them; a reporter, without JavaScript, then
finds the sub-category and a kelurahan in the grouped selects and sends a report; the
investigator reads both in words on the case page. Every step checks what the person
sees."""

import re
import uuid
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, expect

from tests.chromium import (
    AXE,
    SEND_REPORT,
    chromium,
    new_page,
    portal_in_process,
    staff_signed_in,
)
from tests.helpers import Person, init_demo

MARKER = uuid.uuid4().hex[:6]
SUB_ID = f"Pengadaan barang {MARKER}"
SUB_EN = f"Procurement {MARKER}"
CITY = f"Jakarta Uji {MARKER}"
BAD_CSV = f"kind,name,parent\nKota Administrasi,{CITY},\nKelurahan,Cideng,Gambir Salah\n"
GOOD_CSV = (
    f"kind,name,parent\nKota Administrasi,{CITY},\nKecamatan,Gambir,{CITY}\n"
    "Kelurahan,Cideng,Gambir\n"
)
RUN_AXE = """() => axe.run(document, {resultTypes: ['violations']}).then(r => r.violations.map(
  v => ({id: v.id, impact: v.impact, help: v.help})))"""


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


def test_an_admin_configures_a_second_approves_and_the_reporter_chooses(browser, portals):
    reporter, staff, people = portals
    admin = staff_signed_in(browser, staff, people["admin"])

    # A sub-category of KKN, worded in both languages.
    admin.click("text=Kategori dan rute laporan")
    form = admin.locator("#new-category form")
    form.locator("#parent").select_option(
        label="Subkategori dari: Korupsi, kolusi, atau nepotisme (KKN)"
    )
    form.locator("#new-label_id").fill(SUB_ID)
    form.locator("#new-label_en").fill(SUB_EN)
    form.locator("#new-description_id").fill("Tender yang diatur sebelumnya.")
    form.locator("#new-description_en").fill("Tenders arranged in advance.")
    form.locator("button[type=submit]").click()
    expect(admin.locator("#waiting")).to_be_visible()
    assert SUB_ID in admin.locator("main").inner_text()

    # Units: a file with a bad line is refused line by line, its text kept to correct.
    admin.click("text=Unit terlapor")
    admin.fill("#text", BAD_CSV)
    admin.locator("#import-units button[type=submit]").click()
    problems = admin.locator("#import-problems").inner_text()
    assert "Baris 3" in problems and "Gambir Salah" in problems
    assert "Baris 2" not in problems
    assert admin.locator("#text").input_value() == BAD_CSV
    admin.fill("#text", GOOD_CSV)
    admin.locator("#import-units button[type=submit]").click()
    expect(admin.locator("#waiting")).to_be_visible()
    assert CITY not in admin.locator(".unit-group").all_inner_texts().__str__()  # not yet

    # The second admin reads both proposals as they will apply, and approves them.
    second = staff_signed_in(browser, staff, people["admin2"], javascript=AXE.exists())
    second.click("text=Usulan")
    main = second.locator("main").inner_text()
    assert SUB_ID in main and SUB_EN in main and "Tenders arranged in advance." in main
    assert "Cideng" in main and CITY in main
    if AXE.exists():
        violations = second.evaluate(RUN_AXE)
        assert [v for v in violations if v["impact"] in ("serious", "critical")] == []
    for _ in range(2):
        row = second.locator("tr[id^=proposal-]").first
        row.locator("input[name=confirm]").check()
        row.locator("button", has_text="Setujui").first.click()
    assert "Tidak ada yang menunggu" in second.locator("main").inner_text()

    # The form with both selects passes axe (run where scripts may run; the reporter's
    # own browser runs none).
    if AXE.exists():
        checked = new_page(browser, javascript=True)
        checked.goto(reporter + "/report")
        violations = checked.evaluate(RUN_AXE)
        assert [v for v in violations if v["impact"] in ("serious", "critical")] == []
        checked.context.close()

    # The reporter, without JavaScript, chooses them in the grouped selects.
    page = new_page(browser)
    page.goto(reporter + "/report")
    page.check("input[name=category][value=kkn]")
    page.select_option("#subcategory", label=SUB_ID)
    page.select_option("#unit", label="Gambir — Cideng")
    group = page.locator(f'#unit optgroup[label="{CITY}"]')
    assert group.locator("option").count() == 3
    page.fill("#title", f"Tender diatur {MARKER}")
    page.fill("#what", "Pemenang tender sudah ditentukan sebelum pengumuman.")
    page.click(SEND_REPORT)
    expect(page.locator("#report-code")).to_be_visible()

    # The investigator reads the sub-category and the unit in words.
    investigator = staff_signed_in(browser, staff, people["pemeriksa1"])
    investigator.goto(staff + "/reports")
    row = investigator.locator("tr", has_text=f"Tender diatur {MARKER}")
    assert f"{CITY} — Gambir — Cideng" in row.inner_text()
    row.locator("a").first.click()
    assert re.search(re.escape(SUB_ID), investigator.locator("#case-category").inner_text())
    assert investigator.locator("#case-unit").inner_text() == f"{CITY} — Gambir — Cideng"
