"""The proof-of-report receipt in a real browser with JavaScript off (Tor Browser
"Safest"; issue 20 items 2 and 4): Debian's Chromium driven by Playwright, the portal
under gunicorn. A report sent through the form today says from when its receipt will be
ready and offers none yet; a report received three days ago, whose day ``sipadu audit
checkpoint`` sealed, offers the download with its warning; the downloaded file passes
docs/receipt.md's offline check with the pinned key, and fails it once altered. The
mailbox passes axe-core (no serious or critical violation)."""

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta

from playwright.sync_api import Browser, expect

from tests.chromium import AXE, SEND_REPORT, chromium, loaded_html
from tests.helpers import config_env, dated_report, invoke, reporter_under_gunicorn
from tests.test_receipt_download import recipe

OPEN_MAILBOX = "#login-form .actions button[type=submit]"
RUN_AXE = """() => axe.run(document, {resultTypes: ['violations']}).then(r => r.violations
  .filter(v => v.impact === 'serious' || v.impact === 'critical')
  .map(v => v.id + ' ' + v.nodes.map(n => n.target.join(' ')).join(', ')))"""


def axe_violations(browser: Browser, html: str) -> list[str]:
    """Serious or critical axe-core findings on ``html`` (the page as the reporter's
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


def sign_in(page, base: str, code: str, passphrase: str) -> None:
    page.goto(base + "/mailbox/login")
    page.fill("#code", code)
    page.fill("#passphrase", passphrase)
    page.click(OPEN_MAILBOX)
    expect(page.locator("#report-status")).to_have_count(1)


def test_the_reporter_downloads_a_receipt_that_the_documented_check_accepts(
    new_database_url, tmp_path, redis_url
):
    with reporter_under_gunicorn(new_database_url, tmp_path, redis_url) as (_, base):
        env = config_env(tmp_path / "instance", new_database_url, redis_url)
        received = datetime.now(UTC).date() - timedelta(days=3)
        code, passphrase = dated_report(env, received, "Laporan tiga hari lalu")
        sealing = invoke(env, "audit", "checkpoint")
        assert sealing.exit_code == 0 and "receipts: sealed 1 day(s)" in sealing.stderr
        pinned = invoke(env, "audit", "public-key").stdout.strip()
        with chromium() as browser:
            context = browser.new_context(java_script_enabled=False, accept_downloads=True)
            context.set_default_timeout(10_000)
            page = context.new_page()
            requests: list[str] = []
            page.on("request", lambda request: requests.append(request.url))

            # Today's report, sent through the form: not yet, and says from when.
            page.goto(base + "/report")
            page.check("input[name=category][value=kkn]")
            page.fill("#title", "Laporan hari ini")
            page.fill("#what", "Petugas meminta uang tambahan di luar tarif resmi.")
            page.click(SEND_REPORT)
            today_code = page.inner_text("#report-code")
            today_passphrase = page.inner_text("#report-passphrase")
            sign_in(page, base, today_code, today_passphrase)
            pending = page.inner_text("#receipt-pending")
            assert pending.startswith("Tersedia di sini mulai")
            assert page.locator("#receipt-download").count() == 0
            page.click("form[action*=logout] button[type=submit]")

            # The sealed day's report: the section, its warning, the download.
            sign_in(page, base, code, passphrase)
            assert page.inner_text("#receipt-title") == "Bukti laporan"
            warning = page.inner_text("#receipt-warning")
            assert "pemegangnya membuat laporan" in warning
            assert axe_violations(browser, loaded_html(page)) == []
            assert len(loaded_html(page).encode()) < 100_000
            with page.expect_download() as download:
                page.click("#receipt-download")
            assert download.value.suggested_filename == f"receipt-{received.isoformat()}.json"
            saved = tmp_path / download.value.suggested_filename
            download.value.save_as(saved)
            assert "Bukti laporan" in page.inner_text("#receipt-title")  # still the mailbox

            # English, through the language switch (a button: no script needed).
            page.click("button[name=switch_language][value=en]")
            assert page.inner_text("#receipt-title") == "Proof of report"
            assert "made a report, and which one" in page.inner_text("#receipt-warning")
            context.close()
        assert requests and all(url.startswith(base) for url in requests)

    script = tmp_path / "verify_receipt.py"
    script.write_text(recipe())

    def check(path) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-I", str(script), str(path), pinned],
            capture_output=True,
            text=True,
            check=False,
        )

    ok = check(saved)
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.startswith(f"OK {received.isoformat()} report ")
    altered = json.loads(saved.read_text())
    altered["day"] = (received - timedelta(days=1)).isoformat()
    forged = tmp_path / "forged.json"
    forged.write_text(json.dumps(altered))
    refused = check(forged)
    assert refused.returncode == 1 and "FAIL: the day, root or size differ" in refused.stderr
