# ruff: noqa: F811 — the service tests' fixtures, imported by name, are test arguments here
"""Review of referral (pelimpahan, issue 20 item 1): each test shows a fault a reviewer
found, and fails while the fault is there. Real crypto, a real database (the service
tests' fixtures), rolled back after each test."""

import io
import zipfile
from collections.abc import Iterator
from datetime import timedelta

import pyrage
import pytest
from sqlalchemy.orm import Session

from sipadu.crypto import PrivateKey, new_keypair
from sipadu.persistence.models import Referral, Report
from sipadu.services import ServiceError, cases, retention
from sipadu.services import referral as referrals
from sipadu.services.attachments import UploadedFile
from sipadu.services.export_recipients import recipient_fingerprint
from sipadu.services.referral import Profile
from tests.helpers import database
from tests.services.helpers import TODAY, Recorded, held, service_submit, stored
from tests.services.test_referral import (  # noqa: F401 — fixtures
    admins,
    agency_key,
    bundle_bytes,
    case,
    custodian,
    evidence,
    investigator,
    kpk,
    refer,
    registered,
    removed,
)


@pytest.fixture
def session(database_url) -> Iterator[Session]:
    with database(database_url) as session:
        yield session
        session.rollback()


@pytest.fixture(scope="module")
def recovery() -> PrivateKey:
    return new_keypair()


def test_a_report_reopened_after_its_referral_can_be_referred_again_the_same_day(
    session, case, investigator, kpk
):
    """Referred to KPK, reopened the same day (the agency sent it back, or it was a
    mistake), then referred to KPK again with the same parts: the service takes this for
    a double click and returns the old referral. The report stays "in review", nothing is
    recorded, and the case page redirects as if the referral were made."""
    refer(session, case, investigator, kpk)
    keys = held(session, case, investigator)
    cases.reopen(session, keys, investigator.id, "Dikembalikan oleh KPK untuk dilengkapi")
    log = Recorded(session)

    _referral, made = refer(session, case, investigator, kpk)

    report = session.get(Report, case.report_id)
    assert report.status == "referred", "the referral after the reopening changed nothing"
    assert made and report.closed_on == TODAY
    assert log.actions() == ["report.refer"]


def test_a_report_rejected_after_its_referral_is_not_silently_referred_again(
    session, case, investigator, kpk
):
    """Same root: referred, reopened, rejected, then the referral form sent again the
    same day. A closed report is to be refused (REFERRAL_NOT_OPEN), not answered "done"."""
    refer(session, case, investigator, kpk)
    keys = held(session, case, investigator)
    cases.reopen(session, keys, investigator.id, "Bukan wewenang KPK")
    cases.change_status(session, keys, investigator.id, "rejected", "Tidak cukup bukti", TODAY)
    with pytest.raises(ServiceError):
        refer(session, case, investigator, kpk)


def test_a_bundle_goes_only_to_the_key_the_access_log_says_it_was_referred_to(
    session, case, investigator, kpk
):
    """The profile is checked against the hash-chained ``report.refer`` entry, but the
    agency's key is not: a database writer who swaps the registry row's key for their
    own and writes its fingerprint into the referral row gets the next bundle encrypted
    to their key (G3), though the log says the report went to KPK's."""
    referral, _made = refer(session, case, investigator, kpk)
    attacker = pyrage.x25519.Identity.generate()
    kpk.recipient = str(attacker.to_public())
    session.get(Referral, referral.id).fingerprint = recipient_fingerprint(kpk.recipient)
    session.flush()
    keys = held(session, case, investigator)

    try:
        bundle = referrals.open_bundle(session, keys, investigator.id, referral.id, TODAY)
    except ServiceError:
        bundle = None

    assert bundle is None or bundle.recipient != str(attacker.to_public())


def test_a_referral_redirected_to_another_registered_agency_gets_no_bundle(
    session, case, investigator, kpk, admins
):
    """The referral row pointed (in the database) at another registered recipient, its
    name and fingerprint with it: the bundle goes there, not to the agency of the log."""
    referral, _made = refer(session, case, investigator, kpk)
    other = registered(session, admins, "Arsip Pribadi", pyrage.x25519.Identity.generate())
    row = session.get(Referral, referral.id)
    row.recipient_id, row.agency = other.id, other.name
    row.fingerprint = recipient_fingerprint(other.recipient)
    session.flush()
    keys = held(session, case, investigator)

    try:
        bundle = referrals.open_bundle(session, keys, investigator.id, referral.id, TODAY)
    except ServiceError:
        bundle = None

    assert bundle is None or bundle.recipient != other.recipient


@pytest.fixture(scope="module")
def dotted(database_url) -> UploadedFile:
    """A file whose own name ends in a person's name after a dot (no real extension)."""
    (blob,) = stored(database_url, b"rekaman suara")
    return UploadedFile(blob, "Rekaman suara Pak.Joko", "application/octet-stream")


def test_a_dropped_file_name_leaves_no_word_of_it_in_the_bundle(
    session, recovery, investigator, kpk, dotted
):
    """With the files' own names dropped, "Rekaman suara Pak.Joko" becomes
    "file.joko": a name the investigator chose not to pass on is in the archive's
    directory (neutral_name takes any 1-5 letters after the last dot as an extension)."""
    report = service_submit(session, recovery.public_key(), files=[dotted])
    referral, _made = refer(
        session,
        report,
        investigator,
        kpk,
        Profile(frozenset({"identity", "notes", "attachment_names"})),
    )
    data, _recipient = bundle_bytes(session, report, investigator, referral.id)
    names = zipfile.ZipFile(io.BytesIO(data)).namelist()
    assert len([n for n in names if n.startswith("attachments/")]) == 1  # the file is kept
    assert not any("joko" in name.lower() for name in names), names


def test_the_same_key_registered_again_can_be_referred_to_the_same_day(
    session, case, investigator, kpk, admins, agency_key
):
    """KPK referred to in the morning; the admins remove the row and register the same
    key again (a new row: to rename it, or a removal undone). The case page says "refer
    it again to the agency's key"; doing so the same day returns the old referral, tied
    to the removed row, so no bundle can be made until tomorrow."""
    first, _made = refer(session, case, investigator, kpk)
    removed(session, admins, kpk)
    again = registered(session, admins, "KPK RI", agency_key)

    second, _made = refer(session, case, investigator, again)

    keys = held(session, case, investigator)
    try:  # refused today: REFERRAL_RECIPIENT_GONE, the row of the morning's referral
        bundle = referrals.open_bundle(session, keys, investigator.id, second.id, TODAY)
    except ServiceError as refused:
        pytest.fail(f"no bundle for the agency's registered key: {refused.reason}")
    assert bundle is not None and bundle.recipient == again.recipient
    assert second.id != first.id or second.recipient_id == again.id


def test_retention_does_not_delete_a_report_just_referred_to_a_second_agency(
    session, case, investigator, kpk, admins
):
    """A second agency keeps the first referral's closing day, and retention counts from
    it: referred to KPK, then to the Ombudsman near the end of the retention period, the
    report (and the referral whose answer is awaited) is deleted days later, before the
    follow-up day."""
    policy = retention.RetentionPolicy(closed_days=30, rejected_days=30)
    refer(session, case, investigator, kpk)
    ombudsman = registered(session, admins, "Ombudsman RI", pyrage.x25519.Identity.generate())
    later = TODAY + timedelta(days=28)
    second, _made = refer(session, case, investigator, ombudsman, today=later)

    day = TODAY + timedelta(days=30)
    assert day < second.follow_up_due_on  # its answer is still awaited
    assert case.report_id not in retention.expired(session, policy, day)
