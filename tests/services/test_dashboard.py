"""The staff home page's counts (:mod:`sipadu.services.dashboard`), called directly: an
investigator's reports by status, by deadline (the list's own conditions, boundaries
included) and unread, within the viewer's grants only and without spam; the identity
requests a custodian may decide and the proposals waiting; the auditor's chain state from
the last verification and the latest checkpoint, checked against the instance's key.
Counting reads only: nothing recorded, nothing changed. Real keys, a real database,
rolled back after each test."""

import os
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update

from sipadu.accountability import audit
from sipadu.accountability.audit import OPERATOR, Action, Broken, Verdict
from sipadu.crypto import signing_public_key
from sipadu.persistence.models import (
    AuditCheckpoint,
    AuditEvent,
    AuditHead,
    Report,
    ReportStatus,
    Role,
)
from sipadu.services import audit_log, cases, dashboard, grants, key_ring, proposals, reports
from sipadu.services.cases import CaseFilter, due_soon_until
from sipadu.settings.config import DatePrecision
from tests.services.helpers import (
    TODAY,
    Recorded,
    ServicePerson,
    Submitted,
    held,
    person,
    route,
    service_submit,
)

SEED = os.urandom(32)  # the instance's audit signing key
PUBLIC = signing_public_key(SEED).hex()
SOON = due_soon_until(TODAY)
FAR = TODAY + timedelta(days=60)


@pytest.fixture
def investigator(session) -> ServicePerson:
    someone = person(session, "penyidik.dasbor", Role.INVESTIGATOR, may_grant=True)
    route(session, someone)
    return someone


@pytest.fixture
def colleague(session) -> ServicePerson:
    """Routed to another category: holds none of ``investigator``'s reports unless granted."""
    someone = person(session, "rekan.dasbor", Role.INVESTIGATOR)
    route(session, someone, "staff_discipline")
    return someone


def submitted(session, recovery, *, category: str = "kkn", **values) -> Submitted:
    """A report with its row changed to ``values`` (status, deadlines, spam)."""
    report = service_submit(session, recovery.public_key(), category=category)
    values = {"ack_due_on": FAR, "feedback_due_on": FAR} | values
    session.execute(update(Report).where(Report.id == report.report_id).values(**values))
    return report


def counts(session, who: ServicePerson) -> dashboard.CaseCounts:
    return dashboard.case_counts(session, who.id, who.private, TODAY)


def write_as_reporter(session, report: Submitted, body: str = "Ada kabar?") -> None:
    mailbox = key_ring.mailbox_keys(
        session, report.report_id, report.mailbox_id, report.mailbox_private
    )
    reports.add_reporter_message(session, mailbox, report.report_id, body, TODAY, DatePrecision.DAY)


# --- an investigator's reports ---------------------------------------------------------


def test_reports_are_counted_by_status_and_deadline_as_the_list_filters_them(
    session, recovery, investigator, colleague
):
    received = ReportStatus.RECEIVED.value
    for ack_due in (TODAY, SOON, SOON + timedelta(days=1), TODAY - timedelta(days=1)):
        submitted(session, recovery, status=received, ack_due_on=ack_due)
    submitted(session, recovery, status="in_review", feedback_due_on=SOON)
    submitted(session, recovery, status="investigating", feedback_due_on=TODAY - timedelta(1))
    submitted(session, recovery, status="rejected", feedback_due_on=TODAY - timedelta(1))
    # Neither spam nor another's report is counted, however late.
    submitted(session, recovery, ack_due_on=TODAY - timedelta(days=1), spam=True)
    submitted(session, recovery, category="staff_discipline", ack_due_on=TODAY - timedelta(days=1))
    session.flush()
    log = Recorded(session)

    shown = counts(session, investigator)

    assert log.actions() == [] and not session.dirty and not session.new  # reads only
    assert list(shown.by_status) == [status.value for status in ReportStatus]
    assert shown.by_status == {
        "received": 4,
        "in_review": 1,
        "investigating": 1,
        "closed_substantiated": 0,
        "closed_unsubstantiated": 0,
        "rejected": 1,
        "referred": 0,  # issue 20
    }
    assert shown.total == 7
    # Due soon: from today to the last day of SOON_WORKING_DAYS, both included.
    assert shown.due == {
        "ack_soon": 2,
        "ack_overdue": 1,
        "feedback_soon": 1,
        "feedback_overdue": 1,
        "follow_up_soon": 0,  # a referral's (issue 20; tests/services/test_referral.py)
        "follow_up_overdue": 0,
    }
    # Each count is what the list shows for the same filter (its link lands there).
    for name, count in shown.due.items():
        page = cases.list_cases(
            session, investigator.id, investigator.private, CaseFilter(deadline=name), TODAY
        )
        assert len(page.rows) == count, name
    for status, count in shown.by_status.items():
        page = cases.list_cases(
            session, investigator.id, investigator.private, CaseFilter(status=status), TODAY
        )
        assert len(page.rows) == count, status
    other = counts(session, colleague)
    assert (other.total, other.due["ack_overdue"]) == (1, 1)


def test_a_revoked_grant_is_no_longer_counted(session, recovery, investigator, colleague):
    report = submitted(session, recovery, ack_due_on=TODAY - timedelta(days=1))
    before = counts(session, colleague)
    grants.grant(session, held(session, report, investigator), investigator.account, colleague.id)
    session.flush()
    shared = counts(session, colleague)
    assert (shared.total, shared.due["ack_overdue"]) == (before.total + 1, 1)

    grants.revoke(
        session, report.report_id, investigator.account, colleague.id, recovery.public_key()
    )
    session.flush()

    assert counts(session, colleague) == before
    assert counts(session, investigator).due["ack_overdue"] == 1


def test_unread_counts_reports_with_messages_not_read_by_this_viewer(
    session, recovery, investigator, colleague
):
    first = submitted(session, recovery)
    second = submitted(session, recovery)
    spam = submitted(session, recovery, spam=True)
    for report in (first, second, spam):
        write_as_reporter(session, report)
    grants.grant(session, held(session, first, investigator), investigator.account, colleague.id)
    session.flush()
    shown = counts(session, investigator)
    assert (shown.unread, shown.unread_complete) == (2, True)
    assert counts(session, colleague).unread == 1

    cases.open_case(session, held(session, first, investigator), investigator.id)
    session.flush()

    assert counts(session, investigator).unread == 1
    assert counts(session, colleague).unread == 1  # read marks are each viewer's own
    write_as_reporter(session, first, "Satu lagi")
    session.flush()
    assert counts(session, investigator).unread == 2


def test_past_the_check_limit_unread_is_a_lower_bound_and_says_so(
    session, recovery, investigator, monkeypatch
):
    for _ in range(3):
        write_as_reporter(session, submitted(session, recovery))
    session.flush()
    monkeypatch.setattr(dashboard, "UNREAD_CHECK_LIMIT", 2)
    shown = counts(session, investigator)
    assert (shown.unread, shown.unread_complete) == (2, False)
    monkeypatch.setattr(dashboard, "UNREAD_CHECK_LIMIT", 3)
    shown = counts(session, investigator)
    assert (shown.unread, shown.unread_complete) == (3, True)


# --- custodians and admins ---------------------------------------------------------------


def test_a_custodian_counts_pending_requests_it_may_decide_never_its_own(session, recovery):
    custodian = person(session, "penjaga.dasbor", Role.CUSTODIAN)
    both = person(session, "dua.peran.dasbor", Role.INVESTIGATOR, Role.CUSTODIAN)
    route(session, both)
    report = service_submit(session, recovery.public_key(), identity="Siti")
    before = dashboard.identity_requests_waiting(session, custodian.id)

    request = grants.request_identity(
        session, report.report_id, both.account, "Saksi", recovery.public_key()
    )
    session.flush()

    assert dashboard.identity_requests_waiting(session, custodian.id) == before + 1
    assert dashboard.identity_requests_waiting(session, both.id) == before  # not its call
    grants.decide_identity(
        session, request.id, custodian.account, custodian.private, False, datetime.now(UTC)
    )
    session.flush()
    assert dashboard.identity_requests_waiting(session, custodian.id) == before


def test_admins_count_pending_proposals_only(session):
    proposer = person(session, "admin.dasbor", Role.ADMIN)
    approver = person(session, "admin.dasbor2", Role.ADMIN)
    someone = person(session, "calon.dasbor", Role.AUDITOR)
    before = dashboard.proposals_waiting(session)
    first = proposals.propose_role(session, someone.account, Role.ADMIN, proposer.actor())
    second = proposals.propose_role(session, someone.account, Role.CUSTODIAN, proposer.actor())
    session.flush()
    assert dashboard.proposals_waiting(session) == before + 2
    now = datetime.now(UTC)
    proposals.approve(session, first.id, approver.actor(), now)
    proposals.reject(session, second.id, approver.actor(), now)
    session.flush()
    assert dashboard.proposals_waiting(session) == before


# --- the auditor's chain state ----------------------------------------------------------


def test_without_checkpoint_or_verification_nothing_is_claimed(session):
    session.query(AuditCheckpoint).delete()
    session.query(AuditEvent).filter(AuditEvent.action == Action.AUDIT_VERIFY.value).delete()
    seq = audit.head(session)[0]

    state = dashboard.chain_state(session, PUBLIC)

    assert state == dashboard.ChainState(seq, None, None, None, None, None, False, seq)
    assert not state.broken


def test_a_checkpoint_holds_when_signed_by_the_instance_and_its_entry_unchanged(session):
    person(session, "entri.dasbor", Role.AUDITOR)  # some entries before the checkpoint
    checkpoint = audit.make_checkpoint(session, SEED)
    session.flush()

    state = dashboard.chain_state(session, PUBLIC)

    assert (state.checkpoint_holds, state.since_checkpoint, state.broken) == (True, 0, False)
    assert state.checkpoint_at is not None and state.entries == checkpoint.seq > 0
    audit.append(session, OPERATOR.id, OPERATOR.role, Action.AUDIT_CHECKPOINT, detail={"seq": 1})
    session.flush()
    assert dashboard.chain_state(session, PUBLIC).since_checkpoint == 1
    # Checked against the instance's key only: another key, or none, vouches for nothing.
    for key in (signing_public_key(os.urandom(32)).hex(), None):
        other = dashboard.chain_state(session, key)
        assert (other.checkpoint_holds, other.broken) == (False, True)


def _stored_checkpoint(session) -> tuple[audit.Checkpoint, AuditCheckpoint]:
    person(session, "entri.rusak", Role.AUDITOR)
    checkpoint = audit.make_checkpoint(session, SEED)
    session.flush()
    row = session.query(AuditCheckpoint).filter_by(seq=checkpoint.seq).one()
    return checkpoint, row


def test_a_rewritten_entry_under_the_checkpoint_breaks_it(session):
    checkpoint, _row = _stored_checkpoint(session)
    session.execute(
        update(AuditEvent).where(AuditEvent.seq == checkpoint.seq).values(hash="0" * 64)
    )
    assert dashboard.chain_state(session, PUBLIC).broken


def test_a_rewritten_or_foreign_checkpoint_breaks_it(session):
    _checkpoint, row = _stored_checkpoint(session)
    row.hash = "0" * 64  # no longer what was signed
    session.flush()
    assert dashboard.chain_state(session, PUBLIC).broken
    row.signature = "not hex"
    session.flush()
    assert dashboard.chain_state(session, PUBLIC).broken  # never an error
    # A checkpoint a database writer signed with a key of their own, over a true head.
    forger = os.urandom(32)
    session.delete(row)
    audit.make_checkpoint(session, forger)
    session.flush()
    assert dashboard.chain_state(session, PUBLIC).broken
    assert not dashboard.chain_state(session, signing_public_key(forger).hex()).broken


def test_a_head_gone_back_before_the_checkpoint_breaks_it(session):
    checkpoint, _row = _stored_checkpoint(session)
    session.execute(update(AuditHead).where(AuditHead.id == 1).values(seq=checkpoint.seq - 1))
    state = dashboard.chain_state(session, PUBLIC)
    assert (state.checkpoint_holds, state.since_checkpoint, state.broken) == (False, 0, True)


def test_the_last_verification_is_shown_as_recorded(session):
    auditor = person(session, "auditor.dasbor", Role.AUDITOR)
    good = Verdict(True, 40, "0" * 64)
    bad = Verdict(False, 11, "", bad_seq=12, broken=Broken.ENTRY_ALTERED)
    audit_log.record_verification(session, auditor.id, good, 1)
    session.flush()
    state = dashboard.chain_state(session, PUBLIC)
    assert (state.verified_ok, state.verified_entries, state.bad_entry) == (True, 40, None)
    assert state.verified_at is not None

    audit_log.record_verification(session, auditor.id, bad, 0)
    session.flush()

    state = dashboard.chain_state(session, PUBLIC)
    assert (state.verified_ok, state.verified_entries, state.bad_entry) == (False, 11, 12)
    assert state.broken
