"""Every staff page is readable on a phone and at 200 % zoom, and accessible (issue 17
item 8): for each role, every page it reaches fits the window without scrolling sideways
at 1280 px and at 390 px (a 1280 px window at 200 % zoom lays out as 640 px, between the
two), and axe-core finds no serious or critical violation.

Debian's Chromium driven by Playwright, one browser and one staff portal (this module's
app, served in this process) for the whole module. The pages are the ones people reach
by following links (tests.helpers.staff_pages), one of each kind per role, with
something in every list (tests.helpers.staff_world). axe-core is injected by the test
(the portal serves no script); the page is otherwise as staff see it.
"""

import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from werkzeug.serving import make_server

from tests.chromium import NoAccessLog, chromium
from tests.helpers import StaffWorld, init_demo, signed_in, staff_pages, staff_world

AXE = Path(__file__).parent / "browser" / "node_modules" / "axe-core" / "axe.min.js"
BLOCKING = ("serious", "critical")
WIDTHS = (1280, 390)
ROLES = ("pemeriksa1", "inspektur", "admin", "auditor")
RUN_AXE = """() => axe.run(document, {resultTypes: ['violations']}).then(r => r.violations.map(
  v => ({id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map(n => n.target.join(' '))})
))"""
# How far the page reaches sideways with every folded detail open, and what sticks out
# (to say where it is).
OVERFLOW = """() => {
  document.querySelectorAll('details').forEach(d => { d.open = true; });
  const width = document.documentElement.clientWidth;
  const wide = [...document.querySelectorAll('body *')]
    .filter(e => e.getBoundingClientRect().right > width + 1)
    .filter(e => !e.parentElement || e.parentElement.getBoundingClientRect().right <= width + 1)
    .slice(0, 3).map(e => e.tagName.toLowerCase() + (e.className ? '.' + e.className : ''));
  return {scroll: document.documentElement.scrollWidth, width, wide};
}"""


@pytest.fixture(scope="module")
def people(env):
    return init_demo(env)


@pytest.fixture(scope="module")
def world(staff_app, reporter_app, people, database_url) -> StaffWorld:
    return staff_world(staff_app, reporter_app, people, database_url)


@pytest.fixture(scope="module")
def portal(staff_app) -> Iterator[str]:
    """This module's staff app under Werkzeug's threaded server; its base URL."""
    server = make_server("127.0.0.1", 0, staff_app, threaded=True, request_handler=NoAccessLog)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


def kinds_of_page(client, seeds: list[str]) -> list[str]:
    """One page of each kind (route) the client reaches by links: the first found."""
    adapter = client.application.url_map.bind("localhost")
    chosen: dict[str, str] = {}
    for path, response in staff_pages(client, "id", seeds):
        if response.mimetype == "text/html" and response.status_code < 400:
            endpoint = adapter.match(urlsplit(path).path)[0]
            chosen.setdefault(endpoint, path)
    return list(chosen.values())


def test_every_staff_page_fits_a_phone_and_has_no_serious_axe_violation(
    staff_app, people, world, portal
):
    problems: list[str] = []
    minor: list[str] = []  # shown, not failed: moderate and minor violations
    seen = 0
    with chromium() as browser:
        for user in (*ROLES, None):
            if user is None:
                pages = kinds_of_page(
                    staff_app.test_client(), ["/", world.activation_link, world.enrollment_link]
                )
            else:
                pages = kinds_of_page(signed_in(staff_app, people[user]), ["/"])
            context = browser.new_context(viewport={"width": WIDTHS[0], "height": 900})
            context.add_init_script(path=str(AXE))
            page = context.new_page()
            if user is not None:  # signed in through the form, as staff do
                person = people[user]
                page.goto(portal + "/login")
                page.fill("#username", person.username)
                page.fill("#password", person.password)
                page.fill("#totp", person.code())
                page.click("main form button[type=submit]")
                assert urlsplit(page.url).path == "/", (user, page.url)
            for width in WIDTHS:
                page.set_viewport_size({"width": width, "height": 900})
                for path in pages:
                    where = f"{user or 'nobody'} {path} at {width} px"
                    response = page.goto(portal + path)
                    assert response is not None and response.status < 400, where
                    seen += 1
                    reach = page.evaluate(OVERFLOW)
                    if reach["scroll"] > width:
                        problems.append(
                            f"{where}: {reach['scroll']} px wide (sticking out: {reach['wide']})"
                        )
                    for v in page.evaluate(RUN_AXE):
                        said = f"{where}: axe {v['impact']} {v['id']} ({v['help']})"
                        said += f" at {v['nodes'][:3]}"
                        (problems if v["impact"] in BLOCKING else minor).append(said)
            context.close()
    print(
        "\n".join(
            ["axe, moderate and minor:", *minor] if minor else ["axe: nothing moderate or minor"]
        )
    )
    assert seen >= 50  # every role's pages, at both widths
    assert problems == [], "\n".join(problems)
