"""The proof-of-report receipt from the reporter's side (issue 20 item 2; docs/receipt.md):
the mailbox's section in each state, the download once ``sipadu audit checkpoint`` has
sealed the report's day (no audit entry, no count), and the offline recipe of
docs/receipt.md, run as a separate Python with the pinned key, on that real receipt and
on every kind of forged or altered one."""

import json
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import delete, func, select, text

from sipadu.crypto import Purpose
from sipadu.persistence.models import (
    AuditEvent,
    ReceiptCommitment,
    ReporterDailyCount,
    ReportKey,
)
from sipadu.services import receipts
from tests.helpers import (
    database,
    dated_report,
    invoke,
    mailbox_client,
    submit,
    take_new_code,
    typed_report,
)
from tests.services.test_receipts import forgeries

DOCS = Path(__file__).parents[1] / "docs" / "receipt.md"
RECEIPT_PATH = "/mailbox/receipt"


def recipe() -> str:
    """The offline check, exactly as docs/receipt.md prints it."""
    block = DOCS.read_text().split("```python\n", 1)[1].split("```", 1)[0]
    assert "from cryptography" in block and "import sipadu" not in block
    assert "from sipadu" not in block
    return block


def offline_check(script: Path, receipt: Path, pinned: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-I", str(script), str(receipt), pinned],
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.fixture(scope="module")
def sealed(env, people) -> dict:
    """Two reports received three days ago: one stored as before receipts (its nonce
    and commitment deleted, as before migration 0025, and listed in
    ``report_before_receipts`` as migration 0027 does), one with its day sealed by
    ``sipadu audit checkpoint``; and the pinned key."""
    day = datetime.now(UTC).date() - timedelta(days=3)
    older = dated_report(env, day, "Laporan sebelum bukti")
    with database(env["SIPADU_DATABASE_URL"]) as session:
        session.execute(delete(ReportKey).where(ReportKey.purpose == Purpose.RECEIPT.value))
        session.execute(delete(ReceiptCommitment))
        # and listed, as migration 0027 lists every report that had no nonce
        session.execute(
            text("INSERT INTO report_before_receipts (report_id) SELECT id FROM report")
        )
        session.commit()
    ready = dated_report(env, day, "Laporan dengan bukti")
    checkpoint = invoke(env, "audit", "checkpoint")
    assert checkpoint.exit_code == 0 and "receipts: sealed 1 day(s)" in checkpoint.stderr
    pinned = invoke(env, "audit", "public-key").stdout.strip()
    return {"day": day, "ready": ready, "older": older, "pinned": pinned}


def test_the_mailbox_offers_the_receipt_of_a_sealed_day_with_a_warning(reporter_app, sealed, env):
    client = mailbox_client(reporter_app, *sealed["ready"])
    page = client.get("/mailbox").get_data(as_text=True)
    assert 'id="receipt-download"' in page and 'id="receipt-warning"' in page
    assert f'href="{RECEIPT_PATH}"' in page
    with database(env["SIPADU_DATABASE_URL"]) as session:
        entries = session.scalar(select(func.count()).select_from(AuditEvent))
        counts = session.execute(select(ReporterDailyCount.metric, ReporterDailyCount.count)).all()
    response = client.get(RECEIPT_PATH)
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.headers["Cache-Control"] == "no-store"
    name = f"receipt-{sealed['day'].isoformat()}.json"
    assert f'filename="{name}"' in response.headers["Content-Disposition"]
    document = json.loads(response.get_data())
    assert document["day"] == sealed["day"].isoformat()
    assert receipts.check(document, sealed["pinned"]).report_id == document["opening"]["report_id"]
    assert len(response.get_data()) < 8_000  # small
    # A download is the reporter's: no audit entry, no count (G2).
    with database(env["SIPADU_DATABASE_URL"]) as session:
        assert session.scalar(select(func.count()).select_from(AuditEvent)) == entries
        after = session.execute(select(ReporterDailyCount.metric, ReporterDailyCount.count)).all()
        assert after == counts


def test_a_report_of_today_says_from_when_and_offers_no_download(reporter_app):
    code, passphrase, _page = submit(reporter_app.test_client())
    client = mailbox_client(reporter_app, code, passphrase)
    page = client.get("/mailbox").get_data(as_text=True)
    assert 'id="receipt-pending"' in page and 'id="receipt-download"' not in page
    tomorrow = datetime.now(UTC).date() + timedelta(days=1)
    assert str(tomorrow.year) in re.search(r'id="receipt-pending">([^<]+)<', page).group(1)
    refused = client.get(RECEIPT_PATH)
    assert refused.status_code == 409
    assert "bukti laporan" in refused.get_data(as_text=True).lower()


def test_a_report_made_before_receipts_says_so_and_does_not_fail(reporter_app, sealed):
    client = mailbox_client(reporter_app, *sealed["older"])
    page = client.get("/mailbox")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert 'id="receipt-none"' in text and 'id="receipt-download"' not in text
    assert client.get(RECEIPT_PATH).status_code == 409


def test_a_report_whose_day_was_not_sealed_within_the_week_says_there_is_none(
    reporter_app, env, sealed
):
    """A report dated ten days ago whose day nobody sealed (the timer stopped): its
    window closed, ``sipadu audit checkpoint`` does not seal it now, and the mailbox says
    there is no proof of report, not "being prepared" (docs/receipt.md)."""
    day = datetime.now(UTC).date() - timedelta(days=10)
    code, passphrase = dated_report(env, day, "Laporan yang tidak disegel")
    sealing = invoke(env, "audit", "checkpoint")
    assert sealing.exit_code == 0 and "receipts: sealed" not in sealing.stderr
    client = mailbox_client(reporter_app, code, passphrase)
    page = client.get("/mailbox").get_data(as_text=True)
    assert 'id="receipt-late"' in page
    assert 'id="receipt-pending"' not in page and 'id="receipt-download"' not in page
    assert client.get(RECEIPT_PATH).status_code == 409


def test_a_report_whose_nonce_was_removed_is_not_said_to_predate_receipts(reporter_app, env):
    """Review fault F2 on the page: the report's receipt nonce deleted in the database
    (and it is not listed as stored before receipts): the mailbox says the data failed a
    check, never "made before receipts, nothing is wrong"."""

    def with_nonce() -> set:
        with database(env["SIPADU_DATABASE_URL"]) as session:
            return set(
                session.scalars(
                    select(ReportKey.report_id).where(ReportKey.purpose == Purpose.RECEIPT.value)
                )
            )

    before = with_nonce()
    code, passphrase, _page = submit(reporter_app.test_client())
    (report_id,) = with_nonce() - before
    client = mailbox_client(reporter_app, code, passphrase)
    assert 'id="receipt-pending"' in client.get("/mailbox").get_data(as_text=True)
    with database(env["SIPADU_DATABASE_URL"]) as session:
        session.execute(
            delete(ReportKey).where(
                ReportKey.report_id == report_id, ReportKey.purpose == Purpose.RECEIPT.value
            )
        )
        session.commit()
    page = client.get("/mailbox").get_data(as_text=True)
    assert 'id="receipt-broken"' in page and 'id="receipt-none"' not in page


def test_a_typed_reports_mailbox_gets_its_receipt_after_its_new_code(reporter_app, env):
    """An operator's intake has a mailbox like any report: once the reporter took their
    own code (the mailbox key stays the same), its receipt is there, sealed with the
    day's others; the operator's slip opens nothing of it."""
    slip = typed_report(env, "Diketik, dengan bukti")
    client = mailbox_client(reporter_app, *slip)
    assert 'id="receipt' not in client.get("/mailbox", follow_redirects=True).get_data(as_text=True)
    assert client.get(RECEIPT_PATH).status_code == 303  # to the new-code page first
    code, passphrase = take_new_code(client)
    page = mailbox_client(reporter_app, code, passphrase).get("/mailbox").get_data(as_text=True)
    assert 'id="receipt-pending"' in page


def test_a_commitment_deleted_in_the_database_is_said_plainly(reporter_app, env):
    code, passphrase, _page = submit(reporter_app.test_client())
    with database(env["SIPADU_DATABASE_URL"]) as session:
        session.execute(delete(ReceiptCommitment).where(ReceiptCommitment.batch_id.is_(None)))
        session.commit()
    client = mailbox_client(reporter_app, code, passphrase)
    page = client.get("/mailbox")
    assert page.status_code == 200 and 'id="receipt-broken"' in page.get_data(as_text=True)
    assert client.get(RECEIPT_PATH).status_code == 409


def test_the_receipt_needs_a_signed_in_mailbox(reporter_app):
    answer = reporter_app.test_client().get(RECEIPT_PATH)
    assert answer.status_code == 303 and answer.headers["Location"].endswith("/mailbox/login")


def test_the_documented_recipe_checks_the_real_receipt_and_fails_every_forgery(
    reporter_app, sealed, tmp_path
):
    client = mailbox_client(reporter_app, *sealed["ready"])
    good = json.loads(client.get(RECEIPT_PATH).get_data())
    script = tmp_path / "verify_receipt.py"
    script.write_text(recipe())
    receipt = tmp_path / "receipt.json"

    receipt.write_text(json.dumps(good))
    ok = offline_check(script, receipt, sealed["pinned"])
    assert ok.returncode == 0, ok.stderr
    opening = good["opening"]["report_id"]
    assert ok.stdout.startswith(f"OK {sealed['day'].isoformat()} report {opening} (sealed ")

    # Without the opening: the day only.
    receipt.write_text(json.dumps({k: v for k, v in good.items() if k != "opening"}))
    day_only = offline_check(script, receipt, sealed["pinned"])
    assert day_only.returncode == 0 and "which one not shown" in day_only.stdout

    # Another key (a forger's own, in the checkpoint too): refused.
    other = "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c"
    receipt.write_text(json.dumps(good))
    wrong_key = offline_check(script, receipt, other)
    assert wrong_key.returncode == 1 and "not signed by the pinned key" in wrong_key.stderr

    for forged in forgeries(good):
        receipt.write_text(json.dumps(forged))
        run = offline_check(script, receipt, sealed["pinned"])
        assert run.returncode == 1 and run.stderr.startswith("FAIL: "), (forged, run)
        with pytest.raises(receipts.ReceiptInvalid):
            receipts.check(forged, sealed["pinned"])
    receipt.write_text("{not json")
    assert offline_check(script, receipt, sealed["pinned"]).returncode == 1


def test_the_receipts_checkpoint_is_one_an_auditor_can_verify_the_log_against(
    sealed, reporter_app, env, tmp_path
):
    """docs/receipt.md: the receipt's checkpoint, saved as a file, is a kept checkpoint
    for ``sipadu audit verify``."""
    client = mailbox_client(reporter_app, *sealed["ready"])
    document = json.loads(client.get(RECEIPT_PATH).get_data())
    kept = tmp_path / "from-receipt.json"
    kept.write_text(json.dumps(document["checkpoint"]))
    verified = invoke(env, "audit", "verify", "--checkpoint", str(kept))
    assert verified.exit_code == 0 and verified.stdout.startswith("OK")


def test_the_portal_checks_receipts_against_the_configured_audit_key(sealed, env):
    """With ``SIPADU_AUDIT_PUBLIC_KEY`` set, the reporter portal checks a receipt against
    that key, not the key its stored checkpoint carries: with the instance's own key the
    receipt is offered; with another one (as if a database writer had stored a seal
    signed by a key of their own) the mailbox says the data failed a check and the
    download is refused."""
    from sipadu import create_app
    from sipadu.settings.config import load_config
    from sipadu.web.context import dispose

    other = "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c"
    for key, offered in ((sealed["pinned"], True), (other, False)):
        app = create_app("reporter", load_config({**env, "SIPADU_AUDIT_PUBLIC_KEY": key}))
        app.config["TESTING"] = True
        try:
            client = mailbox_client(app, *sealed["ready"])
            page = client.get("/mailbox").get_data(as_text=True)
            assert ('id="receipt-download"' in page) is offered
            assert ('id="receipt-broken"' in page) is not offered
            assert client.get(RECEIPT_PATH).status_code == (200 if offered else 409)
        finally:
            dispose(app)
