"""The admins configure the conflict-of-interest team in a real browser with JavaScript
off (issue 18, items 3 and 4): one admin proposes an investigator of the team and an
outside keyholder's age key, the page shows each with its fingerprint, the second admin
compares the fingerprints on the proposals page and approves, ticking the box the server
checks; the home page warns while the team has no custodian. axe-core finds no
violation on the page (in a JavaScript-on context of its own, as the staff pages test
runs it). With ``SIPADU_COI_SCREENSHOTS=DIR`` the steps are photographed into DIR
(docs/screenshots holds the committed ones)."""

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pyrage
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.chromium import chromium, portal_in_process, staff_signed_in
from tests.helpers import Person, account_of, init_demo

RUN_AXE = """() => axe.run(document, {resultTypes: ['violations']}).then(r => r.violations.map(
  v => ({id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map(n => n.target.join(' '))})
))"""
PAGE = "/admin/conflict-of-interest"


@pytest.fixture(scope="module")
def portal(env, config) -> Iterator[tuple[str, dict[str, Person]]]:
    people = init_demo(env)
    with portal_in_process("staff", config) as staff:
        yield staff, people


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


def shot(page: Page, name: str) -> None:
    folder = os.environ.get("SIPADU_COI_SCREENSHOTS")
    if folder:
        page.screenshot(path=str(Path(folder) / f"id-desktop-coi-{name}.png"), full_page=True)


def _hex(text: str) -> str:
    return re.sub(r"[^0-9a-f]", "", text.lower())


def test_two_admins_configure_the_team_without_javascript(browser, portal, database_url):
    base, people = portal
    admin = staff_signed_in(browser, base, people["admin"])
    admin2 = staff_signed_in(browser, base, people["admin2"])
    outside = str(pyrage.x25519.Identity.generate().to_public())

    admin.click("nav.staff-nav >> text=Tim benturan kepentingan")
    expect(admin.locator("h1")).to_have_text("Tim benturan kepentingan")
    expect(admin.locator("#coi-incomplete")).to_be_visible()
    admin.select_option("#account", label="pemeriksa2")
    admin.select_option("#kind", value="investigator")
    admin.click("#coi-staff-form button[type=submit]")
    admin.fill("#name", "KPK")
    admin.fill("#recipient", outside)
    admin.click("#coi-external-form button[type=submit]")
    table = admin.locator("main table").inner_text()
    fingerprint = _hex(
        admin.locator("tr", has_text="pemeriksa2").locator(".fingerprint").inner_text()
    )
    assert len(fingerprint) == 64 and "menunggu admin kedua" in table
    assert "KPK" in table and outside in table
    shot(admin, "1-proposed")

    # the proposer cannot approve; the second admin sees the same fingerprints and approves
    admin2.goto(base + "/admin/proposals")
    for text in ("pemeriksa2", "KPK"):
        row = admin2.locator("tbody tr", has_text=text)
        expect(row).to_have_count(1)
        if text == "pemeriksa2":
            assert _hex(row.locator(".fingerprint").inner_text()) == fingerprint
            assert "pemeriksa tim" in row.inner_text()
        else:
            assert outside in row.inner_text() and "pemegang kunci luar" in row.inner_text()
    shot(admin2, "2-proposals")
    for text in ("pemeriksa2", "KPK"):
        row = admin2.locator("tbody tr", has_text=text)
        row.locator("button", has_text="Setujui").click()  # without the tick: refused
        expect(admin2.locator("tbody tr", has_text=text)).to_have_count(1)
        row = admin2.locator("tbody tr", has_text=text)
        row.locator("input[name=confirm]").check()
        row.locator("button", has_text="Setujui").click()
        expect(admin2.locator("tbody tr", has_text=text)).to_have_count(0)

    admin.goto(base + PAGE)
    table = admin.locator("main table").inner_text()
    assert table.count("terdaftar") == 2 and "menunggu admin kedua" not in table
    # still no custodian in the team: said on the page and on the home page
    expect(admin.locator("#coi-incomplete")).to_contain_text("kustodian")
    shot(admin, "3-configured")
    admin.goto(base + "/")
    expect(admin.locator("#dash-coi-warning")).to_be_visible()
    assert account_of(database_url, "pemeriksa2").public_key

    # axe-core over the configured page
    checker = staff_signed_in(browser, base, people["admin"], javascript=True)
    checker.goto(base + PAGE)
    assert checker.evaluate(RUN_AXE) == []
