"""Review of the proof-of-report receipt (issue 20 item 2; docs/receipt.md): faults found
by a reviewer, each as a test that fails until it is fixed. Real database, real keys,
the documented offline recipe run as a separate Python; nothing mocked."""

import json
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from sipadu.crypto import (
    PrivateKey,
    Purpose,
    SecretRecord,
    new_keypair,
    open_private_key,
    signing_public_key,
    verify_secret,
)
from sipadu.persistence.models import Mailbox, ReceiptCommitment, ReceiptSeal, ReportKey, Role
from sipadu.services import key_ring, receipts
from sipadu.services.passphrases import mailbox_secret
from sipadu.services.receipts import ReceiptInvalid, ReceiptState
from sipadu.services.reports import MAILBOX_KEY_PURPOSE, ReportForm, mailbox_owner, submit_report
from sipadu.settings.config import DatePrecision
from tests.helpers import database, dated_report, invoke, mailbox_client
from tests.services.helpers import (
    PASSPHRASE,
    Submitted,
    person,
    route,
    submission_settings,
)
from tests.test_receipt_download import recipe

SEED = bytes(range(32))
PINNED = signing_public_key(SEED).hex()
DAY = DatePrecision.DAY


@pytest.fixture
def session(database_url) -> Session:
    with database(database_url) as session:
        yield session
        session.rollback()


@pytest.fixture(scope="module")
def recovery() -> PrivateKey:
    return new_keypair()


def keys_of(session: Session, report: Submitted) -> key_ring.HeldKeys:
    return key_ring.mailbox_keys(
        session, report.report_id, report.mailbox_id, report.mailbox_private
    )


def submitted_on(session: Session, recovery: PrivateKey, day: date) -> Submitted:
    """A report stored through the service as a submission on ``day`` stores it, and the
    mailbox key its code and passphrase open (as tests.services.helpers.service_submit)."""
    form = ReportForm(category="kkn", title="Pungutan liar", what="Di loket")
    made = submit_report(session, form, PASSPHRASE, submission_settings(recovery.public_key()), day)
    mailbox = session.scalar(select(Mailbox).where(Mailbox.report_id == made.report_id))
    kek = verify_secret(
        mailbox_secret(made.code, PASSPHRASE), SecretRecord.from_bytes(mailbox.secret_record)
    )
    private = open_private_key(
        mailbox.sealed_private_key,
        kek,
        owner=mailbox_owner(mailbox.id),
        purpose=MAILBOX_KEY_PURPOSE,
    )
    return Submitted(made.report_id, mailbox.id, private, made.code)


def run_recipe(tmp_path, document: str) -> subprocess.CompletedProcess:
    script = tmp_path / "verify_receipt.py"
    script.write_text(recipe())
    receipt = tmp_path / "receipt.json"
    receipt.write_text(document)
    return subprocess.run(
        [sys.executable, "-I", str(script), str(receipt), PINNED],
        capture_output=True,
        text=True,
        check=False,
    )


def recent() -> date:
    """A day that is over (grace hour included) and was only two days ago: its receipt,
    sealed now, is as timely as a live instance's."""
    return datetime.now(UTC).date() - timedelta(days=2)


@pytest.fixture
def good(session, recovery) -> dict:
    """A real receipt of a recently sealed day (three reports)."""
    route(session, person(session, "penyidik.tinjau", Role.INVESTIGATOR))
    reports = [submitted_on(session, recovery, recent()) for _ in range(3)]
    assert receipts.seal_finished_days(session, SEED, datetime.now(UTC), DAY) is not None
    document = receipts.receipt_json(session, keys_of(session, reports[0]))
    assert document is not None
    return json.loads(document)


# --- medium: a receipt for a day long gone, sealed today, checks ------------------------


def test_a_receipt_sealed_a_year_after_its_day_does_not_check(session, recovery, tmp_path):
    """docs/receipt.md: "Nobody, the inspectorate included, can make one up for a day
    afterwards". But the sealer seals any unsealed commitment of any finished day, however
    old, and neither ``check`` nor the recipe compares the sealing time with the day: a
    commitment stored today with last year's day (the reporter portal's role may INSERT
    (id, day, commitment) with any day; so may any database writer) is sealed by the next
    ``sipadu audit checkpoint`` and its receipt prints "OK <last year's day> report ...".
    Here the report itself is stored with last year's day.

    Corrected with the fix (the test as first written required the sealer to seal it):
    the sealer now never seals a period past its window (receipts.SEAL_WINDOW) and the
    mailbox says there will be no receipt; a sealer that ignores the window (a modified
    server, played here through the sealing and building steps the service keeps
    private) makes a file that neither ``check`` nor the recipe accepts."""
    route(session, person(session, "penyidik.mundur", Role.INVESTIGATOR))
    now = datetime.now(UTC)
    long_ago = now.date() - timedelta(days=400)
    backdated = submitted_on(session, recovery, long_ago)
    assert receipts.seal_finished_days(session, SEED, now, DAY) is None
    keys = keys_of(session, backdated)
    assert receipts.receipt_status(session, keys, DAY).state is ReceiptState.LATE
    assert receipts.receipt_json(session, keys) is None

    receipts._seal(session, SEED, [long_ago], DAY)  # what the fix refuses to do
    nonce = keys.key(Purpose.RECEIPT, 0)
    commitment = receipts.commitment_of(backdated.report_id, nonce)
    batch_id = session.scalar(
        select(ReceiptCommitment.batch_id).where(ReceiptCommitment.commitment == commitment)
    )
    document = receipts._document(session, backdated.report_id, nonce, batch_id)
    assert document is not None
    assert receipts.receipt_json(session, keys) is None  # the server does not hand it out
    offline = run_recipe(tmp_path, json.dumps(document))
    assert offline.returncode == 1, offline.stdout  # was "OK <400 days ago> report ..."
    assert offline.stderr == "FAIL: signed more than 7 days after its period ended\n"
    with pytest.raises(ReceiptInvalid, match="more than 7 days after its period"):
        receipts.check(document, PINNED)


# --- low: a removed nonce is told as "made before receipts, nothing is wrong" -----------


def test_a_deleted_receipt_nonce_is_not_said_to_predate_receipts(session, recovery):
    """Deleting one row (the report's ``receipt`` wrap) makes the mailbox say the report
    "was made before this service offered them. Nothing is wrong with your report", for
    a report whose own day was sealed with receipts. It should read as broken."""
    route(session, person(session, "penyidik.hapus", Role.INVESTIGATOR))
    # Corrected with the fix: dated recently (was service_submit's fixed day of 2025,
    # sealed now: a receipt signed long after its day no longer checks).
    first, second = (submitted_on(session, recovery, recent()) for _ in range(2))
    assert receipts.seal_finished_days(session, SEED, datetime.now(UTC), DAY) is not None
    assert receipts.receipt_status(session, keys_of(session, first)).state is ReceiptState.READY
    session.execute(
        delete(ReportKey).where(
            ReportKey.report_id == first.report_id, ReportKey.purpose == "receipt"
        )
    )
    status = receipts.receipt_status(session, keys_of(session, first))
    assert status.state is ReceiptState.BROKEN, status
    assert receipts.receipt_status(session, keys_of(session, second)).state is ReceiptState.READY


# --- low: check() and the recipe accept files the server never makes --------------------


def test_check_refuses_a_member_the_format_does_not_have(good):
    """An added member (here a made-up "title") is carried along by a receipt that
    checks: a reader of the file takes it as part of what was proven."""
    forged = {**good, "title": "Wali kota menerima suap Rp 5 miliar"}
    with pytest.raises(ReceiptInvalid):
        receipts.check(forged, PINNED)


def test_the_recipe_refuses_a_file_with_duplicate_members(good, tmp_path):
    """A file with two "day" and two "opening" members: the recipe's json.load keeps the
    last ones and prints OK, while a person reading the file sees the first ones."""
    text = json.dumps(good, indent=1)
    doubled = text.replace(
        '{\n "format"',
        '{\n "day": "2024-12-01",\n "opening": {"report_id": '
        '"00000000-0000-4000-8000-000000000000", "nonce": "00"},\n "format"',
        1,
    )
    assert doubled != text
    run = run_recipe(tmp_path, doubled)
    assert run.returncode == 1, run.stdout


def _changed(good: dict, name: str) -> dict:
    copy = json.loads(json.dumps(good))
    if name == "leaf_index as text":
        copy["leaf_index"] = str(copy["leaf_index"])
    elif name == "leaf_index as a fraction":
        copy["leaf_index"] = copy["leaf_index"] + 0.5
    elif name == "tree_size as a float":
        copy["tree_size"] = float(copy["tree_size"])
    elif name == "checkpoint seq as text":
        copy["checkpoint"]["seq"] = str(copy["checkpoint"]["seq"])
    elif name == "commitment in spaced upper-case hex":
        hexed = copy["commitment"].upper()
        copy["commitment"] = " ".join(hexed[i : i + 2] for i in range(0, len(hexed), 2))
    return copy


@pytest.mark.parametrize(
    "name",
    [
        "leaf_index as text",
        "leaf_index as a fraction",
        "tree_size as a float",
        "checkpoint seq as text",
        "commitment in spaced upper-case hex",
    ],
)
def test_check_refuses_non_canonical_numbers_and_hex(good, name):
    """docs/receipt.md: "The same checks run in SIPADU as receipts.check". They do not:
    ``check`` passes these through int()/bytes.fromhex() and accepts them (the recipe
    refuses the first four with "malformed")."""
    with pytest.raises(ReceiptInvalid):
        receipts.check(_changed(good, name), PINNED)


# --- low: the file's own words ----------------------------------------------------------


def test_the_receipt_note_says_its_day_is_a_utc_date_and_not_today(good):
    """The Indonesian note says the report was received "pada hari ini" (today) and
    neither note says that "day" is a UTC date: a report sent at 06:00 WIB on the 2nd
    gets a receipt dated the 1st."""
    note = good["note"]
    assert "pada hari ini" not in note["id"]
    assert "UTC" in note["id"] and "UTC" in note["en"]


# --- low: data altered after sealing: the mailbox offers a download that is refused ------


def test_a_sealed_receipt_altered_in_the_database_is_said_broken_on_the_mailbox(
    reporter_app, env, people
):
    """After the day's seal is altered in the database, the mailbox still shows the
    download (receipt_status says READY without checking); the download answers 409
    "no proof of report to download (yet). Your mailbox says when it will be ready",
    and the mailbox says it is ready: a loop. The mailbox should say the data failed a
    check (its "receipt-broken" words), as it does for a deleted commitment."""
    # A day of its own (corrected with the fix: the fixture ``good`` seals recent(), and a
    # day is now sealed once, so a committed seal of that day here would leave it none).
    day = recent() - timedelta(days=1)
    code, passphrase = dated_report(env, day, "Laporan yang segelnya diubah")
    sealing = invoke(env, "audit", "checkpoint")
    assert sealing.exit_code == 0 and "receipts: sealed" in sealing.stderr
    client = mailbox_client(reporter_app, code, passphrase)
    assert client.get("/mailbox/receipt").status_code == 200
    with database(env["SIPADU_DATABASE_URL"]) as session:
        for seal in session.scalars(select(ReceiptSeal)).all():
            entries = json.loads(seal.entries)
            for entry in entries:
                entry["detail"]["size"] += 1
            session.execute(
                update(ReceiptSeal)
                .where(ReceiptSeal.id == seal.id)
                .values(entries=json.dumps(entries))
            )
        session.commit()
    assert client.get("/mailbox/receipt").status_code == 409
    page = client.get("/mailbox").get_data(as_text=True)
    assert 'id="receipt-download"' not in page
    assert 'id="receipt-broken"' in page


def test_the_review_fixture_receipt_is_genuine(good, tmp_path):
    """Control: the receipt the tests above alter checks, in SIPADU and offline, so each
    failure above is about the change made, not the fixture."""
    assert receipts.check(good, PINNED).report_id == good["opening"]["report_id"]
    assert run_recipe(tmp_path, json.dumps(good)).returncode == 0
    assert good["day"] == recent().isoformat()
