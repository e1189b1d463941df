"""Every reporter page is small, served from the portal alone and accessible (issue 16):
at most 100 KB and 4 requests, nothing from another origin, and no serious or critical
axe-core violation, in Bahasa Indonesia and English at 1280 px and 390 px.

The reporter's browser has JavaScript off (Tor Browser "Safest"): Debian's Chromium
driven by Playwright, the portal under gunicorn, every page reached as a reporter
reaches it (forms filled and sent, refusals provoked), the published transparency
report (its list and a month's page) included. HTTP caching is off (every
request is routed), so each page is measured as on a first visit.

axe-core (tests/browser/package.json, installed from the npm registry by `make test`)
needs JavaScript, and a page with scripting disabled runs none of its timers or promise
callbacks, so it cannot run there. Each page's document, exactly as the no-JavaScript
reader received it, is replayed into a second context with JavaScript on: the page's
own scripts are blocked (the portal's CSP forbids inline ones), ``<noscript>`` content
is shown as a no-JavaScript browser shows it, and axe runs over that. The figures are
printed as a table (shown without ``-s`` too).
"""

import json
import uuid
from collections import Counter
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
from playwright.sync_api import BrowserContext, Page, Request, Route

from tests import transparency_history
from tests.chromium import SEND_REPORT, chromium
from tests.helpers import (
    MIB,
    VOLATILE_ROOT,
    config_env,
    database,
    end_mailbox_sessions,
    invoke,
    random_code,
    reporter_under_gunicorn,
    typed_report,
)

AXE = Path(__file__).parent / "browser" / "node_modules" / "axe-core" / "axe.min.js"
MAX_BYTES = 100 * 1000  # "100 KB"
MAX_REQUESTS = 4
BLOCKING = ("serious", "critical")
IMPACTS = ("critical", "serious", "moderate", "minor")
WIDTHS = (1280, 390)
LANGUAGES = ("id", "en")
OPEN_MAILBOX = "#login-form .actions button[type=submit]"
SEND_MESSAGE = "#message-form .actions button[type=submit]"
LEAVE_MAILBOX = "form[action*=logout] button[type=submit]"
# Shows <noscript> content as a browser without JavaScript does: parsed, not text.
SHOW_NOSCRIPT = """() => {
  for (const n of document.body.querySelectorAll('noscript')) {
    const box = document.createElement('div');
    box.innerHTML = n.textContent;
    n.replaceWith(...box.childNodes);
  }
}"""
RUN_AXE = """() => axe.run(document, {resultTypes: ['violations']}).then(r => r.violations.map(
  v => ({id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map(n => n.target.join(' '))})
))"""


@dataclass
class Figures:
    page: str
    lang: str
    width: int
    status: int
    bytes: int
    requests: int
    foreign: list[str]
    violations: list[dict] = field(default_factory=list)

    def by_impact(self) -> Counter:
        return Counter(v["impact"] for v in self.violations)

    def problems(self) -> list[str]:
        where = f"{self.page} [{self.lang}, {self.width} px]"
        found = [f"{where}: {self.bytes} bytes > {MAX_BYTES}"] if self.bytes > MAX_BYTES else []
        if self.requests > MAX_REQUESTS:
            found.append(f"{where}: {self.requests} requests > {MAX_REQUESTS}")
        found += [f"{where}: request to another origin: {url}" for url in self.foreign]
        found += [
            f"{where}: axe {v['impact']} {v['id']} ({v['help']}) at {v['nodes'][:3]}"
            for v in self.violations
            if v["impact"] in BLOCKING
        ]
        return found


class Reader:
    """A JavaScript-off browser context whose every request is seen: same-origin ones
    go on (uncached), others are stopped and noted."""

    def __init__(self, context: BrowserContext, origin: str) -> None:
        self.origin = origin
        self.requests: list[Request] = []
        self.foreign: list[str] = []
        context.route("**/*", self._route)
        context.on("requestfinished", self._seen)
        context.on("requestfailed", self._seen)

    def _seen(self, request: Request) -> None:
        self.requests.append(request)

    def _route(self, route: Route) -> None:
        if _origin(route.request.url) == self.origin:
            route.continue_()
        else:
            self.foreign.append(route.request.url)
            route.abort()


class Auditor:
    """The JavaScript-on context axe runs in: the recorded document answered from
    memory, the page's own scripts blocked, its stylesheet fetched from the portal."""

    def __init__(self, context: BrowserContext) -> None:
        self.document: tuple[str, int, dict[str, str], bytes] | None = None
        context.add_init_script(path=str(AXE))
        context.route("**/*", self._route)
        self.page = context.new_page()

    def _route(self, route: Route) -> None:
        request = route.request
        if self.document and request.url == self.document[0] and request.is_navigation_request():
            _, status, headers, body = self.document
            route.fulfill(status=status, headers=headers, body=body)
        elif request.resource_type == "script":
            route.abort()  # as without JavaScript: none of the page's scripts runs
        else:
            route.continue_()

    def violations(self, url: str, status: int, headers: dict[str, str], body: bytes) -> list:
        kept = {k: v for k, v in headers.items() if k not in ("content-length", "content-encoding")}
        self.document = (url, status, kept, body)
        self.page.goto(url)
        self.page.evaluate(SHOW_NOSCRIPT)
        return self.page.evaluate(RUN_AXE)


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


@pytest.fixture(scope="module")
def portal(postgres, tmp_path_factory, redis_url):
    root = tmp_path_factory.mktemp("pages")
    name = postgres.create() if postgres is not None else None
    database_url = postgres.url_for(name) if name else f"sqlite:///{root / 'sipadu.db'}"
    limits = {
        "SIPADU_MAX_FILE_MIB": "1",  # the 413 refusal with a small file
        "SIPADU_MAX_REQUEST_MIB": "3",
        "SIPADU_MAILBOX_FAILURES_PER_CODE": "2 per hour",  # the 429 after two wrong tries
        "SIPADU_VOLATILE_PATH": str(VOLATILE_ROOT / uuid.uuid4().hex[:12]),
    }
    try:
        with reporter_under_gunicorn(database_url, root, redis_url, **limits) as (_, base):
            env = config_env(root / "instance", database_url, redis_url, **limits)
            publish_a_month(env)
            # The walk ends its mailbox session as the idle limit would (15 minutes).
            yield (
                base,
                partial(end_mailbox_sessions, redis_url, Path(limits["SIPADU_VOLATILE_PATH"])),
                partial(typed_report, env),
            )
    finally:
        if name:
            postgres.drop(name)


def publish_a_month(env: dict) -> None:
    """A transparency report on the portal: tests/transparency_history.py's month, with
    figures shown and figures suppressed, published as ``sipadu transparency publish``
    does."""
    with database(env["SIPADU_DATABASE_URL"]) as session:
        transparency_history.seed(session)
        session.commit()
    result = invoke(env, "transparency", "publish", "--month", transparency_history.MONTH)
    assert result.exit_code == 0, result.output


@pytest.fixture(scope="module")
def browser():
    with chromium() as browser:
        yield browser


class Journey:
    """One reporter's walk through every page in one language at one width."""

    def __init__(self, browser, portal, lang: str, width: int, files: Path) -> None:
        base, self.end_sessions, self.typed_report = portal
        viewport = {"width": width, "height": 800}
        context = browser.new_context(java_script_enabled=False, viewport=viewport)
        self.reader = Reader(context, base)
        self.page: Page = context.new_page()
        self.auditor = Auditor(browser.new_context(viewport=viewport))
        self.contexts = (context, self.auditor.page.context)
        self.base, self.lang, self.width, self.files = base, lang, width, files
        self.query = "" if lang == "id" else f"?lang={lang}"
        self.figures: list[Figures] = []

    def close(self) -> None:
        for context in self.contexts:
            context.close()

    def url(self, path: str) -> str:
        return self.base + path + self.query

    def visit(self, name: str, action) -> None:
        """Does ``action`` (which loads a page), then measures and audits that page."""
        self.reader.requests.clear()
        self.reader.foreign.clear()
        action()
        self.page.wait_for_load_state("load")
        requests = list(self.reader.requests)
        documents = [r for r in requests if r.resource_type == "document"]
        assert documents, f"{name}: no page was loaded"
        response = documents[-1].response()
        assert response is not None
        size = 0
        for request in requests:
            sizes = request.sizes()
            size += sizes["responseHeadersSize"] + sizes["responseBodySize"]
        lang = self.page.evaluate("document.documentElement.lang")
        figures = Figures(
            name, lang, self.width, response.status, size, len(requests), list(self.reader.foreign)
        )
        figures.violations = self.auditor.violations(
            documents[-1].url, response.status, response.headers, response.body()
        )
        self.figures.append(figures)

    def fill_report(self, title: str) -> None:
        self.page.goto(self.url("/report"))
        self.page.check("input[name=category][value=kkn]")
        self.page.fill("#title", title)
        self.page.fill("#what", "Petugas meminta uang tambahan di luar tarif resmi.")

    def walk(self) -> None:
        page = self.page
        self.visit("landing", lambda: page.goto(self.url("/")))
        self.visit("transparency reports", lambda: page.goto(self.url("/transparansi")))
        month = f"/transparansi/{transparency_history.MONTH}"
        self.visit("transparency report", lambda: page.goto(self.url(month)))
        self.visit("report form", lambda: page.goto(self.url("/report")))

        page.check("input[name=category][value=kkn]")
        page.fill("#title", "Judul tanpa uraian")
        self.visit("report form, refused", lambda: page.click(SEND_REPORT))
        assert page.input_value("#title") == "Judul tanpa uraian"  # kept

        self.fill_report("Berkas terlalu besar")
        page.set_input_files("#attachments", str(self.files / "rekaman.mp4"))
        self.visit("report form, file too large", lambda: page.click(SEND_REPORT))
        assert page.input_value("#title") == "Berkas terlalu besar"

        self.fill_report("Pungutan liar di loket perizinan")
        self.visit("code page", lambda: page.click(SEND_REPORT))
        code = page.inner_text("#report-code")
        passphrase = page.inner_text("#report-passphrase")
        self.visit("already received", page.reload)  # the same form sent again
        assert page.inner_text("#report-code") == code
        switch = "header .languages button"
        self.visit("code page, other language", lambda: page.click(switch))
        assert page.inner_text("#report-code") == code

        def broken(route: Route) -> None:  # a receipt form that arrived damaged
            form = dict(parse_qsl(route.request.post_data or ""))
            route.continue_(post_data=urlencode({**form, "code": "0"}))

        page.route("**/report/receipt*", broken)
        self.visit("error 400", lambda: page.click(switch))
        page.unroute("**/report/receipt*", broken)
        self.visit("error 404", lambda: page.goto(self.url("/tidak-ada")))
        self.visit("error 405", lambda: page.goto(self.url("/report/receipt")))

        self.visit("mailbox sign-in", lambda: page.goto(self.url("/mailbox/login")))
        wrong = random_code()
        for attempt in ("mailbox sign-in, wrong code", None, "mailbox sign-in, too many tries"):
            page.goto(self.url("/mailbox/login"))
            page.fill("#code", wrong)
            page.fill("#passphrase", "bukan frasa sandi yang benar")
            if attempt is None:
                page.click(OPEN_MAILBOX)
            else:
                self.visit(attempt, lambda: page.click(OPEN_MAILBOX))

        page.goto(self.url("/mailbox/login"))
        page.fill("#code", code)
        page.fill("#passphrase", passphrase)
        self.visit("mailbox", lambda: page.click(OPEN_MAILBOX))
        page.fill("#body", "Saya bisa menambahkan keterangan bila diperlukan.")
        self.visit("mailbox, message sent", lambda: page.click(SEND_MESSAGE))
        assert page.url.split("?")[1].startswith("sent=1")
        # A reply sent after the session ended: the sign-in page keeps it, and the
        # mailbox it opens holds it ready to send (issue 16 item 4).
        page.fill("#body", "Balasan yang ditulis terlalu lama.")
        assert self.end_sessions() >= 1  # on Redis, also earlier tests' (all ended)
        self.visit("mailbox sign-in, reply kept", lambda: page.click(SEND_MESSAGE))
        assert page.input_value("#reply") == "Balasan yang ditulis terlalu lama."
        page.fill("#code", code)
        page.fill("#passphrase", passphrase)
        self.visit("mailbox, reply kept", lambda: page.click(OPEN_MAILBOX))
        assert page.input_value("#body") == "Balasan yang ditulis terlalu lama."
        page.click(SEND_MESSAGE)
        page.wait_for_load_state("load")
        # In the thread: it was missing here (and a kept reply's sign-in was refused now
        # and then) while an upload's Flask context leaked into its connection's later
        # requests (tests/test_front.py, sipadu.hosting.front.in_this_context).
        thread = page.inner_text(".thread")
        assert "Balasan yang ditulis terlalu lama." in thread, thread
        self.visit("signed out", lambda: page.click(LEAVE_MAILBOX))

        # A report an operator typed: the reporter checks it (issue 18).
        typed_code, typed_passphrase = self.typed_report()
        page.goto(self.url("/mailbox/login"))
        page.fill("#code", typed_code)
        page.fill("#passphrase", typed_passphrase)
        # The slip's code opens only the page where the reporter takes their own code.
        self.visit("new code form", lambda: page.click(OPEN_MAILBOX))
        take = "#new-code-form .actions button"
        page.fill("#passphrase", "pendek")
        page.fill("#passphrase_confirm", "pendek")
        self.visit("new code form, refused", lambda: page.click(take))
        self.visit("new code taken", lambda: page.click(take))  # a suggested passphrase
        typed_code = page.inner_text("#report-code")
        typed_passphrase = page.inner_text("#report-passphrase")
        page.check("#written")
        leave = "#leave-form .actions button"
        self.visit("mailbox, typed report to check", lambda: page.click(leave))
        correct = "#transcript-correct .actions button"
        self.visit("mailbox, correction refused", lambda: page.click(correct))
        confirm = "#transcript-confirm .actions button"
        self.visit("mailbox, typed report confirmed", lambda: page.click(confirm))
        # Then a new passphrase.
        self.visit("passphrase form", lambda: page.click("#change-passphrase"))
        change = "#passphrase-form .actions button"
        page.fill("#code", typed_code)
        page.fill("#current_passphrase", "bukan frasa sandi yang benar")
        self.visit("passphrase form, refused", lambda: page.click(change))
        page.fill("#current_passphrase", typed_passphrase)
        self.visit("passphrase changed", lambda: page.click(change))
        assert len(page.inner_text("#new-passphrase").split()) == 7


def table(figures: list[Figures]) -> str:
    head = f"{'page':30} {'lang':4} {'width':>5} {'status':>6} {'bytes':>7} {'req':>3}  axe"
    lines = [head, "-" * len(head)]
    for f in figures:
        impacts = f.by_impact()
        axe = " ".join(f"{i}={impacts[i]}" for i in IMPACTS)
        minor = sorted({v["id"] for v in f.violations if v["impact"] not in BLOCKING})
        axe += f" ({', '.join(minor)})" if minor else ""
        lines.append(
            f"{f.page:30} {f.lang:4} {f.width:>5} {f.status:>6} {f.bytes:>7} {f.requests:>3}  {axe}"
        )
    biggest = max(figures, key=lambda f: f.bytes)
    most = max(figures, key=lambda f: f.requests)
    lines.append(
        f"{len(figures)} page views; largest {biggest.bytes} bytes ({biggest.page}), "
        f"most requests {most.requests} ({most.page}); limits {MAX_BYTES} bytes, "
        f"{MAX_REQUESTS} requests; axe-core {_axe_version()}"
    )
    return "\n".join(lines)


def _axe_version() -> str:
    return json.loads((AXE.parent / "package.json").read_text())["version"]


def test_every_reporter_page_is_small_local_and_without_serious_axe_violations(
    portal, browser, tmp_path, capsys
):
    assert AXE.exists(), "axe-core is missing: `make test` installs it (tests/browser)"
    (tmp_path / "rekaman.mp4").write_bytes(b"\x00" * (MIB + 1))
    figures: list[Figures] = []
    for lang in LANGUAGES:
        for width in WIDTHS:
            journey = Journey(browser, portal, lang, width, tmp_path)
            try:
                journey.walk()
            finally:
                journey.close()
                figures += journey.figures
    with capsys.disabled():
        print("\n" + table(figures))
    assert {f.lang for f in figures} == set(LANGUAGES)
    problems = [problem for f in figures for problem in f.problems()]
    assert not problems, "\n".join(problems)


def test_the_audit_sees_a_serious_violation(browser):
    """The machinery itself: a page with an unlabelled field and low-contrast text is
    caught (so a clean table means clean pages, not a broken audit)."""
    auditor = Auditor(browser.new_context())
    page = (
        b"<!doctype html><html><head><title>t</title></head><body><main>"
        b"<p style='color:#bbb;background:#fff'>hampir tak terbaca</p>"
        b"<input type=text name=x></main></body></html>"
    )
    url = f"http://127.0.0.1:9/{uuid.uuid4().hex}"
    found = auditor.violations(url, 200, {"content-type": "text/html"}, page)
    auditor.page.context.close()
    assert {"color-contrast", "label"} <= {v["id"] for v in found if v["impact"] in BLOCKING}
