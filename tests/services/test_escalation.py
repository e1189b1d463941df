"""Escalation by the reporter (:mod:`sipadu.services.escalation`, issue 20 item 3),
called directly: offered only once a deadline passed unmet, only the agencies a second
admin offered to reporters; the bundle holds the report, the reporter's OWN messages and
files and the missed deadline (never a staff message or file, nor a note; the identity
only when ticked), opens with the real ``age`` tool, is streamed in constant memory and
touches no temporary file; the first escalation is recorded coarsened, counted once,
never in the audit log. Real keys, a real database, rolled back after each test."""

import hashlib
import io
import json
import os
import subprocess
import tempfile
import tracemalloc
import uuid
import zipfile
from datetime import UTC, date, datetime, timedelta

import pyrage
import pytest
from sqlalchemy import select

from sipadu.accountability.audit import ReporterMetric
from sipadu.crypto import signing_public_key
from sipadu.persistence.models import ExportRecipient, Report, ReporterDailyCount, Role
from sipadu.services import Reason, cases, key_ring, proposals, reports
from sipadu.services.attachments import UploadedFile
from sipadu.services.escalation import (
    FORMAT,
    Deadline,
    Missed,
    bundle_zip,
    escalate,
    escalation_offer,
)
from sipadu.services.export import age_encrypted
from sipadu.services.export_recipients import (
    age_recipient,
    checked_channel,
    recipient_fingerprint,
)
from sipadu.settings.config import DatePrecision
from tests.services.helpers import (
    TODAY,
    Recorded,
    ServicePerson,
    Submitted,
    held,
    person,
    refused,
    route,
    service_submit,
    stored,
)

NOW = datetime.now(UTC)
LATE = TODAY + timedelta(days=30)  # the acknowledgement (7 days) is overdue by then
IDENTITY = "Identitas Rahasia Pelapor 0812"
EVIDENCE = os.urandom(200_000)
REPORTER_FILE = b"kuitansi dari pelapor " * 40
STAFF_FILE = b"surat dari penyelidik, bukan untuk instansi lain " * 40
STAFF_REPLY = "Balasan penyelidik yang tidak boleh keluar"
NOTE = "Catatan internal yang tidak boleh keluar"
BIG_MIB = 24
INSTITUTION = "Inspektorat Uji"
# The instance's audit signing key, as the staff portal signs an offer's approval with
# it, and its public half, as the reporter portal checks the offer with it.
SEED = os.urandom(32)
AUDIT_KEY = signing_public_key(SEED)


@pytest.fixture(scope="module")
def files(database_url) -> list[UploadedFile]:
    blobs = stored(database_url, EVIDENCE, REPORTER_FILE, STAFF_FILE)
    names = ("bukti.jpg", "kuitansi.pdf", "surat.pdf")
    return [
        UploadedFile(b, n, "application/octet-stream") for b, n in zip(blobs, names, strict=True)
    ]


@pytest.fixture(scope="module")
def big_file(database_url) -> UploadedFile:
    (blob,) = stored(database_url, os.urandom(1024 * 1024) * BIG_MIB)
    return UploadedFile(blob, "rekaman.mp4", "video/mp4")


@pytest.fixture
def admins(session) -> tuple[ServicePerson, ServicePerson]:
    return person(session, "admin.satu", Role.ADMIN), person(session, "admin.dua", Role.ADMIN)


@pytest.fixture
def investigator(session) -> ServicePerson:
    someone = person(session, "penyelidik", Role.INVESTIGATOR)
    route(session, someone)
    return someone


def agency(session, admins, name: str, channel: str | None = "https://kws.kpk.go.id"):
    """A registered recipient (offered to reporters with ``channel``, unless None) and
    its age identity."""
    identity = pyrage.x25519.Identity.generate()
    proposer, approver = admins
    proposal = proposals.propose_recipient(
        session,
        name,
        str(identity.to_public()),
        proposer.actor(),
        offered_to_reporters=channel is not None,
        reporter_channel=channel,
    )
    proposals.approve(session, proposal.id, approver.actor(), NOW, signing_seed=SEED)
    return session.get(ExportRecipient, proposal.recipient_id), identity


@pytest.fixture
def kpk(session, admins):
    return agency(session, admins, "KPK")


@pytest.fixture
def case(session, recovery, investigator, files) -> Submitted:
    """A report with evidence and an identity, a reporter's message with a file, a staff
    reply with a file and an internal note."""
    report = service_submit(session, recovery.public_key(), identity=IDENTITY, files=files[:1])
    box = mailbox(session, report)
    reports.add_reporter_message(
        session,
        box,
        report.report_id,
        "Tambahan dari pelapor",
        TODAY,
        DatePrecision.DAY,
        files=files[1:2],
    )
    keys = held(session, report, investigator)
    cases.reply(
        session, keys, investigator.id, STAFF_REPLY, TODAY, DatePrecision.DAY, files=files[2:]
    )
    cases.add_note(session, keys, investigator.id, NOTE)
    return report


def mailbox(session, report: Submitted) -> key_ring.HeldKeys:
    return key_ring.mailbox_keys(
        session, report.report_id, report.mailbox_id, report.mailbox_private
    )


def counted(session) -> int:
    return (
        session.scalar(
            select(ReporterDailyCount.count).where(
                ReporterDailyCount.metric == ReporterMetric.ESCALATION.value
            )
        )
        or 0
    )


def forward(
    session,
    report: Submitted,
    agency_id,
    *,
    identity=False,
    today=LATE,
    precision=DatePrecision.DAY,
    audit_key: bytes | None = AUDIT_KEY,
):
    return escalate(
        session,
        mailbox(session, report),
        report.report_id,
        str(agency_id),
        include_identity=identity,
        today=today,
        precision=precision,
        audit_key=audit_key,
    )


def opened(session, report: Submitted, made, identity, receipt=None) -> zipfile.ZipFile:
    """The bundle as the reporter downloads it, opened with the agency's identity."""
    sealed = b"".join(
        age_encrypted(
            bundle_zip(made, mailbox(session, report), receipt, INSTITUTION),
            age_recipient(made.agency.recipient),
        )
    )
    return zipfile.ZipFile(io.BytesIO(pyrage.decrypt(sealed, [identity])))


# --- when it is offered -------------------------------------------------------------------


def test_nothing_is_offered_or_made_while_the_deadlines_hold(session, case, kpk):
    log = Recorded(session)
    offer = escalation_offer(session, case.report_id, TODAY, AUDIT_KEY)
    assert not offer.open and offer.missed == [] and offer.agencies == []
    with refused(Reason.ESCALATION_NOT_DUE):
        forward(session, case, kpk[0].id, today=TODAY + timedelta(days=7))  # due that day
    assert session.get(Report, case.report_id).escalated_on is None
    assert counted(session) == 0 and log.actions() == []


def test_an_unacknowledged_report_is_offered_the_agencies_offered_to_reporters(
    session, admins, case, kpk
):
    agency(session, admins, "Arsip Inspektorat", channel=None)  # an export recipient only
    proposer = admins[0]
    waiting = proposals.propose_recipient(  # not approved: not offered
        session,
        "Ombudsman RI",
        str(pyrage.x25519.Identity.generate().to_public()),
        proposer.actor(),
        offered_to_reporters=True,
        reporter_channel="https://ombudsman.go.id",
    )
    assert waiting is not None
    offer = escalation_offer(session, case.report_id, LATE, AUDIT_KEY)
    report = session.get(Report, case.report_id)
    assert offer.open
    assert offer.missed == [Missed(Deadline.ACKNOWLEDGEMENT, report.ack_due_on, None)]
    assert [(a.name, a.channel, a.file_name) for a in offer.agencies] == [
        ("KPK", "https://kws.kpk.go.id", "KPK.age")
    ]
    assert offer.agencies[0].fingerprint == recipient_fingerprint(kpk[0].recipient)


def test_a_deadline_met_late_stays_missed_and_one_met_in_time_is_not(session, case, kpk):
    report = session.get(Report, case.report_id)
    report.acknowledged_on = report.ack_due_on + timedelta(days=2)  # late
    offer = escalation_offer(session, case.report_id, LATE, AUDIT_KEY)
    assert offer.missed == [
        Missed(Deadline.ACKNOWLEDGEMENT, report.ack_due_on, report.acknowledged_on)
    ]
    report.acknowledged_on = report.ack_due_on  # on its day: in time
    assert escalation_offer(session, case.report_id, LATE, AUDIT_KEY).missed == []
    # The feedback: the staff reply (TODAY) was in time; without it, past its date...
    after_feedback = report.feedback_due_on + timedelta(days=1)
    assert escalation_offer(session, case.report_id, after_feedback, AUDIT_KEY).missed == []
    report.feedback_due_on = TODAY - timedelta(days=1)  # ...the reply came a day late
    assert escalation_offer(session, case.report_id, LATE, AUDIT_KEY).missed == [
        Missed(Deadline.FEEDBACK, report.feedback_due_on, TODAY)
    ]


# --- what the bundle holds ----------------------------------------------------------------


def test_the_bundle_holds_the_reporters_own_part_and_nothing_of_the_staff(session, case, kpk):
    row, identity = kpk
    made = forward(session, case, row.id)
    zipped = opened(session, case, made, identity)
    names = zipped.namelist()
    assert names[:3] == ["README.txt", "report.json", "messages.json"]
    assert names[-1] == "manifest.json" and "receipt.json" not in names
    everything = b"".join(zipped.read(n) for n in names)
    for secret in (STAFF_REPLY.encode(), NOTE.encode(), STAFF_FILE, IDENTITY.encode()):
        assert secret not in everything
    files = {n: zipped.read(n) for n in names if n.startswith("attachments/")}
    assert sorted(files.values()) == sorted([EVIDENCE, REPORTER_FILE])
    report = json.loads(zipped.read("report.json"))
    assert report["format"] == FORMAT and report["institution"] == INSTITUTION
    assert report["report_id"] == str(case.report_id) and report["identity"] is None
    assert report["fields"] == {"title": "Pungutan liar", "what": "Di loket"}
    assert report["missed_deadlines"] == [
        {"deadline": "acknowledgement", "due_on": str(TODAY + timedelta(days=7)), "met_on": None}
    ]
    assert report["made_on"] == str(LATE) and report["agency"] == "KPK"
    assert zipped.read(report["evidence"][0]) == EVIDENCE
    (message,) = json.loads(zipped.read("messages.json"))
    assert message["body"] == "Tambahan dari pelapor" and message["sent_on"] == str(TODAY)
    assert [zipped.read(f) for f in message["files"]] == [REPORTER_FILE]
    manifest = json.loads(zipped.read("manifest.json"))
    assert manifest["agency"] == {
        "name": "KPK",
        "fingerprint": recipient_fingerprint(row.recipient),
    }
    assert manifest["identity_included"] is False and manifest["receipt_included"] is False
    assert manifest["sha256"] == {
        n: hashlib.sha256(zipped.read(n)).hexdigest() for n in names if n != "manifest.json"
    }


def test_the_identity_is_in_the_bundle_only_when_ticked(session, case, kpk):
    row, identity = kpk
    zipped = opened(session, case, forward(session, case, row.id, identity=True), identity)
    assert json.loads(zipped.read("report.json"))["identity"] == IDENTITY
    assert json.loads(zipped.read("manifest.json"))["identity_included"] is True


def test_the_receipt_goes_in_when_there_is_one(session, case, kpk):
    row, identity = kpk
    receipt = b'{"format": "a receipt"}'
    zipped = opened(session, case, forward(session, case, row.id), identity, receipt=receipt)
    assert zipped.read("receipt.json") == receipt
    manifest = json.loads(zipped.read("manifest.json"))
    assert manifest["receipt_included"] is True and "receipt.json" in manifest["sha256"]


def test_the_age_program_opens_the_bundle_with_the_agencys_key(session, admins, case, tmp_path):
    key_file = tmp_path / "kpk.txt"
    made_key = subprocess.run(["age-keygen", "-o", str(key_file)], capture_output=True, check=False)
    if made_key.returncode == 127:  # pragma: no cover
        pytest.fail("the age tool is not installed (make programs)")
    public = subprocess.run(
        ["age-keygen", "-y", str(key_file)], capture_output=True, check=True, text=True
    ).stdout.strip()
    proposer, approver = admins
    proposal = proposals.propose_recipient(
        session,
        "KPK",
        public,
        proposer.actor(),
        offered_to_reporters=True,
        reporter_channel="https://kws.kpk.go.id",
    )
    proposals.approve(session, proposal.id, approver.actor(), NOW, signing_seed=SEED)
    made = forward(session, case, proposal.recipient_id)
    sealed = tmp_path / made.agency.file_name
    sealed.write_bytes(
        b"".join(
            age_encrypted(
                bundle_zip(made, mailbox(session, case), None, INSTITUTION),
                age_recipient(made.agency.recipient),
            )
        )
    )
    out = subprocess.run(
        ["age", "-d", "-i", str(key_file), str(sealed)], capture_output=True, check=True
    )
    zipped = zipfile.ZipFile(io.BytesIO(out.stdout))
    assert zipped.testzip() is None
    assert EVIDENCE in {zipped.read(n) for n in zipped.namelist()}
    other = tmp_path / "other.txt"
    subprocess.run(["age-keygen", "-o", str(other)], capture_output=True, check=True)
    wrong = subprocess.run(["age", "-d", "-i", str(other), str(sealed)], capture_output=True)
    assert wrong.returncode != 0  # only the chosen agency opens it


def test_the_bundle_streams_in_constant_memory_and_writes_no_file(
    session, recovery, investigator, big_file, kpk, tmp_path, monkeypatch
):
    """A 24 MiB file goes through the ZIP and age with less than 8 MiB allocated at
    once, and nothing appears in the temporary folder (G1: a tmp/ file never holds
    plaintext)."""
    row, _identity = kpk
    report = service_submit(session, recovery.public_key(), files=[big_file])
    made = forward(session, report, row.id)
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setenv("TMPDIR", str(scratch))
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    total = 0
    tracemalloc.start()
    try:
        for piece in age_encrypted(
            bundle_zip(made, mailbox(session, report), None, INSTITUTION),
            age_recipient(row.recipient),
        ):
            total += len(piece)
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert total > BIG_MIB * 1024 * 1024  # the whole file went through
    assert peak < 8 * 1024 * 1024, peak
    assert list(scratch.iterdir()) == []


# --- what is recorded ---------------------------------------------------------------------


def test_the_first_escalation_is_recorded_coarsened_counted_once_and_never_audited(
    session, case, kpk, admins
):
    log = Recorded(session)
    thursday = date(2025, 4, 17)
    forward(session, case, kpk[0].id, today=thursday, precision=DatePrecision.WEEK)
    assert session.get(Report, case.report_id).escalated_on == date(2025, 4, 14)  # Monday
    assert counted(session) == 1
    ombudsman, _identity = agency(session, admins, "Ombudsman RI", "https://ombudsman.go.id")
    log = Recorded(session)
    forward(
        session,
        case,
        ombudsman.id,
        today=thursday + timedelta(days=7),
        precision=DatePrecision.WEEK,
    )
    assert session.get(Report, case.report_id).escalated_on == date(2025, 4, 14)  # the first
    assert counted(session) == 1
    assert log.actions() == []  # G2: no audit entry, ever


@pytest.mark.parametrize("which", ["not-a-uuid", "random", "export-only", "removed", "altered"])
def test_a_tampered_removed_or_altered_agency_is_refused_and_nothing_is_kept(
    session, admins, case, kpk, which
):
    row, _identity = kpk
    agency_id: object = row.id
    if which == "not-a-uuid":
        agency_id = "'; DROP TABLE report; --"
    elif which == "random":
        agency_id = uuid.uuid4()
    elif which == "export-only":
        agency_id = agency(session, admins, "Arsip", channel=None)[0].id
    elif which == "removed":
        removal = proposals.propose_recipient_removal(session, row.id, admins[0].actor())
        proposals.approve(session, removal.id, admins[1].actor(), NOW, signing_seed=SEED)
    else:  # changed in the database: an address no admin approved
        row.reporter_channel = "javascript:alert(1)"
    assert escalation_offer(session, case.report_id, LATE, AUDIT_KEY).agencies == [] or which in (
        "not-a-uuid",
        "random",
        "export-only",
    )
    with refused(Reason.AGENCY_NOT_OFFERED, "agency"):
        forward(session, case, agency_id)
    assert session.get(Report, case.report_id).escalated_on is None and counted(session) == 0


# --- what two admins approved, signed (G3) ------------------------------------------------


@pytest.mark.parametrize("change", ["name", "signature of another", "no signature"])
def test_an_offer_that_is_not_what_two_admins_approved_is_not_offered(
    session, admins, case, kpk, change
):
    """The approval signs the offer (id, name, key, address) with the instance's audit
    key: a database writer who renames an agency, moves another offered row's signature
    onto it, or clears it, gets nothing offered (the key and the address are in
    tests/test_review_escalation.py)."""
    row, _identity = kpk
    other, _ = agency(session, admins, "Ombudsman RI", "https://ombudsman.go.id")
    if change == "name":
        row.name = "KPK RI"
    elif change == "signature of another":
        row.offer_signature = other.offer_signature
    else:
        row.offer_signature = None
    offered = escalation_offer(session, case.report_id, LATE, AUDIT_KEY).agencies
    assert [a.name for a in offered] == ["Ombudsman RI"]
    with refused(Reason.AGENCY_NOT_OFFERED, "agency"):
        forward(session, case, row.id)
    assert session.get(Report, case.report_id).escalated_on is None and counted(session) == 0


def test_an_offer_is_checked_with_the_key_the_reporter_portal_knows(session, case, kpk):
    """Nothing is offered where the portal knows no audit key, nor under another
    instance's key (the signature is the instance's own, not one a row carries)."""
    row, _identity = kpk
    assert len(row.offer_signature) == 64
    elsewhere = signing_public_key(os.urandom(32))
    for key in (None, elsewhere):
        assert escalation_offer(session, case.report_id, LATE, key).agencies == []
        with refused(Reason.AGENCY_NOT_OFFERED, "agency"):
            forward(session, case, row.id, audit_key=key)
    assert [a.name for a in escalation_offer(session, case.report_id, LATE, AUDIT_KEY).agencies]


def test_an_offer_is_approved_only_where_it_can_be_signed(session, admins):
    """A staff host without the audit signing key refuses the approval of an offer, in a
    typed reason, and applies nothing; a withdrawal needs no key and clears the
    signature; a removal clears it too."""
    proposer, approver = admins
    row, _identity = agency(session, admins, "BPKP", channel=None)
    proposal = proposals.propose_recipient_offer(
        session, row.id, True, "https://lapor.bpkp.go.id", proposer.actor()
    )
    log = Recorded(session)
    with refused(Reason.OFFER_NOT_SIGNABLE):
        proposals.approve(session, proposal.id, approver.actor(), NOW)
    assert log.actions() == []  # refused before anything was recorded or applied
    assert not row.offered_to_reporters and row.offer_signature is None
    proposals.approve(session, proposal.id, approver.actor(), NOW, signing_seed=SEED)
    assert row.offered_to_reporters and len(row.offer_signature) == 64
    stop = proposals.propose_recipient_offer(session, row.id, False, "", proposer.actor())
    proposals.approve(session, stop.id, approver.actor(), NOW)  # no key needed to stop
    assert not row.offered_to_reporters and row.offer_signature is None
    again, _identity = agency(session, admins, "Polri", channel="https://polri.go.id")
    removal = proposals.propose_recipient_removal(session, again.id, proposer.actor())
    proposals.approve(session, removal.id, approver.actor(), NOW)
    assert again.offer_signature is None


def test_an_offer_approved_before_offers_were_signed_is_proposed_again_and_signed(
    session, admins, case, kpk
):
    """The path for an offer that does not check (approved before this change, or
    changed in the database): the same offer can be proposed again (it is not
    "unchanged": reporters do not see it) and its approval signs it."""
    row, _identity = kpk
    proposer, approver = admins
    row.offer_signature = None  # as a row offered before offers were signed
    assert escalation_offer(session, case.report_id, LATE, AUDIT_KEY).agencies == []
    again = proposals.propose_recipient_offer(
        session, row.id, True, row.reporter_channel, proposer.actor(), audit_key=AUDIT_KEY
    )
    proposals.approve(session, again.id, approver.actor(), NOW, signing_seed=SEED)
    assert [a.name for a in escalation_offer(session, case.report_id, LATE, AUDIT_KEY).agencies]
    with refused(Reason.RECIPIENT_OFFER_UNCHANGED):  # now it checks: nothing to change
        proposals.propose_recipient_offer(
            session, row.id, True, row.reporter_channel, proposer.actor(), audit_key=AUDIT_KEY
        )


# --- offered to reporters: two admins -----------------------------------------------------


def test_offering_to_reporters_takes_a_second_admin_and_is_recorded(session, admins):
    row, _identity = agency(session, admins, "BPKP", channel=None)
    proposer, approver = admins
    log = Recorded(session)
    proposal = proposals.propose_recipient_offer(
        session, row.id, True, " HTTPS://Lapor.BPKP.go.id/unggah ", proposer.actor()
    )
    assert not row.offered_to_reporters and row.reporter_channel is None  # not yet
    created = log.only(proposals.Action.PROPOSAL_CREATE)["detail"]
    assert created["offered_to_reporters"] is True
    assert created["reporter_channel"] == "https://lapor.bpkp.go.id/unggah"
    with refused(Reason.OWN_PROPOSAL):
        proposals.approve(session, proposal.id, proposer.actor(), NOW, signing_seed=SEED)
    proposals.approve(session, proposal.id, approver.actor(), NOW, signing_seed=SEED)
    assert row.offered_to_reporters and row.reporter_channel == "https://lapor.bpkp.go.id/unggah"
    offer = log.only(proposals.Action.RECIPIENT_OFFER)["detail"]
    assert offer == {
        "recipient": "BPKP",
        "fingerprint": recipient_fingerprint(row.recipient),
        "offered_to_reporters": True,
        "reporter_channel": "https://lapor.bpkp.go.id/unggah",
    }
    with refused(Reason.RECIPIENT_OFFER_UNCHANGED):
        proposals.propose_recipient_offer(
            session,
            row.id,
            True,
            "https://lapor.bpkp.go.id/unggah",
            proposer.actor(),
            audit_key=AUDIT_KEY,
        )
    stop = proposals.propose_recipient_offer(session, row.id, False, "", proposer.actor())
    proposals.approve(session, stop.id, approver.actor(), NOW, signing_seed=SEED)
    assert not row.offered_to_reporters and row.reporter_channel is None


def test_an_offer_needs_a_valid_address_and_a_changed_proposal_is_not_applied(session, admins):
    row, _identity = agency(session, admins, "Polri", channel=None)
    proposer, approver = admins
    with refused(Reason.REPORTER_CHANNEL_NEEDED, "reporter_channel"):
        proposals.propose_recipient_offer(session, row.id, True, "  ", proposer.actor())
    with refused(Reason.REPORTER_CHANNEL_INVALID, "reporter_channel"):
        proposals.propose_recipient(
            session,
            "Kejaksaan",
            str(pyrage.x25519.Identity.generate().to_public()),
            proposer.actor(),
            offered_to_reporters=True,
            reporter_channel="http://kejaksaan.go.id",
        )
    proposal = proposals.propose_recipient_offer(
        session, row.id, True, "https://polri.go.id", proposer.actor()
    )
    proposal.content = json.dumps(
        {"offered_to_reporters": True, "reporter_channel": "http://polri.go.id"}
    )
    with refused(Reason.REPORTER_CHANNEL_INVALID, "reporter_channel"):
        proposals.approve(session, proposal.id, approver.actor(), NOW, signing_seed=SEED)
    assert not row.offered_to_reporters


@pytest.mark.parametrize(
    ("typed", "kept"),
    [
        ("https://kws.kpk.go.id", "https://kws.kpk.go.id"),
        (" HTTPS://KWS.KPK.GO.ID/Lapor?x=1 ", "https://kws.kpk.go.id/Lapor?x=1"),
        ("http://" + "a" * 56 + ".onion/unggah", "http://" + "a" * 56 + ".onion/unggah"),
        ("https://xn--ombudsmn-5za.go.id", "https://xn--ombudsmn-5za.go.id"),
    ],
)
def test_an_upload_address_is_kept_plain(typed, kept):
    assert checked_channel(typed) == kept


@pytest.mark.parametrize(
    "wrong",
    [
        "",
        "kws.kpk.go.id",
        "http://kws.kpk.go.id",  # plain http only to an onion service
        "https://203.0.113.7/lapor",  # never an IP address (nor in the access log)
        "https://[2001:db8::1]/",
        "https://kws.kpk.go.id@evil.example",  # who is "before the @" is not the host
        "https://kws.kpk.go.id:8443/",
        "https://kpk",
        "https://short.onion",
        "javascript:alert(1)",
        "https://kws.kpk.go.id/<script>",
        "https://kws.kpk.go.id/ spasi",
        "https://kpk.go.id/\u202etxt.exe",
        "https://kws.kpk.go.id/" + "a" * 200,
        "https://kpk.go.id/lapor@kpk.go.id",  # the log refuses an e-mail address
    ],
)
def test_anything_else_is_refused_as_an_upload_address(wrong):
    with refused(Reason.REPORTER_CHANNEL_INVALID, "reporter_channel"):
        checked_channel(wrong)
