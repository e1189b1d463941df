"""Referral (pelimpahan) with tracking (:mod:`sipadu.services.referral`, issue 20 item 1),
called directly: a report referred to an agency of the two-person registry is recorded
with the agency, its fingerprint and the redaction profile, never content; the same
referral sent again is one referral; a removed agency, a report not held, a profile that
keeps nothing, a closed report and an identity the referrer may not see are refused
with nothing recorded; the bundle is the signed export, redacted for real (fields,
notes, messages, files, their names, the identity: absent from every byte and from the
manifest's digests), with the profile in the signed manifest, and opens with the real
``age`` tool; the follow-up reaches the list, the home page and the digest until the
agency's answer is recorded. Real crypto, a real database, rolled back after each test."""

import hashlib
import io
import json
import os
import subprocess
import zipfile
from datetime import UTC, datetime, timedelta

import pyrage
import pytest
from sqlalchemy import delete, func, select

from sipadu.crypto import CryptoError, Purpose, seal_field, verify_signature
from sipadu.persistence.models import ExportRecipient, Referral, Report, ReportField, Role
from sipadu.services import (
    Reason,
    cases,
    dashboard,
    grants,
    key_ring,
    proposals,
    reports,
    retention,
)
from sipadu.services import referral as referrals
from sipadu.services.attachments import UploadedFile
from sipadu.services.case_file import status_history
from sipadu.services.cases import CaseFilter
from sipadu.services.dates import add_days
from sipadu.services.digest import digest_for
from sipadu.services.export import MANIFEST_LABEL, age_encrypted, report_zip
from sipadu.services.export_recipients import age_recipient, recipient_fingerprint
from sipadu.services.referral import FollowUp, Profile
from sipadu.services.statistics import case_facts
from sipadu.settings.config import DatePrecision, DayCount
from tests.services.helpers import (
    TODAY,
    Recorded,
    ServicePerson,
    Submitted,
    approve_identity,
    held,
    person,
    refused,
    route,
    service_submit,
    stored,
)

SEED = os.urandom(32)  # the instance's audit signing key
NOW = datetime.now(UTC)
FOLLOW_UP = FollowUp(30, DayCount.CALENDAR)
EVIDENCE = os.urandom(200_000)
IDENTITY = "Siti Rahayu, 0812 3456 7890"
WHO = "Kepala Seksi Budi Santoso"
FILE_NAME = "Rekaman Budi Santoso.mp3"
NOTE = "Catatan internal: saksi kunci di loket 3"
MESSAGE = "Pesan pelapor: saya melihatnya sendiri"


@pytest.fixture(scope="module")
def evidence(database_url) -> UploadedFile:
    (blob,) = stored(database_url, EVIDENCE)
    return UploadedFile(blob, FILE_NAME, "audio/mpeg")


@pytest.fixture
def investigator(session) -> ServicePerson:
    someone = person(session, "pelimpah", Role.INVESTIGATOR, may_grant=True)
    route(session, someone)
    return someone


@pytest.fixture
def admins(session) -> tuple[ServicePerson, ServicePerson]:
    return person(session, "admin.limpah", Role.ADMIN), person(session, "admin.limpah2", Role.ADMIN)


@pytest.fixture
def agency_key() -> pyrage.x25519.Identity:
    return pyrage.x25519.Identity.generate()


def registered(session, admins, name: str, identity: pyrage.x25519.Identity) -> ExportRecipient:
    proposer, approver = admins
    proposal = proposals.propose_recipient(
        session, name, str(identity.to_public()), proposer.actor()
    )
    proposals.approve(session, proposal.id, approver.actor(), NOW)
    return session.get(ExportRecipient, proposal.recipient_id)


def removed(session, admins, row: ExportRecipient) -> None:
    proposer, approver = admins
    proposal = proposals.propose_recipient_removal(session, row.id, proposer.actor())
    proposals.approve(session, proposal.id, approver.actor(), NOW)


@pytest.fixture
def kpk(session, admins, agency_key) -> ExportRecipient:
    return registered(session, admins, "KPK", agency_key)


@pytest.fixture
def custodian(session) -> ServicePerson:
    """Made before the report: a report's identity is wrapped to the custodians then."""
    return person(session, "penjaga.limpah", Role.CUSTODIAN)


@pytest.fixture
def case(session, recovery, investigator, custodian, evidence) -> Submitted:
    """A report with the identity, a file, a reporter's message, a reply and a note;
    ``who`` names a person."""
    report = service_submit(session, recovery.public_key(), identity=IDENTITY, files=[evidence])
    keys = held(session, report, investigator)
    field = session.get(ReportField, (report.report_id, "who"))
    field.sealed = seal_field(
        keys.key(Purpose.CASE, 0), WHO.encode(), report_id=report.report_id, field="report/who"
    )
    mailbox = key_ring.mailbox_keys(
        session, report.report_id, report.mailbox_id, report.mailbox_private
    )
    reports.add_reporter_message(
        session, mailbox, report.report_id, MESSAGE, TODAY, DatePrecision.DAY
    )
    cases.reply(session, keys, investigator.id, "Terima kasih", TODAY, DatePrecision.DAY)
    cases.add_note(session, keys, investigator.id, NOTE)
    return report


def refer(session, report, who, agency, profile=None, reason="", today=TODAY):
    return referrals.refer(
        session,
        held(session, report, who),
        who.id,
        agency.id,
        profile or Profile.default(),
        reason,
        today,
        FOLLOW_UP,
    )


def bundle_bytes(session, report, who, referral_id, today=TODAY) -> tuple[bytes, str]:
    """The bundle as the staff portal streams it (recorded, then made): its plain ZIP
    and the age recipient it would be encrypted to."""
    keys = held(session, report, who)
    bundle = referrals.open_bundle(session, keys, who.id, referral_id, today)
    assert bundle is not None
    data = b"".join(report_zip(bundle.view, keys, SEED, omit=bundle.omit, referral=bundle.manifest))
    return data, bundle.recipient


def every_byte(data: bytes) -> bytes:
    """The archive as stored (names, directory) and every member decompressed."""
    archive = zipfile.ZipFile(io.BytesIO(data))
    return data + b"".join(archive.read(name) for name in archive.namelist())


# --- referring -------------------------------------------------------------------------


def test_a_referral_records_the_agency_and_profile_never_content(session, case, investigator, kpk):
    log = Recorded(session)

    referral, made = refer(session, case, investigator, kpk)

    assert made
    report = session.get(Report, case.report_id)
    assert (report.status, report.closed_on, report.acknowledged_on) == ("referred", TODAY, TODAY)
    fingerprint = recipient_fingerprint(kpk.recipient)
    assert (referral.agency, referral.fingerprint, referral.recipient_id) == (
        "KPK",
        fingerprint,
        kpk.id,
    )
    assert referral.referred_on == TODAY
    assert referral.follow_up_due_on == TODAY + timedelta(days=30)
    assert json.loads(referral.profile) == {"dropped": ["identity", "notes"]}
    entry = log.only(referrals.Action.REPORT_REFER)
    assert entry["detail"] == {
        "referral": str(referral.id),
        "recipient": "KPK",
        "recipient_id": str(kpk.id),
        "recipient_fingerprint": fingerprint,
        "profile": ["identity", "notes"],
        "identity_included": False,
        "follow_up_due_on": (TODAY + timedelta(days=30)).isoformat(),
        "with_reason": False,
        "from": "received",
        "to": "referred",
        "acknowledged": True,
    }
    assert log.actions() == ["report.refer"]  # nothing decrypted, nothing else recorded
    text = json.dumps(log.entries())
    for content in ("Pungutan", "loket", "Budi", "Siti", "Rekaman"):
        assert content not in text
    # The printed case file's history shows the referral as a status step.
    assert [(s.old, s.new, s.acknowledged) for s in status_history(session, case.report_id)] == [
        ("received", "referred", True)
    ]


def test_the_follow_up_counts_days_as_the_deadlines_do():
    friday = datetime(2025, 3, 14).date()
    assert FollowUp(5, DayCount.WORKING).due(friday) == add_days(friday, 5, DayCount.WORKING)
    assert FollowUp(5, DayCount.WORKING).due(friday) == friday + timedelta(days=7)
    assert FollowUp(5, DayCount.CALENDAR).due(friday) == friday + timedelta(days=5)


def test_the_same_referral_sent_again_is_one_referral(session, case, investigator, kpk):
    """A double click, or the browser sending the form again: no second referral, no
    second entry; the referral (and its bundle) is still there."""
    first, _made = refer(session, case, investigator, kpk)
    log = Recorded(session)

    again, made = refer(session, case, investigator, kpk)

    assert (again.id, made) == (first.id, False)
    assert log.actions() == []
    count = session.scalar(select(func.count()).where(Referral.report_id == case.report_id))
    assert count == 1
    # Another profile the same day is another referral (a decision of its own).
    other, made = refer(
        session, case, investigator, kpk, Profile(frozenset({"notes", "identity", "field:how"}))
    )
    assert made and other.id != first.id


def test_a_resend_after_a_reopening_is_the_referral_made_after_it(session, case, investigator, kpk):
    """Referred, reopened, referred again the same day (a decision of its own): the form
    of that second referral sent again is the second referral, not the first, and a
    new spell of ``referred`` starts only with a referral."""
    first, _made = refer(session, case, investigator, kpk)
    keys = held(session, case, investigator)
    cases.reopen(session, keys, investigator.id, "Dikembalikan untuk dilengkapi")
    second, made = refer(session, case, investigator, kpk)
    assert made and second.id != first.id
    log = Recorded(session)

    again, made = refer(session, case, investigator, kpk)

    assert (again.id, made) == (second.id, False)
    assert log.actions() == []


def test_a_second_agency_keeps_the_referral_s_closing_day(session, case, investigator, kpk, admins):
    refer(session, case, investigator, kpk)
    ombudsman = registered(session, admins, "Ombudsman RI", pyrage.x25519.Identity.generate())
    log = Recorded(session)

    refer(session, case, investigator, ombudsman, today=TODAY + timedelta(days=3))

    report = session.get(Report, case.report_id)
    assert (report.status, report.closed_on) == ("referred", TODAY)
    detail = log.only(referrals.Action.REPORT_REFER)["detail"]
    assert "from" not in detail and detail["recipient"] == "Ombudsman RI"
    assert len(status_history(session, case.report_id)) == 1  # no second status step
    told = referrals.told(session, case.report_id)
    assert [(t.agency, t.referred_on) for t in told] == [
        ("KPK", TODAY),
        ("Ombudsman RI", TODAY + timedelta(days=3)),
    ]


def test_an_agency_removed_between_the_form_and_the_submit_is_refused(
    session, case, investigator, kpk, admins
):
    removed(session, admins, kpk)
    log = Recorded(session)
    with refused(Reason.NO_SUCH_RECIPIENT, "to"):
        refer(session, case, investigator, kpk)
    assert log.actions() == []
    assert session.get(Report, case.report_id).status == "received"


def test_an_agency_renamed_in_the_database_is_no_agency(session, case, investigator, kpk):
    """A registry row whose name a database writer changed (here to hold an address the
    access log refuses) is refused like an unregistered one, never a failed page."""
    kpk.name = "KPK 203.0.113.9"
    log = Recorded(session)
    with refused(Reason.NO_SUCH_RECIPIENT, "to"):
        refer(session, case, investigator, kpk)
    assert log.actions() == []


def test_a_report_not_held_is_not_found(session, case, kpk):
    outsider = person(session, "bukan.pemegang.limpah", Role.INVESTIGATOR)
    log = Recorded(session)
    with refused(Reason.REPORT_NOT_FOUND):
        refer(session, case, outsider, kpk)
    assert log.actions() == []


@pytest.mark.parametrize(
    "kept",
    [
        [],
        ["identity", "notes", "field:unit", "field:intake", "field:status_reason"],
        ["attachment_names"],
    ],
)
def test_a_profile_that_keeps_nothing_of_the_report_is_refused(
    session, case, investigator, kpk, kept
):
    log = Recorded(session)
    with refused(Reason.REFERRAL_EMPTY, "include"):
        refer(session, case, investigator, kpk, Profile.keeping(kept))
    assert log.actions() == [] and session.get(Report, case.report_id).status == "received"


def test_a_part_that_does_not_exist_is_refused():
    with refused(Reason.REFERRAL_UNKNOWN_PART, "include"):
        Profile.keeping(["field:title", "field:password"])
    assert Profile.keeping(["attachments"]).empty() is False  # the files alone are a report


def test_a_closed_report_is_reopened_before_it_is_referred(session, case, investigator, kpk):
    keys = held(session, case, investigator)
    cases.change_status(session, keys, investigator.id, "rejected", "Bukan wewenang", TODAY)
    with refused(Reason.REFERRAL_NOT_OPEN):
        refer(session, case, investigator, kpk)
    cases.reopen(session, keys, investigator.id, "Dilimpahkan saja")
    _referral, made = refer(session, case, investigator, kpk)
    assert made


def test_the_identity_is_passed_on_only_by_who_may_see_it(
    session, recovery, case, investigator, custodian, kpk
):
    with_identity = Profile(frozenset({"notes"}))
    log = Recorded(session)
    with refused(Reason.REFERRAL_IDENTITY_NOT_SEEN, "include"):
        refer(session, case, investigator, kpk, with_identity)
    assert log.actions() == []
    approve_identity(session, case, investigator, custodian, recovery.public_key())
    referral, _made = refer(session, case, investigator, kpk, with_identity)
    data, _recipient = bundle_bytes(session, case, investigator, referral.id)
    assert json.loads(zipfile.ZipFile(io.BytesIO(data)).read("report.json"))["identity"] == IDENTITY
    downloads = [e for e in log.entries() if e["action"] in ("referral.bundle", "identity.read")]
    assert [(e["action"], e["detail"]["identity_included"] if "via" not in e["detail"] else
             e["detail"]["via"]) for e in downloads] == [
        ("referral.bundle", True),
        ("identity.read", "referral"),
    ]  # fmt: skip
    assert [t.identity_passed_on for t in referrals.told(session, case.report_id)] == [True]
    # A colleague the custodian never approved may not make that bundle.
    colleague = person(session, "rekan.limpah", Role.INVESTIGATOR)
    grants.grant(session, held(session, case, investigator), investigator.account, colleague.id)
    with refused(Reason.REFERRAL_IDENTITY_NOT_SEEN):
        referrals.open_bundle(
            session, held(session, case, colleague), colleague.id, referral.id, TODAY
        )


def test_without_a_tick_the_identity_never_reaches_a_bundle(
    session, recovery, case, investigator, custodian, kpk
):
    """Even an investigator approved to see it: the default profile leaves it out."""
    approve_identity(session, case, investigator, custodian, recovery.public_key())
    referral, _made = refer(session, case, investigator, kpk)
    log = Recorded(session)
    data, _recipient = bundle_bytes(session, case, investigator, referral.id)
    assert b"Siti" not in every_byte(data)
    assert log.actions() == ["referral.bundle"]  # no identity.read
    assert log.only(referrals.Action.REFERRAL_BUNDLE)["detail"]["identity_included"] is False
    assert [t.identity_passed_on for t in referrals.told(session, case.report_id)] == [False]


def test_the_words_for_the_reporter_replace_an_older_reason(session, case, investigator, kpk):
    keys = held(session, case, investigator)
    cases.change_status(session, keys, investigator.id, "in_review", "Sedang dibaca", TODAY)
    refer(session, case, investigator, kpk)
    assert session.get(ReportField, (case.report_id, "status_reason")) is None
    mailbox = key_ring.mailbox_keys(session, case.report_id, case.mailbox_id, case.mailbox_private)
    assert reports.read_mailbox(session, mailbox, case.report_id).status_reason is None
    ombudsman_key = pyrage.x25519.Identity.generate()
    admins = person(session, "a.satu", Role.ADMIN), person(session, "a.dua", Role.ADMIN)
    other = registered(session, admins, "Ombudsman", ombudsman_key)
    refer(session, case, investigator, other, reason="Kewenangan Ombudsman")
    assert reports.read_mailbox(session, mailbox, case.report_id).status_reason == (
        "Kewenangan Ombudsman"
    )


# --- the bundle --------------------------------------------------------------------------

DROPPING = Profile(frozenset({"field:who", "notes", "messages", "attachment_names", "identity"}))


def test_the_bundle_opens_with_the_age_tool_and_its_signed_manifest_names_the_profile(
    session, case, investigator, admins, tmp_path
):
    key_file = tmp_path / "kpk.key"
    made = subprocess.run(["age-keygen", "-o", str(key_file)], capture_output=True, check=False)
    if made.returncode == 127:  # pragma: no cover
        pytest.fail("the age tool is not installed (make programs)")
    public = subprocess.run(
        ["age-keygen", "-y", str(key_file)], capture_output=True, check=True, text=True
    ).stdout.strip()
    proposer, approver = admins
    proposal = proposals.propose_recipient(session, "KPK RI", public, proposer.actor())
    proposals.approve(session, proposal.id, approver.actor(), NOW)
    agency = session.get(ExportRecipient, proposal.recipient_id)
    referral, _made = refer(session, case, investigator, agency, DROPPING)
    later = TODAY + timedelta(days=2)  # a bundle downloaded again later says so
    plain, recipient = bundle_bytes(session, case, investigator, referral.id, today=later)
    assert recipient == public
    sealed = tmp_path / "bundle.zip.age"
    keys = held(session, case, investigator)
    bundle = referrals.open_bundle(session, keys, investigator.id, referral.id, later)
    sealed.write_bytes(
        b"".join(
            age_encrypted(
                report_zip(bundle.view, keys, SEED, omit=bundle.omit, referral=bundle.manifest),
                age_recipient(bundle.recipient),
            )
        )
    )
    assert b"Pungutan" not in sealed.read_bytes()

    opened = subprocess.run(
        ["age", "-d", "-i", str(key_file), str(sealed)], capture_output=True, check=True
    ).stdout

    archive = zipfile.ZipFile(io.BytesIO(opened))
    names = archive.namelist()
    assert names == ["report.json", "attachments/001-file.mp3", "manifest.json", "manifest.sig"]
    assert archive.read("attachments/001-file.mp3") == EVIDENCE
    manifest_bytes = archive.read("manifest.json")
    manifest = json.loads(manifest_bytes)
    assert manifest["referral"] == {
        "agency": "KPK RI",
        "fingerprint": recipient_fingerprint(public),
        "day": TODAY.isoformat(),
        "made_on": later.isoformat(),
        "profile": {"dropped": ["attachment_names", "field:who", "identity", "messages", "notes"]},
    }
    assert manifest["sha256"] == {
        name: hashlib.sha256(archive.read(name)).hexdigest() for name in names[:2]
    }
    signature = json.loads(archive.read("manifest.sig"))
    assert signature["label"] == MANIFEST_LABEL
    public_key = bytes.fromhex(signature["public_key"])
    verify_signature(
        public_key, MANIFEST_LABEL, manifest_bytes, bytes.fromhex(signature["signature"])
    )
    forged = manifest_bytes.replace(b'"notes"', b'"title"')
    with pytest.raises(CryptoError):  # the profile is covered by the signature
        verify_signature(public_key, MANIFEST_LABEL, forged, bytes.fromhex(signature["signature"]))
    # What the profile dropped is in no byte: the field, the notes, the messages, the
    # file's own name, the identity.
    everything = every_byte(opened)
    for gone in (WHO, NOTE, MESSAGE, "Terima kasih", "Rekaman", "Budi", "Siti"):
        assert gone.encode() not in everything, gone
    report = json.loads(archive.read("report.json"))
    assert "who" not in report["fields"] and report["fields"]["title"] == "Pungutan liar"
    assert report["identity"] is None
    assert plain.startswith(b"PK")


def test_a_bundle_without_files_holds_neither_their_names_nor_their_digests(
    session, case, investigator, kpk
):
    profile = Profile(frozenset({"attachments", "notes", "identity"}))
    referral, _made = refer(session, case, investigator, kpk, profile)
    data, _recipient = bundle_bytes(session, case, investigator, referral.id)
    archive = zipfile.ZipFile(io.BytesIO(data))
    assert archive.namelist() == ["report.json", "messages.json", "manifest.json", "manifest.sig"]
    everything = every_byte(data)
    assert EVIDENCE not in everything
    assert hashlib.sha256(EVIDENCE).hexdigest().encode() not in everything
    assert b"Rekaman" not in everything and b"attachments/" not in everything
    messages = json.loads(archive.read("messages.json"))
    assert [m["body"] for m in messages] == [MESSAGE, "Terima kasih"]


def test_each_download_is_recorded_and_a_removed_agency_gets_nothing_more(
    session, case, investigator, kpk, admins
):
    referral, _made = refer(session, case, investigator, kpk)
    log = Recorded(session)
    bundle_bytes(session, case, investigator, referral.id)
    bundle_bytes(session, case, investigator, referral.id)  # lost on the way: again
    assert log.actions() == ["referral.bundle", "referral.bundle"]
    assert log.entries()[0]["detail"] == {
        "referral": str(referral.id),
        "recipient": "KPK",
        "recipient_fingerprint": recipient_fingerprint(kpk.recipient),
        "identity_included": False,
    }
    (shown,) = referrals.referrals_of(session, held(session, case, investigator))
    assert (shown.downloads, shown.registered) == (2, True)

    removed(session, admins, kpk)
    log = Recorded(session)
    with refused(Reason.REFERRAL_RECIPIENT_GONE) as info:
        referrals.open_bundle(
            session, held(session, case, investigator), investigator.id, referral.id, TODAY
        )
    assert info.value.params == {"name": "KPK"}
    assert log.actions() == []
    (shown,) = referrals.referrals_of(session, held(session, case, investigator))
    assert shown.registered is False


def test_a_key_changed_in_the_registry_gets_no_bundle(session, case, investigator, kpk):
    referral, _made = refer(session, case, investigator, kpk)
    kpk.recipient = str(pyrage.x25519.Identity.generate().to_public())  # a database writer
    with refused(Reason.REFERRAL_RECIPIENT_GONE):
        referrals.open_bundle(
            session, held(session, case, investigator), investigator.id, referral.id, TODAY
        )


def test_a_profile_changed_in_the_database_makes_no_bundle(session, case, investigator, kpk):
    """A database writer who widens what a referral passes on (here: the notes) gets a
    recorded integrity failure, never a bundle: the profile is checked against the
    hash-chained ``report.refer`` entry."""
    referral, _made = refer(session, case, investigator, kpk)
    referral.profile = Profile(frozenset({"identity"})).as_json()
    session.flush()
    log = Recorded(session)

    bundle = referrals.open_bundle(
        session, held(session, case, investigator), investigator.id, referral.id, TODAY
    )

    assert bundle is None
    assert log.actions() == ["record.integrity_failure"]
    assert log.entries()[0]["detail"] == {"kind": "referral", "id": str(referral.id)}
    (shown,) = referrals.referrals_of(session, held(session, case, investigator))
    assert shown.dropped is None


@pytest.mark.parametrize("changed", ["agency", "fingerprint", "recipient_id"])
def test_a_referral_pointed_elsewhere_in_the_database_makes_no_bundle(
    session, case, investigator, kpk, admins, agency_key, changed
):
    """The agency's name, the key's fingerprint or the registry row of a referral row,
    each changed alone in the database (the row: to the agency's key registered again
    under another row), differs from ``report.refer``: a recorded integrity failure, no
    bundle, and the case page says so."""
    referral, _made = refer(session, case, investigator, kpk)
    if changed == "recipient_id":
        removed(session, admins, kpk)
        referral.recipient_id = registered(session, admins, "KPK Pusat", agency_key).id
    elif changed == "agency":
        referral.agency = "KPK Pusat"
    else:
        other = str(pyrage.x25519.Identity.generate().to_public())
        referral.fingerprint = recipient_fingerprint(other)
    session.flush()
    log = Recorded(session)

    bundle = referrals.open_bundle(
        session, held(session, case, investigator), investigator.id, referral.id, TODAY
    )

    assert bundle is None
    assert log.actions() == ["record.integrity_failure"]
    (shown,) = referrals.referrals_of(session, held(session, case, investigator))
    assert shown.agency_intact is False and shown.dropped is not None


def test_another_report_s_referral_is_not_found(session, recovery, case, investigator, kpk):
    referral, _made = refer(session, case, investigator, kpk)
    other = service_submit(session, recovery.public_key())
    with refused(Reason.NO_SUCH_REFERRAL):
        referrals.open_bundle(
            session, held(session, other, investigator), investigator.id, referral.id, TODAY
        )
    with refused(Reason.NO_SUCH_REFERRAL):
        referrals.record_response(
            session, held(session, other, investigator), investigator.id, referral.id, "x", TODAY
        )


def test_a_file_s_own_name_is_replaced_by_a_neutral_one():
    assert referrals.neutral_name("Surat Budi.PDF") == "file.pdf"
    assert referrals.neutral_name("..\\Budi\\catatan") == "file"
    assert referrals.neutral_name("arsip.tar.gzipped") == "file"
    # Only a known extension is kept: a word after a dot is no extension.
    assert referrals.neutral_name("Rekaman suara Pak.Joko") == "file"
    assert referrals.neutral_name("Bu.Siti", "application/octet-stream") == "file"
    # A name without a known one gets its type's, never a word of the name.
    assert referrals.neutral_name("Rekaman Pak.Joko", "audio/mpeg") == "file.mp3"
    assert referrals.neutral_name("foto", "IMAGE/JPEG; x=y") == "file.jpg"
    assert referrals.neutral_name("Bukti.docx", "application/pdf") == "file.docx"


# --- the agency's answer and the follow-up ---------------------------------------------


def test_the_agency_s_answer_is_sealed_and_ends_the_follow_up(session, case, investigator, kpk):
    referral, _made = refer(session, case, investigator, kpk)
    keys = held(session, case, investigator)
    log = Recorded(session)
    with refused(Reason.EMPTY_TEXT, "response"):
        referrals.record_response(session, keys, investigator.id, referral.id, "  ", TODAY)
    later = referral.follow_up_due_on + timedelta(days=1)

    referrals.record_response(
        session, keys, investigator.id, referral.id, "KPK menindaklanjuti", later
    )

    assert referral.response_recorded_on == later
    assert b"KPK menindaklanjuti" not in referral.sealed_response
    assert log.only(referrals.Action.REFERRAL_RESPONSE)["detail"] == {
        "referral": str(referral.id),
        "recipient": "KPK",
        "after_follow_up": True,
    }
    assert "menindaklanjuti" not in json.dumps(log.entries())
    (shown,) = referrals.referrals_of(session, keys)
    assert (shown.response, shown.response_intact, shown.waiting()) == (
        "KPK menindaklanjuti",
        True,
        False,
    )
    # The same answer again changes nothing; another is refused (a note takes it).
    log = Recorded(session)
    referrals.record_response(
        session, keys, investigator.id, referral.id, "KPK menindaklanjuti ", later
    )
    assert log.actions() == []
    with refused(Reason.RESPONSE_ALREADY_RECORDED, "response"):
        referrals.record_response(session, keys, investigator.id, referral.id, "Lain", later)
    # Re-dated in the database: it fails its integrity check.
    referral.response_recorded_on = TODAY
    (shown,) = referrals.referrals_of(session, keys)
    assert (shown.response, shown.response_intact) == (None, False)


def test_the_follow_up_is_in_the_list_the_home_page_and_the_digest(
    session, case, investigator, kpk
):
    referral, _made = refer(session, case, investigator, kpk)

    def listed(deadline: str, day) -> list:
        page = cases.list_cases(
            session, investigator.id, investigator.private, CaseFilter(deadline=deadline), day
        )
        return [row.id for row in page.rows]

    due = referral.follow_up_due_on
    assert listed("follow_up_soon", TODAY) == [] and listed("follow_up_overdue", TODAY) == []
    assert listed("follow_up_soon", due - timedelta(days=1)) == [case.report_id]
    assert listed("follow_up_overdue", due + timedelta(days=1)) == [case.report_id]
    assert case.report_id not in listed("on_time", due + timedelta(days=1))
    row = cases.list_cases(
        session, investigator.id, investigator.private, CaseFilter(), due + timedelta(days=1)
    ).rows[0]
    assert (row.follow_up_due_on, row.follow_up_overdue) == (due, True)
    counts = dashboard.case_counts(session, investigator.id, investigator.private, due)
    assert counts.due["follow_up_soon"] == 1 and counts.by_status["referred"] == 1
    told = digest_for(session, investigator.id, investigator.account.role_set, due + timedelta(1))
    assert (told.need_action, told.overdue) == (1, 1)

    referrals.record_response(
        session, held(session, case, investigator), investigator.id, referral.id, "Diterima", due
    )

    assert listed("follow_up_overdue", due + timedelta(days=1)) == []
    assert case.report_id in listed("on_time", due + timedelta(days=1))
    told = digest_for(session, investigator.id, investigator.account.role_set, due + timedelta(1))
    assert (told.need_action, told.overdue) == (0, 0)


def test_a_report_s_referrals_go_with_it_when_retention_deletes_it(
    session, case, investigator, kpk
):
    refer(session, case, investigator, kpk)
    policy = retention.RetentionPolicy(closed_days=10, rejected_days=10)
    assert case.report_id in retention.expired(session, policy, TODAY + timedelta(days=10))
    session.execute(delete(Report).where(Report.id == case.report_id))
    assert session.scalars(select(Referral).where(Referral.report_id == case.report_id)).all() == []


def test_retention_counts_from_the_latest_referral(session, case, investigator, kpk, admins):
    """Referred to KPK, then to the Ombudsman 28 days later: kept the retention period
    after the second referral, then deleted (the answer awaited holds it no longer)."""
    policy = retention.RetentionPolicy(closed_days=30, rejected_days=30)
    refer(session, case, investigator, kpk)
    assert case.report_id in retention.expired(session, policy, TODAY + timedelta(days=30))
    ombudsman = registered(session, admins, "Ombudsman RI", pyrage.x25519.Identity.generate())
    later = TODAY + timedelta(days=28)
    refer(session, case, investigator, ombudsman, today=later)
    assert case.report_id not in retention.expired(session, policy, later + timedelta(days=29))
    assert case.report_id in retention.expired(session, policy, later + timedelta(days=30))


def test_the_statistics_count_a_referral_as_its_outcome(session, case, investigator, kpk):
    refer(session, case, investigator, kpk)
    (facts,) = [
        f for f in case_facts(session, TODAY, TODAY + timedelta(days=1)) if f.status == "referred"
    ]
    assert (facts.closed_on, facts.first_feedback_on) == (TODAY, TODAY)
