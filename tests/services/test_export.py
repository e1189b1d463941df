"""One report exported (:mod:`sipadu.services.export`), called directly: the export
recorded as exactly one entry before the first byte (``report.export``, or
``report.export_plaintext``), none when refused or rolled back; the ZIP's files and
their signed manifest; and the archive encrypted to an age recipient, opened with a real
identity by pyrage and by the ``age`` program. Real crypto, a real database, rolled
back after each test."""

import hashlib
import io
import json
import os
import subprocess
import threading
import zipfile

import pyrage
import pytest

from sipadu.accountability import audit
from sipadu.accountability.audit import Action
from sipadu.crypto import CryptoError, signing_public_key, verify_signature
from sipadu.persistence.models import Role
from sipadu.services import Reason, cases, grants, key_ring, reports
from sipadu.services.attachments import UploadedFile
from sipadu.services.export import (
    FORMAT,
    MANIFEST_LABEL,
    age_encrypted,
    hash_files,
    manifest_sha256,
    open_for_export,
    report_zip,
)
from sipadu.services.export_recipients import age_recipient, recipient_fingerprint
from sipadu.services.intake import Channel, Intake
from sipadu.services.transcript import Answer, answer_transcript
from sipadu.settings.config import DatePrecision
from tests.helpers import database
from tests.services.helpers import (
    TODAY,
    Recorded,
    ServicePerson,
    Submitted,
    approve_identity,
    code_renewed,
    held,
    person,
    refused,
    route,
    service_submit,
    stored,
)

SEED = os.urandom(32)  # the instance's audit signing key
EVIDENCE = os.urandom(300_000)  # incompressible, several chunks
REPLY_FILE = b"surat balasan " * 100


@pytest.fixture(scope="module")
def evidence(database_url) -> list[UploadedFile]:
    first, second = stored(database_url, EVIDENCE, REPLY_FILE)
    return [
        UploadedFile(first, "../foto (asli)!.jpg", "image/jpeg"),
        UploadedFile(second, "balasan.pdf", "application/pdf"),
    ]


@pytest.fixture(scope="module")
def later_upload(database_url) -> UploadedFile:
    """A file the reporter adds after a first export (stored before the session writes)."""
    (blob,) = stored(database_url, b"bukti baru " * 50)
    return UploadedFile(blob, "kuitansi.jpg", "image/jpeg")


@pytest.fixture
def investigator(session) -> ServicePerson:
    someone = person(session, "pengekspor", Role.INVESTIGATOR, may_grant=True)
    route(session, someone)
    return someone


@pytest.fixture
def case(session, recovery, investigator, evidence) -> Submitted:
    """A report with a file, a reporter's message, a reply with a file and a note."""
    report = service_submit(
        session, recovery.public_key(), identity="Siti, 0812", files=evidence[:1]
    )
    mailbox = key_ring.mailbox_keys(
        session, report.report_id, report.mailbox_id, report.mailbox_private
    )
    reports.add_reporter_message(
        session, mailbox, report.report_id, "Ada tambahan", TODAY, DatePrecision.DAY
    )
    keys = held(session, report, investigator)
    cases.reply(
        session, keys, investigator.id, "Terima kasih", TODAY, DatePrecision.DAY, files=evidence[1:]
    )
    cases.add_note(session, keys, investigator.id, "Periksa loket 3")
    return report


RECIPIENT = str(pyrage.x25519.Identity.generate().to_public())  # typed in, unregistered


def archive(session, report: Submitted, who: ServicePerson, *, encrypted: bool = True) -> bytes:
    """The export as the staff portal makes it: recorded, then streamed."""
    keys = held(session, report, who)
    view = open_for_export(session, keys, who.id, recipient=RECIPIENT if encrypted else None)
    return b"".join(report_zip(view, keys, SEED))


# --- what is recorded ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("encrypted", "action"),
    [(True, Action.REPORT_EXPORT), (False, Action.REPORT_EXPORT_PLAINTEXT)],
)
def test_an_export_records_exactly_its_own_entry(session, case, investigator, encrypted, action):
    log = Recorded(session)

    view = open_for_export(
        session,
        held(session, case, investigator),
        investigator.id,
        recipient=RECIPIENT if encrypted else None,
    )

    assert view.fields["title"] == "Pungutan liar"
    entry = log.only(action)
    assert (entry["actor"], entry["role"], entry["report_id"], entry["detail"]) == (
        str(investigator.id),
        "investigator",
        str(case.report_id),
        {"encrypted": encrypted, "identity_included": False}
        | (
            {"recipient": None, "recipient_fingerprint": recipient_fingerprint(RECIPIENT)}
            if encrypted
            else {}
        ),
    )
    assert log.actions() == [action.value]  # the read is in it: no report.read
    # Nor does an export count as reading the reporter's messages.
    grant = cases.granted(session, case.report_id, investigator.id)
    assert grant.read_mark is None


def test_two_exports_around_a_reporter_s_upload_record_the_same_detail(
    session, later_upload, case, investigator
):
    """Issue 15 review (G2): each export recorded ``{"attachments": N}`` at an exact
    time, the reporter's files counted, so two exports dated a reporter's upload between
    them. An export's entry reflects nothing the reporter made."""
    log = Recorded(session)
    open_for_export(
        session, held(session, case, investigator), investigator.id, recipient=RECIPIENT
    )
    mailbox = key_ring.mailbox_keys(session, case.report_id, case.mailbox_id, case.mailbox_private)
    reports.add_reporter_message(
        session,
        mailbox,
        case.report_id,
        "Satu berkas lagi",
        TODAY,
        DatePrecision.DAY,
        files=[later_upload],
    )
    view = open_for_export(
        session, held(session, case, investigator), investigator.id, recipient=RECIPIENT
    )
    assert len(view.attachments) == 3  # the upload is in the second export...

    first, second = [e for e in log.entries() if e["action"] == Action.REPORT_EXPORT.value]
    assert first["detail"] == second["detail"]  # ...and nowhere in its entry


def test_a_refused_export_records_nothing(session, case, investigator):
    outsider = person(session, "bukan.pemegang", Role.INVESTIGATOR)
    log = Recorded(session)
    with refused(Reason.REPORT_NOT_FOUND):
        open_for_export(session, held(session, case, outsider), outsider.id, recipient=RECIPIENT)
    with refused(Reason.NO_KEY):  # the grant is not enough without the keys
        open_for_export(
            session, held(session, case, outsider), investigator.id, recipient=RECIPIENT
        )
    assert log.actions() == []


def test_a_rolled_back_export_leaves_no_entry(database_url, recovery):
    with database(database_url) as session:
        before = audit.head(session)
        investigator = person(session, "ekspor.batal", Role.INVESTIGATOR)
        route(session, investigator)
        report = service_submit(session, recovery.public_key())
        archive(session, report, investigator)
        session.flush()
        assert audit.head(session)[0] > before[0]
        session.rollback()
    with database(database_url) as session:
        assert audit.head(session) == before


# --- the archive ---------------------------------------------------------------------------


def test_the_zip_holds_the_report_its_thread_notes_files_and_a_signed_manifest(
    session, case, investigator
):
    opened = zipfile.ZipFile(io.BytesIO(archive(session, case, investigator)))
    names = opened.namelist()

    assert names == [
        "report.json",
        "messages.json",
        "notes.json",
        *sorted(n for n in names if n.startswith("attachments/")),
        "manifest.json",
        "manifest.sig",
    ]
    assert opened.testzip() is None
    report = json.loads(opened.read("report.json"))
    assert report == {
        "format": FORMAT,
        "report_id": str(case.report_id),
        "category": "kkn",
        "status": "received",
        "status_reason": None,
        "received_on": TODAY.isoformat(),
        "acknowledged_on": None,
        "closed_on": None,
        "fields": {name: report["fields"][name] for name in reports.CASE_FIELDS},
        "failed_fields": [],  # none failed its integrity check
        "failed_attachments": [],  # nor any file
        "identity": None,  # the investigator was never approved for it
        "unit": None,  # none chosen
        "intake": {"channel": "web", "office": "", "operator": ""},  # sent on the web
        "transcript": None,  # the reporter wrote it: nothing to check
    }
    assert (report["fields"]["title"], report["fields"]["what"]) == ("Pungutan liar", "Di loket")
    messages = json.loads(opened.read("messages.json"))
    assert [(m["position"], m["author"], m["body"]) for m in messages] == [
        (1, "reporter", "Ada tambahan"),
        (2, "staff", "Terima kasih"),
    ]
    notes = json.loads(opened.read("notes.json"))
    assert [(n["author"], n["body"]) for n in notes] == [("pengekspor", "Periksa loket 3")]
    files = {opened.read(n) for n in names if n.startswith("attachments/")}
    assert files == {EVIDENCE, REPLY_FILE}
    # Numbered, and no path an unzip tool could turn into a traversal.
    numbered = sorted(n.removeprefix("attachments/").split("-", 1) for n in names[3:-2])
    assert [number for number, _name in numbered] == ["001", "002"]
    assert {name for _number, name in numbered} == {"foto _asli__.jpg", "balasan.pdf"}
    for info in opened.infolist():
        if info.filename.startswith("attachments/"):
            assert info.compress_type == zipfile.ZIP_STORED

    manifest_bytes = opened.read("manifest.json")
    manifest = json.loads(manifest_bytes)
    assert (manifest["format"], manifest["report_id"]) == (FORMAT, str(case.report_id))
    assert manifest["sha256"] == {
        name: hashlib.sha256(opened.read(name)).hexdigest() for name in names[:-2]
    }
    signature = json.loads(opened.read("manifest.sig"))
    assert signature["label"] == MANIFEST_LABEL
    assert signature["public_key"] == signing_public_key(SEED).hex()
    public = bytes.fromhex(signature["public_key"])
    verify_signature(public, MANIFEST_LABEL, manifest_bytes, bytes.fromhex(signature["signature"]))
    with pytest.raises(CryptoError):
        verify_signature(
            public, MANIFEST_LABEL, manifest_bytes + b" ", bytes.fromhex(signature["signature"])
        )


def test_every_entry_of_an_export_is_dated_1980_and_never_the_clock(session, case, investigator):
    """A ZIP writer's default puts the server's clock (to 2 s) in every entry, and from
    first to last entry how long the download took; an export's moment is its audit
    entry's. Every entry carries the ZIP format's earliest date, nothing else."""
    zipped = zipfile.ZipFile(io.BytesIO(archive(session, case, investigator)))
    assert len(zipped.infolist()) > 4
    assert {info.date_time for info in zipped.infolist()} == {(1980, 1, 1, 0, 0, 0)}
    assert zipped.testzip() is None


def test_an_operators_report_exports_how_it_came_in_and_the_reporters_correction(session, recovery):
    """report.json says how a report came in (the sealed intake field) and what the
    reporter said of the typed text (issue 18); the printed manifest hash stays the
    export's."""
    investigator = person(session, "penyidik.loket", Role.INVESTIGATOR)
    route(session, investigator)
    intake = Intake(Channel.PHONE, "Kecamatan Menteng", "petugas1")
    report = service_submit(session, recovery.public_key(), transcribed=True, intake=intake)
    code_renewed(session, report)  # the reporter took their own code first
    mailbox = key_ring.mailbox_keys(
        session, report.report_id, report.mailbox_id, report.mailbox_private
    )
    answer_transcript(
        session, mailbox, report.report_id, Answer.CORRECT, "Bukan Rp 50.000", TODAY,
        DatePrecision.DAY,
    )  # fmt: skip
    opened = zipfile.ZipFile(io.BytesIO(archive(session, report, investigator)))
    exported = json.loads(opened.read("report.json"))
    assert exported["intake"] == {
        "channel": "phone",
        "office": "Kecamatan Menteng",
        "operator": "petugas1",
    }
    assert exported["transcript"] == {"state": "corrected", "correction_position": 1}
    messages = json.loads(opened.read("messages.json"))
    assert messages[0]["body"].endswith("Bukan Rp 50.000")
    keys = held(session, report, investigator)
    view = open_for_export(session, keys, investigator.id, recipient=RECIPIENT)
    digests: dict = {}
    for _piece in hash_files(view, keys, digests):
        pass
    printed = manifest_sha256(view, digests)
    assert printed == hashlib.sha256(opened.read("manifest.json")).hexdigest()


def test_the_identity_is_exported_only_to_who_may_read_it(session, recovery):
    custodian = person(session, "penjaga.ekspor", Role.CUSTODIAN)
    investigator = person(session, "penyidik.ekspor", Role.INVESTIGATOR)
    route(session, investigator)
    report = service_submit(session, recovery.public_key(), identity="Siti, 0812")
    approve_identity(session, report, investigator, custodian, recovery.public_key())
    opened = zipfile.ZipFile(io.BytesIO(archive(session, report, investigator)))
    assert json.loads(opened.read("report.json"))["identity"] == "Siti, 0812"


@pytest.mark.parametrize(
    ("encrypted", "action"),
    [(True, Action.REPORT_EXPORT), (False, Action.REPORT_EXPORT_PLAINTEXT)],
)
def test_an_export_holding_the_identity_is_an_identity_read(session, recovery, encrypted, action):
    """Issue 15: a plaintext export with the reporter's identity wrote no
    ``identity.read`` and did not say the identity was in it."""
    custodian = person(session, "penjaga.baca", Role.CUSTODIAN)
    investigator = person(session, "penyidik.baca", Role.INVESTIGATOR)
    route(session, investigator)
    report = service_submit(session, recovery.public_key(), identity="Siti, 0812")
    approve_identity(session, report, investigator, custodian, recovery.public_key())
    log = Recorded(session)

    archive(session, report, investigator, encrypted=encrypted)

    assert log.actions() == [action.value, "identity.read"]
    export, read = log.entries()
    assert export["detail"]["identity_included"] is True
    assert (read["actor"], read["role"], read["report_id"], read["detail"]) == (
        str(investigator.id),
        "investigator",
        str(report.report_id),
        {"via": "export", "encrypted": encrypted},
    )
    assert "Siti" not in str(log.entries())


def test_an_export_after_a_revocation_opens_every_epoch(session, case, investigator, recovery):
    colleague = person(session, "rekan.ekspor", Role.INVESTIGATOR)
    grants.grant(session, held(session, case, investigator), investigator.account, colleague.id)
    grants.revoke(
        session, case.report_id, investigator.account, colleague.id, recovery.public_key()
    )
    cases.reply(
        session,
        held(session, case, investigator),
        investigator.id,
        "Epoch baru",
        TODAY,
        DatePrecision.DAY,
    )

    opened = zipfile.ZipFile(io.BytesIO(archive(session, case, investigator)))

    bodies = [m["body"] for m in json.loads(opened.read("messages.json"))]
    assert bodies == ["Ada tambahan", "Terima kasih", "Epoch baru"]
    with refused(Reason.REPORT_NOT_FOUND):
        archive(session, case, colleague)


# --- age ---------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["", "age1", "age1qqqq", "ssh-ed25519 AAAA"])
def test_only_an_age_recipient_is_accepted(text):
    with refused(Reason.NOT_AN_AGE_RECIPIENT, "recipient"):
        age_recipient(text)
    with refused(Reason.PRIVATE_KEY_NOT_RECIPIENT, "recipient"):  # said as such
        age_recipient("AGE-SECRET-KEY-1QQQQ")


def test_the_archive_encrypted_to_age_opens_with_the_identity_only(
    session, case, investigator, tmp_path
):
    identity = pyrage.x25519.Identity.generate()
    plain = archive(session, case, investigator)
    keys = held(session, case, investigator)
    view = open_for_export(session, keys, investigator.id, recipient=RECIPIENT)

    sealed = b"".join(
        age_encrypted(report_zip(view, keys, SEED), age_recipient(f" {identity.to_public()}\n"))
    )

    assert sealed.startswith(b"age-encryption.org/v1") and b"Pungutan" not in sealed
    opened = zipfile.ZipFile(io.BytesIO(pyrage.decrypt(sealed, [identity])))
    assert opened.namelist() == zipfile.ZipFile(io.BytesIO(plain)).namelist()
    assert EVIDENCE in {opened.read(n) for n in opened.namelist()}
    with pytest.raises(pyrage.DecryptError):
        pyrage.decrypt(sealed, [pyrage.x25519.Identity.generate()])


def test_the_age_program_opens_an_export_to_a_key_it_made(session, case, investigator, tmp_path):
    key_file = tmp_path / "key.txt"
    made = subprocess.run(["age-keygen", "-o", str(key_file)], capture_output=True, check=False)
    if made.returncode == 127:  # pragma: no cover
        pytest.fail("the age tool is not installed (make programs)")
    recipient = subprocess.run(
        ["age-keygen", "-y", str(key_file)], capture_output=True, check=True, text=True
    ).stdout
    keys = held(session, case, investigator)
    view = open_for_export(session, keys, investigator.id, recipient=RECIPIENT)
    sealed_file = tmp_path / "export.zip.age"
    sealed_file.write_bytes(
        b"".join(age_encrypted(report_zip(view, keys, SEED), age_recipient(recipient)))
    )

    opened = subprocess.run(
        ["age", "-d", "-i", str(key_file), str(sealed_file)], capture_output=True, check=True
    )

    zipped = zipfile.ZipFile(io.BytesIO(opened.stdout))
    assert json.loads(zipped.read("notes.json"))[0]["body"] == "Periksa loket 3"
    assert EVIDENCE in {zipped.read(n) for n in zipped.namelist()}


def test_an_error_while_encrypting_reaches_the_reader():
    """A failure in the archive (a file unreadable mid-stream) ends the download with an
    error, never a truncated file that looks whole. pyrage wraps it in its own type."""

    def failing():
        yield b"awal " * 1000
        raise OSError("the database went away")

    recipient = age_recipient(str(pyrage.x25519.Identity.generate().to_public()))
    with pytest.raises(pyrage.EncryptError, match="OSError: the database went away"):
        b"".join(age_encrypted(failing(), recipient))


def test_an_abandoned_download_stops_the_encrypting_thread():
    produced = []

    def endless():
        while True:
            produced.append(1)
            yield os.urandom(64 * 1024)

    recipient = age_recipient(str(pyrage.x25519.Identity.generate().to_public()))
    stream = age_encrypted(endless(), recipient)
    assert next(stream).startswith(b"age-encryption.org/v1")

    stream.close()

    assert not [t for t in threading.enumerate() if t.name == "sipadu-export-age"]
    stopped_at = len(produced)
    assert stopped_at < 1000  # bounded: the queue holds at most 16 chunks


def test_an_export_needs_an_approved_request_not_a_custodian_wrap(session, recovery):
    """An investigator who is also a custodian holds the identity key as a custodian:
    that is no approval, so their export leaves the identity out (issue 15)."""
    both = person(session, "dua.peran.ekspor", Role.INVESTIGATOR, Role.CUSTODIAN)
    route(session, both)
    report = service_submit(session, recovery.public_key(), identity="Siti, 0812")
    opened = zipfile.ZipFile(io.BytesIO(archive(session, report, both)))
    assert json.loads(opened.read("report.json"))["identity"] is None
    assert b"Siti" not in b"".join(opened.read(name) for name in opened.namelist())
