"""Screenshots of the reporter's journey for docs/screenshots/ (`make screenshots`).

    .venv/bin/python tools/screenshots.py [OUT_DIR]        (default: docs/screenshots)

Starts a throw-away demo instance (SQLite in a temporary folder, volatile store in
/dev/shm) with its reporter portal under gunicorn, as `make run` serves it, and walks the
journey in Debian's Chromium with JavaScript off (as Tor Browser's "Safest" level):
landing page, report form, the page with the code, mailbox sign-in, and the mailbox with
an investigator's reply. The reply is written through the staff portal (in this process,
signed in as the demo investigator with password and TOTP), so the mailbox shows what a
reporter really reads. Every size (desktop 1280 px, phone 390 px) and language (Bahasa
Indonesia, English) gets its own report.

Then the staff portal (served under gunicorn too), in Bahasa Indonesia with JavaScript
on: after a report is sent with a file, answered, labelled, its reporter's identity
asked for, and an export recipient proposed by one admin, each demo staff member signs
in (password and TOTP) and their page is photographed at both sizes: the investigator's
dashboard, report list, report page and print view, the custodian's identity requests,
the second admin's proposals, the auditor's log of that report (:data:`STAFF_WALK`).

Files are named ``<lang>-<size>-<nn>-<page>.png`` (e.g. ``id-phone-01-landing.png``), and
``id-<size>-staff-<nn>-<page>.png`` for the staff pages, so a new run replaces the old
one file for file; the two the README shows also come as
``…-first-screen.png``: what the screen shows before any scrolling. Each PNG is the whole
page (or that first screen) at one device pixel per CSS pixel, reduced to a palette of at
most 128 colours without dithering (text and flat colours survive that unchanged; fewer
for a very long page) and compressed, to stay under 150 KB (`make screenshots` fails
above).

The walk checks every page it photographs (the code, the reply, a text each staff page
must show) and stops with an error rather than photograph an error page.
``tests/test_screenshots.py`` runs it for one reporter page and one staff page.
"""

import io
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pyotp
import pyrage
from flask.testing import FlaskClient
from PIL import Image
from playwright.sync_api import Browser, Locator, Page, sync_playwright

from sipadu import create_app
from sipadu.settings.config import load_config
from sipadu.web.context import dispose

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "screenshots"

CHROMIUM = "/usr/bin/chromium"  # Debian's package (the Makefile's `programs` installs it)
CHROMIUM_FLAGS = [  # as in tests/test_browser.py
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@dataclass(frozen=True)
class Size:
    width: int
    height: int
    phone: bool


SIZES = {"desktop": Size(1280, 800, phone=False), "phone": Size(390, 844, phone=True)}
LANGUAGES = ("id", "en")
PAGES = ("landing", "form", "warning", "code", "signin", "mailbox")  # in the order of the journey
# The staff portal, in Bahasa Indonesia with JavaScript on (as staff browsers run it): one
# page per role's daily work, in the order of a case's life.
STAFF_PAGES = (
    "dashboard",  # the investigator's home page
    "cases",  # their report list
    "case",  # one report
    "print",  # its printable case file
    "identity-requests",  # the custodian's
    "proposals",  # the second admin's
    "audit-log",  # the auditor's
    "intake",  # the intake operator's form at a counter (issue 18)
    "units",  # the admin's reported units and their CSV import (issue 18)
    "conflict-of-interest",  # the admin's team for reports about the Inspektorat (issue 18)
)
STAFF_LANGUAGE = "id"
# Pages photographed down to so many pixels only: the warning is the form again, with the
# warning and the kept files on top.
CLIPPED = {"warning": 2200}
COLOURS = 128
MAX_BYTES = 150_000

# What the reporter writes and the investigator answers, in the page's language.
TEXTS = {
    "id": {
        "title": "Pungutan liar di loket perizinan",
        "what": (
            "Petugas loket meminta uang tambahan Rp 500.000 di luar tarif resmi agar izin "
            "mendirikan bangunan diproses minggu ini. Tidak ada kuitansi."
        ),
        # A telephone number: the warning about identifying details (issue 21 item 3)
        "who": "Petugas loket 3, bagian perizinan, HP 0812-3456-7890",
        "where": "Mal Pelayanan Publik, lantai 2",
        "when": "Senin dan Selasa pekan lalu, pagi hari",
        "file": "bukti.txt",
        "photo": "foto-loket.jpg",
        "reply": (
            "Terima kasih atas laporan Anda. Kami sedang menelaahnya. Apakah Anda ingat "
            "tanggal pastinya, dan apakah ada orang lain yang diminta uang yang sama?"
        ),
        # The staff pages only (Bahasa Indonesia).
        "identity": "Budi Santoso, 0812-3456-7890",
        "labels": "pungli, loket 3",
        "identity_reason": "Pelapor perlu dimintai keterangan sebagai saksi.",
        "recipient": "Arsip Inspektorat",
    },
    "en": {
        "title": "Illegal fees at the permit counter",
        "what": (
            "The counter clerk asked for an extra Rp 500,000 above the official fee to "
            "process a building permit this week. No receipt was given."
        ),
        "who": "Clerk at counter 3, permits section, phone 0812-3456-7890",
        "where": "Public Service Mall, 2nd floor",
        "when": "Monday and Tuesday last week, in the morning",
        "file": "evidence.txt",
        "photo": "counter-photo.jpg",
        "reply": (
            "Thank you for your report. We are looking into it. Do you remember the exact "
            "dates, and were other people asked for the same payment?"
        ),
    },
}


def file_name(lang: str, size: str, page: str) -> str:
    """The stable name of one screenshot, e.g. ``en-desktop-03-code.png``."""
    return f"{lang}-{size}-{PAGES.index(page) + 1:02d}-{page}.png"


def staff_file_name(size: str, page: str) -> str:
    """E.g. ``id-phone-staff-03-case.png``."""
    return f"{STAFF_LANGUAGE}-{size}-staff-{STAFF_PAGES.index(page) + 1:02d}-{page}.png"


# The two the README shows: only what the screen shows before any scrolling.
FIRST_SCREENS = {("id", "phone", "landing"), ("en", "desktop", "code")}


def first_screen_name(lang: str, size: str, page: str) -> str:
    """E.g. ``id-phone-01-landing-first-screen.png``."""
    return file_name(lang, size, page).removesuffix(".png") + "-first-screen.png"


def optimise(png: bytes) -> bytes:
    """``png`` as an indexed-colour PNG: :data:`COLOURS` colours, no dithering (dots would
    only cost bytes around text), compressed as far as zlib goes; fewer colours for a page
    so long that it would still be over :data:`MAX_BYTES`."""
    image = Image.open(io.BytesIO(png)).convert("RGB")
    for colours in (COLOURS, 64, 32, 16):
        reduced = image.quantize(
            colors=colours, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE
        )
        out = io.BytesIO()
        reduced.save(out, "PNG", optimize=True)
        if out.tell() <= MAX_BYTES:
            break
    return out.getvalue()


# --- the demo instance -------------------------------------------------------------------

TOKEN = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
DEMO_LINE = re.compile(r"^demo (\S+) (\S+) (\S+) (\S+)$", re.M)


class StaffDesk:
    """The demo staff at the staff portal (apps in this process, on the same database as
    the served portals): the investigator answers the newest reports; for the staff
    pages, a report is sent and worked, and an identity request and an admin's proposal
    are left waiting."""

    def __init__(self, env: dict[str, str]) -> None:
        config = load_config(env)
        self.app = create_app("staff", config)
        self.reporter_app = create_app("reporter", config)
        self.client: FlaskClient = self.app.test_client()
        credentials = Path(env["SIPADU_INSTANCE_PATH"]) / "demo-credentials.txt"
        self.people = {
            m.group(2): (m.group(3), m.group(4))
            for m in DEMO_LINE.finditer(credentials.read_text())
        }
        self.signed_in = False
        self.steps: dict[str, int] = {}

    def code(self, username: str) -> str:
        """A TOTP code of ``username`` for a time step not used yet: the server takes
        each step once, and also the next one (each account signs in twice at most)."""
        step = max(int(time.time()) // 30, self.steps.get(username, -1) + 1)
        self.steps[username] = step
        return pyotp.TOTP(self.people[username][1]).generate_otp(step)

    def _token(self, path: str, client: FlaskClient | None = None) -> str:
        page = (client or self.client).get(path).get_data(as_text=True)
        match = TOKEN.search(page)
        if match is None:
            raise RuntimeError(f"staff portal: no form at {path}")
        return match.group(1)

    def _post(self, path: str, form_page: str, as_: FlaskClient | None = None, **data: str) -> None:
        client = as_ or self.client
        response = client.post(path, data={"csrf_token": self._token(form_page, client), **data})
        if response.status_code != 303 or "/login" in response.headers.get("Location", ""):
            raise RuntimeError(f"staff portal refused POST {path}: {response.status_code}")

    def sign_in(self, username: str = "pemeriksa1", client: FlaskClient | None = None) -> None:
        password, _secret = self.people[username]
        self._post(
            "/login",
            "/login",
            client,
            username=username,
            password=password,
            totp=self.code(username),
        )
        if client is None:
            self.signed_in = True

    def reports(self) -> set[str]:
        if not self.signed_in:
            self.sign_in()
        page = self.client.get("/reports").get_data(as_text=True)
        return set(re.findall(r'href="/reports/([0-9a-f-]{36})"', page))

    def answer(self, report_id: str, reply: str) -> None:
        """Reply to the reporter and mark the report as being looked into."""
        case = f"/reports/{report_id}"
        self._post(f"{case}/messages", case, body=reply)
        self._post(f"{case}/status", case, status="in_review", reason="")

    def worked_case(self) -> str:
        """A report sent with a file and an identity, answered, labelled and of high
        priority, whose reporter's identity the investigator asked a custodian for; and
        an export recipient one admin proposed. Returns the report's id."""
        texts = TEXTS[STAFF_LANGUAGE]
        before = self.reports()
        reporter = self.reporter_app.test_client()
        form = reporter.get("/report").get_data(as_text=True)
        tokens = dict(re.findall(r'name="(csrf_token|submission_token)"[^>]*value="([^"]+)"', form))
        fields = {k: texts[k] for k in ("title", "what", "who", "where", "when")}
        evidence = (io.BytesIO((texts["what"] + "\n").encode()), texts["file"], "text/plain")
        photo = (io.BytesIO(_photo()), texts["photo"], "image/jpeg")  # its safe copy offered
        sent = reporter.post(
            "/report",
            data={
                **tokens,
                **fields,
                "category": "kkn",
                "identity": texts["identity"],
                "passphrase": "",
                "passphrase_confirm": "",
                "attachments": [evidence, photo],
                "send_anyway": "1",  # the telephone number in "who" is meant
            },
            content_type="multipart/form-data",
        )
        if 'id="report-code"' not in sent.get_data(as_text=True):
            raise RuntimeError(f"the reporter portal took no report: {sent.status_code}")
        new = self.reports() - before
        if len(new) != 1:
            raise RuntimeError(f"expected one new report in the staff portal, saw {len(new)}")
        report_id = new.pop()
        case = f"/reports/{report_id}"
        self.answer(report_id, texts["reply"])
        self._post(f"{case}/labels", case, labels=texts["labels"], priority="high")
        self._post(f"{case}/identity-requests", case, reason=texts["identity_reason"])
        admin = self.app.test_client()
        self.sign_in("admin", admin)
        recipient = str(pyrage.x25519.Identity.generate().to_public())
        self._post(
            "/admin/recipients",
            "/admin/recipients",
            admin,
            name=texts["recipient"],
            recipient=recipient,
        )
        return report_id

    def close(self) -> None:
        dispose(self.app)
        dispose(self.reporter_app)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for(url: str, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=1).close()  # noqa: S310 — our own 127.0.0.1
            return
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not come up")


@contextmanager
def demo_portal(root: Path) -> Iterator[tuple[str, str, StaffDesk]]:
    """A fresh demo instance in ``root`` (as ``make run`` creates, with cheap Argon2id):
    yields the base URLs of its reporter and staff portals (real gunicorn, one worker
    each) and the staff desk."""
    # Mailbox sessions belong on the memory file system, as in every instance; removed after.
    shm = Path("/dev/shm")  # noqa: S108 — the memory-backed file system, by design
    volatile = shm / f"sipadu-screenshots-{uuid.uuid4().hex[:12]}"
    ports = {portal: _free_port() for portal in ("reporter", "staff")}
    cheap = {"TIME_COST": "1", "MEMORY_KIB": "256", "PARALLELISM": "1"}
    env = {
        "SIPADU_ENV": "development",
        "SIPADU_INSTANCE_PATH": str(root / "instance"),
        "SIPADU_VOLATILE_PATH": str(volatile),
        "SIPADU_WORKERS": "1",
        "SIPADU_THREADS": "4",
        "SIPADU_REPORTER_BIND": f"127.0.0.1:{ports['reporter']}",
        "SIPADU_STAFF_BIND": f"127.0.0.1:{ports['staff']}",
        "SIPADU_WEB_ADDRESS": f"http://127.0.0.1:{ports['reporter']}",  # on the slip
        **{f"SIPADU_ARGON2_{k}": v for k, v in cheap.items()},
        **{f"SIPADU_LOOKUP_ARGON2_{k}": v for k, v in cheap.items()},
    }
    # Only what the portal needs from this process's environment: never another
    # instance's SIPADU_* settings (a developer's shell may have some).
    child_env = {k: v for k, v in os.environ.items() if not k.startswith("SIPADU_")} | env
    subprocess.run(
        [sys.executable, "-m", "sipadu.cli", "init", "--demo"],
        env=child_env,
        check=True,
        capture_output=True,
    )
    logs = {portal: root / f"{portal}.log" for portal in ports}  # shown if the walk fails
    servers = []
    for portal, log in logs.items():
        with log.open("wb") as output:
            servers.append(
                subprocess.Popen(  # noqa: S603 — our own server, a portal name of ours
                    [sys.executable, "-m", "sipadu.hosting.serve", portal],
                    env=child_env,
                    stdout=output,
                    stderr=output,
                )
            )
    desk = None
    try:
        bases = {portal: f"http://127.0.0.1:{port}" for portal, port in ports.items()}
        for base in bases.values():
            _wait_for(base + "/", 30)
        desk = StaffDesk(env)
        yield bases["reporter"], bases["staff"], desk
    except BaseException:
        for portal, log in logs.items():
            tail = log.read_text(errors="replace")[-3000:]
            print(f"the {portal} portal's log ends:\n{tail}", file=sys.stderr)
        raise
    finally:
        if desk is not None:
            desk.close()
        for server in servers:
            server.terminate()
        for server in servers:
            try:
                server.wait(timeout=45)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait(timeout=10)
        shutil.rmtree(volatile, ignore_errors=True)


# --- the journey -------------------------------------------------------------------------


def _summary(page: Page) -> str:
    """What a page says went wrong: its title and any alert, for an error message."""
    alerts = page.locator("[role=alert]").all_inner_texts()
    return f"{page.url} {page.title()!r} {' / '.join(alerts)[:500]!r}"


def submit(button: Locator) -> None:
    """Press a form's button and wait for the page it leads to to load: a click returns
    once the navigation commits, before the new document is parsed, and a check made
    then finds nothing (the race ``tests.chromium.loaded_html`` exists for)."""
    button.click()
    button.page.wait_for_load_state("load")


def _photo() -> bytes:
    """A small photo carrying a camera and a GPS position, as phones write them: the
    code page says what was removed from it (issue 21 item 2)."""
    from PIL import Image

    exif = Image.Exif()
    exif[0x010F], exif[0x0110] = "Samsung", "SM-A546E"  # Make, Model
    exif[0x8825] = {1: "S", 2: (6.0, 10.0, 30.0), 3: "E", 4: (106.0, 49.0, 12.0)}
    out = io.BytesIO()
    Image.new("RGB", (320, 240), (180, 150, 90)).save(out, "JPEG", exif=exif.tobytes())
    return out.getvalue()


def journey(
    browser: Browser,
    base: str,
    desk: StaffDesk,
    out: Path,
    lang: str,
    size: str,
    pages: Sequence[str] = PAGES,
) -> list[Path]:
    """Walk the reporter's journey once in ``lang`` at ``size``, as far as the last of
    ``pages`` needs, photographing those; returns the files written."""
    last = max(PAGES.index(p) for p in pages)
    texts = TEXTS[lang]
    query = f"?lang={lang}"
    viewport = SIZES[size]
    context = browser.new_context(
        java_script_enabled=False,
        viewport={"width": viewport.width, "height": viewport.height},
        device_scale_factor=1,
        is_mobile=viewport.phone,
        has_touch=viewport.phone,
        locale="id-ID" if lang == "id" else "en-US",
    )
    page = context.new_page()
    written: list[Path] = []

    def shoot(step: str) -> bool:
        """Photograph ``step`` if it is wanted; whether the walk goes on."""
        if step in pages:
            path = out / file_name(lang, size, step)
            if step in CLIPPED:  # the top of a long page: what differs from the form
                width = page.evaluate("document.documentElement.scrollWidth")
                height = min(CLIPPED[step], page.evaluate("document.body.scrollHeight"))
                clip = {"x": 0, "y": 0, "width": width, "height": height}
                path.write_bytes(optimise(page.screenshot(full_page=True, clip=clip)))
            else:
                path.write_bytes(optimise(page.screenshot(full_page=True)))
            written.append(path)
            if (lang, size, step) in FIRST_SCREENS:
                path = out / first_screen_name(lang, size, step)
                path.write_bytes(optimise(page.screenshot()))
                written.append(path)
        return PAGES.index(step) < last

    try:
        page.goto(base + "/" + query)
        if not shoot("landing"):
            return written

        page.goto(base + "/report" + query)
        page.check("input[name=category][value=kkn]")
        for field in ("title", "what", "who", "where", "when"):
            page.fill(f"#{field}", texts[field])
        evidence = (texts["what"] + "\n").encode()
        page.set_input_files(
            "#attachments",
            [
                {"name": texts["file"], "mimeType": "text/plain", "buffer": evidence},
                {"name": texts["photo"], "mimeType": "image/jpeg", "buffer": _photo()},
            ],
        )
        if not shoot("form"):
            return written

        before = desk.reports()
        # The form's own submit button (not a language switch, which would carry a name).
        submit(page.locator("form:has(#what) button[type=submit]:not([name])").last)
        if not page.locator("#identifying-warning").count():
            raise RuntimeError(f"no warning about the telephone number: {_summary(page)}")
        if not shoot("warning"):
            return written
        submit(page.locator("button[name=send_anyway]").first)
        if not page.locator("#report-code").count():
            raise RuntimeError(f"no code page after sending the report: {_summary(page)}")
        code = page.inner_text("#report-code")
        passphrase = page.inner_text("#report-passphrase")
        if not shoot("code"):
            return written

        new = desk.reports() - before
        if len(new) != 1:
            raise RuntimeError(f"expected one new report in the staff portal, saw {len(new)}")
        desk.answer(new.pop(), texts["reply"])

        page.goto(base + "/mailbox/login" + query)
        if not shoot("signin"):
            return written
        page.fill("#code", code)
        page.fill("#passphrase", passphrase)
        submit(page.locator("form:has(#passphrase) button[type=submit]").last)
        if texts["reply"] not in page.inner_text("body"):
            raise RuntimeError(f"the mailbox shows no reply: {_summary(page)}")
        shoot("mailbox")
        return written
    finally:
        context.close()


# Who shows each staff page, where it is, and a text the page must show (else the walk
# stops rather than photograph an error page). ``{case}`` is the worked report's id.
STAFF_WALK = {
    "dashboard": ("pemeriksa1", "/", "Laporan Anda"),
    "cases": ("pemeriksa1", "/reports", "{title}"),
    "case": ("pemeriksa1", "/reports/{case}", "{title}"),
    "print": ("pemeriksa1", "/reports/{case}/print", "{title}"),
    "identity-requests": ("inspektur", "/identity-requests", "{identity_reason}"),
    "proposals": ("admin2", "/admin/proposals", "{recipient}"),
    "audit-log": ("auditor", "/audit?report={case}", "{case}"),
    "intake": ("petugas1", "/intake/report", "Terima laporan"),
    "units": ("admin", "/admin/units", "kind,name,parent"),
    "conflict-of-interest": ("admin", "/admin/conflict-of-interest", "Tim benturan kepentingan"),
}


def staff_tour(
    browser: Browser,
    base: str,
    desk: StaffDesk,
    out: Path,
    sizes: Sequence[str],
    pages: Sequence[str],
) -> list[Path]:
    """Photograph the staff ``pages`` at each of ``sizes``: each person signs in once
    (password and TOTP, JavaScript on) and sees their page at every width."""
    texts = TEXTS[STAFF_LANGUAGE] | {"case": desk.worked_case()}
    written: list[Path] = []
    by_person: dict[str, list[str]] = {}
    for page_name in STAFF_PAGES:
        if page_name in pages:
            by_person.setdefault(STAFF_WALK[page_name][0], []).append(page_name)
    for username, names in by_person.items():
        context = browser.new_context(device_scale_factor=1, locale="id-ID")
        try:
            page = context.new_page()
            page.goto(base + "/login")
            page.fill("#username", username)
            page.fill("#password", desk.people[username][0])
            page.fill("#totp", desk.code(username))
            submit(page.locator("main form button[type=submit]"))
            if "Selamat datang" not in page.inner_text("h1"):
                raise RuntimeError(f"{username} could not sign in: {_summary(page)}")
            for size in sizes:
                viewport = SIZES[size]
                page.set_viewport_size({"width": viewport.width, "height": viewport.height})
                for name in names:
                    _who, path, expected = STAFF_WALK[name]
                    page.goto(base + path.format(**texts))
                    if expected.format(**texts) not in page.inner_text("main"):
                        raise RuntimeError(f"the {name} page is not as expected: {_summary(page)}")
                    target = out / staff_file_name(size, name)
                    target.write_bytes(optimise(page.screenshot(full_page=True)))
                    written.append(target)
        finally:
            context.close()
    return written


def take(
    out: Path,
    languages: Sequence[str] = LANGUAGES,
    sizes: Sequence[str] = tuple(SIZES),
    pages: Sequence[str] = PAGES,
    staff_pages: Sequence[str] = STAFF_PAGES,
) -> list[Path]:
    """Photograph ``pages`` of the reporter's journey in every language and size, then
    ``staff_pages`` in Bahasa Indonesia at every size, into ``out`` (made if missing;
    files of the same names replaced). Returns the files written."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    with tempfile.TemporaryDirectory(prefix="sipadu-screenshots-") as root:
        with (
            demo_portal(Path(root)) as (base, staff_base, desk),
            sync_playwright() as playwright,
        ):
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
            try:
                for lang in languages if pages else ():
                    for size in sizes:
                        written += journey(browser, base, desk, out, lang, size, pages)
                if staff_pages:
                    written += staff_tour(browser, staff_base, desk, out, sizes, staff_pages)
            finally:
                browser.close()
    return written


def main(argv: Sequence[str]) -> int:
    out = Path(argv[0]) if argv else OUT
    started = time.monotonic()
    written = take(out)
    for path in written:
        print(f"{path.relative_to(out)}  {path.stat().st_size / 1000:.0f} kB")
    largest = max(path.stat().st_size for path in written)
    print(
        f"screenshots={len(written)} largest_kb={largest / 1000:.0f} "
        f"total_kb={sum(p.stat().st_size for p in written) / 1000:.0f} "
        f"seconds={time.monotonic() - started:.0f}"
    )
    return 0 if largest <= MAX_BYTES else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
