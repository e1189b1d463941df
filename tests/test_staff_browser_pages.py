"""Every staff page is readable on a phone and at 200 % zoom, and accessible (issue 17
item 8, review 17b findings 2, 5, 9 and 10): for each role, every page it reaches fits
the window without scrolling sideways at 390 px (a phone), 640 px and 768 px (a 1280 or
1536 px screen at 200 % zoom) and 1280 px, with the ordinary long data staff meet every
day (a link pasted into a title and a report, a long file name, usernames of 38 and 63
characters, a recipient name without spaces, long labels); the case file fits the
printable width of A4; and axe-core finds no violation of any impact (at 1280 and
390 px: the two layouts, table and reflowed rows).

Debian's Chromium driven by Playwright, one browser and one staff portal (this module's
app, served in this process) for the whole module. The pages are the ones people reach
by following links (tests.helpers.staff_pages), one of each kind per role, with
something in every list (tests.helpers.staff_world), plus the pages showing the long
data, the compliance statistics in their other views (a quarter's categories, the year),
the digest form once saved with an address and an OpenPGP key, and pages reached by
sending a form (a refusal, a search). axe-core is injected by
the test (the portal serves no script); the page is otherwise as staff see it.
"""

import re
import subprocess
import threading
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from urllib.parse import urlsplit

import pysequoia
import pytest
from playwright.sync_api import Browser, Page
from sqlalchemy import select
from werkzeug.serving import make_server

from sipadu.persistence.models import Proposal, StaffAccount
from tests.chromium import NoAccessLog, chromium, loaded_html
from tests.helpers import (
    Person,
    StaffWorld,
    activate_by_link,
    create_account,
    database,
    init_demo,
    post,
    receipt,
    report_id_of,
    report_with_files,
    signed_in,
    staff_pages,
    staff_world,
)

AXE = Path(__file__).parent / "browser" / "node_modules" / "axe-core" / "axe.min.js"
# Every width is checked for sideways scrolling; axe runs at the two layouts' widths.
WIDTHS = (1280, 1152, 768, 640, 390)  # 1152: the narrowest window with tables as tables
AXE_WIDTHS = (1280, 390)
HEIGHT = 900
# A4 less the case file's page margins (15 mm each side; sipadu.css @page case-file):
# 180 mm at 96 px per inch.
A4_PRINTABLE = round(180 / 25.4 * 96)
ROLES = ("pemeriksa1", "inspektur", "admin", "auditor")

# Ordinary data, as staff meet it (review 17b): nothing here is contrived.
LONG_USERNAME = "pemeriksa.inspektur.pembantu.wilayah.3"  # 38 characters
LONGEST_USERNAME = "pemeriksa.inspektorat.daerah.kota.contoh.bidang.keuangan.aset.2"  # 63
URL = "https://drive.google.com/file/d/1AbCdEfGhIjKlMnOpQrStUvWxYz0123456789/view?usp=sharing"
TITLE = "Mark-up RAB, lihat https://lpse.kotacontoh.go.id/eproc4/lelang/98765432/pengumumanlelang"
FILE_NAME = "Laporan_Keuangan_Dinas_PUPR_2024_Triwulan_III_final_revisi_2.pdf"
DIGEST_ADDRESS = "auditor.inspektorat.daerah.kota.contoh@pemerintah.kotacontoh.go.id"
RECIPIENT_NAME = (  # 90 characters, no space
    "Arsip-Inspektorat-Daerah-Kota-Contoh-Bidang-Pengawasan-Keuangan-Pembangunan-dan-Aset-2026"
)
LABELS = "pengadaan-barang-jasa-dinas-pupr-2024, " + ", ".join(
    ["PenyalahgunaanWewenangPejabatPembuatKomi", "tindak-lanjut-bpkp-dan-inspektorat-prov"]
)

RUN_AXE = """() => axe.run(document, {resultTypes: ['violations']}).then(r => r.violations.map(
  v => ({id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map(n => n.target.join(' '))})
))"""
# How far the page reaches sideways with every folded detail open: the document's
# scroll width, and whatever sticks out of the window (a box or a line of text; the
# outermost of each), even where an ancestor cuts it off. Visually hidden text
# (clipped to nothing, for screen readers) is not seen, so not counted.
OVERFLOW = """() => {
  document.querySelectorAll('details').forEach(d => { d.open = true; });
  const width = document.documentElement.clientWidth;
  const hidden = e => {
    for (let a = e; a; a = a.parentElement) {
      const s = getComputedStyle(a);
      if (s.display === 'none' || (s.position === 'absolute' && s.clip !== 'auto')) return true;
    }
    return false;
  };
  const name = e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '')
    + (typeof e.className === 'string' && e.className ? '.' + e.className.replace(/ /g, '.') : '');
  const boxes = [...document.querySelectorAll('body *')].filter(e => {
    const r = e.getBoundingClientRect();
    return r.width > 0 && r.right > width + 1 && !hidden(e);
  });
  const wide = boxes.filter(e => !boxes.includes(e.parentElement))
    .map(e => name(e) + ' ' + Math.round(e.getBoundingClientRect().right) + ' px: '
      + (e.textContent || '').trim().slice(0, 50));
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    if (!n.textContent.trim()) continue;
    const range = document.createRange();
    range.selectNodeContents(n);
    const right = Math.max(0, ...[...range.getClientRects()].map(r => r.right));
    if (right > width + 1 && !hidden(n.parentElement))
      wide.push('text in ' + name(n.parentElement) + ' ' + Math.round(right) + ' px: '
        + n.textContent.trim().slice(0, 50));
  }
  return {scroll: document.documentElement.scrollWidth, width, wide: wide.slice(0, 6)};
}"""


@pytest.fixture(scope="module")
def people(env):
    return init_demo(env)


@pytest.fixture(scope="module")
def world(staff_app, reporter_app, people, database_url) -> StaffWorld:
    return staff_world(staff_app, reporter_app, people, database_url)


@pytest.fixture(scope="module")
def long_world(staff_app, reporter_app, people, world, database_url) -> dict:
    """The long data on the pages, made through the portals as people make it: two
    investigators with long usernames (the 63-character one waiting to be routed), an
    export recipient whose name has no space, a report with a link in its title and text
    and a long file name, shared with the 38-character colleague, who leads it, with long
    labels, a link to another report, a note, a message and a reason holding links.
    Returns the paths of those pages by who sees them, and the long-named investigator
    (to sign in as)."""
    admin = signed_in(staff_app, people["admin"])
    admin2 = signed_in(staff_app, people["admin2"])
    investigator = signed_in(staff_app, people["pemeriksa1"])
    secrets = {}
    for name in (LONG_USERNAME, LONGEST_USERNAME):
        secrets[name] = activate_by_link(
            staff_app, create_account(admin, name, "investigator"), "kata sandi panjang sekali 7"
        )
    with database(database_url) as session:
        ids = {
            a.username: a.id
            for a in session.scalars(
                select(StaffAccount).where(
                    StaffAccount.username.in_([LONG_USERNAME, LONGEST_USERNAME])
                )
            )
        }
        waiting = [
            p.id
            for p in session.scalars(select(Proposal).where(Proposal.state == "pending"))
            if p.account_id in ids.values()
        ]
    for proposal in waiting:
        path = f"/admin/proposals/{proposal}/approve"
        assert post(admin2, path, "/admin/proposals", confirm="y").status_code == 303
    route = {"change": "add", "account": str(ids[LONGEST_USERNAME]), "confirm": "y"}
    response = post(admin, "/admin/categories/kkn/routes", "/admin/categories", **route)
    assert response.status_code == 303
    key = subprocess.run(["age-keygen"], capture_output=True, text=True, check=True).stdout
    recipient = re.search(r"age1[0-9a-z]+", key).group(0)
    response = post(
        admin, "/admin/recipients", "/admin/recipients", name=RECIPIENT_NAME, recipient=recipient
    )
    assert response.status_code == 303, response.get_data(as_text=True)[:800]
    with database(database_url) as session:
        proposal = session.scalar(
            select(Proposal.id).where(
                Proposal.state == "pending", Proposal.recipient_id.is_not(None)
            )
        )
    path = f"/admin/proposals/{proposal}/approve"
    assert post(admin2, path, "/admin/proposals", confirm="y").status_code == 303

    receipt(
        report_with_files(
            reporter_app.test_client(),
            [(FILE_NAME, b"%PDF-1.4 bukti", "application/pdf")],
            category="kkn",
            title=TITLE,
            what=f"Dokumen lelang dan bukti transfer ada di {URL} (dibagikan ke publik).",
            who="Kepala Bidang Bina Marga (budi.santoso.kabid.binamarga@pupr.kotacontoh.go.id)",
            identity="budi.pelapor.rahasia.sekali@mail.kotacontoh.go.id",
            send_anyway="1",  # an e-mail address in "who": warned about first
        )
    )
    report = report_id_of(database_url, TITLE[:20], investigator)
    case = f"/reports/{report}"
    colleague = str(ids[LONG_USERNAME])
    for path, fields in (
        (f"{case}/grants", {"colleague": colleague, "confirm": "y"}),
        (f"{case}/lead", {"lead": colleague}),
        (f"{case}/labels", {"labels": LABELS, "priority": "high"}),
        (f"{case}/links", {"other": str(world.reports["received"]), "kind": "duplicate"}),
        (f"{case}/notes", {"body": f"Cocokkan dengan {URL} dan {FILE_NAME}"}),
        (f"{case}/messages", {"body": f"Mohon kirim ulang berkas dari {URL}"}),
        (f"{case}/status", {"status": "in_review", "reason": f"Sedang ditelaah: {URL}"}),
        (f"{case}/identity-requests", {"reason": f"Saksi kunci, lihat {URL}"}),
    ):
        response = post(investigator, path, case, **fields)
        assert response.status_code == 303, (path, response.get_data(as_text=True)[:800])
    # The digest form as its owner sees it once saved: the notice, an address, an
    # OpenPGP key's fingerprint and the buttons to drop it and remove the address.
    auditor = signed_in(staff_app, people["auditor"])
    key = str(pysequoia.Tsk.generate(f"Auditor <{DIGEST_ADDRESS}>").extract_certificate())
    digest = {"action": "save", "address": DIGEST_ADDRESS, "openpgp_key": key, "always_send": "y"}
    response = post(auditor, "/account/digest", "/account", **digest)
    assert response.status_code == 303, response.get_data(as_text=True)[:800]
    accounts = [f"/admin/accounts/{ids[name]}" for name in (LONG_USERNAME, LONGEST_USERNAME)]
    # The statistics of this year (the world's reports) in the other views than the
    # crawl's default: a quarter's categories, the whole year.
    year, quarter = date.today().year, (date.today().month - 1) // 3 + 1
    colleague_person = Person(
        LONG_USERNAME, "kata sandi panjang sekali 7", secrets[LONG_USERNAME], 0, database_url
    )
    return {
        "case": case,
        "extra": {
            "pemeriksa1": [
                case,
                "/reports",
                f"{case}/print?notes=y",
                f"{case}/export",
                f"/reports/{world.reports['received']}",
            ],
            "admin": [*accounts, "/admin/recipients", "/admin/proposals", "/admin/categories"],
            "inspektur": ["/identity-requests", f"/statistics?kind=year&year={year}"],
            "auditor": [
                "/audit",
                f"/audit?actor={LONG_USERNAME}",
                f"/statistics?kind=quarter&year={year}&part={quarter}",
                "/account?digest=saved",
            ],
            LONG_USERNAME: ["/", "/reports", case, "/account"],
        },
        "colleague": colleague_person,
    }


@pytest.fixture(scope="module")
def portal(staff_app) -> Iterator[str]:
    """This module's staff app under Werkzeug's threaded server; its base URL."""
    server = make_server("127.0.0.1", 0, staff_app, threaded=True, request_handler=NoAccessLog)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as opened:
        yield opened


def open_as(browser: Browser, portal: str, person: Person | None) -> Page:
    """A page of a new browser context with axe-core injected, signed in through the
    form as staff do (or nobody)."""
    context = browser.new_context(viewport={"width": WIDTHS[0], "height": HEIGHT})
    context.add_init_script(path=str(AXE))
    page = context.new_page()
    if person is not None:
        page.goto(portal + "/login")
        page.fill("#username", person.username)
        page.fill("#password", person.password)
        page.fill("#totp", person.code())
        page.click("main form button[type=submit]")
        assert urlsplit(page.url).path == "/", (person.username, page.url)
    return page


def kinds_of_page(client, seeds: list[str]) -> list[str]:
    """One page of each kind (route) the client reaches by links: the first found."""
    adapter = client.application.url_map.bind("localhost")
    chosen: dict[str, str] = {}
    for path, response in staff_pages(client, "id", seeds):
        if response.mimetype == "text/html" and response.status_code < 400:
            endpoint = adapter.match(urlsplit(path).path)[0]
            chosen.setdefault(endpoint, path)
    return list(chosen.values())


def misfits(page: Page, where: str) -> list[str]:
    """What is wrong with the page as it is now, at every width (axe at two): none."""
    problems = []
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": HEIGHT})
        reach = page.evaluate(OVERFLOW)
        if reach["scroll"] > reach["width"] or reach["wide"]:
            problems.append(
                f"{where} at {width} px: {reach['scroll']} px wide; sticking out: {reach['wide']}"
            )
        if width in AXE_WIDTHS:
            for v in page.evaluate(RUN_AXE):
                problems.append(
                    f"{where} at {width} px: axe {v['impact']} {v['id']} ({v['help']})"
                    f" at {v['nodes'][:3]}"
                )
    return problems


def test_every_staff_page_fits_every_width_with_long_data_and_has_no_axe_violation(
    staff_app, people, world, long_world, portal, browser
):
    problems: list[str] = []
    seen = 0
    users: list[str | None] = [*ROLES, LONG_USERNAME, None]
    for user in users:
        extra = long_world["extra"].get(user, [])
        if user is None:
            seeds = ["/", world.activation_link, world.enrollment_link]
            pages = kinds_of_page(staff_app.test_client(), seeds)
            person = None
        elif user == LONG_USERNAME:
            pages, person = [], long_world["colleague"]
        else:
            pages, person = kinds_of_page(signed_in(staff_app, people[user]), ["/"]), people[user]
        page = open_as(browser, portal, person)
        for path in dict.fromkeys([*pages, *extra]):
            where = f"{user or 'nobody'} {path}"
            page.set_viewport_size({"width": WIDTHS[0], "height": HEIGHT})
            response = page.goto(portal + path)
            assert response is not None and response.status < 400, where
            seen += 1
            problems.extend(misfits(page, where))
        page.context.close()
    assert seen >= 40  # every role's pages
    assert problems == [], "\n".join(problems)


def test_the_case_file_fits_the_printable_width_of_a4(people, long_world, portal, browser):
    """Printed, the case file with a link in its title, text, notes and messages stays
    within the page: nothing is cut off at the paper's edge."""
    page = open_as(browser, portal, people["pemeriksa1"])
    page.set_viewport_size({"width": A4_PRINTABLE, "height": 1123})
    page.goto(portal + long_world["case"] + "/print?notes=y")
    page.emulate_media(media="print")
    reach = page.evaluate(OVERFLOW)
    page.context.close()
    assert reach["scroll"] <= A4_PRINTABLE and reach["wide"] == [], reach


def test_a_refusal_on_the_case_page_is_summarised_in_the_first_screen_of_a_phone(
    people, long_world, portal, browser
):
    """Sharing without the tick (a browser that ignores ``required``, or a crafted
    post): the page comes back with a summary at its top, in the first screen at
    390 px, that links to the box to tick (review 17b finding 5); and the page reached
    by sending a form fits like the others, as does a search's answer."""
    page = open_as(browser, portal, people["pemeriksa1"])
    page.set_viewport_size({"width": 390, "height": HEIGHT})
    page.goto(portal + long_world["case"])
    grant = page.locator("form[action$='/grants']")
    grant.locator("[required]").evaluate_all("boxes => boxes.forEach(b => b.required = false)")
    with page.expect_navigation():
        grant.locator("button[type=submit]").click()
    summary = page.locator(".error-summary")
    assert summary.get_attribute("role") == "alert"
    box = summary.bounding_box()
    assert box is not None and box["y"] + box["height"] <= HEIGHT, box
    assert page.evaluate("() => document.activeElement.id") == "refused"  # read out first
    link = summary.locator("a").first
    target = link.get_attribute("href")
    assert target == "#grant-confirm", target
    link.click()
    tick = page.locator(target)
    assert tick.get_attribute("type") == "checkbox"
    # the link took the reader to the box (at the top, within a pixel of subpixel layout)
    assert -1 < tick.bounding_box()["y"] < HEIGHT
    problems = misfits(page, "the refused grant")
    page.set_viewport_size({"width": 390, "height": HEIGHT})
    page.goto(portal + "/reports")
    page.fill("form[action$='/search'] input[name=q]", "RAB")
    with page.expect_navigation():
        page.locator("form[action$='/search'] button[type=submit]").click()
    assert TITLE[:30] in loaded_html(page)
    problems += misfits(page, "the search's answer")
    page.context.close()
    assert problems == [], "\n".join(problems)


def test_every_refused_case_page_form_is_summarised_with_links_that_lead_somewhere(
    staff_app, people, world, long_world
):
    """Each form of the case page, refused (a box not ticked, a field empty or wrong): the
    page (400) starts with one summary whose every link names an element of the page, and
    an accepted page has none."""
    investigator = signed_in(staff_app, people["pemeriksa1"])
    case = long_world["case"]
    closed = f"/reports/{world.reports['closed_unsubstantiated']}"
    colleague = long_world["colleague"].username
    holder = re.search(
        r'action="(/reports/[^"]+/grants/[^"]+/revoke)"',
        investigator.get(case).get_data(as_text=True),
    )
    assert holder and colleague  # the colleague holds the report: a revoke button
    refusals = [
        (f"{case}/grants", case, {}),
        (holder.group(1), case, {}),
        (f"{case}/notes", case, {"body": ""}),
        (f"{case}/messages", case, {"body": ""}),
        (f"{case}/status", case, {"status": "closed_substantiated", "reason": "x"}),
        (f"{case}/status", case, {"status": ""}),
        (f"{case}/labels", case, {"labels": "x" * 45, "priority": "high"}),
        (f"{case}/links", case, {"other": "bukan-laporan", "kind": "related"}),
        (f"{case}/recuse", case, {}),
        (f"{case}/spam", case, {}),
        (f"{case}/identity-requests", case, {"reason": ""}),
        (f"{closed}/reopen", closed, {"reopen_reason": ""}),
    ]
    for path, page, fields in refusals:
        response = post(investigator, path, page, **fields)
        body = response.get_data(as_text=True)
        assert response.status_code == 400, path
        summaries = re.findall(r'<section class="error-summary".*?</section>', body, re.S)
        assert len(summaries) == 1, path
        assert body.index('class="error-summary"') < body.index("<h1>"), path
        targets = re.findall(r'href="#([^"]+)"', summaries[0])
        assert targets, path
        for target in targets:
            assert body.count(f'id="{target}"') == 1, (path, target)
    assert 'class="error-summary"' not in investigator.get(case).get_data(as_text=True)
