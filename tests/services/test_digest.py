"""The daily digest (:mod:`sipadu.services.digest`, issue 19): counts only, from the
list's own deadline filters (each report once), per role and combined for a person with
several; a text that holds no title, id, category or time; a body of one constant size
whatever the counts and roles, in the clear and encrypted. Real keys, a real database,
rolled back after each test."""

import email
import re
from datetime import UTC, datetime, timedelta
from email import policy

import pysequoia
import pytest
from sqlalchemy import update

from sipadu.persistence.models import Report, ReportStatus, Role
from sipadu.services import dashboard, digest, grants, proposals
from sipadu.services.cases import due_soon_until
from sipadu.services.digest import BODY_BYTES, Digest, digest_for, digest_message, padded_body
from tests.services.helpers import TODAY, Recorded, person, route, service_submit

SOON = due_soon_until(TODAY)
FAR = TODAY + timedelta(days=60)
LATE = TODAY - timedelta(days=1)
SENDER = "sipadu@inspektorat.example.go.id"
# Every count at its largest plausible value, and every role: the longest text there is.
BIGGEST = Digest(10**9, 10**9, 10**9, 10**9, 10**9, 10**9)


def submitted(session, recovery, *, category: str = "kkn", **values):
    report = service_submit(session, recovery.public_key(), category=category)
    values = {"ack_due_on": FAR, "feedback_due_on": FAR} | values
    session.execute(update(Report).where(Report.id == report.report_id).values(**values))
    return report


def test_an_investigator_is_told_what_needs_action_each_report_once(session, recovery):
    investigator = person(session, "penyidik.ringkas", Role.INVESTIGATOR)
    route(session, investigator)
    received = ReportStatus.RECEIVED.value
    submitted(session, recovery, status=received, ack_due_on=SOON)  # ack due soon
    submitted(session, recovery, status=received, ack_due_on=LATE)  # ack overdue
    # Acknowledgement and feedback both overdue: one report, counted once in each count.
    submitted(session, recovery, status=received, ack_due_on=LATE, feedback_due_on=LATE)
    submitted(session, recovery, status="investigating", feedback_due_on=SOON)  # feedback soon
    submitted(session, recovery, status="in_review", feedback_due_on=LATE)  # feedback overdue
    submitted(session, recovery, status="in_review")  # nothing due
    submitted(session, recovery, status="rejected", feedback_due_on=LATE)  # closed: nothing
    submitted(session, recovery, ack_due_on=LATE, spam=True)  # spam: hidden
    submitted(session, recovery, category="staff_discipline", ack_due_on=LATE)  # not theirs
    session.flush()
    log = Recorded(session)

    told = digest_for(session, investigator.id, investigator.account.role_set, TODAY)

    assert log.actions() == [] and not session.dirty  # reads only
    assert (told.need_action, told.overdue) == (5, 3)
    assert told.pending_requests is told.proposals is told.late_acknowledgements is None
    # The same as the list's filters say, counted once per report.
    due = dashboard.case_counts(session, investigator.id, investigator.private, TODAY).due
    assert due == {
        "ack_soon": 1,
        "ack_overdue": 2,
        "feedback_soon": 1,
        "feedback_overdue": 2,
        "follow_up_soon": 0,  # a referral's (issue 20; tests/services/test_referral.py)
        "follow_up_overdue": 0,
    }
    assert told.need_action < sum(due.values())


def test_a_custodian_is_told_its_requests_and_the_institution_s_late_counts(session, recovery):
    custodian = person(session, "inspektur.ringkas", Role.CUSTODIAN)
    investigator = person(session, "penyidik.minta", Role.INVESTIGATOR)
    route(session, investigator)
    before = digest_for(session, custodian.id, custodian.account.role_set, TODAY)
    report = service_submit(session, recovery.public_key(), identity="Siti")
    grants.request_identity(
        session, report.report_id, investigator.account, "Saksi", recovery.public_key()
    )
    submitted(session, recovery, ack_due_on=LATE)  # nobody's grant matters here: all reports
    submitted(session, recovery, status="investigating", feedback_due_on=LATE)
    submitted(
        session, recovery, category="abuse_of_authority", ack_due_on=LATE, feedback_due_on=LATE
    )
    submitted(session, recovery, ack_due_on=LATE, spam=True)
    session.flush()

    told = digest_for(session, custodian.id, custodian.account.role_set, TODAY)

    assert told.pending_requests == before.pending_requests + 1
    assert told.late_acknowledgements == before.late_acknowledgements + 2
    assert told.late_feedback == before.late_feedback + 2
    assert told.need_action is None and told.proposals is None


def test_one_digest_combines_every_role_a_person_holds(session, recovery):
    everything = person(
        session, "semua.peran", Role.INVESTIGATOR, Role.CUSTODIAN, Role.ADMIN, Role.AUDITOR
    )
    route(session, everything)
    other = person(session, "admin.lain", Role.ADMIN)
    proposals.propose_role(session, other.account, Role.CUSTODIAN, everything.actor())
    submitted(session, recovery, ack_due_on=LATE)
    session.flush()
    told = digest_for(session, everything.id, everything.account.role_set, TODAY)
    assert None not in told.counts().values() and len(told.counts()) == 6
    assert told.need_action == told.overdue == 1 and told.proposals >= 1
    text = digest.digest_text(told)
    for words in (
        "perlu tindakan",
        "need your action",
        "Permintaan identitas",
        "Identity requests",
        "admin kedua",
        "second admin",
    ):
        assert words in text
    auditor = person(session, "pemeriksa.log", Role.AUDITOR)
    nothing = digest_for(session, auditor.id, auditor.account.role_set, TODAY)
    assert nothing.nothing_waits and nothing.counts() == {}
    assert "Nothing waits for you" in digest.digest_text(nothing)


def test_nothing_waits_only_when_every_count_is_zero():
    assert Digest().nothing_waits and Digest(0, 0, 0, 0, 0, 0).nothing_waits
    assert not Digest(late_feedback=1).nothing_waits and not Digest(proposals=2).nothing_waits


def test_the_text_holds_counts_and_fixed_words_only(session, recovery):
    investigator = person(session, "penyidik.isi", Role.INVESTIGATOR)
    route(session, investigator)
    report = submitted(session, recovery, ack_due_on=LATE)
    session.flush()
    text = digest.digest_text(
        digest_for(session, investigator.id, investigator.account.role_set, TODAY)
    )
    assert "Pungutan liar" not in text  # the title
    assert str(report.report_id) not in text and str(report.report_id)[:8] not in text
    for slug in ("kkn", "KKN", "Korupsi", "abuse_of_authority"):
        assert slug not in text
    assert TODAY.isoformat() not in text and str(TODAY.year) not in text
    # Only counts vary: with the numbers taken out, every digest of these roles is alike.
    blank = re.sub(r"\d+", "#", text)
    assert blank == re.sub(r"\d+", "#", digest.digest_text(Digest(7, 0)))


@pytest.mark.parametrize(
    "told",
    [
        Digest(),
        Digest(0, 0),
        Digest(1, 1),
        Digest(proposals=0),
        Digest(pending_requests=3, late_acknowledgements=0, late_feedback=12),
        Digest(123456, 99999, 0, 7, 8, 15),
        BIGGEST,
    ],
)
def test_the_body_is_one_size_whatever_the_counts_and_roles(told):
    body = padded_body(told)
    assert len(body) == BODY_BYTES
    assert body.decode("utf-8").startswith(digest.digest_text(told))


def test_the_longest_text_still_leaves_room_for_padding():
    assert len(digest.digest_text(BIGGEST).encode()) < BODY_BYTES - 100


def moment():
    return datetime(2026, 11, 30, 7, 0, 1, tzinfo=UTC)


def raw_body(message: email.message.EmailMessage) -> bytes:
    """The message's body as it goes over the wire (after its headers)."""
    return message.as_bytes().split(b"\n\n", 1)[1]


def test_the_mail_has_fixed_headers_and_a_constant_body_in_the_clear():
    sizes, bodies = set(), set()
    for told in (Digest(), Digest(3, 1), BIGGEST):
        message = digest_message(
            told,
            sender=SENDER,
            recipient="penyidik@jakarta.go.id",
            openpgp_key=None,
            moment=moment(),
        )
        assert message["Subject"] == digest.SUBJECT
        assert message["From"] == SENDER and message["To"] == "penyidik@jakarta.go.id"
        assert message["Auto-Submitted"] == "auto-generated"
        assert re.fullmatch(r"<[0-9a-f]{32}@inspektorat\.example\.go\.id>", message["Message-ID"])
        assert message["Content-Transfer-Encoding"] == "base64"
        sizes.add(len(message.as_bytes()))
        bodies.add(len(raw_body(message)))
        parsed = email.message_from_bytes(message.as_bytes(), policy=policy.default)
        assert parsed.get_content().encode() == padded_body(told)
    assert len(sizes) == 1 and len(bodies) == 1


def test_an_encrypted_mail_is_pgp_mime_of_one_size_and_opens_to_the_same_body():
    tsk = pysequoia.Tsk.generate("Penyidik <penyidik@jakarta.go.id>")
    armored = str(tsk.extract_certificate())
    sizes = set()
    for told in (Digest(), Digest(3, 1), BIGGEST):
        message = digest_message(
            told, sender=SENDER, recipient="p@jakarta.go.id", openpgp_key=armored, moment=moment()
        )
        assert message.get_content_type() == "multipart/encrypted"
        assert message.get_param("protocol") == "application/pgp-encrypted"
        control, payload = message.get_payload()
        assert control.get_content_type() == "application/pgp-encrypted"
        assert control.get_payload().strip() == "Version: 1"
        ciphertext = payload.get_payload().encode()
        assert ciphertext.startswith(b"-----BEGIN PGP MESSAGE-----")
        assert b"need your action" not in message.as_bytes()
        sizes.add((len(message.as_bytes()), len(ciphertext)))
        inner = pysequoia.decrypt(ciphertext, decryptor=tsk.decryptor()).bytes
        opened = email.message_from_bytes(inner, policy=policy.default)
        assert opened.get_content().encode() == padded_body(told)
    assert len(sizes) == 1
