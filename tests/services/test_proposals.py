"""The two-person rule (:mod:`sipadu.services.proposals`), called directly: a sensitive
role, an activation, a routing change or a legal hold changes nothing until a second
admin approves; the proposer never approves their own; an approval vouches for the key
fingerprint the proposer saw, and is refused once that key changed. Real keys, a real
database, rolled back after each test."""

import uuid
from datetime import UTC, datetime, timedelta

import pyotp
import pytest

from sipadu.accountability.audit import OPERATOR, Action
from sipadu.persistence.models import AccountState, ProposalKind, ProposalState, Report, Role
from sipadu.services import Reason, proposals, staff
from sipadu.services.categories import category_by_slug, recipients, seed_categories
from sipadu.services.key_ring import key_fingerprint
from tests.services.helpers import (
    CHEAP,
    PASSWORD,
    Recorded,
    ServicePerson,
    person,
    refused,
    route,
    service_submit,
)

NOW = datetime.now(UTC)


@pytest.fixture
def admins(session) -> tuple[ServicePerson, ServicePerson]:
    return person(session, "admin.satu", Role.ADMIN), person(session, "admin.dua", Role.ADMIN)


def enrolled(session, username: str, *roles: Role, invited_by: ServicePerson | None = None):
    """An invited account that used its activation link (pending, for a sensitive role)."""
    actor = invited_by.actor() if invited_by else OPERATOR
    account = staff.create_account(
        session, username, set(roles), argon2=CHEAP, actor=actor, now=NOW
    ).account
    secret = pyotp.random_base32()
    code = pyotp.TOTP(secret).at(NOW)
    staff.complete_activation(session, account, PASSWORD, secret, code, argon2=CHEAP, now=NOW)
    return account


def test_a_sensitive_role_is_granted_only_when_a_second_admin_approves(session, admins):
    proposer, approver = admins
    someone = person(session, "calon.penjaga", Role.AUDITOR)
    log = Recorded(session)

    proposal = proposals.propose_role(session, someone.account, Role.CUSTODIAN, proposer.actor())

    assert Role.CUSTODIAN not in someone.account.role_set
    assert proposal.state == ProposalState.PENDING and proposal in proposals.pending(session)
    assert proposal.fingerprint == key_fingerprint(someone.account)
    with refused(Reason.OWN_PROPOSAL):
        proposals.approve(session, proposal.id, proposer.actor(), NOW)
    assert Role.CUSTODIAN not in someone.account.role_set

    proposals.approve(session, proposal.id, approver.actor(), NOW)

    assert Role.CUSTODIAN in someone.account.role_set
    assert proposal.state == ProposalState.APPROVED and proposal.decided_by == str(approver.id)
    assert proposal not in proposals.pending(session)
    assert log.actions() == ["proposal.create", "proposal.approve", "role.grant"]
    created, approved, granted = log.entries()
    assert created["actor"] == str(proposer.id) and approved["actor"] == str(approver.id)
    assert approved["detail"] == {
        "proposal": str(proposal.id),
        "kind": "role_grant",
        "account": str(someone.id),
        "username": "calon.penjaga",
        "fingerprint": key_fingerprint(someone.account),
        "role": "custodian",
    }
    assert granted["actor"] == str(approver.id)


def test_a_rejected_proposal_changes_nothing_and_cannot_be_decided_again(session, admins):
    proposer, decider = admins
    someone = person(session, "ditolak", Role.AUDITOR)
    proposal = proposals.propose_role(session, someone.account, Role.ADMIN, proposer.actor())
    log = Recorded(session)

    with refused(Reason.OWN_PROPOSAL):
        proposals.reject(session, proposal.id, proposer.actor(), NOW)
    proposals.reject(session, proposal.id, decider.actor(), NOW)

    assert proposal.state == ProposalState.REJECTED and Role.ADMIN not in someone.account.role_set
    assert log.actions() == ["proposal.reject"]
    for decide in (proposals.approve, proposals.reject):
        with refused(Reason.NOT_WAITING_FOR_DECISION):
            decide(session, proposal.id, decider.actor(), NOW)


def test_an_unknown_proposal_is_not_waiting_for_a_decision(session, admins):
    with refused(Reason.NOT_WAITING_FOR_DECISION):
        proposals.approve(session, uuid.uuid4(), admins[1].actor(), NOW)


def test_role_proposals_are_for_sensitive_roles_not_held_yet_and_only_once(session, admins):
    proposer, _ = admins
    someone = person(session, "sekali.saja", Role.INVESTIGATOR)
    with refused(Reason.ROLE_NEEDS_NO_APPROVAL) as info:
        proposals.propose_role(session, someone.account, Role.AUDITOR, proposer.actor())
    assert info.value.params == {"role": "auditor"}
    with refused(Reason.ALREADY_HOLDS_ROLE) as info:
        proposals.propose_role(session, someone.account, Role.INVESTIGATOR, proposer.actor())
    assert info.value.params == {"name": "sekali.saja", "role": "investigator"}
    proposals.propose_role(session, someone.account, Role.ADMIN, proposer.actor())
    with refused(Reason.SAME_CHANGE_WAITING):
        proposals.propose_role(session, someone.account, Role.ADMIN, admins[1].actor())


def test_an_approval_is_refused_once_the_key_the_proposer_saw_has_changed(session, admins):
    proposer, approver = admins
    someone = person(session, "kunci.berganti", Role.AUDITOR)
    proposal = proposals.propose_role(session, someone.account, Role.INVESTIGATOR, proposer.actor())
    token = staff.reset_password(session, someone.account, proposer.actor(), NOW, timedelta(1))
    secret = pyotp.random_base32()
    staff.complete_activation(
        session,
        staff.account_for_link(session, token, NOW),
        PASSWORD,
        secret,
        pyotp.TOTP(secret).at(NOW),
        argon2=CHEAP,
        now=NOW,
    )
    assert someone.account.state == AccountState.ACTIVE  # an auditor: no approval needed

    with refused(Reason.KEY_CHANGED):
        proposals.approve(session, proposal.id, approver.actor(), NOW)
    assert Role.INVESTIGATOR not in someone.account.role_set
    assert proposal.state == ProposalState.PENDING
    proposals.reject(session, proposal.id, approver.actor(), NOW)  # rejecting still works


def test_an_enrolled_investigator_is_activated_by_an_admin_other_than_the_inviter(session, admins):
    inviter, approver = admins
    account = enrolled(session, "penyidik", Role.INVESTIGATOR, invited_by=inviter)
    [proposal] = [p for p in proposals.pending(session) if p.account_id == account.id]
    log = Recorded(session)

    with refused(Reason.OWN_PROPOSAL):
        proposals.approve(session, proposal.id, inviter.actor(), NOW)
    proposals.approve(session, proposal.id, approver.actor(), NOW)

    assert account.state == AccountState.ACTIVE
    assert log.actions() == ["proposal.approve", "account.activate"]
    activated = log.only(Action.ACCOUNT_ACTIVATE)
    assert activated["actor"] == str(approver.id)
    assert activated["detail"]["fingerprint"] == key_fingerprint(account)


def test_an_account_the_operator_invited_takes_two_distinct_admins(session, admins):
    """Issue 15: ``sipadu user create`` without a password made a proposal by "operator",
    so the admin at the shell (who also held the activation link) could enroll the
    account and approve it alone. Now the first approval only counts."""
    first, second = admins
    account = enrolled(session, "dari.operator", Role.CUSTODIAN)
    [proposal] = [p for p in proposals.pending(session) if p.account_id == account.id]
    assert proposal.proposed_by == "operator"
    log = Recorded(session)

    approval = proposals.approve(session, proposal.id, first.actor(), NOW)

    assert not approval.applied and account.state == AccountState.PENDING
    assert proposal.state == ProposalState.PENDING and proposal.seconded_by == str(first.id)
    with refused(Reason.ALREADY_APPROVED_BY_YOU):
        proposals.approve(session, proposal.id, first.actor(), NOW)
    assert account.state == AccountState.PENDING

    assert proposals.approve(session, proposal.id, second.actor(), NOW).applied
    assert account.state == AccountState.ACTIVE
    assert proposal.decided_by == str(second.id)
    assert log.actions() == ["proposal.approve", "proposal.approve", "account.activate"]
    approvals = [e["detail"]["approvals"] for e in log.entries()[:2]]
    assert approvals == [1, 2]


def test_a_proposal_the_operator_made_can_be_rejected_by_one_admin(session, admins):
    account = enrolled(session, "ditolak.operator", Role.INVESTIGATOR)
    [proposal] = [p for p in proposals.pending(session) if p.account_id == account.id]
    proposals.approve(session, proposal.id, admins[0].actor(), NOW)
    proposals.reject(session, proposal.id, admins[0].actor(), NOW)  # changing one's mind
    assert proposal.state == ProposalState.REJECTED
    assert account.state == AccountState.PENDING


def test_a_totp_reset_of_a_sensitive_role_takes_a_second_admin_who_gets_the_link(session, admins):
    """Issue 15: one admin pressed "reset authenticator" and kept the link. Now one
    admin proposes; nothing changes until another approves, and only the approval
    returns the link, whose issuers are both."""
    proposer, approver = admins
    target = person(session, "punya.hp", Role.INVESTIGATOR)
    sealed = target.account.sealed_totp
    with refused(Reason.TOTP_RESET_NEEDS_APPROVAL):
        staff.reset_totp(session, target.account, proposer.actor(), NOW, timedelta(days=1))
    assert target.account.sealed_totp == sealed

    assert (
        staff.request_totp_reset(session, target.account, proposer.actor(), NOW, timedelta(days=1))
        is None
    )
    [proposal] = [p for p in proposals.pending(session) if p.account_id == target.id]
    assert proposal.kind == ProposalKind.TOTP_RESET
    assert target.account.sealed_totp == sealed and target.account.enrollment_token_hash is None
    with refused(Reason.OWN_PROPOSAL):
        proposals.approve(session, proposal.id, proposer.actor(), NOW)
    log = Recorded(session)

    approval = proposals.approve(session, proposal.id, approver.actor(), NOW)

    assert approval.applied and approval.link
    assert target.account.sealed_totp is None
    assert staff.account_for_link(session, approval.link, NOW) is target.account
    assert log.actions() == ["proposal.approve", "totp.reset"]
    reset = log.only(Action.TOTP_RESET)
    assert reset["actor"] == str(approver.id)
    assert reset["detail"]["issued_by"] == [str(proposer.id), str(approver.id)]


def test_an_auditors_totp_reset_takes_one_admin(session, admins):
    target = person(session, "pengamat.hp", Role.AUDITOR)
    link = staff.request_totp_reset(
        session, target.account, admins[0].actor(), NOW, timedelta(days=1)
    )
    assert link and staff.account_for_link(session, link, NOW) is target.account


def test_reactivation_is_at_once_without_a_sensitive_role_and_proposed_with_one(session, admins):
    admin, approver = admins
    auditor = person(session, "kembali", Role.AUDITOR)
    investigator = person(session, "kembali.penyidik", Role.INVESTIGATOR)
    for someone in (auditor, investigator):
        staff.deactivate(session, someone.account, admin.actor())
    log = Recorded(session)

    assert proposals.propose_reactivation(session, auditor.account, admin.actor()) is None
    proposal = proposals.propose_reactivation(session, investigator.account, admin.actor())

    assert auditor.account.state == AccountState.ACTIVE
    assert investigator.account.state == AccountState.DEACTIVATED
    assert proposal.kind == ProposalKind.ACCOUNT_ACTIVATE
    proposals.approve(session, proposal.id, approver.actor(), NOW)
    assert investigator.account.state == AccountState.ACTIVE
    assert log.actions() == [
        "account.activate",
        "proposal.create",
        "proposal.approve",
        "account.activate",
    ]


def test_only_a_deactivated_account_with_a_key_is_reactivated(session, admins):
    admin = admins[0]
    active = person(session, "masih.aktif", Role.AUDITOR)
    invited = staff.create_account(
        session, "tanpa.kunci", {Role.AUDITOR}, argon2=CHEAP, actor=admin.actor(), now=NOW
    ).account
    staff.deactivate(session, invited, admin.actor())
    with refused(Reason.NOT_DEACTIVATED) as info:
        proposals.propose_reactivation(session, active.account, admin.actor())
    assert info.value.params == {"name": "masih.aktif"}
    with refused(Reason.NO_KEY_RESET_PASSWORD):
        proposals.propose_reactivation(session, invited, admin.actor())


def test_routing_changes_wait_for_a_second_admin(session, admins):
    proposer, approver = admins
    investigator = person(session, "dirutekan", Role.INVESTIGATOR)
    seed_categories(session, OPERATOR)
    kkn = category_by_slug(session, "kkn")
    log = Recorded(session)

    added = proposals.propose_route(session, kkn, investigator.account, True, proposer.actor())
    assert investigator.account not in recipients(session, kkn)
    proposals.approve(session, added.id, approver.actor(), NOW)
    assert investigator.account in recipients(session, kkn)

    removed = proposals.propose_route(session, kkn, investigator.account, False, proposer.actor())
    assert investigator.account in recipients(session, kkn)
    proposals.approve(session, removed.id, approver.actor(), NOW)
    assert investigator.account not in recipients(session, kkn)
    assert log.actions() == [
        "proposal.create",
        "proposal.approve",
        "route.add",
        "proposal.create",
        "proposal.approve",
        "route.remove",
    ]
    assert log.entries()[0]["detail"]["category"] == "kkn"


def test_routing_proposals_must_change_something_for_an_investigator(session, admins):
    actor = admins[0].actor()
    investigator = person(session, "sudah.rute", Role.INVESTIGATOR)
    custodian = person(session, "bukan.penyidik", Role.CUSTODIAN)
    route(session, investigator)
    kkn = category_by_slug(session, "kkn")
    with refused(Reason.ALREADY_RECEIVES) as info:
        proposals.propose_route(session, kkn, investigator.account, True, actor)
    assert info.value.params == {"name": "sudah.rute", "category": "kkn"}
    with refused(Reason.DOES_NOT_RECEIVE):
        proposals.propose_route(session, kkn, custodian.account, False, actor)
    with refused(Reason.NOT_AN_INVESTIGATOR):
        proposals.propose_route(session, kkn, custodian.account, True, actor)


def test_a_legal_hold_is_set_and_released_by_two_admins(session, admins, recovery):
    proposer, approver = admins
    report = session.get(Report, service_submit(session, recovery.public_key()).report_id)
    log = Recorded(session)

    hold = proposals.propose_hold(session, report.id, True, proposer.actor())
    assert report.legal_hold is False
    proposals.approve(session, hold.id, approver.actor(), NOW)
    assert report.legal_hold is True
    with refused(Reason.ALREADY_ON_HOLD, "report"):
        proposals.propose_hold(session, report.id, True, proposer.actor())

    release = proposals.propose_hold(session, report.id, False, proposer.actor())
    proposals.approve(session, release.id, approver.actor(), NOW)
    assert report.legal_hold is False
    with refused(Reason.NOT_ON_HOLD, "report"):
        proposals.propose_hold(session, report.id, False, proposer.actor())
    assert [e["report_id"] for e in log.entries()] == [str(report.id)] * 4
    assert {e["detail"]["kind"] for e in log.entries()} == {"hold_set", "hold_release"}


def test_a_hold_on_a_report_that_does_not_exist_is_refused(session, admins):
    with refused(Reason.NO_SUCH_REPORT, "report"):
        proposals.propose_hold(session, uuid.uuid4(), True, admins[0].actor())


def test_pending_lists_only_undecided_proposals_oldest_first(session, admins):
    proposer, decider = admins
    people = [person(session, f"antre{n}", Role.AUDITOR) for n in range(3)]
    made = [
        proposals.propose_role(session, p.account, Role.CUSTODIAN, proposer.actor()) for p in people
    ]
    proposals.reject(session, made[1].id, decider.actor(), NOW)
    waiting = [p for p in proposals.pending(session) if p in made]
    assert waiting == [made[0], made[2]]


def test_a_proposal_that_makes_one_person_investigator_and_custodian_is_flagged(session, admins):
    """Issue 15: two admins made a routed investigator a custodian without a word of what
    it means; the approver must be told (the page shows the warning)."""
    proposer, _approver = admins
    investigator = person(session, "penyidik.calon", Role.INVESTIGATOR)
    custodian = person(session, "penjaga.calon", Role.CUSTODIAN)
    auditor = person(session, "pemeriksa.log", Role.AUDITOR)
    actor = proposer.actor()

    assert proposals.makes_investigator_custodian(
        session, proposals.propose_role(session, investigator.account, Role.CUSTODIAN, actor)
    )
    assert proposals.makes_investigator_custodian(
        session, proposals.propose_role(session, custodian.account, Role.INVESTIGATOR, actor)
    )
    assert not proposals.makes_investigator_custodian(
        session, proposals.propose_role(session, auditor.account, Role.CUSTODIAN, actor)
    )
    both = enrolled(session, "dua.peran.baru", Role.INVESTIGATOR, Role.CUSTODIAN)
    [activation] = [p for p in proposals.pending(session) if p.account_id == both.id]
    assert proposals.makes_investigator_custodian(session, activation)


# --- categories and units that admins configure (issue 18) ---------------------------------

WORDS = {
    "label_id": "Pengadaan barang",
    "label_en": "Procurement",
    "description_id": "Tender yang diatur.",
    "description_en": "Rigged tenders.",
    "examples_id": "",
    "examples_en": "",
}


def test_a_new_sub_category_is_stored_as_proposed_and_made_only_by_a_second_admin(session, admins):
    from sipadu.persistence.models import Category

    proposer, approver = admins
    seed_categories(session, OPERATOR)
    kkn = category_by_slug(session, "kkn")
    log = Recorded(session)
    typed = {**WORDS, "label_en": "  Procurement\n"}
    proposal = proposals.propose_category(session, typed, str(kkn.id), proposer.actor())

    assert proposals.content_of(proposal) == {**WORDS, "parent": str(kkn.id), "active": True}
    assert session.query(Category).filter_by(label_en="Procurement").count() == 0
    with refused(Reason.OWN_PROPOSAL):
        proposals.approve(session, proposal.id, proposer.actor(), NOW)
    proposals.approve(session, proposal.id, approver.actor(), NOW)
    made = session.query(Category).filter_by(label_en="Procurement").one()
    assert (made.parent_id, made.statutory, made.description_id) == (
        kkn.id,
        False,
        "Tender yang diatur.",
    )
    assert log.actions() == ["proposal.create", "proposal.approve", "category.create"]
    created = log.entries()[0]["detail"]
    assert created["label_en"] == "Procurement" and len(created["proposed_sha256"]) == 64
    # One level only: no sub-category under a sub-category.
    with refused(Reason.PARENT_NOT_TOP_LEVEL, "parent"):
        proposals.propose_category(
            session,
            {**WORDS, "label_en": "Deeper", "label_id": "Lebih"},
            str(made.id),
            proposer.actor(),
        )


def test_two_categories_worded_the_same_are_refused_when_proposed_and_when_approved(
    session, admins
):
    proposer, approver = admins
    seed_categories(session, OPERATOR)
    first = proposals.propose_category(session, WORDS, None, proposer.actor())
    with refused(Reason.SAME_CHANGE_WAITING):
        proposals.propose_category(session, WORDS, None, approver.actor())
    second = proposals.propose_category(
        session, {**WORDS, "label_en": "PROCUREMENT", "label_id": "Lain"}, None, approver.actor()
    )
    proposals.approve(session, first.id, approver.actor(), NOW)
    with refused(Reason.CATEGORY_LABEL_TAKEN, "label_en"):
        proposals.approve(session, second.id, proposer.actor(), NOW)


def test_a_statutory_category_keeps_its_code_words_until_an_admin_words_it(session, admins):
    proposer, approver = admins
    seed_categories(session, OPERATOR)
    kkn = category_by_slug(session, "kkn")
    assert kkn.statutory and kkn.label_id == ""
    with refused(Reason.NOTHING_CHANGES):
        proposals.propose_category_change(session, kkn, {}, True, proposer.actor())
    change = proposals.propose_category_change(
        session, kkn, {"description_en": "Bribes."}, False, proposer.actor()
    )
    log = Recorded(session)
    proposals.approve(session, change.id, approver.actor(), NOW)
    assert (kkn.description_en, kkn.label_en, kkn.active, kkn.statutory) == (
        "Bribes.",
        "",
        False,
        True,
    )
    update = log.only(Action.CATEGORY_UPDATE)["detail"]
    assert update["changed"] == ["description_en"] and update["accepting_reports"] is False


def test_an_added_category_needs_both_labels(session, admins):
    proposer, _ = admins
    seed_categories(session, OPERATOR)
    with refused(Reason.TEXT_REQUIRED, "label_en"):
        proposals.propose_category(session, {**WORDS, "label_en": " "}, None, proposer.actor())


def test_a_unit_import_is_one_proposal_applied_by_a_second_admin(session, admins):
    from sipadu.persistence.models import Unit

    proposer, approver = admins
    text = "kind,name,parent\nKota Administrasi,Jakarta Utara,\nKecamatan,Koja,Jakarta Utara\n"
    proposal = proposals.propose_unit_import(session, text, proposer.actor())
    assert session.query(Unit).count() == 0
    log = Recorded(session)
    proposals.approve(session, proposal.id, approver.actor(), NOW)
    assert {u.name for u in session.query(Unit)} == {"Jakarta Utara", "Koja"}
    assert log.actions() == ["proposal.approve", "unit.create", "unit.create"]
    assert log.entries()[0]["detail"]["rows"] == 2


def test_a_unit_and_its_change_wait_for_a_second_admin(session, admins):
    from sipadu.persistence.models import Unit

    proposer, approver = admins
    log = Recorded(session)
    added = proposals.propose_unit(session, "kota", "Jakarta Selatan", None, proposer.actor())
    proposed = log.only(Action.PROPOSAL_CREATE)["detail"]
    assert (proposed["kind"], proposed["unit_kind"], proposed["name"]) == (
        "unit_add",
        "kota",
        "Jakarta Selatan",
    )
    proposals.approve(session, added.id, approver.actor(), NOW)
    unit = session.query(Unit).one()
    change = proposals.propose_unit_change(
        session, unit, "Jakarta Selatan", False, proposer.actor()
    )
    assert unit.active
    proposals.approve(session, change.id, approver.actor(), NOW)
    assert not unit.active
